/*
 * internal.h: libarpc's objects and the rules that hold them together.
 *
 * Objects (docs/design.md has the picture):
 *
 *   ctx      one I/O thread running a libev loop, an ev_async inbox, and the
 *            lists other threads hand it work through (kicked conns, retired
 *            conns, CALLBACK notifications).  Shared by every binding.
 *   binding  an endpoint and its current connection; the application's.
 *   conn     one socket: decoder, output queue, the calls sent on it (table
 *            by id, deadline heap), and the I/O thread's watchers.  A binding
 *            makes a new conn after the old one died; dead conns are
 *            destroyed by the I/O thread.
 *   call     one outstanding call: the record behind an arpc_async handle,
 *            or a synchronous caller's stack frame.
 *
 * Locking.  A binding's mutex (b->mu) guards the binding, its conns and
 * their calls, including every read and write of their sockets: a socket is
 * only ever read or written with b->mu held, so the byte stream can never be
 * split between two readers.  ctx->mu guards the ctx lists and is always
 * taken last (it is a leaf, as are the fdq mutexes behind APC, IOC and MSG
 * notifications).  No library lock is held while application code runs:
 * CALLBACK notifications run on the I/O thread after it released every lock,
 * APCs run inside the target thread's alertable wait.
 *
 * Who reads a conn.  Either the I/O thread (its read watcher is started only
 * while calls are outstanding and no application thread is reading) or a
 * synchronous caller that waits for its own reply by polling the socket
 * itself (the "leader"; at most one per conn, counted in thread_readers).
 * Other synchronous callers wait on their condition variable ("followers")
 * and are woken by whoever reads their reply.  While a leader reads, the
 * I/O thread stops its watcher; when the leader is done it hands the
 * socket to a follower, or back to the I/O thread if asynchronous calls
 * remain.  This keeps a synchronous call free of thread hand-offs
 * (DESIGN.md, "Performance").
 *
 * Who writes.  The submitting thread writes its own request straight to
 * the socket when nothing is queued ahead of it; otherwise the bytes are
 * queued and the I/O thread's write watcher (or, on the I/O thread, the end
 * of the current batch) flushes the queue with one writev.
 */
#ifndef ARPC_INTERNAL_H
#define ARPC_INTERNAL_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include <arpc/arpc.h>

#include "endpoint.h"
#include "list.h"
#include "wire.h"

#define ARPC_HIDDEN __attribute__((visibility("hidden")))

/* arpc_async.signature after arpc_async_init: "ARPC". */
#define ASYNC_SIGNATURE 0x43505241u

/* arpc_async.runtime[] slots. */
enum {
	RT_RECORD = 0, /* struct call * while pending or completed */
	RT_STATE = 1,  /* enum handle_state, atomic */
	RT_STATUS = 2  /* the final status once RT_STATE is HANDLE_COMPLETE */
};

enum handle_state {
	HANDLE_NONE = 0,     /* never initialized, or garbage */
	HANDLE_INIT = 1,     /* initialized, no call yet */
	HANDLE_PENDING = 2,  /* a call is outstanding */
	HANDLE_COMPLETE = 3, /* final status readable, not consumed */
	HANDLE_CONSUMED = 4  /* arpc_async_complete returned the final status */
};

struct apcq;
struct conn;
struct arpc_ctx;

/* What to tell, and how, when a call completes: copied from the handle at
 * submission so completion never rereads the application's memory. */
struct notify_spec {
	arpc_notify_type type;
	union {
		int event_fd;
		struct {
			arpc_apc_fn fn;
			struct apcq *q; /* a reference, taken at submission */
		} apc;
		struct {
			arpc_cq *cq;
			uintptr_t key;
			void *tag;
		} ioc;
		struct {
			arpc_msgq *q;
			uint32_t msg;
		} msg;
		arpc_callback_fn callback;
	} u;
};

/* A synchronous caller, waiting on its own stack. */
struct sync_wait {
	pthread_cond_t cv;
	int done;
	struct list_node link; /* in conn->followers while a follower */
};

struct call {
	uint32_t id;
	uint64_t seq;                /* its place in the order of ids issued on its conn */
	uint32_t flags;              /* CALL_* */
	struct conn *conn;           /* while pending */
	struct arpc_binding *b;      /* a reference, held until the record is freed */
	struct call *hnext;          /* hash chain in conn's table */
	size_t heap_idx;             /* position in conn's deadline heap, or SIZE_MAX */
	uint64_t deadline;           /* CLOCK_MONOTONIC ns, 0: none */
	uint64_t end_offset;         /* the request is on the wire once written_total reaches this */

	arpc_async *async;           /* NULL for a synchronous call */
	struct sync_wait *sync;      /* the waiting caller, for a synchronous call */
	struct notify_spec notify;

	void *out;                   /* the caller's reply buffer, or NULL */
	size_t out_cap;

	/* The result, valid once completed. */
	arpc_status status;
	void *data;                  /* reply payload: out, or malloc'd */
	size_t len;
	uint32_t fault;
	char *detail;                /* malloc'd, or NULL */

	atomic_int refs;             /* the handle's, plus one while a CALLBACK is queued */
	struct list_node link;       /* pending one-way: conn->oneway; completed CALLBACK: ctx->callbacks */
	struct call *cache_next;     /* released: in its thread's cache (call.c) */
};

enum {
	CALL_ONEWAY = 1u << 0,
	CALL_COMPLETED = 1u << 1,
	CALL_CANCEL_SENT = 1u << 2,
	CALL_IN_TABLE = 1u << 3,
	CALL_MORE = 1u << 4          /* ARPC_CALL_MORE: hold the request for the next write */
};

struct outq {
	uint8_t *buf;
	size_t cap, start, end;
};

struct conn {
	struct arpc_binding *b;      /* a reference, held until the conn is destroyed */
	int fd;
	int dead;                    /* failed or closed: no new calls, no more I/O */
	int goaway;                  /* the server sent GOAWAY: no new calls */
	arpc_status goaway_status;   /* and its reason */

	struct wire_decoder in;
	struct outq out;
	uint64_t queued_total;       /* bytes ever queued or written directly */
	uint64_t written_total;      /* bytes ever written */

	/* Calls sent on this conn, by id. */
	struct call **table;
	size_t table_size;           /* a power of two */
	size_t n_calls;              /* in the table */
	size_t n_async;              /* of which asynchronous: they need a reader */
	uint64_t id_seq;             /* ids issued, counting those skipped: a call's id
	                                is the low 32 bits of its seq */

	/* Deadlines of asynchronous calls, a binary min-heap. */
	struct call **heap;
	size_t heap_len, heap_cap;
	uint64_t timer_at;           /* deadline the I/O thread's timer is set for, 0: none */

	struct list oneway;          /* one-way calls not yet known to be written, oldest first */

	/* Frames the peer made us queue (PONGs): reading pauses while too
	 * many of them wait to be written (conn.c, induced_paused). */
	unsigned induced;            /* queued since the output queue was last written out */
	uint64_t induced_end;        /* queued_total after the latest of them */

	int thread_readers;          /* 1 while a synchronous leader reads */
	struct list followers;       /* struct sync_wait, waiting for a reply */
	uint64_t last_used;          /* CLOCK_MONOTONIC ns of the last call */

	/* The I/O thread's part; flags changed under b->mu. */
	ev_io rio, wio;
	ev_timer deadline_timer;
	int iot_reading, iot_writing;
	unsigned kick_flags;         /* KICK_*: work asked of the I/O thread */
	int corked;                  /* on ctx->corked: flush at the end of the I/O thread's batch */
	struct list_node kick_link;  /* in ctx->kicked */
	struct list_node cork_link;  /* in ctx->corked (I/O thread only) */
	struct list_node b_link;     /* in b->conns while alive */
	struct list_node dead_link;  /* in ctx->retired */
};

enum {
	KICK_READ = 1u << 0,   /* start the read watcher */
	KICK_WRITE = 1u << 1,  /* start the write watcher */
	KICK_TIMER = 1u << 2   /* re-arm the deadline timer */
};

struct arpc_binding {
	struct arpc_ctx *ctx;
	pthread_mutex_t mu;
	atomic_int refs;
	unsigned generation;         /* fork_generation() when opened */
	struct endpoint ep;
	uint32_t timeout_ms;
	int closing;
	int connecting;              /* a thread is connecting; others wait on connected */
	pthread_cond_t connected;
	struct conn *conn;           /* the current connection, or NULL */
	struct list conns;           /* every live conn: the current one, and older
	                                ones that got GOAWAY and still finish calls */
	/* CALLBACK notifications of this binding's calls queued or running on
	 * the I/O thread; arpc_binding_close waits for them to end. */
	atomic_int callbacks_owed;
	atomic_int close_waiting;    /* a closer waits on callbacks_done */
	pthread_cond_t callbacks_done;
};

struct arpc_ctx {
	pthread_mutex_t mu;
	struct ev_loop *loop;
	pthread_t thread;
	ev_async wake;
	struct list kicked;          /* struct conn, kick_link */
	struct list retired;         /* struct conn, dead_link */
	struct list callbacks;       /* struct call, link: CALLBACKs to run */
	struct list corked;          /* struct conn, cork_link; I/O thread only, no lock */
};

/* ctx.c */
ARPC_HIDDEN struct arpc_ctx *ctx_default(void);
ARPC_HIDDEN int ctx_on_thread(const struct arpc_ctx *ctx);
ARPC_HIDDEN int ctx_on_any_iothread(void);
ARPC_HIDDEN void ctx_kick(struct arpc_ctx *ctx, struct conn *conn, unsigned flags);
ARPC_HIDDEN void ctx_retire(struct arpc_ctx *ctx, struct conn *conn);
ARPC_HIDDEN void ctx_queue_callback(struct arpc_ctx *ctx, struct call *c);
ARPC_HIDDEN void ctx_cork(struct arpc_ctx *ctx, struct conn *conn);
ARPC_HIDDEN void ctx_run_pending(struct arpc_ctx *ctx);

/* fork.c.  Installs the fork handlers once; -1 if they could not be (the
 * library then starts nothing a child could hang on). */
ARPC_HIDDEN int fork_handlers_install(void);
/* Which process image this is: 0 in the first, bumped in each child. */
ARPC_HIDDEN unsigned fork_generation(void);

/* ctx.c, apc.c: their parts of the fork handlers (fork.c). */
ARPC_HIDDEN void ctx_fork_lock(void);
ARPC_HIDDEN void ctx_fork_unlock(void);
ARPC_HIDDEN void ctx_fork_forget(void);
ARPC_HIDDEN void apc_fork_lock(void);
ARPC_HIDDEN void apc_fork_unlock(void);
ARPC_HIDDEN void apc_fork_forget(void);

/* binding.c */
ARPC_HIDDEN void binding_ref(struct arpc_binding *b);
ARPC_HIDDEN void binding_unref(struct arpc_binding *b);
/* A CALLBACK of one of b's calls is queued (owed) / has returned (done). */
ARPC_HIDDEN void binding_callback_owed(struct arpc_binding *b);
ARPC_HIDDEN void binding_callback_done(struct arpc_binding *b);
/* Whether b was opened before this process forked from its opener: then it
 * is the parent's, and nothing of it may be touched here. */
ARPC_HIDDEN int binding_inherited(const struct arpc_binding *b);
ARPC_HIDDEN arpc_status binding_conn_locked(struct arpc_binding *b, struct conn **out);
ARPC_HIDDEN arpc_status binding_submit_locked(struct arpc_binding *b, struct call *c,
                                              const char *method, size_t method_len,
                                              const void *req, size_t req_len);

/* conn.c */
ARPC_HIDDEN struct conn *conn_new(struct arpc_binding *b, int fd);
ARPC_HIDDEN void conn_destroy(struct conn *conn);
ARPC_HIDDEN arpc_status conn_submit_locked(struct conn *conn, struct call *c, const char *method,
                                           size_t method_len, const void *req, size_t req_len);
ARPC_HIDDEN void conn_read_locked(struct conn *conn);
ARPC_HIDDEN void conn_fail_locked(struct conn *conn, arpc_status sent, arpc_status unsent);
ARPC_HIDDEN void conn_cancel_locked(struct conn *conn, struct call *c, int abortive);
ARPC_HIDDEN void conn_abandon_locked(struct conn *conn, struct call *c, arpc_status st);
ARPC_HIDDEN void conn_release_reader_locked(struct conn *conn);
ARPC_HIDDEN int conn_usable(const struct conn *conn);
ARPC_HIDDEN void conn_probe_idle_locked(struct conn *conn, uint64_t now);
ARPC_HIDDEN void conn_iot_apply_locked(struct conn *conn, unsigned flags);
ARPC_HIDDEN void conn_uncork(struct conn *conn);
ARPC_HIDDEN void conn_flush_held_locked(struct conn *conn);
ARPC_HIDDEN int conn_read_paused(const struct conn *conn);
ARPC_HIDDEN int conn_write_out_locked(struct conn *conn);
/* For tests, through the static lib/libarpcclient.la: sets the id the
 * binding's current connection gives its next call, so that tests can
 * cross the wrap at 2^32 (0, or -1 when the binding has no connection);
 * the bytes in that connection's output queue (0 without one). */
ARPC_HIDDEN int conn_test_set_next_id(struct arpc_binding *b, uint32_t id);
ARPC_HIDDEN size_t conn_test_outq_len(struct arpc_binding *b);

/* calltab.c */
ARPC_HIDDEN struct call *calltab_find(const struct conn *conn, uint32_t id);
ARPC_HIDDEN void calltab_insert(struct conn *conn, struct call *c);
ARPC_HIDDEN void calltab_remove(struct conn *conn, struct call *c);
ARPC_HIDDEN struct call *calltab_any(const struct conn *conn);
ARPC_HIDDEN int deadlines_push(struct conn *conn, struct call *c);
ARPC_HIDDEN void deadlines_remove(struct conn *conn, struct call *c);
ARPC_HIDDEN struct call *deadlines_min(const struct conn *conn);

/* async.c: publishes a call's final status in its handle; the handle's
 * owner may consume it (and release the record) from that moment. */
ARPC_HIDDEN void handle_publish_complete(arpc_async *a, arpc_status st);

/* call.c */
ARPC_HIDDEN void call_complete_locked(struct call *c, arpc_status st);
ARPC_HIDDEN arpc_status call_set_reply_locked(struct call *c, const struct wire_frame *f);
ARPC_HIDDEN void call_free_result(struct call *c);
ARPC_HIDDEN void call_unref(struct call *c);
/* A zeroed call record (from the thread's cache, else calloc); NULL when
 * out of memory.  call_unref() gives it back. */
ARPC_HIDDEN struct call *call_alloc(void);

/* notify.c */
ARPC_HIDDEN arpc_status notify_prepare(struct notify_spec *spec, const arpc_async *a);
ARPC_HIDDEN void notify_release(struct notify_spec *spec);
ARPC_HIDDEN void notify_deliver(struct arpc_ctx *ctx, const struct notify_spec *spec, arpc_async *a,
                                arpc_status st, struct call *c);
ARPC_HIDDEN void notify_run_callback(struct call *c);

/* apc.c.  A call aimed at a queue holds a reference and a reserved slot
 * from submission to notification. */
ARPC_HIDDEN struct apcq *apcq_self(void);
ARPC_HIDDEN struct apcq *apcq_find_thread(pthread_t thread);
ARPC_HIDDEN void apcq_ref(struct apcq *q);
ARPC_HIDDEN void apcq_unref(struct apcq *q);
ARPC_HIDDEN int apcq_reserve(struct apcq *q);
ARPC_HIDDEN void apcq_unreserve(struct apcq *q);
ARPC_HIDDEN void apcq_post_reserved(struct apcq *q, arpc_apc_fn fn, arpc_async *a);

/* cq.c, msgq.c: reserve at submission, post without failing at completion. */
ARPC_HIDDEN int cq_reserve(arpc_cq *cq);
ARPC_HIDDEN void cq_unreserve(arpc_cq *cq);
ARPC_HIDDEN void cq_post_reserved(arpc_cq *cq, const arpc_completion *c);
ARPC_HIDDEN int msgq_reserve(arpc_msgq *q);
ARPC_HIDDEN void msgq_unreserve(arpc_msgq *q);
ARPC_HIDDEN void msgq_post_reserved(arpc_msgq *q, const arpc_msg *m);

/* time.c; a deadline is CLOCK_MONOTONIC ns, 0 for none */
ARPC_HIDDEN uint64_t now_ns(void);
ARPC_HIDDEN uint64_t deadline_after_ms(uint32_t ms);
ARPC_HIDDEN int poll_ms_until(uint64_t deadline);
ARPC_HIDDEN void timespec_at(uint64_t deadline, struct timespec *ts);
ARPC_HIDDEN void monotonic_cond_init(pthread_cond_t *cv);

/* Handle slots hold pointers; states and statuses go in as integers. */
static inline uintptr_t handle_load(const arpc_async *a, int slot)
{
	return (uintptr_t)__atomic_load_n(&a->runtime[slot], __ATOMIC_ACQUIRE);
}

static inline void handle_store(arpc_async *a, int slot, uintptr_t v)
{
	__atomic_store_n(&a->runtime[slot], (void *)v, __ATOMIC_RELEASE);
}

#endif /* ARPC_INTERNAL_H */
