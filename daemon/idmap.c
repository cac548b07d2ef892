/*
 * idmap.c: call id -> call (see idmap.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <stdlib.h>

#include "idmap.h"

#define IDMAP_MIN_CAP 16u

/* Fibonacci hashing: client ids are usually sequential, which this spreads. */
static uint32_t slot_of(const struct idmap *m, uint32_t key)
{
	return (uint32_t)(key * 2654435769u) & (m->cap - 1);
}

void *idmap_get(const struct idmap *m, uint32_t key)
{
	if (m->count == 0)
		return NULL;
	for (uint32_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].val)
			return NULL;
		if (m->slots[i].key == key)
			return m->slots[i].val;
	}
}

static void insert(struct idmap *m, uint32_t key, void *val)
{
	uint32_t i = slot_of(m, key);
	while (m->slots[i].val)
		i = (i + 1) & (m->cap - 1);
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->count++;
}

static int resize(struct idmap *m, uint32_t cap)
{
	struct idmap_slot *old = m->slots;
	uint32_t oldcap = m->cap;
	struct idmap_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->cap = cap;
	m->count = 0;
	for (uint32_t i = 0; i < oldcap; i++)
		if (old[i].val)
			insert(m, old[i].key, old[i].val);
	free(old);
	return 0;
}

int idmap_put(struct idmap *m, uint32_t key, void *val)
{
	/* Load at most 1/2: probes stay short even for clustered ids. */
	if ((m->count + 1) * 2 > m->cap) {
		if (m->cap > UINT32_MAX / 2)
			return -ENOMEM;
		int r = resize(m, m->cap ? m->cap * 2 : IDMAP_MIN_CAP);
		if (r < 0)
			return r;
	}
	insert(m, key, val);
	return 0;
}

/* Empties slot i and moves later entries of the cluster back into the gap. */
static void delete_at(struct idmap *m, uint32_t i)
{
	uint32_t mask = m->cap - 1;
	m->slots[i].val = NULL;
	m->count--;
	for (uint32_t j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
		uint32_t home = slot_of(m, m->slots[j].key);
		/* Move j into the gap unless its home lies cyclically in (i, j]. */
		int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j].val = NULL;
		i = j;
	}
}

void *idmap_remove(struct idmap *m, uint32_t key)
{
	if (m->count == 0)
		return NULL;
	for (uint32_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].val)
			return NULL;
		if (m->slots[i].key == key) {
			void *val = m->slots[i].val;
			delete_at(m, i);
			/* Give memory back after a burst (100,000 calls, then few). */
			if (m->cap > 1024 && m->count * 8 < m->cap)
				(void)resize(m, m->cap / 2); /* on failure the table just stays big */
			return val;
		}
	}
}

void idmap_free(struct idmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}
