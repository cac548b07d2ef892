/*
 * module.c: loading handler modules (see module.h).
 */
#include <config.h> /* autoconf's */

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arpcd.h"
#include "config.h"
#include "log.h"
#include "methods.h"
#include "module.h"

struct module {
	void *handle;
	void (*fini)(void);
	struct arpc_server reg; /* what the module registers its methods with */
};

typedef int (*init_fn)(arpc_server *, const arpc_module_arg *, size_t);

static int module_load(struct server *srv, struct module *mod, const struct module_conf *mc)
{
	mod->reg.daemon = srv;
	snprintf(mod->reg.name, sizeof(mod->reg.name), "module %s", mc->name);
	dlerror();
	/* RTLD_LOCAL: modules do not see each other's symbols, only arpcd's. */
	mod->handle = dlopen(mc->path, RTLD_NOW | RTLD_LOCAL);
	if (!mod->handle) {
		const char *e = dlerror();
		log_errorx("module '%s': cannot load '%s': %s", mc->name, mc->path, e ? e : "?");
		return -1;
	}
	union {
		void *p;
		init_fn fn;
	} init;
	union {
		void *p;
		void (*fn)(void);
	} fini;
	dlerror();
	init.p = dlsym(mod->handle, "arpc_module_init");
	if (!init.p) {
		const char *e = dlerror();
		log_errorx("module '%s': '%s' has no arpc_module_init: %s", mc->name, mc->path,
		           e ? e : "?");
		return -1;
	}
	fini.p = dlsym(mod->handle, "arpc_module_fini");
	int r = init.fn(&mod->reg, mc->args, mc->nargs);
	if (r < 0) {
		log_errorx("module '%s': arpc_module_init in '%s' failed: %s", mc->name, mc->path,
		           strerror(-r));
		return -1;
	}
	mod->fini = fini.p ? fini.fn : NULL;
	log_info("module '%s' loaded from '%s'", mc->name, mc->path);
	return 0;
}

int modules_load(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	if (cfg->nmodules == 0)
		return 0;
	srv->modules = calloc(cfg->nmodules, sizeof(*srv->modules));
	if (!srv->modules) {
		log_errorx("cannot load modules: out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->nmodules; i++) {
		srv->nmodules = i + 1;
		if (module_load(srv, &srv->modules[i], &cfg->modules[i]) < 0) {
			modules_unload(srv);
			return -1;
		}
	}
	return 0;
}

void modules_unload(struct server *srv)
{
	for (size_t i = srv->nmodules; i-- > 0;) {
		struct module *mod = &srv->modules[i];
		if (mod->fini)
			mod->fini();
		if (mod->handle && dlclose(mod->handle) != 0)
			log_warnx("%s: dlclose: %s, ignoring", mod->reg.name, dlerror());
	}
	free(srv->modules);
	srv->modules = NULL;
	srv->nmodules = 0;
}
