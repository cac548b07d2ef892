/*
 * Hostile clients against one real arpcd: broken frames, garbage, floods,
 * clients that never read, too many connections, slow and half-closed
 * clients.  Every case ends with the same check (survived()): a fresh
 * connection gets its sys.ping answered, and the daemon's counters settle
 * back to no call in flight and no connection but the one asking, so no
 * case leaves a call or a connection behind.  The count of cases that got
 * there is printed at the end: "hostile cases survived: N/N".
 *
 * The daemon runs with small limits (below) so that each one is reached
 * quickly; the never-reading client states its memory bound from them.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

#define MAX_CONNECTIONS 16
#define MAX_INFLIGHT 64
#define MAX_FRAME (128u * 1024u)
#define MAX_OUTPUT (1024u * 1024u)
#define IDLE_TIMEOUT_MS 2000

/* A sys.ping REQUEST: header, length byte, "sys.ping". */
#define PING_LEN (WIRE_HEADER_SIZE + 1 + 8)

#define STR_(x) #x
#define STR(x) STR_(x)

static const char limits[] =
	"workers = 2\n"
	"[limits]\n"
	"max_connections = " STR(MAX_CONNECTIONS) "\n"
	"max_inflight_per_connection = " STR(MAX_INFLIGHT) "\n"
	"max_frame = 128K\n"
	"max_output_buffer = 1M\n"
	"idle_timeout = " STR(IDLE_TIMEOUT_MS) "ms\n"
	"demo_sleep_max = 10s\n"
	"shutdown_timeout = 2s\n";

static struct harness h;
static int tried, survived_count;

/* ------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------ */

/* A fixed-seed generator (xorshift32): the same garbage every run. */
static uint32_t rng = 0x2545f491u;

static uint32_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void connect_or_fail(struct wc *c)
{
	assert_int_equal(wc_connect(c, h.endpoint), 0);
}

/* Sends what the daemon lets us send: it may close the connection part way
 * (that is what a protocol error does), so EPIPE and ECONNRESET end the
 * sending quietly.  Returns the bytes sent, or -1 on another error. */
static ssize_t send_tolerant(struct wc *c, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	size_t done = 0;
	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	while (done < n) {
		ssize_t w = send(c->fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return (ssize_t)done;
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		int left = (int)(end - harness_now_ms());
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return (ssize_t)done;
}

/* The next frame, within wait_ms, must be a GOAWAY with `status`; returns
 * its call_id (the highest id the daemon took). */
static uint32_t expect_goaway(struct wc *c, uint32_t status, int wait_ms)
{
	struct wc_frame f;
	assert_int_equal(wc_read(c, &f, wait_ms), 1);
	assert_int_equal(f.type, WIRE_GOAWAY);
	assert_int_equal(f.word, status);
	uint32_t id = f.call_id;
	wc_frame_free(&f);
	return id;
}

/* The daemon closed the stream: nothing more comes. */
static void expect_eof(struct wc *c)
{
	struct wc_frame f;
	assert_int_equal(wc_read(c, &f, HARNESS_TIMEOUT_MS), 0);
}

/* The next frame must be a GOAWAY with `status`, then the end of the stream. */
static void expect_goaway_then_eof(struct wc *c, uint32_t status)
{
	expect_goaway(c, status, HARNESS_TIMEOUT_MS);
	expect_eof(c);
}

/* The next frame must be the REPLY to `id` with `status`. */
static void expect_reply(struct wc *c, uint32_t id, uint32_t status)
{
	assert_int_equal(wc_expect_reply(c, id, status, NULL), 0);
}

/* After a protocol error the calls accepted before it are still answered
 * (GOAWAY's call_id promises them): GOAWAY(PROTOCOL_ERROR, id), then the
 * reply to `id`, a demo.async_delay, then the end of the stream. */
static void expect_goaway_answer_then_eof(struct wc *c, uint32_t id)
{
	assert_int_equal(expect_goaway(c, ARPC_S_PROTOCOL_ERROR, HARNESS_TIMEOUT_MS), id);
	expect_reply(c, id, ARPC_S_OK);
	expect_eof(c);
}

/* The next n frames must be replies with `status`, one to each id of 1..n,
 * in any order. */
static void expect_each_reply_once(struct wc *c, uint32_t n, uint32_t status)
{
	uint8_t *seen = calloc(n + 1, 1);
	struct wc_frame f;
	assert_non_null(seen);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(wc_read(c, &f, HARNESS_TIMEOUT_MS), 1);
		assert_int_equal(f.type, WIRE_REPLY);
		assert_int_equal(f.word, status);
		assert_true(f.call_id >= 1 && f.call_id <= n);
		assert_int_equal(seen[f.call_id], 0);
		seen[f.call_id] = 1;
		wc_frame_free(&f);
	}
	free(seen);
}

/* A new connection sends `bytes` and must be told PROTOCOL_ERROR and closed. */
static void expect_protocol_error(const void *bytes, size_t n)
{
	struct wc c;
	connect_or_fail(&c);
	assert_true(send_tolerant(&c, bytes, n) >= 0);
	expect_goaway_then_eof(&c, ARPC_S_PROTOCOL_ERROR);
	wc_close(&c);
}

/* sys.ping on c answers OK, as the next frame. */
static void ping_ok(struct wc *c, uint32_t id)
{
	assert_int_equal(wc_send_request(c, id, "sys.ping", NULL, 0, 0, 0), 0);
	expect_reply(c, id, ARPC_S_OK);
}

static void ping_fresh(void)
{
	struct wc c;
	connect_or_fail(&c);
	ping_ok(&c, 1);
	wc_close(&c);
}

/* A header with any version; the body (if any) follows. */
static void header(uint8_t *out, uint32_t body_len, uint8_t version, uint8_t type,
                   uint16_t flags, uint32_t id, uint32_t word)
{
	wire_pack_header(out, body_len, type, flags, id, word);
	out[4] = version;
}

struct settled_arg {
	long long inflight, connections;
};

static int counters_settled(void *arg)
{
	struct settled_arg *s = arg;
	s->inflight = harness_stat(&h, "calls_inflight");
	s->connections = harness_stat(&h, "connections");
	/* The connection asking for the stats is the only one left. */
	return s->inflight == 0 && s->connections == 1;
}

/* The check after every case.  The counters first: a connection the case
 * closed still counts (against max_connections too) until the daemon has
 * read its end of stream. */
static void survived(void)
{
	struct settled_arg s;
	if (!harness_wait_until(counters_settled, &s, HARNESS_TIMEOUT_MS))
		fail_msg("after the case: %lld calls in flight, %lld connections (want 0 and 1)",
		         s.inflight, s.connections);
	ping_fresh();
	survived_count++;
}

/* Sets the daemon's VmHWM back to its current RSS ("5" to clear_refs,
 * Linux 4.0 and later), so VmHWM then shows the peak of what follows. */
static int reset_peak_rss(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	FILE *fp = fopen(path, "we");
	if (!fp)
		return -1;
	int ok = fputs("5", fp) >= 0;
	ok = (fclose(fp) == 0) && ok;
	return ok ? 0 : -1;
}

/* Whether a line of arpcd's log starts with `prefix`. */
static int log_has_line_starting(const struct harness *hh, const char *prefix)
{
	char line[4096];
	int found = 0;
	FILE *fp = fopen(hh->log, "re");
	if (!fp)
		return 0;
	while (!found && fgets(line, sizeof(line), fp))
		found = strncmp(line, prefix, strlen(prefix)) == 0;
	fclose(fp);
	return found;
}

/* ------------------------------------------------------------------------
 * Cases.
 * ------------------------------------------------------------------------ */

/* Sends the first n bytes of a sys.ping request, for n in [from, to), each
 * on its own connection, then closes it. */
static void ping_prefixes_then_close(size_t from, size_t to)
{
	uint8_t frame[WIRE_REQUEST_PREFIX_MAX];
	wire_pack_request_prefix(frame, 1, 0, 0, "sys.ping", 8, 0);
	for (size_t n = from; n < to; n++) {
		struct wc c;
		connect_or_fail(&c);
		assert_int_equal(wc_send_raw(&c, frame, n), 0);
		wc_close(&c);
	}
}

/* Every proper prefix of a header, then close: nothing to answer, no leak. */
static void truncated_headers_then_close(void **state)
{
	tried++;
	ping_prefixes_then_close(1, WIRE_HEADER_SIZE);
	survived();
}

/* A whole header and part of the body, then close. */
static void truncated_body_then_close(void **state)
{
	tried++;
	ping_prefixes_then_close(WIRE_HEADER_SIZE, PING_LEN);
	survived();
}

/* A header promising a body that never comes: the idle timeout closes the
 * connection (GOAWAY with OK: nothing was wrong but the silence), and
 * another connection is served while it waits. */
static void header_then_silence(void **state)
{
	uint8_t hdr[WIRE_HEADER_SIZE];
	struct wc silent, other;
	tried++;
	header(hdr, 100, 1, WIRE_REQUEST, 0, 1, 0);
	connect_or_fail(&silent);
	assert_int_equal(wc_send_raw(&silent, hdr, sizeof(hdr)), 0);

	connect_or_fail(&other);
	for (uint32_t id = 1; id <= 100; id++)
		ping_ok(&other, id);
	wc_close(&other);

	expect_goaway(&silent, ARPC_S_OK, IDLE_TIMEOUT_MS + HARNESS_TIMEOUT_MS);
	expect_eof(&silent);
	wc_close(&silent);
	survived();
}

/* Random bytes of many sizes, each on its own connection, half-closed after
 * sending: the daemon either refuses the stream (GOAWAY PROTOCOL_ERROR) or
 * waits for the rest and closes at our end of stream.  Nothing else. */
static void random_garbage(void **state)
{
	static const size_t sizes[] = {1, 2, 3, 7, 15, 16, 17, 31, 64, 100, 255, 256, 1000,
	                               4096, 65536, 200000};
	size_t goaways = 0;
	tried++;
	uint8_t *buf = malloc(200000);
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t k = 0; k < sizes[i]; k++)
			buf[k] = (uint8_t)next_random();
		struct wc c;
		struct wc_frame f;
		connect_or_fail(&c);
		assert_true(send_tolerant(&c, buf, sizes[i]) >= 0);
		(void)shutdown(c.fd, SHUT_WR); /* the daemon may have closed it already */
		int r;
		int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
		while ((r = wc_read(&c, &f, harness_ms_left(end))) == 1) {
			/* Random bytes could make a valid PING: it would be answered. */
			if (f.type == WIRE_GOAWAY) {
				assert_int_equal(f.word, ARPC_S_PROTOCOL_ERROR);
				goaways++;
			} else {
				assert_int_equal(f.type, WIRE_PONG);
			}
			wc_frame_free(&f);
		}
		assert_int_equal(r, 0); /* closed, not left hanging */
		wc_close(&c);
	}
	free(buf);
	/* Every stream of a whole header or more is garbage from its first
	 * frame on (version 1 has 1 chance in 256 per stream). */
	assert_true(goaways >= 9);
	survived();
}

/* body_len 0xFFFFFFFF: refused from the header alone, nothing allocated. */
static void body_len_max(void **state)
{
	uint8_t hdr[WIRE_HEADER_SIZE];
	tried++;
	header(hdr, 0xffffffffu, 1, WIRE_REQUEST, 0, 1, 0);
	expect_protocol_error(hdr, sizeof(hdr));
	survived();
}

/* A frame of exactly max_frame is served; one byte more is refused. */
static void frame_at_and_over_the_limit(void **state)
{
	size_t payload = MAX_FRAME - 1 - strlen("demo.echo");
	uint8_t *body = calloc(1, payload + 1);
	struct wc c;
	struct wc_frame f;
	tried++;
	assert_non_null(body);
	connect_or_fail(&c);
	assert_int_equal(wc_call(&c, 1, "demo.echo", body, payload, &f), ARPC_S_OK);
	assert_int_equal(f.len, payload);
	wc_frame_free(&f);
	assert_int_equal(wc_send_request(&c, 2, "demo.echo", body, payload + 1, 0, 0), 0);
	expect_goaway_then_eof(&c, ARPC_S_PROTOCOL_ERROR);
	wc_close(&c);
	free(body);
	survived();
}

/* The method length byte points past the end of the body. */
static void method_length_past_body(void **state)
{
	uint8_t frame[WIRE_HEADER_SIZE + 5];
	tried++;
	header(frame, 5, 1, WIRE_REQUEST, 0, 1, 0);
	frame[WIRE_HEADER_SIZE] = 200;
	memcpy(frame + WIRE_HEADER_SIZE + 1, "sys.", 4);
	expect_protocol_error(frame, sizeof(frame));
	/* And the longest length byte over a short body. */
	frame[WIRE_HEADER_SIZE] = 255;
	expect_protocol_error(frame, sizeof(frame));
	survived();
}

/* Method length 0: no method at all. */
static void method_length_zero(void **state)
{
	uint8_t frame[WIRE_HEADER_SIZE + 3] = {0};
	tried++;
	header(frame, 3, 1, WIRE_REQUEST, 0, 1, 0);
	frame[WIRE_HEADER_SIZE] = 0;
	expect_protocol_error(frame, sizeof(frame));
	survived();
}

/* Characters outside [A-Za-z0-9_.] anywhere in the name. */
static void bad_method_characters(void **state)
{
	static const char *const names[] = {"sys ping", "sys/ping", "sys-ping", "sys.ping\n",
	                                    "\x00sys", "sys\xff", "s%s%n", "../etc"};
	static const size_t lens[] = {8, 8, 8, 9, 4, 4, 5, 6};
	tried++;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint8_t frame[WIRE_HEADER_SIZE + 1 + 16];
		header(frame, (uint32_t)(1 + lens[i]), 1, WIRE_REQUEST, 0, 1, 0);
		frame[WIRE_HEADER_SIZE] = (uint8_t)lens[i];
		memcpy(frame + WIRE_HEADER_SIZE + 1, names[i], lens[i]);
		expect_protocol_error(frame, WIRE_HEADER_SIZE + 1 + lens[i]);
	}
	survived();
}

/* The longest valid name, unknown: an UNKNOWN_METHOD reply, and the
 * connection goes on. */
static void huge_method_name(void **state)
{
	char name[WIRE_METHOD_MAX + 1];
	struct wc c;
	struct wc_frame f;
	tried++;
	memset(name, 'x', WIRE_METHOD_MAX);
	name[WIRE_METHOD_MAX] = '\0';
	connect_or_fail(&c);
	assert_int_equal(wc_call(&c, 1, name, "p", 1, &f), ARPC_S_UNKNOWN_METHOD);
	wc_frame_free(&f);
	ping_ok(&c, 2);
	wc_close(&c);
	survived();
}

/* Unknown methods, many of them: each answered, the connection stays. */
static void unknown_methods(void **state)
{
	char name[32];
	struct wc c;
	tried++;
	connect_or_fail(&c);
	for (uint32_t id = 1; id <= 200; id++) {
		snprintf(name, sizeof(name), "no.such.method%u", id);
		assert_int_equal(wc_send_request(&c, id, name, NULL, 0, 0, 0), 0);
	}
	for (uint32_t id = 1; id <= 200; id++)
		expect_reply(&c, id, ARPC_S_UNKNOWN_METHOD);
	ping_ok(&c, 201);
	wc_close(&c);
	survived();
}

/* A second request with the id of a call still outstanding. */
static void duplicate_outstanding_ids(void **state)
{
	struct wc c;
	tried++;
	connect_or_fail(&c);
	assert_int_equal(wc_send_u32(&c, 7, "demo.async_delay", 50), 0);
	assert_int_equal(wc_send_request(&c, 7, "sys.ping", NULL, 0, 0, 0), 0);
	expect_goaway_answer_then_eof(&c, 7);
	wc_close(&c);
	survived();
}

/* An id may be used again once its call is answered: not a duplicate. */
static void id_reuse_after_reply(void **state)
{
	struct wc c;
	tried++;
	connect_or_fail(&c);
	for (int i = 0; i < 100; i++)
		ping_ok(&c, 5);
	wc_close(&c);
	survived();
}

/* CANCEL for ids never sent: ignored, nothing answered. */
static void cancel_unknown_ids(void **state)
{
	struct wc c;
	tried++;
	connect_or_fail(&c);
	assert_int_equal(wc_send_control(&c, WIRE_CANCEL, 0), 0);
	assert_int_equal(wc_send_control(&c, WIRE_CANCEL, 0xffffffffu), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(wc_send_control(&c, WIRE_CANCEL, next_random()), 0);
	ping_ok(&c, 1); /* the first frame back is this reply: nothing came before */
	wc_close(&c);
	survived();
}

/* CANCEL twice, and after the answer: one reply, no more. */
static void cancel_twice_and_late(void **state)
{
	struct wc c;
	tried++;
	connect_or_fail(&c);
	assert_int_equal(wc_send_u32(&c, 3, "demo.async_delay", 5000), 0);
	assert_int_equal(wc_send_control(&c, WIRE_CANCEL, 3), 0);
	assert_int_equal(wc_send_control(&c, WIRE_CANCEL, 3), 0);
	expect_reply(&c, 3, ARPC_S_CALL_CANCELLED);
	assert_int_equal(wc_send_control(&c, WIRE_CANCEL, 3), 0);
	ping_ok(&c, 4);
	wc_close(&c);
	survived();
}

/* 20,000 PING frames in one stream, read only at the end: every one gets
 * its PONG, in order (320 KB of answers: past the socket buffers, within
 * max_output_buffer). */
static void pipelined_pings(void **state)
{
	enum { N = 20000 };
	uint8_t *buf = malloc((size_t)N * WIRE_HEADER_SIZE);
	struct wc c;
	struct wc_frame f;
	tried++;
	assert_non_null(buf);
	for (uint32_t i = 0; i < N; i++)
		wire_pack_control(buf + (size_t)i * WIRE_HEADER_SIZE, WIRE_PING, i + 1, 0);
	connect_or_fail(&c);
	assert_int_equal(wc_send_raw(&c, buf, (size_t)N * WIRE_HEADER_SIZE), 0);
	free(buf);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
		assert_int_equal(f.type, WIRE_PONG);
		assert_int_equal(f.call_id, i + 1);
		wc_frame_free(&f);
	}
	ping_ok(&c, N + 1);
	wc_close(&c);
	survived();
}

/* 10,000 sys.ping requests pipelined, read at the end: each id answered
 * exactly once. */
static void pipelined_requests(void **state)
{
	enum { N = 10000 };
	size_t one = WIRE_HEADER_SIZE + 1 + 8;
	uint8_t *buf = malloc(N * one);
	struct wc c;
	tried++;
	assert_non_null(buf);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t frame[WIRE_REQUEST_PREFIX_MAX];
		assert_int_equal(wire_pack_request_prefix(frame, i + 1, 0, 0, "sys.ping", 8, 0), one);
		memcpy(buf + i * one, frame, one);
	}
	connect_or_fail(&c);
	assert_int_equal(wc_send_raw(&c, buf, N * one), 0);
	free(buf);
	expect_each_reply_once(&c, N, ARPC_S_OK);
	ping_ok(&c, N + 1);
	wc_close(&c);
	survived();
}

/* Far more calls than max_inflight_per_connection at once: the daemon stops
 * reading at the limit and goes on as calls finish; all are answered. */
static void over_inflight_limit(void **state)
{
	enum { N = MAX_INFLIGHT * 5 };
	struct wc c;
	tried++;
	connect_or_fail(&c);
	for (uint32_t id = 1; id <= N; id++)
		assert_int_equal(wc_send_u32(&c, id, "demo.async_delay", 20), 0);
	expect_each_reply_once(&c, N, ARPC_S_OK);
	wc_close(&c);
	survived();
}

/* The client that sends 20,000 x 64 KiB demo.echo requests and never
 * reads.  The daemon answers what it reads, holds at most
 * max_output_buffer of unsent replies, then disconnects it.  Meanwhile
 * another client is served (while the flood's first replies sit unread).
 *
 * Memory bound: the daemon's resident set may grow during the flood by at
 * most max_output_buffer (queued replies) + max_inflight x max_frame
 * (requests held by calls) + 16 MiB (allocator and sanitizer slack):
 * 1 + 8 + 16 = 25 MiB here, whereas the flood is 1.25 GiB. */
#define FLOOD_N 20000
#define FLOOD_PAYLOAD (64u * 1024u)
#define FLOOD_FIRST 8 /* sent before the other client is served: 512 KiB < max_output_buffer */
#define RSS_BOUND_KB ((MAX_OUTPUT + (size_t)MAX_INFLIGHT * MAX_FRAME) / 1024 + 16 * 1024)

struct flood {
	struct wc c;
	uint8_t *req;
	size_t req_len;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int first_sent, go, done;
	uint32_t sent;
	int send_errno;
};

static void *flood_thread(void *arg)
{
	struct flood *fl = arg;
	for (uint32_t i = 0; i < FLOOD_N; i++) {
		if (i == FLOOD_FIRST) {
			pthread_mutex_lock(&fl->mu);
			fl->first_sent = 1;
			pthread_cond_broadcast(&fl->cv);
			while (!fl->go)
				pthread_cond_wait(&fl->cv, &fl->mu);
			pthread_mutex_unlock(&fl->mu);
		}
		wire_put32(fl->req + 8, i + 1); /* the call id */
		ssize_t w = send_tolerant(&fl->c, fl->req, fl->req_len);
		if (w != (ssize_t)fl->req_len) {
			fl->send_errno = errno; /* EPIPE or ECONNRESET if cut off */
			break;
		}
		fl->sent = i + 1;
	}
	pthread_mutex_lock(&fl->mu);
	fl->first_sent = 1; /* in case it failed before FLOOD_FIRST */
	fl->done = 1;
	pthread_cond_broadcast(&fl->cv);
	pthread_mutex_unlock(&fl->mu);
	return NULL;
}

static int flood_done(struct flood *fl)
{
	pthread_mutex_lock(&fl->mu);
	int d = fl->done;
	pthread_mutex_unlock(&fl->mu);
	return d;
}

static void never_reading_echo_flood(void **state)
{
	static struct flood fl;
	pthread_t t;
	struct wc other;
	tried++;
	memset(&fl, 0, sizeof(fl));
	pthread_mutex_init(&fl.mu, NULL);
	pthread_cond_init(&fl.cv, NULL);
	fl.req_len = WIRE_HEADER_SIZE + 1 + strlen("demo.echo") + FLOOD_PAYLOAD;
	fl.req = malloc(fl.req_len);
	assert_non_null(fl.req);
	memset(fl.req, 'e', fl.req_len);
	uint8_t prefix[WIRE_REQUEST_PREFIX_MAX];
	assert_int_equal(wire_pack_request_prefix(prefix, 1, 0, 0, "demo.echo", 9, FLOOD_PAYLOAD),
	                 WIRE_HEADER_SIZE + 1 + 9);
	memcpy(fl.req, prefix, WIRE_HEADER_SIZE + 1 + 9);

	int hwm_reset = reset_peak_rss(h.pid) == 0;
	long rss_before = harness_proc_status_kb(h.pid, "VmRSS");
	assert_true(rss_before > 0);
	connect_or_fail(&fl.c);
	assert_int_equal(pthread_create(&t, NULL, flood_thread, &fl), 0);

	pthread_mutex_lock(&fl.mu);
	while (!fl.first_sent)
		pthread_cond_wait(&fl.cv, &fl.mu);
	pthread_mutex_unlock(&fl.mu);
	/* The flood's first replies are unread: another client is served. */
	connect_or_fail(&other);
	for (uint32_t id = 1; id <= 20; id++)
		ping_ok(&other, id);
	long rss_peak = 0;
	pthread_mutex_lock(&fl.mu);
	fl.go = 1;
	pthread_cond_broadcast(&fl.cv);
	pthread_mutex_unlock(&fl.mu);

	/* Sample the daemon's memory until the flood ends (the daemon cuts it
	 * off), within an overall bound: past it the socket is shut down, which
	 * ends the flood's sends, and the test fails. */
	int64_t end = harness_now_ms() + 6 * HARNESS_TIMEOUT_MS;
	int timed_out = 0;
	while (!flood_done(&fl)) {
		if (!timed_out && harness_ms_left(end) == 0) {
			timed_out = 1;
			(void)shutdown(fl.c.fd, SHUT_RDWR);
		}
		long rss = harness_proc_status_kb(h.pid, "VmRSS");
		if (rss > rss_peak)
			rss_peak = rss;
		usleep(1000);
	}
	pthread_join(t, NULL);
	if (timed_out)
		fail_msg("the flood still ran %d ms after it began", 6 * HARNESS_TIMEOUT_MS);
	/* With the peak reset, VmHWM is the true peak of the flood; sampling
	 * every millisecond is the fallback (and may miss a short peak). */
	long hwm = harness_proc_status_kb(h.pid, "VmHWM");
	if (hwm_reset && hwm > rss_peak)
		rss_peak = hwm;
	ping_ok(&other, 21); /* still served after */
	wc_close(&other);

	/* TAP comments: the figures for docs/reliability.md. */
	printf("# never-reading client: sent %u of %u requests before the daemon cut it off "
	       "(errno %d)\n# daemon RSS %ld kB before, peak %ld kB during (+%ld kB; bound +%zu "
	       "kB; peak from %s)\n",
	       fl.sent, FLOOD_N, fl.send_errno, rss_before, rss_peak, rss_peak - rss_before,
	       (size_t)RSS_BOUND_KB, hwm_reset ? "VmHWM reset before the case" : "sampling");
	assert_true(fl.sent < FLOOD_N); /* disconnected, not read forever */
	assert_true(fl.sent >= FLOOD_FIRST);
	assert_true(fl.send_errno == EPIPE || fl.send_errno == ECONNRESET);
	assert_true(rss_peak - rss_before <= (long)RSS_BOUND_KB);
	assert_true(harness_log_contains(&h, "over max_output_buffer"));
	wc_close(&fl.c);
	free(fl.req);
	pthread_mutex_destroy(&fl.mu);
	pthread_cond_destroy(&fl.cv);
	survived();
}

/* A client that asks for replies and never reads them, staying under
 * max_output_buffer: the idle timeout closes it all the same (waiting on a
 * peer that takes nothing is idling), so it cannot hold a connection slot
 * and its unsent replies for ever. */
static void never_reading_below_the_limit(void **state)
{
	static uint8_t payload[100 * 1024];
	struct settled_arg s;
	struct wc c;
	tried++;
	connect_or_fail(&c);
	/* 800 KiB of replies: past the socket buffers, under max_output_buffer. */
	for (uint32_t id = 1; id <= 8; id++)
		assert_int_equal(wc_send_request(&c, id, "demo.echo", payload, sizeof(payload), 0, 0),
		                 0);
	assert_true(harness_wait_until(counters_settled, &s, 2 * IDLE_TIMEOUT_MS + HARNESS_TIMEOUT_MS));
	assert_true(harness_log_contains(&h, "unread for"));
	wc_close(&c);
	survived();
}

/* Connects and has a sys.ping answered, so the daemon counts the
 * connection.  The stats connection of the previous check may still be
 * counted for a moment: a refusal for that is retried (bounded). */
static void connect_counted(struct wc *c)
{
	struct wc_frame f;
	for (int attempt = 0; attempt < 1000; attempt++) {
		connect_or_fail(c);
		assert_int_equal(wc_send_request(c, 1, "sys.ping", NULL, 0, 0, 0), 0);
		assert_int_equal(wc_read(c, &f, HARNESS_TIMEOUT_MS), 1);
		if (f.type == WIRE_REPLY) {
			assert_int_equal(f.call_id, 1);
			assert_int_equal(f.word, ARPC_S_OK);
			wc_frame_free(&f);
			return;
		}
		assert_int_equal(f.type, WIRE_GOAWAY);
		assert_int_equal(f.word, ARPC_S_SERVER_TOO_BUSY);
		wc_frame_free(&f);
		wc_close(c);
		usleep(10 * 1000);
	}
	fail_msg("a connection under max_connections was refused 1000 times");
}

/* One connection more than max_connections: GOAWAY SERVER_TOO_BUSY and
 * closed; the earlier ones are still served. */
static void over_max_connections(void **state)
{
	struct wc conns[MAX_CONNECTIONS], extra;
	tried++;
	for (int i = 0; i < MAX_CONNECTIONS; i++)
		connect_counted(&conns[i]);
	connect_or_fail(&extra);
	expect_goaway_then_eof(&extra, ARPC_S_SERVER_TOO_BUSY);
	wc_close(&extra);
	for (int i = 0; i < MAX_CONNECTIONS; i++)
		ping_ok(&conns[i], 2);
	for (int i = 0; i < MAX_CONNECTIONS; i++)
		wc_close(&conns[i]);
	survived();
	assert_true(harness_stat(&h, "busy_rejections") >= 1);
}

/* Connections closed with calls in flight of every kind: timer-held
 * (async_delay, one for 49 days), on a worker (sleep), inline (echo). */
static void closed_with_calls_in_flight(void **state)
{
	tried++;
	for (int round = 0; round < 10; round++) {
		struct wc c;
		uint32_t id = 1;
		connect_or_fail(&c);
		for (int i = 0; i < 20; i++)
			assert_int_equal(wc_send_u32(&c, id++, "demo.async_delay", 3000), 0);
		assert_int_equal(wc_send_u32(&c, id++, "demo.async_delay", 0xffffffffu), 0);
		assert_int_equal(wc_send_u32(&c, id++, "demo.sleep", 3000), 0);
		assert_int_equal(wc_send_request(&c, id++, "demo.echo", "x", 1, 0, 0), 0);
		wc_close(&c);
	}
	survived();
}

/* Closed with replies unread in our socket: the daemon's next write fails. */
static void closed_with_replies_unread(void **state)
{
	static uint8_t payload[32768];
	struct wc c;
	tried++;
	connect_or_fail(&c);
	for (uint32_t id = 1; id <= 8; id++)
		assert_int_equal(wc_send_request(&c, id, "demo.echo", payload, sizeof(payload), 0, 0),
		                 0);
	struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(wc_send_u32(&c, 9, "demo.async_delay", 200), 0);
	wc_close(&c);
	survived();
}

/* A zero-length body on each frame type: REQUEST has no method (error),
 * CANCEL is ignored, PING is answered, REPLY/PONG/GOAWAY are not for a
 * server (error). */
static void zero_length_bodies(void **state)
{
	uint8_t hdr[WIRE_HEADER_SIZE];
	struct wc c;
	tried++;
	static const uint8_t refused[] = {WIRE_REQUEST, WIRE_REPLY, WIRE_PONG, WIRE_GOAWAY};
	for (size_t i = 0; i < sizeof(refused); i++) {
		header(hdr, 0, 1, refused[i], 0, 1, 0);
		expect_protocol_error(hdr, sizeof(hdr));
	}
	connect_or_fail(&c);
	assert_int_equal(wc_send_control(&c, WIRE_CANCEL, 1), 0);
	assert_int_equal(wc_ping(&c, 77), 0);
	ping_ok(&c, 2);
	wc_close(&c);
	survived();
}

/* Bodies on frames that must have none. */
static void bodies_on_control_frames(void **state)
{
	uint8_t frame[WIRE_HEADER_SIZE + 4] = {0};
	static const uint8_t types[] = {WIRE_CANCEL, WIRE_PING, WIRE_PONG, WIRE_GOAWAY};
	tried++;
	for (size_t i = 0; i < sizeof(types); i++) {
		header(frame, 4, 1, types[i], 0, 1, 0);
		expect_protocol_error(frame, sizeof(frame));
	}
	survived();
}

/* Reserved flag bits, on a REQUEST and on a PING. */
static void unknown_flags(void **state)
{
	static const uint16_t flags[] = {0x2, 0x4, 0x100, 0x8000, 0xffff};
	uint8_t frame[WIRE_REQUEST_PREFIX_MAX];
	tried++;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		wire_pack_request_prefix(frame, 1, flags[i], 0, "sys.ping", 8, 0);
		expect_protocol_error(frame, PING_LEN);
		header(frame, 0, 1, WIRE_PING, flags[i], 1, 0);
		expect_protocol_error(frame, WIRE_HEADER_SIZE);
	}
	wire_pack_control(frame, WIRE_PING, 1, 0);
	frame[6] = 1; /* the one-way bit means nothing on a PING */
	expect_protocol_error(frame, WIRE_HEADER_SIZE);
	survived();
}

/* Frames only a server sends, with bodies: REPLY (OK, fault), PONG, GOAWAY. */
static void reply_frames_from_a_client(void **state)
{
	uint8_t frame[WIRE_HEADER_SIZE + 8];
	tried++;
	size_t n = wire_pack_reply_prefix(frame, 1, ARPC_S_OK, 0, 2);
	memcpy(frame + n, "ok", 2);
	expect_protocol_error(frame, n + 2);
	n = wire_pack_reply_prefix(frame, 1, ARPC_S_APP_FAULT, 42, 0);
	expect_protocol_error(frame, n);
	/* A REPLY for a call the client really has outstanding changes nothing. */
	struct wc c;
	connect_or_fail(&c);
	assert_int_equal(wc_send_u32(&c, 9, "demo.async_delay", 50), 0);
	n = wire_pack_reply_prefix(frame, 9, ARPC_S_OK, 0, 0);
	assert_int_equal(wc_send_raw(&c, frame, n), 0);
	expect_goaway_answer_then_eof(&c, 9);
	wc_close(&c);
	survived();
}

/* Versions other than 1, types outside 1..6, call id 0. */
static void bad_version_type_and_id(void **state)
{
	static const uint8_t versions[] = {0, 2, 0x7f, 0xff};
	static const uint8_t types[] = {0, 7, 0x80, 0xff};
	uint8_t frame[WIRE_REQUEST_PREFIX_MAX];
	tried++;
	for (size_t i = 0; i < sizeof(versions); i++) {
		header(frame, 0, versions[i], WIRE_PING, 0, 1, 0);
		expect_protocol_error(frame, WIRE_HEADER_SIZE);
	}
	for (size_t i = 0; i < sizeof(types); i++) {
		header(frame, 0, 1, types[i], 0, 1, 0);
		expect_protocol_error(frame, WIRE_HEADER_SIZE);
	}
	wire_pack_request_prefix(frame, 0, 0, 0, "sys.ping", 8, 0);
	expect_protocol_error(frame, PING_LEN);
	survived();
}

/* A request written one byte per write, slowly: served (each byte is
 * activity), while another connection is served in between. */
static void slowloris_byte_per_write(void **state)
{
	uint8_t frame[WIRE_REQUEST_PREFIX_MAX];
	struct wc slow, other;
	tried++;
	wire_pack_request_prefix(frame, 1, 0, 0, "sys.ping", 8, 0);
	connect_or_fail(&slow);
	connect_or_fail(&other);
	for (size_t i = 0; i < PING_LEN; i++) {
		assert_int_equal(wc_send_raw(&slow, frame + i, 1), 0);
		ping_ok(&other, (uint32_t)i + 1);
		usleep(50 * 1000);
	}
	expect_reply(&slow, 1, ARPC_S_OK);
	wc_close(&slow);
	wc_close(&other);
	survived();
}

/* Requests, then shutdown(SHUT_WR): the replies still come, then the
 * daemon closes its end. */
static void half_close_after_requests(void **state)
{
	struct wc c;
	tried++;
	connect_or_fail(&c);
	assert_int_equal(wc_send_u32(&c, 1, "demo.async_delay", 200), 0);
	assert_int_equal(wc_send_u32(&c, 2, "demo.sleep", 100), 0);
	assert_int_equal(wc_send_request(&c, 3, "sys.ping", NULL, 0, 0, 0), 0);
	assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
	expect_each_reply_once(&c, 3, ARPC_S_OK);
	expect_eof(&c);
	wc_close(&c);
	survived();
}

/* One-way requests get no reply, even failing ones. */
static void oneway_requests(void **state)
{
	struct wc c;
	tried++;
	connect_or_fail(&c);
	assert_int_equal(wc_send_request(&c, 1, "demo.echo", "x", 1, 0, WIRE_FLAG_ONEWAY), 0);
	assert_int_equal(wc_send_request(&c, 2, "no.such", NULL, 0, 0, WIRE_FLAG_ONEWAY), 0);
	assert_int_equal(wc_send_request(&c, 3, "demo.sleep", "bad", 3, 0, WIRE_FLAG_ONEWAY), 0);
	ping_ok(&c, 4); /* the first frame back */
	wc_close(&c);
	survived();
}

/* Wrong payloads for the built-ins: INVALID_ARG, connection goes on. */
static void bad_payloads(void **state)
{
	struct wc c;
	struct wc_frame f;
	tried++;
	connect_or_fail(&c);
	assert_int_equal(wc_call(&c, 1, "demo.sleep", "abc", 3, &f), ARPC_S_INVALID_ARG);
	wc_frame_free(&f);
	assert_int_equal(wc_call(&c, 2, "demo.async_delay", "abcde", 5, &f), ARPC_S_INVALID_ARG);
	wc_frame_free(&f);
	assert_int_equal(wc_send_u32(&c, 3, "demo.sleep", 0xffffffffu), 0);
	expect_reply(&c, 3, ARPC_S_INVALID_ARG); /* over demo_sleep_max */
	ping_ok(&c, 4);
	wc_close(&c);
	survived();
}

/* demo.message with line breaks and escapes: logged on one line. */
static void log_injection(void **state)
{
	static const char text[] = "hello\narpcd: error: FORGED LINE\r\x1b[2J";
	struct wc c;
	struct wc_frame f;
	tried++;
	connect_or_fail(&c);
	assert_int_equal(wc_call(&c, 1, "demo.message", text, sizeof(text) - 1, &f), ARPC_S_OK);
	wc_frame_free(&f);
	wc_close(&c);
	assert_true(harness_log_contains(&h, "hello?arpcd: error: FORGED LINE??[2J"));
	assert_false(log_has_line_starting(&h, "arpcd: error: FORGED"));
	survived();
}

/* A deadline far shorter than the call: TIMEOUT, the worker is released. */
static void tiny_deadline(void **state)
{
	uint8_t p[4];
	struct wc c;
	tried++;
	wire_put32(p, 5000);
	connect_or_fail(&c);
	assert_int_equal(wc_send_request(&c, 1, "demo.sleep", p, 4, 1, 0), 0);
	assert_int_equal(wc_send_request(&c, 2, "demo.async_delay", p, 4, 1, 0), 0);
	expect_each_reply_once(&c, 2, ARPC_S_TIMEOUT);
	wc_close(&c);
	survived();
}

/* 1,000 timer-held calls, each cancelled twice at once: every call is
 * answered exactly once, CANCELLED. */
static void cancel_storm(void **state)
{
	enum { N = 1000 };
	struct wc c;
	tried++;
	connect_or_fail(&c);
	for (uint32_t id = 1; id <= N; id++) {
		assert_int_equal(wc_send_u32(&c, id, "demo.async_delay", 5000), 0);
		assert_int_equal(wc_send_control(&c, WIRE_CANCEL, id), 0);
		assert_int_equal(wc_send_control(&c, WIRE_CANCEL, id), 0);
	}
	expect_each_reply_once(&c, N, ARPC_S_CALL_CANCELLED);
	ping_ok(&c, N + 1); /* and nothing else came before it */
	wc_close(&c);
	survived();
}

/* The extremes of the header's numbers: call id 0xFFFFFFFF, the longest
 * deadline (49 days, no overflow), a PING id 0. */
static void extreme_ids_and_deadlines(void **state)
{
	uint8_t p[4];
	struct wc c;
	tried++;
	wire_put32(p, 10);
	connect_or_fail(&c);
	assert_int_equal(wc_send_request(&c, 0xffffffffu, "demo.async_delay", p, 4, 0xffffffffu, 0),
	                 0);
	expect_reply(&c, 0xffffffffu, ARPC_S_OK);
	assert_int_equal(wc_ping(&c, 0), 0);
	ping_ok(&c, 1);
	wc_close(&c);
	survived();
}

/* Hundreds of connections opened and dropped in a row, some mid-frame
 * (some are refused for max_connections: closes not yet seen count). */
static void connection_churn(void **state)
{
	uint8_t frame[WIRE_REQUEST_PREFIX_MAX];
	tried++;
	wire_pack_request_prefix(frame, 1, 0, 0, "sys.ping", 8, 0);
	for (int i = 0; i < 500; i++) {
		struct wc c;
		connect_or_fail(&c);
		if (i % 3 == 1)
			assert_true(send_tolerant(&c, frame, 1 + (size_t)i % PING_LEN) >= 0);
		else if (i % 3 == 2)
			assert_true(send_tolerant(&c, frame, PING_LEN) >= 0);
		wc_close(&c);
	}
	survived();
}

/* A valid frame followed by garbage in the same write: the first is
 * answered before the GOAWAY. */
static void valid_then_garbage(void **state)
{
	uint8_t buf[WIRE_REQUEST_PREFIX_MAX];
	struct wc c;
	tried++;
	wire_pack_request_prefix(buf, 1, 0, 0, "sys.ping", 8, 0);
	memset(buf + PING_LEN, 0xee, 32);
	connect_or_fail(&c);
	assert_int_equal(wc_send_raw(&c, buf, PING_LEN + 32), 0);
	expect_reply(&c, 1, ARPC_S_OK);
	expect_goaway_then_eof(&c, ARPC_S_PROTOCOL_ERROR);
	wc_close(&c);
	survived();
}

static int group_setup(void **state)
{
	if (harness_init(&h, limits) < 0 || harness_start(&h, NULL) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	int st = h.pid > 0 ? harness_stop(&h) : -1;
	/* TAP comment: the figure for docs/reliability.md. */
	printf("# hostile cases survived: %d/%d\n", survived_count, tried);
	harness_cleanup(&h);
	return st == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(truncated_headers_then_close),
		cmocka_unit_test(truncated_body_then_close),
		cmocka_unit_test(header_then_silence),
		cmocka_unit_test(random_garbage),
		cmocka_unit_test(body_len_max),
		cmocka_unit_test(frame_at_and_over_the_limit),
		cmocka_unit_test(method_length_past_body),
		cmocka_unit_test(method_length_zero),
		cmocka_unit_test(bad_method_characters),
		cmocka_unit_test(huge_method_name),
		cmocka_unit_test(unknown_methods),
		cmocka_unit_test(duplicate_outstanding_ids),
		cmocka_unit_test(id_reuse_after_reply),
		cmocka_unit_test(cancel_unknown_ids),
		cmocka_unit_test(cancel_twice_and_late),
		cmocka_unit_test(pipelined_pings),
		cmocka_unit_test(pipelined_requests),
		cmocka_unit_test(over_inflight_limit),
		cmocka_unit_test(never_reading_echo_flood),
		cmocka_unit_test(never_reading_below_the_limit),
		cmocka_unit_test(over_max_connections),
		cmocka_unit_test(closed_with_calls_in_flight),
		cmocka_unit_test(closed_with_replies_unread),
		cmocka_unit_test(zero_length_bodies),
		cmocka_unit_test(bodies_on_control_frames),
		cmocka_unit_test(unknown_flags),
		cmocka_unit_test(reply_frames_from_a_client),
		cmocka_unit_test(bad_version_type_and_id),
		cmocka_unit_test(slowloris_byte_per_write),
		cmocka_unit_test(half_close_after_requests),
		cmocka_unit_test(oneway_requests),
		cmocka_unit_test(bad_payloads),
		cmocka_unit_test(log_injection),
		cmocka_unit_test(tiny_deadline),
		cmocka_unit_test(cancel_storm),
		cmocka_unit_test(extreme_ids_and_deadlines),
		cmocka_unit_test(connection_churn),
		cmocka_unit_test(valid_then_garbage),
	};
	return cmocka_run_group_tests_name("hostile-clients", tests, group_setup, group_teardown);
}
