/*
 * request.h: what arpcd makes of one frame from a client, decided with no
 * socket, loop or worker in sight: the pure step of dispatch (dispatch.c
 * acts on the verdict), kept apart so that the fuzzer
 * (fuzz/fuzz-request.c) runs the daemon's own decisions on hostile input.
 */
#ifndef ARPCD_REQUEST_H
#define ARPCD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

struct idmap;
struct method;
struct methods;
struct wire_frame;

enum request_verdict {
	REQ_CALL = 1,        /* a new call of d->method (the caller checks admin access) */
	REQ_AFTER_GOAWAY,    /* a REQUEST past our GOAWAY: not executed, no reply */
	REQ_DUPLICATE_ID,    /* a REQUEST whose id is outstanding: protocol error */
	REQ_UNKNOWN_METHOD,  /* a REQUEST for no registered method: ARPC_S_UNKNOWN_METHOD */
	REQ_CANCEL,          /* a CANCEL of the outstanding call d->call */
	REQ_CANCEL_UNKNOWN,  /* a CANCEL of an id already answered or never sent: ignored */
	REQ_PING,            /* answered by a PONG */
	REQ_NOT_FOR_SERVER   /* REPLY, PONG, GOAWAY: a server never asks for these */
};

struct request_decision {
	const struct method *method; /* REQ_CALL */
	void *call;                  /* REQ_CANCEL, REQ_DUPLICATE_ID: the outstanding call */
};

/*
 * Decides what frame f (decoded by the wire codec) asks of a connection
 * whose outstanding calls are `calls`, looking methods up in `t`.
 * draining: the connection has sent its GOAWAY.
 */
enum request_verdict request_decide(const struct methods *t, const struct idmap *calls,
                                    int draining, const struct wire_frame *f,
                                    struct request_decision *d);

/* The bytes a call keeps of a REQUEST: the method name, a NUL, the payload. */
size_t request_stored_size(const struct wire_frame *f);

/* Copies them to dst (request_stored_size bytes); returns where the payload
 * starts in dst. */
const uint8_t *request_store(char *dst, const struct wire_frame *f);

#endif
