/*
 * listener.h: the listening sockets: those of `listen =` lines, and
 * those systemd passed (activation.h).
 *
 * Each `listen =` entry is served by the passed socket that matches it
 * (fd:NAME by FileDescriptorName=, unix: and tcp: by bound address) or
 * else by a socket of its own; passed sockets that match no entry are
 * served too.  No entry and no passed socket is an error.
 *
 * unix:/path binds a stream socket there, with socket_mode and
 * socket_group; a socket file left by a dead daemon is removed first, but
 * only if nothing answers on it.  tcp:HOST:PORT binds TCP (tcp:PORT:
 * loopback).  Accepting stops for a while when the process runs out of
 * descriptors, rather than spinning on EMFILE.  Over max_connections a
 * client is accepted, sent GOAWAY(ARPC_S_SERVER_TOO_BUSY) and closed.
 */
#ifndef ARPCD_LISTENER_H
#define ARPCD_LISTENER_H

struct server;

/* Opens every endpoint of srv->cfg and takes the passed sockets; 0, or -1
 * after logging what failed (the ones opened are closed again). */
int listeners_open(struct server *srv);
/* Stops accepting, closes, and removes unix socket files. */
void listeners_close(struct server *srv);

#endif
