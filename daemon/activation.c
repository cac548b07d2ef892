/*
 * activation.c: sockets passed by systemd (see activation.h).
 */
#include <config.h> /* autoconf's */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "activation.h"
#include "log.h"

static void describe_address(const struct sockaddr_storage *ss, socklen_t len, char *out,
                             size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
		size_t plen = len > offsetof(struct sockaddr_un, sun_path)
		                      ? len - offsetof(struct sockaddr_un, sun_path) : 0;
		if (plen == 0 || un->sun_path[0] != '\0')
			snprintf(out, outlen, "unix:%.*s", (int)strnlen(un->sun_path, plen),
			         un->sun_path);
		else /* abstract: no file, a name after a NUL */
			snprintf(out, outlen, "unix:@%.*s", (int)plen - 1, un->sun_path + 1);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "tcp:%s:%u", host, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "tcp:[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, outlen, "family %d", ss->ss_family);
	}
}

/* Checks what systemd passed is something arpcd can accept on; 0, or -1
 * after logging what it is instead, in the unit's terms. */
static int check_socket(struct passed_socket *p)
{
	struct stat st;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0, acc = 0;
	socklen_t ilen = sizeof(int);
	int fd = p->fd;

	if (fstat(fd, &st) < 0)
		return log_error("socket '%s' passed by systemd (fd %d)", p->name, fd), -1;
	if (!S_ISSOCK(st.st_mode))
		return log_errorx("fd %d passed by systemd ('%s') is not a socket", fd, p->name), -1;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ilen) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &ilen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return log_error("socket '%s' passed by systemd (fd %d)", p->name, fd), -1;
	describe_address(&ss, len, p->address, sizeof(p->address));
	if (type != SOCK_STREAM)
		return log_errorx("socket '%s' passed by systemd (fd %d, %s) is not a stream socket: "
		                  "arpcd needs ListenStream=", p->name, fd, p->address), -1;
	if (!acc)
		return log_errorx("socket '%s' passed by systemd (fd %d, %s) is not listening: "
		                  "arpcd needs Accept=no", p->name, fd, p->address), -1;
	if (ss.ss_family != AF_UNIX && ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		return log_errorx("socket '%s' passed by systemd (fd %d) is of address family %d: "
		                  "arpcd serves unix, IPv4 and IPv6 sockets", p->name, fd,
		                  ss.ss_family), -1;
	p->is_unix = ss.ss_family == AF_UNIX;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return log_error("socket '%s' passed by systemd (fd %d): fcntl", p->name, fd), -1;
	return 0;
}

int activation_take(struct passed_socket **out, size_t *n)
{
	char **names = NULL;
	int r = sd_listen_fds_with_names(1, &names);
	*out = NULL;
	*n = 0;
	if (r < 0) {
		errno = -r;
		log_error("cannot read the sockets passed by systemd ($LISTEN_FDS)");
		return -1;
	}
	if (r == 0) {
		free(names);
		return 0;
	}
	struct passed_socket *ps = calloc((size_t)r, sizeof(*ps));
	int bad = !ps;
	if (!ps)
		log_errorx("out of memory");
	for (int i = 0; i < r; i++) {
		if (ps) {
			ps[i].fd = SD_LISTEN_FDS_START + i;
			snprintf(ps[i].name, sizeof(ps[i].name), "%s",
			         names && names[i] ? names[i] : "unknown");
			if (!bad && check_socket(&ps[i]) < 0)
				bad = 1;
		} else {
			close(SD_LISTEN_FDS_START + i);
		}
		if (names)
			free(names[i]);
	}
	free(names);
	if (bad) {
		activation_free(ps, ps ? (size_t)r : 0);
		return -1;
	}
	*out = ps;
	*n = (size_t)r;
	return 0;
}

void activation_free(struct passed_socket *ps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ps[i].used)
			close(ps[i].fd);
	free(ps);
}

int activation_is_fd_endpoint(const char *ep)
{
	return strncmp(ep, "fd:", 3) == 0;
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (strcmp(a, b) == 0)
		return 1;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Whether HOST:PORT of a "tcp:" entry resolves to the address p is bound to. */
static int tcp_matches(const struct passed_socket *p, const char *spec)
{
	char host[256] = "127.0.0.1", port[8], want[128];
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t hlen = colon ? (size_t)(colon - spec) : 0;

	if (colon) {
		if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
			h++;
			hlen -= 2;
		}
		if (hlen >= sizeof(host))
			return 0;
		memcpy(host, h, hlen);
		host[hlen] = '\0';
	}
	snprintf(port, sizeof(port), "%s", colon ? colon + 1 : spec);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return 0;
	int found = 0;
	for (ai = res; ai && !found; ai = ai->ai_next) {
		struct sockaddr_storage ss;
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		describe_address(&ss, ai->ai_addrlen, want, sizeof(want));
		found = strcmp(want, p->address) == 0;
	}
	freeaddrinfo(res);
	return found;
}

int activation_match(const struct passed_socket *p, const char *ep)
{
	if (activation_is_fd_endpoint(ep))
		return strcmp(p->name, ep + 3) == 0;
	if (strncmp(ep, "unix:", 5) == 0)
		return p->is_unix && strncmp(p->address, "unix:", 5) == 0 &&
		       same_file(ep + 5, p->address + 5);
	if (strncmp(ep, "tcp:", 4) == 0)
		return !p->is_unix && tcp_matches(p, ep + 4);
	return 0;
}
