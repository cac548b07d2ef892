/*
 * sampler.h: a thread that samples a process's VmRSS every 20 ms, for a
 * peak to report beside VmHWM (which a short peak cannot escape, but which
 * covers the whole life of the process).
 */
#ifndef ARPC_STRESS_SAMPLER_H
#define ARPC_STRESS_SAMPLER_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

struct rss_sampler {
	pid_t pid;
	atomic_int stop;
	long peak_kb;
	int running;
	pthread_t t;
};

/* Starts sampling pid; 0, or -1 (printed) if the thread cannot start. */
int rss_sampler_start(struct rss_sampler *s, pid_t pid);
/* Stops it (if it runs) and returns the highest VmRSS seen, in KiB. */
long rss_sampler_stop(struct rss_sampler *s);

#endif
