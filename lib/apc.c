/*
 * apc.c: per-thread APC queues and alertable waits.
 *
 * Linux has no user APCs, and running application code from a signal
 * handler is not safe, so an APC is an item on its target thread's queue,
 * run only when that thread asks: in arpc_sleep_alertable(),
 * arpc_wait_alertable() or arpc_apc_dispatch().  A thread's queue is made on
 * its first use of any of those (or of arpc_apc_fd) and registered by
 * pthread_t, so that calls from other threads can aim at it; it dies with
 * the thread.  Queues are reference-counted: each pending call aimed at a
 * queue holds a reference, so a post after the thread exited finds a dead
 * queue rather than freed memory, and is dropped and counted.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "fdq.h"
#include "internal.h"

struct apc_item {
	arpc_apc_fn fn;
	arpc_async *a;
};

struct apcq {
	struct fdq q;
	atomic_int refs;
	pthread_t thread;
	int dead;               /* under registry_mu */
	struct apcq *next;      /* in the registry */
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct apcq *registry;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int key_ok;
static __thread struct apcq *self_q;
static atomic_uint_fast64_t dropped;

void apcq_ref(struct apcq *q)
{
	atomic_fetch_add_explicit(&q->refs, 1, memory_order_relaxed);
}

static void count_dropped(void *item, void *arg)
{
	atomic_fetch_add(&dropped, 1);
}

void apcq_unref(struct apcq *q)
{
	if (!q || atomic_fetch_sub_explicit(&q->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Items posted after the thread exited end here. */
	fdq_clear(&q->q, count_dropped, NULL);
	fdq_destroy(&q->q);
	free(q);
}

/* The thread is exiting: its queue can never run again. */
static void thread_exit(void *arg)
{
	struct apcq *q = arg;
	pthread_mutex_lock(&registry_mu);
	for (struct apcq **p = &registry; *p; p = &(*p)->next) {
		if (*p == q) {
			*p = q->next;
			break;
		}
	}
	q->dead = 1;
	pthread_mutex_unlock(&registry_mu);
	fdq_clear(&q->q, count_dropped, NULL);
	self_q = NULL;
	apcq_unref(q);
}

static void make_key(void)
{
	key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

struct apcq *apcq_self(void)
{
	if (self_q)
		return self_q;
	if (fork_handlers_install() < 0)
		return NULL;
	pthread_once(&key_once, make_key);
	if (!key_ok)
		return NULL;
	struct apcq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	if (fdq_init(&q->q, sizeof(struct apc_item)) < 0) {
		free(q);
		return NULL;
	}
	atomic_init(&q->refs, 1); /* the thread's own */
	q->thread = pthread_self();
	if (pthread_setspecific(exit_key, q) != 0) {
		fdq_destroy(&q->q);
		free(q);
		return NULL;
	}
	pthread_mutex_lock(&registry_mu);
	q->next = registry;
	registry = q;
	pthread_mutex_unlock(&registry_mu);
	self_q = q;
	return q;
}

struct apcq *apcq_find_thread(pthread_t thread)
{
	struct apcq *found = NULL;
	pthread_mutex_lock(&registry_mu);
	for (struct apcq *q = registry; q; q = q->next) {
		if (!q->dead && pthread_equal(q->thread, thread)) {
			apcq_ref(q);
			found = q;
			break;
		}
	}
	pthread_mutex_unlock(&registry_mu);
	return found;
}

int apcq_reserve(struct apcq *q)
{
	return fdq_reserve(&q->q);
}

void apcq_unreserve(struct apcq *q)
{
	fdq_unreserve(&q->q);
}

void apcq_post_reserved(struct apcq *q, arpc_apc_fn fn, arpc_async *a)
{
	struct apc_item item = { fn, a };
	pthread_mutex_lock(&registry_mu);
	int dead = q->dead;
	pthread_mutex_unlock(&registry_mu);
	if (dead) {
		fdq_unreserve(&q->q);
		atomic_fetch_add(&dropped, 1);
		return;
	}
	/* A post that races with the thread's exit lands in a queue nobody
	 * will run; it is counted when the last reference goes (apcq_unref). */
	fdq_push_reserved(&q->q, &item);
}

/* Runs the APCs queued when it was called, oldest first, one at a time and
 * with no lock held, so an APC may wait alertably itself (its nested wait
 * runs the ones behind it).  APCs queued meanwhile wait for the next call. */
static int run_queued(struct apcq *q)
{
	pthread_mutex_lock(&q->q.mu);
	size_t n = q->q.count;
	pthread_mutex_unlock(&q->q.mu);
	int ran = 0;
	struct apc_item item;
	while (n-- > 0 && fdq_pop(&q->q, &item, 0)) {
		item.fn(item.a, ARPC_EVENT_CALL_COMPLETE);
		ran++;
	}
	return ran;
}

int arpc_apc_fd(void)
{
	if (ctx_on_any_iothread())
		return -1; /* I/O threads have no APC queue */
	struct apcq *q = apcq_self();
	return q ? fdq_fd(&q->q) : -1;
}

int arpc_apc_dispatch(void)
{
	if (ctx_on_any_iothread())
		return -1; /* I/O threads have no APC queue */
	struct apcq *q = apcq_self();
	return q ? run_queued(q) : -1;
}

uint64_t arpc_apc_dropped(void)
{
	return atomic_load(&dropped);
}

arpc_status arpc_wait_alertable(int fd, uint32_t ms)
{
	if (fd < -1)
		return ARPC_S_INVALID_ARG;
	if (ctx_on_any_iothread())
		return ARPC_S_WRONG_THREAD; /* a CALLBACK must not block the loop */
	struct apcq *q = apcq_self();
	if (!q)
		return ARPC_S_NO_MEMORY;
	/* UINT32_MAX: no limit; 0: only what is ready now. */
	uint64_t until = ms == UINT32_MAX ? 0 : now_ns() + (uint64_t)ms * 1000000u;
	for (;;) {
		/* APCs already queued run first, as Windows completes an
		 * alertable wait at once when the thread has APCs pending. */
		if (run_queued(q) > 0)
			return ARPC_S_APC_RAN;
		struct pollfd pfd[2] = { { .fd = fdq_fd(&q->q), .events = POLLIN },
		                         { .fd = fd, .events = POLLIN } };
		int r = poll(pfd, fd >= 0 ? 2 : 1, poll_ms_until(until));
		if (r < 0 && errno != EINTR)
			return ARPC_S_INVALID_ARG;
		if (r > 0 && (pfd[0].revents & POLLIN))
			continue;
		if (r > 0 && fd >= 0 && pfd[1].revents)
			return (pfd[1].revents & POLLNVAL) ? ARPC_S_INVALID_ARG : ARPC_S_OK;
		if (r == 0 && poll_ms_until(until) == 0)
			return ARPC_S_TIMEOUT;
	}
}

arpc_status arpc_sleep_alertable(uint32_t ms)
{
	arpc_status st = arpc_wait_alertable(-1, ms);
	return st == ARPC_S_TIMEOUT ? ARPC_S_OK : st;
}

void apc_fork_lock(void)
{
	pthread_mutex_lock(&registry_mu);
}

void apc_fork_unlock(void)
{
	pthread_mutex_unlock(&registry_mu);
}

/* In a child: the registry's queues belong to the parent's threads, and the
 * forking thread's own queue shares its eventfd with the parent.  The child
 * forgets them all (without freeing: parent threads may have held their
 * locks); this thread makes a new queue on its next alertable wait. */
void apc_fork_forget(void)
{
	registry = NULL;
	if (self_q && key_ok)
		(void)pthread_setspecific(exit_key, NULL);
	self_q = NULL;
}
