/*
 * outq.c: a connection's output queue (see outq.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "outq.h"

/* Most replies are small: one chunk holds hundreds of them. */
#define OCHUNK_SIZE (16 * 1024)
/* iovecs per sendmsg; more buys nothing once the socket buffer is full. */
#define FLUSH_IOV 64

struct ochunk *ochunk_new(size_t cap)
{
	struct ochunk *ch = malloc(sizeof(*ch) + cap);
	if (!ch)
		return NULL;
	ch->next = NULL;
	ch->off = ch->len = 0;
	ch->cap = cap;
	return ch;
}

void ochunk_free(struct ochunk *ch)
{
	free(ch);
}

/* Links ch at the tail; `counted`: its memory is already in q->mem (the
 * spare). */
static void link_chunk(struct outq *q, struct ochunk *ch, int counted)
{
	ch->next = NULL;
	if (q->tail)
		q->tail->next = ch;
	else
		q->head = ch;
	q->tail = ch;
	q->bytes += ch->len;
	if (!counted)
		q->mem += OCHUNK_MEM(ch->cap);
}

void outq_append_chunk(struct outq *q, struct ochunk *ch)
{
	link_chunk(q, ch, 0);
}

uint8_t *outq_reserve(struct outq *q, size_t n)
{
	struct ochunk *t = q->tail;
	if (!t || t->cap - t->off - t->len < n) {
		size_t cap = n > OCHUNK_SIZE ? n : OCHUNK_SIZE;
		int counted = 0;
		if (q->spare && q->spare->cap >= cap) {
			t = q->spare;
			q->spare = NULL;
			t->off = t->len = 0;
			counted = 1;
		} else if (!(t = ochunk_new(cap))) {
			return NULL;
		}
		link_chunk(q, t, counted);
	}
	uint8_t *p = t->data + t->off + t->len;
	t->len += n;
	q->bytes += n;
	return p;
}

/* Drops `n` sent bytes from the head, keeping one emptied chunk as spare. */
static void consume(struct outq *q, size_t n)
{
	q->bytes -= n;
	while (n > 0) {
		struct ochunk *h = q->head;
		size_t k = n < h->len ? n : h->len;
		h->off += k;
		h->len -= k;
		n -= k;
		if (h->len > 0)
			break;
		q->head = h->next;
		if (!q->head)
			q->tail = NULL;
		if (!q->spare && h->cap == OCHUNK_SIZE) {
			q->spare = h;
		} else {
			q->mem -= OCHUNK_MEM(h->cap);
			free(h);
		}
	}
}

int outq_flush(struct outq *q, int fd)
{
	while (q->bytes > 0) {
		struct iovec iov[FLUSH_IOV];
		int n = 0;
		size_t want = 0;
		for (struct ochunk *ch = q->head; ch && n < FLUSH_IOV; ch = ch->next) {
			iov[n].iov_base = ch->data + ch->off;
			iov[n].iov_len = ch->len;
			want += ch->len;
			n++;
		}
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		consume(q, (size_t)w);
		if ((size_t)w < want)
			return q->bytes > 0; /* the socket is full */
	}
	return 0;
}

void outq_free(struct outq *q)
{
	struct ochunk *ch = q->head;
	while (ch) {
		struct ochunk *next = ch->next;
		free(ch);
		ch = next;
	}
	free(q->spare);
	memset(q, 0, sizeof(*q));
}
