/*
 * Malformed frames on a live connection (issue 3, must-show 4).  Each
 * invalid frame of tests/data/protocol-vectors.txt, and the frames that are
 * valid on the wire but wrong for a server (REPLY, PONG, GOAWAY sent to
 * it, a REQUEST reusing an outstanding call id, a body over the config's
 * max_frame), is sent on its own connection: it gets GOAWAY with
 * ARPC_S_PROTOCOL_ERROR, then the connection closes; sent after a valid
 * call, that call is answered first (GOAWAY's call_id promised it).  Meanwhile a second
 * connection, with a demo.async_delay pending across each bad frame, keeps
 * being served: the delay completes and a PING after it is answered.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

/* Small, so that "over the limit" needs no megabyte. */
#define MAX_FRAME 4096

struct bad_frame {
	char what[600];
	uint8_t bytes[64];
	size_t len;
};

static struct harness h;
static struct bad_frame cases[64];
static size_t ncases;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static int hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

static void add_case(const char *what, const uint8_t *bytes, size_t len)
{
	assert_true(ncases < sizeof(cases) / sizeof(cases[0]) && len <= sizeof(cases[0].bytes));
	snprintf(cases[ncases].what, sizeof(cases[0].what), "%s", what);
	memcpy(cases[ncases].bytes, bytes, len);
	cases[ncases].len = len;
	ncases++;
}

/* Every `invalid` line, and every valid frame a client must not send. */
static void load_vectors(void)
{
	char path[4096], line[1024], kind[64], hex[512], what[600];
	uint8_t bytes[64];
	const char *top = getenv("ARPC_TOP_SRCDIR");
	snprintf(path, sizeof(path), "%s/tests/data/protocol-vectors.txt", top ? top : ".");
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("cannot open %s", path);
	while (fgets(line, sizeof(line), fp)) {
		char type[16], *sp;
		int n;
		if (sscanf(line, "invalid %63s %511s", kind, hex) == 2) {
			assert_true((n = hex_decode(hex, bytes, sizeof(bytes))) > 0);
			snprintf(what, sizeof(what), "invalid %s: %s", kind, hex);
			add_case(what, bytes, (size_t)n);
		} else if (sscanf(line, "valid %15s", type) == 1 && strcmp(type, "REQUEST") != 0 &&
		           strcmp(type, "CANCEL") != 0 && strcmp(type, "PING") != 0) {
			/* The frame is the last word of the line. */
			line[strcspn(line, "\n")] = '\0';
			sp = strrchr(line, ' ');
			assert_non_null(sp);
			assert_true((n = hex_decode(sp + 1, bytes, sizeof(bytes))) > 0);
			snprintf(what, sizeof(what), "%s sent to the server: %s", type, sp + 1);
			add_case(what, bytes, (size_t)n);
		}
	}
	fclose(fp);
	assert_true(ncases >= 12);

	/* A body one byte over this daemon's max_frame: the header alone tells. */
	wire_pack_header(bytes, MAX_FRAME + 1, WIRE_REQUEST, 0, 1, 0);
	add_case("body over max_frame", bytes, WIRE_HEADER_SIZE);
}

/*
 * Sends `before` (valid calls, may be empty) and the bad frame on a new
 * connection: GOAWAY(PROTOCOL_ERROR) naming the highest call accepted,
 * then the replies of the calls accepted before the bad frame (as GOAWAY
 * promised), then the end of the stream.  Returns how many replies came.
 */
static int expect_goaway(const struct bad_frame *bf, const uint8_t *before, size_t before_len,
                         uint32_t last_accepted)
{
	struct wc c;
	struct wc_frame f;
	int r, goaways = 0, replies = 0, frames = 0;

	print_message("# %s%s\n", bf->what, before_len ? " (after a valid call)" : "");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	if (before_len)
		assert_int_equal(wc_send_raw(&c, before, before_len), 0);
	assert_int_equal(wc_send_raw(&c, bf->bytes, bf->len), 0);
	/* Bounded: a GOAWAY and at most one reply, then EOF (r = 0). */
	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	while (frames++ <= 2 && (r = wc_read(&c, &f, harness_ms_left(end))) == 1) {
		if (f.type == WIRE_GOAWAY) {
			assert_int_equal(f.word, ARPC_S_PROTOCOL_ERROR);
			assert_int_equal(f.call_id, last_accepted);
			goaways++;
		} else {
			assert_int_equal(f.type, WIRE_REPLY);
			assert_in_range(f.call_id, 1, last_accepted);
			assert_int_equal(f.word, 0);
			replies++;
		}
		wc_frame_free(&f);
	}
	if (r != 0)
		fail_msg("%s: the connection was not closed (wc_read %d)", bf->what, r);
	assert_int_equal(goaways, 1);
	wc_close(&c);
	return replies;
}

/* The bystander's pending call completes, and it still answers a PING. */
static void bystander_served(struct wc *b, uint32_t id)
{
	struct wc_frame f;
	assert_int_equal(wc_read(b, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_REPLY);
	assert_int_equal(f.call_id, id);
	assert_int_equal(f.word, 0);
	wc_frame_free(&f);
	assert_int_equal(wc_ping(b, id), 0);
}

static void each_bad_frame_gets_goaway(void **state)
{
	struct wc b;
	uint32_t id = 0;
	char extra[64];

	load_vectors();
	snprintf(extra, sizeof(extra), "[limits]\nmax_frame = %d\n", MAX_FRAME);
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&b, h.endpoint), 0);

	/* A valid call to put before a bad frame: 77, 300 ms. */
	uint8_t first[WIRE_REQUEST_PREFIX_MAX + 4], p[4];
	wire_put32(p, 300);
	size_t n = wire_pack_request_prefix(first, 77, 0, 0, "demo.async_delay", 16, 4);
	memcpy(first + n, p, 4);

	for (size_t i = 0; i < ncases; i++) {
		assert_int_equal(wc_send_u32(&b, ++id, "demo.async_delay", 100), 0);
		assert_int_equal(expect_goaway(&cases[i], NULL, 0, 0), 0);
		bystander_served(&b, id);
		/* Again, after a call the connection had accepted: answered. */
		assert_int_equal(wc_send_u32(&b, ++id, "demo.async_delay", 100), 0);
		assert_int_equal(expect_goaway(&cases[i], first, n + 4, 77), 1);
		bystander_served(&b, id);
	}

	/* A second REQUEST with the id of one still outstanding. */
	struct bad_frame dup = {.what = "duplicate outstanding call id 77", .len = n + 4};
	memcpy(dup.bytes, first, n + 4);
	assert_int_equal(wc_send_u32(&b, ++id, "demo.async_delay", 100), 0);
	assert_int_equal(expect_goaway(&dup, first, n + 4, 77), 1);
	bystander_served(&b, id);

	assert_int_equal(harness_stat(&h, "protocol_errors"), 2 * (long long)ncases + 1);
	wc_close(&b);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(each_bad_frame_gets_goaway, teardown),
	};
	return cmocka_run_group_tests_name("malformed-frames", tests, NULL, NULL);
}
