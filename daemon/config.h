/*
 * config.h: arpcd's configuration (conf/arpcd.conf, docs/configuration.md).
 *
 * A struct config is built whole, validated, then used read-only by the
 * loop thread; a reload builds a new one aside and swaps it in only if it
 * is valid (loop.c).  Nothing here opens a socket or loads a module.
 */
#ifndef ARPCD_CONFIG_H
#define ARPCD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <arpc/server.h>

struct module_conf {
	char *name;
	char *path;
	arpc_module_arg *args; /* keys other than path, in file order; strings owned */
	size_t nargs;
	int line;              /* of the section's first key, for messages */
};

struct id_list {
	uint32_t *ids;
	size_t n;
};

struct config {
	char *file;            /* the name messages use */

	/* [daemon] */
	char **listen;         /* none: only the sockets systemd passes */
	size_t nlisten;
	uint32_t workers;
	int log_level;         /* LOG_* */
	uint32_t socket_mode;
	char *socket_group;    /* "" for the daemon's own group */
	struct id_list allow_users;
	struct id_list allow_groups;
	struct id_list admin_users;
	int demo_methods;      /* register demo.*: for trying arpc, not for production */

	/* [limits] */
	uint32_t max_connections;
	uint32_t max_inflight;  /* max_inflight_per_connection */
	uint32_t max_queued_jobs;
	uint64_t max_frame;         /* K_SIZE fields are all uint64_t */
	uint64_t max_output_buffer;
	uint32_t idle_timeout_ms;     /* 0: none */
	uint32_t shutdown_timeout_ms;
	uint32_t demo_sleep_max_ms;
	uint64_t max_connection_memory; /* bytes one connection may make arpcd hold */
	uint64_t max_total_memory;      /* ... and all connections together */

	struct module_conf *modules;
	size_t nmodules;
};

/* A config holding every default.  NULL when out of memory. */
struct config *config_new(void);
void config_free(struct config *cfg);

/*
 * Parses `text` (the contents of a file called `name` in messages) over
 * the defaults in *cfg, then validates the result.  Returns 0, or -1 with
 * "NAME:LINE: message" (or "NAME: message") in err[0..errlen).  On failure
 * *cfg is partly updated: free it.  The entry point of the config fuzzer.
 */
int config_parse_string(struct config *cfg, const char *text, const char *name, char *err,
                        size_t errlen);

/* Reads and parses a file: a new config in *out, or -1 and a message. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);

/* Replaces the listen lines (the -l/--listen options).  Returns 0, or -1
 * and a message naming the bad endpoint. */
int config_set_listen(struct config *cfg, char *const *eps, size_t n, char *err, size_t errlen);

/* Checks an endpoint's syntax ("unix:/abs/path", "tcp:HOST:PORT",
 * "tcp:[V6]:PORT", "tcp:PORT", or "fd:NAME": the socket systemd passes
 * with FileDescriptorName=NAME); returns NULL or what is wrong. */
const char *config_endpoint_error(const char *ep);

/*
 * Compares two configs key by key and logs, at notice level, each changed
 * key: "name: old -> new" for those that apply at once, "name changed: needs
 * a restart" for the others.  Returns how many changes need a restart.
 */
int config_log_changes(const struct config *old, const struct config *cur);

/* Copies the keys that only a restart applies from `from` into `to`, so the
 * running config says what is really in force.  0 or -ENOMEM. */
int config_keep_restart_keys(struct config *to, const struct config *from);

int config_id_listed(const struct id_list *l, uint32_t id);

#endif
