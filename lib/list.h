/*
 * list.h: an intrusive doubly-linked list, for objects that sit on a queue
 * without an allocation of their own (a failed allocation must never lose
 * a completion).
 */
#ifndef ARPC_LIST_H
#define ARPC_LIST_H

#include <stddef.h>

struct list_node {
	struct list_node *prev, *next;
};

struct list {
	struct list_node head;
};

#define list_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

static inline void list_init(struct list *l)
{
	l->head.prev = l->head.next = &l->head;
}

static inline int list_empty(const struct list *l)
{
	return l->head.next == &l->head;
}

/* A node not on any list points to itself, so list_linked() can tell. */
static inline void list_node_init(struct list_node *n)
{
	n->prev = n->next = n;
}

static inline int list_linked(const struct list_node *n)
{
	return n->next != n;
}

static inline void list_push_back(struct list *l, struct list_node *n)
{
	n->prev = l->head.prev;
	n->next = &l->head;
	l->head.prev->next = n;
	l->head.prev = n;
}

static inline void list_remove(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_node_init(n);
}

static inline struct list_node *list_pop_front(struct list *l)
{
	if (list_empty(l))
		return NULL;
	struct list_node *n = l->head.next;
	list_remove(n);
	return n;
}

static inline struct list_node *list_front(const struct list *l)
{
	return list_empty(l) ? NULL : l->head.next;
}

/* The node after n on l, or NULL at the end. */
static inline struct list_node *list_next(const struct list *l, const struct list_node *n)
{
	return n->next == &l->head ? NULL : n->next;
}

/* Moves every node of `from` to the end of `to`, leaving `from` empty. */
static inline void list_splice(struct list *to, struct list *from)
{
	if (list_empty(from))
		return;
	from->head.next->prev = to->head.prev;
	to->head.prev->next = from->head.next;
	from->head.prev->next = &to->head;
	to->head.prev = from->head.prev;
	list_init(from);
}

#endif
