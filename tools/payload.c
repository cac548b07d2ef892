/*
 * payload.c: command-line payloads in, replies out (see payload.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

void payload_free(struct payload *p)
{
	free(p->data);
	p->data = NULL;
	p->len = 0;
}

static int payload_set(struct payload *p, const void *data, size_t len)
{
	payload_free(p);
	if (len == 0)
		return 0;
	p->data = malloc(len);
	if (!p->data)
		return -ENOMEM;
	memcpy(p->data, data, len);
	p->len = len;
	return 0;
}

int payload_from_text(struct payload *p, const char *text, const char **why)
{
	int r = payload_set(p, text, strlen(text));
	if (r < 0)
		*why = "out of memory";
	return r;
}

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int payload_from_hex(struct payload *p, const char *hex, const char **why)
{
	size_t n = strlen(hex);
	uint8_t *buf = malloc(n / 2 + 1);
	if (!buf) {
		*why = "out of memory";
		return -ENOMEM;
	}
	size_t len = 0;
	int hi = -1;
	for (size_t i = 0; i < n; i++) {
		if (hex[i] == ' ' || hex[i] == ':')
			continue; /* "de ad be ef" and "de:ad" read as well */
		int v = hexdigit(hex[i]);
		if (v < 0) {
			free(buf);
			*why = "--hex takes hex digits (spaces and colons between bytes are fine)";
			return -EINVAL;
		}
		if (hi < 0) {
			hi = v;
		} else {
			buf[len++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(buf);
		*why = "--hex needs an even number of digits";
		return -EINVAL;
	}
	payload_free(p);
	p->data = buf;
	p->len = len;
	if (len == 0)
		payload_free(p);
	return 0;
}

void payload_u32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)v;
	out[1] = (uint8_t)(v >> 8);
	out[2] = (uint8_t)(v >> 16);
	out[3] = (uint8_t)(v >> 24);
}

int payload_from_u32(struct payload *p, const char *number, const char **why)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(number, &end, 0);
	if (errno || end == number || *end || number[0] == '-' || v > UINT32_MAX) {
		*why = "--u32 takes a number from 0 to 4294967295";
		return -EINVAL;
	}
	uint8_t le[4];
	payload_u32(le, (uint32_t)v);
	int r = payload_set(p, le, sizeof(le));
	if (r < 0)
		*why = "out of memory";
	return r;
}

int payload_from_file(struct payload *p, const char *path, size_t max, const char **why)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!fp) {
		*why = strerror(errno);
		return -EIO;
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int r = 0;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nbuf = realloc(buf, ncap);
			if (!nbuf) {
				*why = "out of memory";
				r = -ENOMEM;
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (len > max) {
			*why = "the payload is larger than the daemon's default frame limit (1 MiB)";
			r = -EFBIG;
			break;
		}
		if (n == 0) {
			if (ferror(fp)) {
				*why = strerror(errno);
				r = -EIO;
			}
			break;
		}
	}
	if (fp != stdin)
		fclose(fp);
	if (r < 0) {
		free(buf);
		return r;
	}
	payload_free(p);
	if (len) {
		p->data = buf;
		p->len = len;
	} else {
		free(buf);
	}
	return 0;
}

int payload_is_text(const void *data, size_t len)
{
	const unsigned char *s = data;
	for (size_t i = 0; i < len; i++)
		if ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f)
			return 0;
	return 1;
}

void print_hex(FILE *to, const void *data, size_t len)
{
	const unsigned char *s = data;
	for (size_t i = 0; i < len; i++)
		fprintf(to, "%02x", s[i]);
}

void print_payload(FILE *to, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (payload_is_text(data, len)) {
		fwrite(data, 1, len, to);
		if (((const char *)data)[len - 1] != '\n')
			fputc('\n', to);
	} else {
		print_hex(to, data, len);
		fputc('\n', to);
	}
}

void json_string(FILE *to, const void *data, size_t len)
{
	const unsigned char *s = data;
	fputc('"', to);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\')
			fprintf(to, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", to);
		else if (c == '\t')
			fputs("\\t", to);
		else if (c < 0x20 || c == 0x7f)
			fprintf(to, "\\u%04x", c);
		else
			fputc(c, to);
	}
	fputc('"', to);
}
