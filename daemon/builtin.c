/*
 * builtin.c: the built-in demo.* and sys.* methods (see builtin.h), written
 * against <arpc/server.h> like any module.
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <arpc/server.h>

#include "arpcd.h"
#include "builtin.h"
#include "config.h"
#include "log.h"
#include "methods.h"
#include "wire.h"
#include "worker.h"

/* Workers read it while the loop may swap configs: a copy of its own. */
static atomic_uint demo_sleep_max_ms;

static struct arpc_server builtin_srv = {.name = "builtin"};

void builtin_apply_config(const struct config *cfg)
{
	atomic_store(&demo_sleep_max_ms, cfg->demo_sleep_max_ms);
}

/* The u32 LE that demo.async_delay and demo.sleep take; 0 or -1. */
static int request_u32(struct arpc_call *call, uint32_t *v)
{
	size_t len;
	const uint8_t *p = arpc_call_request(call, &len);
	if (len != 4) {
		char detail[96];
		snprintf(detail, sizeof(detail),
		         "%s takes a 4-byte little-endian number of milliseconds, not %zu bytes",
		         arpc_call_method(call), len);
		arpc_call_abort(call, ARPC_S_INVALID_ARG, detail);
		return -1;
	}
	*v = wire_get32(p);
	return 0;
}

static void demo_async_delay(struct arpc_call *call, void *data)
{
	uint32_t ms;
	size_t len;
	const void *req = arpc_call_request(call, &len);
	if (request_u32(call, &ms) == 0)
		arpc_call_complete_after(call, ms, req, len);
}

static void demo_echo(struct arpc_call *call, void *data)
{
	size_t len;
	const void *req = arpc_call_request(call, &len);
	arpc_call_complete(call, req, len);
}

static void sys_ping(struct arpc_call *call, void *data)
{
	arpc_call_complete(call, NULL, 0);
}

/* "uid 1000 pid 42", or "tcp" for a peer without credentials. */
static void format_peer(struct arpc_call *call, char *out, size_t len)
{
	pid_t pid;
	uid_t uid;
	if (arpc_call_peer(call, &pid, &uid, NULL) == 0)
		snprintf(out, len, "uid %u pid %d", (unsigned)uid, (int)pid);
	else
		snprintf(out, len, "tcp peer");
}

static void demo_message(struct arpc_call *call, void *data)
{
	size_t len;
	const char *req = arpc_call_request(call, &len);
	char text[256], peer[64];
	size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	/* The text is the client's: never let it forge log lines. */
	for (size_t i = 0; i < n; i++)
		text[i] = req[i] >= 0x20 && req[i] < 0x7f ? req[i] : '?';
	text[n] = '\0';
	format_peer(call, peer, sizeof(peer));
	log_info("demo.message from %s: '%s'%s", peer, text, n < len ? " (cut)" : "");
	arpc_call_complete(call, NULL, 0);
}

/* demo.sleep blocks its worker on a condition variable that a cancel
 * callback (on the loop) signals. */
struct sleeper {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int woken;
};

static void sleeper_wake(struct arpc_call *call, arpc_cancel_reason why, void *data)
{
	struct sleeper *s = data;
	pthread_mutex_lock(&s->mu);
	s->woken = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void demo_sleep(struct arpc_call *call, void *data)
{
	uint32_t ms, max = atomic_load(&demo_sleep_max_ms);
	if (request_u32(call, &ms) < 0)
		return;
	if (ms > max) {
		char detail[96];
		snprintf(detail, sizeof(detail), "%u ms is over demo_sleep_max (%u ms)", ms, max);
		arpc_call_abort(call, ARPC_S_INVALID_ARG, detail);
		return;
	}
	struct sleeper s = {.woken = 0};
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s.cv, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&s.mu, NULL);
	arpc_call_on_cancel(call, sleeper_wake, &s);

	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s.mu);
	while (!s.woken && pthread_cond_timedwait(&s.cv, &s.mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s.mu);

	size_t len;
	const void *req = arpc_call_request(call, &len);
	switch (arpc_call_cancelled(call)) {
	case ARPC_CANCEL_NONE:
		arpc_call_complete(call, req, len);
		break;
	case ARPC_CANCEL_DEADLINE:
		arpc_call_abort(call, ARPC_S_TIMEOUT, "demo.sleep: the deadline passed");
		break;
	default:
		arpc_call_abort(call, ARPC_S_CALL_CANCELLED, "demo.sleep cancelled");
		break;
	}
	/* Finishing guarantees the callback is not running and never will. */
	pthread_mutex_destroy(&s.mu);
	pthread_cond_destroy(&s.cv);
}

static long rss_kb(void)
{
	FILE *fp = fopen("/proc/self/statm", "re");
	long size, resident;
	if (!fp)
		return -1;
	int n = fscanf(fp, "%ld %ld", &size, &resident);
	fclose(fp);
	return n == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

static void sys_stats(struct arpc_call *call, void *data)
{
	struct server *srv = data;
	const struct stats *st = &srv->st;
	struct rusage ru;
	uint32_t queued = 0, busy = 0;
	char json[1024];

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		memset(&ru, 0, sizeof(ru));
	worker_counts(srv->pool, &queued, &busy);
	int n = snprintf(
		json, sizeof(json),
		"{\"uptime_ms\":%" PRIu64 ",\"connections\":%u,\"connections_total\":%" PRIu64
		",\"calls_total\":%" PRIu64 ",\"calls_inflight\":%" PRIu64
		",\"calls_cancelled\":%" PRIu64 ",\"cancel_callbacks\":%" PRIu64
		",\"jobs_queued\":%u,\"workers_busy\":%u,\"replies_dropped\":%" PRIu64
		",\"protocol_errors\":%" PRIu64 ",\"busy_rejections\":%" PRIu64
		",\"cpu_user_us\":%lld,\"cpu_sys_us\":%lld,\"rss_kb\":%ld,\"workers\":%u"
		",\"memory_charged\":%" PRIu64 ",\"memory_charged_peak\":%" PRIu64
		",\"memory_budget\":%" PRIu64 ",\"budget_pauses\":%" PRIu64
		",\"connections_budget_paused\":%u}",
		(now_ns() - srv->start_ns) / 1000000u, st->connections, st->connections_total,
		st->calls_total, st->calls_inflight - 1 /* not this one */, st->calls_cancelled, st->cancel_callbacks,
		queued, busy, st->replies_dropped, st->protocol_errors, st->busy_rejections,
		(long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, rss_kb(),
		worker_threads(srv->pool), srv->mem_charged, srv->mem_peak,
		srv->cfg->max_total_memory, st->budget_pauses, st->budget_paused);
	if (n < 0 || (size_t)n >= sizeof(json)) {
		arpc_call_abort(call, ARPC_S_NO_MEMORY, "sys.stats: buffer too small");
		return;
	}
	arpc_call_complete(call, json, (size_t)n);
}

static void sys_methods(struct arpc_call *call, void *data)
{
	struct server *srv = data;
	size_t len;
	char *list = methods_list(srv->methods, &len);
	if (!list) {
		arpc_call_abort(call, ARPC_S_NO_MEMORY, "out of memory");
		return;
	}
	arpc_call_complete(call, list, len);
	free(list);
}

static void sys_shutdown(struct arpc_call *call, void *data)
{
	char peer[64];
	format_peer(call, peer, sizeof(peer));
	log_notice("sys.shutdown from %s", peer);
	arpc_call_complete(call, NULL, 0);
	server_request_shutdown(data);
}

int builtin_register(struct server *srv)
{
	static const struct {
		const char *name;
		arpc_handler_fn fn;
		uint32_t flags;
	} methods[] = {
		{"demo.async_delay", demo_async_delay, ARPC_HANDLER_INLINE},
		{"demo.message", demo_message, 0},
		{"demo.sleep", demo_sleep, 0},
		{"demo.echo", demo_echo, ARPC_HANDLER_INLINE},
		/* The same echo through the worker pool: what a pooled handler costs. */
		{"demo.echo_worker", demo_echo, 0},
		{"sys.ping", sys_ping, ARPC_HANDLER_INLINE},
		{"sys.stats", sys_stats, ARPC_HANDLER_INLINE},
		{"sys.methods", sys_methods, ARPC_HANDLER_INLINE},
		{"sys.shutdown", sys_shutdown, ARPC_HANDLER_INLINE | ARPC_HANDLER_ADMIN},
	};
	builtin_srv.daemon = srv;
	builtin_apply_config(srv->cfg);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		/* The demo methods let any client hold workers and memory: a
		 * production daemon serves only what its modules offer. */
		if (!srv->cfg->demo_methods && strncmp(methods[i].name, "demo.", 5) == 0)
			continue;
		int r = arpc_server_register(&builtin_srv, methods[i].name, methods[i].fn, srv,
		                             methods[i].flags);
		if (r < 0)
			return r;
	}
	return 0;
}
