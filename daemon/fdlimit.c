/*
 * fdlimit.c: RLIMIT_NOFILE and the descriptor reserve (see fdlimit.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "fdlimit.h"
#include "log.h"

/* Descriptors arpcd holds besides connections, listeners and the reserve:
 * stdio, the epoll instance, the signalfd, the loop's and the worker
 * pool's eventfds, a transient sd_notify socket, with a little room for
 * modules. */
#define FDS_OWN 16

static int reserve_[FDLIMIT_RESERVE] = {-1, -1, -1, -1, -1, -1, -1, -1};

int fdlimit_raise(unsigned long long *from, unsigned long long *to)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE), ignoring");
		return -1;
	}
	if (rl.rlim_cur >= rl.rlim_max)
		return 0;
	/* libev polls with epoll, never select(): descriptors past FD_SETSIZE
	 * are fine, which is why the soft limit is low by default. */
	rlim_t old = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		/* A unit whose SystemCallFilter= denies @resources (as ours does)
		 * must set LimitNOFILE= itself. */
		log_warn("cannot raise the soft RLIMIT_NOFILE from %llu to the hard limit %llu, "
		         "ignoring", (unsigned long long)old, (unsigned long long)rl.rlim_max);
		return -1;
	}
	*from = (unsigned long long)old;
	*to = (unsigned long long)rl.rlim_max;
	return 1;
}

unsigned long fdlimit_needed(const struct config *cfg)
{
	return (unsigned long)cfg->max_connections + cfg->nlisten + FDLIMIT_RESERVE + FDS_OWN;
}

int fdlimit_check(const struct config *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE), ignoring");
		return 0;
	}
	unsigned long need = fdlimit_needed(cfg);
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	unsigned long reach = rl.rlim_cur > need - cfg->max_connections
	                      ? (unsigned long)rl.rlim_cur - (need - cfg->max_connections) : 0;
	log_warnx("max_connections = %u needs about %lu file descriptors, but RLIMIT_NOFILE is "
	          "%llu (hard limit %llu; LimitNOFILE= in a systemd unit): past about %lu "
	          "connections new ones get SERVER_TOO_BUSY", cfg->max_connections, need,
	          (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, reach);
	return 1;
}

int fdlimit_refill(void)
{
	int held = 0;
	for (int i = 0; i < FDLIMIT_RESERVE; i++) {
		if (reserve_[i] < 0)
			reserve_[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		held += reserve_[i] >= 0;
	}
	return held;
}

int fdlimit_reserve_init(void)
{
	if (fdlimit_refill() == 0) {
		log_error("cannot open '/dev/null' for the reserve of file descriptors");
		return -1;
	}
	return 0;
}

int fdlimit_release(void)
{
	int n = 0;
	for (int i = 0; i < FDLIMIT_RESERVE; i++)
		if (reserve_[i] >= 0) {
			close(reserve_[i]);
			reserve_[i] = -1;
			n++;
		}
	return n;
}

void fdlimit_reserve_free(void)
{
	fdlimit_release();
}
