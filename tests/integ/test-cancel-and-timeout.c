/*
 * test-cancel-and-timeout.c: RpcAsyncCancelCall's two forms and per-call
 * deadlines, against a real arpcd whose sys.stats shows what the server saw.
 *
 *  - abortive cancel completes at once with ARPC_S_CALL_CANCELLED, and the
 *    server is still told;
 *  - non-abortive cancel of a long demo.async_delay completes when the
 *    server answers, with ARPC_S_CALL_CANCELLED, and the server's handler
 *    saw the cancel;
 *  - an expired timeout_ms completes with ARPC_S_TIMEOUT and sends CANCEL;
 *  - a synchronous call under the binding's default timeout does the same,
 *    and the binding keeps working.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

static int start_delay(arpc_binding *b, arpc_async *a, int efd, uint32_t ms, uint32_t timeout)
{
	uint8_t req[4];
	client_u32(req, ms);
	client_event_async(a, efd);
	a->timeout_ms = timeout;
	return arpc_call_async(b, a, "demo.async_delay", req, sizeof(req), NULL, 0);
}

struct stat_wait {
	const char *key;
	long long above;
};

static int stat_above(void *arg)
{
	struct stat_wait *w = arg;
	return client_daemon_stat(w->key) > w->above;
}

/* The daemon counts every call cancelled by the client, the deadline or a
 * disconnect; these tests cancel one call at a time and check it counted. */
static void expect_server_saw_cancel(long long before)
{
	struct stat_wait w = { "calls_cancelled", before };
	if (!client_wait_until(stat_above, &w, 5000))
		fail_msg("the daemon's calls_cancelled stayed at %lld", before);
}

static void test_abortive_cancel_completes_at_once(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	long long before = client_daemon_stat("calls_cancelled");
	assert_true(before >= 0);
	arpc_async a;
	assert_int_equal(start_delay(b, &a, efd, 30000, 0), ARPC_S_OK);
	assert_int_equal(arpc_async_cancel(&a, 1), ARPC_S_OK);
	/* Complete before the cancel returned: nothing waits for the server. */
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_CALL_CANCELLED);
	assert_int_equal(client_event_wait(efd, 5000), 1);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_CALL_CANCELLED);
	/* The server was told, and its late answer is discarded. */
	expect_server_saw_cancel(before);
	assert_int_equal(client_event_wait(efd, 200), 0);
	close(efd);
	arpc_binding_close(b);
}

static void test_nonabortive_cancel_waits_for_the_server(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	long long before = client_daemon_stat("calls_cancelled");
	arpc_async a;
	assert_int_equal(start_delay(b, &a, efd, 30000, 0), ARPC_S_OK);
	assert_int_equal(arpc_async_cancel(&a, 0), ARPC_S_OK);
	/* The call completes when the server answers the CANCEL. */
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_CALL_CANCELLED);
	arpc_reply r;
	assert_int_equal(arpc_async_complete(&a, &r), ARPC_S_CALL_CANCELLED);
	arpc_reply_free(&r);
	expect_server_saw_cancel(before);
	/* Cancelling twice sends nothing new and completes nothing twice. */
	assert_int_equal(client_event_wait(efd, 200), 0);
	close(efd);
	arpc_binding_close(b);
}

static void test_cancel_races_a_finishing_call(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	for (int i = 0; i < 200; i++) {
		arpc_async a;
		assert_int_equal(start_delay(b, &a, efd, (uint32_t)(i % 3), 0), ARPC_S_OK);
		if (i % 10 == 0)
			usleep(500);
		assert_int_equal(arpc_async_cancel(&a, i % 2), ARPC_S_OK);
		assert_int_equal(client_event_wait(efd, 10000), 1);
		arpc_status st = arpc_async_complete(&a, NULL);
		/* Either the server won the race or the cancel did; once. */
		if (st != ARPC_S_OK && st != ARPC_S_CALL_CANCELLED)
			fail_msg("call %d ended %s", i, arpc_status_name(st));
	}
	assert_int_equal(client_event_wait(efd, 100), 0);
	close(efd);
	arpc_binding_close(b);
}

static void test_async_timeout_tells_the_server(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	long long before = client_daemon_stat("calls_cancelled");
	arpc_async a;
	assert_int_equal(start_delay(b, &a, efd, 30000, 100), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_TIMEOUT);
	expect_server_saw_cancel(before);

	/* A deadline that is not reached changes nothing. */
	assert_int_equal(start_delay(b, &a, efd, 10, 5000), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_OK);

	/* The binding's default applies when the handle sets none; the
	 * handle's own wins over it. */
	assert_int_equal(arpc_binding_set_timeout(b, 100), ARPC_S_OK);
	assert_int_equal(start_delay(b, &a, efd, 30000, 0), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_TIMEOUT);
	assert_int_equal(start_delay(b, &a, efd, 300, 5000), ARPC_S_OK);
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_OK);
	close(efd);
	arpc_binding_close(b);
}

static void test_sync_timeout_then_binding_still_works(void **state)
{
	arpc_binding *b = client_open_binding();
	long long before = client_daemon_stat("calls_cancelled");
	assert_int_equal(arpc_binding_set_timeout(b, 100), ARPC_S_OK);
	uint8_t req[4];
	client_u32(req, 30000);
	arpc_reply r;
	assert_int_equal(arpc_call(b, "demo.async_delay", req, sizeof(req), &r), ARPC_S_TIMEOUT);
	arpc_reply_free(&r);
	expect_server_saw_cancel(before);
	assert_int_equal(arpc_call(b, "sys.ping", NULL, 0, &r), ARPC_S_OK);
	arpc_reply_free(&r);
	assert_int_equal(arpc_binding_set_timeout(b, 0), ARPC_S_OK);
	arpc_binding_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abortive_cancel_completes_at_once),
		cmocka_unit_test(test_nonabortive_cancel_waits_for_the_server),
		cmocka_unit_test(test_cancel_races_a_finishing_call),
		cmocka_unit_test(test_async_timeout_tells_the_server),
		cmocka_unit_test(test_sync_timeout_then_binding_still_works),
	};
	return cmocka_run_group_tests_name("cancel-and-timeout", tests, client_setup,
	                                   client_teardown);
}
