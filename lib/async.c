/*
 * async.c: the handle API (RpcAsyncInitializeHandle, the async call,
 * RpcAsyncGetCallStatus, RpcAsyncCompleteCall, RpcAsyncCancelCall).
 *
 * A handle's state lives in its runtime[] slots and changes by atomic
 * operations only, so that polling never takes a lock and two threads can
 * never both win a transition (submit, consume).  Cancellers pin the
 * handle's record while they take a reference to it (internal.h, enum
 * handle_state), so no thread ever follows a pointer to a released record.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int handle_valid(const arpc_async *a)
{
	return a && a->size == sizeof(arpc_async) && a->signature == ASYNC_SIGNATURE;
}

static uintptr_t word_state(uintptr_t w)
{
	return w & HANDLE_STATE_MASK;
}

static uintptr_t word_pins(uintptr_t w)
{
	return w / HANDLE_PIN;
}

/* Memory reused for a new handle may hold an old handle's size and
 * signature above a state word that something else overwrote since: only a
 * word that a handle can hold (a known state, and no more pins than threads
 * could hold) is taken as one. */
static int word_plausible(uintptr_t w)
{
	return word_state(w) >= HANDLE_INIT && word_state(w) <= HANDLE_CONSUMING &&
	       word_pins(w) < 65536;
}

static int word_cas(arpc_async *a, uintptr_t *expected, uintptr_t desired)
{
	return __atomic_compare_exchange_n((uintptr_t *)&a->runtime[RT_STATE], expected, desired, 0,
	                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Moves the handle from state `from` to `to`, keeping its pins.  Returns
 * the number of pins it held, or -1 if it was not in state `from`: of two
 * threads racing for the same transition, one wins. */
static long handle_move(arpc_async *a, uintptr_t from, uintptr_t to)
{
	uintptr_t w = handle_load(a, RT_STATE);
	do {
		if (word_state(w) != from)
			return -1;
	} while (!word_cas(a, &w, (w & ~HANDLE_STATE_MASK) | to));
	return (long)word_pins(w);
}

static struct call *handle_record(const arpc_async *a)
{
	return (struct call *)handle_load(a, RT_RECORD);
}

/* Ends the handle's hold on its call record.  Runs once per record: in the
 * thread that ended the handle's use of it when no pin was held, else in
 * the last canceller to unpin. */
static void handle_drop_record(arpc_async *a, struct call *c)
{
	handle_store(a, RT_RECORD, 0);
	if (c)
		call_unref(c);
}

/* Takes a pin on a pending handle; fails (returning the state found) for
 * any other state. */
static uintptr_t handle_pin(arpc_async *a)
{
	uintptr_t w = handle_load(a, RT_STATE);
	do {
		if (word_state(w) != HANDLE_PENDING)
			return word_state(w);
	} while (!word_cas(a, &w, w + HANDLE_PIN));
	return HANDLE_PENDING;
}

/* Gives a pin back.  The handle cannot be re-initialized or reused while
 * pins are held, so the record read here is still the pinned one; if the
 * handle was meanwhile consumed (or its submission failed) and this is the
 * last pin, the record is this thread's to release. */
static void handle_unpin(arpc_async *a)
{
	uintptr_t w = handle_load(a, RT_STATE);
	for (;;) {
		struct call *c = handle_record(a);
		uintptr_t state = word_state(w);
		int last = word_pins(w) == 1 && (state == HANDLE_CONSUMED || state == HANDLE_INIT);
		if (word_cas(a, &w, w - HANDLE_PIN)) {
			if (last)
				handle_drop_record(a, c);
			return;
		}
	}
}

void handle_publish_complete(arpc_async *a, arpc_status st)
{
	/* The status first, then the state that makes it readable. */
	handle_store(a, RT_STATUS, (uintptr_t)st);
	long pins = handle_move(a, HANDLE_PENDING, HANDLE_COMPLETE);
	assert(pins >= 0);
	(void)pins;
}

arpc_status arpc_async_init(arpc_async *a, size_t size)
{
	if (!a || size != sizeof(arpc_async))
		return ARPC_S_INVALID_ARG;
	if (handle_valid(a) && word_plausible(handle_load(a, RT_STATE))) {
		uintptr_t w = handle_load(a, RT_STATE);
		/* A pending call, or a canceller still inside: re-initializing
		 * would lose the call or pull the record from under it. */
		if (word_state(w) == HANDLE_PENDING || word_state(w) == HANDLE_CONSUMING ||
		    word_pins(w) > 0)
			return ARPC_S_ASYNC_HANDLE_BUSY;
		/* A completed call that was never consumed: release it now. */
		if (word_state(w) == HANDLE_COMPLETE) {
			struct call *c = handle_record(a);
			if (handle_move(a, HANDLE_COMPLETE, HANDLE_CONSUMED) != 0)
				return ARPC_S_ASYNC_HANDLE_BUSY;
			if (c && c->async == a)
				handle_drop_record(a, c);
		}
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
	uintptr_t w = handle_load(a, RT_STATE);
	if (word_state(w) == HANDLE_PENDING || word_pins(w) > 0)
		return ARPC_S_ASYNC_HANDLE_BUSY;
	if (w != HANDLE_INIT)
		return ARPC_S_INVALID_ASYNC_HANDLE;
	arpc_status st = check_call_args(b, a, method, req, req_len, out, out_cap);
	if (st != ARPC_S_OK)
		return st;
	/* Claim the handle: of two threads racing to use it, one wins. */
	if (!word_cas(a, &w, HANDLE_PENDING))
		return ARPC_S_ASYNC_HANDLE_BUSY;

	struct call *c = call_new(b, a, out, out_cap);
	st = c ? notify_prepare(&c->notify, a) : ARPC_S_NO_MEMORY;
	if (st != ARPC_S_OK) {
		if (c)
			call_unref(c);
		handle_move(a, HANDLE_PENDING, HANDLE_INIT);
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
	if (handle_move(a, HANDLE_PENDING, HANDLE_INIT) == 0)
		handle_drop_record(a, c);
	return st;
}

arpc_status arpc_async_get_status(const arpc_async *a)
{
	if (!handle_valid(a))
		return ARPC_S_INVALID_ASYNC_HANDLE;
	switch (word_state(handle_load(a, RT_STATE))) {
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
	if (word_state(handle_load(a, RT_STATE)) == HANDLE_PENDING)
		return ARPC_S_ASYNC_CALL_PENDING;
	if (handle_move(a, HANDLE_COMPLETE, HANDLE_CONSUMING) < 0)
		return ARPC_S_INVALID_ASYNC_HANDLE;
	struct call *c = handle_record(a);
	arpc_status st = c->status;
	if (reply)
		take_reply(c, reply);
	if (handle_move(a, HANDLE_CONSUMING, HANDLE_CONSUMED) == 0)
		handle_drop_record(a, c);
	return st;
}

/*
 * The record is reached through the handle, which another thread may
 * consume at any moment (and the record be freed, or reused by an unrelated
 * call in this thread's cache).  A pin on the pending handle keeps the
 * record alive just long enough to take a reference of our own; the work
 * that needs the binding's lock is done with that reference only.
 */
arpc_status arpc_async_cancel(arpc_async *a, int abortive)
{
	if (!handle_valid(a))
		return ARPC_S_INVALID_ASYNC_HANDLE;
	uintptr_t state = handle_pin(a);
	if (state == HANDLE_COMPLETE)
		return ARPC_S_OK; /* already complete: harmless */
	if (state != HANDLE_PENDING)
		return ARPC_S_INVALID_ASYNC_HANDLE;
	struct call *c = handle_record(a);
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	handle_unpin(a);
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
