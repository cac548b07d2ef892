/*
 * Delays hold no worker (issue 3, must-show 2): with workers = 1, a
 * demo.sleep 1500 holds the only worker on connection A while 200
 * demo.async_delay 10 on connection B all complete, every one before the
 * sleep's reply.  An ordering assertion: B's 200 replies are all in while
 * the sleep is still running (its worker busy, no reply on A yet).
 */
#include "config.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define NDELAYS 200

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static void delays_finish_while_the_only_worker_sleeps(void **state)
{
	struct wc a, b;
	struct wc_frame f;
	static unsigned char seen[NDELAYS + 1];

	assert_int_equal(harness_init(&h, "workers = 1\n"), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&a, h.endpoint), 0);
	assert_int_equal(wc_connect(&b, h.endpoint), 0);

	assert_int_equal(wc_send_u32(&a, 1, "demo.sleep", 1500), 0);
	assert_true(harness_wait_stat(&h, "workers_busy", 1, HARNESS_TIMEOUT_MS));

	for (uint32_t id = 1; id <= NDELAYS; id++)
		assert_int_equal(wc_send_u32(&b, id, "demo.async_delay", 10), 0);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < NDELAYS; i++) {
		assert_int_equal(wc_read(&b, &f, HARNESS_TIMEOUT_MS), 1);
		assert_int_equal(f.type, WIRE_REPLY);
		assert_int_equal(f.word, 0);
		assert_in_range(f.call_id, 1, NDELAYS);
		assert_int_equal(seen[f.call_id], 0);
		seen[f.call_id] = 1;
		wc_frame_free(&f);
	}

	/* All 200 are in, and the sleep has not answered: it still holds the
	 * worker, so nothing above waited for it. */
	struct pollfd pfd = {.fd = a.fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(harness_stat(&h, "workers_busy"), 1);

	assert_int_equal(wc_read(&a, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_REPLY);
	assert_int_equal(f.call_id, 1);
	assert_int_equal(f.word, 0);
	wc_frame_free(&f);

	wc_close(&a);
	wc_close(&b);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(delays_finish_while_the_only_worker_sleeps, teardown),
	};
	return cmocka_run_group_tests_name("delays-hold-no-worker", tests, NULL, NULL);
}
