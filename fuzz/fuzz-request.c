/*
 * fuzz-request.c: the daemon's request path on one connection, without a
 * socket: bytes through the wire decoder (in chunks, as reads deliver them)
 * under the daemon's max_frame, then each frame through request_decide()
 * (outstanding-id table, method-table lookup) and, for a new call,
 * request_store() (the body slicing servercall_new does).  The method table
 * is the daemon's own (methods.c) holding the built-in names and enough
 * others to make it grow and collide.
 *
 * Input: byte 0 is the chunk size (0: all at once); byte 1 picks max_frame
 * (512 << (b & 7): the daemon's smallest limit and up); byte 2 drives the
 * connection: every (b & 7)th frame (0: never) the oldest outstanding call
 * is answered and leaves the table, and with bit 7 set the connection
 * sends its GOAWAY after frame (b >> 3 & 15).  The rest is the byte stream.
 *
 * Checked, beyond "no crash, no sanitizer report, no leak": each verdict
 * agrees with a model kept beside it (a plain list of outstanding ids, a
 * linear search of the registered names); a call's stored method and
 * payload are exactly the frame's; and the processing stops where the
 * daemon would close the connection.
 */
#include <config.h> /* autoconf's */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpc/server.h>

#include "arpcd.h"
#include "fuzz.h"
#include "idmap.h"
#include "methods.h"
#include "request.h"
#include "wire.h"

#define SYNTHETIC_METHODS 100

static const struct {
	const char *name;
	uint32_t flags;
} builtins[] = {
	{"demo.async_delay", ARPC_HANDLER_INLINE},
	{"demo.message", 0},
	{"demo.sleep", 0},
	{"demo.echo", ARPC_HANDLER_INLINE},
	{"sys.ping", ARPC_HANDLER_INLINE},
	{"sys.stats", ARPC_HANDLER_INLINE},
	{"sys.methods", ARPC_HANDLER_INLINE},
	{"sys.shutdown", ARPC_HANDLER_INLINE | ARPC_HANDLER_ADMIN},
	/* the edges of the name rules */
	{"a", 0},
	{"_", 0},
	{".", 0},
};

static char *names[sizeof(builtins) / sizeof(builtins[0]) + SYNTHETIC_METHODS + 1];
static size_t nnames;
static struct server srv;
static struct arpc_server registrant = {.name = "fuzz"};

static void never_called(struct arpc_call *call, void *data)
{
	abort();
}

static void add_name(const char *name, uint32_t flags)
{
	if (arpc_server_register(&registrant, name, never_called, NULL, flags) != 0)
		abort();
	if (!(names[nnames++] = strdup(name)))
		abort();
}

static void build_table(void)
{
	char name[WIRE_METHOD_MAX + 1];
	if (!(srv.methods = methods_new()))
		abort();
	registrant.daemon = &srv;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		add_name(builtins[i].name, builtins[i].flags);
	for (int i = 0; i < SYNTHETIC_METHODS; i++) {
		snprintf(name, sizeof(name), "m.%d", i);
		add_name(name, 0);
	}
	memset(name, 'x', WIRE_METHOD_MAX);
	name[WIRE_METHOD_MAX] = '\0';
	add_name(name, 0);
	methods_seal(srv.methods);
}

static int registered(const char *m, size_t len)
{
	for (size_t i = 0; i < nnames; i++)
		if (strlen(names[i]) == len && memcmp(names[i], m, len) == 0)
			return 1;
	return 0;
}

/* The model of the connection's outstanding calls: ids in arrival order. */
struct model {
	uint32_t *ids;
	size_t n, cap;
};

static ssize_t model_find(const struct model *md, uint32_t id)
{
	for (size_t i = 0; i < md->n; i++)
		if (md->ids[i] == id)
			return (ssize_t)i;
	return -1;
}

static void model_add(struct model *md, uint32_t id)
{
	if (md->n == md->cap) {
		md->cap = md->cap ? md->cap * 2 : 16;
		if (!(md->ids = realloc(md->ids, md->cap * sizeof(*md->ids))))
			abort();
	}
	md->ids[md->n++] = id;
}

static void model_remove_at(struct model *md, size_t i)
{
	memmove(md->ids + i, md->ids + i + 1, (md->n - i - 1) * sizeof(*md->ids));
	md->n--;
}

/* A call leaves the table (answered, or cancelled and answered). */
static void finish(struct idmap *calls, struct model *md, size_t i)
{
	void *call = idmap_remove(calls, md->ids[i]);
	if (!call)
		abort();
	free(call);
	model_remove_at(md, i);
}

/* The call servercall_new would make: the stored bytes must be the frame's. */
static void *new_call(const struct wire_frame *f)
{
	size_t size = request_stored_size(f);
	if (size != f->body_len)
		abort(); /* length byte, method, payload: the body, no more, no less */
	char *buf = malloc(size);
	if (!buf)
		abort();
	const uint8_t *payload = request_store(buf, f);
	if (strlen(buf) != f->method_len || memcmp(buf, f->method, f->method_len) != 0)
		abort();
	if (payload != (const uint8_t *)buf + f->method_len + 1)
		abort();
	if (f->data_len && memcmp(payload, f->data, f->data_len) != 0)
		abort();
	return buf;
}

/* Returns 0 to go on, -1 where the daemon closes the connection. */
static int one_frame(const struct wire_frame *f, struct idmap *calls, struct model *md,
                     int draining)
{
	struct request_decision d;
	enum request_verdict v = request_decide(srv.methods, calls, draining, f, &d);
	ssize_t at = model_find(md, f->call_id);

	switch (v) {
	case REQ_CALL:
		if (f->type != WIRE_REQUEST || draining || at >= 0 || !d.method)
			abort();
		if (strlen(d.method->name) != f->method_len ||
		    memcmp(d.method->name, f->method, f->method_len) != 0)
			abort();
		if (idmap_put(calls, f->call_id, new_call(f)) != 0)
			abort();
		model_add(md, f->call_id);
		return 0;
	case REQ_AFTER_GOAWAY:
		if (f->type != WIRE_REQUEST || !draining)
			abort();
		return 0;
	case REQ_DUPLICATE_ID:
		if (f->type != WIRE_REQUEST || draining || at < 0 || !d.call)
			abort();
		return -1;
	case REQ_UNKNOWN_METHOD:
		if (f->type != WIRE_REQUEST || draining || at >= 0 ||
		    registered(f->method, f->method_len))
			abort();
		return 0;
	case REQ_CANCEL:
		if (f->type != WIRE_CANCEL || at < 0 || d.call != idmap_get(calls, f->call_id))
			abort();
		finish(calls, md, (size_t)at);
		return 0;
	case REQ_CANCEL_UNKNOWN:
		if (f->type != WIRE_CANCEL || at >= 0)
			abort();
		return 0;
	case REQ_PING:
		if (f->type != WIRE_PING)
			abort();
		return 0;
	case REQ_NOT_FOR_SERVER:
		if (f->type != WIRE_REPLY && f->type != WIRE_PONG && f->type != WIRE_GOAWAY)
			abort();
		return -1;
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv.methods)
		build_table();
	if (size < 3)
		return 0;
	size_t chunk = data[0] ? data[0] : size;
	uint32_t max_frame = 512u << (data[1] & 7);
	unsigned answer_every = data[2] & 7;
	long goaway_after = (data[2] & 0x80) ? (data[2] >> 3 & 15) : -1;
	const uint8_t *stream = data + 3;
	size_t len = size - 3, off = 0, frames = 0;

	struct wire_decoder dec;
	struct idmap calls = {0};
	struct model md = {0};
	wire_decoder_init(&dec, max_frame);
	for (int open = 1; open;) {
		struct wire_frame f;
		int r = 0;
		while (open && (r = wire_decoder_next(&dec, &f)) == 1) {
			if (one_frame(&f, &calls, &md, goaway_after >= 0 && (long)frames >= goaway_after) < 0)
				open = 0;
			frames++;
			if (answer_every && frames % answer_every == 0 && md.n > 0)
				finish(&calls, &md, 0);
			if (calls.count != md.n)
				abort();
		}
		if (!open || r < 0 || off == len)
			break;
		size_t k = len - off < chunk ? len - off : chunk;
		ssize_t took = wire_decoder_feed(&dec, stream + off, k);
		if (took < 0)
			break;
		if (dec.cap > WIRE_HEADER_SIZE + (size_t)max_frame)
			abort(); /* one frame of the limit is all a client can make us hold */
		off += (size_t)took;
	}
	/* The connection closes: every call it had leaves the table. */
	while (md.n > 0)
		finish(&calls, &md, md.n - 1);
	if (calls.count != 0)
		abort();
	idmap_free(&calls);
	free(md.ids);
	wire_decoder_free(&dec);
	return 0;
}
