/*
 * async.c: the handle API (RpcAsyncInitializeHandle, the async call,
 * RpcAsyncGetCallStatus, RpcAsyncCompleteCall, RpcAsyncCancelCall).
 *
 * A handle's state lives in its runtime[] slots and changes by atomic
 * operations only, so that polling never takes a lock and two threads can
 * never both win a transition (submit, consume).
 *
 * A canceller reaches the call record through the handle, which another
 * thread may consume (releasing the record) at the same moment.  So a
 * canceller looks at the handle and takes its own reference to the record
 * inside a short critical section of a lock picked by the handle's address,
 * and whoever drops the handle's reference passes through the same lock
 * first: a canceller that saw the handle pending has its reference by then,
 * and one that comes later sees the handle no longer pending.  No thread
 * ever follows a pointer to a released record, and a late cancel never
 * reaches a record reused by another call.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Enough stripes that unrelated handles rarely share one; each is held for
 * a few instructions only. */
#define HANDLE_LOCKS 64

static pthread_mutex_t handle_locks[HANDLE_LOCKS] = {
	[0 ... HANDLE_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER
};

static pthread_mutex_t *handle_lock(const arpc_async *a)
{
	uintptr_t h = (uintptr_t)a / sizeof(arpc_async);
	return &handle_locks[(h ^ (h >> 6)) % HANDLE_LOCKS];
}

static int handle_valid(const arpc_async *a)
{
	return a && a->size == sizeof(arpc_async) && a->signature == ASYNC_SIGNATURE;
}

static int handle_transition(arpc_async *a, uintptr_t from, uintptr_t to)
{
	void *expected = (void *)from;
	return __atomic_compare_exchange_n(&a->runtime[RT_STATE], &expected, (void *)to, 0,
	                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static struct call *handle_record(const arpc_async *a)
{
	return (struct call *)handle_load(a, RT_RECORD);
}

/* Drops the handle's reference to its record, once the handle has left the
 * pending state for good (consumed, or its submission failed). */
static void handle_drop_record(arpc_async *a, struct call *c)
{
	pthread_mutex_t *mu = handle_lock(a);
	/* Waits out any canceller that saw the handle pending. */
	pthread_mutex_lock(mu);
	pthread_mutex_unlock(mu);
	handle_store(a, RT_RECORD, 0);
	call_unref(c);
}

/* The pending handle's record with a reference of the caller's own, or NULL
 * (*state says what the handle was instead). */
static struct call *handle_take_pending(arpc_async *a, uintptr_t *state)
{
	pthread_mutex_t *mu = handle_lock(a);
	pthread_mutex_lock(mu);
	*state = handle_load(a, RT_STATE);
	struct call *c = *state == HANDLE_PENDING ? handle_record(a) : NULL;
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(mu);
	return c;
}

void handle_publish_complete(arpc_async *a, arpc_status st)
{
	/* The status first, then the state that makes it readable. */
	handle_store(a, RT_STATUS, (uintptr_t)st);
	handle_store(a, RT_STATE, HANDLE_COMPLETE);
}

arpc_status arpc_async_init(arpc_async *a, size_t size)
{
	if (!a || size != sizeof(arpc_async))
		return ARPC_S_INVALID_ARG;
	if (handle_valid(a)) {
		uintptr_t state = handle_load(a, RT_STATE);
		if (state == HANDLE_PENDING)
			return ARPC_S_ASYNC_HANDLE_BUSY;
		/* A completed call that was never consumed: release it now. */
		struct call *c = handle_record(a);
		if (state == HANDLE_COMPLETE && c && c->async == a &&
		    handle_transition(a, HANDLE_COMPLETE, HANDLE_CONSUMED))
			handle_drop_record(a, c);
	}
	/* What the application sets per call starts from a known state, so
	 * stack garbage can never become a deadline or a notification kind.
	 * user_info and u stay: the application may set them first. */
	a->size = sizeof(arpc_async);
	a->signature = ASYNC_SIGNATURE;
	a->notify = ARPC_NOTIFY_NONE;
	a->timeout_ms = 0;
	a->flags = 0;
	memset(a->runtime, 0, sizeof(a->runtime));
	handle_store(a, RT_STATE, HANDLE_INIT);
	return ARPC_S_OK;
}

static struct call *call_new(arpc_binding *b, arpc_async *a, void *out, size_t out_cap)
{
	struct call *c = call_alloc();
	if (!c)
		return NULL;
	c->async = a;
	c->out = out;
	c->out_cap = out_cap;
	c->heap_idx = SIZE_MAX;
	list_node_init(&c->link);
	atomic_init(&c->refs, 1); /* the handle's, dropped when it is consumed */
	if (a->flags & ARPC_CALL_ONEWAY)
		c->flags |= CALL_ONEWAY;
	if (a->flags & ARPC_CALL_MORE)
		c->flags |= CALL_MORE;
	c->b = b;
	binding_ref(b);
	return c;
}

static arpc_status check_call_args(arpc_binding *b, const arpc_async *a, const char *method,
                                   const void *req, size_t req_len, const void *out,
                                   size_t out_cap)
{
	if (!b || !method || (!req && req_len) || (!out && out_cap))
		return ARPC_S_INVALID_ARG;
	if (binding_inherited(b))
		return ARPC_S_WRONG_PROCESS;
	if (!wire_method_valid(method, strnlen(method, WIRE_METHOD_MAX + 1)))
		return ARPC_S_INVALID_ARG;
	if (a->flags & ~(ARPC_CALL_ONEWAY | ARPC_CALL_MORE))
		return ARPC_S_INVALID_ARG;
	return ARPC_S_OK;
}

arpc_status arpc_call_async(arpc_binding *b, arpc_async *a, const char *method, const void *req,
                            size_t req_len, void *out, size_t out_cap)
{
	if (!handle_valid(a))
		return ARPC_S_INVALID_ASYNC_HANDLE;
	uintptr_t state = handle_load(a, RT_STATE);
	if (state == HANDLE_PENDING)
		return ARPC_S_ASYNC_HANDLE_BUSY;
	if (state != HANDLE_INIT)
		return ARPC_S_INVALID_ASYNC_HANDLE;
	arpc_status st = check_call_args(b, a, method, req, req_len, out, out_cap);
	if (st != ARPC_S_OK)
		return st;
	/* Claim the handle: of two threads racing to use it, one wins. */
	if (!handle_transition(a, HANDLE_INIT, HANDLE_PENDING))
		return ARPC_S_ASYNC_HANDLE_BUSY;

	struct call *c = call_new(b, a, out, out_cap);
	st = c ? notify_prepare(&c->notify, a) : ARPC_S_NO_MEMORY;
	if (st != ARPC_S_OK) {
		if (c)
			call_unref(c);
		handle_store(a, RT_STATE, HANDLE_INIT);
		return st;
	}
	/* From here a canceller can find the record. */
	handle_store(a, RT_RECORD, (uintptr_t)c);
	pthread_mutex_lock(&b->mu);
	uint32_t timeout = a->timeout_ms ? a->timeout_ms : b->timeout_ms;
	c->deadline = (c->flags & CALL_ONEWAY) ? 0 : deadline_after_ms(timeout);
	st = binding_submit_locked(b, c, method, strlen(method), req, req_len);
	pthread_mutex_unlock(&b->mu);
	if (st == ARPC_S_OK)
		return ARPC_S_OK;
	/* Not started: no notification, and the handle is as it was. */
	notify_release(&c->notify);
	handle_store(a, RT_STATE, HANDLE_INIT);
	handle_drop_record(a, c);
	return st;
}

arpc_status arpc_async_get_status(const arpc_async *a)
{
	if (!handle_valid(a))
		return ARPC_S_INVALID_ASYNC_HANDLE;
	switch (handle_load(a, RT_STATE)) {
	case HANDLE_PENDING:
		return ARPC_S_ASYNC_CALL_PENDING;
	case HANDLE_COMPLETE:
		return (arpc_status)handle_load(a, RT_STATUS);
	default:
		return ARPC_S_INVALID_ASYNC_HANDLE;
	}
}

/* Moves the result out of the record into *reply; the reply owns it now. */
static void take_reply(struct call *c, arpc_reply *reply)
{
	reply->len = c->len;
	reply->fault = c->fault;
	reply->detail = c->detail;
	c->detail = NULL;
	if (c->status == ARPC_S_OK) {
		reply->data = c->data;
		if (c->data != c->out)
			reply->alloc_ = c->data;
		c->data = NULL;
	}
}

arpc_status arpc_async_complete(arpc_async *a, arpc_reply *reply)
{
	if (reply)
		memset(reply, 0, sizeof(*reply));
	if (!handle_valid(a))
		return ARPC_S_INVALID_ASYNC_HANDLE;
	uintptr_t state = handle_load(a, RT_STATE);
	if (state == HANDLE_PENDING)
		return ARPC_S_ASYNC_CALL_PENDING;
	if (state != HANDLE_COMPLETE || !handle_transition(a, HANDLE_COMPLETE, HANDLE_CONSUMED))
		return ARPC_S_INVALID_ASYNC_HANDLE;
	struct call *c = handle_record(a);
	arpc_status st = c->status;
	if (reply)
		take_reply(c, reply);
	handle_drop_record(a, c);
	return st;
}

arpc_status arpc_async_cancel(arpc_async *a, int abortive)
{
	if (!handle_valid(a))
		return ARPC_S_INVALID_ASYNC_HANDLE;
	uintptr_t state;
	struct call *c = handle_take_pending(a, &state);
	if (state == HANDLE_COMPLETE)
		return ARPC_S_OK; /* already complete: harmless */
	if (state != HANDLE_PENDING)
		return ARPC_S_INVALID_ASYNC_HANDLE;
	if (!c)
		return ARPC_S_OK; /* still being submitted by another thread */
	/* The record holds a binding reference, so b is alive here. */
	struct arpc_binding *b = c->b;
	if (binding_inherited(b)) {
		/* A call the parent started before it forked: the parent's. */
		call_unref(c);
		return ARPC_S_WRONG_PROCESS;
	}
	pthread_mutex_lock(&b->mu);
	if (!(c->flags & CALL_COMPLETED) && c->conn)
		conn_cancel_locked(c->conn, c, abortive);
	pthread_mutex_unlock(&b->mu);
	call_unref(c);
	return ARPC_S_OK;
}

void arpc_reply_free(arpc_reply *reply)
{
	if (!reply)
		return;
	free(reply->alloc_);
	free(reply->detail);
	memset(reply, 0, sizeof(*reply));
}
