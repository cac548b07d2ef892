/*
 * test-binding-close.c: what arpc_binding_close() promises about the
 * notifications of the binding's calls, against a real arpcd.
 *
 * Closed from an application thread, it returns only after every CALLBACK of
 * the binding's calls has run and returned (those of calls it cancelled and
 * those already queued), so the application may free what its callbacks use
 * at once; nothing of the binding runs afterwards.  Closed from one of its
 * own CALLBACKs, it cannot wait for the others, which run after.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

#define CALLS 64

/* What the callbacks use, freed by the test right after the close. */
struct shared {
	atomic_int ran;
	atomic_int cancelled;
	atomic_int after_close; /* callbacks that started once close had returned */
	atomic_int closed;
	arpc_async handles[CALLS];
};

static void slow_callback(arpc_async *a, arpc_event ev)
{
	struct shared *sh = a->user_info;
	if (atomic_load(&sh->closed))
		atomic_fetch_add(&sh->after_close, 1);
	/* A slow callback keeps the others queued behind it while the test's
	 * close runs. */
	usleep(2000);
	if (arpc_async_complete(a, NULL) == ARPC_S_CALL_CANCELLED)
		atomic_fetch_add(&sh->cancelled, 1);
	atomic_fetch_add(&sh->ran, 1);
}

static void start(arpc_binding *b, struct shared *sh, int i, uint32_t delay_ms)
{
	arpc_async *a = &sh->handles[i];
	assert_int_equal(arpc_async_init(a, sizeof(*a)), ARPC_S_OK);
	a->user_info = sh;
	a->notify = ARPC_NOTIFY_CALLBACK;
	a->u.callback.fn = slow_callback;
	uint8_t req[4];
	client_u32(req, delay_ms);
	assert_int_equal(arpc_call_async(b, a, "demo.async_delay", req, sizeof(req), NULL, 0),
	                 ARPC_S_OK);
}

static int half_ran(void *arg)
{
	struct shared *sh = arg;
	return atomic_load(&sh->ran) > 0;
}

static void test_close_returns_after_every_callback(void **state)
{
	/* Owned by the test, freed as soon as the close returns: a callback
	 * still running then would touch freed memory (the ASan build sees it)
	 * and leave the counts short. */
	struct shared *sh = calloc(1, sizeof(*sh));
	assert_non_null(sh);
	arpc_binding *b = client_open_binding();
	/* Half answer at once, half stay pending until the close cancels them. */
	for (int i = 0; i < CALLS; i++)
		start(b, sh, i, i % 2 ? 0 : 600000);
	assert_true(client_wait_until(half_ran, sh, 10000));
	arpc_binding_close(b);
	int ran = atomic_load(&sh->ran);
	int cancelled = atomic_load(&sh->cancelled);
	atomic_store(&sh->closed, 1);
	free(sh);
	assert_int_equal(ran, CALLS);
	assert_int_equal(cancelled, CALLS / 2);
}

static struct {
	arpc_binding *b;
	atomic_int ran;
	atomic_int closer_returned;
	atomic_int ran_after_closer;
	arpc_async handles[8];
} inside;

static void closing_callback(arpc_async *a, arpc_event ev)
{
	if (atomic_load(&inside.closer_returned))
		atomic_fetch_add(&inside.ran_after_closer, 1);
	arpc_async_complete(a, NULL);
	if (a == &inside.handles[0]) {
		/* On the I/O thread: must return at once, not wait for the
		 * callbacks queued behind this one. */
		arpc_binding_close(inside.b);
		atomic_store(&inside.closer_returned, 1);
	}
	atomic_fetch_add(&inside.ran, 1);
}

static int all_inside_ran(void *arg)
{
	return atomic_load(&inside.ran) == 8;
}

static void test_close_from_own_callback_does_not_wait(void **state)
{
	inside.b = client_open_binding();
	for (int i = 0; i < 8; i++) {
		arpc_async *a = &inside.handles[i];
		assert_int_equal(arpc_async_init(a, sizeof(*a)), ARPC_S_OK);
		a->notify = ARPC_NOTIFY_CALLBACK;
		a->u.callback.fn = closing_callback;
		uint8_t req[4];
		client_u32(req, 600000);
		assert_int_equal(arpc_call_async(inside.b, a, "demo.async_delay", req, sizeof(req),
		                                 NULL, 0),
		                 ARPC_S_OK);
	}
	/* The first one's CALLBACK closes the binding while the rest are still
	 * pending: they are cancelled, and their CALLBACKs run after it. */
	assert_int_equal(arpc_async_cancel(&inside.handles[0], 1), ARPC_S_OK);
	assert_true(client_wait_until(all_inside_ran, NULL, 10000));
	assert_int_equal(atomic_load(&inside.closer_returned), 1);
	assert_int_equal(atomic_load(&inside.ran_after_closer), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_returns_after_every_callback),
		cmocka_unit_test(test_close_from_own_callback_does_not_wait),
	};
	return cmocka_run_group_tests(tests, client_setup, client_teardown);
}
