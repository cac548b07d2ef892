/*
 * worker.h: the worker pool, its bounded job queue, and the inbox that
 * carries finished calls back to the loop.
 *
 * Workers never touch a socket or a watcher.  Any thread hands a call to
 * the loop with worker_post(): one mutex-protected list and one ev_async,
 * whose callback takes the whole list at each wake (ev_async sends
 * coalesce, so one wake may carry thousands of completions).
 */
#ifndef ARPCD_WORKER_H
#define ARPCD_WORKER_H

#include <ev.h>
#include <stdint.h>

struct arpc_call;
struct worker_pool;

/* Starts n threads (with every signal blocked: signals are the loop's).
 * NULL and a logged error on failure. */
struct worker_pool *worker_pool_new(struct ev_loop *loop, uint32_t n);
/* Stops and joins the threads (the job queue must be empty), then frees. */
void worker_pool_free(struct worker_pool *p);

/* Queues a job unless max_queued jobs already wait: 0 or -EBUSY.  Loop. */
int worker_submit(struct worker_pool *p, struct arpc_call *call, uint32_t max_queued);
/* Takes a job back if no worker has taken it yet: 1 if removed, else 0. */
int worker_unqueue(struct worker_pool *p, struct arpc_call *call);

/* Any thread: asks the loop to run servercall_posted(call, events). */
void worker_post(struct worker_pool *p, struct arpc_call *call, unsigned events);

/* For sys.stats. */
void worker_counts(struct worker_pool *p, uint32_t *queued, uint32_t *busy);
uint32_t worker_threads(const struct worker_pool *p);

#endif
