/*
 * activation.h: listening sockets passed by systemd (sd_listen_fds(3)).
 *
 * A socket unit (or systemd-socket-activate) hands arpcd its listening
 * sockets as descriptors 3, 4, ... with $LISTEN_FDS, $LISTEN_PID and, when
 * the unit says FileDescriptorName=, $LISTEN_FDNAMES.  Each is checked to
 * be a listening stream socket of a family arpcd serves, and made
 * non-blocking.  listener.c then gives each `listen =` entry the passed
 * socket that matches it (activation_match) instead of binding its own,
 * and serves every passed socket that matched no entry as well.
 */
#ifndef ARPCD_ACTIVATION_H
#define ARPCD_ACTIVATION_H

#include <stddef.h>

struct passed_socket {
	int fd;
	int is_unix;
	int used;          /* given to a listener */
	char name[256];    /* FileDescriptorName=, "unknown" when none was given */
	char address[128]; /* "unix:/path", "tcp:1.2.3.4:80", "tcp:[::1]:80" */
};

/*
 * Takes the sockets passed to this process and clears $LISTEN_* so nothing
 * started later inherits them.  On success *out (free with
 * activation_free) holds *n sockets, possibly none.  Returns 0, or -1
 * after logging which socket is unusable and why (all are closed then).
 */
int activation_take(struct passed_socket **out, size_t *n);

/* Closes the sockets not given to a listener and frees the array. */
void activation_free(struct passed_socket *ps, size_t n);

/*
 * Whether passed socket p serves `listen =` entry ep: "fd:NAME" matches by
 * FileDescriptorName=; "unix:PATH" when p is bound to that file (the same
 * inode, so /var/run/x and /run/x match); "tcp:HOST:PORT" (or "tcp:PORT",
 * loopback) when HOST resolves to p's bound address and port.
 */
int activation_match(const struct passed_socket *p, const char *ep);

/* "fd:NAME" entries name a passed socket rather than an address. */
int activation_is_fd_endpoint(const char *ep);

#endif
