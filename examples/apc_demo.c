/*
 * apc_demo: ARPC_NOTIFY_APC.  A completion routine runs on the thread that
 * made the call, and only when that thread waits alertably
 * (arpc_sleep_alertable, like SleepEx(ms, TRUE)); a second call's routine
 * is aimed at another thread and runs there.
 *
 * Usage: apc_demo ENDPOINT
 */
#include <arpc/arpc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static pthread_t main_thread;
/* Set on one thread, read on another. */
static atomic_int main_ran, worker_ran, worker_ready, worker_stop;

static void on_main(arpc_async *a, arpc_event ev)
{
	printf("APC on the calling thread (%s): %s\n",
	       pthread_equal(pthread_self(), main_thread) ? "yes" : "NO",
	       arpc_status_name(arpc_async_get_status(a)));
	main_ran = 1;
}

static void on_worker(arpc_async *a, arpc_event ev)
{
	printf("APC on the worker thread (%s): %s\n",
	       pthread_equal(pthread_self(), main_thread) ? "NO" : "yes",
	       arpc_status_name(arpc_async_get_status(a)));
	worker_ran = 1;
}

static void *worker_main(void *arg)
{
	arpc_apc_fd(); /* gives this thread its APC queue before anyone aims at it */
	worker_ready = 1;
	for (int i = 0; i < 100 && !worker_stop; i++)
		arpc_sleep_alertable(50);
	return NULL;
}

static int start(arpc_binding *b, arpc_async *a, arpc_apc_fn fn, int to_thread, pthread_t t)
{
	static const uint8_t ms100[4] = { 100, 0, 0, 0 };
	arpc_async_init(a, sizeof(*a));
	a->notify = ARPC_NOTIFY_APC;
	a->u.apc.fn = fn;
	a->u.apc.to_thread = to_thread;
	a->u.apc.thread = t;
	arpc_status st = arpc_call_async(b, a, "demo.async_delay", ms100, 4, NULL, 0);
	if (st != ARPC_S_OK)
		fprintf(stderr, "apc_demo: call not started: %s\n", arpc_strerror(st));
	return st == ARPC_S_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: apc_demo ENDPOINT\n");
		return 2;
	}
	main_thread = pthread_self();
	arpc_binding *b;
	arpc_status st = arpc_binding_open(argv[1], &b);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "apc_demo: %s: %s\n", argv[1], arpc_strerror(st));
		return 1;
	}
	pthread_t worker;
	pthread_create(&worker, NULL, worker_main, NULL);
	while (!worker_ready)
		usleep(1000);

	arpc_async mine, theirs;
	if (!start(b, &mine, on_main, 0, main_thread) || !start(b, &theirs, on_worker, 1, worker))
		return 1;

	/* Busy, not alertable: the reply arrives, the APC waits. */
	usleep(300000);
	printf("after 300 ms of work the call is %s and its APC has %s\n",
	       arpc_status_name(arpc_async_get_status(&mine)), main_ran ? "run" : "not run");
	while (!main_ran && arpc_sleep_alertable(1000) != ARPC_S_APC_RAN)
		;
	worker_stop = 1;
	pthread_join(worker, NULL);

	arpc_status s1 = arpc_async_complete(&mine, NULL);
	arpc_status s2 = arpc_async_complete(&theirs, NULL);
	arpc_binding_close(b);
	return main_ran && worker_ran && s1 == ARPC_S_OK && s2 == ARPC_S_OK ? 0 : 1;
}
