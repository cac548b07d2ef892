/*
 * arpc-stress: the load test of issue 7 (docs/reliability.md).
 *
 * Starts its own arpcd in a temporary directory (the integration-test
 * harness: READY=1 over NOTIFY_SOCKET), optionally under valgrind, and
 * makes --calls asynchronous calls through libarpc over --connections
 * bindings, each keeping --window calls pending.  Calls are a fixed-seed
 * mix: demo.echo with a random payload of 0 to 64 KiB (the size's order of
 * magnitude is uniform, so small and large payloads both occur often),
 * demo.async_delay of 0-9 ms and demo.sleep of 0-2 ms.  Every reply is
 * compared byte for byte with its request.
 *
 * It counts calls answered correctly, lost (no completion within
 * --lost-after seconds), duplicated (a second completion of one call),
 * wrong (a reply that differs from the request) and failed (a status other
 * than ARPC_S_OK); all but the first must be 0.  It reports the daemon's
 * VmRSS before the load, its peak (VmHWM) and VmRSS once the clients have
 * gone, and the daemon's exit status, which under valgrind
 * (--error-exitcode=99) says whether it found an error or a definite leak.
 * Exit status 0 when everything held.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpc/arpc.h>

#include "harness.h"
#include "hostile.h"
#include "sampler.h"

#define MAX_PAYLOAD 65536u

struct opts {
	uint64_t calls;
	unsigned connections;
	unsigned window;
	unsigned threads;
	uint64_t seed;
	unsigned lost_after_s;
	int valgrind;
	struct hostile_opts hostile; /* connections > 0: the --hostile mode */
};

/* What every loader thread shares. */
struct run {
	const struct opts *o;
	arpc_binding **b;
	atomic_uint_fast64_t next;      /* the next call number to start */
	_Atomic uint8_t *done;          /* per call: completions seen */
	atomic_uint_fast64_t started, answered, lost, duplicated, wrong, failed;
};

/* One pending call: its handle, number and request. */
struct slot {
	arpc_async a;
	uint64_t n;
	const char *method;
	size_t len;
	int pending;
	uint8_t req[MAX_PAYLOAD];
};

struct loader {
	struct run *run;
	unsigned first, step;           /* bindings first, first + step, ... */
	arpc_cq *cq;
	struct slot *slots;
	size_t nslots;
	pthread_t t;
	char error[160];
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Call n's method and request, a function of the seed and n alone. */
static void make_request(uint64_t seed, uint64_t n, struct slot *s)
{
	uint64_t r = splitmix(seed ^ splitmix(n));
	unsigned kind = (unsigned)(r % 100);
	r = splitmix(r);
	if (kind < 85) {
		uint32_t max = MAX_PAYLOAD >> (r % 17);
		r = splitmix(r);
		s->method = "demo.echo";
		s->len = (size_t)(r % (max + 1));
		for (size_t i = 0; i < s->len; i += 8) {
			r = splitmix(r);
			size_t k = s->len - i < 8 ? s->len - i : 8;
			memcpy(s->req + i, &r, k);
		}
		return;
	}
	s->method = kind < 97 ? "demo.async_delay" : "demo.sleep";
	wire_put32(s->req, (uint32_t)(r % (kind < 97 ? 10 : 3)));
	s->len = 4;
}

static void loader_error(struct loader *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Keeps the thread's first error for the report. */
static void loader_error(struct loader *l, const char *fmt, ...)
{
	va_list ap;
	if (l->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(l->error, sizeof(l->error), fmt, ap);
	va_end(ap);
}

/* Starts the next call in s, on binding b: 1 started, 0 none left, -1. */
static int start_call(struct loader *l, struct slot *s, arpc_binding *b, size_t key)
{
	struct run *run = l->run;
	uint64_t n = atomic_fetch_add(&run->next, 1);
	if (n >= run->o->calls)
		return 0;
	s->n = n;
	make_request(run->o->seed, n, s);
	arpc_async_init(&s->a, sizeof(s->a));
	s->a.notify = ARPC_NOTIFY_IOC;
	s->a.u.ioc.cq = l->cq;
	s->a.u.ioc.key = key;
	arpc_status st = arpc_call_async(b, &s->a, s->method, s->req, s->len, NULL, 0);
	if (st != ARPC_S_OK) {
		/* Never started: it cannot be answered. */
		atomic_fetch_add(&run->failed, 1);
		loader_error(l, "call %llu not started: %s", (unsigned long long)n,
		             arpc_status_name(st));
		return -1;
	}
	s->pending = 1;
	atomic_fetch_add(&run->started, 1);
	return 1;
}

/* Accounts for one completion. */
static void finish_call(struct loader *l, struct slot *s, arpc_status cst)
{
	struct run *run = l->run;
	if (!s->pending) {
		atomic_fetch_add(&run->duplicated, 1);
		loader_error(l, "call %llu: a completion for its slot when none is pending (%s)",
		             (unsigned long long)s->n, arpc_status_name(cst));
		return;
	}
	s->pending = 0;
	if (atomic_fetch_add(&run->done[s->n], 1) != 0) {
		atomic_fetch_add(&run->duplicated, 1);
		loader_error(l, "call %llu completed twice (%s)", (unsigned long long)s->n,
		             arpc_status_name(cst));
	}
	arpc_reply r;
	arpc_status st = arpc_async_complete(&s->a, &r);
	if (st != ARPC_S_OK) {
		atomic_fetch_add(&run->failed, 1);
		loader_error(l, "call %llu: %s", (unsigned long long)s->n, arpc_status_name(st));
	} else if (r.len != s->len || (s->len && memcmp(r.data, s->req, s->len) != 0)) {
		atomic_fetch_add(&run->wrong, 1);
		loader_error(l, "call %llu (%s, %zu bytes): the reply differs from the request",
		             (unsigned long long)s->n, s->method, s->len);
	} else {
		atomic_fetch_add(&run->answered, 1);
	}
	arpc_reply_free(&r);
}

static void *loader_main(void *arg)
{
	struct loader *l = arg;
	struct run *run = l->run;
	unsigned w = run->o->window;
	size_t pending = 0;
	int more = 1;

	/* Fill every window, then start one call per completion. */
	for (size_t k = 0; k < l->nslots && more; k++) {
		int r = start_call(l, &l->slots[k], run->b[l->first + (k / w) * l->step], k);
		more = r > 0;
		pending += r > 0;
	}
	while (pending > 0) {
		arpc_completion c;
		if (arpc_cq_get(l->cq, &c, run->o->lost_after_s * 1000u) != ARPC_S_OK) {
			atomic_fetch_add(&run->lost, pending);
			loader_error(l, "%zu calls lost: no completion in %u s", pending,
			             run->o->lost_after_s);
			return NULL;
		}
		if (c.key >= l->nslots || c.async != &l->slots[c.key].a) {
			loader_error(l, "a completion for an unknown handle (%s)",
			             arpc_status_name(c.status));
			atomic_fetch_add(&run->duplicated, 1);
			continue;
		}
		struct slot *s = &l->slots[c.key];
		int was = s->pending;
		finish_call(l, s, c.status);
		if (!was)
			continue;
		pending--;
		if (more) {
			int r = start_call(l, s, run->b[l->first + (c.key / w) * l->step], c.key);
			more = r > 0;
			pending += r > 0;
		}
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *fp)
{
	fprintf(fp,
	        "usage: arpc-stress [--calls N] [--connections C] [--window W] [--threads T]\n"
	        "                   [--seed S] [--lost-after SECONDS] [--valgrind]\n"
	        "       arpc-stress --hostile C [--attack big|small] [--seconds S]\n"
	        "Starts arpcd ($ARPC_TOP_BUILDDIR/daemon/arpcd) in a temporary directory and\n"
	        "loads it with N calls (default 1000000) over C connections (64).\n"
	        "--hostile: C connections push requests at arpcd's shipped defaults for S\n"
	        "seconds (20) while another client makes synchronous calls; reports arpcd's\n"
	        "peak memory and that client's latencies (docs/reliability.md).\n");
}

static int parse_u64(const char *s, const char *what, uint64_t min, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min) {
		fprintf(stderr, "arpc-stress: %s: '%s' is not a number >= %llu\n", what, s,
		        (unsigned long long)min);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"calls", required_argument, NULL, 'n'},
		{"connections", required_argument, NULL, 'c'},
		{"window", required_argument, NULL, 'w'},
		{"threads", required_argument, NULL, 't'},
		{"seed", required_argument, NULL, 's'},
		{"lost-after", required_argument, NULL, 'l'},
		{"valgrind", no_argument, NULL, 'V'},
		{"hostile", required_argument, NULL, 'H'},
		{"attack", required_argument, NULL, 'A'},
		{"seconds", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct opts){.calls = 1000000, .connections = 64, .window = 8, .threads = 4,
	                   .seed = 1, .lost_after_s = 60, .hostile = {.seconds = 20}};
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "n:c:w:t:s:l:VhH:A:S:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(optarg, "--calls", 1, &o->calls) < 0)
				return -1;
			break;
		case 'c':
			if (parse_u64(optarg, "--connections", 1, &v) < 0)
				return -1;
			o->connections = (unsigned)(v > 4096 ? 4096 : v);
			break;
		case 'w':
			if (parse_u64(optarg, "--window", 1, &v) < 0)
				return -1;
			o->window = (unsigned)(v > 1024 ? 1024 : v);
			break;
		case 't':
			if (parse_u64(optarg, "--threads", 1, &v) < 0)
				return -1;
			o->threads = (unsigned)(v > 64 ? 64 : v);
			break;
		case 's':
			if (parse_u64(optarg, "--seed", 0, &o->seed) < 0)
				return -1;
			break;
		case 'l':
			if (parse_u64(optarg, "--lost-after", 1, &v) < 0)
				return -1;
			o->lost_after_s = (unsigned)(v > 3600 ? 3600 : v);
			break;
		case 'V':
			o->valgrind = 1;
			break;
		case 'H':
			if (parse_u64(optarg, "--hostile", 1, &v) < 0)
				return -1;
			o->hostile.connections = (unsigned)(v > 1000 ? 1000 : v);
			break;
		case 'A':
			if (strcmp(optarg, "big") != 0 && strcmp(optarg, "small") != 0) {
				fprintf(stderr, "arpc-stress: --attack is 'big' or 'small', not '%s'\n",
				        optarg);
				return -1;
			}
			o->hostile.small = strcmp(optarg, "small") == 0;
			break;
		case 'S':
			if (parse_u64(optarg, "--seconds", 1, &v) < 0)
				return -1;
			o->hostile.seconds = (unsigned)(v > 3600 ? 3600 : v);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (o->threads > o->connections)
		o->threads = o->connections;
	return 0;
}

/* Prints the valgrind summary lines from arpcd's log. */
static void print_valgrind_summary(const struct harness *h)
{
	FILE *fp = fopen(h->log, "r");
	char line[512];
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, "ERROR SUMMARY") || strstr(line, "definitely lost") ||
		    strstr(line, "indirectly lost") || strstr(line, "possibly lost") ||
		    strstr(line, "in use at exit") || strstr(line, "All heap blocks"))
			printf("arpc-stress: valgrind: %s", line);
	fclose(fp);
}

static const char daemon_config[] = "workers = 4\n"
                                    "log_level = notice\n"
                                    "[limits]\n"
                                    "shutdown_timeout = 5s\n";

/* Under valgrind: errors and definite leaks make arpcd exit 99. */
static const char *const valgrind_cmd[] = {
	"valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
	"--error-exitcode=99", "--track-fds=no", "--num-callers=30", NULL,
};

/* Opens the bindings and loader threads, runs the load to its end, and
 * closes them again.  0, or -1 if the load could not be set up. */
static int run_load(struct run *run, const char *endpoint, double *elapsed)
{
	const struct opts *o = run->o;
	unsigned nb = o->connections, nt = o->threads;
	struct loader *ld = calloc(nt, sizeof(*ld));
	int ret = -1;
	unsigned opened = 0, started = 0;

	run->b = calloc(nb, sizeof(*run->b));
	if (!ld || !run->b) {
		fprintf(stderr, "arpc-stress: out of memory\n");
		goto out;
	}
	for (; opened < nb; opened++) {
		arpc_status st = arpc_binding_open(endpoint, &run->b[opened]);
		if (st != ARPC_S_OK) {
			fprintf(stderr, "arpc-stress: connection %u to %s: %s\n", opened, endpoint,
			        arpc_strerror(st));
			goto out;
		}
	}
	/* Thread i drives bindings i, i + nt, ...: window slots on each. */
	for (unsigned i = 0; i < nt; i++) {
		ld[i].run = run;
		ld[i].first = i;
		ld[i].step = nt;
		ld[i].nslots = (size_t)((nb - i + nt - 1) / nt) * o->window;
		ld[i].slots = calloc(ld[i].nslots, sizeof(struct slot));
		ld[i].cq = arpc_cq_create();
		if (!ld[i].slots || !ld[i].cq) {
			fprintf(stderr, "arpc-stress: out of memory for %zu calls\n", ld[i].nslots);
			goto out;
		}
	}
	double t0 = now_s();
	for (; started < nt; started++) {
		int e = pthread_create(&ld[started].t, NULL, loader_main, &ld[started]);
		if (e) {
			fprintf(stderr, "arpc-stress: pthread_create: %s\n", strerror(e));
			break;
		}
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(ld[i].t, NULL);
		if (ld[i].error[0])
			fprintf(stderr, "arpc-stress: thread %u: %s\n", i, ld[i].error);
	}
	*elapsed = now_s() - t0;
	ret = started == nt ? 0 : -1;
out:
	/* Closing completes what is still pending (after a loss) onto the
	 * queues, which therefore go last, with the handles. */
	for (unsigned i = 0; i < opened; i++)
		arpc_binding_close(run->b[i]);
	for (unsigned i = 0; ld && i < nt; i++) {
		arpc_cq_destroy(ld[i].cq);
		free(ld[i].slots);
	}
	free(ld);
	free(run->b);
	run->b = NULL;
	return ret;
}

static int connections_gone(void *arg)
{
	return harness_stat(arg, "connections") == 1; /* the one asking */
}

int main(int argc, char **argv)
{
	struct opts o;
	struct harness h;
	struct run run = {.o = &o};
	struct rss_sampler sampler;
	double elapsed = 0;
	int ok = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.hostile.connections)
		return hostile_run(&o.hostile);
	run.done = calloc(o.calls, sizeof(*run.done));
	if (!run.done) {
		fprintf(stderr, "arpc-stress: out of memory for %llu calls\n",
		        (unsigned long long)o.calls);
		return 1;
	}
	if (harness_init(&h, daemon_config) < 0)
		return 1;
	if (o.valgrind) {
		h.wrapper = valgrind_cmd;
		h.wait_ms = 120000;
	}
	if (harness_start(&h, NULL) < 0) {
		harness_cleanup(&h);
		return 1;
	}
	long rss_start = harness_proc_status_kb(h.pid, "VmRSS");
	printf("arpc-stress: %llu calls over %u connections (window %u, %u threads, seed %llu)%s\n",
	       (unsigned long long)o.calls, o.connections, o.window, o.threads,
	       (unsigned long long)o.seed, o.valgrind ? ", arpcd under valgrind" : "");
	fflush(stdout);

	/* Without the sampler the figure is VmHWM's alone. */
	(void)rss_sampler_start(&sampler, h.pid);
	if (run_load(&run, h.endpoint, &elapsed) < 0)
		ok = 0;
	long rss_peak_sampled = rss_sampler_stop(&sampler);

	long rss_hwm = harness_proc_status_kb(h.pid, "VmHWM");
	if (!harness_wait_until(connections_gone, &h, o.valgrind ? 60000 : HARNESS_TIMEOUT_MS)) {
		fprintf(stderr, "arpc-stress: the daemon still counts connections\n");
		ok = 0;
	}
	/* The daemon gives memory back once its last client has gone; its
	 * last was the one that just asked, whose close it may not have seen
	 * yet.  A figure, not a check: a short settle is enough. */
	usleep(200000);
	long rss_final = harness_proc_status_kb(h.pid, "VmRSS");
	long long inflight = harness_stat(&h, "calls_inflight");

	uint64_t answered = atomic_load(&run.answered), lost = atomic_load(&run.lost),
	         dup = atomic_load(&run.duplicated), wrong = atomic_load(&run.wrong),
	         failed = atomic_load(&run.failed);
	printf("arpc-stress: %.1f s, %.0f calls/s\n", elapsed,
	       elapsed > 0 ? (double)answered / elapsed : 0.0);
	printf("arpc-stress: answered %llu of %llu; lost %llu, duplicated %llu, wrong %llu, "
	       "failed %llu\n", (unsigned long long)answered, (unsigned long long)o.calls,
	       (unsigned long long)lost, (unsigned long long)dup, (unsigned long long)wrong,
	       (unsigned long long)failed);
	printf("arpc-stress: daemon RSS: start %ld KiB, peak %ld KiB (VmHWM; sampled %ld), "
	       "final %ld KiB; calls in flight after: %lld\n", rss_start, rss_hwm,
	       rss_peak_sampled, rss_final, inflight);
	if (answered != o.calls || lost || dup || wrong || failed || inflight != 0)
		ok = 0;

	fflush(stdout);
	int st = harness_stop(&h);
	printf("arpc-stress: arpcd exit status %d\n", st);
	if (o.valgrind)
		print_valgrind_summary(&h);
	if (st != 0)
		ok = 0;
	harness_cleanup(&h);
	free(run.done);
	printf("arpc-stress: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
