/*
 * listener.c: listening sockets and accept (see listener.h).
 */
#include <config.h> /* autoconf's */

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "activation.h"
#include "arpcd.h"
#include "config.h"
#include "conn.h"
#include "fdlimit.h"
#include "listener.h"
#include "log.h"

/* Connections taken per readiness event, then the loop serves others. */
#define ACCEPTS_PER_EVENT 64
/* How long accepting pauses when even the reserve cannot take a
 * connection (or the kernel is out of memory). */
#define ACCEPT_PAUSE 0.5
/* At most one warning per this many seconds while out of descriptors. */
#define FDS_WARN_INTERVAL 10.0

struct listener {
	TAILQ_ENTRY(listener) link;
	struct server *srv;
	ev_io io;
	int fd;
	int is_unix;
	char *endpoint;
	char *unlink_path; /* the unix socket file we created */
};

static void listener_free(struct listener *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->unlink_path && unlink(l->unlink_path) < 0 && errno != ENOENT)
		log_warn("cannot remove socket file '%s'", l->unlink_path);
	free(l->unlink_path);
	free(l->endpoint);
	free(l);
}

/* A socket file at path: remove it if it is a dead daemon's.  0, or -1
 * after logging why not. */
static int clear_stale_socket(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : (log_error("cannot inspect '%s'", path), -1);
	if (!S_ISSOCK(st.st_mode)) {
		log_errorx("'%s' exists and is not a socket: not removing it", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error("socket"), -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;
	close(fd);
	if (r == 0) {
		log_errorx("another server is listening on '%s'", path);
		return -1;
	}
	if (err != ECONNREFUSED) {
		errno = err;
		log_error("cannot tell whether '%s' is in use", path);
		return -1;
	}
	log_notice("removing stale socket '%s' (nothing answers on it)", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return log_error("cannot remove stale socket '%s'", path), -1;
	return 0;
}

static int open_unix(struct listener *l, const char *path, const struct config *cfg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	gid_t gid = (gid_t)-1;

	if (cfg->socket_group[0]) {
		char *end;
		unsigned long v = strtoul(cfg->socket_group, &end, 10);
		struct group *gr;
		if (*end == '\0')
			gid = (gid_t)v;
		else if ((gr = getgrnam(cfg->socket_group)))
			gid = gr->gr_gid;
		else
			return log_errorx("socket_group '%s': no such group", cfg->socket_group), -1;
	}
	if (clear_stale_socket(path) < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return log_error("%s: socket", l->endpoint), -1;
	/* Bind with no access at all, then open up to socket_mode: no window
	 * in which the socket has the umask's permissions.  Start-up is single
	 * threaded here, so the process-wide umask is ours to change. */
	mode_t old = umask(0777);
	int r = bind(l->fd, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;
	umask(old);
	if (r < 0) {
		errno = err;
		return log_error("%s: cannot bind '%s'", l->endpoint, path), -1;
	}
	if (!(l->unlink_path = strdup(path)))
		return log_errorx("out of memory"), -1;
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)
		return log_error("%s: cannot give '%s' to group '%s'", l->endpoint, path,
		                 cfg->socket_group), -1;
	if (chmod(path, (mode_t)cfg->socket_mode) < 0)
		return log_error("%s: cannot chmod '%s' to %04o", l->endpoint, path,
		                 cfg->socket_mode), -1;
	l->is_unix = 1;
	return 0;
}

/* "tcp:HOST:PORT", "tcp:[V6]:PORT" or "tcp:PORT" (loopback). */
static int open_tcp(struct listener *l, const char *spec)
{
	char host[256] = "127.0.0.1", port[8];
	const char *colon = strrchr(spec, ':');
	if (colon) {
		size_t hlen = (size_t)(colon - spec);
		const char *h = spec;
		if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
			h++;
			hlen -= 2;
		}
		if (hlen >= sizeof(host))
			return log_errorx("%s: host name too long", l->endpoint), -1;
		memcpy(host, h, hlen);
		host[hlen] = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(port, sizeof(port), "%s", spec);
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	int r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return log_errorx("%s: cannot resolve '%s': %s", l->endpoint, host, gai_strerror(r)), -1;
	l->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		freeaddrinfo(res);
		return log_error("%s: socket", l->endpoint), -1;
	}
	int one = 1;
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (res->ai_family == AF_INET6 &&
	     setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		freeaddrinfo(res);
		return log_error("%s: setsockopt", l->endpoint), -1;
	}
	r = bind(l->fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (r < 0)
		return log_error("%s: cannot bind", l->endpoint), -1;
	return 0;
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%u", host, port);
	} else {
		snprintf(out, len, "?");
	}
}

static void pause_accepting(struct server *srv)
{
	struct listener *l;
	TAILQ_FOREACH(l, &srv->listeners, link)
		ev_io_stop(srv->loop, &l->io);
	ev_timer_set(&srv->accept_timer, ACCEPT_PAUSE, 0.0);
	ev_timer_start(srv->loop, &srv->accept_timer);
}

static void resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = w->data;
	struct listener *l;
	if (srv->state != SERVER_RUNNING)
		return;
	TAILQ_FOREACH(l, &srv->listeners, link)
		ev_io_start(loop, &l->io);
}

/*
 * accept() failed with EMFILE or ENFILE: every descriptor is taken, and
 * the connection waiting would stay in the listen backlog, its client
 * hanging.  The reserve is closed to take it, tell it SERVER_TOO_BUSY and
 * close it, then reopened.  Returns 1 if the backlog may hold more, 0 if
 * it is empty, -1 if the reserve could not take the connection (then the
 * caller pauses accepting, or the listener would spin: it stays readable).
 */
static int refuse_over_fd_limit(struct listener *l, int accept_errno)
{
	struct server *srv = l->srv;
	static ev_tstamp last_warn = -FDS_WARN_INTERVAL;
	static unsigned long refused;

	if (fdlimit_release() == 0) {
		fdlimit_refill();
		errno = accept_errno;
		return -1;
	}
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int err = errno;
	if (fd >= 0) {
		srv->st.busy_rejections++;
		refused++;
		conn_refuse(fd, ARPC_S_SERVER_TOO_BUSY);
	}
	fdlimit_refill();
	if (fd < 0) {
		errno = err;
		if (err == EAGAIN || err == EWOULDBLOCK)
			return 0;
		return err == EINTR || err == ECONNABORTED ? 1 : -1;
	}
	ev_tstamp now = ev_now(srv->loop);
	if (now - last_warn >= FDS_WARN_INTERVAL) {
		errno = accept_errno;
		log_warn("%s: accept: out of file descriptors with %u connections; %lu refused "
		         "with SERVER_TOO_BUSY since the last such message", l->endpoint,
		         srv->st.connections, refused);
		last_warn = now;
		refused = 0;
	}
	return 1;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct server *srv = l->srv;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				int r = refuse_over_fd_limit(l, errno);
				if (r > 0)
					continue;
				if (r == 0)
					return;
			}
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("%s: accept; pausing accepting for %g s", l->endpoint,
				         ACCEPT_PAUSE);
				pause_accepting(srv);
				return;
			}
			log_warn("%s: accept", l->endpoint);
			return;
		}
		if (srv->st.connections >= srv->cfg->max_connections) {
			/* Accepted only to be told why it is refused. */
			srv->st.busy_rejections++;
			log_debug("%s: %u connections (max_connections): refusing one", l->endpoint,
			          srv->st.connections);
			conn_refuse(fd, ARPC_S_SERVER_TOO_BUSY);
			continue;
		}
		char peer[80] = "";
		if (!l->is_unix) {
			int one = 1;
			/* Replies are batched already: Nagle would only add latency. */
			if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
				log_warn("%s: TCP_NODELAY, ignoring", l->endpoint);
			format_addr(&ss, peer, sizeof(peer));
		}
		conn_new(srv, fd, l->is_unix, l->is_unix ? NULL : peer);
	}
}

static struct listener *listener_new(struct server *srv, const char *ep)
{
	struct listener *l = calloc(1, sizeof(*l));
	if (!l || !(l->endpoint = strdup(ep))) {
		free(l);
		log_errorx("out of memory");
		return NULL;
	}
	l->srv = srv;
	l->fd = -1;
	return l;
}

static void listener_start(struct server *srv, struct listener *l)
{
	ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
	l->io.data = l;
	ev_io_start(srv->loop, &l->io);
	TAILQ_INSERT_TAIL(&srv->listeners, l, link);
}

static int listener_open(struct server *srv, const char *ep)
{
	struct listener *l = listener_new(srv, ep);
	if (!l)
		return -1;
	int r = strncmp(ep, "unix:", 5) == 0 ? open_unix(l, ep + 5, srv->cfg) : open_tcp(l, ep + 4);
	if (r == 0 && listen(l->fd, SOMAXCONN) < 0)
		r = (log_error("%s: listen", ep), -1);
	if (r < 0) {
		listener_free(l);
		return -1;
	}
	if (!l->is_unix) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char addr[80] = "?";
		if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0)
			format_addr(&ss, addr, sizeof(addr));
		log_notice("listening on tcp:%s", addr);
	} else {
		log_notice("listening on %s", ep);
	}
	listener_start(srv, l);
	return 0;
}

/* Serves a socket systemd passed, for entry `ep` or, when NULL, for its own
 * sake.  It is systemd's file: never unlinked, its mode left as the unit
 * set it. */
static int listener_adopt(struct server *srv, struct passed_socket *p, const char *ep)
{
	struct listener *l = listener_new(srv, ep ? ep : p->address);
	if (!l)
		return -1;
	l->fd = p->fd;
	l->is_unix = p->is_unix;
	p->used = 1;
	if (ep)
		log_notice("listening on %s: socket '%s' from systemd, for listen = %s", p->address,
		           p->name, ep);
	else
		log_notice("listening on %s: socket '%s' from systemd, matching no listen line",
		           p->address, p->name);
	listener_start(srv, l);
	return 0;
}

/* For error messages: "NAME (ADDRESS), ..." of every socket passed. */
static void list_passed(const struct passed_socket *ps, size_t n, char *out, size_t len)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && k < len; i++) {
		int r = snprintf(out + k, len - k, "%s'%s' (%s)", i ? ", " : "", ps[i].name,
		                 ps[i].address);
		if (r < 0)
			break;
		k += (size_t)r;
	}
	if (n == 0)
		snprintf(out, len, "none");
}

/* Entry `ep`: the passed sockets it matches (all of them for fd:NAME, the
 * first for an address), else a socket of its own. */
static int open_entry(struct server *srv, const char *ep, struct passed_socket *ps, size_t n)
{
	int fdname = activation_is_fd_endpoint(ep), matched = 0;
	for (size_t i = 0; i < n && (fdname || !matched); i++) {
		if (ps[i].used || !activation_match(&ps[i], ep))
			continue;
		if (listener_adopt(srv, &ps[i], ep) < 0)
			return -1;
		matched++;
	}
	if (matched)
		return 0;
	if (fdname) {
		char passed[512];
		list_passed(ps, n, passed, sizeof(passed));
		log_errorx("listen = %s: systemd passed no socket named '%s' "
		           "(FileDescriptorName=); sockets passed: %s", ep, ep + 3, passed);
		return -1;
	}
	return listener_open(srv, ep);
}

static int open_all(struct server *srv, struct passed_socket *ps, size_t n)
{
	const struct config *cfg = srv->cfg;
	if (cfg->nlisten == 0 && n == 0) {
		log_errorx("%s has no 'listen =' line and systemd passed no socket ($LISTEN_FDS "
		           "unset): nothing to listen on", cfg->file);
		return -1;
	}
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (open_entry(srv, cfg->listen[i], ps, n) < 0)
			return -1;
	/* A socket the unit added without a listen line is meant to be served. */
	for (size_t i = 0; i < n; i++)
		if (!ps[i].used && listener_adopt(srv, &ps[i], NULL) < 0)
			return -1;
	return 0;
}

int listeners_open(struct server *srv)
{
	struct passed_socket *ps;
	size_t n;
	ev_init(&srv->accept_timer, resume_cb);
	srv->accept_timer.data = srv;
	if (activation_take(&ps, &n) < 0)
		return -1;
	int r = open_all(srv, ps, n);
	activation_free(ps, n);
	if (r < 0)
		listeners_close(srv);
	return r;
}

void listeners_close(struct server *srv)
{
	struct listener *l;
	ev_timer_stop(srv->loop, &srv->accept_timer);
	while ((l = TAILQ_FIRST(&srv->listeners))) {
		TAILQ_REMOVE(&srv->listeners, l, link);
		ev_io_stop(srv->loop, &l->io);
		listener_free(l);
	}
}
