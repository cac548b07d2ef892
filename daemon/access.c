/*
 * access.c: peer credentials and the allow/admin lists (see access.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "access.h"
#include "config.h"
#include "conn.h"

int access_read_peer(struct conn *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	c->has_cred = 1;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	snprintf(c->peer, sizeof(c->peer), "conn %llu (uid %u pid %d)", (unsigned long long)c->id,
	         (unsigned)cred.uid, (int)cred.pid);
	return 0;
}

/* Whether any of the peer's supplementary groups is listed. */
static int peer_groups_listed(const struct conn *c, const struct id_list *allowed)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	int found = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || !(groups = malloc(len)))
			return 0;
		if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
			free(groups);
			return 0;
		}
	}
	for (size_t i = 0; i < len / sizeof(gid_t) && !found; i++)
		found = config_id_listed(allowed, (uint32_t)groups[i]);
	if (groups != small)
		free(groups);
	return found;
}

int access_allowed(const struct config *cfg, const struct conn *c, const char **why)
{
	if (cfg->allow_users.n == 0 && cfg->allow_groups.n == 0)
		return 1;
	if (!c->has_cred) {
		*why = "TCP peers have no uid, and allow_users or allow_groups is set";
		return 0;
	}
	if (c->uid == 0 || config_id_listed(&cfg->allow_users, (uint32_t)c->uid) ||
	    config_id_listed(&cfg->allow_groups, (uint32_t)c->gid) ||
	    (cfg->allow_groups.n && peer_groups_listed(c, &cfg->allow_groups)))
		return 1;
	*why = "its uid is not in allow_users and none of its groups in allow_groups";
	return 0;
}

int access_is_admin(const struct config *cfg, const struct conn *c)
{
	return c->has_cred && config_id_listed(&cfg->admin_users, (uint32_t)c->uid);
}
