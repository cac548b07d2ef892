/*
 * test-reentrancy.c: from inside each kind of notification, the
 * application starts a new call, cancels another call, makes a synchronous
 * call, and closes the very binding whose call is being notified.  Nothing
 * deadlocks, nothing is used after it is freed (the sanitizer build runs
 * this too), every call completes exactly once.
 *
 * A synchronous call from a CALLBACK runs on the library's I/O thread,
 * which must never block: it returns ARPC_S_WRONG_THREAD at once.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

struct scene {
	arpc_notify_type kind;
	arpc_binding *b1;          /* closed from inside the notification */
	arpc_binding *b2;
	arpc_async x;              /* its notification is where it all happens */
	arpc_async y, w;           /* long calls on b1: y cancelled, w closed */
	arpc_async n;              /* started from inside, on b2 */
	int n_efd;
	arpc_cq *cq;
	arpc_msgq *mq;
	int x_efd;
	arpc_status x_status, sync_status, n_start;
	atomic_int handled;
};

static struct scene sc;

static void on_fn(arpc_async *a, arpc_event ev);

static void handle_x(arpc_async *a)
{
	assert_ptr_equal(a, &sc.x);
	sc.x_status = arpc_async_complete(a, NULL);

	/* A new call, on another binding. */
	assert_int_equal(arpc_async_init(&sc.n, sizeof(sc.n)), ARPC_S_OK);
	sc.n.notify = ARPC_NOTIFY_EVENT;
	sc.n.u.event_fd = sc.n_efd;
	sc.n_start = arpc_call_async(sc.b2, &sc.n, "demo.echo", "inner", 5, NULL, 0);

	/* Cancel another call of the binding being notified. */
	assert_int_equal(arpc_async_cancel(&sc.y, 1), ARPC_S_OK);

	/* A synchronous call: fine on an application thread, refused at once
	 * on the I/O thread. */
	arpc_reply r;
	sc.sync_status = arpc_call(sc.b2, "sys.ping", NULL, 0, &r);
	arpc_reply_free(&r);

	if (sc.kind == ARPC_NOTIFY_CALLBACK) {
		/* The I/O thread must not block, and has no APC queue: an APC to
		 * "the calling thread" could never run, so it is refused. */
		assert_int_equal(arpc_sleep_alertable(10), ARPC_S_WRONG_THREAD);
		assert_int_equal(arpc_wait_alertable(-1, 10), ARPC_S_WRONG_THREAD);
		assert_int_equal(arpc_apc_fd(), -1);
		arpc_async apc;
		assert_int_equal(arpc_async_init(&apc, sizeof(apc)), ARPC_S_OK);
		apc.notify = ARPC_NOTIFY_APC;
		apc.u.apc.fn = on_fn;
		apc.u.apc.to_thread = 0;
		assert_int_equal(arpc_call_async(sc.b2, &apc, "sys.ping", NULL, 0, NULL, 0),
		                 ARPC_S_INVALID_ARG);
	}

	/* Close the binding whose call we are being told about. */
	arpc_binding_close(sc.b1);
	sc.b1 = NULL;
	atomic_store(&sc.handled, 1);
}

static void on_fn(arpc_async *a, arpc_event ev)
{
	handle_x(a);
}

static int handled(void *arg)
{
	return atomic_load(&sc.handled);
}

static void start_long(arpc_binding *b, arpc_async *a)
{
	uint8_t req[4];
	client_u32(req, 60000);
	assert_int_equal(arpc_async_init(a, sizeof(*a)), ARPC_S_OK);
	a->notify = ARPC_NOTIFY_NONE;
	assert_int_equal(arpc_call_async(b, a, "demo.async_delay", req, sizeof(req), NULL, 0),
	                 ARPC_S_OK);
}

/* Waits for x's notification the way its kind is received, and handles
 * it there (for CALLBACK the library does that on its thread). */
static void receive_x(void)
{
	struct pollfd p = { .events = POLLIN };
	switch (sc.kind) {
	case ARPC_NOTIFY_EVENT: {
		p.fd = sc.x_efd;
		assert_int_equal(poll(&p, 1, 10000), 1);
		uint64_t n;
		assert_int_equal(read(sc.x_efd, &n, sizeof(n)), sizeof(n));
		handle_x(&sc.x);
		break;
	}
	case ARPC_NOTIFY_APC:
		for (int i = 0; i < 100 && !atomic_load(&sc.handled); i++)
			arpc_sleep_alertable(100);
		break;
	case ARPC_NOTIFY_IOC: {
		arpc_completion c;
		assert_int_equal(arpc_cq_get(sc.cq, &c, 10000), ARPC_S_OK);
		handle_x(c.async);
		break;
	}
	case ARPC_NOTIFY_MSG: {
		p.fd = arpc_msgq_fd(sc.mq);
		assert_int_equal(poll(&p, 1, 10000), 1);
		arpc_msg m;
		assert_int_equal(arpc_msgq_get(sc.mq, &m), ARPC_S_OK);
		handle_x(m.async);
		break;
	}
	case ARPC_NOTIFY_CALLBACK:
		break;
	default:
		fail();
	}
	if (!client_wait_until(handled, NULL, 10000))
		fail_msg("the notification never came");
}

static void run(arpc_notify_type kind)
{
	memset(&sc, 0, sizeof(sc));
	sc.kind = kind;
	sc.n_efd = client_eventfd();
	sc.x_efd = client_eventfd();
	sc.cq = arpc_cq_create();
	sc.mq = arpc_msgq_create();
	sc.b1 = client_open_binding();
	sc.b2 = client_open_binding();
	start_long(sc.b1, &sc.y);
	start_long(sc.b1, &sc.w);

	assert_int_equal(arpc_async_init(&sc.x, sizeof(sc.x)), ARPC_S_OK);
	sc.x.notify = kind;
	sc.x.u.event_fd = sc.x_efd;
	if (kind == ARPC_NOTIFY_APC) {
		sc.x.u.apc.fn = on_fn;
		sc.x.u.apc.to_thread = 0;
	} else if (kind == ARPC_NOTIFY_IOC) {
		sc.x.u.ioc.cq = sc.cq;
	} else if (kind == ARPC_NOTIFY_MSG) {
		sc.x.u.msg.queue = sc.mq;
		sc.x.u.msg.msg = 1;
	} else if (kind == ARPC_NOTIFY_CALLBACK) {
		sc.x.u.callback.fn = on_fn;
	}
	assert_int_equal(arpc_call_async(sc.b1, &sc.x, "sys.ping", NULL, 0, NULL, 0), ARPC_S_OK);
	receive_x();

	assert_int_equal(sc.x_status, ARPC_S_OK);
	assert_int_equal(sc.n_start, ARPC_S_OK);
	assert_int_equal(sc.sync_status,
	                 kind == ARPC_NOTIFY_CALLBACK ? ARPC_S_WRONG_THREAD : ARPC_S_OK);
	/* The inner call completes, once. */
	struct pollfd p = { .fd = sc.n_efd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	arpc_reply r;
	assert_int_equal(arpc_async_complete(&sc.n, &r), ARPC_S_OK);
	assert_int_equal(r.len, 5);
	arpc_reply_free(&r);
	/* y was cancelled, w went with its binding. */
	assert_int_equal(arpc_async_complete(&sc.y, NULL), ARPC_S_CALL_CANCELLED);
	assert_int_equal(arpc_async_complete(&sc.w, NULL), ARPC_S_CALL_CANCELLED);

	arpc_binding_close(sc.b2);
	arpc_cq_destroy(sc.cq);
	arpc_msgq_destroy(sc.mq);
	close(sc.n_efd);
	close(sc.x_efd);
}

static void test_from_event(void **state) { run(ARPC_NOTIFY_EVENT); }
static void test_from_apc(void **state) { run(ARPC_NOTIFY_APC); }
static void test_from_ioc(void **state) { run(ARPC_NOTIFY_IOC); }
static void test_from_msg(void **state) { run(ARPC_NOTIFY_MSG); }
static void test_from_callback(void **state) { run(ARPC_NOTIFY_CALLBACK); }

/* Closing a binding from the callback of one of many calls completing in
 * the same batch: the rest of the batch must not touch the freed conn.
 * The calls all finish 500 ms after they start, so they land together,
 * after the last one was submitted; the binding is not touched by this
 * thread once a callback may close it. */
static atomic_int batch_seen, batch_submitted, batch_closed;
static arpc_binding *batch_b;

static void close_on_first(arpc_async *a, arpc_event ev)
{
	atomic_fetch_add(&batch_seen, 1);
	if (atomic_load(&batch_submitted) && atomic_exchange(&batch_closed, 1) == 0)
		arpc_binding_close(batch_b);
}

static int all_batch_seen(void *arg)
{
	return atomic_load(&batch_seen) == 200;
}

static void test_close_inside_a_batch_of_callbacks(void **state)
{
	static arpc_async a[200];
	atomic_store(&batch_seen, 0);
	atomic_store(&batch_submitted, 0);
	atomic_store(&batch_closed, 0);
	batch_b = client_open_binding();
	uint8_t req[4];
	client_u32(req, 500);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(arpc_async_init(&a[i], sizeof(a[i])), ARPC_S_OK);
		a[i].notify = ARPC_NOTIFY_CALLBACK;
		a[i].u.callback.fn = close_on_first;
		assert_int_equal(arpc_call_async(batch_b, &a[i], "demo.async_delay", req, 4, NULL, 0),
		                 ARPC_S_OK);
	}
	if (atomic_load(&batch_seen) > 0)
		fail_msg("inconclusive: calls finished while others were still being submitted");
	atomic_store(&batch_submitted, 1);
	if (!client_wait_until(all_batch_seen, NULL, 10000))
		fail_msg("%d of 200 callbacks ran", atomic_load(&batch_seen));
	assert_int_equal(atomic_load(&batch_closed), 1);
	int ok = 0, cancelled = 0;
	for (int i = 0; i < 200; i++) {
		arpc_status st = arpc_async_complete(&a[i], NULL);
		ok += st == ARPC_S_OK;
		cancelled += st == ARPC_S_CALL_CANCELLED;
	}
	assert_int_equal(ok + cancelled, 200);
	assert_true(ok >= 1); /* at least the one whose callback closed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_event),    cmocka_unit_test(test_from_apc),
		cmocka_unit_test(test_from_ioc),      cmocka_unit_test(test_from_msg),
		cmocka_unit_test(test_from_callback), cmocka_unit_test(test_close_inside_a_batch_of_callbacks),
	};
	return cmocka_run_group_tests_name("reentrancy", tests, client_setup, client_teardown);
}
