/*
 * sdnotify.c: sd_notify(3) messages (see sdnotify.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "arpcd.h"
#include "fdlimit.h"
#include "log.h"
#include "sdnotify.h"

#define STATUS_INTERVAL 5.0

static int notify_enabled(void)
{
	return getenv("NOTIFY_SOCKET") != NULL;
}

/*
 * sd_notify(3)'s datagram, sent without blocking.  libsystemd's sd_notify
 * sends on a blocking socket, and a unix datagram queue holds only
 * net.unix.max_dgram_qlen messages (10 by default): a receiver that reads
 * slowly, or not at all, would stop the loop in the middle of a STATUS=
 * update or of shutdown.  A message that finds the queue full is dropped
 * instead (EAGAIN).  Returns 0, or a negative errno.
 */
static int notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	if (len < 2 || len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract socket */
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	int err = n < 0 ? errno : 0;
	close(fd);
	return -err;
}

/* Sends one message.  A failure is logged once: the STATUS= and watchdog
 * timers would otherwise repeat it every few seconds. */
static void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void notify(const char *fmt, ...)
{
	static int warned;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int r = notify_send(msg);
	if (r == -EMFILE || r == -ENFILE) {
		/* A socket per message: at the descriptor limit the watchdog ping
		 * would fail and systemd kill a daemon that works.  The loop
		 * thread alone sends them, and owns the reserve. */
		fdlimit_release();
		r = notify_send(msg);
		fdlimit_refill();
	}
	if (r < 0 && !warned) {
		warned = 1;
		errno = -r;
		log_warn("sd_notify to $NOTIFY_SOCKET failed (not repeated), ignoring");
	}
}

static void send_status(struct server *srv, const char *prefix, const char *note)
{
	notify("%sSTATUS=%s%u connections, %llu calls in flight", prefix, note,
	       srv->st.connections, (unsigned long long)srv->st.calls_inflight);
}

static void status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_status(w->data, "", "");
}

/* From the loop: if the loop is stuck, the pings stop. */
static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	notify("WATCHDOG=1");
}

static void start_watchdog(struct server *srv)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);
	if (r < 0) {
		errno = -r;
		log_warn("$WATCHDOG_USEC or $WATCHDOG_PID is invalid: no watchdog pings");
		return;
	}
	if (r == 0 || usec == 0)
		return;
	/* Half the period, as sd_watchdog_enabled(3) advises. */
	ev_tstamp every = (ev_tstamp)usec / 2e6;
	ev_timer_init(&srv->watchdog_timer, watchdog_cb, every, every);
	srv->watchdog_timer.data = srv;
	ev_timer_start(srv->loop, &srv->watchdog_timer);
	log_info("watchdog: pinging systemd every %g s (WatchdogSec=%g s)", every, every * 2);
}

void sdnotify_ready(struct server *srv)
{
	if (!notify_enabled())
		return;
	send_status(srv, "READY=1\n", "");
	ev_timer_init(&srv->status_timer, status_cb, STATUS_INTERVAL, STATUS_INTERVAL);
	srv->status_timer.data = srv;
	ev_timer_start(srv->loop, &srv->status_timer);
	start_watchdog(srv);
}

void sdnotify_reloading(struct server *srv)
{
	if (!notify_enabled())
		return;
	/* systemd 253+ wants MONOTONIC_USEC to tell this reload from an older one. */
	notify("RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading", now_ns() / 1000);
}

void sdnotify_reloaded(struct server *srv, int ok)
{
	if (!notify_enabled())
		return;
	send_status(srv, "READY=1\n", ok ? "" : "reload refused (see the log); ");
}

void sdnotify_stopping(struct server *srv)
{
	if (!notify_enabled())
		return;
	send_status(srv, "STOPPING=1\n", "stopping; ");
}

void sdnotify_stop(struct server *srv)
{
	ev_timer_stop(srv->loop, &srv->status_timer);
	ev_timer_stop(srv->loop, &srv->watchdog_timer);
}
