/*
 * fuzz-config.c: arpcd's config parser (daemon/config.c, over inih), fed
 * the input as the text of a config file, from memory: config_load() reads
 * a file whole and refuses NUL bytes, then calls config_parse_string(),
 * which is where this starts.
 *
 * Checked, beyond "no crash, no sanitizer report, no leak": a failure
 * leaves one message naming the file; a success leaves a config that
 * keeps every rule validation promises (endpoints well-formed, limits in
 * range, max_output_buffer above max_frame, every module with a path), and
 * that the reload steps (config_log_changes, config_keep_restart_keys)
 * handle.
 */
#include <config.h> /* autoconf's; daemon/config.h is included by path below */

#include <stdlib.h>
#include <string.h>

#include "../daemon/config.h"
#include "fuzz.h"
#include "log.h"
#include "wire.h"

#define NAME "fuzz.conf"

static void check_valid(const struct config *cfg)
{
	/* No listen line is valid: arpcd then serves what systemd passes. */
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (config_endpoint_error(cfg->listen[i]))
			abort();
	if (cfg->workers < 1 || cfg->workers > 1024 || cfg->socket_mode > 0777)
		abort();
	if (cfg->max_connections < 1 || cfg->max_inflight < 1 || cfg->max_queued_jobs < 1)
		abort();
	if (cfg->max_frame < 512 || cfg->max_frame > WIRE_MAX_BODY_LIMIT)
		abort();
	if (cfg->max_output_buffer < cfg->max_frame + WIRE_REPLY_PREFIX_MAX)
		abort();
	if (!cfg->socket_group)
		abort();
	for (size_t i = 0; i < cfg->nmodules; i++)
		if (!cfg->modules[i].name || !cfg->modules[i].path || !cfg->modules[i].path[0])
			abort();
}

/* What a reload does with a new config: compare, keep the restart keys. */
static void reload_steps(const struct config *cfg)
{
	struct config *old = config_new();
	if (!old)
		abort();
	config_log_changes(old, cfg);
	if (config_keep_restart_keys(old, cfg) != 0)
		abort();
	if (old->nlisten != cfg->nlisten || old->nmodules != cfg->nmodules ||
	    old->workers != cfg->workers || strcmp(old->socket_group, cfg->socket_group) != 0)
		abort();
	/* Now nothing that needs a restart differs. */
	if (config_log_changes(cfg, old) != 0)
		abort();
	config_free(old);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet) {
		log_set_level(LOG_ERR); /* reload_steps logs every change at notice */
		quiet = 1;
	}
	if (memchr(data, '\0', size))
		return 0; /* config_load refuses these before parsing */
	char *text = malloc(size + 1);
	struct config *cfg = config_new();
	if (!text || !cfg)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	char err[1024];
	err[0] = '\0';
	int r = config_parse_string(cfg, text, NAME, err, sizeof(err));
	if (r == 0) {
		if (err[0] || strcmp(cfg->file, NAME) != 0)
			abort();
		check_valid(cfg);
		reload_steps(cfg);
	} else if (r != -1 || strncmp(err, NAME ":", strlen(NAME ":")) != 0 ||
	           strlen(err) <= strlen(NAME ":")) {
		abort();
	}
	config_free(cfg);
	free(text);
	return 0;
}
