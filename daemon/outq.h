/*
 * outq.h: a connection's output queue: a list of chunks written out with
 * one sendmsg(2) of many iovecs.  Small frames are copied into the tail
 * chunk; a large reply built by a worker is linked as its own chunk, so its
 * payload is copied once.  Loop thread only.
 */
#ifndef ARPCD_OUTQ_H
#define ARPCD_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ochunk {
	struct ochunk *next;
	size_t off;   /* first unsent byte */
	size_t len;   /* bytes from off */
	size_t cap;
	uint8_t data[];
};

struct outq {
	struct ochunk *head, *tail;
	struct ochunk *spare;  /* one empty chunk kept to spare a malloc per flush */
	size_t bytes;
	size_t mem;            /* what the chunks take, headers and spare included */
};

/* What a chunk of `cap` bytes takes from the heap, malloc's own header
 * included (the memory budgets count it). */
#define OCHUNK_MEM(cap) (sizeof(struct ochunk) + (cap) + ALLOC_OVERHEAD)
/* malloc's bookkeeping per block, as the budgets count it (glibc: 8 to 16
 * bytes on 64-bit). */
#define ALLOC_OVERHEAD 16u

/* A chunk of `cap` bytes, empty; NULL when out of memory.  Any thread. */
struct ochunk *ochunk_new(size_t cap);
void ochunk_free(struct ochunk *ch);

/* Room for n bytes at the tail, counted as queued at once; NULL when out of
 * memory (nothing changes). */
uint8_t *outq_reserve(struct outq *q, size_t n);

/* Links a filled chunk (its off/len set) at the tail; the queue owns it. */
void outq_append_chunk(struct outq *q, struct ochunk *ch);

/*
 * Writes as much as the socket takes.  Returns 0 when the queue is empty,
 * 1 when the socket is full and bytes remain, or a negative errno.
 */
int outq_flush(struct outq *q, int fd);

static inline int outq_empty(const struct outq *q)
{
	return q->bytes == 0;
}

/* Frees every chunk; the queue is empty and usable afterwards. */
void outq_free(struct outq *q);

#endif
