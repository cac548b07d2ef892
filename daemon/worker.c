/*
 * worker.c: the worker pool and the inbox back to the loop (see worker.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "servercall.h"
#include "worker.h"

TAILQ_HEAD(job_queue, arpc_call);

struct worker_pool {
	pthread_mutex_t mu;       /* jobs, njobs, busy, stop */
	pthread_cond_t cv;
	struct job_queue jobs;
	uint32_t njobs;
	uint32_t busy;
	int stop;
	pthread_t *threads;
	uint32_t nthreads;

	pthread_mutex_t inbox_mu; /* inbox_head/tail and each call's `posted` */
	struct arpc_call *inbox_head, *inbox_tail;
	ev_async inbox_async;
	struct ev_loop *loop;
};

static void *worker_main(void *arg)
{
	struct worker_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && TAILQ_EMPTY(&p->jobs))
			pthread_cond_wait(&p->cv, &p->mu);
		if (TAILQ_EMPTY(&p->jobs))
			break; /* stop, and nothing left */
		struct arpc_call *call = TAILQ_FIRST(&p->jobs);
		TAILQ_REMOVE(&p->jobs, call, job_link);
		call->in_job_queue = 0;
		p->njobs--;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		servercall_run_job(call);
		pthread_mutex_lock(&p->mu);
		p->busy--;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The loop side of the inbox: take the whole list, then process it with the
 * lock released (handlers may post again meanwhile, onto a new list). */
static void inbox_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct worker_pool *p = w->data;
	struct arpc_call *head, *c;

	pthread_mutex_lock(&p->inbox_mu);
	head = p->inbox_head;
	p->inbox_head = p->inbox_tail = NULL;
	/* Move each call to the loop's own link and clear `posted` under the
	 * lock, so a new post of the same call cannot disturb this walk. */
	for (c = head; c; c = c->post_next) {
		c->loop_next = c->post_next;
		c->taken = c->posted;
		c->posted = 0;
	}
	pthread_mutex_unlock(&p->inbox_mu);

	/* Hold every call first: processing one (a cancel callback finishing
	 * another) must not free a call further down this list. */
	for (c = head; c; c = c->loop_next)
		servercall_hold(c);
	while (head) {
		c = head;
		head = c->loop_next;
		servercall_posted(c, c->taken);
		servercall_release(c);
	}
}

void worker_post(struct worker_pool *p, struct arpc_call *call, unsigned events)
{
	int wake;
	pthread_mutex_lock(&p->inbox_mu);
	if (!call->posted) {
		call->post_next = NULL;
		if (p->inbox_tail)
			p->inbox_tail->post_next = call;
		else
			p->inbox_head = call;
		p->inbox_tail = call;
	}
	call->posted |= (uint8_t)events;
	wake = p->inbox_head == call;
	pthread_mutex_unlock(&p->inbox_mu);
	/* Only the post that made the list non-empty needs to wake the loop. */
	if (wake)
		ev_async_send(p->loop, &p->inbox_async);
}

int worker_submit(struct worker_pool *p, struct arpc_call *call, uint32_t max_queued)
{
	pthread_mutex_lock(&p->mu);
	if (p->njobs >= max_queued) {
		pthread_mutex_unlock(&p->mu);
		return -EBUSY;
	}
	TAILQ_INSERT_TAIL(&p->jobs, call, job_link);
	call->in_job_queue = 1;
	p->njobs++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int worker_unqueue(struct worker_pool *p, struct arpc_call *call)
{
	int removed = 0;
	pthread_mutex_lock(&p->mu);
	if (call->in_job_queue) {
		TAILQ_REMOVE(&p->jobs, call, job_link);
		call->in_job_queue = 0;
		p->njobs--;
		removed = 1;
	}
	pthread_mutex_unlock(&p->mu);
	return removed;
}

void worker_counts(struct worker_pool *p, uint32_t *queued, uint32_t *busy)
{
	pthread_mutex_lock(&p->mu);
	*queued = p->njobs;
	*busy = p->busy;
	pthread_mutex_unlock(&p->mu);
}

uint32_t worker_threads(const struct worker_pool *p)
{
	return p->nthreads;
}

struct worker_pool *worker_pool_new(struct ev_loop *loop, uint32_t n)
{
	struct worker_pool *p = calloc(1, sizeof(*p));
	sigset_t all, old;
	int r;

	if (!p || !(p->threads = calloc(n, sizeof(*p->threads)))) {
		free(p);
		log_errorx("cannot start the worker pool: out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->inbox_mu, NULL);
	TAILQ_INIT(&p->jobs);
	p->loop = loop;
	ev_async_init(&p->inbox_async, inbox_cb);
	p->inbox_async.data = p;
	ev_async_start(loop, &p->inbox_async);

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; p->nthreads < n; p->nthreads++) {
		r = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);
		if (r != 0) {
			errno = r;
			log_error("cannot start worker thread %u of %u", p->nthreads + 1, n);
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->nthreads < n) {
		worker_pool_free(p);
		return NULL;
	}
	return p;
}

void worker_pool_free(struct worker_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (uint32_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	ev_async_stop(p->loop, &p->inbox_async);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->inbox_mu);
	free(p->threads);
	free(p);
}
