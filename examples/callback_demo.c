/*
 * callback_demo: ARPC_NOTIFY_CALLBACK.  The completion routine runs on the
 * library's I/O thread; it must not block, but it may call the library:
 * here each callback completes its call and starts the next one, a chain
 * of calls driven entirely from callbacks.  The main thread waits for the
 * last one on a condition variable.
 *
 * Usage: callback_demo ENDPOINT
 */
#include <arpc/arpc.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum { CHAIN = 10 };

static arpc_binding *binding;
static arpc_async handles[CHAIN];
/* The chain runs on the I/O thread; main waits for its end under mu, which
 * also orders what the chain wrote before main reads it. */
static int next, failed, done;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;

static void signal_done(void)
{
	pthread_mutex_lock(&mu);
	done = 1;
	pthread_cond_signal(&finished);
	pthread_mutex_unlock(&mu);
}

static void start_next(void);

static void on_complete(arpc_async *a, arpc_event ev)
{
	arpc_status st = arpc_async_complete(a, NULL);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "callback_demo: call %d: %s\n", (int)(a - handles), arpc_strerror(st));
		failed = 1;
	}
	start_next();
}

static void start_next(void)
{
	if (next == CHAIN || failed) {
		signal_done();
		return;
	}
	int i = next++;
	arpc_async *a = &handles[i];
	arpc_async_init(a, sizeof(*a));
	a->notify = ARPC_NOTIFY_CALLBACK;
	a->u.callback.fn = on_complete;
	arpc_status st = arpc_call_async(binding, a, "sys.ping", NULL, 0, NULL, 0);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "callback_demo: call %d not started: %s\n", i, arpc_strerror(st));
		failed = 1;
		signal_done();
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: callback_demo ENDPOINT\n");
		return 2;
	}
	arpc_status st = arpc_binding_open(argv[1], &binding);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "callback_demo: %s: %s\n", argv[1], arpc_strerror(st));
		return 1;
	}
	struct timespec limit;
	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 10;
	start_next();
	pthread_mutex_lock(&mu);
	int r = 0;
	while (!done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&finished, &mu, &limit);
	int finished_chain = done;
	pthread_mutex_unlock(&mu);
	if (!finished_chain) {
		fprintf(stderr, "callback_demo: the chain did not finish in 10 s\n");
		return 1;
	}
	printf("%d calls chained from callbacks on the I/O thread\n", next);
	arpc_binding_close(binding);
	return failed || next != CHAIN ? 1 : 0;
}
