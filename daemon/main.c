/*
 * main.c: arpcd's command line (docs/man/arpcd.8).  The configuration is
 * parsed and validated whole before anything is opened; the daemon then
 * stays in the foreground and logs to stderr, as systemd expects.
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fdlimit.h"
#include "log.h"
#include "loop.h"

#ifndef ARPC_CONFDIR
#define ARPC_CONFDIR "/etc/arpc"
#endif

#define MAX_LISTEN_OPTIONS 64

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: arpcd [-v] [--check-config] [-c file] [-l endpoint]...\n"
	        "       arpcd --version | --help\n"
	        "\n"
	        "  -c, --config FILE      configuration file (default %s/arpcd.conf)\n"
	        "      --check-config     check the configuration, print \"configuration OK\"\n"
	        "                         or what is wrong, and exit 0 or 1\n"
	        "  -l, --listen ENDPOINT  listen on ENDPOINT (unix:/path, tcp:host:port,\n"
	        "                         fd:NAME); repeatable; replaces the file's listen lines\n"
	        "  -v, --verbose          log at debug level\n"
	        "      --version          print the version and exit\n"
	        "  -h, --help             print this help and exit\n",
	        ARPC_CONFDIR);
}

/* --check-config checks that module files are there without loading them
 * (that would run their code).  A real start leaves it to dlopen(), whose
 * message says more (a missing file, a bad ELF, an unresolved symbol). */
static int check_module_files(const struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nmodules; i++) {
		const struct module_conf *m = &cfg->modules[i];
		struct stat st;
		if (access(m->path, R_OK) < 0 || stat(m->path, &st) < 0) {
			snprintf(err, errlen, "%s:%d: [module %s]: cannot read '%s': %s", cfg->file,
			         m->line, m->name, m->path, strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s:%d: [module %s]: '%s' is not a regular file",
			         cfg->file, m->line, m->name, m->path);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_VERSION };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, OPT_CHECK},
		{"listen", required_argument, NULL, 'l'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, OPT_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = ARPC_CONFDIR "/arpcd.conf";
	char *listen[MAX_LISTEN_OPTIONS];
	size_t nlisten = 0;
	int check = 0, verbose = 0, opt;
	char err[1024];
	struct config *cfg;

	while ((opt = getopt_long(argc, argv, "c:l:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'l':
			if (nlisten == MAX_LISTEN_OPTIONS) {
				fprintf(stderr, "arpcd: more than %d --listen options\n",
				        MAX_LISTEN_OPTIONS);
				return 1;
			}
			listen[nlisten++] = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_VERSION:
			printf("arpcd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "arpcd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}

	log_init(verbose ? LOG_DEBUG : LOG_INFO);
	/* First, so that --check-config judges max_connections against the
	 * limit the daemon would run with. */
	unsigned long long nofile_from, nofile_to;
	int raised = fdlimit_raise(&nofile_from, &nofile_to);
	if (config_load(path, &cfg, err, sizeof(err)) < 0 ||
	    (nlisten && config_set_listen(cfg, listen, nlisten, err, sizeof(err)) < 0) ||
	    (check && check_module_files(cfg, err, sizeof(err)) < 0)) {
		/* Through the log: under journald it gets its <3> like the rest. */
		log_errorx("%s", err);
		config_free(cfg);
		return 1;
	}
	fdlimit_check(cfg);
	if (check) {
		printf("configuration OK\n");
		if (cfg->nlisten == 0)
			printf("note: no listen line: arpcd will serve only the sockets systemd "
			       "passes (socket activation)\n");
		config_free(cfg);
		return 0;
	}
	/* A client that disconnects mid-write must not kill us; sends use
	 * MSG_NOSIGNAL as well. */
	signal(SIGPIPE, SIG_IGN);
	if (raised > 0)
		log_info("file descriptors: soft limit raised from %llu to %llu", nofile_from,
		         nofile_to);
	/* The loop takes these through a signalfd (EVFLAG_SIGNALFD), with no
	 * handler: blocked here, before any thread exists, every thread
	 * inherits the mask, so the kernel keeps them pending for the fd
	 * instead of running a handler on whichever thread it picks (or, under
	 * ThreadSanitizer, whenever its runtime gets round to it). */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if ((errno = pthread_sigmask(SIG_BLOCK, &sigs, NULL)) != 0) {
		log_error("cannot block SIGTERM, SIGINT and SIGHUP");
		config_free(cfg);
		return 1;
	}
	return server_run(cfg, path, listen, nlisten, verbose);
}
