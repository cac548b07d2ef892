/*
 * SIGTERM with calls in flight (issue 3, must-show 6): arpcd stops
 * accepting, sends GOAWAY, lets the 50 demo.async_delay calls finish (all
 * 50 replies arrive, status 0), closes the connection and exits 0.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

#define NCALLS 50

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static void sigterm_lets_calls_finish(void **state)
{
	struct wc c, late;
	struct wc_frame f;
	static unsigned char seen[NCALLS + 1];
	int replies = 0, goaways = 0, frames = 0, r;

	assert_int_equal(harness_init(&h, "[limits]\nshutdown_timeout = 30s\n"), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	for (uint32_t id = 1; id <= NCALLS; id++)
		assert_int_equal(wc_send_u32(&c, id, "demo.async_delay", 300), 0);
	assert_true(harness_wait_stat(&h, "calls_inflight", NCALLS, HARNESS_TIMEOUT_MS));

	assert_int_equal(kill(h.pid, SIGTERM), 0);
	memset(seen, 0, sizeof(seen));
	/* Bounded: one GOAWAY and NCALLS replies, then EOF (r = 0). */
	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	while (frames++ <= NCALLS + 1 && (r = wc_read(&c, &f, harness_ms_left(end))) == 1) {
		if (f.type == WIRE_GOAWAY) {
			/* Says the highest call still answered: all of ours. */
			assert_int_equal(f.word, ARPC_S_OK);
			assert_int_equal(f.call_id, NCALLS);
			goaways++;
		} else {
			assert_int_equal(f.type, WIRE_REPLY);
			assert_int_equal(f.word, 0);
			assert_in_range(f.call_id, 1, NCALLS);
			assert_int_equal(seen[f.call_id], 0);
			seen[f.call_id] = 1;
			replies++;
		}
		wc_frame_free(&f);
	}
	assert_int_equal(r, 0); /* closed after the last reply, not timed out */
	assert_int_equal(goaways, 1);
	assert_int_equal(replies, NCALLS);

	assert_int_equal(harness_wait_exit(&h, HARNESS_TIMEOUT_MS), 0);
	/* The socket file went with the daemon: nothing accepts any more. */
	assert_int_equal(wc_connect(&late, h.endpoint), -1);
	wc_close(&late);
	wc_close(&c);
}

static int three_in_flight(void *arg)
{
	return harness_stat(&h, "calls_inflight") == 3 && harness_stat(&h, "workers_busy") == 1;
}

/* Calls longer than shutdown_timeout are cancelled when it ends: their
 * clients hear ARPC_S_CALL_CANCELLED, and arpcd still exits 0.  New
 * connections are refused from the SIGTERM on. */
static void grace_period_ends_in_cancel(void **state)
{
	struct wc c, late;
	struct wc_frame f;
	int replies = 0, frames = 0, r;

	assert_int_equal(harness_init(&h, "workers = 1\n[limits]\nshutdown_timeout = 300ms\n"), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_send_u32(&c, 1, "demo.sleep", 8000), 0);
	assert_int_equal(wc_send_u32(&c, 2, "demo.async_delay", 8000), 0);
	assert_int_equal(wc_send_u32(&c, 3, "demo.sleep", 1), 0); /* queued behind call 1 */
	assert_true(harness_wait_until(three_in_flight, NULL, HARNESS_TIMEOUT_MS));

	assert_int_equal(kill(h.pid, SIGTERM), 0);
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_GOAWAY);
	assert_int_equal(f.call_id, 3);
	wc_frame_free(&f);
	assert_int_equal(wc_connect(&late, h.endpoint), -1);
	wc_close(&late);

	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	while (frames++ <= 3 && (r = wc_read(&c, &f, harness_ms_left(end))) == 1) {
		assert_int_equal(f.type, WIRE_REPLY);
		assert_in_range(f.call_id, 1, 3);
		assert_int_equal(f.word, ARPC_S_CALL_CANCELLED);
		replies++;
		wc_frame_free(&f);
	}
	assert_int_equal(r, 0);
	assert_int_equal(replies, 3);
	assert_int_equal(harness_wait_exit(&h, HARNESS_TIMEOUT_MS), 0);
	wc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(sigterm_lets_calls_finish, teardown),
		cmocka_unit_test_teardown(grace_period_ends_in_cancel, teardown),
	};
	return cmocka_run_group_tests_name("sigterm-drain", tests, NULL, NULL);
}
