/*
 * test-batched-submit.c: ARPC_CALL_MORE and arpc_binding_flush against a
 * real arpcd.  A held request is not on the wire (the daemon never answers
 * it) until a flush or a later call without the flag writes it; then every
 * held call completes once, in one write with the rest; a held call still
 * completes exactly once when its binding closes first.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"
#include "harness.h"

#define BATCH 64

struct batch {
	arpc_async a[BATCH];
	char payload[BATCH][16];
	int efd;
};

/* Starts BATCH demo.echo calls, each with flags, all signalling one eventfd. */
static void start_batch(arpc_binding *b, struct batch *bt, uint32_t flags)
{
	bt->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(bt->efd >= 0);
	for (int i = 0; i < BATCH; i++) {
		arpc_async *a = &bt->a[i];
		client_event_async(a, bt->efd);
		a->flags = flags;
		int n = snprintf(bt->payload[i], sizeof(bt->payload[i]), "held-%d", i);
		assert_int_equal(arpc_call_async(b, a, "demo.echo", bt->payload[i], (size_t)n, NULL, 0),
		                 ARPC_S_OK);
	}
}

/* Reads the eventfd until `want` notifications arrived or ms passed, in
 * all. */
static uint64_t collect(int efd, uint64_t want, int ms)
{
	uint64_t got = 0;
	int64_t end = harness_now_ms() + ms;
	while (got < want) {
		struct pollfd p = { .fd = efd, .events = POLLIN };
		if (poll(&p, 1, harness_ms_left(end)) != 1)
			break;
		uint64_t n;
		if (read(efd, &n, sizeof(n)) == sizeof(n))
			got += n;
	}
	return got;
}

/* Completes every handle; each must finish with `want` and, on OK, its
 * own payload back. */
static void finish_batch(struct batch *bt, arpc_status want)
{
	for (int i = 0; i < BATCH; i++) {
		arpc_reply r;
		assert_int_equal(arpc_async_complete(&bt->a[i], &r), want);
		if (want == ARPC_S_OK) {
			assert_int_equal(r.len, strlen(bt->payload[i]));
			assert_memory_equal(r.data, bt->payload[i], r.len);
		}
		arpc_reply_free(&r);
	}
	close(bt->efd);
}

static void test_held_until_flush(void **state)
{
	(void)state;
	arpc_binding *b = client_open_binding();
	struct batch bt;
	start_batch(b, &bt, ARPC_CALL_MORE);
	/* Never written, so never answered: nothing arrives, whatever the wait. */
	assert_int_equal(collect(bt.efd, 1, 200), 0);
	for (int i = 0; i < BATCH; i++)
		assert_int_equal(arpc_async_get_status(&bt.a[i]), ARPC_S_ASYNC_CALL_PENDING);

	assert_int_equal(arpc_binding_flush(b), ARPC_S_OK);
	assert_int_equal(collect(bt.efd, BATCH, 10000), BATCH);
	finish_batch(&bt, ARPC_S_OK);
	/* Exactly once: no stray notification after all completed. */
	arpc_binding_close(b);
}

static void test_next_plain_call_writes_held_ones(void **state)
{
	(void)state;
	arpc_binding *b = client_open_binding();
	struct batch bt;
	start_batch(b, &bt, ARPC_CALL_MORE);
	/* A synchronous call on the same binding writes the held requests
	 * ahead of its own, so they are answered too. */
	arpc_reply r;
	assert_int_equal(arpc_call(b, "sys.ping", NULL, 0, &r), ARPC_S_OK);
	arpc_reply_free(&r);
	assert_int_equal(collect(bt.efd, BATCH, 10000), BATCH);
	finish_batch(&bt, ARPC_S_OK);
	arpc_binding_close(b);
}

static void test_close_completes_held_calls(void **state)
{
	(void)state;
	arpc_binding *b = client_open_binding();
	struct batch bt;
	start_batch(b, &bt, ARPC_CALL_MORE);
	arpc_binding_close(b);
	assert_int_equal(collect(bt.efd, BATCH, 10000), BATCH);
	finish_batch(&bt, ARPC_S_CALL_CANCELLED);
}

static void test_flush_arguments(void **state)
{
	(void)state;
	assert_int_equal(arpc_binding_flush(NULL), ARPC_S_INVALID_ARG);
	arpc_binding *b = client_open_binding();
	/* Nothing held: a no-op. */
	assert_int_equal(arpc_binding_flush(b), ARPC_S_OK);
	/* An unknown flag is refused without starting the call. */
	arpc_async a;
	assert_int_equal(arpc_async_init(&a, sizeof(a)), ARPC_S_OK);
	a.flags = 0x80;
	assert_int_equal(arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_async_get_status(&a), ARPC_S_INVALID_ASYNC_HANDLE);
	arpc_binding_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_until_flush),
		cmocka_unit_test(test_next_plain_call_writes_held_ones),
		cmocka_unit_test(test_close_completes_held_calls),
		cmocka_unit_test(test_flush_arguments),
	};
	return cmocka_run_group_tests_name("batched-submit", tests, client_setup, client_teardown);
}
