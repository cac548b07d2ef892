/*
 * fuzz-frame.c: the frame decoder, fed in chunks the input chooses.
 *
 * Input: byte 0 is the chunk size (0: all at once), byte 1 picks the body
 * limit (64 << (b & 15) bytes, as a receiver configured small or large
 * would), the rest is the byte stream.  Checked properties, beyond "no
 * crash, no sanitizer report": the buffer never outgrows one frame of the
 * limit, every frame re-encodes to exactly the bytes it came from, and the
 * chunked decode agrees with decoding the whole stream at once.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpc/arpc.h>

#include "fuzz.h"
#include "wire.h"

static void reencode_matches(const struct wire_frame *f, const uint8_t *orig, size_t len)
{
	uint8_t *out = malloc(len);
	if (!out)
		abort();
	size_t n;
	if (f->type == WIRE_REQUEST) {
		n = wire_pack_request_prefix(out, f->call_id, f->flags, f->word, f->method,
		                             f->method_len, f->data_len);
	} else if (f->type == WIRE_REPLY) {
		n = wire_pack_reply_prefix(out, f->call_id, f->word, f->fault, f->data_len);
	} else {
		n = wire_pack_control(out, f->type, f->call_id, f->word);
	}
	if (n == 0 || n + f->data_len != len)
		abort();
	memcpy(out + n, f->data, f->data_len);
	if (memcmp(out, orig, len) != 0)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t chunk = data[0] ? data[0] : size;
	uint32_t max_body = 64u << (data[1] & 15);
	const uint8_t *stream = data + 2;
	size_t len = size - 2;

	/* Reference: whole-buffer parsing, frame after frame. */
	size_t ref_off = 0;
	int ref_err = 0;
	size_t ref_frames = 0;
	for (;;) {
		struct wire_frame f;
		ssize_t r = wire_parse(stream + ref_off, len - ref_off, max_body, &f);
		if (r < 0) {
			ref_err = (int)r;
			break;
		}
		if (r == 0)
			break;
		reencode_matches(&f, stream + ref_off, (size_t)r);
		ref_off += (size_t)r;
		ref_frames++;
	}

	struct wire_decoder d;
	wire_decoder_init(&d, max_body);
	size_t off = 0, frames = 0, frame_off = 0;
	int err = 0;
	for (;;) {
		struct wire_frame f;
		int r;
		while ((r = wire_decoder_next(&d, &f)) == 1) {
			size_t flen = WIRE_HEADER_SIZE + f.body_len;
			if (frame_off + flen > len)
				abort();
			reencode_matches(&f, stream + frame_off, flen);
			frame_off += flen;
			frames++;
		}
		if (r < 0) {
			err = r;
			break;
		}
		if (off == len)
			break;
		size_t k = len - off < chunk ? len - off : chunk;
		ssize_t took = wire_decoder_feed(&d, stream + off, k);
		if (took < 0) {
			err = (int)took;
			break;
		}
		if (d.cap > WIRE_HEADER_SIZE + (size_t)max_body)
			abort();
		off += (size_t)took;
	}
	wire_decoder_free(&d);

	if (frames != ref_frames || err != ref_err)
		abort();
	return 0;
}
