/*
 * servercall.c: the handler API of <arpc/server.h> and the path of a call
 * from dispatch to its reply (see servercall.h for stages and references).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "arpcd.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "methods.h"
#include "outq.h"
#include "request.h"
#include "servercall.h"
#include "wire.h"
#include "worker.h"

static struct server *srv_;
static atomic_uint max_frame_ = WIRE_MAX_BODY_DEFAULT;
/* Set on the loop thread: finishing there needs no hand-off. */
static __thread int on_loop;

void servercall_init(struct server *srv)
{
	srv_ = srv;
	on_loop = 1;
}

void servercall_set_max_frame(uint32_t max_frame)
{
	atomic_store(&max_frame_, max_frame);
}

/* The lock guards a few stores; contention is a cancel racing a finish. */
static void call_lock(struct arpc_call *c)
{
	while (atomic_flag_test_and_set_explicit(&c->lock, memory_order_acquire))
		sched_yield();
}

static void call_unlock(struct arpc_call *c)
{
	atomic_flag_clear_explicit(&c->lock, memory_order_release);
}

static const char *reason_name(arpc_cancel_reason why)
{
	switch (why) {
	case ARPC_CANCEL_CLIENT: return "client cancel";
	case ARPC_CANCEL_DEADLINE: return "deadline";
	case ARPC_CANCEL_DISCONNECT: return "disconnect";
	case ARPC_CANCEL_SHUTDOWN: return "shutdown";
	default: return "none";
	}
}

uint64_t servercall_cost(uint32_t body_len)
{
	/* request_stored_size() is the body's size: the method's length byte
	 * becomes its NUL. */
	return sizeof(struct arpc_call) + (uint64_t)body_len + ALLOC_OVERHEAD;
}

/* Moves the call's charge to `charge` bytes, on its connection (if it
 * still has one) and in the total. */
static void set_charge(struct arpc_call *c, uint64_t charge)
{
	mem_charge(srv_, c->conn, (int64_t)charge - (int64_t)c->charge);
	c->charge = charge;
}

struct arpc_call *servercall_new(struct conn *conn, const struct method *m,
                                 const struct wire_frame *f, uint64_t now)
{
	struct arpc_call *c = malloc(sizeof(*c) + request_stored_size(f));
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	atomic_flag_clear(&c->lock);
	atomic_init(&c->reason, ARPC_CANCEL_NONE);
	c->conn = conn;
	c->method = m;
	c->id = f->call_id;
	c->wire_flags = f->flags;
	c->stage = CALL_RUNNING;
	c->refs = 2; /* the handler's and the connection table's */
	c->deadline_ns = f->word ? now + (uint64_t)f->word * 1000000u : 0;
	c->has_cred = (uint8_t)conn->has_cred;
	c->pid = conn->pid;
	c->uid = conn->uid;
	c->gid = conn->gid;
	c->req = request_store(c->name, f);
	c->req_len = f->data_len;
	ev_init(&c->timer, NULL);
	c->timer.data = c;
	set_charge(c, servercall_cost(f->body_len));
	srv_->st.calls_total++;
	srv_->st.calls_inflight++;
	return c;
}

void servercall_hold(struct arpc_call *c)
{
	c->refs++;
}

void servercall_release(struct arpc_call *c)
{
	if (--c->refs > 0)
		return;
	ochunk_free(c->r_chunk);
	mem_charge(srv_, NULL, -(int64_t)c->charge); /* off its connection already */
	free(c);
	srv_->st.calls_inflight--;
	server_call_retired(srv_);
}

static void stop_timer(struct arpc_call *c)
{
	if (ev_is_active(&c->timer) || ev_is_pending(&c->timer))
		ev_timer_stop(srv_->loop, &c->timer);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void start_timer(struct arpc_call *c, uint64_t at_ns, uint64_t now, int is_delay)
{
	stop_timer(c);
	c->timer_is_delay = (uint8_t)is_delay;
	ev_timer_init(&c->timer, timer_cb, at_ns > now ? (double)(at_ns - now) / 1e9 : 0.0, 0.0);
	c->timer.data = c;
	ev_timer_start(srv_->loop, &c->timer);
}

static void start_deadline(struct arpc_call *c)
{
	if (c->deadline_ns && !ev_is_active(&c->timer))
		start_timer(c, c->deadline_ns, now_ns(), 0);
}

/* Queues the reply (or drops it) and lets go of the call: stage DONE. */
static void deliver(struct arpc_call *c)
{
	struct conn *conn = c->conn;
	stop_timer(c);
	c->stage = CALL_DONE;
	/* A reply that waited for its timer leaves the call's charge: the
	 * output queue counts it from now on, or it is dropped. */
	if (c->reply_charge) {
		set_charge(c, c->charge - c->reply_charge);
		c->reply_charge = 0;
	}
	if (conn) {
		if (!(c->wire_flags & WIRE_FLAG_ONEWAY)) {
			if (c->r_chunk) {
				conn_queue_reply_chunk(conn, c->id, c->r_status, c->r_fault, c->r_chunk);
				c->r_chunk = NULL;
			} else {
				conn_queue_reply(conn, c->id, c->r_status, c->r_fault, c->r_inline,
				                 c->r_len);
			}
		}
		mem_uncharge_conn(conn, c->charge);
		c->conn = NULL;
		conn_call_done(conn, c->id);
		c->refs--; /* the connection table's; the handler's is still held */
	} else if (!(c->wire_flags & WIRE_FLAG_ONEWAY)) {
		srv_->st.replies_dropped++;
	}
	servercall_release(c); /* the handler's */
}

/* Stores the reply; returns 0 or -ENOMEM (then the reply says so). */
static int store_reply(struct arpc_call *c, uint32_t status, uint32_t fault, const void *data,
                       size_t len)
{
	ochunk_free(c->r_chunk);
	c->r_chunk = NULL;
	c->r_status = status;
	c->r_fault = fault;
	c->r_len = 0;
	if (len <= CALL_INLINE_REPLY) {
		if (len)
			memcpy(c->r_inline, data, len);
		c->r_len = (uint32_t)len;
		return 0;
	}
	struct ochunk *ch = ochunk_new(WIRE_REPLY_PREFIX_MAX + len);
	if (!ch) {
		c->r_status = ARPC_S_NO_MEMORY;
		c->r_fault = 0;
		return -ENOMEM;
	}
	memcpy(ch->data + WIRE_REPLY_PREFIX_MAX, data, len);
	ch->off = WIRE_REPLY_PREFIX_MAX;
	ch->len = len;
	c->r_chunk = ch;
	c->r_len = (uint32_t)len;
	return 0;
}

/* What a cancel turns into when the handler no longer decides. */
static void store_reason_reply(struct arpc_call *c, arpc_cancel_reason why)
{
	static const char cancelled[] = "cancelled by the client";
	static const char timeout[] = "the deadline passed";
	static const char shutdown[] = "the server is shutting down";
	switch (why) {
	case ARPC_CANCEL_DEADLINE:
		store_reply(c, ARPC_S_TIMEOUT, 0, timeout, sizeof(timeout) - 1);
		break;
	case ARPC_CANCEL_SHUTDOWN:
		store_reply(c, ARPC_S_CALL_CANCELLED, 0, shutdown, sizeof(shutdown) - 1);
		break;
	default: /* client cancel; a disconnect's reply is dropped anyway */
		store_reply(c, ARPC_S_CALL_CANCELLED, 0, cancelled, sizeof(cancelled) - 1);
		break;
	}
}

/* Loop: a finished call's reply goes out now, or after its delay. */
static void finish_on_loop(struct arpc_call *c)
{
	if (c->r_after) {
		arpc_cancel_reason why = atomic_load(&c->reason);
		if (why != ARPC_CANCEL_NONE) {
			store_reason_reply(c, why);
		} else if (c->conn) {
			uint64_t now = now_ns();
			uint64_t at = (c->r_when_ns ? c->r_when_ns : now) +
			              (uint64_t)c->r_delay_ms * 1000000u;
			c->stage = CALL_TIMER;
			/* The reply waits here for its delay: charge it. */
			if (c->r_chunk && !c->reply_charge) {
				c->reply_charge = OCHUNK_MEM(c->r_chunk->cap);
				set_charge(c, c->charge + c->reply_charge);
			}
			if (c->deadline_ns && c->deadline_ns < at)
				start_timer(c, c->deadline_ns, now, 0);
			else
				start_timer(c, at, now, 1);
			return;
		}
	}
	deliver(c);
}

/* Claims the finish, exactly once.  Returns 0, or -EALREADY. */
static int claim_finish(struct arpc_call *c)
{
	call_lock(c);
	if (c->finished) {
		call_unlock(c);
		return -EALREADY;
	}
	c->finished = 1;
	int wait_cb = c->cb_running && !on_loop;
	c->cb_fn = NULL;
	call_unlock(c);
	/* A cancel callback running on the loop right now must be over before
	 * the finisher returns and (say) frees what the callback uses. */
	while (wait_cb) {
		sched_yield();
		call_lock(c);
		wait_cb = c->cb_running;
		call_unlock(c);
	}
	return 0;
}

/* Every way of finishing a call, from any thread. */
static int finish(struct arpc_call *c, uint32_t status, uint32_t fault, const void *data,
                  size_t len, int after, uint32_t delay_ms)
{
	static const char too_big[] = "the reply is larger than the server's max_frame";
	int ret = 0;
	size_t extra = status == ARPC_S_APP_FAULT ? 4u : 0u;

	if (len > atomic_load(&max_frame_) - extra) {
		status = ARPC_S_PROTOCOL_ERROR;
		fault = 0;
		data = too_big;
		len = sizeof(too_big) - 1;
		after = 0;
		ret = -EMSGSIZE;
	}
	int r = claim_finish(c);
	if (r < 0)
		return r;
	if (store_reply(c, status, fault, data, len) < 0) {
		ret = -ENOMEM;
		after = 0;
	}
	c->r_after = (uint8_t)after;
	c->r_delay_ms = delay_ms;
	c->r_when_ns = after && !on_loop ? now_ns() : 0;
	if (on_loop)
		finish_on_loop(c);
	else
		worker_post(srv_->pool, c, POST_FINISHED);
	return ret;
}

void servercall_answer(struct arpc_call *c, arpc_status status, const char *detail)
{
	finish(c, status, 0, detail, detail ? strlen(detail) : 0, 0, 0);
}

static void answer_for_reason(struct arpc_call *c, arpc_cancel_reason why)
{
	if (claim_finish(c) < 0)
		return;
	store_reason_reply(c, why);
	c->r_after = 0;
	if (on_loop)
		finish_on_loop(c);
	else
		worker_post(srv_->pool, c, POST_FINISHED);
}

static void run_cancel_cb(struct arpc_call *c, arpc_cancel_fn fn, void *data,
                          arpc_cancel_reason why)
{
	servercall_hold(c);
	srv_->st.cancel_callbacks++;
	fn(c, why, data);
	call_lock(c);
	c->cb_running = 0;
	call_unlock(c);
	servercall_release(c);
}

void servercall_cancel(struct arpc_call *c, arpc_cancel_reason why)
{
	if (c->stage == CALL_DONE)
		return;
	call_lock(c);
	if (atomic_load(&c->reason) != ARPC_CANCEL_NONE) {
		call_unlock(c);
		return;
	}
	atomic_store(&c->reason, (uint8_t)why);
	arpc_cancel_fn fn = c->cb_fn;
	void *data = c->cb_data;
	int fire = fn && !c->finished && !c->cb_fired;
	if (fire)
		c->cb_running = c->cb_fired = 1;
	call_unlock(c);

	srv_->st.calls_cancelled++;
	if (log_enabled(LOG_DEBUG))
		log_debug("%s: call %u '%s': cancelled (%s)",
		          c->conn ? c->conn->peer : "(gone)", c->id, c->name, reason_name(why));

	switch (c->stage) {
	case CALL_QUEUED:
		/* Still waiting for a worker: answered now, never run. */
		if (worker_unqueue(srv_->pool, c)) {
			stop_timer(c);
			answer_for_reason(c, why);
			return;
		}
		/* A worker has it: it runs, and sees the reason. */
		/* FALLTHROUGH */
	case CALL_RUNNING:
		if (why != ARPC_CANCEL_DEADLINE)
			stop_timer(c); /* the first reason wins; the deadline no longer matters */
		if (fire)
			run_cancel_cb(c, fn, data, why);
		break;
	case CALL_TIMER:
		store_reason_reply(c, why);
		deliver(c);
		break;
	}
}

void servercall_detach(struct arpc_call *c)
{
	/* The table's reference now holds the call until servercall_release. */
	if (c->conn)
		mem_uncharge_conn(c->conn, c->charge);
	c->conn = NULL;
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct arpc_call *c = w->data;
	if (c->stage == CALL_TIMER && c->timer_is_delay)
		deliver(c);
	else
		servercall_cancel(c, ARPC_CANCEL_DEADLINE);
}

void servercall_run_inline(struct arpc_call *c)
{
	servercall_hold(c);
	c->method->fn(c, c->method->data);
	if (c->stage == CALL_RUNNING)
		start_deadline(c);
	servercall_release(c);
}

void servercall_submit(struct arpc_call *c)
{
	c->stage = CALL_QUEUED;
	if (worker_submit(srv_->pool, c, srv_->cfg->max_queued_jobs) < 0) {
		srv_->st.busy_rejections++;
		servercall_answer(c, ARPC_S_SERVER_TOO_BUSY, "the job queue is full");
		return;
	}
	start_deadline(c);
}

void servercall_run_job(struct arpc_call *c)
{
	arpc_cancel_reason why = atomic_load(&c->reason);
	if (why != ARPC_CANCEL_NONE)
		answer_for_reason(c, why);
	else if (c->deadline_ns && now_ns() >= c->deadline_ns)
		answer_for_reason(c, ARPC_CANCEL_DEADLINE);
	else
		c->method->fn(c, c->method->data);
}

void servercall_posted(struct arpc_call *c, unsigned events)
{
	if (events & POST_CANCEL_CB) {
		call_lock(c);
		arpc_cancel_reason why = atomic_load(&c->reason);
		arpc_cancel_fn fn = c->cb_fn;
		void *data = c->cb_data;
		int fire = fn && why != ARPC_CANCEL_NONE && !c->finished && !c->cb_fired;
		if (fire)
			c->cb_running = c->cb_fired = 1;
		call_unlock(c);
		if (fire)
			run_cancel_cb(c, fn, data, why);
	}
	if (events & POST_FINISHED)
		finish_on_loop(c);
}

/* ------------------------------------------------------------------------
 * <arpc/server.h>
 * ------------------------------------------------------------------------ */

const void *arpc_call_request(const struct arpc_call *call, size_t *len)
{
	if (len)
		*len = call->req_len;
	return call->req;
}

const char *arpc_call_method(const struct arpc_call *call)
{
	return call->name;
}

uint64_t arpc_call_deadline(const struct arpc_call *call)
{
	return call->deadline_ns;
}

int arpc_call_peer(const struct arpc_call *call, pid_t *pid, uid_t *uid, gid_t *gid)
{
	if (!call->has_cred)
		return -ENOENT;
	if (pid)
		*pid = call->pid;
	if (uid)
		*uid = call->uid;
	if (gid)
		*gid = call->gid;
	return 0;
}

arpc_cancel_reason arpc_call_cancelled(const struct arpc_call *call)
{
	return (arpc_cancel_reason)atomic_load(&call->reason);
}

void arpc_call_on_cancel(struct arpc_call *c, arpc_cancel_fn fn, void *data)
{
	call_lock(c);
	if (c->finished || c->cb_fired) {
		call_unlock(c);
		return;
	}
	c->cb_fn = fn;
	c->cb_data = data;
	int late = fn && atomic_load(&c->reason) != ARPC_CANCEL_NONE;
	call_unlock(c);
	/* Already cancelled: run it from the loop, never from in here. */
	if (late)
		worker_post(srv_->pool, c, POST_CANCEL_CB);
}

int arpc_call_complete(struct arpc_call *call, const void *data, size_t len)
{
	if (!call || (len && !data))
		return -EINVAL;
	return finish(call, ARPC_S_OK, 0, data, len, 0, 0);
}

int arpc_call_fail(struct arpc_call *call, uint32_t code, const char *detail)
{
	if (!call)
		return -EINVAL;
	return finish(call, ARPC_S_APP_FAULT, code, detail, detail ? strlen(detail) : 0, 0, 0);
}

int arpc_call_abort(struct arpc_call *call, arpc_status status, const char *detail)
{
	/* A client fails the whole connection over a status only a client
	 * may produce (docs/protocol.md, "Status codes"). */
	if (!call || status == ARPC_S_OK || status == ARPC_S_APP_FAULT ||
	    !wire_reply_status_valid((uint32_t)status))
		return -EINVAL;
	return finish(call, status, 0, detail, detail ? strlen(detail) : 0, 0, 0);
}

int arpc_call_complete_after(struct arpc_call *call, uint32_t delay_ms, const void *data,
                             size_t len)
{
	if (!call || (len && !data))
		return -EINVAL;
	return finish(call, ARPC_S_OK, 0, data, len, 1, delay_ms);
}
