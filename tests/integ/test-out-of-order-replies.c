/*
 * Replies come back in the order calls finish, not the order they were
 * made: on one connection, demo.async_delay 400 then demo.async_delay 20,
 * and the second's reply arrives first.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

static int setup(void **state)
{
	static struct harness h;
	*state = &h;
	if (harness_init(&h, NULL) < 0 || harness_start(&h, NULL) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	harness_cleanup(*state);
	return 0;
}

static void short_delay_overtakes_long_one(void **state)
{
	struct harness *h = *state;
	struct wc c;
	struct wc_frame f;

	assert_int_equal(wc_connect(&c, h->endpoint), 0);
	assert_int_equal(wc_send_u32(&c, 1, "demo.async_delay", 400), 0);
	assert_int_equal(wc_send_u32(&c, 2, "demo.async_delay", 20), 0);

	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_REPLY);
	assert_int_equal(f.call_id, 2);
	assert_int_equal(f.word, 0);
	assert_int_equal(f.len, 4);
	assert_int_equal(wire_get32(f.data), 20); /* the request, echoed */
	wc_frame_free(&f);

	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_REPLY);
	assert_int_equal(f.call_id, 1);
	assert_int_equal(f.word, 0);
	assert_int_equal(wire_get32(f.data), 400);
	wc_frame_free(&f);

	wc_close(&c);
	assert_int_equal(harness_stop(h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(short_delay_overtakes_long_one, setup, teardown),
	};
	return cmocka_run_group_tests_name("out-of-order-replies", tests, NULL, NULL);
}
