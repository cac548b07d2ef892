/*
 * test-apc-delivery.c: an APC waits for its thread.  After the reply has
 * certainly arrived (the thread's APC queue is readable), the APC has not
 * run while the thread is busy; it runs in the thread's next alertable
 * wait.  An APC aimed at another thread runs on that thread.  An APC whose
 * thread exited is dropped and counted, and the call's status stays
 * readable by polling.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

static atomic_int apc_runs;
static pthread_t apc_ran_on;

static void on_apc(arpc_async *a, arpc_event ev)
{
	assert_int_equal(ev, ARPC_EVENT_CALL_COMPLETE);
	/* A notified application never sees PENDING. */
	assert_int_not_equal(arpc_async_get_status(a), ARPC_S_ASYNC_CALL_PENDING);
	apc_ran_on = pthread_self();
	atomic_fetch_add(&apc_runs, 1);
}

static void busy_for_ms(int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	volatile unsigned long spin = 0;
	do {
		spin++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static void test_apc_waits_for_an_alertable_wait(void **state)
{
	arpc_binding *b = client_open_binding();
	atomic_store(&apc_runs, 0);
	arpc_async a;
	assert_int_equal(arpc_async_init(&a, sizeof(a)), ARPC_S_OK);
	a.notify = ARPC_NOTIFY_APC;
	a.u.apc.fn = on_apc;
	a.u.apc.to_thread = 0;
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", "apc", 3, NULL, 0), ARPC_S_OK);

	/* The queue turns readable once the APC is queued: the reply is in. */
	struct pollfd p = { .fd = arpc_apc_fd(), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_OK);
	busy_for_ms(100);
	assert_int_equal(atomic_load(&apc_runs), 0);
	usleep(50000); /* a plain, non-alertable sleep runs nothing either */
	assert_int_equal(atomic_load(&apc_runs), 0);

	assert_int_equal(arpc_sleep_alertable(10000), ARPC_S_APC_RAN);
	assert_int_equal(atomic_load(&apc_runs), 1);
	assert_true(pthread_equal(apc_ran_on, pthread_self()));
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_OK);
	/* Exactly one. */
	assert_int_equal(arpc_sleep_alertable(50), ARPC_S_OK);
	assert_int_equal(atomic_load(&apc_runs), 1);
	arpc_binding_close(b);
}

struct target {
	atomic_int ready, stop;
	int no_queue;   /* the thread could not make its APC queue */
	pthread_t self;
};

static void *target_main(void *arg)
{
	struct target *t = arg;
	t->no_queue = arpc_apc_fd() < 0;
	t->self = pthread_self();
	atomic_store(&t->ready, 1);
	for (int i = 0; i < 400 && !atomic_load(&t->stop); i++)
		arpc_sleep_alertable(25);
	return NULL;
}

static int target_ready(void *arg)
{
	return atomic_load(&((struct target *)arg)->ready);
}

static int apc_ran(void *arg)
{
	return atomic_load(&apc_runs) > 0;
}

static void test_apc_to_another_thread_runs_there(void **state)
{
	arpc_binding *b = client_open_binding();
	atomic_store(&apc_runs, 0);
	struct target t = { 0 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, target_main, &t), 0);
	assert_true(client_wait_until(target_ready, &t, 10000));
	if (t.no_queue) {
		atomic_store(&t.stop, 1);
		pthread_join(th, NULL);
		fail_msg("the target thread could not make its APC queue");
	}

	arpc_async a;
	assert_int_equal(arpc_async_init(&a, sizeof(a)), ARPC_S_OK);
	a.notify = ARPC_NOTIFY_APC;
	a.u.apc.fn = on_apc;
	a.u.apc.to_thread = 1;
	a.u.apc.thread = th;
	assert_int_equal(arpc_call_async(b, &a, "demo.echo", "there", 5, NULL, 0), ARPC_S_OK);
	assert_true(client_wait_until(apc_ran, NULL, 10000));
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&apc_runs), 1);
	assert_true(pthread_equal(apc_ran_on, th));
	assert_false(pthread_equal(apc_ran_on, pthread_self()));
	assert_int_equal(arpc_async_complete(&a, NULL), ARPC_S_OK);
	arpc_binding_close(b);
}

struct leaver {
	arpc_binding *b;
	arpc_async a;
	arpc_status init_st, call_st; /* checked by the main thread */
};

static void *leaver_main(void *arg)
{
	struct leaver *l = arg;
	uint8_t req[4];
	client_u32(req, 100);
	l->call_st = ARPC_S_INVALID_ARG;
	l->init_st = arpc_async_init(&l->a, sizeof(l->a));
	if (l->init_st != ARPC_S_OK)
		return NULL;
	l->a.notify = ARPC_NOTIFY_APC;
	l->a.u.apc.fn = on_apc;
	l->a.u.apc.to_thread = 0;
	l->call_st = arpc_call_async(l->b, &l->a, "demo.async_delay", req, 4, NULL, 0);
	return NULL; /* exits without ever waiting alertably */
}

struct drop_wait {
	uint64_t before;
	arpc_async *a;
};

static int dropped_and_done(void *arg)
{
	struct drop_wait *w = arg;
	return arpc_apc_dropped() > w->before &&
	       arpc_async_get_status(w->a) != ARPC_S_ASYNC_CALL_PENDING;
}

static void test_apc_of_an_exited_thread_is_dropped(void **state)
{
	arpc_binding *b = client_open_binding();
	atomic_store(&apc_runs, 0);
	struct leaver l = { .b = b };
	struct drop_wait w = { arpc_apc_dropped(), &l.a };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, leaver_main, &l), 0);
	pthread_join(th, NULL);
	assert_int_equal(l.init_st, ARPC_S_OK);
	assert_int_equal(l.call_st, ARPC_S_OK);
	assert_true(client_wait_until(dropped_and_done, &w, 10000));
	assert_int_equal(arpc_apc_dropped(), w.before + 1);
	assert_int_equal(atomic_load(&apc_runs), 0);
	/* The status is still there for polling. */
	assert_int_equal(arpc_async_complete(&l.a, NULL), ARPC_S_OK);
	arpc_binding_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apc_waits_for_an_alertable_wait),
		cmocka_unit_test(test_apc_to_another_thread_runs_there),
		cmocka_unit_test(test_apc_of_an_exited_thread_is_dropped),
	};
	return cmocka_run_group_tests_name("apc-delivery", tests, client_setup, client_teardown);
}
