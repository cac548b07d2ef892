/*
 * methods.h: the method table (name -> handler), filled at start-up by the
 * built-ins and the modules' arpc_module_init(), read-only afterwards, so
 * the loop looks methods up without a lock.
 */
#ifndef ARPCD_METHODS_H
#define ARPCD_METHODS_H

#include <stddef.h>
#include <stdint.h>

#include <arpc/server.h>

struct server;

/* What arpc_server_register()'s `srv` is: a registrant (a module, or the
 * built-ins) with its name for log lines. */
struct arpc_server {
	struct server *daemon;
	char name[64];
};

struct method {
	char *name;
	arpc_handler_fn fn;
	void *data;
	uint32_t flags;
	const struct arpc_server *owner;
};

struct methods;

struct methods *methods_new(void);
void methods_free(struct methods *t);

/* Closes registration: arpc_server_register fails with -EINVAL from now
 * on, as the loop reads the table without a lock. */
void methods_seal(struct methods *t);

const struct method *methods_find(const struct methods *t, const char *name, size_t len);

/* The method names, sorted, one per line; a malloc'd string, *len its
 * length.  NULL when out of memory. */
char *methods_list(const struct methods *t, size_t *len);

#endif
