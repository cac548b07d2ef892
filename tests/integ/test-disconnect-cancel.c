/*
 * A client that goes away with calls in flight (issue 3, must-show 5):
 * every call is cancelled (demo.async_delay's timer stopped, demo.sleep's
 * cancel callback run, which wakes its worker), every call object is freed,
 * and the daemon exits 0 afterwards.  In the sanitizer build a leak makes
 * arpcd's exit status non-zero, so harness_stop checks "nothing leaks".
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

#define NDELAYS 40
#define NSLEEPS 2 /* one per worker: both running when the client leaves */

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static int all_in_flight(void *arg)
{
	return harness_stat(&h, "calls_inflight") == NDELAYS + NSLEEPS &&
	       harness_stat(&h, "workers_busy") == NSLEEPS;
}

static int all_retired(void *arg)
{
	return harness_stat(&h, "calls_inflight") == 0 && harness_stat(&h, "workers_busy") == 0;
}

static void disconnect_cancels_every_call(void **state)
{
	struct wc c;
	uint32_t id = 0;

	assert_int_equal(harness_init(&h, "workers = 2\n"), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	long long cancelled0 = harness_stat(&h, "calls_cancelled");
	long long callbacks0 = harness_stat(&h, "cancel_callbacks");
	long long dropped0 = harness_stat(&h, "replies_dropped");
	assert_true(cancelled0 >= 0 && callbacks0 >= 0 && dropped0 >= 0);

	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	for (int i = 0; i < NSLEEPS; i++)
		assert_int_equal(wc_send_u32(&c, ++id, "demo.sleep", 8000), 0);
	for (int i = 0; i < NDELAYS; i++)
		assert_int_equal(wc_send_u32(&c, ++id, "demo.async_delay", 8000), 0);
	assert_true(harness_wait_until(all_in_flight, NULL, HARNESS_TIMEOUT_MS));

	wc_close(&c);

	/* Every call retired long before its 8 s: the sleeps were woken by
	 * their cancel callbacks, the timers stopped. */
	assert_true(harness_wait_until(all_retired, NULL, 5000));
	assert_int_equal(harness_stat(&h, "calls_cancelled") - cancelled0, NDELAYS + NSLEEPS);
	assert_int_equal(harness_stat(&h, "cancel_callbacks") - callbacks0, NSLEEPS);
	assert_int_equal(harness_stat(&h, "replies_dropped") - dropped0, NDELAYS + NSLEEPS);
	assert_int_equal(harness_stat(&h, "connections"), 1); /* the one asking */

	assert_int_equal(harness_stop(&h), 0);
}

/* At max_inflight_per_connection arpcd stops reading the socket; a client
 * that leaves then must still be noticed, and its calls cancelled, long
 * before they would have finished (30 s). */
static void disconnect_while_reading_is_paused(void **state)
{
	struct wc c;

	assert_int_equal(harness_init(&h, "[limits]\nmax_inflight_per_connection = 2\n"), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	long long cancelled0 = harness_stat(&h, "calls_cancelled");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	for (uint32_t id = 1; id <= 5; id++)
		assert_int_equal(wc_send_u32(&c, id, "demo.async_delay", 30000), 0);
	assert_true(harness_wait_stat(&h, "calls_inflight", 2, HARNESS_TIMEOUT_MS));

	wc_close(&c);
	assert_true(harness_wait_stat(&h, "calls_inflight", 0, HARNESS_TIMEOUT_MS));
	assert_int_equal(harness_stat(&h, "calls_cancelled") - cancelled0, 2);
	assert_int_equal(harness_stat(&h, "connections"), 1); /* the one asking */
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(disconnect_cancels_every_call, teardown),
		cmocka_unit_test_teardown(disconnect_while_reading_is_paused, teardown),
	};
	return cmocka_run_group_tests_name("disconnect-cancel", tests, NULL, NULL);
}
