/*
 * dispatch.c: frame -> method lookup -> access check -> inline handler or
 * worker job (docs/protocol.md says what each frame type asks for).
 */
#include <config.h> /* autoconf's */

#include <stdio.h>

#include "access.h"
#include "arpcd.h"
#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "methods.h"
#include "servercall.h"
#include "wire.h"

/* An answer for a request that never became a call (no method, denied). */
static void refuse(struct conn *c, const struct wire_frame *f, arpc_status status,
                   const char *detail, size_t len)
{
	if (!(f->flags & WIRE_FLAG_ONEWAY))
		conn_queue_reply(c, f->call_id, status, 0, detail, len);
}

static void dispatch_request(struct conn *c, const struct wire_frame *f, uint64_t now)
{
	struct server *srv = c->srv;
	char detail[320];
	int n;

	if (c->draining) {
		/* Past our GOAWAY: not executed, and the client knows it will not be. */
		log_debug("%s: call %u after GOAWAY, ignoring", c->peer, f->call_id);
		return;
	}
	if (idmap_get(&c->calls, f->call_id)) {
		conn_protocol_error(c, "call id %u is already outstanding", f->call_id);
		return;
	}
	const struct method *m = methods_find(srv->methods, f->method, f->method_len);
	if (!m) {
		n = snprintf(detail, sizeof(detail), "no method '%.*s'", (int)f->method_len,
		             f->method);
		refuse(c, f, ARPC_S_UNKNOWN_METHOD, detail, (size_t)n);
		return;
	}
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
			call->conn = NULL;
			servercall_release(call); /* the table's, never inserted */
			servercall_answer(call, ARPC_S_NO_MEMORY, nomem);
		}
		refuse(c, f, ARPC_S_NO_MEMORY, nomem, sizeof(nomem) - 1);
		return;
	}
	if (f->call_id > c->max_call_id)
		c->max_call_id = f->call_id;
	if (m->flags & ARPC_HANDLER_INLINE)
		servercall_run_inline(call);
	else
		servercall_submit(call);
}

void dispatch_frame(struct conn *c, const struct wire_frame *f, uint64_t now)
{
	struct arpc_call *call;

	switch (f->type) {
	case WIRE_REQUEST:
		dispatch_request(c, f, now);
		break;
	case WIRE_CANCEL:
		/* An id we do not know was answered already, or never sent: ignored. */
		if ((call = idmap_get(&c->calls, f->call_id)))
			servercall_cancel(call, ARPC_CANCEL_CLIENT);
		break;
	case WIRE_PING:
		conn_queue_control(c, WIRE_PONG, f->call_id, 0);
		break;
	default: /* REPLY, PONG, GOAWAY: a server never asks for these */
		conn_protocol_error(c, "%s frame sent to the server", wire_type_name(f->type));
		break;
	}
}
