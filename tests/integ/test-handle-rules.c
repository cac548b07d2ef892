/*
 * test-handle-rules.c: DESIGN.md's handle rules against a real arpcd:
 * busy handle, stale handle, wrong size, complete while pending, submission
 * failure without notification, harmless cancel after completion, and the
 * reply buffer contract.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

static void test_init_checks_size(void **state)
{
	arpc_async a;
	memset(&a, 0xab, sizeof(a));
	assert_int_equal(arpc_async_init(NULL, sizeof(a)), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_async_init(&a, sizeof(a) - 1), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_async_init(&a, sizeof(a) + 8), ARPC_S_INVALID_ARG);
	a.user_info = &a;
	assert_int_equal(arpc_async_init(&a, sizeof(a)), ARPC_S_OK);
	assert_int_equal(a.size, sizeof(a));
	/* Per-call settings start cleared, whatever the memory held; the
	 * application's own pointer is left alone. */
	assert_int_equal(a.notify, ARPC_NOTIFY_NONE);
	assert_int_equal(a.timeout_ms, 0);
	assert_int_equal(a.flags, 0);
	assert_ptr_equal(a.user_info, &a);
	/* Initialized, no call yet. */
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_async_cancel(&a, 0), ARPC_S_INVALID_ASYNC_HANDLE);
}

static void test_uninitialized_or_damaged_handle_refused(void **state)
{
	arpc_binding *b = client_open_binding();
	arpc_async a;
	memset(&a, 0, sizeof(a));
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0),
	                 ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_call_async(b, NULL, "sys.ping", NULL, 0, NULL, 0),
	                 ARPC_S_INVALID_ASYNC_HANDLE);

	assert_int_equal(arpc_async_init(&a, sizeof(a)), ARPC_S_OK);
	a.size = sizeof(a) - 8; /* a caller built against another ABI */
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0),
	                 ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_INVALID_ASYNC_HANDLE);
	a.size = sizeof(a);
	a.signature ^= 1u;
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0),
	                 ARPC_S_INVALID_ASYNC_HANDLE);
	a.signature ^= 1u;
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0), ARPC_S_OK);
	for (int i = 0; i < 5000 && arpc_async_get_status(&a) == ARPC_S_ASYNC_CALL_PENDING; i++)
		usleep(1000);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_OK);
	arpc_binding_close(b);
}

static void test_busy_handle_leaves_pending_call_alone(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	arpc_async a;
	client_event_async(&a, efd);
	uint8_t ms[4];
	client_u32(ms, 200);
	assert_int_equal(arpc_call_async(b, &a, "demo.async_delay", ms, 4, NULL, 0), ARPC_S_OK);

	/* Rule 1: a second call on a pending handle is refused... */
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", "x", 1, NULL, 0),
	                 ARPC_S_ASYNC_HANDLE_BUSY);
	/* ...and so is re-initializing it, which would lose the call. */
	assert_int_equal(arpc_async_init(&a, sizeof(a)), ARPC_S_ASYNC_HANDLE_BUSY);
	/* Rule 5: completing a pending call changes nothing. */
	arpc_reply r;
	assert_int_equal(arpc_async_complete(&a, &r), ARPC_S_ASYNC_CALL_PENDING);
	assert_null(r.data);
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_ASYNC_CALL_PENDING);

	/* The pending call is untouched: it completes with its own reply. */
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&a, &r), ARPC_S_OK);
	assert_int_equal(r.len, 4);
	assert_memory_equal(r.data, ms, 4);
	arpc_reply_free(&r);
	/* One notification only. */
	assert_int_equal(client_event_wait(efd, 100), 0);
	close(efd);
	arpc_binding_close(b);
}

static void test_completed_handle_must_be_reinitialized(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	arpc_async a;
	client_event_async(&a, efd);
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);

	/* Rule 2: completed but not re-initialized. */
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0),
	                 ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_OK);
	/* Consumed: complete, cancel and call again are all refused. */
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_async_cancel(&a, 0), ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0),
	                 ARPC_S_INVALID_ASYNC_HANDLE);

	/* Re-initialized, it works again; re-initializing a completed handle
	 * that was never consumed releases that call. */
	client_event_async(&a, efd);
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	client_event_async(&a, efd);
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", "ok", 2, NULL, 0), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_OK);
	close(efd);
	arpc_binding_close(b);
}

static void never(arpc_async *a, arpc_event ev)
{
	fail_msg("a refused submission was notified");
}

struct idle_thread {
	pthread_t t;
	int efd; /* written to end the thread */
};

static void *idle_main(void *arg)
{
	struct idle_thread *it = arg;
	uint64_t v;
	/* Blocks without ever touching arpc: this thread has no APC queue. */
	if (read(it->efd, &v, sizeof(v)) != sizeof(v))
		return NULL;
	return NULL;
}

static void test_submission_failure_sends_no_notification(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	arpc_async a;
	client_event_async(&a, efd);
	static const char *bad_methods[] = { "", "has space", "slash/no", "tab\tno" };
	for (size_t i = 0; i < sizeof(bad_methods) / sizeof(*bad_methods); i++)
		assert_int_equal(arpc_call_async(b, &a, bad_methods[i], NULL, 0, NULL, 0),
		                 ARPC_S_INVALID_ARG);
	char long_method[300];
	memset(long_method, 'm', sizeof(long_method) - 1);
	long_method[sizeof(long_method) - 1] = '\0';
	assert_int_equal(arpc_call_async(b, &a, long_method, NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_call_async(NULL, &a, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", NULL, 3, NULL, 0), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", "x", 1, NULL, 8), ARPC_S_INVALID_ARG);
	a.flags = 0x80;
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	a.flags = 0;

	/* Bad notification parameters, one kind at a time. */
	arpc_async n;
	assert_int_equal(arpc_async_init(&n, sizeof(n)), ARPC_S_OK);
	n.notify = ARPC_NOTIFY_EVENT;
	n.u.event_fd = -1;
	assert_int_equal(arpc_call_async(b, &n, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	n.notify = ARPC_NOTIFY_IOC;
	n.u.ioc.cq = NULL;
	assert_int_equal(arpc_call_async(b, &n, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	n.notify = ARPC_NOTIFY_MSG;
	n.u.msg.queue = NULL;
	assert_int_equal(arpc_call_async(b, &n, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	n.notify = ARPC_NOTIFY_CALLBACK;
	n.u.callback.fn = NULL;
	assert_int_equal(arpc_call_async(b, &n, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	n.notify = (arpc_notify_type)99;
	assert_int_equal(arpc_call_async(b, &n, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);

	/* An APC aimed at a thread that has no APC queue is refused. */
	struct idle_thread it = { .efd = client_eventfd() };
	assert_int_equal(pthread_create(&it.t, NULL, idle_main, &it), 0);
	n.notify = ARPC_NOTIFY_APC;
	n.u.apc.fn = never;
	n.u.apc.to_thread = 1;
	n.u.apc.thread = it.t;
	assert_int_equal(arpc_call_async(b, &n, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	uint64_t one = 1;
	assert_int_equal(write(it.efd, &one, sizeof(one)), sizeof(one));
	pthread_join(it.t, NULL);
	close(it.efd);

	/* None of those was started, so none is ever notified. */
	assert_int_equal(client_event_wait(efd, 200), 0);
	assert_int_equal(arpc_sleep_alertable(50), ARPC_S_OK);
	/* Both handles are still usable. */
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_OK);
	close(efd);
	arpc_binding_close(b);
}

static void test_open_failures(void **state)
{
	arpc_binding *b = (arpc_binding *)&b;
	assert_int_equal(arpc_binding_open("unix:/nonexistent/arpcd.sock", &b),
	                 ARPC_S_SERVER_UNAVAILABLE);
	assert_null(b);
	assert_int_equal(arpc_binding_open("http://x", &b), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_binding_open("tcp:127.0.0.1", &b), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_binding_open("tcp:127.0.0.1:99999", &b), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_binding_open("unix:", &b), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_binding_open(NULL, &b), ARPC_S_INVALID_ARG);
	arpc_binding_close(NULL);
}

static void test_cancel_after_completion_is_harmless(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	arpc_async a;
	client_event_async(&a, efd);
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", "abc", 3, NULL, 0), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_cancel(&a, 0), ARPC_S_OK);
	assert_int_equal(arpc_async_cancel(&a, 1), ARPC_S_OK);
	arpc_reply r;
	assert_int_equal(arpc_async_complete(&a, &r), ARPC_S_OK);
	assert_int_equal(r.len, 3);
	arpc_reply_free(&r);
	assert_int_equal(client_event_wait(efd, 100), 0);
	close(efd);
	arpc_binding_close(b);
}

static void test_reply_buffer_contract(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	arpc_async a;
	char out[16];
	client_event_async(&a, efd);
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", "hello", 5, out, sizeof(out)),
	                 ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	arpc_reply r;
	assert_int_equal(arpc_async_complete(&a, &r), ARPC_S_OK);
	assert_ptr_equal(r.data, out); /* into the caller's buffer */
	assert_int_equal(r.len, 5);
	assert_memory_equal(out, "hello", 5);
	arpc_reply_free(&r); /* frees nothing of the caller's */
	assert_memory_equal(out, "hello", 5);

	char big[100];
	memset(big, 'z', sizeof(big));
	client_event_async(&a, efd);
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", big, sizeof(big), out, 10), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&a, &r), ARPC_S_BUFFER_TOO_SMALL);
	assert_int_equal(r.len, sizeof(big)); /* the size it needs */
	assert_null(r.data);
	arpc_reply_free(&r);
	close(efd);
	arpc_binding_close(b);
}

static void test_server_statuses_reach_the_caller(void **state)
{
	arpc_binding *b = client_open_binding();
	arpc_reply r;
	assert_int_equal(arpc_call(b, "no.such.method", NULL, 0, &r), ARPC_S_UNKNOWN_METHOD);
	arpc_reply_free(&r);
	uint8_t two[2] = { 1, 2 };
	/* A malformed payload for a u32 method. */
	assert_int_equal(arpc_call(b, "demo.async_delay", two, sizeof(two), &r), ARPC_S_INVALID_ARG);
	arpc_reply_free(&r);
	assert_int_equal(arpc_call(b, "demo.echo", "same", 4, &r), ARPC_S_OK);
	assert_int_equal(r.len, 4);
	assert_memory_equal(r.data, "same", 4);
	arpc_reply_free(&r);
	arpc_binding_close(b);
}

/* Rule 6: synchronous calls while asynchronous ones are pending, on one
 * binding, replies in any order. */
static void test_sync_calls_while_async_pending(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	arpc_async a[10];
	uint8_t ms[4];
	client_u32(ms, 300);
	for (int i = 0; i < 10; i++) {
		client_event_async(&a[i], efd);
		assert_int_equal(arpc_call_async(b, &a[i], "demo.async_delay", ms, 4, NULL, 0),
		                 ARPC_S_OK);
	}
	for (int i = 0; i < 50; i++) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "sync %d", i);
		arpc_reply r;
		assert_int_equal(arpc_call(b, "demo.echo", msg, (size_t)n, &r), ARPC_S_OK);
		assert_int_equal(r.len, (size_t)n);
		assert_memory_equal(r.data, msg, (size_t)n);
		arpc_reply_free(&r);
	}
	uint64_t total = 0;
	for (int i = 0; i < 100 && total < 10; i++)
		total += client_event_wait(efd, 100);
	assert_int_equal(total, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(arpc_async_complete(&a[i], NULL), ARPC_S_OK);
	close(efd);
	arpc_binding_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_checks_size),
		cmocka_unit_test(test_uninitialized_or_damaged_handle_refused),
		cmocka_unit_test(test_busy_handle_leaves_pending_call_alone),
		cmocka_unit_test(test_completed_handle_must_be_reinitialized),
		cmocka_unit_test(test_submission_failure_sends_no_notification),
		cmocka_unit_test(test_open_failures),
		cmocka_unit_test(test_cancel_after_completion_is_harmless),
		cmocka_unit_test(test_reply_buffer_contract),
		cmocka_unit_test(test_server_statuses_reach_the_caller),
		cmocka_unit_test(test_sync_calls_while_async_pending),
	};
	return cmocka_run_group_tests_name("handle-rules", tests, client_setup, client_teardown);
}
