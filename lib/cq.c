/*
 * cq.c: completion queues, the I/O completion port of arpc.
 */
#include "config.h"

#include <stdlib.h>

#include "fdq.h"
#include "internal.h"

struct arpc_cq {
	struct fdq q;
};

arpc_cq *arpc_cq_create(void)
{
	arpc_cq *cq = calloc(1, sizeof(*cq));
	if (!cq)
		return NULL;
	if (fdq_init(&cq->q, sizeof(arpc_completion)) < 0) {
		free(cq);
		return NULL;
	}
	return cq;
}

void arpc_cq_destroy(arpc_cq *cq)
{
	if (!cq)
		return;
	fdq_destroy(&cq->q);
	free(cq);
}

int cq_reserve(arpc_cq *cq)
{
	return fdq_reserve(&cq->q);
}

void cq_unreserve(arpc_cq *cq)
{
	fdq_unreserve(&cq->q);
}

void cq_post_reserved(arpc_cq *cq, const arpc_completion *c)
{
	fdq_push_reserved(&cq->q, c);
}

arpc_status arpc_cq_post(arpc_cq *cq, const arpc_completion *c)
{
	if (!cq || !c)
		return ARPC_S_INVALID_ARG;
	return fdq_push(&cq->q, c) < 0 ? ARPC_S_NO_MEMORY : ARPC_S_OK;
}

arpc_status arpc_cq_get(arpc_cq *cq, arpc_completion *out, uint32_t ms)
{
	if (!cq || !out)
		return ARPC_S_INVALID_ARG;
	return fdq_pop(&cq->q, out, ms) ? ARPC_S_OK : ARPC_S_TIMEOUT;
}

int arpc_cq_fd(arpc_cq *cq)
{
	return cq ? fdq_fd(&cq->q) : -1;
}
