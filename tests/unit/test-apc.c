/*
 * test-apc.c: per-thread APC queues: an APC runs only inside its thread's
 * alertable wait or dispatch, in order, on that thread; a wait inside an
 * APC runs the ones behind it; APCs for a thread that exited are dropped
 * and counted.  The posting side is the library's (apcq_post_reserved),
 * exactly as a completing call uses it.
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
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "internal.h"

static pthread_t ran_on[64];
static int ran_order[64];
static atomic_int n_ran;
static arpc_async handles[64];

static void record_apc(arpc_async *a, arpc_event ev)
{
	assert_int_equal(ev, ARPC_EVENT_CALL_COMPLETE);
	int i = atomic_load(&n_ran);
	ran_on[i] = pthread_self();
	ran_order[i] = (int)(a - handles);
	atomic_store(&n_ran, i + 1); /* publishes the two above */
}

static void post_to(struct apcq *q, arpc_apc_fn fn, int idx)
{
	apcq_ref(q);
	assert_int_equal(apcq_reserve(q), 0);
	apcq_post_reserved(q, fn, &handles[idx]);
	apcq_unref(q);
}

static void reset(void)
{
	n_ran = 0;
	memset(ran_order, -1, sizeof(ran_order));
}

static void test_runs_only_in_alertable_wait_in_order(void **state)
{
	reset();
	struct apcq *self = apcq_self();
	assert_non_null(self);
	for (int i = 0; i < 5; i++)
		post_to(self, record_apc, i);
	/* Queued and readable, but posting ran none of them: they wait for
	 * this thread's alertable wait. */
	struct pollfd p = { .fd = arpc_apc_fd(), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(n_ran, 0);
	assert_int_equal(arpc_sleep_alertable(1000), ARPC_S_APC_RAN);
	assert_int_equal(n_ran, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ran_order[i], i);
		assert_true(pthread_equal(ran_on[i], pthread_self()));
	}
	assert_int_equal(poll(&p, 1, 0), 0);
	/* Nothing queued: the sleep runs its course. */
	assert_int_equal(arpc_sleep_alertable(10), ARPC_S_OK);
	assert_int_equal(arpc_apc_dispatch(), 0);
}

static void test_dispatch_and_wait_on_an_fd(void **state)
{
	reset();
	post_to(apcq_self(), record_apc, 7);
	assert_int_equal(arpc_apc_dispatch(), 1);
	assert_int_equal(ran_order[0], 7);

	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	assert_int_equal(arpc_wait_alertable(efd, 10), ARPC_S_TIMEOUT);
	uint64_t one = 1;
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(arpc_wait_alertable(efd, 1000), ARPC_S_OK);
	/* Queued APCs come first, as on Windows. */
	post_to(apcq_self(), record_apc, 8);
	assert_int_equal(arpc_wait_alertable(efd, 1000), ARPC_S_APC_RAN);
	assert_int_equal(ran_order[1], 8);
	assert_int_equal(arpc_wait_alertable(-5, 0), ARPC_S_INVALID_ARG);
	close(efd);
}

static void nested_apc(arpc_async *a, arpc_event ev)
{
	record_apc(a, ev);
	/* An alertable wait inside an APC runs the APCs queued behind it. */
	if (a == &handles[20])
		assert_int_equal(arpc_sleep_alertable(0), ARPC_S_APC_RAN);
}

static void test_nested_alertable_wait(void **state)
{
	reset();
	struct apcq *self = apcq_self();
	post_to(self, nested_apc, 20);
	post_to(self, nested_apc, 21);
	post_to(self, nested_apc, 22);
	assert_int_equal(arpc_sleep_alertable(1000), ARPC_S_APC_RAN);
	assert_int_equal(n_ran, 3);
	assert_int_equal(ran_order[0], 20);
	assert_int_equal(ran_order[1], 21);
	assert_int_equal(ran_order[2], 22);
}

struct target {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;
	atomic_int stop;
	int ran;
	int no_queue;   /* the thread could not make its queue */
	pthread_t self;
};

static void *target_main(void *arg)
{
	struct target *t = arg;
	t->no_queue = arpc_apc_fd() < 0; /* makes this thread's queue */
	pthread_mutex_lock(&t->mu);
	t->self = pthread_self();
	t->ready = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	for (int i = 0; i < 200 && !atomic_load(&t->stop); i++) {
		if (arpc_sleep_alertable(50) == ARPC_S_APC_RAN)
			t->ran++;
	}
	return NULL;
}

static void test_apc_to_another_thread_runs_there(void **state)
{
	reset();
	struct target t = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, target_main, &t), 0);
	pthread_mutex_lock(&t.mu);
	while (!t.ready)
		pthread_cond_wait(&t.cv, &t.mu);
	pthread_mutex_unlock(&t.mu);
	if (t.no_queue) {
		atomic_store(&t.stop, 1);
		pthread_join(th, NULL);
		fail_msg("the target thread could not make its APC queue");
	}

	struct apcq *q = apcq_find_thread(th);
	assert_non_null(q);
	assert_int_equal(apcq_reserve(q), 0);
	apcq_post_reserved(q, record_apc, &handles[30]);
	apcq_unref(q);
	for (int i = 0; i < 500 && atomic_load(&n_ran) == 0; i++)
		usleep(2000);
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	assert_int_equal(n_ran, 1);
	assert_true(pthread_equal(ran_on[0], th));
	assert_false(pthread_equal(ran_on[0], pthread_self()));
}

static void *short_lived(void *arg)
{
	struct apcq **out = arg;
	*out = apcq_self();
	if (!*out)
		return NULL; /* the test fails on the NULL queue */
	apcq_ref(*out); /* as a pending call aimed at this thread would */
	if (apcq_reserve(*out) != 0) {
		apcq_unref(*out);
		*out = NULL;
	}
	return NULL;
}

static void test_apc_for_exited_thread_is_dropped_and_counted(void **state)
{
	reset();
	struct apcq *q = NULL;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, short_lived, &q), 0);
	pthread_join(th, NULL);
	assert_non_null(q);
	/* Gone from the registry: a new call cannot aim at it. */
	assert_null(apcq_find_thread(th));
	uint64_t before = arpc_apc_dropped();
	apcq_post_reserved(q, record_apc, &handles[40]);
	apcq_unref(q);
	assert_int_equal(arpc_apc_dropped(), before + 1);
	assert_int_equal(n_ran, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_only_in_alertable_wait_in_order),
		cmocka_unit_test(test_dispatch_and_wait_on_an_fd),
		cmocka_unit_test(test_nested_alertable_wait),
		cmocka_unit_test(test_apc_to_another_thread_runs_there),
		cmocka_unit_test(test_apc_for_exited_thread_is_dropped_and_counted),
	};
	return cmocka_run_group_tests_name("apc", tests, NULL, NULL);
}
