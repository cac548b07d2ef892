/*
 * methods.c: the method table and arpc_server_register() (see methods.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arpcd.h"
#include "log.h"
#include "methods.h"
#include "wire.h"

struct methods {
	struct method **slots; /* open addressing; NULL: empty */
	size_t cap;            /* a power of two */
	size_t count;
	int sealed;
};

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

struct methods *methods_new(void)
{
	struct methods *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cap = 64;
	if (!(t->slots = calloc(t->cap, sizeof(*t->slots)))) {
		free(t);
		return NULL;
	}
	return t;
}

void methods_free(struct methods *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slots[i]) {
			free(t->slots[i]->name);
			free(t->slots[i]);
		}
	}
	free(t->slots);
	free(t);
}

void methods_seal(struct methods *t)
{
	t->sealed = 1;
}

const struct method *methods_find(const struct methods *t, const char *name, size_t len)
{
	for (size_t i = hash(name, len) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		const struct method *m = t->slots[i];
		if (!m)
			return NULL;
		if (strncmp(m->name, name, len) == 0 && m->name[len] == '\0')
			return m;
	}
}

static void place(struct method **slots, size_t cap, struct method *m)
{
	size_t i = hash(m->name, strlen(m->name)) & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = m;
}

static int grow(struct methods *t)
{
	size_t cap = t->cap * 2;
	struct method **slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i])
			place(slots, cap, t->slots[i]);
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

int arpc_server_register(arpc_server *srv, const char *method, arpc_handler_fn fn, void *data,
                         uint32_t flags)
{
	if (!srv || !method || !fn || (flags & ~(uint32_t)(ARPC_HANDLER_INLINE | ARPC_HANDLER_ADMIN)))
		return -EINVAL;
	struct methods *t = srv->daemon->methods;
	size_t len = strlen(method);
	if (t->sealed || !wire_method_valid(method, len))
		return -EINVAL;
	if (methods_find(t, method, len))
		return -EEXIST;
	if ((t->count + 1) * 2 > t->cap && grow(t) < 0)
		return -ENOMEM;
	struct method *m = calloc(1, sizeof(*m));
	if (!m || !(m->name = strdup(method))) {
		free(m);
		return -ENOMEM;
	}
	m->fn = fn;
	m->data = data;
	m->flags = flags;
	m->owner = srv;
	place(t->slots, t->cap, m);
	t->count++;
	log_debug("%s: registered method '%s'%s%s", srv->name, method,
	          flags & ARPC_HANDLER_INLINE ? " (inline)" : "",
	          flags & ARPC_HANDLER_ADMIN ? " (admin)" : "");
	return 0;
}

void arpc_server_log(arpc_server *srv, int priority, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	if (!log_enabled(priority))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(priority, "%s: %s", srv ? srv->name : "module", msg);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *methods_list(const struct methods *t, size_t *len)
{
	const char **names = calloc(t->count ? t->count : 1, sizeof(*names));
	size_t n = 0, total = 0;
	if (!names)
		return NULL;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i]) {
			names[n++] = t->slots[i]->name;
			total += strlen(t->slots[i]->name) + 1;
		}
	qsort(names, n, sizeof(*names), cmp_names);
	char *out = malloc(total + 1), *p = out;
	if (out) {
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(names[i]);
			memcpy(p, names[i], l);
			p[l] = '\n';
			p += l + 1;
		}
		*p = '\0';
		*len = total;
	}
	free(names);
	return out;
}
