/*
 * test-examples.c: every program in examples/ runs against a real arpcd
 * and succeeds: the seed's scenario (async_demo) and one per notification
 * path, including the libev and sd-event adapters.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client-harness.h"

static char out[65536];

/* Runs examples/NAME ENDPOINT [arg] and checks it exits 0 and says `expect`. */
static void run_example(const char *name, const char *arg, const char *expect)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "examples/%s", name);
	const char *argv[] = { client_built(rel), client_endpoint(), arg, NULL };
	int st = client_run(argv, NULL, out, sizeof(out), 30000);
	if (st != 0)
		fail_msg("%s exited %d:\n%s", name, st, out);
	if (!strstr(out, expect))
		fail_msg("%s did not say '%s':\n%s", name, expect, out);
	printf("# %s: ok\n", name);
}

static void test_async_demo(void **state)
{
	run_example("async_demo", "200", "demo.async_delay completed: ARPC_S_OK");
	/* The synchronous call went through while the asynchronous one waited. */
	assert_non_null(strstr(out, "we still can send messages to the server"));
	assert_non_null(strstr(out, "the server echoed 200 ms"));
}

static void test_poll_demo(void **state)
{
	run_example("poll_demo", NULL, "call 0 (250 ms) completed: ARPC_S_OK");
}

static void test_apc_demo(void **state)
{
	run_example("apc_demo", NULL, "APC on the calling thread (yes)");
	assert_non_null(strstr(out, "APC on the worker thread (yes)"));
	/* The reply was in while the thread was busy, and the APC waited. */
	assert_non_null(strstr(out, "the call is ARPC_S_OK and its APC has not run"));
}

static void test_ioc_demo(void **state)
{
	run_example("ioc_demo", NULL, "completed: ARPC_S_OK");
}

static void test_callback_demo(void **state)
{
	run_example("callback_demo", NULL, "10 calls chained from callbacks");
}

static void test_msg_libev_demo(void **state)
{
	run_example("msg_libev_demo", NULL, "call 4 completed: ARPC_S_OK");
}

static void test_msg_sdevent_demo(void **state)
{
	run_example("msg_sdevent_demo", NULL, "echo 'message 4'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_async_demo),     cmocka_unit_test(test_poll_demo),
		cmocka_unit_test(test_apc_demo),       cmocka_unit_test(test_ioc_demo),
		cmocka_unit_test(test_callback_demo),  cmocka_unit_test(test_msg_libev_demo),
		cmocka_unit_test(test_msg_sdevent_demo),
	};
	return cmocka_run_group_tests_name("examples", tests, client_setup, client_teardown);
}
