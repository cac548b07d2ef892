/*
 * test-cancel-races.c: arpc_async_cancel() racing the completion and the
 * consumption of the same call, for every notification kind, against a real
 * arpcd.
 *
 * A canceller thread calls arpc_async_cancel() on the handle in a tight loop
 * (abortive on odd rounds, non-abortive on even ones) from before the reply
 * can arrive until the handle has been consumed, while the call completes on
 * the I/O thread and is consumed by the notified party: the I/O thread itself
 * for CALLBACK, the main thread for the other kinds.  The library must never
 * follow a pointer to the freed call record (the sanitizer builds catch it),
 * every cancel must return ARPC_S_OK or, once consumed,
 * ARPC_S_INVALID_ASYNC_HANDLE, and every call must end exactly once with
 * ARPC_S_OK or ARPC_S_CALL_CANCELLED.
 *
 * Failures seen on other threads are counted and reported from the main one.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

/* Rounds per notification kind; ARPC_RACE_ROUNDS overrides it for a longer
 * run.  Each round is one call, so this is cheap in every build. */
#define DEFAULT_ROUNDS 600
/* No single round may take longer than this before the test gives up. */
#define ROUND_LIMIT_MS 10000

struct race {
	arpc_binding *b;
	arpc_async a;
	arpc_notify_type kind;
	int efd;
	arpc_cq *cq;
	arpc_msgq *mq;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned go;        /* the round the canceller may start */
	unsigned finished;  /* the last round the canceller finished */
	int quit;

	/* Written by the consumer (main thread or I/O thread). */
	atomic_int consumed;
	atomic_int final_status;
	atomic_int notifications;

	/* Failures seen away from the main thread. */
	atomic_int bad_cancel_status;
	atomic_int last_bad_cancel;
	atomic_int canceller_stuck;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned rounds(void)
{
	const char *s = getenv("ARPC_RACE_ROUNDS");
	long n = s ? strtol(s, NULL, 10) : 0;
	return n > 0 && n < 10000000 ? (unsigned)n : DEFAULT_ROUNDS;
}

static void consume(struct race *r, arpc_async *a)
{
	arpc_reply reply;
	arpc_status st = arpc_async_complete(a, &reply);
	arpc_reply_free(&reply);
	atomic_store(&r->final_status, (int)st);
	atomic_store(&r->consumed, 1);
}

static void on_callback(arpc_async *a, arpc_event ev)
{
	struct race *r = a->user_info;
	atomic_fetch_add(&r->notifications, 1);
	consume(r, a);
}

static void on_apc(arpc_async *a, arpc_event ev)
{
	struct race *r = a->user_info;
	atomic_fetch_add(&r->notifications, 1);
	consume(r, a);
}

/* Cancels the current round's call until its handle is consumed. */
static void cancel_until_consumed(struct race *r, unsigned round)
{
	int abortive = round & 1;
	uint64_t limit = now_ms() + ROUND_LIMIT_MS;
	for (unsigned long i = 0;; i++) {
		arpc_status st = arpc_async_cancel(&r->a, abortive);
		if (st == ARPC_S_INVALID_ASYNC_HANDLE)
			return; /* consumed: the round is over for us */
		if (st != ARPC_S_OK) {
			atomic_fetch_add(&r->bad_cancel_status, 1);
			atomic_store(&r->last_bad_cancel, (int)st);
			return;
		}
		if ((i & 1023) == 0 && now_ms() > limit) {
			atomic_fetch_add(&r->canceller_stuck, 1);
			return;
		}
	}
}

static void *canceller(void *arg)
{
	struct race *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->quit && r->go == r->finished)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->quit)
			break;
		unsigned round = r->go;
		pthread_mutex_unlock(&r->mu);
		cancel_until_consumed(r, round);
		pthread_mutex_lock(&r->mu);
		r->finished = round;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void set_notification(struct race *r)
{
	arpc_async *a = &r->a;
	a->user_info = r;
	a->notify = r->kind;
	switch (r->kind) {
	case ARPC_NOTIFY_EVENT:
		a->u.event_fd = r->efd;
		break;
	case ARPC_NOTIFY_APC:
		a->u.apc.fn = on_apc;
		a->u.apc.to_thread = 0;
		break;
	case ARPC_NOTIFY_IOC:
		a->u.ioc.cq = r->cq;
		a->u.ioc.key = 7;
		a->u.ioc.tag = r;
		break;
	case ARPC_NOTIFY_MSG:
		a->u.msg.queue = r->mq;
		a->u.msg.msg = 9;
		break;
	case ARPC_NOTIFY_CALLBACK:
		a->u.callback.fn = on_callback;
		break;
	case ARPC_NOTIFY_NONE:
		break;
	}
}

static int wait_fd(int fd, uint64_t limit)
{
	for (;;) {
		uint64_t now = now_ms();
		if (now >= limit)
			return 0;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, (int)(limit - now));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 0;
	}
}

/* Waits for the round's notification on the main thread and consumes the
 * handle; the CALLBACK consumes on the I/O thread by itself.  Returns
 * whether the round ended in time. */
static int await_round(struct race *r)
{
	uint64_t limit = now_ms() + ROUND_LIMIT_MS;
	switch (r->kind) {
	case ARPC_NOTIFY_NONE:
		while (arpc_async_get_status(&r->a) == ARPC_S_ASYNC_CALL_PENDING)
			if (now_ms() > limit)
				return 0;
			else
				sched_yield();
		atomic_fetch_add(&r->notifications, 1);
		consume(r, &r->a);
		return 1;
	case ARPC_NOTIFY_EVENT: {
		uint64_t n = 0;
		if (!wait_fd(r->efd, limit) || read(r->efd, &n, sizeof(n)) != sizeof(n))
			return 0;
		atomic_fetch_add(&r->notifications, (int)n);
		consume(r, &r->a);
		return 1;
	}
	case ARPC_NOTIFY_APC:
		while (!atomic_load(&r->consumed))
			if (now_ms() > limit || arpc_sleep_alertable(100) == ARPC_S_WRONG_THREAD)
				return 0;
		return 1;
	case ARPC_NOTIFY_IOC: {
		arpc_completion comp;
		if (arpc_cq_get(r->cq, &comp, ROUND_LIMIT_MS) != ARPC_S_OK || comp.async != &r->a)
			return 0;
		atomic_fetch_add(&r->notifications, 1);
		consume(r, comp.async);
		return 1;
	}
	case ARPC_NOTIFY_MSG: {
		arpc_msg m;
		if (!wait_fd(arpc_msgq_fd(r->mq), limit) || arpc_msgq_get(r->mq, &m) != ARPC_S_OK ||
		    m.async != &r->a)
			return 0;
		atomic_fetch_add(&r->notifications, 1);
		consume(r, m.async);
		return 1;
	}
	case ARPC_NOTIFY_CALLBACK:
		while (!atomic_load(&r->consumed))
			if (now_ms() > limit)
				return 0;
			else
				usleep(50);
		return 1;
	}
	return 0;
}

/* Waits for the canceller to see the round's handle consumed. */
static int await_canceller(struct race *r, unsigned round)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ROUND_LIMIT_MS / 1000;
	int err = 0;
	pthread_mutex_lock(&r->mu);
	while (r->finished != round && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&r->cv, &r->mu, &until);
	int done = r->finished == round;
	pthread_mutex_unlock(&r->mu);
	return done;
}

static void run_races(arpc_notify_type kind)
{
	struct race r;
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.b = client_open_binding();
	r.efd = client_eventfd();
	r.cq = arpc_cq_create();
	r.mq = arpc_msgq_create();
	assert_non_null(r.cq);
	assert_non_null(r.mq);
	if (kind == ARPC_NOTIFY_APC)
		assert_true(arpc_apc_fd() >= 0); /* this thread's queue, before any call */
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, canceller, &r), 0);

	unsigned n = rounds(), completed = 0, cancelled = 0, bad_final = 0, lost = 0;
	for (unsigned round = 1; round <= n; round++) {
		assert_int_equal(arpc_async_init(&r.a, sizeof(r.a)), ARPC_S_OK);
		set_notification(&r);
		atomic_store(&r.consumed, 0);
		atomic_store(&r.notifications, 0);
		assert_int_equal(arpc_call_async(r.b, &r.a, "sys.ping", NULL, 0, NULL, 0), ARPC_S_OK);
		pthread_mutex_lock(&r.mu);
		r.go = round;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);

		if (!await_round(&r) || !await_canceller(&r, round)) {
			lost++;
			break;
		}
		if (atomic_load(&r.notifications) != 1)
			fail_msg("round %u: %d notifications", round, atomic_load(&r.notifications));
		arpc_status st = (arpc_status)atomic_load(&r.final_status);
		if (st == ARPC_S_OK)
			completed++;
		else if (st == ARPC_S_CALL_CANCELLED)
			cancelled++;
		else
			bad_final++;
	}

	pthread_mutex_lock(&r.mu);
	r.quit = 1;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	assert_int_equal(pthread_join(t, NULL), 0);

	print_message("notify %d: %u rounds, %u completed, %u cancelled\n", (int)kind, n, completed,
	              cancelled);
	assert_int_equal(lost, 0);
	assert_int_equal(bad_final, 0);
	assert_int_equal(atomic_load(&r.canceller_stuck), 0);
	if (atomic_load(&r.bad_cancel_status))
		fail_msg("arpc_async_cancel returned %s %d times",
		         arpc_status_name((arpc_status)atomic_load(&r.last_bad_cancel)),
		         atomic_load(&r.bad_cancel_status));
	assert_int_equal(completed + cancelled, n);
	/* Nothing was notified twice: the queues and the eventfd are empty. */
	uint64_t extra = 0;
	struct pollfd pfd = { .fd = r.efd, .events = POLLIN };
	if (poll(&pfd, 1, 0) > 0 && read(r.efd, &extra, sizeof(extra)) == sizeof(extra))
		fail_msg("%llu notifications too many", (unsigned long long)extra);
	arpc_completion comp;
	assert_int_equal(arpc_cq_get(r.cq, &comp, 0), ARPC_S_TIMEOUT);
	arpc_msg m;
	assert_int_equal(arpc_msgq_get(r.mq, &m), ARPC_S_TIMEOUT);

	arpc_binding_close(r.b);
	arpc_cq_destroy(r.cq);
	arpc_msgq_destroy(r.mq);
	close(r.efd);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
}

static void test_cancel_races_polling(void **state)
{
	run_races(ARPC_NOTIFY_NONE);
}

static void test_cancel_races_event(void **state)
{
	run_races(ARPC_NOTIFY_EVENT);
}

static void test_cancel_races_apc(void **state)
{
	run_races(ARPC_NOTIFY_APC);
}

static void test_cancel_races_completion_queue(void **state)
{
	run_races(ARPC_NOTIFY_IOC);
}

static void test_cancel_races_message_queue(void **state)
{
	run_races(ARPC_NOTIFY_MSG);
}

static void test_cancel_races_callback_consumer(void **state)
{
	run_races(ARPC_NOTIFY_CALLBACK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_races_polling),
		cmocka_unit_test(test_cancel_races_event),
		cmocka_unit_test(test_cancel_races_apc),
		cmocka_unit_test(test_cancel_races_completion_queue),
		cmocka_unit_test(test_cancel_races_message_queue),
		cmocka_unit_test(test_cancel_races_callback_consumer),
	};
	return cmocka_run_group_tests(tests, client_setup, client_teardown);
}
