/*
 * payload.h: request payloads from the command line, and replies shown as
 * text or hex.  Used by arpc and arpc-bench.
 */
#ifndef ARPC_TOOLS_PAYLOAD_H
#define ARPC_TOOLS_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct payload {
	uint8_t *data; /* malloc'd, or NULL when empty */
	size_t len;
};

/* Each returns 0, or a negative errno with *why set to a phrase for the
 * user: -EINVAL for malformed input, -EIO when the file cannot be read,
 * -EFBIG over `max`, -ENOMEM. */
int payload_from_text(struct payload *p, const char *text, const char **why);
int payload_from_hex(struct payload *p, const char *hex, const char **why);
int payload_from_u32(struct payload *p, const char *number, const char **why);
/* "-" reads standard input. */
int payload_from_file(struct payload *p, const char *path, size_t max, const char **why);
void payload_free(struct payload *p);

void payload_u32(uint8_t out[4], uint32_t v);

/* Printable UTF-8-ish text: no control bytes but tab and newline. */
int payload_is_text(const void *data, size_t len);
/* Text as is (with a final newline), anything else as hex. */
void print_payload(FILE *to, const void *data, size_t len);
void print_hex(FILE *to, const void *data, size_t len);
/* A JSON string literal with the needed escapes. */
void json_string(FILE *to, const void *data, size_t len);

#endif
