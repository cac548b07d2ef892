/*
 * config.c: parses and validates arpcd.conf with inih (see config.h).
 *
 * Every key is described once, in keys[] below: its section, type, bounds,
 * default and whether a reload applies it.  Defaults are parsed from their
 * text by the same code as the file, so conf/arpcd.conf, the table and the
 * documentation can be compared (tests/unit/test-config.c does).
 *
 * inih as Debian builds it calls the handler without a line number, and
 * ini_parse() reports only the first error's line.  So the text is fed
 * through our own line reader, which counts lines: the handler then knows
 * its line exactly, and the reader itself catches lines longer than inih's
 * buffer, which inih would otherwise split into two lines silently.
 */
#include <config.h> /* autoconf's */

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "wire.h"

/* The largest file accepted: a config is a page of text. */
#define CONFIG_FILE_MAX (1024 * 1024)

enum key_type {
	K_UINT,     /* uint32_t, decimal */
	K_SIZE,     /* uint64_t, bytes with an optional K, M or G suffix */
	K_DURATION, /* uint32_t milliseconds, from N[ms|s|m|h] (plain N: seconds) */
	K_LEVEL,    /* int LOG_* from a level name */
	K_MODE,     /* uint32_t, octal permission bits */
	K_GROUP,    /* char *, a group name or number, or empty */
	K_USERS,    /* struct id_list of user names or uids */
	K_GROUPS,   /* struct id_list of group names or gids */
	K_LISTEN,   /* char **listen, repeatable */
	K_BOOL      /* int, yes or no */
};

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off;
	uint64_t min, max;
	int live; /* a reload applies it */
	const char *def;
};

#define F(field) offsetof(struct config, field)

static const struct key keys[] = {
	/* No default: with no listen line arpcd serves the sockets systemd passes. */
	{"daemon", "listen", K_LISTEN, F(listen), 0, 0, 0, NULL},
	{"daemon", "workers", K_UINT, F(workers), 1, 1024, 0, "4"},
	{"daemon", "log_level", K_LEVEL, F(log_level), 0, 0, 1, "info"},
	{"daemon", "socket_mode", K_MODE, F(socket_mode), 0, 0777, 0, "0660"},
	{"daemon", "socket_group", K_GROUP, F(socket_group), 0, 0, 0, ""},
	{"daemon", "allow_users", K_USERS, F(allow_users), 0, 0, 1, ""},
	{"daemon", "allow_groups", K_GROUPS, F(allow_groups), 0, 0, 1, ""},
	{"daemon", "admin_users", K_USERS, F(admin_users), 0, 0, 1, "root"},
	{"daemon", "demo_methods", K_BOOL, F(demo_methods), 0, 1, 0, "no"},
	{"limits", "max_connections", K_UINT, F(max_connections), 1, 1000000, 1, "1024"},
	{"limits", "max_inflight_per_connection", K_UINT, F(max_inflight), 1, 16777216, 1, "16384"},
	{"limits", "max_queued_jobs", K_UINT, F(max_queued_jobs), 1, 16777216, 1, "65536"},
	{"limits", "max_frame", K_SIZE, F(max_frame), 512, WIRE_MAX_BODY_LIMIT, 1, "1M"},
	{"limits", "max_output_buffer", K_SIZE, F(max_output_buffer), 4096, (uint64_t)1 << 34, 1,
	 "16M"},
	{"limits", "idle_timeout", K_DURATION, F(idle_timeout_ms), 0, 86400000, 1, "10m"},
	{"limits", "shutdown_timeout", K_DURATION, F(shutdown_timeout_ms), 0, 3600000, 1, "10s"},
	{"limits", "demo_sleep_max", K_DURATION, F(demo_sleep_max_ms), 0, 3600000, 1, "10s"},
	{"limits", "max_connection_memory", K_SIZE, F(max_connection_memory), 65536, (uint64_t)1 << 34, 1, "4M"},
	{"limits", "max_total_memory", K_SIZE, F(max_total_memory), 1 << 20, (uint64_t)1 << 40, 1, "256M"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* State of one parse: the reader's position and the first error. */
struct parse {
	struct config *cfg;
	const char *name;
	const char *p;          /* next unread byte of the text */
	int line;               /* the line inih is processing */
	int line_indented;      /* it starts with blank space (a continuation) */
	int err_line;           /* 0 until the first error */
	char err[512];
	unsigned char seen[NKEYS];
	const char *last_key;   /* the previous handler call, to spot continuations */
	char last_section[64];
	struct module_conf *module; /* the [module NAME] being read */
};

static void *at(struct config *cfg, const struct key *k)
{
	return (char *)cfg + k->off;
}

static const void *cat(const struct config *cfg, const struct key *k)
{
	return (const char *)cfg + k->off;
}

/* arpc_module_arg's strings are const for modules, but ours to free. */
static void free_const(const char *p)
{
	free((void *)(uintptr_t)p);
}

static void id_list_free(struct id_list *l)
{
	free(l->ids);
	l->ids = NULL;
	l->n = 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void module_conf_clear(struct module_conf *m)
{
	free(m->name);
	free(m->path);
	for (size_t i = 0; i < m->nargs; i++) {
		free_const(m->args[i].key);
		free_const(m->args[i].value);
	}
	free(m->args);
	memset(m, 0, sizeof(*m));
}

static void modules_free(struct module_conf *mods, size_t n)
{
	for (size_t i = 0; i < n; i++)
		module_conf_clear(&mods[i]);
	free(mods);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->file);
	strv_free(cfg->listen, cfg->nlisten);
	free(cfg->socket_group);
	id_list_free(&cfg->allow_users);
	id_list_free(&cfg->allow_groups);
	id_list_free(&cfg->admin_users);
	modules_free(cfg->modules, cfg->nmodules);
	free(cfg);
}

int config_id_listed(const struct id_list *l, uint32_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return 1;
	return 0;
}

/* Digits only, no sign, no overflow. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return 0;
}

static int parse_scaled(const char *s, int durations, uint64_t *out)
{
	const char *end;
	uint64_t v, mul = 1;
	if (parse_u64(s, &end, &v) < 0)
		return -1;
	if (durations) {
		mul = 1000;
		if (strcmp(end, "ms") == 0)
			mul = 1;
		else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
			mul = 60000;
		else if (strcmp(end, "h") == 0)
			mul = 3600000;
		else if (*end && strcmp(end, "s") != 0)
			return -1;
	} else if (*end) {
		if (end[1] != '\0')
			return -1;
		switch (toupper((unsigned char)*end)) {
		case 'K': mul = 1024; break;
		case 'M': mul = 1024 * 1024; break;
		case 'G': mul = 1024 * 1024 * 1024; break;
		default: return -1;
		}
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int lookup_user(const char *name, uint32_t *id)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) == 0 && res) {
		*id = (uint32_t)res->pw_uid;
		return 0;
	}
	if (strcmp(name, "root") == 0) { /* a minimal system with no passwd entry */
		*id = 0;
		return 0;
	}
	return -1;
}

static int lookup_group(const char *name, uint32_t *id)
{
	struct group gr, *res = NULL;
	char buf[4096];
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*id = (uint32_t)res->gr_gid;
		return 0;
	}
	return -1;
}

/* A name, or a number; `what` is "user" or "group" for the message. */
static int resolve_id(const char *word, int groups, uint32_t *id)
{
	const char *end;
	uint64_t v;
	if (parse_u64(word, &end, &v) == 0 && *end == '\0')
		return v <= UINT32_MAX - 1 ? (*id = (uint32_t)v, 0) : -1;
	return groups ? lookup_group(word, id) : lookup_user(word, id);
}

/* Parses a list of names or numbers separated by commas or blanks. */
static int parse_id_list(const char *s, int groups, struct id_list *out, char *bad, size_t badlen)
{
	struct id_list l = {0};
	char word[256];
	while (*s) {
		size_t n = strcspn(s, ", \t");
		if (n == 0) {
			s++;
			continue;
		}
		if (n >= sizeof(word)) {
			snprintf(bad, badlen, "%.40s...", s);
			goto fail;
		}
		memcpy(word, s, n);
		word[n] = '\0';
		s += n;
		uint32_t id;
		if (resolve_id(word, groups, &id) < 0) {
			snprintf(bad, badlen, "%s", word);
			goto fail;
		}
		uint32_t *ids = realloc(l.ids, (l.n + 1) * sizeof(*ids));
		if (!ids) {
			snprintf(bad, badlen, "(out of memory)");
			goto fail;
		}
		l.ids = ids;
		l.ids[l.n++] = id;
	}
	id_list_free(out);
	*out = l;
	return 0;
fail:
	id_list_free(&l);
	return -1;
}

const char *config_endpoint_error(const char *ep)
{
	if (strncmp(ep, "unix:", 5) == 0) {
		const char *path = ep + 5;
		if (path[0] != '/')
			return "a unix socket path must be absolute";
		if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return "the unix socket path is too long";
		return NULL;
	}
	if (strncmp(ep, "fd:", 3) == 0) {
		/* systemd's rules for FileDescriptorName= */
		size_t n = strlen(ep + 3);
		if (n == 0 || n > 255)
			return "a socket name (FileDescriptorName=) has 1 to 255 characters";
		for (const char *p = ep + 3; *p; p++)
			if (*p <= ' ' || *p >= 127 || *p == ':')
				return "a socket name (FileDescriptorName=) is printable ASCII without ':' or blanks";
		return NULL;
	}
	if (strncmp(ep, "tcp:", 4) == 0) {
		const char *rest = ep + 4, *port = strrchr(rest, ':');
		const char *end;
		uint64_t v;
		if (port) {
			size_t hlen = (size_t)(port - rest);
			if (hlen == 0)
				return "the host before ':' is empty";
			if (rest[0] == '[' && rest[hlen - 1] != ']')
				return "an IPv6 address must be in brackets";
			port++;
		} else {
			port = rest;
		}
		if (parse_u64(port, &end, &v) < 0 || *end || v > 65535)
			return "the port must be a number 0-65535";
		return NULL;
	}
	return "an endpoint starts with 'unix:', 'tcp:' or 'fd:'";
}

static int set_error(struct parse *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records the first error only, with its line (0: no line). */
static int set_error(struct parse *ps, int line, const char *fmt, ...)
{
	if (ps->err[0])
		return 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err, sizeof(ps->err), fmt, ap);
	va_end(ap);
	ps->err_line = line;
	return 0;
}

static int add_listen(struct config *cfg, const char *v)
{
	char **l = realloc(cfg->listen, (cfg->nlisten + 1) * sizeof(*l));
	if (!l)
		return -1;
	cfg->listen = l;
	if (!(l[cfg->nlisten] = strdup(v)))
		return -1;
	cfg->nlisten++;
	return 0;
}

static const char *type_expectation(const struct key *k)
{
	switch (k->type) {
	case K_UINT: return "an integer";
	case K_SIZE: return "a size in bytes, with an optional K, M or G suffix";
	case K_DURATION: return "a duration: N, Ns, Nms, Nm or Nh";
	case K_LEVEL: return "error, warning, notice, info or debug";
	case K_MODE: return "octal permission bits such as 0660";
	case K_BOOL: return "yes or no";
	default: return "a valid value";
	}
}

/*
 * Sets key k from text v.  `repeat` is set for the second and later listen
 * lines of one source.  Returns 0, or -1 with the error set.
 */
static int set_key(struct parse *ps, const struct key *k, const char *v, int repeat, int line)
{
	struct config *cfg = ps->cfg;
	char bad[300];
	uint64_t n;
	const char *end;
	int lvl;

	switch (k->type) {
	case K_LISTEN: {
		const char *why = config_endpoint_error(v);
		if (why)
			return set_error(ps, line, "invalid endpoint '%s' for 'listen' in [%s]: %s", v,
			                 k->section, why), -1;
		if (!repeat) {
			strv_free(cfg->listen, cfg->nlisten);
			cfg->listen = NULL;
			cfg->nlisten = 0;
		}
		/* Else the second bind finds the first and calls it another server. */
		for (size_t i = 0; i < cfg->nlisten; i++)
			if (strcmp(cfg->listen[i], v) == 0)
				return set_error(ps, line, "duplicate endpoint '%s' for 'listen' in [%s]",
				                 v, k->section), -1;
		if (add_listen(cfg, v) < 0)
			return set_error(ps, line, "out of memory"), -1;
		return 0;
	}
	case K_UINT:
		if (parse_u64(v, &end, &n) < 0 || *end)
			goto bad_value;
		goto check_range;
	case K_SIZE:
	case K_DURATION:
		if (parse_scaled(v, k->type == K_DURATION, &n) < 0)
			goto bad_value;
		goto check_range;
	case K_MODE:
		n = 0;
		for (end = v; *end >= '0' && *end <= '7' && n <= 0777; end++)
			n = n * 8 + (uint64_t)(*end - '0');
		if (end == v || *end)
			goto bad_value;
		goto check_range;
	case K_LEVEL:
		if ((lvl = log_level_parse(v)) < 0)
			goto bad_value;
		*(int *)at(cfg, k) = lvl;
		return 0;
	case K_BOOL:
		if (strcmp(v, "yes") == 0)
			*(int *)at(cfg, k) = 1;
		else if (strcmp(v, "no") == 0)
			*(int *)at(cfg, k) = 0;
		else
			goto bad_value;
		return 0;
	case K_GROUP: {
		uint32_t gid;
		if (*v && resolve_id(v, 1, &gid) < 0)
			return set_error(ps, line, "unknown group '%s' for '%s' in [%s]", v, k->name,
			                 k->section), -1;
		char *s = strdup(v), **dst = at(cfg, k);
		if (!s)
			return set_error(ps, line, "out of memory"), -1;
		free(*dst);
		*dst = s;
		return 0;
	}
	case K_USERS:
	case K_GROUPS:
		if (parse_id_list(v, k->type == K_GROUPS, at(cfg, k), bad, sizeof(bad)) < 0)
			return set_error(ps, line, "unknown %s '%s' in '%s' in [%s]",
			                 k->type == K_GROUPS ? "group" : "user", bad, k->name,
			                 k->section), -1;
		return 0;
	}
	goto bad_value;

check_range:
	if (n < k->min || n > k->max)
		return set_error(ps, line,
		                 "value '%s' for '%s' in [%s] is out of range (%llu to %llu)", v,
		                 k->name, k->section, (unsigned long long)k->min,
		                 (unsigned long long)k->max), -1;
	if (k->type == K_SIZE)
		*(uint64_t *)at(cfg, k) = n;
	else
		*(uint32_t *)at(cfg, k) = (uint32_t)n;
	return 0;

bad_value:
	return set_error(ps, line, "invalid value '%s' for '%s' in [%s]: expected %s", v, k->name,
	                 k->section, type_expectation(k)), -1;
}

static int module_name_valid(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static struct module_conf *module_get(struct parse *ps, const char *name)
{
	struct config *cfg = ps->cfg;
	for (size_t i = 0; i < cfg->nmodules; i++)
		if (strcmp(cfg->modules[i].name, name) == 0)
			return &cfg->modules[i];
	struct module_conf *m = realloc(cfg->modules, (cfg->nmodules + 1) * sizeof(*m));
	if (!m)
		return NULL;
	cfg->modules = m;
	m = &cfg->modules[cfg->nmodules];
	memset(m, 0, sizeof(*m));
	if (!(m->name = strdup(name)))
		return NULL;
	m->line = ps->line;
	cfg->nmodules++;
	return m;
}

static int module_key(struct parse *ps, const char *modname, const char *name, const char *value)
{
	if (!module_name_valid(modname))
		return set_error(ps, ps->line,
		                 "invalid module name '%s' in [module %s]: use letters, digits, '_', '-', '.'",
		                 modname, modname);
	struct module_conf *m = module_get(ps, modname);
	if (!m)
		return set_error(ps, ps->line, "out of memory");
	if (strcmp(name, "path") == 0) {
		if (m->path)
			return set_error(ps, ps->line, "duplicate key 'path' in [module %s]", modname);
		if (!*value)
			return set_error(ps, ps->line, "empty 'path' in [module %s]", modname);
		/* dlopen() would search the library path for a bare name, and
		 * resolve a relative one from wherever arpcd was started. */
		if (value[0] != '/')
			return set_error(ps, ps->line, "'path' in [module %s] must be absolute, not '%s'",
			                 modname, value);
		if (!(m->path = strdup(value)))
			return set_error(ps, ps->line, "out of memory");
		return 1;
	}
	for (size_t i = 0; i < m->nargs; i++)
		if (strcmp(m->args[i].key, name) == 0)
			return set_error(ps, ps->line, "duplicate key '%s' in [module %s]", name,
			                 modname);
	arpc_module_arg *a = realloc(m->args, (m->nargs + 1) * sizeof(*a));
	if (!a)
		return set_error(ps, ps->line, "out of memory");
	m->args = a;
	a[m->nargs].key = strdup(name);
	a[m->nargs].value = strdup(value);
	if (!a[m->nargs].key || !a[m->nargs].value) {
		free_const(a[m->nargs].key);
		free_const(a[m->nargs].value);
		return set_error(ps, ps->line, "out of memory");
	}
	m->nargs++;
	return 1;
}

/* inih's handler: returns nonzero for success, as inih wants. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	int continuation = ps->line_indented && ps->last_key && strcmp(ps->last_key, name) == 0 &&
	                   strcmp(ps->last_section, section) == 0;
	ps->last_key = NULL;
	snprintf(ps->last_section, sizeof(ps->last_section), "%s", section);

	if (continuation)
		return set_error(ps, ps->line,
		                 "continuation lines are not supported (value of '%s' in [%s])", name,
		                 section);
	if (strncmp(section, "module", 6) == 0 && (section[6] == ' ' || section[6] == '\t')) {
		const char *modname = section + 7;
		while (*modname == ' ' || *modname == '\t')
			modname++;
		return module_key(ps, modname, name, value);
	}
	if (!*section)
		return set_error(ps, ps->line,
		                 "key '%s' before any section: put it under [daemon] or [limits]",
		                 name);
	if (strcmp(section, "daemon") != 0 && strcmp(section, "limits") != 0)
		return set_error(ps, ps->line, "unknown section [%s] (key '%s')", section, name);

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (ps->seen[i] && k->type != K_LISTEN)
			return set_error(ps, ps->line, "duplicate key '%s' in [%s]", name, section);
		if (set_key(ps, k, value, ps->seen[i], ps->line) < 0)
			return 0;
		ps->seen[i] = 1;
		ps->last_key = k->name;
		return 1;
	}
	return set_error(ps, ps->line, "unknown key '%s' in [%s]", name, section);
}

/*
 * inih's reader (fgets-like): one line of the text per call, counted.  A
 * line that does not fit inih's buffer is an error here, reported with its
 * number, and skipped whole so that inih never sees its tail as a line.
 */
static char *reader(char *buf, int size, void *stream)
{
	struct parse *ps = stream;
	const char *p = ps->p;
	if (*p == '\0' || size < 2)
		return NULL;
	size_t len = strcspn(p, "\n");
	size_t take = len + (p[len] == '\n');
	ps->line++;
	ps->line_indented = (*p == ' ' || *p == '\t');
	ps->p = p + take;
	if (take > (size_t)size - 1) {
		set_error(ps, ps->line, "line too long (the limit is %d characters)", size - 2);
		buf[0] = '\n';
		buf[1] = '\0';
		return buf;
	}
	memcpy(buf, p, take);
	buf[take] = '\0';
	return buf;
}

static int validate(struct parse *ps)
{
	struct config *cfg = ps->cfg;
	for (size_t i = 0; i < cfg->nmodules; i++)
		if (!cfg->modules[i].path)
			return set_error(ps, cfg->modules[i].line, "[module %s] has no 'path'",
			                 cfg->modules[i].name), -1;
	if (cfg->max_output_buffer < cfg->max_frame + WIRE_REPLY_PREFIX_MAX)
		return set_error(ps, 0,
		                 "max_output_buffer (%llu) must be at least max_frame + %u (%llu)",
		                 (unsigned long long)cfg->max_output_buffer, WIRE_REPLY_PREFIX_MAX,
		                 (unsigned long long)cfg->max_frame + WIRE_REPLY_PREFIX_MAX), -1;
	/* The total is first come, first served up to three quarters, then
	 * shared (conn.c, "Memory budgets"): each part must hold several whole
	 * frames, each with the call made of it. */
	if (cfg->max_total_memory < 8 * cfg->max_frame)
		return set_error(ps, 0, "max_total_memory (%llu) must be at least 8 x max_frame (%llu)",
		                 (unsigned long long)cfg->max_total_memory,
		                 (unsigned long long)(8 * cfg->max_frame)), -1;
	if (cfg->max_total_memory < cfg->max_connection_memory)
		return set_error(ps, 0,
		                 "max_total_memory (%llu) must be at least max_connection_memory (%llu)",
		                 (unsigned long long)cfg->max_total_memory,
		                 (unsigned long long)cfg->max_connection_memory), -1;
	return 0;
}

static void format_error(const struct parse *ps, char *err, size_t errlen)
{
	if (ps->err_line > 0)
		snprintf(err, errlen, "%s:%d: %s", ps->name, ps->err_line, ps->err);
	else
		snprintf(err, errlen, "%s: %s", ps->name, ps->err);
}

int config_parse_string(struct config *cfg, const char *text, const char *name, char *err,
                        size_t errlen)
{
	struct parse ps;
	memset(&ps, 0, sizeof(ps));
	ps.cfg = cfg;
	ps.name = name;
	ps.p = text;

	char *file = strdup(name);
	if (!file) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	free(cfg->file);
	cfg->file = file;

	int r = ini_parse_stream(reader, &ps, handler, &ps);
	if (r > 0 && (!ps.err[0] || r < ps.err_line)) {
		/* inih's own error on a line our handler never saw. */
		ps.err[0] = '\0';
		set_error(&ps, r, "syntax error: expected '[section]', 'key = value' or a comment");
	} else if (r < 0 && !ps.err[0]) {
		set_error(&ps, 0, "out of memory");
	}
	if (!ps.err[0])
		validate(&ps);
	if (ps.err[0]) {
		format_error(&ps, err, errlen);
		return -1;
	}
	return 0;
}

struct config *config_new(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return NULL;
	struct parse ps;
	memset(&ps, 0, sizeof(ps));
	ps.cfg = cfg;
	ps.name = "defaults";
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].def && set_key(&ps, &keys[i], keys[i].def, 0, 0) < 0) {
			/* Only out of memory or a lookup failing can get here. */
			config_free(cfg);
			return NULL;
		}
	}
	if (!(cfg->file = strdup("defaults"))) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static char *read_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t len = 0;
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	*out = NULL;
	char *text = read_file(path, err, errlen);
	if (!text)
		return -1;
	struct config *cfg = config_new();
	if (!cfg) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(text);
		return -1;
	}
	int r = config_parse_string(cfg, text, path, err, errlen);
	free(text);
	if (r < 0) {
		config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

int config_set_listen(struct config *cfg, char *const *eps, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = config_endpoint_error(eps[i]);
		if (why) {
			snprintf(err, errlen, "invalid endpoint '%s' for --listen: %s", eps[i], why);
			return -1;
		}
	}
	char **l = calloc(n ? n : 1, sizeof(*l));
	if (!l)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		if (!(l[i] = strdup(eps[i]))) {
			strv_free(l, i);
			goto nomem;
		}
	strv_free(cfg->listen, cfg->nlisten);
	cfg->listen = l;
	cfg->nlisten = n;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static void format_ids(char *out, size_t len, const struct id_list *l)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < l->n && n < len; i++) {
		int r = snprintf(out + n, len - n, "%s%u", i ? "," : "", l->ids[i]);
		if (r < 0)
			break;
		n += (size_t)r;
	}
}

/* The value of key k in cfg, as text, for change messages. */
static void format_key(char *out, size_t len, const struct config *cfg, const struct key *k)
{
	switch (k->type) {
	case K_UINT:
	case K_DURATION:
		snprintf(out, len, "%u%s", *(const uint32_t *)cat(cfg, k),
		         k->type == K_DURATION ? "ms" : "");
		return;
	case K_SIZE:
		snprintf(out, len, "%llu", (unsigned long long)*(const uint64_t *)cat(cfg, k));
		return;
	case K_MODE:
		snprintf(out, len, "%04o", *(const uint32_t *)cat(cfg, k));
		return;
	case K_LEVEL:
		snprintf(out, len, "%s", log_level_name(*(const int *)cat(cfg, k)));
		return;
	case K_BOOL:
		snprintf(out, len, "%s", *(const int *)cat(cfg, k) ? "yes" : "no");
		return;
	case K_GROUP:
		snprintf(out, len, "'%s'", *(char *const *)cat(cfg, k));
		return;
	case K_USERS:
	case K_GROUPS:
		format_ids(out, len, cat(cfg, k));
		return;
	case K_LISTEN: {
		size_t n = 0;
		out[0] = '\0';
		for (size_t i = 0; i < cfg->nlisten && n < len; i++) {
			int r = snprintf(out + n, len - n, "%s%s", i ? " " : "", cfg->listen[i]);
			if (r < 0)
				break;
			n += (size_t)r;
		}
		return;
	}
	}
}

static int modules_equal(const struct config *a, const struct config *b)
{
	if (a->nmodules != b->nmodules)
		return 0;
	for (size_t i = 0; i < a->nmodules; i++) {
		const struct module_conf *x = &a->modules[i], *y = &b->modules[i];
		if (strcmp(x->name, y->name) || strcmp(x->path, y->path) || x->nargs != y->nargs)
			return 0;
		for (size_t j = 0; j < x->nargs; j++)
			if (strcmp(x->args[j].key, y->args[j].key) ||
			    strcmp(x->args[j].value, y->args[j].value))
				return 0;
	}
	return 1;
}

int config_log_changes(const struct config *old, const struct config *cur)
{
	char a[1024], b[1024];
	int restart = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		format_key(a, sizeof(a), old, k);
		format_key(b, sizeof(b), cur, k);
		if (strcmp(a, b) == 0)
			continue;
		if (k->live) {
			log_notice("reload: %s: %s -> %s", k->name, a, b);
		} else {
			log_notice("reload: %s changed (%s -> %s): needs a restart, ignoring", k->name,
			           a, b);
			restart++;
		}
	}
	if (!modules_equal(old, cur)) {
		log_notice("reload: [module] sections changed: needs a restart, ignoring");
		restart++;
	}
	return restart;
}

static int module_conf_copy(struct module_conf *to, const struct module_conf *from)
{
	memset(to, 0, sizeof(*to));
	to->line = from->line;
	if (!(to->name = strdup(from->name)) || !(to->path = strdup(from->path)))
		goto fail;
	if (from->nargs && !(to->args = calloc(from->nargs, sizeof(*to->args))))
		goto fail;
	for (size_t i = 0; i < from->nargs; i++) {
		to->args[i].key = strdup(from->args[i].key);
		to->args[i].value = strdup(from->args[i].value);
		to->nargs++;
		if (!to->args[i].key || !to->args[i].value)
			goto fail;
	}
	return 0;
fail:
	module_conf_clear(to);
	return -ENOMEM;
}

int config_keep_restart_keys(struct config *to, const struct config *from)
{
	char **listen = calloc(from->nlisten ? from->nlisten : 1, sizeof(*listen));
	char *group = strdup(from->socket_group);
	struct module_conf *mods = calloc(from->nmodules ? from->nmodules : 1, sizeof(*mods));
	size_t nl = 0, nm = 0;
	if (!listen || !group || !mods)
		goto fail;
	for (; nl < from->nlisten; nl++)
		if (!(listen[nl] = strdup(from->listen[nl])))
			goto fail;
	for (; nm < from->nmodules; nm++)
		if (module_conf_copy(&mods[nm], &from->modules[nm]) < 0)
			goto fail;
	strv_free(to->listen, to->nlisten);
	to->listen = listen;
	to->nlisten = nl;
	free(to->socket_group);
	to->socket_group = group;
	modules_free(to->modules, to->nmodules);
	to->modules = mods;
	to->nmodules = nm;
	to->workers = from->workers;
	to->socket_mode = from->socket_mode;
	to->demo_methods = from->demo_methods;
	return 0;
fail:
	strv_free(listen, nl);
	free(group);
	modules_free(mods, nm);
	return -ENOMEM;
}
