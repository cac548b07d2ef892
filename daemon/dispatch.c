/*
 * dispatch.c: acts on what request.c decides of each frame: a reply, a
 * protocol error, or a call (access check, then inline handler or worker
 * job); docs/protocol.md says what each frame type asks for.
 */
#include <config.h> /* autoconf's */

#include <stdio.h>

#include "access.h"
#include "arpcd.h"
#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "methods.h"
#include "request.h"
#include "servercall.h"
#include "wire.h"

/* An answer for a request that never became a call (no method, denied). */
static void refuse(struct conn *c, const struct wire_frame *f, arpc_status status,
                   const char *detail, size_t len)
{
	if (!(f->flags & WIRE_FLAG_ONEWAY))
		conn_queue_reply(c, f->call_id, status, 0, detail, len);
}

/* A request that becomes a call of m: admin check, then inline or a worker. */
static void start_call(struct conn *c, const struct method *m, const struct wire_frame *f,
                       uint64_t now)
{
	struct server *srv = c->srv;
	char detail[320];
	int n;

	if ((m->flags & ARPC_HANDLER_ADMIN) && !access_is_admin(srv->cfg, c)) {
		log_notice("%s: call %u: '%s' is for admin_users only, refused", c->peer, f->call_id,
		           m->name);
		n = snprintf(detail, sizeof(detail), "'%s' is for admin users only", m->name);
		refuse(c, f, ARPC_S_ACCESS_DENIED, detail, (size_t)n);
		return;
	}
	struct arpc_call *call = servercall_new(c, m, f, now);
	if (!call || idmap_put(&c->calls, f->call_id, call) < 0) {
		static const char nomem[] = "out of memory";
		log_warnx("%s: call %u '%s': out of memory, refused", c->peer, f->call_id, m->name);
		if (call) {
			servercall_detach(call); /* off c's charge too */
			servercall_release(call); /* the table's, never inserted */
			servercall_answer(call, ARPC_S_NO_MEMORY, nomem);
		}
		refuse(c, f, ARPC_S_NO_MEMORY, nomem, sizeof(nomem) - 1);
		return;
	}
	/* The last accepted in arrival order, not the largest: ids wrap
	 * (docs/protocol.md, "Call ids"). */
	c->max_call_id = f->call_id;
	if (m->flags & ARPC_HANDLER_INLINE)
		servercall_run_inline(call);
	else
		servercall_submit(call);
}

void dispatch_frame(struct conn *c, const struct wire_frame *f, uint64_t now)
{
	struct request_decision d;
	char detail[320];
	int n;

	switch (request_decide(c->srv->methods, &c->calls, c->draining, f, &d)) {
	case REQ_CALL:
		start_call(c, d.method, f, now);
		break;
	case REQ_AFTER_GOAWAY:
		/* Not executed, and the client knows it will not be. */
		log_debug("%s: call %u after GOAWAY, ignoring", c->peer, f->call_id);
		break;
	case REQ_DUPLICATE_ID:
		conn_protocol_error(c, "call id %u is already outstanding", f->call_id);
		break;
	case REQ_UNKNOWN_METHOD:
		n = snprintf(detail, sizeof(detail), "no method '%.*s'", (int)f->method_len,
		             f->method);
		refuse(c, f, ARPC_S_UNKNOWN_METHOD, detail, (size_t)n);
		break;
	case REQ_CANCEL:
		servercall_cancel(d.call, ARPC_CANCEL_CLIENT);
		break;
	case REQ_CANCEL_UNKNOWN:
		break; /* answered already, or never sent */
	case REQ_PING:
		conn_queue_control(c, WIRE_PONG, f->call_id, 0);
		break;
	case REQ_NOT_FOR_SERVER:
		conn_protocol_error(c, "%s frame sent to the server", wire_type_name(f->type));
		break;
	}
}
