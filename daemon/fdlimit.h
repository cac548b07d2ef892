/*
 * fdlimit.h: arpcd's file descriptors, against RLIMIT_NOFILE.
 *
 * At start arpcd raises its soft limit to the hard one, and says (at
 * start, on a reload and with --check-config) when max_connections cannot
 * be reached under it.  It also keeps a few descriptors open on /dev/null,
 * the reserve, for the moments when it is out of them: to accept one more
 * connection only to tell it SERVER_TOO_BUSY, and to read the config file
 * and send sd_notify messages (each opens a socket) on a reload.  The
 * reserve is the loop thread's.
 */
#ifndef ARPCD_FDLIMIT_H
#define ARPCD_FDLIMIT_H

struct config;

/* Descriptors the reserve holds while nothing borrows it. */
#define FDLIMIT_RESERVE 8

/* Raises the soft RLIMIT_NOFILE to the hard limit, before any thread is
 * created.  Returns 1 if it raised it (*from, *to: the soft limit before
 * and after), 0 if it was at the hard limit already, or -1 after logging
 * why it could not (the limit stays as it was). */
int fdlimit_raise(unsigned long long *from, unsigned long long *to);

/* Descriptors arpcd needs with cfg's max_connections all open: one per
 * connection and listener, the reserve, and some for the daemon itself. */
unsigned long fdlimit_needed(const struct config *cfg);

/* Warns (log_warnx) when fdlimit_needed(cfg) exceeds the soft limit;
 * returns 1 if it warned, else 0. */
int fdlimit_check(const struct config *cfg);

/* Opens the reserve (also what fdlimit_refill does); -1 after logging if
 * not even one descriptor of it could be opened. */
int fdlimit_reserve_init(void);

/* Closes the whole reserve so that the caller can open what it needs;
 * fdlimit_refill() takes it back.  Returns how many were released. */
int fdlimit_release(void);

/* Reopens what the reserve lacks; returns how many it holds. */
int fdlimit_refill(void);

/* Closes the reserve for good (shutdown). */
void fdlimit_reserve_free(void);

#endif
