/*
 * client-harness.c: client-harness.h on the daemon harness: one arpcd per
 * test program, started by the cmocka group setup.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "client-harness.h"
#include "harness.h"

static struct harness *daemon_h;

/* The client tests keep a thousand calls pending on one connection and many
 * connections open; the defaults allow that, and a short shutdown keeps a
 * failing test from waiting long. */
static const char client_config[] = "[limits]\n"
                                    "shutdown_timeout = 2s\n";

int client_setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	if (!h)
		return -1;
	if (harness_init(h, client_config) != 0 || harness_start(h, NULL) != 0) {
		harness_cleanup(h);
		free(h);
		return -1;
	}
	daemon_h = h;
	*state = h;
	return 0;
}

/* Fails the group unless arpcd exits cleanly: in the sanitizer build a
 * leak or an error report makes its exit status non-zero. */
int client_teardown(void **state)
{
	struct harness *h = daemon_h;
	daemon_h = NULL;
	int st = h->pid ? harness_stop(h) : 0;
	harness_cleanup(h);
	free(h);
	if (st != 0)
		fprintf(stderr, "# arpcd exited with status %d\n", st);
	return st == 0 ? 0 : -1;
}

const char *client_endpoint(void)
{
	return daemon_h->endpoint;
}

arpc_binding *client_open_binding(void)
{
	arpc_binding *b = NULL;
	assert_int_equal(arpc_binding_open(client_endpoint(), &b), ARPC_S_OK);
	return b;
}

int client_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		fail_msg("eventfd: %s", strerror(errno));
	return fd;
}

void client_event_async(arpc_async *a, int efd)
{
	assert_int_equal(arpc_async_init(a, sizeof(*a)), ARPC_S_OK);
	a->notify = ARPC_NOTIFY_EVENT;
	a->u.event_fd = efd;
}

uint64_t client_event_wait(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	if (poll(&p, 1, ms) != 1)
		return 0;
	uint64_t n = 0;
	assert_int_equal(read(efd, &n, sizeof(n)), sizeof(n));
	return n;
}

int client_daemon_kill(int sig)
{
	harness_kill(daemon_h, sig);
	return 0;
}

int client_daemon_restart(void)
{
	return harness_restart(daemon_h);
}

long long client_daemon_stat(const char *key)
{
	return harness_stat(daemon_h, key);
}

int client_wait_until(int (*cond)(void *arg), void *arg, int ms)
{
	return harness_wait_until(cond, arg, ms);
}

void client_u32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)v;
	out[1] = (uint8_t)(v >> 8);
	out[2] = (uint8_t)(v >> 16);
	out[3] = (uint8_t)(v >> 24);
}

const char *client_built(const char *rel)
{
	static char path[4][4096];
	static int next;
	const char *top = getenv("ARPC_TOP_BUILDDIR");
	char *p = path[next++ % 4];
	snprintf(p, sizeof(path[0]), "%s/%s", top ? top : ".", rel);
	return p;
}

int client_run(const char *const *argv, const char *const *env, char *out, size_t len,
               int timeout_ms)
{
	return harness_run_program(argv, env, out, len, timeout_ms);
}
