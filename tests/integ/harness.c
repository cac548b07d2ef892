/*
 * harness.c: a real arpcd in a temporary directory, and a raw wire client
 * (see harness.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

int64_t harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *harness_arpcd(void)
{
	static char path[4096];
	const char *top = getenv("ARPC_TOP_BUILDDIR");
	snprintf(path, sizeof(path), "%s/daemon/arpcd", top ? top : ".");
	return path;
}

static int write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	if (!fp) {
		fprintf(stderr, "harness: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	int ok = fputs(text, fp) >= 0;
	ok = (fclose(fp) == 0) && ok;
	if (!ok)
		fprintf(stderr, "harness: cannot write %s\n", path);
	return ok ? 0 : -1;
}

int harness_write_file(struct harness *h, const char *name, const char *text, char *path,
                       size_t len)
{
	snprintf(path, len, "%s/%s", h->dir, name);
	return write_text(path, text);
}

int harness_init(struct harness *h, const char *extra)
{
	memset(h, 0, sizeof(*h));
	h->notify_fd = -1;
	/* /tmp, not $TMPDIR: a unix socket path must stay under 108 bytes. */
	snprintf(h->dir, sizeof(h->dir), "/tmp/arpc-test-XXXXXX");
	if (!mkdtemp(h->dir)) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		h->dir[0] = '\0';
		return -1;
	}
	snprintf(h->sock, sizeof(h->sock), "%s/arpcd.sock", h->dir);
	snprintf(h->endpoint, sizeof(h->endpoint), "unix:%s", h->sock);
	snprintf(h->conf, sizeof(h->conf), "%s/arpcd.conf", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/arpcd.log", h->dir);
	snprintf(h->notify, sizeof(h->notify), "%s/notify.sock", h->dir);

	size_t n = strlen(h->endpoint) + (extra ? strlen(extra) : 0) + 64;
	char *text = malloc(n);
	if (!text)
		return -1;
	/* The tests call the demo methods, which the shipped config leaves
	 * off; a test that means to see them off says so in `extra`. */
	snprintf(text, n, "[daemon]\nlisten = %s\n%s%s\n", h->endpoint,
	         extra && strstr(extra, "demo_methods") ? "" : "demo_methods = yes\n",
	         extra ? extra : "");
	int r = write_text(h->conf, text);
	free(text);
	return r;
}

static void print_log(const struct harness *h)
{
	FILE *fp = fopen(h->log, "r");
	char line[1024];
	if (!fp)
		return;
	fprintf(stderr, "---- %s\n", h->log);
	while (fgets(line, sizeof(line), fp))
		fprintf(stderr, "# %s", line);
	fprintf(stderr, "----\n");
	fclose(fp);
}

int harness_log_contains(const struct harness *h, const char *needle)
{
	FILE *fp = fopen(h->log, "r");
	char line[4096];
	int found = 0;
	if (!fp)
		return 0;
	while (!found && fgets(line, sizeof(line), fp))
		found = strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

static int open_notify(struct harness *h)
{
	if (h->notify_fd >= 0)
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->notify);
	h->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (h->notify_fd < 0 || bind(h->notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "harness: notify socket %s: %s\n", h->notify, strerror(errno));
		return -1;
	}
	return 0;
}

static int status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int harness_wait_exit(struct harness *h, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	int st;
	if (h->pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(h->pid, &st, WNOHANG);
		if (r == h->pid)
			break;
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "harness: waitpid: %s\n", strerror(errno));
			h->pid = 0;
			return -1;
		}
		if (harness_now_ms() >= end) {
			fprintf(stderr, "harness: arpcd (pid %d) did not exit in %d ms: killing it\n",
			        (int)h->pid, timeout_ms);
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &st, 0);
			h->pid = 0;
			print_log(h);
			return -1;
		}
		usleep(2000);
	}
	h->pid = 0;
	int status = status_of(st);
	if (status != 0)
		print_log(h);
	return status;
}

int harness_kill(struct harness *h, int sig)
{
	if (h->pid <= 0)
		return -1;
	if (kill(h->pid, sig) < 0) {
		fprintf(stderr, "harness: kill: %s\n", strerror(errno));
		return -1;
	}
	return harness_wait_exit(h, HARNESS_TIMEOUT_MS);
}

static int wait_bound(const struct harness *h)
{
	return h->wait_ms > 0 ? h->wait_ms : HARNESS_TIMEOUT_MS;
}

int harness_stop(struct harness *h)
{
	if (h->pid <= 0)
		return -1;
	if (kill(h->pid, SIGTERM) < 0) {
		fprintf(stderr, "harness: kill: %s\n", strerror(errno));
		return -1;
	}
	return harness_wait_exit(h, wait_bound(h));
}

int harness_start(struct harness *h, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	char buf[512];

	if (open_notify(h) < 0)
		return -1;
	/* Drop anything a previous run left in the notify socket (a dead
	 * daemon's: a bounded number). */
	for (int i = 0; i < 4096 && recv(h->notify_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
	for (size_t i = 0; h->wrapper && h->wrapper[i] && n < 16; i++)
		argv[n++] = h->wrapper[i];
	argv[n++] = harness_arpcd();
	argv[n++] = "-c";
	argv[n++] = h->conf;
	for (size_t i = 0; args && args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "harness: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(126);
		setenv("NOTIFY_SOCKET", h->notify, 1);
		if (h->nofile_soft) {
			struct rlimit rl = {(rlim_t)h->nofile_soft, (rlim_t)h->nofile_hard};
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
				fprintf(stderr, "harness: setrlimit(RLIMIT_NOFILE, %lu, %lu): %s\n",
				        h->nofile_soft, h->nofile_hard, strerror(errno));
				_exit(125);
			}
		}
		/* p: a wrapper may be a bare name, found on PATH. */
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	h->pid = pid;

	int64_t end = harness_now_ms() + wait_bound(h);
	while (harness_now_ms() < end) {
		struct pollfd pfd = {.fd = h->notify_fd, .events = POLLIN};
		int r = poll(&pfd, 1, 50);
		if (r > 0) {
			ssize_t k = recv(h->notify_fd, buf, sizeof(buf) - 1, 0);
			if (k > 0) {
				buf[k] = '\0';
				if (strstr(buf, "READY=1"))
					return 0;
			}
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "harness: arpcd exited with status %d before READY=1\n",
			        status_of(st));
			h->pid = 0;
			print_log(h);
			return -1;
		}
	}
	fprintf(stderr, "harness: no READY=1 from arpcd in %d ms\n", wait_bound(h));
	harness_kill(h, SIGKILL);
	print_log(h);
	return -1;
}

int harness_restart(struct harness *h)
{
	return harness_start(h, NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0)
		fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

void harness_cleanup(struct harness *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		h->pid = 0;
	}
	if (h->notify_fd >= 0) {
		close(h->notify_fd);
		h->notify_fd = -1;
	}
	if (h->dir[0]) {
		nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		h->dir[0] = '\0';
	}
}

int harness_run(const char *const *argv, char *out, size_t len)
{
	static const char *const env[] = {"NOTIFY_SOCKET", NULL}; /* unset: not under systemd */
	const char *args[32];
	size_t n = 0;
	args[n++] = harness_arpcd();
	for (size_t i = 1; argv[i] && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	return harness_run_program(args, env, out, len, HARNESS_TIMEOUT_MS);
}

int harness_run_program(const char *const *argv, const char *const *env, char *out, size_t len,
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
		for (size_t i = 0; env && env[i]; i++) {
			if (strchr(env[i], '='))
				putenv((char *)(uintptr_t)env[i]);
			else
				unsetenv(env[i]);
		}
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
			return status_of(st);
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

int harness_ms_left(int64_t end)
{
	int64_t left = end - harness_now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

int harness_wait_until(int (*cond)(void *arg), void *arg, int ms)
{
	int64_t end = harness_now_ms() + ms;
	do {
		if (cond(arg))
			return 1;
		usleep(1000);
	} while (harness_now_ms() < end);
	return cond(arg);
}

struct stat_wait {
	const struct harness *h;
	const char *key;
	long long want;
};

static int stat_is(void *arg)
{
	const struct stat_wait *w = arg;
	return harness_stat(w->h, w->key) == w->want;
}

int harness_wait_stat(const struct harness *h, const char *key, long long want, int ms)
{
	struct stat_wait w = {h, key, want};
	return harness_wait_until(stat_is, &w, ms);
}

struct log_wait {
	const struct harness *h;
	const char *needle;
};

static int log_has(void *arg)
{
	const struct log_wait *w = arg;
	return harness_log_contains(w->h, w->needle);
}

int harness_wait_log(const struct harness *h, const char *needle, int ms)
{
	struct log_wait w = {h, needle};
	return harness_wait_until(log_has, &w, ms);
}

long long harness_stat(const struct harness *h, const char *key)
{
	struct wc c;
	struct wc_frame f;
	long long v = -1;
	char pat[96];
	if (wc_connect(&c, h->endpoint) < 0)
		return -1;
	if (wc_call(&c, 1, "sys.stats", NULL, 0, &f) == 0) {
		char *json = malloc(f.len + 1);
		if (json) {
			memcpy(json, f.data, f.len);
			json[f.len] = '\0';
			snprintf(pat, sizeof(pat), "\"%s\":", key);
			char *p = strstr(json, pat);
			if (p)
				v = strtoll(p + strlen(pat), NULL, 10);
			free(json);
		}
		wc_frame_free(&f);
	}
	wc_close(&c);
	return v;
}

/* ------------------------------------------------------------------------
 * This host: ports, addresses, programs.
 * ------------------------------------------------------------------------ */

int harness_free_tcp_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "harness: socket for a free port: %s\n", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		fprintf(stderr, "harness: binding 127.0.0.1:0 for a free port: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sa.sin_port);
}

int harness_non_loopback_addr(char *out, size_t len)
{
	struct ifaddrs *ifs, *i;
	int found = 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		if ((ntohl(a.s_addr) >> 24) == 127)
			continue;
		found = inet_ntop(AF_INET, &a, out, (socklen_t)len) != NULL;
	}
	freeifaddrs(ifs);
	return found;
}

int harness_find_program(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof(dirs), "%s:/usr/bin:/bin:/usr/sbin:/sbin", path ? path : "");
	for (char *save, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", d, name);
		if (access(out, X_OK) == 0)
			return 0;
	}
	if (len)
		out[0] = '\0';
	return -1;
}

long harness_proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	size_t flen = strlen(field);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, field, flen) == 0 && line[flen] == ':')
			kb = strtol(line + flen + 1, NULL, 10);
	fclose(fp);
	return kb;
}

/* ------------------------------------------------------------------------
 * The raw wire client.
 * ------------------------------------------------------------------------ */

static int connect_tcp(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
		errno = EINVAL;
		return -1;
	}
	size_t hlen = (size_t)(colon - spec);
	const char *hp = spec;
	if (hlen >= 2 && hp[0] == '[') {
		hp++;
		hlen -= 2;
	}
	memcpy(host, hp, hlen);
	host[hlen] = '\0';
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		int e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(res);
	return fd;
}

int wc_connect(struct wc *c, const char *endpoint)
{
	memset(c, 0, sizeof(*c));
	wire_decoder_init(&c->dec, WIRE_MAX_BODY_LIMIT);
	if (strncmp(endpoint, "unix:", 5) == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", endpoint + 5);
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = errno;
			close(c->fd);
			c->fd = -1;
			errno = e;
		}
	} else if (strncmp(endpoint, "tcp:", 4) == 0) {
		c->fd = connect_tcp(endpoint + 4);
	} else {
		errno = EINVAL;
		c->fd = -1;
	}
	return c->fd < 0 ? -1 : 0;
}

void wc_close(struct wc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	wire_decoder_free(&c->dec);
}

int wc_send_raw(struct wc *c, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		int left = (int)(end - harness_now_ms());
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return -1;
	}
	return 0;
}

int wc_send_request(struct wc *c, uint32_t id, const char *method, const void *payload,
                    size_t len, uint32_t deadline_ms, uint16_t flags)
{
	uint8_t prefix[WIRE_REQUEST_PREFIX_MAX];
	size_t plen = wire_pack_request_prefix(prefix, id, flags, deadline_ms, method,
	                                       strlen(method), len);
	if (plen == 0)
		return -1;
	uint8_t *buf = malloc(plen + len);
	if (!buf)
		return -1;
	memcpy(buf, prefix, plen);
	if (len)
		memcpy(buf + plen, payload, len);
	int r = wc_send_raw(c, buf, plen + len);
	free(buf);
	return r;
}

int wc_send_u32(struct wc *c, uint32_t id, const char *method, uint32_t v)
{
	uint8_t p[4];
	wire_put32(p, v);
	return wc_send_request(c, id, method, p, 4, 0, 0);
}

int wc_send_control(struct wc *c, uint8_t type, uint32_t id)
{
	uint8_t frame[WIRE_HEADER_SIZE];
	wire_pack_control(frame, type, id, 0);
	return wc_send_raw(c, frame, sizeof(frame));
}

void wc_frame_free(struct wc_frame *f)
{
	free(f->data);
	f->data = NULL;
	f->len = 0;
}

int wc_read(struct wc *c, struct wc_frame *out, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;
	struct wire_frame f;
	memset(out, 0, sizeof(*out));
	for (;;) {
		int r = wire_decoder_next(&c->dec, &f);
		if (r < 0) {
			fprintf(stderr, "wc: bad frame from the server: %s\n", wire_error_message(r));
			return -1;
		}
		if (r == 1) {
			out->type = f.type;
			out->flags = f.flags;
			out->call_id = f.call_id;
			out->word = f.word;
			out->fault = f.fault;
			out->len = f.data_len;
			out->data = malloc(f.data_len + 1);
			if (!out->data)
				return -1;
			memcpy(out->data, f.data, f.data_len);
			out->data[f.data_len] = 0;
			return 1;
		}
		size_t room;
		uint8_t *space = wire_decoder_space(&c->dec, &room);
		if (!space)
			return -1;
		int left = (int)(end - harness_now_ms());
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return -1;
		ssize_t n = read(c->fd, space, room);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		wire_decoder_commit(&c->dec, (size_t)n);
	}
}

int wc_call(struct wc *c, uint32_t id, const char *method, const void *payload, size_t len,
            struct wc_frame *reply)
{
	if (wc_send_request(c, id, method, payload, len, 0, 0) < 0)
		return -1;
	if (wc_read(c, reply, HARNESS_TIMEOUT_MS) != 1)
		return -1;
	if (reply->type != WIRE_REPLY || reply->call_id != id) {
		wc_frame_free(reply);
		return -1;
	}
	return (int)reply->word;
}

int wc_expect_reply(struct wc *c, uint32_t id, uint32_t status, const char *detail)
{
	struct wc_frame f;
	int r = wc_read(c, &f, HARNESS_TIMEOUT_MS);
	if (r != 1) {
		fprintf(stderr, "wc: no reply to call %u (wc_read %d)\n", id, r);
		return -1;
	}
	int ok = f.type == WIRE_REPLY && f.call_id == id && f.word == status;
	if (!ok) {
		fprintf(stderr, "wc: %s to call %u with status %u; expected the REPLY to call %u "
		        "with status %u\n", wire_type_name(f.type), f.call_id, f.word, id, status);
	} else if (detail && (f.len != strlen(detail) || memcmp(f.data, detail, f.len) != 0)) {
		fprintf(stderr, "wc: call %u: detail '%.*s', expected '%s'\n", id, (int)f.len,
		        (const char *)f.data, detail);
		ok = 0;
	}
	wc_frame_free(&f);
	return ok ? 0 : -1;
}

int wc_ping(struct wc *c, uint32_t id)
{
	struct wc_frame f;
	if (wc_send_control(c, WIRE_PING, id) < 0)
		return -1;
	int r = wc_read(c, &f, HARNESS_TIMEOUT_MS);
	if (r != 1) {
		fprintf(stderr, "wc: no PONG for PING %u (wc_read %d)\n", id, r);
		return -1;
	}
	int ok = f.type == WIRE_PONG && f.call_id == id;
	if (!ok)
		fprintf(stderr, "wc: %s %u came before the PONG for PING %u\n",
		        wire_type_name(f.type), f.call_id, id);
	wc_frame_free(&f);
	return ok ? 0 : -1;
}
