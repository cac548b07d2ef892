/*
 * hostile.c: arpc-stress --hostile: how much memory hostile clients can
 * make arpcd hold at its shipped defaults, and what another client's
 * synchronous calls cost meanwhile (docs/reliability.md, "Memory under
 * hostile clients").
 *
 * arpcd runs with the built-in defaults, which are the shipped
 * conf/arpcd.conf's, plus demo_methods = yes (the attacks use them).  One
 * connection keeps the workers asleep (demo.sleep of demo_sleep_max, sent
 * again as they end); then C hostile connections write requests as fast as
 * arpcd takes them, without waiting for replies (which they read and
 * discard), for the given time, reconnecting if arpcd closes them:
 *
 *   big:   demo.echo_worker with a payload that fills max_frame: each waits
 *          in the worker queue behind the sleeps, holding its request;
 *   small: demo.async_delay of an hour: each holds its call record and
 *          timer, and no worker.
 *
 * Meanwhile a victim thread makes synchronous demo.echo calls (64 bytes,
 * an inline handler) through libarpc, one after the other, and records
 * each one's latency.  Reported: arpcd's VmRSS at start, its peak (VmHWM,
 * and VmRSS sampled every 20 ms), sys.stats memory_charged_peak against
 * max_total_memory, and the victim's call count, failures, p50, p99 and
 * maximum.  Traffic stays on a unix socket in a temporary directory.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpc/arpc.h>

#include "harness.h"
#include "hostile.h"
#include "sampler.h"

/* The shipped defaults' max_frame and demo_sleep_max. */
#define DEFAULT_MAX_FRAME (1024u * 1024u)
#define DEFAULT_SLEEP_MS 10000u
#define DEFAULT_WORKERS 4
/* The victim's latencies kept: plenty for a run of minutes. */
#define MAX_SAMPLES 2000000u
#define VICTIM_PAYLOAD 64

struct hostile_conn {
	struct wc wc;
	size_t off;        /* bytes of the current frame sent */
	uint32_t next_id;
	int open;
};

struct victim {
	const char *endpoint;
	atomic_int stop;
	uint32_t *lat_us;
	size_t n, failed;
	char error[160];
	pthread_t t;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *victim_main(void *arg)
{
	struct victim *v = arg;
	arpc_binding *b;
	uint8_t req[VICTIM_PAYLOAD];
	memset(req, 'v', sizeof(req));
	arpc_status st = arpc_binding_open(v->endpoint, &b);
	if (st != ARPC_S_OK) {
		snprintf(v->error, sizeof(v->error), "binding: %s", arpc_status_name(st));
		return NULL;
	}
	/* A bound on each call, so that a starved victim shows as failures. */
	arpc_binding_set_timeout(b, 60000);
	while (!atomic_load(&v->stop) && v->n < MAX_SAMPLES) {
		arpc_reply r;
		int64_t t0 = now_us();
		st = arpc_call(b, "demo.echo", req, sizeof(req), &r);
		int64_t dt = now_us() - t0;
		if (st != ARPC_S_OK || r.len != sizeof(req)) {
			if (!v->error[0])
				snprintf(v->error, sizeof(v->error), "demo.echo: %s", arpc_status_name(st));
			v->failed++;
		} else {
			v->lat_us[v->n++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		}
		arpc_reply_free(&r);
	}
	arpc_binding_close(b);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Reads and drops whatever arrived; -1 when the peer closed or failed. */
static int drain(int fd)
{
	static uint8_t scratch[65536];
	for (;;) {
		ssize_t n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n == 0)
			return -1;
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	}
}

/* Writes what the socket takes of the frames; bytes written, or -1. */
static long push(struct hostile_conn *h, uint8_t *frame, size_t len)
{
	long total = 0;
	for (;;) {
		if (h->off == 0)
			wire_put32(frame + 8, h->next_id); /* the header's call_id */
		ssize_t w = send(h->wc.fd, frame + h->off, len - h->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? total : -1;
		total += w;
		h->off += (size_t)w;
		if (h->off == len) {
			h->off = 0;
			h->next_id = h->next_id == UINT32_MAX ? 1 : h->next_id + 1;
		}
	}
}

static int sleepers(struct wc *c, uint32_t *id)
{
	for (int i = 0; i < DEFAULT_WORKERS; i++)
		if (wc_send_u32(c, (*id)++, "demo.sleep", DEFAULT_SLEEP_MS) < 0)
			return -1;
	return 0;
}

int hostile_run(const struct hostile_opts *o)
{
	struct harness h;
	struct victim v = {0};
	struct rss_sampler smp = {0};
	struct hostile_conn *hc = calloc(o->connections, sizeof(*hc));
	uint8_t *frame = NULL;
	size_t frame_len;
	int ok = 1, victim_started = 0;
	uint64_t sent = 0, opened = 0;

	v.lat_us = malloc(MAX_SAMPLES * sizeof(*v.lat_us));
	if (!hc || !v.lat_us) {
		fprintf(stderr, "arpc-stress: out of memory\n");
		free(hc);
		free(v.lat_us);
		return 1;
	}
	/* The request every hostile connection sends, again and again. */
	uint8_t prefix[WIRE_REQUEST_PREFIX_MAX];
	const char *method = o->small ? "demo.async_delay" : "demo.echo_worker";
	size_t payload = o->small ? 4 : DEFAULT_MAX_FRAME - 1 - strlen(method);
	size_t plen = wire_pack_request_prefix(prefix, 1, 0, 0, method, strlen(method), payload);
	frame_len = plen + payload;
	frame = malloc(frame_len);
	if (!frame) {
		fprintf(stderr, "arpc-stress: out of memory\n");
		free(hc);
		free(v.lat_us);
		return 1;
	}
	memcpy(frame, prefix, plen);
	memset(frame + plen, 'h', payload);
	if (o->small)
		wire_put32(frame + plen, 3600000);

	if (harness_init(&h, NULL) < 0 || harness_start(&h, NULL) < 0) {
		harness_cleanup(&h);
		free(hc);
		free(v.lat_us);
		free(frame);
		return 1;
	}
	long rss_start = harness_proc_status_kb(h.pid, "VmRSS");
	long long budget = harness_stat(&h, "memory_budget");
	printf("arpc-stress: hostile: %u connections, %s requests (%s, %zu bytes each), %u s; "
	       "arpcd at the shipped defaults with demo_methods = yes\n",
	       o->connections, o->small ? "small" : "big", method, frame_len, o->seconds);
	fflush(stdout);

	struct wc sleeper = {.fd = -1};
	uint32_t sleep_id = 1;
	if (wc_connect(&sleeper, h.endpoint) < 0 || sleepers(&sleeper, &sleep_id) < 0) {
		fprintf(stderr, "arpc-stress: the sleeper connection failed\n");
		ok = 0;
		goto out;
	}
	if (!harness_wait_stat(&h, "workers_busy", DEFAULT_WORKERS, HARNESS_TIMEOUT_MS)) {
		fprintf(stderr, "arpc-stress: the workers did not all fall asleep\n");
		ok = 0;
		goto out;
	}
	/* Without the sampler the figure is VmHWM's alone. */
	(void)rss_sampler_start(&smp, h.pid);
	v.endpoint = h.endpoint;
	victim_started = pthread_create(&v.t, NULL, victim_main, &v) == 0;
	if (!victim_started) {
		fprintf(stderr, "arpc-stress: cannot start the victim thread\n");
		ok = 0;
		goto out;
	}

	int64_t end = now_us() + (int64_t)o->seconds * 1000000;
	int64_t next_sleep = now_us() + DEFAULT_SLEEP_MS * 1000;
	while (now_us() < end) {
		for (unsigned i = 0; i < o->connections; i++) {
			struct hostile_conn *c = &hc[i];
			if (!c->open) {
				if (wc_connect(&c->wc, h.endpoint) < 0)
					continue; /* over max_connections, or the backlog: next turn */
				c->open = 1;
				c->off = 0;
				c->next_id = 1;
				opened++;
			}
			long w = push(c, frame, frame_len);
			if (w < 0 || drain(c->wc.fd) < 0) {
				wc_close(&c->wc);
				c->open = 0;
				continue;
			}
			sent += (uint64_t)w;
		}
		if (drain(sleeper.fd) < 0) {
			fprintf(stderr, "arpc-stress: arpcd closed the sleeper connection\n");
			ok = 0;
			break;
		}
		if (now_us() >= next_sleep) {
			/* Behind the queued requests: the workers sleep again once
			 * they reach them. */
			if (sleepers(&sleeper, &sleep_id) < 0)
				break;
			next_sleep += DEFAULT_SLEEP_MS * 1000;
		}
		usleep(1000);
	}
	long long peak_charged = harness_stat(&h, "memory_charged_peak");
	long long paused = harness_stat(&h, "connections_budget_paused");
	long rss_hwm = harness_proc_status_kb(h.pid, "VmHWM");
	long rss_sampled = rss_sampler_stop(&smp);

	atomic_store(&v.stop, 1);
	pthread_join(v.t, NULL);
	victim_started = 0;
	if (v.error[0])
		fprintf(stderr, "arpc-stress: victim: first error: %s\n", v.error);

	printf("arpc-stress: hostile: sent %.1f MiB over %llu connections opened (reconnects "
	       "included); %lld paused for the budget at the end\n",
	       (double)sent / (1024.0 * 1024.0), (unsigned long long)opened, paused);
	printf("arpc-stress: hostile: arpcd RSS start %ld KiB, peak %ld KiB (VmHWM; sampled %ld); "
	       "memory_charged_peak %lld bytes of max_total_memory %lld\n",
	       rss_start, rss_hwm, rss_sampled, peak_charged, budget);
	if (v.n > 0) {
		qsort(v.lat_us, v.n, sizeof(*v.lat_us), cmp_u32);
		printf("arpc-stress: hostile: victim sync demo.echo (64 B): %zu calls, %zu failed; "
		       "p50 %u us, p99 %u us, max %u us\n",
		       v.n, v.failed, v.lat_us[v.n / 2], v.lat_us[(size_t)((double)v.n * 0.99)],
		       v.lat_us[v.n - 1]);
	} else {
		printf("arpc-stress: hostile: victim: no call answered (%zu failed)\n", v.failed);
	}
	if (v.n == 0 || v.failed || peak_charged <= 0 || peak_charged > budget)
		ok = 0;

out:
	if (victim_started) {
		atomic_store(&v.stop, 1);
		pthread_join(v.t, NULL);
	}
	rss_sampler_stop(&smp);
	for (unsigned i = 0; i < o->connections; i++)
		if (hc[i].open)
			wc_close(&hc[i].wc);
	wc_close(&sleeper);
	fflush(stdout);
	int st = harness_stop(&h);
	printf("arpc-stress: arpcd exit status %d\n", st);
	if (st != 0)
		ok = 0;
	harness_cleanup(&h);
	free(hc);
	free(v.lat_us);
	free(frame);
	printf("arpc-stress: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
