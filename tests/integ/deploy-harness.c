/*
 * deploy-harness.c: spawning with an environment and passed sockets, and
 * sd_notify messages (see deploy-harness.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpc/arpc.h>

#include "deploy-harness.h"

#define MAX_PASSED 8

int deploy_setup(void **state)
{
	static struct harness h;
	*state = &h;
	return harness_init(&h, NULL);
}

int deploy_teardown(void **state)
{
	harness_cleanup(*state);
	return 0;
}

/* In the child: moves the sockets to 3, 4, ... (dup'ing them above the
 * target range first, so no move clobbers one still to come). */
static int place_fds(const int *fds, size_t n)
{
	int tmp[MAX_PASSED];
	for (size_t i = 0; i < n; i++)
		if ((tmp[i] = fcntl(fds[i], F_DUPFD, 3 + MAX_PASSED)) < 0)
			return -1;
	for (size_t i = 0; i < n; i++)
		if (dup2(tmp[i], 3 + (int)i) < 0) /* dup2 clears FD_CLOEXEC */
			return -1;
	return 0;
}

static void child(struct harness *h, const struct spawn *s)
{
	char v[32];
	int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(126);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	for (size_t i = 0; s->env && s->env[i]; i++) {
		const char *eq = strchr(s->env[i], '=');
		char name[64];
		size_t n = eq ? (size_t)(eq - s->env[i]) : strlen(s->env[i]);
		if (n >= sizeof(name))
			_exit(126);
		memcpy(name, s->env[i], n);
		name[n] = '\0';
		if (eq ? setenv(name, eq + 1, 1) : unsetenv(name))
			_exit(126);
	}
	if (s->nfds) {
		if (s->nfds > MAX_PASSED || place_fds(s->fds, s->nfds) < 0)
			_exit(126);
		snprintf(v, sizeof(v), "%zu", s->nfds);
		setenv("LISTEN_FDS", v, 1);
		snprintf(v, sizeof(v), "%d", (int)getpid());
		setenv("LISTEN_PID", v, 1);
		if (s->fdnames)
			setenv("LISTEN_FDNAMES", s->fdnames, 1);
	}
	execv(s->argv[0], (char *const *)(uintptr_t)s->argv);
	fprintf(stderr, "deploy-harness: exec %s: %s\n", s->argv[0], strerror(errno));
	_exit(127);
}

int deploy_spawn(struct harness *h, const struct spawn *s)
{
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "deploy-harness: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child(h, s);
	h->pid = pid;
	return 0;
}

int notify_open(struct harness *h, const char *name, char *path, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(path, len, "%s/%s", h->dir, name);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "deploy-harness: notify socket %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int notify_recv(int fd, char *buf, size_t len, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int r;
	do
		r = poll(&pfd, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return 0;
	ssize_t n = recv(fd, buf, len - 1, 0);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return 1;
}

int notify_wait_for(int fd, const char *assignment, char *buf, size_t len, int ms)
{
	int64_t end = harness_now_ms() + ms;
	int left;
	while ((left = harness_ms_left(end)) > 0 && notify_recv(fd, buf, len, left))
		if (notify_has(buf, assignment))
			return 1;
	return 0;
}

int notify_has(const char *msg, const char *assignment)
{
	size_t n = strlen(assignment);
	for (const char *p = msg; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, assignment, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

const char *notify_value(const char *msg, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);
	for (const char *p = msg; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) != 0 || p[n] != '=')
			continue;
		snprintf(buf, len, "%.*s", (int)strcspn(p + n + 1, "\n"), p + n + 1);
		return buf;
	}
	return NULL;
}

int wc_connect_retry(struct wc *c, const char *endpoint, int ms)
{
	int64_t end = harness_now_ms() + ms;
	for (;;) {
		if (wc_connect(c, endpoint) == 0)
			return 0;
		if ((errno != ENOENT && errno != ECONNREFUSED) || harness_now_ms() >= end)
			return -1;
		usleep(2000);
	}
}

int deploy_ping(const char *endpoint)
{
	struct wc c;
	struct wc_frame f;
	if (wc_connect(&c, endpoint) < 0)
		return -1;
	int st = wc_call(&c, 1, "sys.ping", NULL, 0, &f);
	if (st >= 0)
		wc_frame_free(&f);
	wc_close(&c);
	return st == ARPC_S_OK ? 0 : -1;
}
