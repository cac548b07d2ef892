/*
 * notify.c: how a completed asynchronous call is told to the application.
 *
 * notify_prepare() runs at submission: it checks the handle's notification
 * fields, resolves an APC's target thread (the caller, bound now, or a named
 * thread that must already have a queue) and reserves the slot the
 * notification will take in its queue.  Any failure there is a submission
 * failure, returned to the caller with no notification.  notify_deliver()
 * then cannot fail: it writes the eventfd or fills the reserved slot, or
 * hands a CALLBACK to the I/O thread.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "internal.h"

arpc_status notify_prepare(struct notify_spec *spec, const arpc_async *a)
{
	spec->type = a->notify;
	switch (a->notify) {
	case ARPC_NOTIFY_NONE:
		return ARPC_S_OK;
	case ARPC_NOTIFY_EVENT:
		if (a->u.event_fd < 0)
			return ARPC_S_INVALID_ARG;
		spec->u.event_fd = a->u.event_fd;
		return ARPC_S_OK;
	case ARPC_NOTIFY_APC: {
		if (!a->u.apc.fn)
			return ARPC_S_INVALID_ARG;
		struct apcq *q;
		if (a->u.apc.to_thread) {
			q = apcq_find_thread(a->u.apc.thread);
			if (!q)
				return ARPC_S_INVALID_ARG; /* that thread has no APC queue */
		} else {
			/* From a CALLBACK, "the calling thread" is the I/O thread,
			 * which never waits alertably: the APC could never run. */
			if (ctx_on_any_iothread())
				return ARPC_S_INVALID_ARG;
			q = apcq_self();
			if (!q)
				return ARPC_S_NO_MEMORY;
			apcq_ref(q);
		}
		if (apcq_reserve(q) < 0) {
			apcq_unref(q);
			return ARPC_S_NO_MEMORY;
		}
		spec->u.apc.fn = a->u.apc.fn;
		spec->u.apc.q = q;
		return ARPC_S_OK;
	}
	case ARPC_NOTIFY_IOC:
		if (!a->u.ioc.cq)
			return ARPC_S_INVALID_ARG;
		if (cq_reserve(a->u.ioc.cq) < 0)
			return ARPC_S_NO_MEMORY;
		spec->u.ioc.cq = a->u.ioc.cq;
		spec->u.ioc.key = a->u.ioc.key;
		spec->u.ioc.tag = a->u.ioc.tag;
		return ARPC_S_OK;
	case ARPC_NOTIFY_MSG:
		if (!a->u.msg.queue)
			return ARPC_S_INVALID_ARG;
		if (msgq_reserve(a->u.msg.queue) < 0)
			return ARPC_S_NO_MEMORY;
		spec->u.msg.q = a->u.msg.queue;
		spec->u.msg.msg = a->u.msg.msg;
		return ARPC_S_OK;
	case ARPC_NOTIFY_CALLBACK:
		if (!a->u.callback.fn)
			return ARPC_S_INVALID_ARG;
		spec->u.callback = a->u.callback.fn;
		return ARPC_S_OK;
	}
	return ARPC_S_INVALID_ARG;
}

void notify_release(struct notify_spec *spec)
{
	switch (spec->type) {
	case ARPC_NOTIFY_APC:
		apcq_unreserve(spec->u.apc.q);
		apcq_unref(spec->u.apc.q);
		break;
	case ARPC_NOTIFY_IOC:
		cq_unreserve(spec->u.ioc.cq);
		break;
	case ARPC_NOTIFY_MSG:
		msgq_unreserve(spec->u.msg.q);
		break;
	default:
		break;
	}
	spec->type = ARPC_NOTIFY_NONE;
}

static void signal_eventfd(int fd)
{
	uint64_t one = 1;
	ssize_t r;
	do
		r = write(fd, &one, sizeof(one));
	while (r < 0 && errno == EINTR);
	/* EAGAIN: the counter is at its maximum, so the fd is readable anyway.
	 * EBADF: the application closed its eventfd; the status stays readable. */
}

/*
 * Sends the one notification of a call whose final status `st` has just been
 * published in handle `a`.  The handle's owner may consume the handle and
 * free the call record the moment the status is visible, so the caller
 * passes a copy of the record's notify_spec; only a CALLBACK uses the record
 * (`c`), kept alive by the reference the caller took for it.
 */
void notify_deliver(struct arpc_ctx *ctx, const struct notify_spec *spec, arpc_async *a,
                    arpc_status st, struct call *c)
{
	switch (spec->type) {
	case ARPC_NOTIFY_NONE:
		break;
	case ARPC_NOTIFY_EVENT:
		signal_eventfd(spec->u.event_fd);
		break;
	case ARPC_NOTIFY_APC:
		apcq_post_reserved(spec->u.apc.q, spec->u.apc.fn, a);
		apcq_unref(spec->u.apc.q);
		break;
	case ARPC_NOTIFY_IOC: {
		arpc_completion comp = { .async = a, .key = spec->u.ioc.key, .tag = spec->u.ioc.tag,
		                         .status = st };
		cq_post_reserved(spec->u.ioc.cq, &comp);
		break;
	}
	case ARPC_NOTIFY_MSG: {
		arpc_msg m = { .msg = spec->u.msg.msg, .async = a };
		msgq_post_reserved(spec->u.msg.q, &m);
		break;
	}
	case ARPC_NOTIFY_CALLBACK:
		ctx_queue_callback(ctx, c);
		break;
	}
}

void notify_run_callback(struct call *c)
{
	c->notify.u.callback(c->async, ARPC_EVENT_CALL_COMPLETE);
	/* The record's binding reference keeps b alive until call_unref. */
	binding_callback_done(c->b);
	call_unref(c);
}
