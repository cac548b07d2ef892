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

static int exit_status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int client_run(const char *const *argv, const char *const *env, char *out, size_t len,
               int timeout_ms)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(pipefd[1], STDOUT_FILENO) < 0 || dup2(pipefd[1], STDERR_FILENO) < 0)
			_exit(126);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)(uintptr_t)env[i]);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(pipefd[1]);
	size_t got = 0;
	int64_t end = harness_now_ms() + timeout_ms;
	for (;;) {
		int left = (int)(end - harness_now_ms());
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		char tmp[4096];
		ssize_t k = read(pipefd[0], tmp, sizeof(tmp));
		if (k <= 0)
			break;
		size_t take = (size_t)k < len - 1 - got ? (size_t)k : len - 1 - got;
		memcpy(out + got, tmp, take);
		got += take;
	}
	out[got] = '\0';
	close(pipefd[0]);
	/* EOF came, or the time is up: reap it, by force if need be. */
	int st;
	for (int i = 0; i < 100; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return exit_status_of(st);
		if (r < 0 && errno != EINTR)
			return -1;
		if (harness_now_ms() >= end)
			break;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	fprintf(stderr, "# %s: killed after %d ms\n", argv[0], timeout_ms);
	return -1;
}
