/*
 * wire.h: arpc wire protocol v1, the frame codec (docs/protocol.md).
 *
 * No I/O and no policy: bytes in, frames out, and the reverse.  Shared by
 * libarpc and arpcd (built into both from the convenience library
 * libarpccommon.la), and the first target of the fuzzers.
 */
#ifndef ARPC_WIRE_H
#define ARPC_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WIRE_HEADER_SIZE 16u
#define WIRE_VERSION 1u
#define WIRE_METHOD_MAX 255u
/* Header, method length byte and the longest method: a REQUEST's prefix. */
#define WIRE_REQUEST_PREFIX_MAX (WIRE_HEADER_SIZE + 1u + WIRE_METHOD_MAX)
/* Header and application fault code: a REPLY's prefix. */
#define WIRE_REPLY_PREFIX_MAX (WIRE_HEADER_SIZE + 4u)
/* The default and the largest allowed frame body limit. */
#define WIRE_MAX_BODY_DEFAULT (1024u * 1024u)
#define WIRE_MAX_BODY_LIMIT (256u * 1024u * 1024u)

/* REQUEST flag: the client wants no reply. */
#define WIRE_FLAG_ONEWAY 0x1u

enum wire_type {
	WIRE_REQUEST = 1,
	WIRE_REPLY = 2,
	WIRE_CANCEL = 3,
	WIRE_PING = 4,
	WIRE_PONG = 5,
	WIRE_GOAWAY = 6
};

/* Decoding errors; each names the rule a frame broke. */
enum wire_error {
	WIRE_E_VERSION = -1,   /* version is not 1 */
	WIRE_E_TYPE = -2,      /* type is not 1..6 */
	WIRE_E_FLAGS = -3,     /* a reserved flag bit is set */
	WIRE_E_CALL_ID = -4,   /* REQUEST with call_id 0 */
	WIRE_E_METHOD = -5,    /* REQUEST method missing, too long for the body, or bad characters */
	WIRE_E_TOO_LARGE = -6, /* body_len over the receiver's limit */
	WIRE_E_BODY = -7,      /* body not allowed (CANCEL, PING, PONG, GOAWAY) or too short (fault code) */
	WIRE_E_NOMEM = -8      /* the decoder could not allocate its buffer */
};

/*
 * A decoded frame.  Pointers point into the buffer it was decoded from and
 * are valid as long as those bytes are.
 *
 * REQUEST: method/method_len is the method (not NUL-terminated), data the
 * payload.  REPLY: status is `word`; with status 0 data is the payload; with
 * ARPC_S_APP_FAULT fault is the code and data the detail; with any other
 * status data is the detail.  Other types: data is empty.
 */
struct wire_frame {
	uint32_t body_len;
	uint8_t type;
	uint16_t flags;
	uint32_t call_id;
	uint32_t word;
	const char *method;
	size_t method_len;
	uint32_t fault;
	const uint8_t *data;
	size_t data_len;
};

/* Returns 1 if m[0..n) is a valid method name: 1-255 of [A-Za-z0-9_.]. */
int wire_method_valid(const char *m, size_t n);

/* A short name for an error, as the protocol vectors spell it ("version",
 * "type", "flags", "call_id", "method", "too_large", "body", "nomem"). */
const char *wire_error_name(int err);
/* A sentence for an error, for logs. */
const char *wire_error_message(int err);
/* "REQUEST", ... or "unknown". */
const char *wire_type_name(unsigned type);

/* 1 if a server may send `status` in a REPLY (docs/protocol.md, "Status
 * codes"), else 0: a client takes any other as a protocol error. */
int wire_reply_status_valid(uint32_t status);
/* The same for GOAWAY's status word: 0, SERVER_TOO_BUSY, ACCESS_DENIED,
 * PROTOCOL_ERROR or NO_MEMORY. */
int wire_goaway_status_valid(uint32_t status);

/*
 * Decodes the frame at the start of buf[0..len), whose body may be at most
 * max_body bytes.  Returns the frame's size (> 0) and fills *f; 0 if more
 * bytes are needed (never more than WIRE_HEADER_SIZE + max_body in all);
 * or a negative enum wire_error.  Header errors are reported as soon as the
 * header is in, before the body arrives.
 */
ssize_t wire_parse(const uint8_t *buf, size_t len, uint32_t max_body, struct wire_frame *f);

/* Encoding.  All integers little-endian. */
void wire_pack_header(uint8_t out[WIRE_HEADER_SIZE], uint32_t body_len, uint8_t type,
                      uint16_t flags, uint32_t call_id, uint32_t word);

/* A CANCEL, PING, PONG or GOAWAY frame (no body).  Returns WIRE_HEADER_SIZE. */
size_t wire_pack_control(uint8_t out[WIRE_HEADER_SIZE], uint8_t type, uint32_t call_id,
                         uint32_t word);

/*
 * The part of a REQUEST before its payload: header, method length, method.
 * Returns its size, or 0 if the method is invalid or the body would exceed
 * UINT32_MAX.  The payload (payload_len bytes) goes right after it.
 */
size_t wire_pack_request_prefix(uint8_t out[WIRE_REQUEST_PREFIX_MAX], uint32_t call_id,
                                uint16_t flags, uint32_t deadline_ms, const char *method,
                                size_t method_len, size_t payload_len);

/*
 * The part of a REPLY before its data: the header, and for status
 * ARPC_S_APP_FAULT the fault code.  data_len is the payload or detail size
 * that follows.  Returns the prefix size, or 0 if the body would exceed
 * UINT32_MAX.
 */
size_t wire_pack_reply_prefix(uint8_t out[WIRE_REPLY_PREFIX_MAX], uint32_t call_id,
                              uint32_t status, uint32_t fault, size_t data_len);

/*
 * An incremental decoder that owns its buffer.  Bytes go in through
 * wire_decoder_space()/wire_decoder_commit() (read straight into it) or
 * wire_decoder_feed() (copy); whole frames come out of wire_decoder_next().
 * The buffer never grows beyond one whole frame of the largest allowed
 * size (WIRE_HEADER_SIZE + max_body).
 */
struct wire_decoder {
	uint8_t *buf;
	size_t cap;
	size_t start;      /* first byte not yet returned as a frame */
	size_t end;        /* one past the last byte received */
	uint32_t max_body;
	/* The limit before the last change, for the frames that had begun
	 * then: those starting before begun_end.  0 when there are none. */
	uint32_t begun_max;
	size_t begun_end;
	int error;         /* sticky: the first error seen, or 0 */
};

void wire_decoder_init(struct wire_decoder *d, uint32_t max_body);
/* Frees the buffer; the decoder may be initialized again. */
void wire_decoder_free(struct wire_decoder *d);
/* Changes the body limit (a config reload); applies to frames not yet
 * begun.  A frame of which some bytes are buffered keeps the limit it
 * began with, or the new one if that is higher. */
void wire_decoder_set_max_body(struct wire_decoder *d, uint32_t max_body);

/*
 * Room to receive into: returns a pointer and *room > 0, or NULL when the
 * buffer cannot grow (WIRE_E_NOMEM, then sticky) or after an error.  May
 * move buffered bytes: frames returned earlier become invalid.
 */
uint8_t *wire_decoder_space(struct wire_decoder *d, size_t *room);
/* Records that n bytes were written at the pointer wire_decoder_space gave. */
void wire_decoder_commit(struct wire_decoder *d, size_t n);
/* Copies in up to n bytes; returns how many it took (fewer when the buffer
 * is full of undecoded frames: take frames, then feed the rest), or a
 * negative enum wire_error. */
ssize_t wire_decoder_feed(struct wire_decoder *d, const void *data, size_t n);
/* Returns 1 and fills *f with the next whole frame, 0 if none is complete,
 * or a negative enum wire_error (sticky: the stream cannot be resynchronized). */
int wire_decoder_next(struct wire_decoder *d, struct wire_frame *f);
/* Bytes received and not yet returned as frames. */
size_t wire_decoder_buffered(const struct wire_decoder *d);

/* Little-endian helpers. */
static inline void wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif /* ARPC_WIRE_H */
