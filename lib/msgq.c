/*
 * msgq.c: message queues, the window-message path of arpc: completions
 * become {msg, async} messages that the application's own event loop reads
 * when the queue's fd turns readable.
 */
#include "config.h"

#include <stdlib.h>

#include "fdq.h"
#include "internal.h"

struct arpc_msgq {
	struct fdq q;
};

arpc_msgq *arpc_msgq_create(void)
{
	arpc_msgq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	if (fdq_init(&q->q, sizeof(arpc_msg)) < 0) {
		free(q);
		return NULL;
	}
	return q;
}

void arpc_msgq_destroy(arpc_msgq *q)
{
	if (!q)
		return;
	fdq_destroy(&q->q);
	free(q);
}

int msgq_reserve(arpc_msgq *q)
{
	return fdq_reserve(&q->q);
}

void msgq_unreserve(arpc_msgq *q)
{
	fdq_unreserve(&q->q);
}

void msgq_post_reserved(arpc_msgq *q, const arpc_msg *m)
{
	fdq_push_reserved(&q->q, m);
}

int arpc_msgq_fd(arpc_msgq *q)
{
	return q ? fdq_fd(&q->q) : -1;
}

arpc_status arpc_msgq_get(arpc_msgq *q, arpc_msg *out)
{
	if (!q || !out)
		return ARPC_S_INVALID_ARG;
	return fdq_pop(&q->q, out, 0) ? ARPC_S_OK : ARPC_S_TIMEOUT;
}
