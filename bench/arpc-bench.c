/*
 * arpc-bench: measures arpc against the machine's own limit.
 *
 *   arpc-bench [options] baseline | latency | throughput | delay
 *
 * docs/benchmarks.md has the commands, the placements (which CPU each
 * side runs on) and the figures measured.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t now_ns_bench(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double process_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void progress(const struct bench_opts *o, const char *label, uint64_t calls, double elapsed)
{
	static double last;
	if (!o->progress || elapsed - last < 0.5)
		return;
	last = elapsed;
	fprintf(stderr, "\r%s: %llu calls, %.0f/s   ", label, (unsigned long long)calls,
	        elapsed > 0 ? (double)calls / elapsed : 0.0);
	fflush(stderr);
}

void progress_done(const struct bench_opts *o)
{
	if (o->progress)
		fprintf(stderr, "\r\033[K");
}

long long daemon_stat(const char *endpoint, const char *key)
{
	arpc_binding *b;
	if (arpc_binding_open(endpoint, &b) != ARPC_S_OK)
		return -1;
	arpc_reply r;
	long long v = -1;
	if (arpc_call(b, "sys.stats", NULL, 0, &r) == ARPC_S_OK && r.len > 0) {
		char *text = strndup(r.data, r.len);
		char pat[80];
		snprintf(pat, sizeof(pat), "\"%s\":", key);
		const char *at = text ? strstr(text, pat) : NULL;
		if (at)
			v = strtoll(at + strlen(pat), NULL, 10);
		free(text);
	}
	arpc_reply_free(&r);
	arpc_binding_close(b);
	return v;
}

double daemon_cpu_s(const char *endpoint)
{
	long long user = daemon_stat(endpoint, "cpu_user_us");
	long long sys = daemon_stat(endpoint, "cpu_sys_us");
	if (user < 0 || sys < 0)
		return -1;
	return (double)(user + sys) / 1e6;
}

void result_init(struct bench_result *r, const char *label)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->label, sizeof(r->label), "%s", label);
	hist_init(&r->lat);
	r->daemon_cpu_s = -1;
	r->pending_peak = -1;
	r->rss_base_kb = r->rss_peak_kb = r->rss_after_kb = -1;
}

static void print_text(const struct bench_result *r)
{
	double rate = r->seconds > 0 ? (double)r->calls / r->seconds : 0;
	printf("%s\n", r->label);
	printf("  calls %llu in %.2f s: %.0f calls/s", (unsigned long long)r->calls, r->seconds, rate);
	if (r->errors)
		printf(", %llu ERRORS", (unsigned long long)r->errors);
	printf("\n");
	if (r->lat.total) {
		printf("  latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f)\n",
		       hist_quantile(&r->lat, 0.5) / 1e3, hist_quantile(&r->lat, 0.9) / 1e3,
		       hist_quantile(&r->lat, 0.99) / 1e3, hist_quantile(&r->lat, 0.999) / 1e3,
		       (double)r->lat.max / 1e3, hist_mean(&r->lat) / 1e3);
	}
	if (r->calls) {
		printf("  client CPU %.2f us/call", r->client_cpu_s * 1e6 / (double)r->calls);
		if (r->daemon_cpu_s >= 0)
			printf(", daemon CPU %.2f us/call", r->daemon_cpu_s * 1e6 / (double)r->calls);
		printf("\n");
	}
	if (r->pending_peak >= 0) {
		printf("  pending at once (daemon's calls_inflight): %lld\n", r->pending_peak);
		printf("  daemon RSS: %lld KiB before, %lld KiB peak, %lld KiB after", r->rss_base_kb,
		       r->rss_peak_kb, r->rss_after_kb);
		if (r->pending_peak > 0 && r->rss_base_kb >= 0)
			printf(": %.0f bytes per pending call",
			       (double)(r->rss_peak_kb - r->rss_base_kb) * 1024.0 / (double)r->pending_peak);
		printf("\n");
	}
}

static void print_json(const struct bench_result *r)
{
	double rate = r->seconds > 0 ? (double)r->calls / r->seconds : 0;
	printf("{\"label\":\"%s\",\"calls\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"calls_per_s\":%.0f",
	       r->label, (unsigned long long)r->calls, (unsigned long long)r->errors, r->seconds, rate);
	if (r->lat.total)
		printf(",\"latency_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,"
		       "\"max\":%.2f,\"mean\":%.2f}",
		       hist_quantile(&r->lat, 0.5) / 1e3, hist_quantile(&r->lat, 0.9) / 1e3,
		       hist_quantile(&r->lat, 0.99) / 1e3, hist_quantile(&r->lat, 0.999) / 1e3,
		       (double)r->lat.max / 1e3, hist_mean(&r->lat) / 1e3);
	if (r->calls) {
		printf(",\"client_cpu_us_per_call\":%.3f", r->client_cpu_s * 1e6 / (double)r->calls);
		if (r->daemon_cpu_s >= 0)
			printf(",\"daemon_cpu_us_per_call\":%.3f", r->daemon_cpu_s * 1e6 / (double)r->calls);
	}
	if (r->pending_peak >= 0)
		printf(",\"pending_peak\":%lld,\"rss_base_kb\":%lld,\"rss_peak_kb\":%lld,"
		       "\"rss_after_kb\":%lld",
		       r->pending_peak, r->rss_base_kb, r->rss_peak_kb, r->rss_after_kb);
	printf("}\n");
}

void result_print(const struct bench_opts *o, const struct bench_result *r)
{
	if (o->json)
		print_json(r);
	else
		print_text(r);
	fflush(stdout);
}

static void usage(FILE *to)
{
	fprintf(to,
	        "usage: arpc-bench [options] baseline | latency | throughput | delay\n"
	        "\n"
	        "  baseline     request/response over a raw Unix socketpair (no RPC): the limit\n"
	        "  latency      sequential synchronous calls\n"
	        "  throughput   a window of asynchronous calls in flight on each connection\n"
	        "  delay        many demo.async_delay calls pending at once; daemon memory per call\n"
	        "\n"
	        "options:\n"
	        "  -e, --endpoint E      the daemon (default: $ARPC_ENDPOINT, else %s)\n"
	        "  -m, --method M        method to call (default demo.echo)\n"
	        "  -s, --size N          payload bytes (default 64)\n"
	        "  -d, --duration S      seconds to run (default 5)\n"
	        "  -n, --count N         calls to make instead of a duration\n"
	        "  -w, --window W        calls in flight per connection (default 128)\n"
	        "  -c, --connections C   connections (default 1; delay: 10)\n"
	        "      --notify KIND     throughput: none|event|apc|ioc|msg|callback (default callback)\n"
	        "      --calls N         delay: calls pending at once (default 100000)\n"
	        "      --delay-ms MS     delay: each call's delay (default 1000)\n"
	        "      --warmup N        calls before measuring (default 1000)\n"
	        "      --cpu N           pin arpc-bench to CPU N\n"
	        "      --server-cpu N    baseline: pin the echo process to CPU N\n"
	        "  -j, --json            one JSON object per result\n",
	        ARPC_DEFAULT_ENDPOINT);
}

static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_notify(const char *s, arpc_notify_type *out)
{
	static const char *names[] = { "none", "event", "apc", "ioc", "msg", "callback" };
	for (int i = 0; i < 6; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (arpc_notify_type)i;
			return 0;
		}
	}
	return -1;
}

enum { OPT_NOTIFY = 256, OPT_CALLS, OPT_DELAY, OPT_WARMUP, OPT_CPU, OPT_SERVER_CPU };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' }, { "method", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },     { "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },    { "window", required_argument, NULL, 'w' },
		{ "connections", required_argument, NULL, 'c' },
		{ "notify", required_argument, NULL, OPT_NOTIFY },
		{ "calls", required_argument, NULL, OPT_CALLS },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "server-cpu", required_argument, NULL, OPT_SERVER_CPU },
		{ "json", no_argument, NULL, 'j' },           { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_opts o = {
		.method = "demo.echo", .size = 64, .duration = 5.0, .warmup = 1000, .window = 128,
		.connections = 0, .notify = ARPC_NOTIFY_CALLBACK, .calls = 100000, .delay_ms = 1000,
		.cpu = -1, .server_cpu = -1,
	};
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "e:m:s:d:n:w:c:jh", longopts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'e': o.endpoint = optarg; break;
		case 'm': o.method = optarg; break;
		case 's': bad = parse_count(optarg, &v) || v > (1u << 20); o.size = (size_t)v; break;
		case 'd': o.duration = strtod(optarg, NULL); bad = o.duration <= 0; break;
		case 'n': bad = parse_count(optarg, &o.count); break;
		case 'w': bad = parse_count(optarg, &v) || v == 0 || v > 65536; o.window = (unsigned)v; break;
		case 'c': bad = parse_count(optarg, &v) || v == 0 || v > 10000; o.connections = (unsigned)v; break;
		case OPT_NOTIFY: bad = parse_notify(optarg, &o.notify); break;
		case OPT_CALLS: bad = parse_count(optarg, &o.calls) || o.calls == 0; break;
		case OPT_DELAY: bad = parse_count(optarg, &v) || v > UINT32_MAX; o.delay_ms = (uint32_t)v; break;
		case OPT_WARMUP: bad = parse_count(optarg, &o.warmup); break;
		case OPT_CPU: bad = parse_count(optarg, &v) || v > 1023; o.cpu = (int)v; break;
		case OPT_SERVER_CPU: bad = parse_count(optarg, &v) || v > 1023; o.server_cpu = (int)v; break;
		case 'j': o.json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
		if (bad) {
			const char *name = "?";
			for (const struct option *lo = longopts; lo->name; lo++)
				if (lo->val == c)
					name = lo->name;
			fprintf(stderr, "arpc-bench: bad value '%s' for --%s\n", optarg, name);
			return 64;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 64;
	}
	const char *mode = argv[optind];
	if (!o.endpoint)
		o.endpoint = getenv("ARPC_ENDPOINT");
	if (!o.endpoint || !*o.endpoint)
		o.endpoint = ARPC_DEFAULT_ENDPOINT;
	if (!o.connections)
		o.connections = strcmp(mode, "delay") == 0 ? 10 : 1;
	o.progress = isatty(2) && !o.json;
	if (o.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "arpc-bench: cannot pin to CPU %d: %s\n", o.cpu, strerror(errno));
			return 71;
		}
	}
	if (strcmp(mode, "baseline") == 0)
		return run_baseline(&o);
	if (strcmp(mode, "latency") == 0)
		return run_latency(&o);
	if (strcmp(mode, "throughput") == 0)
		return run_throughput(&o);
	if (strcmp(mode, "delay") == 0)
		return run_delay(&o);
	fprintf(stderr, "arpc-bench: unknown mode '%s'\n", mode);
	usage(stderr);
	return 64;
}
