/*
 * rpc.c: arpc-bench's modes that go through libarpc and arpcd.
 *
 *  latency     sequential synchronous calls on one binding;
 *  throughput  `window` asynchronous calls kept in flight on each of
 *              `connections` bindings, completed by a chosen notification
 *              kind (CALLBACK resubmits from the I/O thread; every other
 *              kind has a driver thread per binding);
 *  delay       `calls` demo.async_delay calls pending at once over
 *              `connections` bindings: how many the daemon holds, and its
 *              resident memory per pending call.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ---- latency -------------------------------------------------------------- */

int run_latency(const struct bench_opts *o)
{
	arpc_binding *b;
	arpc_status st = arpc_binding_open(o->endpoint, &b);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "arpc-bench: cannot connect to %s: %s\n", o->endpoint, arpc_strerror(st));
		return 1;
	}
	char *req = malloc(o->size ? o->size : 1);
	if (!req)
		return 1;
	memset(req, 'x', o->size);
	struct bench_result r;
	char label[96];
	snprintf(label, sizeof(label), "latency %s %zu B, sequential sync calls", o->method, o->size);
	result_init(&r, label);

	arpc_reply rep;
	for (uint64_t i = 0; i < o->warmup; i++) {
		if (arpc_call(b, o->method, req, o->size, &rep) != ARPC_S_OK)
			r.errors++;
		arpc_reply_free(&rep);
	}
	double dcpu0 = daemon_cpu_s(o->endpoint);
	double cpu0 = process_cpu_s(), t0 = now_s();
	for (uint64_t i = 0;; i++) {
		double elapsed = now_s() - t0;
		if (o->count ? i >= o->count : elapsed >= o->duration)
			break;
		uint64_t s = now_ns_bench();
		st = arpc_call(b, o->method, req, o->size, &rep);
		uint64_t lat = now_ns_bench() - s;
		arpc_reply_free(&rep);
		if (st != ARPC_S_OK) {
			if (r.errors++ == 0)
				fprintf(stderr, "arpc-bench: %s: %s\n", o->method, arpc_strerror(st));
			continue;
		}
		hist_record(&r.lat, lat);
		r.calls++;
		if ((i & 4095) == 0)
			progress(o, label, r.calls, elapsed);
	}
	r.seconds = now_s() - t0;
	r.client_cpu_s = process_cpu_s() - cpu0;
	double dcpu1 = daemon_cpu_s(o->endpoint);
	r.daemon_cpu_s = dcpu0 >= 0 && dcpu1 >= 0 ? dcpu1 - dcpu0 : -1;
	progress_done(o);
	result_print(o, &r);
	free(req);
	arpc_binding_close(b);
	return r.errors ? 1 : 0;
}

/* ---- throughput ----------------------------------------------------------- */

struct tp_conn;

struct tp_slot {
	arpc_async a;
	uint64_t started;
	struct tp_conn *conn;
	int efd;                  /* EVENT: one per slot */
};

struct tp_conn {
	const struct bench_opts *o;
	arpc_binding *b;
	struct tp_slot *slots;
	arpc_cq *cq;
	arpc_msgq *mq;
	pthread_t driver;
	struct histogram lat;
	/* CALLBACK: the main thread starts the window while the I/O thread
	 * completes calls, and the main thread reads calls for its progress
	 * line: hence atomics. */
	_Atomic uint64_t calls, errors;
	atomic_uint outstanding;
	atomic_int *stop;
	char *req;
	/* CALLBACK: the I/O thread says the last call drained under mu, which
	 * also orders the histogram it wrote before the main thread reads it. */
	pthread_mutex_t mu;
	pthread_cond_t drained_cv;
	int drained;
	struct pollfd *pfds;      /* EVENT: one per slot */
};

static void tp_callback(arpc_async *a, arpc_event ev);
static void tp_apc(arpc_async *a, arpc_event ev);

static int tp_submit(struct tp_conn *c, struct tp_slot *s)
{
	arpc_async_init(&s->a, sizeof(s->a));
	s->a.user_info = s;
	s->a.notify = c->o->notify;
	/* A driver thread starts a batch of calls at once: one write for all
	 * of them (tp_driver flushes).  The CALLBACK kind runs on the I/O
	 * thread, which gathers its writes by itself. */
	if (c->o->notify != ARPC_NOTIFY_CALLBACK)
		s->a.flags = ARPC_CALL_MORE;
	switch (c->o->notify) {
	case ARPC_NOTIFY_EVENT:
		s->a.u.event_fd = s->efd;
		break;
	case ARPC_NOTIFY_APC:
		s->a.u.apc.fn = tp_apc;
		break;
	case ARPC_NOTIFY_IOC:
		s->a.u.ioc.cq = c->cq;
		s->a.u.ioc.tag = s;
		break;
	case ARPC_NOTIFY_MSG:
		s->a.u.msg.queue = c->mq;
		break;
	case ARPC_NOTIFY_CALLBACK:
		s->a.u.callback.fn = tp_callback;
		break;
	default:
		break;
	}
	s->started = now_ns_bench();
	/* Counted before it starts: its CALLBACK may run on the I/O thread
	 * before arpc_call_async has returned here. */
	atomic_fetch_add_explicit(&c->outstanding, 1, memory_order_relaxed);
	arpc_status st = arpc_call_async(c->b, &s->a, c->o->method, c->req, c->o->size, NULL, 0);
	if (st != ARPC_S_OK) {
		atomic_fetch_sub_explicit(&c->outstanding, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
		return -1;
	}
	return 0;
}

/* One completion: record it and, unless stopping, start the next call in
 * the same slot. */
static void tp_complete(struct tp_conn *c, struct tp_slot *s)
{
	uint64_t lat = now_ns_bench() - s->started;
	arpc_status st = arpc_async_complete(&s->a, NULL);
	atomic_fetch_sub_explicit(&c->outstanding, 1, memory_order_relaxed);
	if (st == ARPC_S_OK) {
		hist_record(&c->lat, lat);
		atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
	} else if (atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed) == 0) {
		fprintf(stderr, "arpc-bench: %s: %s\n", c->o->method, arpc_strerror(st));
	}
	if (!atomic_load_explicit(c->stop, memory_order_relaxed))
		tp_submit(c, s);
}

static void tp_callback(arpc_async *a, arpc_event ev)
{
	struct tp_slot *s = a->user_info;
	struct tp_conn *c = s->conn;
	tp_complete(c, s);
	if (atomic_load_explicit(&c->outstanding, memory_order_relaxed) == 0) {
		pthread_mutex_lock(&c->mu);
		c->drained = 1;
		pthread_cond_signal(&c->drained_cv);
		pthread_mutex_unlock(&c->mu);
	}
}

static void tp_apc(arpc_async *a, arpc_event ev)
{
	struct tp_slot *s = a->user_info;
	tp_complete(s->conn, s);
}

/* Waits for completions the way the notification kind delivers them. */
static void tp_reap(struct tp_conn *c)
{
	unsigned w = c->o->window;
	switch (c->o->notify) {
	case ARPC_NOTIFY_NONE:
		for (unsigned i = 0; i < w; i++)
			if (arpc_async_get_status(&c->slots[i].a) != ARPC_S_ASYNC_CALL_PENDING &&
			    arpc_async_get_status(&c->slots[i].a) != ARPC_S_INVALID_ASYNC_HANDLE)
				tp_complete(c, &c->slots[i]);
		break;
	case ARPC_NOTIFY_EVENT: {
		struct pollfd *p = c->pfds;
		for (unsigned i = 0; i < w; i++)
			p[i] = (struct pollfd){ .fd = c->slots[i].efd, .events = POLLIN };
		if (poll(p, w, 1000) <= 0)
			break;
		for (unsigned i = 0; i < w; i++) {
			uint64_t n;
			if ((p[i].revents & POLLIN) && read(c->slots[i].efd, &n, sizeof(n)) == sizeof(n))
				tp_complete(c, &c->slots[i]);
		}
		break;
	}
	case ARPC_NOTIFY_APC:
		arpc_sleep_alertable(1000);
		break;
	case ARPC_NOTIFY_IOC: {
		arpc_completion comp;
		if (arpc_cq_get(c->cq, &comp, 1000) != ARPC_S_OK)
			break;
		do
			tp_complete(c, comp.tag);
		while (arpc_cq_get(c->cq, &comp, 0) == ARPC_S_OK);
		break;
	}
	case ARPC_NOTIFY_MSG: {
		struct pollfd p = { .fd = arpc_msgq_fd(c->mq), .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			break;
		arpc_msg m;
		while (arpc_msgq_get(c->mq, &m) == ARPC_S_OK)
			tp_complete(c, m.async->user_info);
		break;
	}
	default:
		break;
	}
}

static void *tp_driver(void *arg)
{
	struct tp_conn *c = arg;
	for (unsigned i = 0; i < c->o->window; i++)
		tp_submit(c, &c->slots[i]);
	arpc_binding_flush(c->b);
	while (c->outstanding > 0) {
		tp_reap(c);
		arpc_binding_flush(c->b);
	}
	return NULL;
}

static int tp_setup(struct tp_conn *c, const struct bench_opts *o, atomic_int *stop)
{
	memset(c, 0, sizeof(*c));
	c->o = o;
	c->stop = stop;
	hist_init(&c->lat);
	arpc_status st = arpc_binding_open(o->endpoint, &c->b);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "arpc-bench: cannot connect to %s: %s\n", o->endpoint, arpc_strerror(st));
		return -1;
	}
	c->slots = calloc(o->window, sizeof(*c->slots));
	c->req = malloc(o->size ? o->size : 1);
	c->cq = arpc_cq_create();
	c->mq = arpc_msgq_create();
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->drained_cv, NULL);
	c->pfds = calloc(o->window, sizeof(*c->pfds));
	if (!c->slots || !c->req || !c->cq || !c->mq || !c->pfds)
		return -1;
	memset(c->req, 'x', o->size);
	for (unsigned i = 0; i < o->window; i++) {
		c->slots[i].conn = c;
		c->slots[i].efd = -1;
		if (o->notify == ARPC_NOTIFY_EVENT &&
		    (c->slots[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			return -1;
	}
	return 0;
}

static void tp_teardown(struct tp_conn *c)
{
	if (c->slots && c->o->notify == ARPC_NOTIFY_EVENT)
		for (unsigned i = 0; i < c->o->window; i++)
			if (c->slots[i].efd >= 0)
				close(c->slots[i].efd);
	arpc_binding_close(c->b);
	c->b = NULL;
	arpc_cq_destroy(c->cq);
	arpc_msgq_destroy(c->mq);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->drained_cv);
	free(c->slots);
	free(c->req);
	free(c->pfds);
}

/* CALLBACK: waits up to `secs` for the last call of c to drain. */
static int tp_wait_drained(struct tp_conn *c, int secs)
{
	struct timespec limit;
	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += secs;
	int r = 0;
	pthread_mutex_lock(&c->mu);
	while (!c->drained && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&c->drained_cv, &c->mu, &limit);
	int drained = c->drained;
	pthread_mutex_unlock(&c->mu);
	return drained;
}

static const char *notify_name(arpc_notify_type k)
{
	static const char *names[] = { "none", "event", "apc", "ioc", "msg", "callback" };
	return (unsigned)k < 6 ? names[k] : "?";
}

int run_throughput(const struct bench_opts *o)
{
	atomic_int stop = 0;
	unsigned n = o->connections;
	struct tp_conn *conns = calloc(n, sizeof(*conns));
	if (!conns)
		return 1;
	for (unsigned i = 0; i < n; i++)
		if (tp_setup(&conns[i], o, &stop) < 0)
			return 1;
	struct bench_result r;
	char label[96];
	snprintf(label, sizeof(label), "throughput %s %zu B, %u x %u in flight, %s", o->method,
	         o->size, n, o->window, notify_name(o->notify));
	result_init(&r, label);

	double dcpu0 = daemon_cpu_s(o->endpoint);
	double cpu0 = process_cpu_s(), t0 = now_s();
	if (o->notify == ARPC_NOTIFY_CALLBACK) {
		/* Callbacks resubmit from the I/O thread: nothing else runs. */
		for (unsigned i = 0; i < n; i++)
			for (unsigned k = 0; k < o->window; k++)
				tp_submit(&conns[i], &conns[i].slots[k]);
	} else {
		for (unsigned i = 0; i < n; i++)
			pthread_create(&conns[i].driver, NULL, tp_driver, &conns[i]);
	}
	/* Counters are read unlocked for the progress line only. */
	for (;;) {
		double elapsed = now_s() - t0;
		uint64_t calls = 0;
		for (unsigned i = 0; i < n; i++)
			calls += atomic_load_explicit(&conns[i].calls, memory_order_relaxed);
		if (o->count ? calls >= o->count : elapsed >= o->duration)
			break;
		progress(o, label, calls, elapsed);
		usleep(20000);
	}
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < n; i++) {
		if (o->notify == ARPC_NOTIFY_CALLBACK) {
			if (!tp_wait_drained(&conns[i], 30))
				fprintf(stderr, "arpc-bench: connection %u did not drain\n", i);
		} else {
			pthread_join(conns[i].driver, NULL);
		}
	}
	r.seconds = now_s() - t0;
	r.client_cpu_s = process_cpu_s() - cpu0;
	double dcpu1 = daemon_cpu_s(o->endpoint);
	r.daemon_cpu_s = dcpu0 >= 0 && dcpu1 >= 0 ? dcpu1 - dcpu0 : -1;
	progress_done(o);
	for (unsigned i = 0; i < n; i++) {
		/* Once closed, no CALLBACK of the binding runs any more: what they
		 * counted can be read and their slots freed. */
		arpc_binding_close(conns[i].b);
		conns[i].b = NULL;
		hist_merge(&r.lat, &conns[i].lat);
		r.calls += conns[i].calls;
		r.errors += conns[i].errors;
		tp_teardown(&conns[i]);
	}
	free(conns);
	result_print(o, &r);
	return r.errors ? 1 : 0;
}

/* ---- delay ---------------------------------------------------------------- */

int run_delay(const struct bench_opts *o)
{
	unsigned n = o->connections;
	arpc_binding **b = calloc(n, sizeof(*b));
	arpc_async *a = calloc(o->calls, sizeof(*a));
	arpc_cq *cq = arpc_cq_create();
	if (!b || !a || !cq)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		arpc_status st = arpc_binding_open(o->endpoint, &b[i]);
		if (st != ARPC_S_OK) {
			fprintf(stderr, "arpc-bench: cannot connect to %s: %s\n", o->endpoint,
			        arpc_strerror(st));
			return 1;
		}
	}
	struct bench_result r;
	char label[96];
	snprintf(label, sizeof(label), "delay %llu x demo.async_delay %u ms over %u connections",
	         (unsigned long long)o->calls, o->delay_ms, n);
	result_init(&r, label);
	r.rss_base_kb = daemon_stat(o->endpoint, "rss_kb");
	double dcpu0 = daemon_cpu_s(o->endpoint);
	double cpu0 = process_cpu_s(), t0 = now_s();

	uint8_t req[4] = { (uint8_t)o->delay_ms, (uint8_t)(o->delay_ms >> 8),
	                   (uint8_t)(o->delay_ms >> 16), (uint8_t)(o->delay_ms >> 24) };
	uint64_t started = 0;
	for (uint64_t i = 0; i < o->calls; i++) {
		arpc_async_init(&a[i], sizeof(a[i]));
		a[i].notify = ARPC_NOTIFY_IOC;
		a[i].u.ioc.cq = cq;
		if (arpc_call_async(b[i % n], &a[i], "demo.async_delay", req, 4, NULL, 0) == ARPC_S_OK)
			started++;
		else
			r.errors++;
	}
	/* While they are pending: how many does the daemon hold, at what cost? */
	uint64_t done = 0;
	r.pending_peak = -1;
	while (done < started) {
		long long inflight = daemon_stat(o->endpoint, "calls_inflight");
		long long rss = daemon_stat(o->endpoint, "rss_kb");
		if (inflight > r.pending_peak)
			r.pending_peak = inflight;
		if (rss > r.rss_peak_kb)
			r.rss_peak_kb = rss;
		arpc_completion c;
		while (arpc_cq_get(cq, &c, done ? 0 : 50) == ARPC_S_OK) {
			if (arpc_async_complete(c.async, NULL) == ARPC_S_OK)
				r.calls++;
			else
				r.errors++;
			done++;
		}
		progress(o, label, done, now_s() - t0);
		if (now_s() - t0 > o->delay_ms / 1000.0 + 120) {
			fprintf(stderr, "arpc-bench: %llu calls never completed\n",
			        (unsigned long long)(started - done));
			r.errors += started - done;
			break;
		}
		if (done && done < started)
			usleep(10000);
	}
	r.seconds = now_s() - t0;
	r.client_cpu_s = process_cpu_s() - cpu0;
	double dcpu1 = daemon_cpu_s(o->endpoint);
	r.daemon_cpu_s = dcpu0 >= 0 && dcpu1 >= 0 ? dcpu1 - dcpu0 : -1;
	r.rss_after_kb = daemon_stat(o->endpoint, "rss_kb");
	progress_done(o);
	result_print(o, &r);
	for (unsigned i = 0; i < n; i++)
		arpc_binding_close(b[i]);
	arpc_cq_destroy(cq);
	free(a);
	free(b);
	return r.errors ? 1 : 0;
}
