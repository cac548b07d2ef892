/*
 * module.h: handler modules, one per `[module NAME]` section: dlopen()ed
 * at start-up, their arpc_module_init() given the section's keys other
 * than `path`, their optional arpc_module_fini() called at shutdown after
 * the last call has finished.
 */
#ifndef ARPCD_MODULE_H
#define ARPCD_MODULE_H

struct server;

/* Loads every module of srv->cfg in file order.  0, or -1 after logging
 * which module failed and why (modules loaded before it are unloaded). */
int modules_load(struct server *srv);
/* Calls each arpc_module_fini, last loaded first, and unloads. */
void modules_unload(struct server *srv);

#endif
