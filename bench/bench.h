/*
 * bench.h: what arpc-bench's modes share: settings, results, reporting.
 */
#ifndef ARPC_BENCH_H
#define ARPC_BENCH_H

#include <stdint.h>

#include <arpc/arpc.h>

#include "histogram.h"

struct bench_opts {
	const char *endpoint;
	const char *method;
	size_t size;                 /* payload bytes */
	double duration;             /* seconds, when count is 0 */
	uint64_t count;              /* calls, or 0 for duration */
	uint64_t warmup;             /* calls before measuring */
	unsigned window;             /* throughput: outstanding calls per connection */
	unsigned connections;
	arpc_notify_type notify;
	uint64_t calls;              /* delay: calls pending at once */
	uint32_t delay_ms;           /* delay: each call's delay */
	int cpu;                     /* pin this process, -1: no */
	int server_cpu;              /* baseline: pin the echo process, -1: no */
	int json;
	int progress;                /* a progress line on stderr (a terminal) */
};

struct bench_result {
	char label[96];
	uint64_t calls, errors;
	double seconds;
	struct histogram lat;        /* per-call latency, ns; empty if not measured */
	double client_cpu_s;         /* user + system of this process */
	double daemon_cpu_s;         /* from sys.stats; < 0 if unknown */
	/* delay mode */
	long long pending_peak;
	long long rss_base_kb, rss_peak_kb, rss_after_kb;
};

void result_init(struct bench_result *r, const char *label);
void result_print(const struct bench_opts *o, const struct bench_result *r);
/* Seconds of CPU (user + system) this process used so far. */
double process_cpu_s(void);
double now_s(void);
uint64_t now_ns_bench(void);
void progress(const struct bench_opts *o, const char *label, uint64_t calls, double elapsed);
void progress_done(const struct bench_opts *o);

/* Counters from the daemon's sys.stats over a binding of their own;
 * returns -1 where unavailable. */
long long daemon_stat(const char *endpoint, const char *key);
double daemon_cpu_s(const char *endpoint);

int run_baseline(const struct bench_opts *o);
int run_latency(const struct bench_opts *o);
int run_throughput(const struct bench_opts *o);
int run_delay(const struct bench_opts *o);

#endif
