/*
 * calltab.c: a connection's calls by id (a chained hash table, so an
 * insertion never fails even when growing does) and the deadlines of its
 * asynchronous calls (a binary min-heap, one timer for all of them).
 */
#include "config.h"

#include <stdlib.h>

#include "internal.h"

static size_t bucket_of(const struct conn *conn, uint32_t id)
{
	/* Ids are sequential, so the low bits spread them evenly. */
	return id & (conn->table_size - 1);
}

struct call *calltab_find(const struct conn *conn, uint32_t id)
{
	for (struct call *c = conn->table[bucket_of(conn, id)]; c; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

/* Doubles the table when it is fuller than one call per bucket; if the
 * allocation fails the chains just get longer. */
static void maybe_grow(struct conn *conn)
{
	if (conn->n_calls < conn->table_size)
		return;
	size_t nsize = conn->table_size * 2;
	struct call **nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return;
	for (size_t i = 0; i < conn->table_size; i++) {
		struct call *c = conn->table[i];
		while (c) {
			struct call *next = c->hnext;
			size_t j = c->id & (nsize - 1);
			c->hnext = nt[j];
			nt[j] = c;
			c = next;
		}
	}
	free(conn->table);
	conn->table = nt;
	conn->table_size = nsize;
}

void calltab_insert(struct conn *conn, struct call *c)
{
	maybe_grow(conn);
	size_t i = bucket_of(conn, c->id);
	c->hnext = conn->table[i];
	conn->table[i] = c;
	c->flags |= CALL_IN_TABLE;
	conn->n_calls++;
	if (c->async)
		conn->n_async++;
}

void calltab_remove(struct conn *conn, struct call *c)
{
	if (!(c->flags & CALL_IN_TABLE))
		return;
	for (struct call **p = &conn->table[bucket_of(conn, c->id)]; *p; p = &(*p)->hnext) {
		if (*p == c) {
			*p = c->hnext;
			break;
		}
	}
	c->hnext = NULL;
	c->flags &= ~CALL_IN_TABLE;
	conn->n_calls--;
	if (c->async)
		conn->n_async--;
}

/* Any call still in the table, or NULL: for failing them all. */
struct call *calltab_any(const struct conn *conn)
{
	if (conn->n_calls == 0)
		return NULL;
	for (size_t i = 0; i < conn->table_size; i++)
		if (conn->table[i])
			return conn->table[i];
	return NULL;
}

static void heap_set(struct conn *conn, size_t i, struct call *c)
{
	conn->heap[i] = c;
	c->heap_idx = i;
}

static void sift_up(struct conn *conn, size_t i)
{
	struct call *c = conn->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (conn->heap[parent]->deadline <= c->deadline)
			break;
		heap_set(conn, i, conn->heap[parent]);
		i = parent;
	}
	heap_set(conn, i, c);
}

static void sift_down(struct conn *conn, size_t i)
{
	struct call *c = conn->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= conn->heap_len)
			break;
		if (child + 1 < conn->heap_len &&
		    conn->heap[child + 1]->deadline < conn->heap[child]->deadline)
			child++;
		if (c->deadline <= conn->heap[child]->deadline)
			break;
		heap_set(conn, i, conn->heap[child]);
		i = child;
	}
	heap_set(conn, i, c);
}

int deadlines_push(struct conn *conn, struct call *c)
{
	if (conn->heap_len == conn->heap_cap) {
		size_t ncap = conn->heap_cap ? conn->heap_cap * 2 : 16;
		struct call **nh = realloc(conn->heap, ncap * sizeof(*nh));
		if (!nh)
			return -1;
		conn->heap = nh;
		conn->heap_cap = ncap;
	}
	heap_set(conn, conn->heap_len++, c);
	sift_up(conn, c->heap_idx);
	return 0;
}

void deadlines_remove(struct conn *conn, struct call *c)
{
	size_t i = c->heap_idx;
	if (i == SIZE_MAX)
		return;
	c->heap_idx = SIZE_MAX;
	struct call *last = conn->heap[--conn->heap_len];
	if (last == c)
		return;
	heap_set(conn, i, last);
	sift_down(conn, i);
	sift_up(conn, last->heap_idx);
}

struct call *deadlines_min(const struct conn *conn)
{
	return conn->heap_len ? conn->heap[0] : NULL;
}
