/*
 * deploy-harness.h: what the deployment tests need beyond harness.h:
 * starting arpcd (or systemd-socket-activate) with an environment of
 * their own and sockets passed the sd_listen_fds(3) way, and reading
 * sd_notify(3) messages from a datagram socket of the test's own.
 *
 * The process started is recorded in h->pid, so harness_stop(),
 * harness_wait_exit() and harness_cleanup() handle it as they handle
 * harness_start()'s arpcd; its stdout and stderr go to h->log.
 */
#ifndef ARPC_TEST_DEPLOY_HARNESS_H
#define ARPC_TEST_DEPLOY_HARNESS_H

#include <stddef.h>

#include "harness.h"

/* cmocka setup and teardown: *state is a harness_init()ed harness (its
 * config listens on h->sock), cleaned up after the test. */
int deploy_setup(void **state);
int deploy_teardown(void **state);
#define DEPLOY_TEST(f) cmocka_unit_test_setup_teardown(f, deploy_setup, deploy_teardown)

struct spawn {
	const char *const *argv; /* argv[0] is the program's path */
	const char *const *env;  /* "NAME=VALUE" set, "NAME" unset; NULL-terminated, or NULL */
	const int *fds;          /* passed as 3, 4, ... with LISTEN_FDS and LISTEN_PID */
	size_t nfds;
	const char *fdnames;     /* LISTEN_FDNAMES, or NULL */
};

/* Starts s in the background.  0, or -1 (printed). */
int deploy_spawn(struct harness *h, const struct spawn *s);

/* Binds a datagram socket at DIR/name for sd_notify messages; its path
 * goes to path[0..len).  The fd, or -1 (printed). */
int notify_open(struct harness *h, const char *name, char *path, size_t len);

/* The next message, NUL-terminated, waiting at most ms.  1, 0 on timeout. */
int notify_recv(int fd, char *buf, size_t len, int ms);

/* Reads messages until one holds the line `assignment`, for at most ms in
 * all (however many other messages come meanwhile).  1 with that message
 * in buf, or 0. */
int notify_wait_for(int fd, const char *assignment, char *buf, size_t len, int ms);

/* Whether a message holds the line `assignment` ("READY=1"). */
int notify_has(const char *msg, const char *assignment);

/* The value of NAME= in a message (up to its end of line), or NULL. */
const char *notify_value(const char *msg, const char *name, char *buf, size_t len);

/* Connects to endpoint, retrying while the socket is not there yet or not
 * listening, for at most ms.  0, or -1. */
int wc_connect_retry(struct wc *c, const char *endpoint, int ms);

/* sys.ping on a new connection: 0 if it answered ARPC_S_OK, else -1. */
int deploy_ping(const char *endpoint);

#endif
