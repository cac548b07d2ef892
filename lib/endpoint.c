/*
 * endpoint.c: parsing and connecting arpc endpoints.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint.h"

static int parse_port(const char *s, char *out, size_t outlen)
{
	if (*s == '\0' || strlen(s) >= outlen)
		return -1;
	unsigned long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -1;
	}
	snprintf(out, outlen, "%lu", v);
	return 0;
}

static int parse_tcp(const char *rest, struct endpoint *ep, const char **why)
{
	const char *colon;
	size_t hostlen;
	const char *host = rest;

	if (*rest == '[') {
		const char *close = strchr(rest, ']');
		if (!close || close[1] != ':') {
			*why = "an IPv6 address must be written [addr]:port";
			return -EINVAL;
		}
		host = rest + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon) {
			*why = "missing ':port'";
			return -EINVAL;
		}
		hostlen = (size_t)(colon - rest);
		if (memchr(rest, ':', hostlen)) {
			*why = "an IPv6 address must be written [addr]:port";
			return -EINVAL;
		}
	}
	if (hostlen == 0) {
		*why = "missing host";
		return -EINVAL;
	}
	if (hostlen >= sizeof(ep->host)) {
		*why = "host name too long";
		return -EINVAL;
	}
	memcpy(ep->host, host, hostlen);
	ep->host[hostlen] = '\0';
	if (parse_port(colon + 1, ep->port, sizeof(ep->port)) < 0) {
		*why = "the port must be a number from 0 to 65535";
		return -EINVAL;
	}
	ep->kind = ENDPOINT_TCP;
	return 0;
}

int endpoint_parse(const char *text, struct endpoint *ep, const char **why)
{
	static const char *ignored;
	if (!why)
		why = &ignored;
	memset(ep, 0, sizeof(*ep));
	if (!text) {
		*why = "no endpoint";
		return -EINVAL;
	}
	if (strncmp(text, "unix:", 5) == 0) {
		const char *path = text + 5;
		if (*path == '\0') {
			*why = "missing socket path";
			return -EINVAL;
		}
		if (strlen(path) >= sizeof(ep->path)) {
			*why = "socket path too long";
			return -EINVAL;
		}
		strcpy(ep->path, path);
		ep->kind = ENDPOINT_UNIX;
		return 0;
	}
	if (strncmp(text, "tcp:", 4) == 0)
		return parse_tcp(text + 4, ep, why);
	*why = "must start with 'unix:' or 'tcp:'";
	return -EINVAL;
}

void endpoint_format(const struct endpoint *ep, char *buf, size_t len)
{
	if (ep->kind == ENDPOINT_UNIX)
		snprintf(buf, len, "unix:%s", ep->path);
	else if (strchr(ep->host, ':'))
		snprintf(buf, len, "tcp:[%s]:%s", ep->host, ep->port);
	else
		snprintf(buf, len, "tcp:%s:%s", ep->host, ep->port);
}

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int connect_unix(const struct endpoint *ep)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, ep->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int connect_tcp(const struct endpoint *ep)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	if (getaddrinfo(ep->host, ep->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int err = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			int one = 1;
			/* Requests and replies are small and latency-bound: no Nagle. */
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			freeaddrinfo(res);
			return fd;
		}
		err = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return err;
}

int endpoint_connect(const struct endpoint *ep)
{
	int fd = ep->kind == ENDPOINT_UNIX ? connect_unix(ep) : connect_tcp(ep);
	if (fd < 0)
		return fd;
	int r = set_nonblocking(fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}
