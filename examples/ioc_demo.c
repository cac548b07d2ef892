/*
 * ioc_demo: ARPC_NOTIFY_IOC.  Calls complete onto a completion queue that
 * two threads wait on, like an I/O completion port with
 * GetQueuedCompletionStatus; each completion wakes exactly one of them.
 * The key and tag set in the handle come back with the completion.
 *
 * Usage: ioc_demo ENDPOINT
 */
#include <arpc/arpc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { CALLS = 8, THREADS = 2 };

static arpc_cq *cq;
static char tag[] = "demo.echo";
static atomic_int taken[THREADS];

static void *waiter(void *arg)
{
	int me = (int)(intptr_t)arg;
	arpc_completion c;
	while (arpc_cq_get(cq, &c, 5000) == ARPC_S_OK && c.async) {
		arpc_reply r;
		arpc_status st = arpc_async_complete(c.async, &r);
		printf("thread %d: call %lu (%s) completed: %s, %zu bytes\n", me,
		       (unsigned long)c.key, (const char *)c.tag, arpc_status_name(st), r.len);
		arpc_reply_free(&r);
		atomic_fetch_add(&taken[me], 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ioc_demo ENDPOINT\n");
		return 2;
	}
	arpc_binding *b;
	arpc_status st = arpc_binding_open(argv[1], &b);
	if (st != ARPC_S_OK || !(cq = arpc_cq_create())) {
		fprintf(stderr, "ioc_demo: %s: %s\n", argv[1], arpc_strerror(st));
		return 1;
	}
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, waiter, (void *)(intptr_t)i);

	arpc_async a[CALLS];
	char payload[CALLS][16];
	for (int i = 0; i < CALLS; i++) {
		arpc_async_init(&a[i], sizeof(a[i]));
		a[i].notify = ARPC_NOTIFY_IOC;
		a[i].u.ioc.cq = cq;
		a[i].u.ioc.key = (uintptr_t)i;
		a[i].u.ioc.tag = tag;
		snprintf(payload[i], sizeof(payload[i]), "echo %d", i);
		st = arpc_call_async(b, &a[i], "demo.echo", payload[i], strlen(payload[i]), NULL, 0);
		if (st != ARPC_S_OK) {
			fprintf(stderr, "ioc_demo: call %d not started: %s\n", i, arpc_strerror(st));
			return 1;
		}
	}
	/* Once all are answered, tell each waiter to stop with an item of our
	 * own (arpc_cq_post is PostQueuedCompletionStatus). */
	for (int i = 0; i < 5000 && atomic_load(&taken[0]) + atomic_load(&taken[1]) < CALLS; i++)
		usleep(1000);
	for (int i = 0; i < THREADS; i++) {
		arpc_completion stop;
		memset(&stop, 0, sizeof(stop));
		while (arpc_cq_post(cq, &stop) != ARPC_S_OK)
			;
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	arpc_binding_close(b);
	arpc_cq_destroy(cq);
	return atomic_load(&taken[0]) + atomic_load(&taken[1]) == CALLS ? 0 : 1;
}
