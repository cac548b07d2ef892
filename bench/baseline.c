/*
 * baseline.c: the machine's own limit.  The same request/response pattern
 * as an RPC (a client sends `size` bytes, a server process sends them back)
 * over a raw Unix socketpair with no RPC layer at all: sequentially, for
 * latency; with `window` messages outstanding and whole batches per
 * syscall, for the batched rate; and with one write per message, for the
 * per-syscall rate.  Every arpc figure is read as a ratio to these,
 * measured in the same run on the same placement.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

enum echo_style { ECHO_BATCHED, ECHO_PER_MESSAGE };

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			return -1;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;
	while (put < len) {
		ssize_t n = write(fd, (const char *)buf + put, len - put);
		if (n > 0)
			put += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			return -1;
	}
	return 0;
}

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "arpc-bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

/* The server: echoes whole messages back until EOF, a batch per read or a
 * write per message. */
static void echo_server(int fd, size_t size, enum echo_style style)
{
	size_t cap = 1u << 20;
	char *buf = malloc(cap);
	size_t have = 0;
	if (!buf)
		_exit(1);
	for (;;) {
		ssize_t n = read(fd, buf + have, cap - have);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			_exit(0);
		}
		have += (size_t)n;
		size_t whole = have / size * size;
		if (style == ECHO_BATCHED) {
			if (whole && write_full(fd, buf, whole) < 0)
				_exit(1);
		} else {
			for (size_t off = 0; off < whole; off += size)
				if (write_full(fd, buf + off, size) < 0)
					_exit(1);
		}
		memmove(buf, buf + whole, have - whole);
		have -= whole;
	}
}

static pid_t start_server(int fds[2], const struct bench_opts *o, enum echo_style style)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		pin(o->server_cpu);
		echo_server(fds[1], o->size, style);
	}
	close(fds[1]);
	return pid;
}

static void stop_server(int fd, pid_t pid)
{
	close(fd);
	int st;
	waitpid(pid, &st, 0);
}

static int measure_latency(const struct bench_opts *o, struct bench_result *r)
{
	int fds[2];
	pid_t pid = start_server(fds, o, ECHO_BATCHED);
	if (pid < 0)
		return -1;
	char *msg = calloc(1, o->size), *back = malloc(o->size);
	if (!msg || !back)
		return -1;
	for (uint64_t i = 0; i < o->warmup; i++)
		if (write_full(fds[0], msg, o->size) < 0 || read_full(fds[0], back, o->size) < 0)
			return -1;
	double cpu0 = process_cpu_s(), t0 = now_s();
	for (uint64_t i = 0;; i++) {
		double elapsed = now_s() - t0;
		if (o->count ? i >= o->count : elapsed >= o->duration)
			break;
		uint64_t s = now_ns_bench();
		if (write_full(fds[0], msg, o->size) < 0 || read_full(fds[0], back, o->size) < 0) {
			r->errors++;
			break;
		}
		hist_record(&r->lat, now_ns_bench() - s);
		r->calls++;
		if ((i & 4095) == 0)
			progress(o, r->label, r->calls, elapsed);
	}
	r->seconds = now_s() - t0;
	r->client_cpu_s = process_cpu_s() - cpu0;
	progress_done(o);
	stop_server(fds[0], pid);
	free(msg);
	free(back);
	return 0;
}

/* Keeps `window` messages outstanding; writes a whole batch per syscall,
 * or one message per syscall. */
static int measure_rate(const struct bench_opts *o, enum echo_style style,
                        struct bench_result *r)
{
	int fds[2];
	pid_t pid = start_server(fds, o, style);
	if (pid < 0)
		return -1;
	size_t batch = (size_t)o->window * o->size;
	char *out = calloc(1, batch), *in = malloc(batch);
	if (!out || !in)
		return -1;
	uint64_t outstanding = 0, received_bytes = 0;
	double cpu0 = process_cpu_s(), t0 = now_s();
	int stop = 0;
	for (;;) {
		double elapsed = now_s() - t0;
		if (o->count ? r->calls + outstanding >= o->count : elapsed >= o->duration)
			stop = 1;
		if (stop && outstanding == 0)
			break;
		if (!stop && outstanding < o->window) {
			size_t n = o->window - outstanding;
			if (style == ECHO_BATCHED) {
				if (write_full(fds[0], out, n * o->size) < 0)
					return -1;
			} else {
				for (size_t k = 0; k < n; k++)
					if (write_full(fds[0], out, o->size) < 0)
						return -1;
			}
			outstanding += n;
		}
		ssize_t got = read(fds[0], in, batch);
		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			return -1;
		}
		received_bytes += (uint64_t)got;
		uint64_t done = received_bytes / o->size;
		received_bytes -= done * o->size;
		outstanding -= done;
		r->calls += done;
		progress(o, r->label, r->calls, elapsed);
	}
	r->seconds = now_s() - t0;
	r->client_cpu_s = process_cpu_s() - cpu0;
	progress_done(o);
	stop_server(fds[0], pid);
	free(out);
	free(in);
	return 0;
}

int run_baseline(const struct bench_opts *o)
{
	struct bench_result r;
	result_init(&r, "baseline raw socket, sequential");
	if (measure_latency(o, &r) < 0) {
		fprintf(stderr, "arpc-bench: baseline latency run failed: %s\n", strerror(errno));
		return 1;
	}
	result_print(o, &r);
	char label[96];
	snprintf(label, sizeof(label), "baseline raw socket, %u in flight, batched", o->window);
	result_init(&r, label);
	if (measure_rate(o, ECHO_BATCHED, &r) < 0) {
		fprintf(stderr, "arpc-bench: baseline batched run failed: %s\n", strerror(errno));
		return 1;
	}
	result_print(o, &r);
	snprintf(label, sizeof(label), "baseline raw socket, %u in flight, one write per message",
	         o->window);
	result_init(&r, label);
	if (measure_rate(o, ECHO_PER_MESSAGE, &r) < 0) {
		fprintf(stderr, "arpc-bench: baseline per-message run failed: %s\n", strerror(errno));
		return 1;
	}
	result_print(o, &r);
	return 0;
}
