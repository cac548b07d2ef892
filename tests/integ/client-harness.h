/*
 * client-harness.h: what libarpc's integration tests need of a real arpcd,
 * on top of the daemon harness (harness.h): one daemon per test program,
 * started by the group setup in a fresh temporary directory.
 */
#ifndef ARPC_CLIENT_HARNESS_H
#define ARPC_CLIENT_HARNESS_H

#include <stdint.h>

#include <arpc/arpc.h>

/* cmocka group setup/teardown: start arpcd; stop it, failing the group if
 * it did not exit with status 0 (a sanitizer report, a leak). */
int client_setup(void **state);
int client_teardown(void **state);

/* The running daemon's endpoint, "unix:/tmp/.../arpcd.sock". */
const char *client_endpoint(void);

/* A binding to the running daemon; fails the test unless it opens. */
arpc_binding *client_open_binding(void);

/* A new eventfd (EFD_CLOEXEC, blocking); fails the test if none can be made. */
int client_eventfd(void);

/* Initializes `a` for a call that signals the eventfd `efd` (notify
 * ARPC_NOTIFY_EVENT); fails the test if arpc_async_init refuses. */
void client_event_async(arpc_async *a, int efd);

/* Waits up to ms for the eventfd; returns its count (read, so reset), or 0
 * if nothing came in time. */
uint64_t client_event_wait(int efd, int ms);

/* Kills the daemon with `sig` and reaps it (bounded).  Returns 0. */
int client_daemon_kill(int sig);

/* Starts the daemon again on the same endpoint; returns 0 when it serves. */
int client_daemon_restart(void);

/* A counter from sys.stats, or -1 if it cannot be read. */
long long client_daemon_stat(const char *key);

/* Polls `cond(arg)` every millisecond until it holds or `ms` pass; returns
 * whether it held.  Every wait in the tests is bounded this way. */
int client_wait_until(int (*cond)(void *arg), void *arg, int ms);

/* Runs the program argv[0] (a path) with argv, environment `env` added
 * (NULL or NULL-terminated "K=V" strings), collecting stdout and stderr
 * into out[0..len) (NUL-terminated), within timeout_ms (then killed).
 * Returns its exit status, 128 + signal, or -1. */
int client_run(const char *const *argv, const char *const *env, char *out, size_t len,
               int timeout_ms);

/* A built program's path: $ARPC_TOP_BUILDDIR/rel. */
const char *client_built(const char *rel);

/* A little-endian u32 request payload, as demo.async_delay takes. */
void client_u32(uint8_t out[4], uint32_t v);

#endif
