/*
 * sdnotify.h: what arpcd tells systemd (sd_notify(3)).
 *
 *   READY=1      once every listener accepts (and again after a reload)
 *   STATUS=      connections and calls in flight, with READY=1 and then
 *                from a timer every few seconds, never per call
 *   WATCHDOG=1   from a loop timer at half of $WATCHDOG_USEC, so a loop
 *                that is stuck stops pinging and systemd restarts it
 *   RELOADING=1  with MONOTONIC_USEC= when a SIGHUP reload starts; READY=1
 *                follows whether the reload was applied or refused
 *   STOPPING=1   when shutdown starts
 *
 * Nothing is sent when $NOTIFY_SOCKET is unset.  Loop thread only.
 */
#ifndef ARPCD_SDNOTIFY_H
#define ARPCD_SDNOTIFY_H

struct server;

/* READY=1; starts the STATUS= and watchdog timers. */
void sdnotify_ready(struct server *srv);
void sdnotify_reloading(struct server *srv);
/* READY=1 after a reload; ok: whether the new config was applied. */
void sdnotify_reloaded(struct server *srv, int ok);
void sdnotify_stopping(struct server *srv);
/* Stops the timers. */
void sdnotify_stop(struct server *srv);

#endif
