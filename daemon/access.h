/*
 * access.h: who may connect, and who may call admin methods.
 *
 * Unix sockets: the peer's uid and gids come from SO_PEERCRED and
 * SO_PEERGROUPS when it connects.  With allow_users and allow_groups both
 * empty everyone may connect; otherwise the uid must be listed in
 * allow_users, or its primary or a supplementary gid in allow_groups; root
 * always may.  Methods flagged ARPC_HANDLER_ADMIN need a uid listed in
 * admin_users.  TCP peers have no uid: they are refused when either allow
 * list is set, and never count as admins.
 */
#ifndef ARPCD_ACCESS_H
#define ARPCD_ACCESS_H

struct config;
struct conn;

/* Reads the peer's credentials into c (has_cred, pid, uid, gid, peer).
 * Returns 0, or -errno (the connection should be closed). */
int access_read_peer(struct conn *c);

/* Whether c may stay connected under cfg; if not, *why says why. */
int access_allowed(const struct config *cfg, const struct conn *c, const char **why);

int access_is_admin(const struct config *cfg, const struct conn *c);

#endif
