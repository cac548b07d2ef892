/*
 * sdnotify.c: sd_notify(3) messages (see sdnotify.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "arpcd.h"
#include "log.h"
#include "sdnotify.h"

#define STATUS_INTERVAL 5.0

static void send_status(struct server *srv, const char *prefix)
{
	int r = sd_notifyf(0, "%sSTATUS=%u connections, %llu calls in flight", prefix,
	                   srv->st.connections, (unsigned long long)srv->st.calls_inflight);
	if (r < 0) {
		errno = -r;
		log_warn("sd_notify, ignoring");
	}
}

static void status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_status(w->data, "");
}

void sdnotify_ready(struct server *srv)
{
	if (!getenv("NOTIFY_SOCKET"))
		return;
	send_status(srv, "READY=1\n");
	ev_timer_init(&srv->status_timer, status_cb, STATUS_INTERVAL, STATUS_INTERVAL);
	srv->status_timer.data = srv;
	ev_timer_start(srv->loop, &srv->status_timer);
}

void sdnotify_stopping(struct server *srv)
{
	if (!getenv("NOTIFY_SOCKET"))
		return;
	send_status(srv, "STOPPING=1\n");
}

void sdnotify_stop(struct server *srv)
{
	ev_timer_stop(srv->loop, &srv->status_timer);
}
