/*
 * hostile.h: arpc-stress's --hostile mode (hostile.c).
 */
#ifndef ARPC_STRESS_HOSTILE_H
#define ARPC_STRESS_HOSTILE_H

struct hostile_opts {
	unsigned connections; /* hostile connections */
	unsigned seconds;     /* how long they push */
	int small;            /* demo.async_delay of an hour, not max_frame echoes */
};

/* Runs the hostile load against a fresh arpcd and prints the figures;
 * the exit status for main: 0 if the victim was always answered and the
 * charge stayed within max_total_memory. */
int hostile_run(const struct hostile_opts *o);

#endif
