/*
 * time.c: the library's one clock, CLOCK_MONOTONIC in nanoseconds, and the
 * conversions waits need.  A deadline of 0 means "none" everywhere.
 */
#include "config.h"

#include <limits.h>
#include <time.h>

#include "internal.h"

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t deadline_after_ms(uint32_t ms)
{
	return ms ? now_ns() + (uint64_t)ms * 1000000u : 0;
}

int poll_ms_until(uint64_t deadline)
{
	if (deadline == 0)
		return -1;
	uint64_t now = now_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now + 999999u) / 1000000u;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void timespec_at(uint64_t deadline, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline / 1000000000u);
	ts->tv_nsec = (long)(deadline % 1000000000u);
}

void monotonic_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}
