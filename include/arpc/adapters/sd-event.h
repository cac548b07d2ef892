/*
 * <arpc/adapters/sd-event.h>: delivers an arpc_msgq's messages to an
 * sd-event loop (systemd's event loop).
 *
 * Header-only: libarpc does not link libsystemd for the application.
 *
 *	arpc_sd_msgq w;
 *	r = arpc_sd_msgq_attach(event, &w, queue, on_message, NULL);
 *	... sd_event_loop(event) calls on_message(&w, &msg, NULL) ...
 *	arpc_sd_msgq_detach(&w);
 *
 * Returns of arpc_sd_msgq_attach: 0, or sd_event_add_io's negative errno.
 * The callback runs on the loop's thread and may detach the watcher; a wake
 * handles at most ARPC_SD_MSGQ_BATCH messages.  `w` must stay valid while
 * attached.
 */
#ifndef ARPC_ADAPTERS_SD_EVENT_H
#define ARPC_ADAPTERS_SD_EVENT_H

#include <sys/epoll.h>

#include <systemd/sd-event.h>

#include <arpc/arpc.h>

#define ARPC_SD_MSGQ_BATCH 64

typedef struct arpc_sd_msgq arpc_sd_msgq;
typedef void (*arpc_sd_msg_fn)(arpc_sd_msgq *w, const arpc_msg *m, void *data);

struct arpc_sd_msgq {
	sd_event_source *source;
	arpc_msgq *queue;
	arpc_sd_msg_fn fn;
	void *data;
};

static inline int arpc_sd_msgq_ready_(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	arpc_sd_msgq *w = (arpc_sd_msgq *)userdata;
	arpc_msg m;
	(void)s;
	(void)fd;
	(void)revents;
	for (int i = 0; i < ARPC_SD_MSGQ_BATCH && w->source; i++) {
		if (arpc_msgq_get(w->queue, &m) != ARPC_S_OK)
			break;
		w->fn(w, &m, w->data);
	}
	return 0;
}

static inline int arpc_sd_msgq_attach(sd_event *event, arpc_sd_msgq *w, arpc_msgq *queue,
                                      arpc_sd_msg_fn fn, void *data)
{
	w->queue = queue;
	w->fn = fn;
	w->data = data;
	w->source = NULL;
	return sd_event_add_io(event, &w->source, arpc_msgq_fd(queue), EPOLLIN,
	                       arpc_sd_msgq_ready_, w);
}

static inline void arpc_sd_msgq_detach(arpc_sd_msgq *w)
{
	if (w->source) {
		sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
		sd_event_source_unref(w->source);
		w->source = NULL;
	}
}

#endif
