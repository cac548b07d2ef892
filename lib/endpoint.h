/*
 * endpoint.h: "unix:/path" and "tcp:host:port" endpoints, parsed once and
 * connected as often as needed.  Shared by libarpc and arpcd.
 */
#ifndef ARPC_ENDPOINT_H
#define ARPC_ENDPOINT_H

#include <sys/socket.h>
#include <sys/un.h>

enum endpoint_kind { ENDPOINT_UNIX = 1, ENDPOINT_TCP = 2 };

struct endpoint {
	enum endpoint_kind kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* UNIX */
	char host[256];                                       /* TCP, without brackets */
	char port[8];                                         /* TCP */
};

/*
 * Parses `text`.  Returns 0, or -EINVAL with *why set to a static phrase
 * saying what is wrong ("missing port", "path too long", ...).
 */
int endpoint_parse(const char *text, struct endpoint *ep, const char **why);

/* Writes the canonical form of ep into buf (at most len bytes). */
void endpoint_format(const struct endpoint *ep, char *buf, size_t len);

/*
 * Connects a new stream socket to ep, blocking until connected; the socket
 * is returned non-blocking and close-on-exec, with TCP_NODELAY on TCP.
 * Returns the fd, or a negative errno (-EAI_* results of name resolution
 * are reported as -EHOSTUNREACH).
 */
int endpoint_connect(const struct endpoint *ep);

#endif
