/*
 * The daemon's limits (issue 3, "Limits and backpressure", "Deadlines",
 * "Signals"), one test each, against the real arpcd:
 *
 *  - max_inflight_per_connection: past it arpcd stops reading the socket
 *    (a PING behind the limit is answered only after a call finishes), and
 *    the calls beyond it are served later, none lost;
 *  - max_queued_jobs: with the only worker busy and the queue full, a call
 *    is answered ARPC_S_SERVER_TOO_BUSY at once, not left to stall;
 *  - a job whose deadline passed while it waited in the queue is answered
 *    ARPC_S_TIMEOUT without its handler running;
 *  - a deadline passing during a handler fires its cancel callback (and a
 *    demo.async_delay's deadline ends it with ARPC_S_TIMEOUT);
 *  - idle_timeout closes an idle connection but not one with a call in
 *    flight;
 *  - SIGHUP applies a valid new config and refuses an invalid one, which
 *    leaves the running config serving.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static void start(const char *extra)
{
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
}

/* Reads the next frame, which must be a REPLY to `id` with `status`. */
static void expect_reply(struct wc *c, uint32_t id, uint32_t status, const char *detail)
{
	assert_int_equal(wc_expect_reply(c, id, status, detail), 0);
}

static void inflight_limit_stops_reading(void **state)
{
	struct wc c;
	struct wc_frame f;
	static unsigned char seen[32];
	uint32_t id;

	start("[limits]\nmax_inflight_per_connection = 2\n");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_send_u32(&c, 1, "demo.async_delay", 500), 0);
	assert_int_equal(wc_send_u32(&c, 2, "demo.async_delay", 500), 0);
	/* Behind the limit: not read, so not answered, until a call ends. */
	assert_int_equal(wc_send_control(&c, WIRE_PING, 99), 0);
	for (id = 3; id <= 22; id++)
		assert_int_equal(wc_send_u32(&c, id, "demo.async_delay", 1), 0);
	assert_true(harness_wait_stat(&h, "calls_inflight", 2, HARNESS_TIMEOUT_MS));
	assert_int_equal(harness_stat(&h, "calls_inflight"), 2); /* and stays there */

	/* A PING is answered inline as soon as it is read: had arpcd kept
	 * reading, the PONG would come before the 500 ms replies. */
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_REPLY);
	assert_in_range(f.call_id, 1, 2);
	wc_frame_free(&f);

	int pong = 0, replies = 1, frames = 0;
	memset(seen, 0, sizeof(seen));
	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	while ((replies < 22 || !pong) && frames++ < 22) {
		assert_int_equal(wc_read(&c, &f, harness_ms_left(end)), 1);
		if (f.type == WIRE_PONG) {
			assert_int_equal(f.call_id, 99);
			pong++;
		} else {
			assert_int_equal(f.type, WIRE_REPLY);
			assert_int_equal(f.word, 0);
			assert_in_range(f.call_id, 1, 22);
			assert_int_equal(seen[f.call_id], 0);
			seen[f.call_id] = 1;
			replies++;
		}
		wc_frame_free(&f);
	}
	assert_int_equal(pong, 1);
	assert_int_equal(replies, 22);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

static void full_queue_answers_too_busy(void **state)
{
	struct wc c;

	start("workers = 1\n[limits]\nmax_queued_jobs = 2\n");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_send_u32(&c, 1, "demo.sleep", 8000), 0);
	assert_true(harness_wait_stat(&h, "workers_busy", 1, HARNESS_TIMEOUT_MS));
	assert_int_equal(wc_send_u32(&c, 2, "demo.sleep", 1), 0);
	assert_int_equal(wc_send_u32(&c, 3, "demo.sleep", 1), 0);
	assert_true(harness_wait_stat(&h, "jobs_queued", 2, HARNESS_TIMEOUT_MS));
	long long busy0 = harness_stat(&h, "busy_rejections");

	/* The queue is full: refused at once, while call 1 still sleeps. */
	assert_int_equal(wc_send_u32(&c, 4, "demo.sleep", 1), 0);
	expect_reply(&c, 4, ARPC_S_SERVER_TOO_BUSY, NULL);
	assert_int_equal(harness_stat(&h, "busy_rejections"), busy0 + 1);
	assert_int_equal(harness_stat(&h, "workers_busy"), 1);

	/* Cancel the sleeper: the queued ones then run, nothing is lost. */
	assert_int_equal(wc_send_control(&c, WIRE_CANCEL, 1), 0);
	expect_reply(&c, 1, ARPC_S_CALL_CANCELLED, NULL);
	expect_reply(&c, 2, 0, NULL);
	expect_reply(&c, 3, 0, NULL);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

static void deadline_passed_in_queue_never_runs(void **state)
{
	struct wc c;
	uint8_t p[4];

	start("workers = 1\n");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_send_u32(&c, 1, "demo.sleep", 1500), 0);
	assert_true(harness_wait_stat(&h, "workers_busy", 1, HARNESS_TIMEOUT_MS));
	wire_put32(p, 1);
	assert_int_equal(wc_send_request(&c, 2, "demo.sleep", p, 4, 100, 0), 0);

	/* The daemon's own words, not demo.sleep's ("demo.sleep: the deadline
	 * passed"): the handler never ran.  And it came before call 1's reply,
	 * so it did not wait for the worker. */
	expect_reply(&c, 2, ARPC_S_TIMEOUT, "the deadline passed");
	assert_int_equal(harness_stat(&h, "jobs_queued"), 0);
	expect_reply(&c, 1, 0, NULL);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

static void deadline_during_handler_cancels_it(void **state)
{
	struct wc c;
	uint8_t p[4];

	start("workers = 1\n");
	long long callbacks0 = harness_stat(&h, "cancel_callbacks");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	/* demo.sleep waits on a condition its cancel callback signals: the
	 * reply in its own words shows the callback woke it. */
	wire_put32(p, 8000);
	assert_int_equal(wc_send_request(&c, 1, "demo.sleep", p, 4, 200, 0), 0);
	expect_reply(&c, 1, ARPC_S_TIMEOUT, "demo.sleep: the deadline passed");
	assert_int_equal(harness_stat(&h, "cancel_callbacks"), callbacks0 + 1);

	/* A delay by timer, deadline first: the timer is stopped. */
	assert_int_equal(wc_send_request(&c, 2, "demo.async_delay", p, 4, 200, 0), 0);
	expect_reply(&c, 2, ARPC_S_TIMEOUT, NULL);
	/* And a deadline that does not pass changes nothing. */
	wire_put32(p, 10);
	assert_int_equal(wc_send_request(&c, 3, "demo.async_delay", p, 4, 5000, 0), 0);
	expect_reply(&c, 3, 0, NULL);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

static void idle_timeout_spares_busy_connections(void **state)
{
	struct wc idle, busy;
	struct wc_frame f;

	start("[limits]\nidle_timeout = 300ms\n");
	assert_int_equal(wc_connect(&idle, h.endpoint), 0);
	assert_int_equal(wc_connect(&busy, h.endpoint), 0);
	assert_int_equal(wc_send_u32(&busy, 1, "demo.async_delay", 1500), 0);

	/* The idle one: GOAWAY, then closed. */
	assert_int_equal(wc_read(&idle, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_GOAWAY);
	assert_int_equal(f.word, ARPC_S_OK);
	wc_frame_free(&f);
	assert_int_equal(wc_read(&idle, &f, HARNESS_TIMEOUT_MS), 0);

	/* The busy one outlived several idle periods: its reply comes first,
	 * and only then, idle, it is closed in turn. */
	expect_reply(&busy, 1, 0, NULL);
	assert_int_equal(wc_read(&busy, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_GOAWAY);
	wc_frame_free(&f);
	assert_int_equal(wc_read(&busy, &f, HARNESS_TIMEOUT_MS), 0);
	wc_close(&idle);
	wc_close(&busy);
	assert_int_equal(harness_stop(&h), 0);
}

/*
 * A reply is traffic too: the idle period starts again when the last call
 * is answered, so a client that follows a long call with another one is
 * not turned away.  The call (3.9 s) outlasts one idle period (2 s) and
 * ends just before the timer's second check: counting from the last bytes
 * read, the connection would close 100 ms after the reply, before the
 * client's next call (sent 500 ms after it, well inside idle_timeout).
 */
static void idle_timeout_counts_from_the_last_reply(void **state)
{
	struct wc c;
	struct wc_frame f;

	start("[limits]\nidle_timeout = 2s\n");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_send_u32(&c, 1, "demo.async_delay", 3900), 0);
	expect_reply(&c, 1, 0, NULL);
	usleep(500 * 1000);
	assert_int_equal(wc_send_request(&c, 2, "sys.ping", NULL, 0, 0, 0), 0);
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	if (f.type != WIRE_REPLY)
		fail_msg("got %s instead of the reply to sys.ping", wire_type_name(f.type));
	assert_int_equal(f.call_id, 2);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/* Rewrites arpcd.conf with the harness's listen line and `rest`. */
static void rewrite_config(const char *rest)
{
	char text[1024], path[128];
	snprintf(text, sizeof(text), "[daemon]\nlisten = %s\ndemo_methods = yes\n%s", h.endpoint, rest);
	assert_int_equal(harness_write_file(&h, "arpcd.conf", text, path, sizeof(path)), 0);
}

static void reload(const char *rest, const char *wait_for)
{
	rewrite_config(rest);
	assert_int_equal(kill(h.pid, SIGHUP), 0);
	assert_true(harness_wait_log(&h, wait_for, HARNESS_TIMEOUT_MS));
}

static void sleep_status(struct wc *c, uint32_t id, uint32_t ms, uint32_t status)
{
	assert_int_equal(wc_send_u32(c, id, "demo.sleep", ms), 0);
	expect_reply(c, id, status, NULL);
}

static void sighup_reloads_or_keeps_the_old_config(void **state)
{
	struct wc c;

	start("[limits]\ndemo_sleep_max = 10s\n");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	sleep_status(&c, 1, 300, 0);
	assert_false(harness_log_contains(&h, ": connected")); /* a debug line */

	/* Valid: applied live, and the log says what changed. */
	reload("log_level = debug\n[limits]\ndemo_sleep_max = 100ms\n", "reloaded '");
	assert_true(harness_log_contains(&h, "reload: demo_sleep_max: 10000ms -> 100ms"));
	assert_true(harness_log_contains(&h, "reload: log_level: info -> debug"));
	sleep_status(&c, 2, 300, ARPC_S_INVALID_ARG);
	sleep_status(&c, 3, 50, 0);
	struct wc d;
	assert_int_equal(wc_connect(&d, h.endpoint), 0);
	assert_int_equal(wc_ping(&d, 1), 0); /* served: its "connected" is logged */
	wc_close(&d);
	assert_true(harness_log_contains(&h, ": connected"));

	/* Invalid: refused, logged with file:line, the running config stays. */
	reload("log_level = debug\n[limits]\ndemo_sleep_max = 10s\nno_such_key = 1\n",
	       "reload failed, keeping the running configuration");
	assert_true(harness_log_contains(&h, "arpcd.conf:7: unknown key 'no_such_key'"));
	sleep_status(&c, 4, 300, ARPC_S_INVALID_ARG);
	sleep_status(&c, 5, 50, 0);

	/* A key only a restart applies: said so, and not applied. */
	reload("workers = 7\n[limits]\ndemo_sleep_max = 10s\n", "workers changed");
	assert_true(harness_log_contains(&h, "needs a restart"));
	assert_int_equal(harness_stat(&h, "workers"), 4);
	sleep_status(&c, 6, 300, 0);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/* A limit raised by a reload applies to a connection already paused by it. */
static void sighup_raises_inflight_limit(void **state)
{
	struct wc c;

	start("[limits]\nmax_inflight_per_connection = 1\n");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_send_u32(&c, 1, "demo.async_delay", 3000), 0);
	assert_int_equal(wc_send_u32(&c, 2, "demo.async_delay", 1), 0);
	assert_true(harness_wait_stat(&h, "calls_inflight", 1, HARNESS_TIMEOUT_MS));
	reload("[limits]\nmax_inflight_per_connection = 4\n", "reloaded '");
	/* Call 2 was read once the limit rose, and overtook call 1. */
	expect_reply(&c, 2, 0, NULL);
	expect_reply(&c, 1, 0, NULL);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/* A shorter idle_timeout applies to connections already open. */
static void sighup_shortens_idle_timeout(void **state)
{
	struct wc c;
	struct wc_frame f;

	start("[limits]\nidle_timeout = 10m\n");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_call(&c, 1, "sys.ping", NULL, 0, &f), 0);
	wc_frame_free(&f);
	reload("[limits]\nidle_timeout = 300ms\n", "reloaded '");
	/* Closed by the new timeout, not ten minutes from now. */
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_GOAWAY);
	wc_frame_free(&f);
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 0);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(inflight_limit_stops_reading, teardown),
		cmocka_unit_test_teardown(full_queue_answers_too_busy, teardown),
		cmocka_unit_test_teardown(deadline_passed_in_queue_never_runs, teardown),
		cmocka_unit_test_teardown(deadline_during_handler_cancels_it, teardown),
		cmocka_unit_test_teardown(idle_timeout_spares_busy_connections, teardown),
		cmocka_unit_test_teardown(idle_timeout_counts_from_the_last_reply, teardown),
		cmocka_unit_test_teardown(sighup_reloads_or_keeps_the_old_config, teardown),
		cmocka_unit_test_teardown(sighup_raises_inflight_limit, teardown),
		cmocka_unit_test_teardown(sighup_shortens_idle_timeout, teardown),
	};
	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
