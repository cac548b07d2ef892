/*
 * arpcd.h: the daemon's state, one per process, owned by the loop thread.
 *
 * Object graph (docs/design.md, "arpcd"):
 *
 *   server ── listeners ──accept──► conns ── calls (idmap by call id)
 *     │                               │
 *     ├── methods (name -> handler)   └── outq (replies, flushed once per
 *     ├── worker pool (jobs, and the       loop iteration by `prepare`)
 *     │   inbox of completions back to the loop)
 *     └── config, counters
 *
 * Only the worker pool's queues are shared with other threads; everything
 * else here is touched by the loop thread alone.
 */
#ifndef ARPCD_ARPCD_H
#define ARPCD_ARPCD_H

#include <ev.h>
#include <stdint.h>
#include <sys/queue.h>

struct config;
struct conn;
struct listener;
struct methods;
struct worker_pool;
struct module;

/* Counters for sys.stats; the loop thread's, so plain integers. */
struct stats {
	uint64_t connections_total;
	uint64_t calls_total;
	uint64_t calls_inflight;   /* call objects alive: accepted, not yet retired */
	uint64_t calls_cancelled;  /* calls that saw a cancel, whatever the reason */
	uint64_t cancel_callbacks; /* handler cancel callbacks run */
	uint64_t replies_dropped;  /* finished calls whose connection was gone */
	uint64_t protocol_errors;
	uint64_t busy_rejections;  /* queue full, or over max_connections */
	uint64_t budget_pauses;    /* times a connection stopped reading for a memory budget */
	uint32_t connections;
	uint32_t budget_paused;    /* connections not read now for a memory budget */
};

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(listener_list, listener);

enum server_state {
	SERVER_RUNNING,
	SERVER_DRAINING,  /* stopped accepting; waiting for in-flight calls */
	SERVER_CANCELLED, /* grace period over: calls cancelled, conns closed */
};

struct server {
	struct ev_loop *loop;
	struct config *cfg;
	const char *config_path;        /* for reloads */
	char *const *listen_override;   /* -l options, kept over reloads */
	size_t nlisten_override;

	struct listener_list listeners;
	struct conn_list conns;
	struct conn_list flush;         /* conns with output or a pending close */
	struct conn_list dead;          /* closed, freed by `prepare` */
	struct conn_list budget_wait;   /* paused for a memory budget, oldest first */
	/* Bytes charged to the memory budgets (conn.c): every connection's,
	 * and those of calls that outlived their connection. */
	uint64_t mem_charged;
	uint64_t mem_peak;
	int mem_freed;                  /* charge fell since `prepare` last looked at budget_wait */
	uint64_t next_conn_id;

	struct methods *methods;
	struct worker_pool *pool;
	struct module *modules;
	size_t nmodules;

	struct stats st;
	uint64_t start_ns;              /* CLOCK_MONOTONIC */

	enum server_state state;
	int exit_code;

	ev_prepare prepare;             /* flushes output, frees dead conns */
	ev_signal sigterm, sigint, sighup;
	ev_timer grace_timer;           /* shutdown_timeout */
	ev_timer hard_timer;            /* after the grace period: give up on handlers */
	ev_timer accept_timer;          /* resumes accepting after EMFILE */
	ev_timer status_timer;          /* sd_notify STATUS= */
	ev_timer watchdog_timer;        /* sd_notify WATCHDOG=1 */
};

/* CLOCK_MONOTONIC in nanoseconds (vDSO: no syscall). */
uint64_t now_ns(void);

/* Starts a graceful shutdown from the loop, as SIGTERM does (sys.shutdown).
 * Deferred to the loop: never runs inside the caller. */
void server_request_shutdown(struct server *srv);

/* Called when a call object is freed: a draining server may be done. */
void server_call_retired(struct server *srv);

#endif
