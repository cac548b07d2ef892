/*
 * fdq.c: the eventfd-backed queue (see fdq.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fdq.h"
#include "internal.h"

#define FDQ_INITIAL_CAP 16u

int fdq_init(struct fdq *q, size_t item_size)
{
	memset(q, 0, sizeof(*q));
	q->item_size = item_size;
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		return -errno;
	monotonic_cond_init(&q->cv);
	pthread_mutex_init(&q->mu, NULL);
	return 0;
}

void fdq_destroy(struct fdq *q)
{
	if (q->efd >= 0)
		close(q->efd);
	q->efd = -1;
	free(q->ring);
	q->ring = NULL;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
}

static void *slot(struct fdq *q, size_t i)
{
	return q->ring + ((q->head + i) % q->cap) * q->item_size;
}

static int grow(struct fdq *q)
{
	size_t ncap = q->cap ? q->cap * 2 : FDQ_INITIAL_CAP;
	unsigned char *nring = malloc(ncap * q->item_size);
	if (!nring)
		return -ENOMEM;
	for (size_t i = 0; i < q->count; i++)
		memcpy(nring + i * q->item_size, slot(q, i), q->item_size);
	free(q->ring);
	q->ring = nring;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

/* The eventfd carries "not empty"; it is written only on the edge. */
static void signal_nonempty(struct fdq *q)
{
	uint64_t one = 1;
	ssize_t r;
	do
		r = write(q->efd, &one, sizeof(one));
	while (r < 0 && errno == EINTR);
	/* EAGAIN would mean the counter is saturated, i.e. already readable. */
}

static void clear_nonempty(struct fdq *q)
{
	uint64_t v;
	ssize_t r;
	do
		r = read(q->efd, &v, sizeof(v));
	while (r < 0 && errno == EINTR);
}

/* Makes room for `more` items beyond those queued and reserved. */
static int ensure_room(struct fdq *q, size_t more)
{
	while (q->count + q->reserved + more > q->cap)
		if (grow(q) < 0)
			return -ENOMEM;
	return 0;
}

static void append_locked(struct fdq *q, const void *item)
{
	memcpy(slot(q, q->count), item, q->item_size);
	q->count++;
	if (q->count == 1)
		signal_nonempty(q);
	if (q->waiters)
		pthread_cond_signal(&q->cv);
}

int fdq_push(struct fdq *q, const void *item)
{
	pthread_mutex_lock(&q->mu);
	int r = ensure_room(q, 1);
	if (r == 0)
		append_locked(q, item);
	pthread_mutex_unlock(&q->mu);
	return r;
}

int fdq_reserve(struct fdq *q)
{
	pthread_mutex_lock(&q->mu);
	int r = ensure_room(q, 1);
	if (r == 0)
		q->reserved++;
	pthread_mutex_unlock(&q->mu);
	return r;
}

void fdq_push_reserved(struct fdq *q, const void *item)
{
	pthread_mutex_lock(&q->mu);
	q->reserved--;
	append_locked(q, item);
	pthread_mutex_unlock(&q->mu);
}

void fdq_unreserve(struct fdq *q)
{
	pthread_mutex_lock(&q->mu);
	q->reserved--;
	pthread_mutex_unlock(&q->mu);
}

int fdq_pop(struct fdq *q, void *out, uint32_t timeout_ms)
{
	struct timespec until;
	if (timeout_ms != 0 && timeout_ms != UINT32_MAX)
		timespec_at(now_ns() + (uint64_t)timeout_ms * 1000000u, &until);

	pthread_mutex_lock(&q->mu);
	while (q->count == 0 && timeout_ms != 0) {
		q->waiters++;
		int r = timeout_ms == UINT32_MAX ? pthread_cond_wait(&q->cv, &q->mu)
		                                 : pthread_cond_timedwait(&q->cv, &q->mu, &until);
		q->waiters--;
		if (r == ETIMEDOUT)
			break;
	}
	if (q->count == 0) {
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	memcpy(out, slot(q, 0), q->item_size);
	q->head = (q->head + 1) % q->cap;
	q->count--;
	if (q->count == 0)
		clear_nonempty(q);
	pthread_mutex_unlock(&q->mu);
	return 1;
}

size_t fdq_clear(struct fdq *q, void (*drop)(void *item, void *arg), void *arg)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->count;
	for (size_t i = 0; i < n; i++)
		if (drop)
			drop(slot(q, i), arg);
	q->head = 0;
	q->count = 0;
	if (n)
		clear_nonempty(q);
	pthread_mutex_unlock(&q->mu);
	return n;
}
