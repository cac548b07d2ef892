/*
 * 2,000 concurrent calls on one connection (issue 3, must-show 3): every
 * demo.async_delay is answered exactly once, with status 0 and its own
 * request echoed; a PING after the last reply gets the next frame, so no
 * reply is left over or doubled behind them.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define NCALLS 2000

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

/* Spread over 50-249 ms, so replies come back in a different order. */
static uint32_t delay_of(uint32_t id)
{
	return 50 + (id * 7919u) % 200;
}

static void each_call_answered_exactly_once(void **state)
{
	struct wc c;
	struct wc_frame f;
	static uint8_t seen[(NCALLS + 8) / 8];
	int in_order = 1;

	assert_int_equal(harness_init(&h, NULL), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);

	for (uint32_t id = 1; id <= NCALLS; id++)
		assert_int_equal(wc_send_u32(&c, id, "demo.async_delay", delay_of(id)), 0);
	memset(seen, 0, sizeof(seen));
	for (uint32_t i = 1; i <= NCALLS; i++) {
		assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
		assert_int_equal(f.type, WIRE_REPLY);
		assert_int_equal(f.word, 0);
		assert_in_range(f.call_id, 1, NCALLS);
		uint32_t id = f.call_id;
		assert_false(seen[id / 8] & (1u << (id % 8)));
		seen[id / 8] |= (uint8_t)(1u << (id % 8));
		assert_int_equal(f.len, 4);
		assert_int_equal(wire_get32(f.data), delay_of(id));
		in_order &= id == i;
		wc_frame_free(&f);
	}
	/* The delays differ: had replies come back in request order, they
	 * would have waited for each other. */
	assert_false(in_order);

	assert_int_equal(wc_send_control(&c, WIRE_PING, 4242), 0);
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_PONG);
	assert_int_equal(f.call_id, 4242);
	wc_frame_free(&f);

	assert_int_equal(harness_stat(&h, "calls_inflight"), 0);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(each_call_answered_exactly_once, teardown),
	};
	return cmocka_run_group_tests_name("many-in-flight", tests, NULL, NULL);
}
