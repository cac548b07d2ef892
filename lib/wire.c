/*
 * wire.c: the frame codec of wire protocol v1 (see wire.h, docs/protocol.md).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpc/arpc.h>

#include "wire.h"

/* The decoder starts small and grows (by doubling) only as far as one
 * frame of the largest allowed size needs. */
#define DECODER_INITIAL_CAP 16384u
/* Below this much free space at the end, compact or grow before a read. */
#define DECODER_MIN_ROOM 1024u
/* An empty buffer larger than this is released rather than kept. */
#define DECODER_KEEP_CAP 65536u

/* [A-Za-z0-9_.]: checked for every request sent and received, so a table. */
static const unsigned char method_char[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1, ['_'] = 1, ['.'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
	['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
	['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
};

int wire_method_valid(const char *m, size_t n)
{
	if (n == 0 || n > WIRE_METHOD_MAX)
		return 0;
	unsigned char ok = 1;
	for (size_t i = 0; i < n; i++)
		ok &= method_char[(unsigned char)m[i]];
	return ok;
}

const char *wire_error_name(int err)
{
	switch (err) {
	case WIRE_E_VERSION: return "version";
	case WIRE_E_TYPE: return "type";
	case WIRE_E_FLAGS: return "flags";
	case WIRE_E_CALL_ID: return "call_id";
	case WIRE_E_METHOD: return "method";
	case WIRE_E_TOO_LARGE: return "too_large";
	case WIRE_E_BODY: return "body";
	case WIRE_E_NOMEM: return "nomem";
	default: return "unknown";
	}
}

const char *wire_error_message(int err)
{
	switch (err) {
	case WIRE_E_VERSION: return "unsupported protocol version";
	case WIRE_E_TYPE: return "unknown frame type";
	case WIRE_E_FLAGS: return "reserved flag bits set";
	case WIRE_E_CALL_ID: return "request with call id 0";
	case WIRE_E_METHOD: return "missing, overlong or malformed method name";
	case WIRE_E_TOO_LARGE: return "frame body larger than the limit";
	case WIRE_E_BODY: return "frame body not allowed or too short for its type";
	case WIRE_E_NOMEM: return "out of memory for the receive buffer";
	default: return "unknown decoding error";
	}
}

const char *wire_type_name(unsigned type)
{
	switch (type) {
	case WIRE_REQUEST: return "REQUEST";
	case WIRE_REPLY: return "REPLY";
	case WIRE_CANCEL: return "CANCEL";
	case WIRE_PING: return "PING";
	case WIRE_PONG: return "PONG";
	case WIRE_GOAWAY: return "GOAWAY";
	default: return "unknown";
	}
}

/* docs/protocol.md, "Status codes": the statuses a server may send.  The
 * others mean something only inside a client (a pending handle, a failed
 * connect, a buffer that is too small), and a client that took them from the
 * wire would misreport its own state. */
int wire_reply_status_valid(uint32_t status)
{
	switch (status) {
	case ARPC_S_OK:
	case ARPC_S_CALL_CANCELLED:
	case ARPC_S_CALL_FAILED_DNE:
	case ARPC_S_SERVER_TOO_BUSY:
	case ARPC_S_TIMEOUT:
	case ARPC_S_UNKNOWN_METHOD:
	case ARPC_S_ACCESS_DENIED:
	case ARPC_S_PROTOCOL_ERROR:
	case ARPC_S_INVALID_ARG:
	case ARPC_S_NO_MEMORY:
	case ARPC_S_APP_FAULT:
		return 1;
	default:
		return 0;
	}
}

int wire_goaway_status_valid(uint32_t status)
{
	switch (status) {
	case ARPC_S_OK:
	case ARPC_S_SERVER_TOO_BUSY:
	case ARPC_S_ACCESS_DENIED:
	case ARPC_S_PROTOCOL_ERROR:
	case ARPC_S_NO_MEMORY:
		return 1;
	default:
		return 0;
	}
}

/* The checks that need only the header, so a bad frame is refused before
 * its body is waited for (or allocated). */
static int check_header(uint32_t body_len, uint8_t version, uint8_t type, uint16_t flags,
                        uint32_t call_id, uint32_t max_body)
{
	if (version != WIRE_VERSION)
		return WIRE_E_VERSION;
	if (type < WIRE_REQUEST || type > WIRE_GOAWAY)
		return WIRE_E_TYPE;
	if (flags & ~(type == WIRE_REQUEST ? WIRE_FLAG_ONEWAY : 0u))
		return WIRE_E_FLAGS;
	if (type == WIRE_REQUEST && call_id == 0)
		return WIRE_E_CALL_ID;
	if (body_len > max_body)
		return WIRE_E_TOO_LARGE;
	switch (type) {
	case WIRE_REQUEST:
		if (body_len == 0)
			return WIRE_E_METHOD;
		break;
	case WIRE_CANCEL:
	case WIRE_PING:
	case WIRE_PONG:
	case WIRE_GOAWAY:
		if (body_len != 0)
			return WIRE_E_BODY;
		break;
	default:
		break;
	}
	return 0;
}

static int parse_body(struct wire_frame *f, const uint8_t *body)
{
	f->method = NULL;
	f->method_len = 0;
	f->fault = 0;
	f->data = body;
	f->data_len = f->body_len;

	if (f->type == WIRE_REQUEST) {
		size_t mlen = body[0];
		if (mlen == 0 || mlen > f->body_len - 1u)
			return WIRE_E_METHOD;
		if (!wire_method_valid((const char *)body + 1, mlen))
			return WIRE_E_METHOD;
		f->method = (const char *)body + 1;
		f->method_len = mlen;
		f->data = body + 1 + mlen;
		f->data_len = f->body_len - 1u - mlen;
	} else if (f->type == WIRE_REPLY && f->word == ARPC_S_APP_FAULT) {
		if (f->body_len < 4u)
			return WIRE_E_BODY;
		f->fault = wire_get32(body);
		f->data = body + 4;
		f->data_len = f->body_len - 4u;
	}
	return 0;
}

ssize_t wire_parse(const uint8_t *buf, size_t len, uint32_t max_body, struct wire_frame *f)
{
	if (len < WIRE_HEADER_SIZE)
		return 0;

	f->body_len = wire_get32(buf);
	f->type = buf[5];
	f->flags = (uint16_t)(buf[6] | buf[7] << 8);
	f->call_id = wire_get32(buf + 8);
	f->word = wire_get32(buf + 12);

	int r = check_header(f->body_len, buf[4], f->type, f->flags, f->call_id, max_body);
	if (r < 0)
		return r;
	if (len - WIRE_HEADER_SIZE < f->body_len)
		return 0;
	r = parse_body(f, buf + WIRE_HEADER_SIZE);
	if (r < 0)
		return r;
	return (ssize_t)(WIRE_HEADER_SIZE + f->body_len);
}

void wire_pack_header(uint8_t out[WIRE_HEADER_SIZE], uint32_t body_len, uint8_t type,
                      uint16_t flags, uint32_t call_id, uint32_t word)
{
	wire_put32(out, body_len);
	out[4] = WIRE_VERSION;
	out[5] = type;
	out[6] = (uint8_t)flags;
	out[7] = (uint8_t)(flags >> 8);
	wire_put32(out + 8, call_id);
	wire_put32(out + 12, word);
}

size_t wire_pack_control(uint8_t out[WIRE_HEADER_SIZE], uint8_t type, uint32_t call_id,
                         uint32_t word)
{
	wire_pack_header(out, 0, type, 0, call_id, word);
	return WIRE_HEADER_SIZE;
}

size_t wire_pack_request_prefix(uint8_t out[WIRE_REQUEST_PREFIX_MAX], uint32_t call_id,
                                uint16_t flags, uint32_t deadline_ms, const char *method,
                                size_t method_len, size_t payload_len)
{
	if (!wire_method_valid(method, method_len))
		return 0;
	if (payload_len > UINT32_MAX - 1u - method_len)
		return 0;
	uint32_t body_len = (uint32_t)(1u + method_len + payload_len);
	wire_pack_header(out, body_len, WIRE_REQUEST, flags, call_id, deadline_ms);
	out[WIRE_HEADER_SIZE] = (uint8_t)method_len;
	memcpy(out + WIRE_HEADER_SIZE + 1, method, method_len);
	return WIRE_HEADER_SIZE + 1u + method_len;
}

size_t wire_pack_reply_prefix(uint8_t out[WIRE_REPLY_PREFIX_MAX], uint32_t call_id,
                              uint32_t status, uint32_t fault, size_t data_len)
{
	size_t extra = status == ARPC_S_APP_FAULT ? 4u : 0u;
	if (data_len > UINT32_MAX - extra)
		return 0;
	wire_pack_header(out, (uint32_t)(data_len + extra), WIRE_REPLY, 0, call_id, status);
	if (extra)
		wire_put32(out + WIRE_HEADER_SIZE, fault);
	return WIRE_HEADER_SIZE + extra;
}

static uint32_t clamp_max_body(uint32_t max_body)
{
	return max_body > WIRE_MAX_BODY_LIMIT ? WIRE_MAX_BODY_LIMIT : max_body;
}

void wire_decoder_init(struct wire_decoder *d, uint32_t max_body)
{
	memset(d, 0, sizeof(*d));
	d->max_body = clamp_max_body(max_body);
}

void wire_decoder_free(struct wire_decoder *d)
{
	free(d->buf);
	d->buf = NULL;
	d->cap = d->start = d->end = 0;
}

void wire_decoder_set_max_body(struct wire_decoder *d, uint32_t max_body)
{
	/* Only the first change since the frames began counts: the limit
	 * they began with. */
	if (d->end > d->start && d->begun_max == 0) {
		d->begun_max = d->max_body;
		d->begun_end = d->end;
	}
	d->max_body = clamp_max_body(max_body);
}

/* The limit for the frame at d->start. */
static uint32_t frame_limit(const struct wire_decoder *d)
{
	if (d->begun_max && d->start < d->begun_end && d->begun_max > d->max_body)
		return d->begun_max;
	return d->max_body;
}

size_t wire_decoder_buffered(const struct wire_decoder *d)
{
	return d->end - d->start;
}

/* Grows the buffer to at least `want` bytes (within the frame limit). */
static int decoder_grow(struct wire_decoder *d, size_t want)
{
	size_t limit = WIRE_HEADER_SIZE + (size_t)frame_limit(d);
	size_t cap = d->cap ? d->cap : DECODER_INITIAL_CAP;
	while (cap < want)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	if (cap <= d->cap)
		return 0;
	uint8_t *nbuf = realloc(d->buf, cap);
	if (!nbuf)
		return WIRE_E_NOMEM;
	d->buf = nbuf;
	d->cap = cap;
	return 0;
}

uint8_t *wire_decoder_space(struct wire_decoder *d, size_t *room)
{
	*room = 0;
	if (d->error)
		return NULL;

	size_t buffered = d->end - d->start;
	if (buffered == 0) {
		d->start = d->end = 0;
		d->begun_max = 0;
		if (d->cap > DECODER_KEEP_CAP)
			wire_decoder_free(d);
	}

	if (d->cap - d->end < DECODER_MIN_ROOM && d->start > 0) {
		memmove(d->buf, d->buf + d->start, buffered);
		d->begun_end = d->begun_end > d->start ? d->begun_end - d->start : 0;
		d->start = 0;
		d->end = buffered;
	}

	/* Make room for the whole of a frame whose header is in, and in any case
	 * for a read of a useful size. */
	size_t want = buffered + DECODER_MIN_ROOM;
	if (buffered >= WIRE_HEADER_SIZE) {
		size_t frame = WIRE_HEADER_SIZE + (size_t)wire_get32(d->buf + d->start);
		if (frame > want)
			want = frame;
	}
	if (d->cap - d->start < want) {
		int r = decoder_grow(d, d->start + want);
		if (r < 0) {
			d->error = r;
			return NULL;
		}
	}
	if (d->cap == d->end)
		return NULL; /* full of whole frames: take them first */
	*room = d->cap - d->end;
	return d->buf + d->end;
}

void wire_decoder_commit(struct wire_decoder *d, size_t n)
{
	d->end += n;
}

ssize_t wire_decoder_feed(struct wire_decoder *d, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t taken = 0;
	while (taken < n) {
		size_t room;
		uint8_t *dst = wire_decoder_space(d, &room);
		if (!dst)
			break;
		size_t k = n - taken < room ? n - taken : room;
		memcpy(dst, p + taken, k);
		wire_decoder_commit(d, k);
		taken += k;
	}
	if (taken == 0 && d->error)
		return d->error;
	return (ssize_t)taken;
}

int wire_decoder_next(struct wire_decoder *d, struct wire_frame *f)
{
	if (d->error)
		return d->error;
	if (d->end == d->start)
		return 0; /* also covers the buffer not yet allocated */
	ssize_t r = wire_parse(d->buf + d->start, d->end - d->start, frame_limit(d), f);
	if (r < 0) {
		d->error = (int)r;
		return d->error;
	}
	if (r == 0)
		return 0;
	d->start += (size_t)r;
	if (d->start >= d->begun_end)
		d->begun_max = 0;
	return 1;
}
