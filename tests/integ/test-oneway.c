/*
 * One-way requests (REQUEST flag bit 0, docs/protocol.md): they run, and
 * nothing is sent back, neither a result nor an error.  Behind a batch of
 * them, a PING's PONG is the first frame the client sees; demo.message's
 * log line shows a one-way call ran; sys.stats counts them all.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static void oneway_calls_get_no_reply(void **state)
{
	struct wc c;
	struct wc_frame f;
	uint8_t p[4];

	assert_int_equal(harness_init(&h, NULL), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	long long total0 = harness_stat(&h, "calls_total");

	wire_put32(p, 1);
	assert_int_equal(wc_send_request(&c, 1, "demo.echo", "x", 1, 0, WIRE_FLAG_ONEWAY), 0);
	assert_int_equal(wc_send_request(&c, 2, "no.such_method", NULL, 0, 0, WIRE_FLAG_ONEWAY), 0);
	assert_int_equal(wc_send_request(&c, 3, "demo.sleep", p, 4, 0, WIRE_FLAG_ONEWAY), 0);
	assert_int_equal(wc_send_request(&c, 4, "demo.async_delay", p, 4, 0, WIRE_FLAG_ONEWAY), 0);
	assert_int_equal(wc_send_request(&c, 5, "demo.sleep", "bad", 3, 0, WIRE_FLAG_ONEWAY), 0);
	assert_int_equal(wc_send_request(&c, 6, "demo.message", "one-way hello", 13, 0,
	                                 WIRE_FLAG_ONEWAY), 0);
	assert_true(harness_wait_log(&h, "'one-way hello'", HARNESS_TIMEOUT_MS));
	/* Wait for the delay and the sleep as well: nothing left to answer. */
	assert_int_equal(wc_send_u32(&c, 7, "demo.async_delay", 50), 0);
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_REPLY);
	assert_int_equal(f.call_id, 7);
	wc_frame_free(&f);

	assert_int_equal(wc_ping(&c, 8), 0);

	/* Five calls and the unknown method, which never became a call; plus
	 * call 7 and this sys.stats. */
	assert_int_equal(harness_stat(&h, "calls_total"), total0 + 5 + 1 + 1);
	assert_true(harness_wait_stat(&h, "calls_inflight", 0, HARNESS_TIMEOUT_MS));
	/* Still nothing for the one-way calls: the PING's PONG again. */
	assert_int_equal(wc_ping(&c, 9), 0);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(oneway_calls_get_no_reply, teardown),
	};
	return cmocka_run_group_tests_name("oneway", tests, NULL, NULL);
}
