/*
 * <arpc/adapters/libev.h>: delivers an arpc_msgq's messages to a libev loop.
 *
 * Header-only: libarpc does not link libev for the application; the
 * application that includes this header links its own libev.
 *
 *	arpc_ev_msgq w;
 *	arpc_ev_msgq_start(loop, &w, queue, on_message, NULL);
 *	... ev_run(loop, 0) calls on_message(&w, &msg, NULL) for each message ...
 *	arpc_ev_msgq_stop(loop, &w);
 *
 * The callback runs on the loop's thread; it may start calls, complete
 * handles and stop the watcher.  A wake handles at most
 * ARPC_EV_MSGQ_BATCH messages, so a busy queue cannot starve the loop.
 * `w` must stay valid and unmoved while started (libev's rule).
 */
#ifndef ARPC_ADAPTERS_LIBEV_H
#define ARPC_ADAPTERS_LIBEV_H

#include <ev.h>

#include <arpc/arpc.h>

#define ARPC_EV_MSGQ_BATCH 64

typedef struct arpc_ev_msgq arpc_ev_msgq;
typedef void (*arpc_ev_msg_fn)(arpc_ev_msgq *w, const arpc_msg *m, void *data);

struct arpc_ev_msgq {
	ev_io io; /* first member: libev hands this pointer back */
	arpc_msgq *queue;
	arpc_ev_msg_fn fn;
	void *data;
};

static inline void arpc_ev_msgq_ready_(struct ev_loop *loop, ev_io *io, int revents)
{
	arpc_ev_msgq *w = (arpc_ev_msgq *)io;
	arpc_msg m;
	(void)loop;
	(void)revents;
	for (int i = 0; i < ARPC_EV_MSGQ_BATCH && ev_is_active(&w->io); i++) {
		if (arpc_msgq_get(w->queue, &m) != ARPC_S_OK)
			break;
		w->fn(w, &m, w->data);
	}
}

/* Starts delivering `queue`'s messages to fn.  The queue stays the caller's. */
static inline void arpc_ev_msgq_start(struct ev_loop *loop, arpc_ev_msgq *w, arpc_msgq *queue,
                                      arpc_ev_msg_fn fn, void *data)
{
	w->queue = queue;
	w->fn = fn;
	w->data = data;
	ev_io_init(&w->io, arpc_ev_msgq_ready_, arpc_msgq_fd(queue), EV_READ);
	ev_io_start(loop, &w->io);
}

static inline void arpc_ev_msgq_stop(struct ev_loop *loop, arpc_ev_msgq *w)
{
	ev_io_stop(loop, &w->io);
}

#endif
