/*
 * test-wire.c: the frame codec against tests/data/protocol-vectors.txt and
 * against frames this file builds, fed whole, byte by byte and many at once.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "wire.h"

#define MAX_FRAME_HEX 8192

struct vector {
	int valid;
	char kind[32];        /* invalid: error kind */
	uint8_t type;
	uint32_t call_id, word;
	uint16_t flags;
	char method[256];     /* "" for none */
	uint8_t payload[1024];
	size_t payload_len;
	uint8_t frame[MAX_FRAME_HEX / 2];
	size_t frame_len;
	int line;
};

static struct vector vectors[128];
static size_t n_vectors;

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);
	assert_int_equal(n % 2, 0);
	assert_true(n / 2 <= cap);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n / 2;
}

static uint8_t type_from_name(const char *s)
{
	static const char *names[] = { "REQUEST", "REPLY", "CANCEL", "PING", "PONG", "GOAWAY" };
	for (unsigned i = 0; i < 6; i++)
		if (strcmp(s, names[i]) == 0)
			return (uint8_t)(i + 1);
	fail_msg("unknown frame type '%s' in the vectors", s);
	return 0;
}

static int load_vectors(void **state)
{
	const char *top = getenv("ARPC_TOP_SRCDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/protocol-vectors.txt", top ? top : ".");
	FILE *fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "# cannot open %s\n", path);
		return -1;
	}
	char line[MAX_FRAME_HEX * 2];
	int lineno = 0;
	while (fgets(line, sizeof(line), fp)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		struct vector *v = &vectors[n_vectors];
		char word0[16], t[16], method[256], payload[2100], frame[MAX_FRAME_HEX];
		unsigned long call_id, wordv, flags;
		memset(v, 0, sizeof(*v));
		v->line = lineno;
		if (sscanf(line, "%15s", word0) != 1)
			continue;
		if (strcmp(word0, "valid") == 0) {
			if (sscanf(line, "%*s %15s %lu %lu %lu %255s %2099s %8191s", t, &call_id, &wordv,
			           &flags, method, payload, frame) != 7) {
				fprintf(stderr, "# bad vector line %d\n", lineno);
				fclose(fp);
				return -1;
			}
			v->valid = 1;
			v->type = type_from_name(t);
			v->call_id = (uint32_t)call_id;
			v->word = (uint32_t)wordv;
			v->flags = (uint16_t)flags;
			if (strcmp(method, "-") != 0)
				snprintf(v->method, sizeof(v->method), "%s", method);
			if (strcmp(payload, "-") != 0)
				v->payload_len = unhex(payload, v->payload, sizeof(v->payload));
		} else if (strcmp(word0, "invalid") == 0) {
			if (sscanf(line, "%*s %31s %8191s", v->kind, frame) != 2) {
				fprintf(stderr, "# bad vector line %d\n", lineno);
				fclose(fp);
				return -1;
			}
		} else {
			continue;
		}
		v->frame_len = unhex(frame, v->frame, sizeof(v->frame));
		n_vectors++;
	}
	fclose(fp);
	*state = NULL;
	return n_vectors > 0 ? 0 : -1;
}

/* Expected frame contents of a valid vector, as wire_frame reports them. */
static void check_frame_matches(const struct vector *v, const struct wire_frame *f)
{
	assert_int_equal(f->type, v->type);
	assert_int_equal(f->call_id, v->call_id);
	assert_int_equal(f->word, v->word);
	assert_int_equal(f->flags, v->flags);
	if (v->method[0]) {
		assert_int_equal(f->method_len, strlen(v->method));
		assert_memory_equal(f->method, v->method, f->method_len);
	} else {
		assert_null(f->method);
	}
	if (v->type == WIRE_REPLY && v->word == ARPC_S_APP_FAULT) {
		/* The vector's payload column is the whole body: code, then detail. */
		assert_int_equal(f->fault, wire_get32(v->payload));
		assert_int_equal(f->data_len + 4, v->payload_len);
		assert_memory_equal(f->data, v->payload + 4, f->data_len);
	} else {
		assert_int_equal(f->data_len, v->payload_len);
		if (v->payload_len)
			assert_memory_equal(f->data, v->payload, v->payload_len);
	}
}

/* Feeds `len` bytes `chunk` at a time; returns the first decoding error
 * (negative), or the number of frames decoded. */
static int decode_chunked(const uint8_t *bytes, size_t len, size_t chunk, uint32_t max_body,
                          void (*each)(const struct wire_frame *, void *), void *arg)
{
	struct wire_decoder d;
	int frames = 0, r = 0;
	wire_decoder_init(&d, max_body);
	size_t off = 0;
	for (;;) {
		struct wire_frame f;
		while ((r = wire_decoder_next(&d, &f)) == 1) {
			frames++;
			if (each)
				each(&f, arg);
		}
		if (r < 0)
			break;
		if (off == len)
			break;
		size_t k = len - off < chunk ? len - off : chunk;
		ssize_t took = wire_decoder_feed(&d, bytes + off, k);
		if (took < 0) {
			r = (int)took;
			break;
		}
		assert_true(d.cap <= WIRE_HEADER_SIZE + (size_t)max_body);
		off += (size_t)took;
	}
	if (r >= 0)
		assert_int_equal(wire_decoder_buffered(&d), 0);
	wire_decoder_free(&d);
	return r < 0 ? r : frames;
}

static void check_vector_frame(const struct wire_frame *f, void *arg)
{
	check_frame_matches(arg, f);
}

static void test_vectors_valid(void **state)
{
	size_t seen = 0;
	for (size_t i = 0; i < n_vectors; i++) {
		struct vector *v = &vectors[i];
		if (!v->valid)
			continue;
		seen++;
		/* Whole, through wire_parse: consumes exactly the frame. */
		struct wire_frame f;
		ssize_t n = wire_parse(v->frame, v->frame_len, WIRE_MAX_BODY_DEFAULT, &f);
		assert_int_equal(n, (ssize_t)v->frame_len);
		check_frame_matches(v, &f);
		/* Whole and byte by byte through the decoder. */
		assert_int_equal(decode_chunked(v->frame, v->frame_len, v->frame_len,
		                                WIRE_MAX_BODY_DEFAULT, check_vector_frame, v), 1);
		assert_int_equal(decode_chunked(v->frame, v->frame_len, 1, WIRE_MAX_BODY_DEFAULT,
		                                check_vector_frame, v), 1);
		/* Every proper prefix asks for more and never errs. */
		for (size_t k = 0; k < v->frame_len; k++)
			assert_int_equal(wire_parse(v->frame, k, WIRE_MAX_BODY_DEFAULT, &f), 0);
	}
	assert_true(seen >= 11);
}

static void test_vectors_invalid(void **state)
{
	size_t seen = 0;
	for (size_t i = 0; i < n_vectors; i++) {
		struct vector *v = &vectors[i];
		if (v->valid)
			continue;
		seen++;
		struct wire_frame f;
		ssize_t n = wire_parse(v->frame, v->frame_len, WIRE_MAX_BODY_DEFAULT, &f);
		if (n >= 0)
			fail_msg("vector line %d: decoded as %zd, expected error '%s'", v->line, n, v->kind);
		assert_string_equal(wire_error_name((int)n), v->kind);
		int whole = decode_chunked(v->frame, v->frame_len, v->frame_len, WIRE_MAX_BODY_DEFAULT,
		                           NULL, NULL);
		int bytewise = decode_chunked(v->frame, v->frame_len, 1, WIRE_MAX_BODY_DEFAULT, NULL, NULL);
		assert_int_equal(whole, n);
		assert_int_equal(bytewise, n);
	}
	assert_true(seen >= 10);
}

/* The encoder reproduces every valid vector byte for byte. */
static void test_vectors_encode(void **state)
{
	for (size_t i = 0; i < n_vectors; i++) {
		struct vector *v = &vectors[i];
		if (!v->valid)
			continue;
		uint8_t out[4096];
		size_t n;
		switch (v->type) {
		case WIRE_REQUEST:
			n = wire_pack_request_prefix(out, v->call_id, v->flags, v->word, v->method,
			                             strlen(v->method), v->payload_len);
			assert_true(n > 0);
			memcpy(out + n, v->payload, v->payload_len);
			n += v->payload_len;
			break;
		case WIRE_REPLY:
			if (v->word == ARPC_S_APP_FAULT) {
				n = wire_pack_reply_prefix(out, v->call_id, v->word, wire_get32(v->payload),
				                           v->payload_len - 4);
				memcpy(out + n, v->payload + 4, v->payload_len - 4);
				n += v->payload_len - 4;
			} else {
				n = wire_pack_reply_prefix(out, v->call_id, v->word, 0, v->payload_len);
				memcpy(out + n, v->payload, v->payload_len);
				n += v->payload_len;
			}
			break;
		default:
			n = wire_pack_control(out, v->type, v->call_id, v->word);
			break;
		}
		assert_int_equal(n, v->frame_len);
		assert_memory_equal(out, v->frame, n);
	}
}

/* Builds one frame of every type into buf; returns the total size. */
static size_t build_all_types(uint8_t *buf)
{
	size_t n = 0;
	static const uint8_t payload[] = { 0, 1, 2, 0xff, 'x' };
	n += wire_pack_request_prefix(buf + n, 11, WIRE_FLAG_ONEWAY, 250, "a.b_C9", 6,
	                              sizeof(payload));
	memcpy(buf + n, payload, sizeof(payload));
	n += sizeof(payload);
	n += wire_pack_reply_prefix(buf + n, 11, 0, 0, sizeof(payload));
	memcpy(buf + n, payload, sizeof(payload));
	n += sizeof(payload);
	n += wire_pack_reply_prefix(buf + n, 12, ARPC_S_APP_FAULT, 0xdeadbeef, 3);
	memcpy(buf + n, "bad", 3);
	n += 3;
	n += wire_pack_reply_prefix(buf + n, 13, ARPC_S_TIMEOUT, 0, 0);
	n += wire_pack_control(buf + n, WIRE_CANCEL, 14, 0);
	n += wire_pack_control(buf + n, WIRE_PING, 15, 0);
	n += wire_pack_control(buf + n, WIRE_PONG, 15, 0);
	n += wire_pack_control(buf + n, WIRE_GOAWAY, 99, ARPC_S_SERVER_TOO_BUSY);
	return n;
}

struct collected {
	struct wire_frame f[16];
	uint8_t copies[16][64]; /* frame data copied: the decoder may move its buffer */
	size_t n;
};

static void collect(const struct wire_frame *f, void *arg)
{
	struct collected *c = arg;
	assert_true(c->n < 16);
	c->f[c->n] = *f;
	assert_true(f->data_len <= 64);
	memcpy(c->copies[c->n], f->data, f->data_len);
	c->n++;
}

static void check_all_types(const struct collected *c)
{
	assert_int_equal(c->n, 8);
	assert_int_equal(c->f[0].type, WIRE_REQUEST);
	assert_int_equal(c->f[0].call_id, 11);
	assert_int_equal(c->f[0].flags, WIRE_FLAG_ONEWAY);
	assert_int_equal(c->f[0].word, 250);
	assert_int_equal(c->f[0].method_len, 6);
	assert_int_equal(c->f[0].data_len, 5);
	assert_memory_equal(c->copies[0], "\0\1\2\xffx", 5);
	assert_int_equal(c->f[1].type, WIRE_REPLY);
	assert_int_equal(c->f[1].word, 0);
	assert_int_equal(c->f[1].data_len, 5);
	assert_int_equal(c->f[2].word, ARPC_S_APP_FAULT);
	assert_int_equal(c->f[2].fault, 0xdeadbeef);
	assert_int_equal(c->f[2].data_len, 3);
	assert_memory_equal(c->copies[2], "bad", 3);
	assert_int_equal(c->f[3].word, ARPC_S_TIMEOUT);
	assert_int_equal(c->f[3].data_len, 0);
	assert_int_equal(c->f[4].type, WIRE_CANCEL);
	assert_int_equal(c->f[5].type, WIRE_PING);
	assert_int_equal(c->f[6].type, WIRE_PONG);
	assert_int_equal(c->f[6].call_id, 15);
	assert_int_equal(c->f[7].type, WIRE_GOAWAY);
	assert_int_equal(c->f[7].call_id, 99);
	assert_int_equal(c->f[7].word, ARPC_S_SERVER_TOO_BUSY);
}

/* Every type round-trips, in one buffer and in every chunk size. */
static void test_roundtrip_every_type_any_split(void **state)
{
	uint8_t buf[1024];
	size_t n = build_all_types(buf);
	for (size_t chunk = 1; chunk <= n; chunk++) {
		struct collected c = { .n = 0 };
		assert_int_equal(decode_chunked(buf, n, chunk, WIRE_MAX_BODY_DEFAULT, collect, &c), 8);
		check_all_types(&c);
	}
}

/* Many small frames in one read come out one by one, in order. */
static void test_many_frames_one_read(void **state)
{
	enum { N = 5000 };
	size_t len = N * WIRE_HEADER_SIZE;
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	for (uint32_t i = 0; i < N; i++)
		wire_pack_control(buf + i * WIRE_HEADER_SIZE, WIRE_PING, i + 1, 0);
	struct wire_decoder d;
	wire_decoder_init(&d, WIRE_MAX_BODY_DEFAULT);
	size_t off = 0;
	uint32_t next_id = 1;
	while (off < len) {
		ssize_t took = wire_decoder_feed(&d, buf + off, len - off);
		assert_true(took > 0);
		off += (size_t)took;
		struct wire_frame f;
		int r;
		while ((r = wire_decoder_next(&d, &f)) == 1) {
			assert_int_equal(f.type, WIRE_PING);
			assert_int_equal(f.call_id, next_id);
			next_id++;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(next_id, N + 1);
	wire_decoder_free(&d);
	free(buf);
}

static void expect_error(const uint8_t *frame, size_t len, uint32_t max_body, int err)
{
	struct wire_frame f;
	assert_int_equal(wire_parse(frame, len, max_body, &f), err);
	assert_int_equal(decode_chunked(frame, len, len, max_body, NULL, NULL), err);
	assert_int_equal(decode_chunked(frame, len, 1, max_body, NULL, NULL), err);
}

static void test_malformed_header_fields(void **state)
{
	uint8_t h[WIRE_HEADER_SIZE];
	wire_pack_control(h, WIRE_PING, 1, 0);
	h[4] = 0;
	expect_error(h, sizeof(h), WIRE_MAX_BODY_DEFAULT, WIRE_E_VERSION);
	h[4] = 0xff;
	expect_error(h, sizeof(h), WIRE_MAX_BODY_DEFAULT, WIRE_E_VERSION);
	for (unsigned t = 7; t < 256; t += 31) {
		wire_pack_header(h, 0, (uint8_t)t, 0, 1, 0);
		expect_error(h, sizeof(h), WIRE_MAX_BODY_DEFAULT, WIRE_E_TYPE);
	}
	/* Only REQUEST may set bit 0; no type may set any other bit. */
	wire_pack_header(h, 0, WIRE_REPLY, WIRE_FLAG_ONEWAY, 1, 0);
	expect_error(h, sizeof(h), WIRE_MAX_BODY_DEFAULT, WIRE_E_FLAGS);
	uint8_t req[WIRE_REQUEST_PREFIX_MAX];
	size_t n = wire_pack_request_prefix(req, 1, 0x8000, 0, "m", 1, 0);
	expect_error(req, n, WIRE_MAX_BODY_DEFAULT, WIRE_E_FLAGS);
	n = wire_pack_request_prefix(req, 1, 0x2, 0, "m", 1, 0);
	expect_error(req, n, WIRE_MAX_BODY_DEFAULT, WIRE_E_FLAGS);
	n = wire_pack_request_prefix(req, 0, 0, 0, "m", 1, 0);
	expect_error(req, n, WIRE_MAX_BODY_DEFAULT, WIRE_E_CALL_ID);
}

static void test_body_over_limit_refused_at_header(void **state)
{
	uint8_t h[WIRE_HEADER_SIZE];
	/* Exactly at the limit: waits for the body. */
	wire_pack_header(h, 100, WIRE_REPLY, 0, 1, 0);
	struct wire_frame f;
	assert_int_equal(wire_parse(h, sizeof(h), 100, &f), 0);
	/* One over: refused as soon as the header is in, with no body sent. */
	wire_pack_header(h, 101, WIRE_REPLY, 0, 1, 0);
	expect_error(h, sizeof(h), 100, WIRE_E_TOO_LARGE);
	wire_pack_header(h, 0xffffffffu, WIRE_REQUEST, 0, 1, 0);
	expect_error(h, sizeof(h), WIRE_MAX_BODY_DEFAULT, WIRE_E_TOO_LARGE);
}

static void test_malformed_methods(void **state)
{
	uint8_t frame[WIRE_HEADER_SIZE + 300];
	/* Method length 0, with and without a payload after it. */
	wire_pack_header(frame, 1, WIRE_REQUEST, 0, 1, 0);
	frame[WIRE_HEADER_SIZE] = 0;
	expect_error(frame, WIRE_HEADER_SIZE + 1, WIRE_MAX_BODY_DEFAULT, WIRE_E_METHOD);
	wire_pack_header(frame, 3, WIRE_REQUEST, 0, 1, 0);
	memcpy(frame + WIRE_HEADER_SIZE, "\0ab", 3);
	expect_error(frame, WIRE_HEADER_SIZE + 3, WIRE_MAX_BODY_DEFAULT, WIRE_E_METHOD);
	/* Method length past the body, by one. */
	wire_pack_header(frame, 4, WIRE_REQUEST, 0, 1, 0);
	memcpy(frame + WIRE_HEADER_SIZE, "\4abc", 4);
	expect_error(frame, WIRE_HEADER_SIZE + 4, WIRE_MAX_BODY_DEFAULT, WIRE_E_METHOD);
	/* Every byte outside [A-Za-z0-9_.] is refused. */
	for (int c = 0; c < 256; c++) {
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		         c == '_' || c == '.';
		wire_pack_header(frame, 4, WIRE_REQUEST, 0, 1, 0);
		memcpy(frame + WIRE_HEADER_SIZE, "\3a?b", 4);
		frame[WIRE_HEADER_SIZE + 2] = (uint8_t)c;
		struct wire_frame f;
		ssize_t r = wire_parse(frame, WIRE_HEADER_SIZE + 4, WIRE_MAX_BODY_DEFAULT, &f);
		if (ok)
			assert_int_equal(r, WIRE_HEADER_SIZE + 4);
		else
			assert_int_equal(r, WIRE_E_METHOD);
	}
	/* The longest method, 255 characters, is fine; the encoder refuses 256. */
	char m[256];
	memset(m, 'm', sizeof(m));
	uint8_t req[WIRE_REQUEST_PREFIX_MAX];
	size_t n = wire_pack_request_prefix(req, 1, 0, 0, m, 255, 0);
	assert_int_equal(n, WIRE_REQUEST_PREFIX_MAX);
	struct wire_frame f;
	assert_int_equal(wire_parse(req, n, WIRE_MAX_BODY_DEFAULT, &f), (ssize_t)n);
	assert_int_equal(f.method_len, 255);
	assert_int_equal(wire_pack_request_prefix(req, 1, 0, 0, m, 256, 0), 0);
	assert_int_equal(wire_pack_request_prefix(req, 1, 0, 0, "a b", 3, 0), 0);
	assert_int_equal(wire_pack_request_prefix(req, 1, 0, 0, "", 0, 0), 0);
}

static void test_bodies_where_none_allowed(void **state)
{
	static const uint8_t types[] = { WIRE_CANCEL, WIRE_PING, WIRE_PONG, WIRE_GOAWAY };
	uint8_t frame[WIRE_HEADER_SIZE + 1] = { 0 };
	for (size_t i = 0; i < sizeof(types); i++) {
		wire_pack_header(frame, 1, types[i], 0, 1, 0);
		expect_error(frame, sizeof(frame), WIRE_MAX_BODY_DEFAULT, WIRE_E_BODY);
	}
	/* An application fault must carry its 4-byte code. */
	uint8_t fault[WIRE_HEADER_SIZE + 3] = { 0 };
	wire_pack_header(fault, 3, WIRE_REPLY, 0, 1, ARPC_S_APP_FAULT);
	expect_error(fault, sizeof(fault), WIRE_MAX_BODY_DEFAULT, WIRE_E_BODY);
}

/* Truncated input: every prefix of every frame type needs more, none errs,
 * and the decoder holds the bytes without returning a frame. */
static void test_truncated_input(void **state)
{
	uint8_t buf[1024];
	size_t n = build_all_types(buf);
	struct wire_frame f;
	size_t off = 0;
	while (off < n) {
		ssize_t whole = wire_parse(buf + off, n - off, WIRE_MAX_BODY_DEFAULT, &f);
		assert_true(whole > 0);
		for (size_t k = 0; k < (size_t)whole; k++) {
			assert_int_equal(wire_parse(buf + off, k, WIRE_MAX_BODY_DEFAULT, &f), 0);
			struct wire_decoder d;
			wire_decoder_init(&d, WIRE_MAX_BODY_DEFAULT);
			assert_int_equal(wire_decoder_feed(&d, buf + off, k), (ssize_t)k);
			assert_int_equal(wire_decoder_next(&d, &f), 0);
			assert_int_equal(wire_decoder_buffered(&d), k);
			wire_decoder_free(&d);
		}
		off += (size_t)whole;
	}
}

/* The buffer never outgrows one frame of the largest size, even when the
 * peer sends more than that before anything is taken out. */
static void test_decoder_memory_bound(void **state)
{
	const uint32_t max_body = 100;
	struct wire_decoder d;
	wire_decoder_init(&d, max_body);
	uint8_t frame[WIRE_HEADER_SIZE + 100];
	wire_pack_reply_prefix(frame, 1, 0, 0, 100);
	memset(frame + WIRE_HEADER_SIZE, 'x', 100);
	size_t fed = 0;
	for (int i = 0; i < 3; i++) {
		ssize_t took = wire_decoder_feed(&d, frame, sizeof(frame));
		assert_true(took >= 0);
		fed += (size_t)took;
		assert_true(d.cap <= sizeof(frame));
	}
	/* Only one frame fits; the rest waits for the caller. */
	assert_int_equal(fed, sizeof(frame));
	assert_int_equal(wire_decoder_feed(&d, frame, sizeof(frame)), 0);
	struct wire_frame f;
	assert_int_equal(wire_decoder_next(&d, &f), 1);
	assert_int_equal(f.data_len, 100);
	assert_int_equal(wire_decoder_next(&d, &f), 0);
	assert_int_equal(wire_decoder_feed(&d, frame, sizeof(frame)), (ssize_t)sizeof(frame));
	assert_int_equal(wire_decoder_next(&d, &f), 1);
	wire_decoder_free(&d);
}

/* Errors are sticky: nothing after a bad frame is ever decoded. */
static void test_error_is_sticky(void **state)
{
	uint8_t buf[2 * WIRE_HEADER_SIZE];
	wire_pack_control(buf, WIRE_PING, 1, 0);
	buf[4] = 2;
	wire_pack_control(buf + WIRE_HEADER_SIZE, WIRE_PING, 2, 0);
	struct wire_decoder d;
	wire_decoder_init(&d, WIRE_MAX_BODY_DEFAULT);
	assert_int_equal(wire_decoder_feed(&d, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	struct wire_frame f;
	assert_int_equal(wire_decoder_next(&d, &f), WIRE_E_VERSION);
	assert_int_equal(wire_decoder_next(&d, &f), WIRE_E_VERSION);
	size_t room;
	assert_null(wire_decoder_space(&d, &room));
	assert_int_equal(room, 0);
	assert_int_equal(wire_decoder_feed(&d, buf, 1), WIRE_E_VERSION);
	wire_decoder_free(&d);
}

/* A large frame arriving in pieces grows the buffer to fit it exactly
 * once, and the buffer is released again when it empties. */
static void test_large_frame_in_pieces(void **state)
{
	const size_t body = 300000;
	uint8_t *frame = malloc(WIRE_HEADER_SIZE + body);
	assert_non_null(frame);
	wire_pack_reply_prefix(frame, 5, 0, 0, body);
	for (size_t i = 0; i < body; i++)
		frame[WIRE_HEADER_SIZE + i] = (uint8_t)(i * 7);
	struct wire_decoder d;
	wire_decoder_init(&d, WIRE_MAX_BODY_DEFAULT);
	size_t off = 0;
	while (off < WIRE_HEADER_SIZE + body) {
		size_t room;
		uint8_t *dst = wire_decoder_space(&d, &room);
		assert_non_null(dst);
		size_t k = WIRE_HEADER_SIZE + body - off;
		if (k > room)
			k = room;
		if (k > 4000)
			k = 4000; /* a socket that hands out small reads */
		memcpy(dst, frame + off, k);
		wire_decoder_commit(&d, k);
		off += k;
	}
	struct wire_frame f;
	assert_int_equal(wire_decoder_next(&d, &f), 1);
	assert_int_equal(f.data_len, body);
	assert_memory_equal(f.data, frame + WIRE_HEADER_SIZE, body);
	size_t room;
	assert_non_null(wire_decoder_space(&d, &room));
	assert_true(d.cap <= 65536);
	wire_decoder_free(&d);
	free(frame);
}

/* A lower limit set while a frame is half received (a reload of
 * max_frame) leaves that frame to the limit it began with, and the frames
 * already buffered behind it; the next frame meets the new limit. */
static void test_lower_limit_spares_frames_begun(void **state)
{
	const size_t body = 40000, small = 100;
	uint8_t *frames = malloc(2 * (WIRE_HEADER_SIZE + body));
	assert_non_null(frames);
	wire_pack_reply_prefix(frames, 1, 0, 0, body);
	memset(frames + WIRE_HEADER_SIZE, 'a', body);
	wire_pack_reply_prefix(frames + WIRE_HEADER_SIZE + body, 2, 0, 0, body);
	memset(frames + 2 * WIRE_HEADER_SIZE + body, 'b', body);
	struct wire_decoder d;
	struct wire_frame f;
	wire_decoder_init(&d, 65536);

	/* Frame 1 half in, and only its header: the limit drops meanwhile. */
	assert_int_equal(wire_decoder_feed(&d, frames, WIRE_HEADER_SIZE + 10), WIRE_HEADER_SIZE + 10);
	assert_int_equal(wire_decoder_next(&d, &f), 0);
	wire_decoder_set_max_body(&d, 4096);
	wire_decoder_set_max_body(&d, 2048); /* a second reload: still 65536 for it */
	size_t rest = WIRE_HEADER_SIZE + body - (WIRE_HEADER_SIZE + 10);
	assert_int_equal(wire_decoder_feed(&d, frames + WIRE_HEADER_SIZE + 10, rest), (ssize_t)rest);
	assert_int_equal(wire_decoder_next(&d, &f), 1);
	assert_int_equal(f.call_id, 1);
	assert_int_equal(f.data_len, body);

	/* A small frame is fine, a big one begun after the change is not. */
	uint8_t hdr[WIRE_HEADER_SIZE + 100];
	wire_pack_reply_prefix(hdr, 3, 0, 0, small);
	memset(hdr + WIRE_HEADER_SIZE, 'c', small);
	assert_int_equal(wire_decoder_feed(&d, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_int_equal(wire_decoder_next(&d, &f), 1);
	assert_int_equal(f.call_id, 3);
	assert_int_equal(wire_decoder_feed(&d, frames + WIRE_HEADER_SIZE + body, WIRE_HEADER_SIZE),
	                 WIRE_HEADER_SIZE);
	assert_int_equal(wire_decoder_next(&d, &f), WIRE_E_TOO_LARGE);
	wire_decoder_free(&d);

	/* Two frames buffered (a connection paused at its in-flight limit
	 * holds whole frames) when the limit drops: both began under the old
	 * one, the second only partly received. */
	const size_t mid = 20000;
	wire_pack_reply_prefix(frames, 4, 0, 0, mid);
	wire_pack_reply_prefix(frames + WIRE_HEADER_SIZE + mid, 5, 0, 0, mid);
	size_t both = 2 * (WIRE_HEADER_SIZE + mid);
	wire_decoder_init(&d, 65536);
	assert_int_equal(wire_decoder_feed(&d, frames, both - 5), (ssize_t)(both - 5));
	wire_decoder_set_max_body(&d, 4096);
	assert_int_equal(wire_decoder_next(&d, &f), 1);
	assert_int_equal(f.call_id, 4);
	assert_int_equal(wire_decoder_feed(&d, frames + both - 5, 5), 5);
	assert_int_equal(wire_decoder_next(&d, &f), 1);
	assert_int_equal(f.call_id, 5);
	assert_int_equal(f.data_len, mid);
	wire_decoder_free(&d);
	free(frames);
}

static void test_names(void **state)
{
	assert_string_equal(wire_type_name(WIRE_GOAWAY), "GOAWAY");
	assert_string_equal(wire_type_name(0), "unknown");
	assert_string_equal(wire_error_name(WIRE_E_TOO_LARGE), "too_large");
	assert_non_null(wire_error_message(WIRE_E_METHOD));
}

/*
 * wire_reply_status_valid and wire_goaway_status_valid say what the
 * "Status codes" table of docs/protocol.md says, row by row: its REPLY and
 * GOAWAY columns hold "yes" for the statuses a server may send.  Every
 * status has a row, and numbers past the table are refused.
 */
static void test_server_statuses_are_the_table(void **state)
{
	(void)state;
	const char *top = getenv("ARPC_TOP_SRCDIR");
	char path[4096], line[512];
	snprintf(path, sizeof(path), "%s/docs/protocol.md", top ? top : ".");
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("cannot open %s", path);
	int rows[ARPC_S_STATUS_MAX_] = {0};
	while (fgets(line, sizeof(line), fp)) {
		unsigned value;
		char name[64];
		if (sscanf(line, "| %u | %63s |", &value, name) != 2 || strncmp(name, "ARPC_S_", 7) != 0)
			continue;
		/* The last two cells: REPLY, GOAWAY. */
		char *cells[8];
		int n = 0;
		for (char *p = strchr(line, '|'); p && n < 8; p = strchr(p + 1, '|'))
			cells[n++] = p + 1;
		assert_int_equal(n, 6); /* value, name, meaning, REPLY, GOAWAY, and the end */
		int reply = strncmp(cells[3], " yes ", 5) == 0;
		int goaway = strncmp(cells[4], " yes ", 5) == 0;
		assert_true(value < ARPC_S_STATUS_MAX_);
		print_message("# %u %s: REPLY %s, GOAWAY %s\n", value, name, reply ? "yes" : "no",
		              goaway ? "yes" : "no");
		assert_int_equal(wire_reply_status_valid(value), reply);
		assert_int_equal(wire_goaway_status_valid(value), goaway);
		rows[value]++;
	}
	fclose(fp);
	for (unsigned v = 0; v < ARPC_S_STATUS_MAX_; v++)
		assert_int_equal(rows[v], 1);
	for (uint32_t v = ARPC_S_STATUS_MAX_; v < ARPC_S_STATUS_MAX_ + 1000u; v++) {
		assert_false(wire_reply_status_valid(v));
		assert_false(wire_goaway_status_valid(v));
	}
	assert_false(wire_reply_status_valid(UINT32_MAX));
	assert_false(wire_goaway_status_valid(UINT32_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_valid),
		cmocka_unit_test(test_vectors_invalid),
		cmocka_unit_test(test_vectors_encode),
		cmocka_unit_test(test_roundtrip_every_type_any_split),
		cmocka_unit_test(test_many_frames_one_read),
		cmocka_unit_test(test_malformed_header_fields),
		cmocka_unit_test(test_body_over_limit_refused_at_header),
		cmocka_unit_test(test_malformed_methods),
		cmocka_unit_test(test_bodies_where_none_allowed),
		cmocka_unit_test(test_truncated_input),
		cmocka_unit_test(test_decoder_memory_bound),
		cmocka_unit_test(test_error_is_sticky),
		cmocka_unit_test(test_large_frame_in_pieces),
		cmocka_unit_test(test_lower_limit_spares_frames_begun),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_server_statuses_are_the_table),
	};
	return cmocka_run_group_tests_name("wire", tests, load_vectors, NULL);
}
