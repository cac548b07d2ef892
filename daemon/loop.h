/*
 * loop.h: the daemon's life on its libev loop: start-up in a fixed order
 * (methods, modules, workers, listeners, signals, READY=1), SIGHUP
 * reloads, and the graceful shutdown of SIGTERM/SIGINT/sys.shutdown.
 */
#ifndef ARPCD_LOOP_H
#define ARPCD_LOOP_H

struct server;
struct config;

/*
 * Runs the daemon with `cfg` (owned from now on) until it shuts down.
 * verbose: log at debug level whatever the config says.  Returns the exit
 * status: 0 after a graceful shutdown, 1 if start-up failed or handlers
 * were still running when the shutdown gave up on them.
 */
int server_run(struct config *cfg, const char *config_path, char *const *listen_override,
               size_t nlisten_override, int verbose);

#endif
