/*
 * builtin.h: the built-in methods, after the AsyncRPC sample:
 *
 *   demo.async_delay  u32 LE ms; completes after that long by a loop timer
 *                     (no worker held); the reply echoes the 4 bytes
 *   demo.message      logs the request string at info; empty reply (worker)
 *   demo.sleep        u32 LE ms; blocks a worker that long, or until
 *                     cancelled; over demo_sleep_max: ARPC_S_INVALID_ARG
 *   demo.echo         the reply is the request (inline)
 *   demo.echo_worker  the same, run by a worker (measures the pool)
 *   sys.ping          empty reply (inline)
 *   sys.stats         a flat JSON object of integer counters
 *   sys.methods       the registered method names, one per line
 *   sys.shutdown      admin_users only: replies, then shuts down gracefully
 */
#ifndef ARPCD_BUILTIN_H
#define ARPCD_BUILTIN_H

struct server;
struct config;

/* Registers them all; 0 or a negative errno. */
int builtin_register(struct server *srv);
/* Reads what the built-ins use from a new config (demo_sleep_max). */
void builtin_apply_config(const struct config *cfg);

#endif
