/*
 * fdq.h: a FIFO of fixed-size items whose eventfd is readable exactly while
 * the queue is not empty, with optional blocking takers.  The one mechanism
 * behind APC queues, completion queues and message queues: pushing many
 * items costs one eventfd write (on the empty -> non-empty edge) and one
 * condition-variable signal per waiting taker, never more.
 */
#ifndef ARPC_FDQ_H
#define ARPC_FDQ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct fdq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int efd;
	size_t item_size;
	unsigned char *ring;
	size_t cap;      /* items */
	size_t head;     /* index of the oldest item */
	size_t count;
	size_t reserved; /* slots promised to fdq_push_reserved */
	unsigned waiters;
};

/* Returns 0 or a negative errno (no eventfd, no memory). */
int fdq_init(struct fdq *q, size_t item_size);
void fdq_destroy(struct fdq *q);

/* Appends a copy of one item.  Returns 0 or -ENOMEM. */
int fdq_push(struct fdq *q, const void *item);

/*
 * Reserves room for one later fdq_push_reserved(), which then cannot fail:
 * a call reserves its notification's slot when it is submitted, where an
 * allocation failure can still be reported, so that completing it never
 * loses the notification.  Returns 0 or -ENOMEM.
 */
int fdq_reserve(struct fdq *q);
void fdq_push_reserved(struct fdq *q, const void *item);
void fdq_unreserve(struct fdq *q);

/*
 * Takes the oldest item into *out, waiting up to timeout_ms (0: no wait,
 * UINT32_MAX: no limit).  Returns 1 with an item, 0 on timeout.
 */
int fdq_pop(struct fdq *q, void *out, uint32_t timeout_ms);

/* Drops every item, calling drop(item, arg) on each first.  Returns how many. */
size_t fdq_clear(struct fdq *q, void (*drop)(void *item, void *arg), void *arg);

static inline int fdq_fd(const struct fdq *q)
{
	return q->efd;
}

#endif
