/*
 * sdnotify.h: what arpcd tells systemd (sd_notify(3)): READY=1 once every
 * listener is open, STOPPING=1 when shutdown starts, and a STATUS= line
 * with connections and calls in flight every few seconds.  Nothing is sent
 * when $NOTIFY_SOCKET is unset.  Watchdog, RELOADING=1 and socket
 * activation are to be added here.
 */
#ifndef ARPCD_SDNOTIFY_H
#define ARPCD_SDNOTIFY_H

struct server;

void sdnotify_ready(struct server *srv);
void sdnotify_stopping(struct server *srv);
/* Stops the STATUS= timer. */
void sdnotify_stop(struct server *srv);

#endif
