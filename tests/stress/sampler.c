/*
 * sampler.c: the VmRSS sampler of arpc-stress (see sampler.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "sampler.h"

static void *sampler_main(void *arg)
{
	struct rss_sampler *s = arg;
	while (!atomic_load(&s->stop)) {
		long kb = harness_proc_status_kb(s->pid, "VmRSS");
		if (kb > s->peak_kb)
			s->peak_kb = kb;
		usleep(20000);
	}
	return NULL;
}

int rss_sampler_start(struct rss_sampler *s, pid_t pid)
{
	s->pid = pid;
	s->peak_kb = 0;
	s->running = 0;
	atomic_init(&s->stop, 0);
	int e = pthread_create(&s->t, NULL, sampler_main, s);
	if (e) {
		fprintf(stderr, "arpc-stress: cannot start the RSS sampler: %s\n", strerror(e));
		return -1;
	}
	s->running = 1;
	return 0;
}

long rss_sampler_stop(struct rss_sampler *s)
{
	if (s->running) {
		atomic_store(&s->stop, 1);
		pthread_join(s->t, NULL);
		s->running = 0;
	}
	return s->peak_kb;
}
