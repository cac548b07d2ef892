/*
 * idmap.h: a connection's outstanding calls by call id (open addressing,
 * linear probing, deletion by backward shift: no tombstones, so a table
 * that sees millions of ids stays short).  Loop thread only.
 */
#ifndef ARPCD_IDMAP_H
#define ARPCD_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint32_t key;
	void *val; /* NULL: empty */
};

/* To visit every entry, walk slots[0..cap) and skip empty ones; the map
 * must not change during the walk. */
struct idmap {
	struct idmap_slot *slots;
	uint32_t cap;   /* 0 or a power of two */
	uint32_t count;
};

void *idmap_get(const struct idmap *m, uint32_t key);
/* Adds key -> val (val not NULL, key absent).  0 or -ENOMEM. */
int idmap_put(struct idmap *m, uint32_t key, void *val);
/* Removes key; returns its value or NULL. */
void *idmap_remove(struct idmap *m, uint32_t key);
void idmap_free(struct idmap *m);

#endif
