/*
 * servercall.h: the server side of one call (struct arpc_call of
 * <arpc/server.h>) and its path from dispatch to the reply.
 *
 * Stages, owned by the loop thread:
 *
 *   QUEUED   submitted to the worker pool (waiting, or taken by a worker)
 *   RUNNING  its handler owns it (inline, or on a worker)
 *   TIMER    finished by arpc_call_complete_after; the reply waits for the
 *            embedded timer
 *   DONE     the reply was queued (or dropped); the call is being released
 *
 * Finishing (complete/fail/abort/complete_after) may happen on any thread
 * and is claimed once under the call's spin lock; the loop then sends the
 * reply: at once on the loop thread, else through the worker pool's inbox.
 *
 * References, all taken and dropped on the loop thread: one for the handler
 * until its finish has been processed, one for the connection's call table
 * while the call is in it, and short holds across callbacks.  The last one
 * frees the call, whoever drops it.
 */
#ifndef ARPCD_SERVERCALL_H
#define ARPCD_SERVERCALL_H

#include <ev.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <arpc/server.h>

struct conn;
struct method;
struct server;
struct wire_frame;

enum call_stage {
	CALL_QUEUED = 1,
	CALL_RUNNING,
	CALL_TIMER,
	CALL_DONE
};

/* Small replies (sys.ping, demo.async_delay's 4 bytes) need no allocation. */
#define CALL_INLINE_REPLY 24

struct arpc_call {
	/* Loop thread only. */
	struct conn *conn;           /* NULL once the connection is gone */
	const struct method *method;
	uint32_t id;
	uint16_t wire_flags;
	uint8_t stage;
	uint8_t timer_is_delay;      /* the timer is complete_after's, not the deadline */
	uint32_t refs;
	uint64_t charge;             /* bytes charged to the memory budgets (conn.h) */
	uint64_t reply_charge;       /* part of it: a reply waiting in stage TIMER */
	uint64_t deadline_ns;        /* CLOCK_MONOTONIC; 0: none */
	ev_timer timer;
	pid_t pid;                   /* the peer's, copied: workers may ask after */
	uid_t uid;                   /* the connection is gone */
	gid_t gid;
	uint8_t has_cred;

	/* Shared between threads: under `lock`, except `reason` (atomic). */
	atomic_flag lock;
	uint8_t finished;
	uint8_t cb_running;
	uint8_t cb_fired;
	_Atomic uint8_t reason;      /* arpc_cancel_reason */
	arpc_cancel_fn cb_fn;
	void *cb_data;

	/* The reply, written by whoever finishes the call, read by the loop after
	 * the hand-off (the inbox mutex orders the two). */
	uint8_t r_after;             /* complete_after: send when the timer fires */
	uint32_t r_status, r_fault, r_len, r_delay_ms;
	uint64_t r_when_ns;          /* complete_after: when it was asked */
	struct ochunk *r_chunk;      /* payload over CALL_INLINE_REPLY, with room for the header */
	uint8_t r_inline[CALL_INLINE_REPLY];

	/* Worker pool links: the job queue (under the pool's mutex), and the
	 * inbox back to the loop (under the inbox mutex, then the loop's). */
	TAILQ_ENTRY(arpc_call) job_link;
	uint8_t in_job_queue;
	uint8_t posted;              /* POST_* bits waiting in the inbox */
	uint8_t taken;               /* POST_* bits the loop is processing */
	struct arpc_call *post_next;
	struct arpc_call *loop_next;

	size_t req_len;
	const uint8_t *req;          /* into name[] below */
	char name[];                 /* method name, NUL, then the request payload */
};

/* What a thread asks of the loop through the inbox. */
enum {
	POST_FINISHED = 1u << 0,  /* the call was finished: send its reply */
	POST_CANCEL_CB = 1u << 1  /* a cancel callback was set after the cancel */
};

/* Called once at start-up, on the loop thread. */
void servercall_init(struct server *srv);
/* The max_frame limit for replies (a reload changes it).  Any thread. */
void servercall_set_max_frame(uint32_t max_frame);

/*
 * A new call for request frame f on conn c, in stage RUNNING, with a
 * reference for the handler and one for c's table (the caller inserts it).
 * now: CLOCK_MONOTONIC ns when the frame was read.  NULL when out of memory.
 */
struct arpc_call *servercall_new(struct conn *c, const struct method *m,
                                 const struct wire_frame *f, uint64_t now);

/* What a call made of a frame with a body of body_len bytes takes: its
 * record (timer included), the request it keeps, malloc's header.  The
 * memory budgets charge this much from the call's creation to its free. */
uint64_t servercall_cost(uint32_t body_len);

/* Runs an inline handler now, on the loop. */
void servercall_run_inline(struct arpc_call *call);
/* Hands a call to the worker pool, or answers ARPC_S_SERVER_TOO_BUSY. */
void servercall_submit(struct arpc_call *call);
/* On a worker: runs a job taken from the queue (or answers it unrun). */
void servercall_run_job(struct arpc_call *call);
/* On the loop: what a thread posted for the call (POST_* bits). */
void servercall_posted(struct arpc_call *call, unsigned events);

/* On the loop: cancels for `why` (the first reason wins); see servercall.c. */
void servercall_cancel(struct arpc_call *call, arpc_cancel_reason why);

/* On the loop: the connection is going away.  Detach every call first
 * (taking a hold on each), then cancel them, then release the holds. */
void servercall_detach(struct arpc_call *call);
void servercall_hold(struct arpc_call *call);
void servercall_release(struct arpc_call *call);

/* Finishes with an arpc status from the loop (dispatch's early answers). */
void servercall_answer(struct arpc_call *call, arpc_status status, const char *detail);

#endif
