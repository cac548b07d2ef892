/*
 * What a reload (SIGHUP) does to a limit in use, as docs/configuration.md
 * says:
 *
 *  - max_frame lowered while a frame is half received: that frame is
 *    judged by the limit it began under, so its call is answered; a frame
 *    begun after the reload meets the new limit (GOAWAY PROTOCOL_ERROR).
 *
 * test-limits covers max_inflight_per_connection and idle_timeout.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

enum { BIG = 40000, FIRST_PART = 10000 };

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static void reload(const char *rest)
{
	char text[512], path[96];
	snprintf(text, sizeof(text), "[daemon]\nlisten = %s\n%s", h.endpoint, rest);
	assert_int_equal(harness_write_file(&h, "arpcd.conf", text, path, sizeof(path)), 0);
	assert_int_equal(kill(h.pid, SIGHUP), 0);
	if (!harness_wait_log(&h, "reloaded '", HARNESS_TIMEOUT_MS))
		fail_msg("no 'reloaded' line in arpcd's log after SIGHUP");
}

/* A sys.ping REQUEST with a BIG payload (ignored; the reply is empty). */
static size_t big_request(uint8_t *buf, uint32_t id)
{
	size_t n = wire_pack_request_prefix(buf, id, 0, 0, "sys.ping", 8, BIG);
	assert_true(n > 0);
	memset(buf + n, 'x', BIG);
	return n + BIG;
}

static void max_frame_lowered_mid_frame(void **state)
{
	static uint8_t req[WIRE_REQUEST_PREFIX_MAX + BIG];
	uint8_t ping[WIRE_HEADER_SIZE];
	struct wc c;
	struct wc_frame f;

	assert_int_equal(harness_init(&h, "[limits]\nmax_frame = 64K\n"), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);

	/* A PING, then the first part of the big request, in one write: once
	 * the PONG is back, arpcd has read past the PING into the request, so
	 * the big frame has begun under max_frame = 64K. */
	size_t len = big_request(req, 1);
	wire_pack_control(ping, WIRE_PING, 9, 0);
	uint8_t first[WIRE_HEADER_SIZE + FIRST_PART];
	memcpy(first, ping, WIRE_HEADER_SIZE);
	memcpy(first + WIRE_HEADER_SIZE, req, FIRST_PART);
	assert_int_equal(wc_send_raw(&c, first, sizeof(first)), 0);
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_PONG);
	wc_frame_free(&f);

	reload("[limits]\nmax_frame = 4K\n");
	assert_true(harness_log_contains(&h, "reload: max_frame: 65536 -> 4096"));

	/* The rest: the call is answered. */
	assert_int_equal(wc_send_raw(&c, req + FIRST_PART, len - FIRST_PART), 0);
	assert_int_equal(wc_expect_reply(&c, 1, ARPC_S_OK, NULL), 0);
	/* Small frames go on; a big one begun now is refused. */
	assert_int_equal(wc_ping(&c, 10), 0);
	len = big_request(req, 2);
	assert_int_equal(wc_send_raw(&c, req, len), 0);
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_GOAWAY);
	assert_int_equal(f.word, ARPC_S_PROTOCOL_ERROR);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(max_frame_lowered_mid_frame, teardown),
	};
	return cmocka_run_group_tests_name("reload-limits", tests, NULL, NULL);
}
