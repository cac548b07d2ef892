/*
 * test-daemon-killed-mid-call.c: arpcd is killed with SIGKILL while 1,000
 * asynchronous calls (and a synchronous one) are pending on one binding.
 * Every call completes exactly once, with a failure status, and is
 * notified once; after arpcd restarts, the next call on the same binding
 * reconnects and succeeds.  Also: a binding closed with calls pending
 * completes them all with ARPC_S_CALL_CANCELLED, a blocked synchronous
 * caller included.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

enum { PENDING = 1000 };

struct sync_caller {
	arpc_binding *b;
	pthread_t t;
	arpc_status st;
};

static void *sync_main(void *arg)
{
	struct sync_caller *s = arg;
	uint8_t req[4];
	client_u32(req, 60000);
	arpc_reply r;
	s->st = arpc_call(s->b, "demo.async_delay", req, sizeof(req), &r);
	arpc_reply_free(&r);
	return NULL;
}

/* Starts PENDING long calls completing onto cq, key = index. */
static arpc_async *start_pending(arpc_binding *b, arpc_cq *cq)
{
	arpc_async *a = calloc(PENDING, sizeof(*a));
	assert_non_null(a);
	uint8_t req[4];
	client_u32(req, 60000);
	for (int i = 0; i < PENDING; i++) {
		assert_int_equal(arpc_async_init(&a[i], sizeof(a[i])), ARPC_S_OK);
		a[i].notify = ARPC_NOTIFY_IOC;
		a[i].u.ioc.cq = cq;
		a[i].u.ioc.key = (uintptr_t)i;
		assert_int_equal(arpc_call_async(b, &a[i], "demo.async_delay", req, sizeof(req), NULL, 0),
		                 ARPC_S_OK);
	}
	return a;
}

struct inflight_wait {
	long long want;
};

static int inflight_reached(void *arg)
{
	struct inflight_wait *w = arg;
	return client_daemon_stat("calls_inflight") >= w->want;
}

/* Starts the synchronous caller and returns once the daemon has its call,
 * seen as one more call in flight than before. */
static void start_sync_caller(struct sync_caller *s)
{
	long long base = client_daemon_stat("calls_inflight");
	assert_true(base >= PENDING);
	assert_int_equal(pthread_create(&s->t, NULL, sync_main, s), 0);
	struct inflight_wait w = { base + 1 };
	if (!client_wait_until(inflight_reached, &w, 10000))
		fail_msg("the synchronous call never reached the daemon");
}

/* Collects exactly one completion per call, each with a failure status in
 * `allowed`, and then no more. */
static void collect_all(arpc_cq *cq, arpc_async *a, const arpc_status *allowed, int n_allowed)
{
	static unsigned char seen[PENDING];
	memset(seen, 0, sizeof(seen));
	for (int got = 0; got < PENDING; got++) {
		arpc_completion c;
		if (arpc_cq_get(cq, &c, 10000) != ARPC_S_OK)
			fail_msg("only %d of %d calls completed", got, PENDING);
		assert_true(c.key < PENDING);
		assert_ptr_equal(c.async, &a[c.key]);
		if (seen[c.key]++)
			fail_msg("call %lu completed twice", (unsigned long)c.key);
		int ok = 0;
		for (int k = 0; k < n_allowed; k++)
			ok |= c.status == allowed[k];
		if (!ok)
			fail_msg("call %lu ended %s", (unsigned long)c.key, arpc_status_name(c.status));
		assert_int_equal(arpc_async_get_status(c.async), c.status);
		assert_int_equal(arpc_async_complete(c.async, NULL), c.status);
	}
	arpc_completion extra;
	assert_int_equal(arpc_cq_get(cq, &extra, 200), ARPC_S_TIMEOUT);
}

/* A binding with PENDING asynchronous calls completing onto cq and one
 * synchronous caller blocked in its call, all of them held by the daemon. */
struct pending {
	arpc_binding *b;
	arpc_cq *cq;
	arpc_async *a;
	struct sync_caller s;
};

static void start_all_pending(struct pending *p)
{
	p->b = client_open_binding();
	p->cq = arpc_cq_create();
	assert_non_null(p->cq);
	p->a = start_pending(p->b, p->cq);
	/* A synchronous round trip after them: the daemon has them all. */
	arpc_reply r;
	assert_int_equal(arpc_call(p->b, "sys.ping", NULL, 0, &r), ARPC_S_OK);
	arpc_reply_free(&r);
	p->s.b = p->b;
	start_sync_caller(&p->s);
}

/* Every pending call, the synchronous one too, ended once with `st`. */
static void expect_all_ended(struct pending *p, arpc_status st)
{
	collect_all(p->cq, p->a, &st, 1);
	pthread_join(p->s.t, NULL);
	assert_int_equal(p->s.st, st);
}

static void free_pending(struct pending *p)
{
	free(p->a);
	arpc_cq_destroy(p->cq);
}

static void test_sigkill_fails_every_pending_call_once(void **state)
{
	struct pending p;
	start_all_pending(&p);
	arpc_binding *b = p.b;
	assert_int_equal(client_daemon_kill(SIGKILL), 0);

	/* Sent, so they may have run: ARPC_S_CALL_FAILED. */
	expect_all_ended(&p, ARPC_S_CALL_FAILED);

	/* Nothing answers now; after a restart the same binding reconnects. */
	arpc_reply r;
	assert_int_equal(arpc_call(b, "sys.ping", NULL, 0, &r), ARPC_S_SERVER_UNAVAILABLE);
	assert_int_equal(client_daemon_restart(), 0);
	assert_int_equal(arpc_call(b, "sys.ping", NULL, 0, &r), ARPC_S_OK);
	arpc_reply_free(&r);
	arpc_async again;
	assert_int_equal(arpc_async_init(&again, sizeof(again)), ARPC_S_OK);
	assert_int_equal(arpc_call_async(b, &again, "demo.echo", "back", 4, NULL, 0), ARPC_S_OK);
	for (int i = 0; i < 10000 && arpc_async_get_status(&again) == ARPC_S_ASYNC_CALL_PENDING; i++)
		usleep(1000);
	assert_int_equal(arpc_async_complete(&again, NULL), ARPC_S_OK);

	free_pending(&p);
	arpc_binding_close(b);
}

static void test_close_cancels_every_pending_call_once(void **state)
{
	struct pending p;
	start_all_pending(&p);
	arpc_binding_close(p.b);
	expect_all_ended(&p, ARPC_S_CALL_CANCELLED);
	free_pending(&p);
}

/* A binding used only for synchronous calls has nobody watching its idle
 * socket.  The daemon dies; the next call writes to a dead socket: that
 * must be an error for the call (EPIPE), not SIGPIPE for the process. */
static void test_call_on_idle_binding_after_daemon_died(void **state)
{
	arpc_binding *b = client_open_binding();
	arpc_reply r;
	assert_int_equal(arpc_call(b, "demo.echo", "1", 1, &r), ARPC_S_OK);
	arpc_reply_free(&r);
	assert_int_equal(client_daemon_kill(SIGKILL), 0);
	/* Nothing of the request went out, so the library tried a fresh
	 * connection, and nothing listens. */
	assert_int_equal(arpc_call(b, "demo.echo", "2", 1, &r), ARPC_S_SERVER_UNAVAILABLE);
	assert_int_equal(client_daemon_restart(), 0);
	assert_int_equal(arpc_call(b, "demo.echo", "3", 1, &r), ARPC_S_OK);
	assert_int_equal(r.len, 1);
	assert_memory_equal(r.data, "3", 1);
	arpc_reply_free(&r);
	arpc_binding_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_fails_every_pending_call_once),
		cmocka_unit_test(test_close_cancels_every_pending_call_once),
		cmocka_unit_test(test_call_on_idle_binding_after_daemon_died),
	};
	return cmocka_run_group_tests_name("daemon-killed", tests, client_setup, client_teardown);
}
