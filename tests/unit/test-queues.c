/*
 * test-queues.c: the eventfd-backed queue behind APC, IOC and MSG
 * notifications, and the public completion and message queues on it.
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

#include <cmocka.h>

#include <arpc/arpc.h>

#include "fdq.h"
#include "internal.h"

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_fd_readable_exactly_while_nonempty(void **state)
{
	struct fdq q;
	assert_int_equal(fdq_init(&q, sizeof(int)), 0);
	assert_false(readable(fdq_fd(&q)));
	for (int i = 0; i < 100; i++) {
		assert_int_equal(fdq_push(&q, &i), 0);
		assert_true(readable(fdq_fd(&q)));
	}
	for (int i = 0; i < 100; i++) {
		int v = -1;
		assert_true(readable(fdq_fd(&q)));
		assert_int_equal(fdq_pop(&q, &v, 0), 1);
		assert_int_equal(v, i); /* FIFO, across ring growth */
	}
	assert_false(readable(fdq_fd(&q)));
	int v;
	assert_int_equal(fdq_pop(&q, &v, 0), 0);
	assert_int_equal(fdq_pop(&q, &v, 5), 0); /* times out */
	fdq_destroy(&q);
}

static void test_reserved_slots_survive_wraparound(void **state)
{
	struct fdq q;
	assert_int_equal(fdq_init(&q, sizeof(int)), 0);
	/* Interleave reservations, plain pushes and pops so the ring wraps. */
	int next_in = 0, next_out = 0;
	for (int round = 0; round < 50; round++) {
		for (int k = 0; k < 7; k++)
			assert_int_equal(fdq_reserve(&q), 0);
		assert_true(q.cap >= q.count + q.reserved);
		for (int k = 0; k < 7; k++) {
			fdq_push_reserved(&q, &next_in);
			next_in++;
		}
		assert_int_equal(q.reserved, 0);
		for (int k = 0; k < 5; k++) {
			int v;
			assert_int_equal(fdq_pop(&q, &v, 0), 1);
			assert_int_equal(v, next_out++);
		}
	}
	assert_int_equal(fdq_reserve(&q), 0);
	fdq_unreserve(&q);
	assert_int_equal(q.reserved, 0);
	size_t left = q.count;
	assert_int_equal(fdq_clear(&q, NULL, NULL), left);
	assert_false(readable(fdq_fd(&q)));
	fdq_destroy(&q);
}

/* Many threads wait in arpc_cq_get; each posted item wakes exactly one of
 * them, and every item is taken exactly once. */
enum { WAITERS = 4, ITEMS = 20000 };

struct cq_waiter {
	arpc_cq *cq;
	int got;
	int wrong_tag;     /* items whose tag did not match their key */
	atomic_int *seen;
};

static void *cq_waiter_main(void *arg)
{
	struct cq_waiter *w = arg;
	arpc_completion c;
	while (arpc_cq_get(w->cq, &c, 2000) == ARPC_S_OK) {
		if (c.key == 0)
			break; /* the stop item, one per waiter */
		atomic_fetch_add(&w->seen[c.key - 1], 1);
		if (c.tag != (void *)(uintptr_t)(c.key * 3))
			w->wrong_tag++;
		w->got++;
	}
	return NULL;
}

static void test_cq_each_item_wakes_exactly_one_waiter(void **state)
{
	arpc_cq *cq = arpc_cq_create();
	assert_non_null(cq);
	static atomic_int seen[ITEMS];
	memset(seen, 0, sizeof(seen));
	struct cq_waiter w[WAITERS];
	pthread_t t[WAITERS];
	for (int i = 0; i < WAITERS; i++) {
		w[i] = (struct cq_waiter){ .cq = cq, .seen = seen };
		assert_int_equal(pthread_create(&t[i], NULL, cq_waiter_main, &w[i]), 0);
	}
	for (uintptr_t k = 1; k <= ITEMS; k++) {
		arpc_completion c = { .key = k, .tag = (void *)(k * 3), .status = ARPC_S_OK };
		assert_int_equal(arpc_cq_post(cq, &c), ARPC_S_OK);
	}
	for (int i = 0; i < WAITERS; i++) {
		arpc_completion stop = { .key = 0 };
		assert_int_equal(arpc_cq_post(cq, &stop), ARPC_S_OK);
	}
	int total = 0, wrong_tag = 0;
	for (int i = 0; i < WAITERS; i++) {
		pthread_join(t[i], NULL);
		total += w[i].got;
		wrong_tag += w[i].wrong_tag;
	}
	assert_int_equal(wrong_tag, 0);
	assert_int_equal(total, ITEMS);
	for (int k = 0; k < ITEMS; k++)
		assert_int_equal(atomic_load(&seen[k]), 1);
	assert_false(readable(arpc_cq_fd(cq)));
	arpc_cq_destroy(cq);
}

static void test_cq_and_msgq_arguments(void **state)
{
	arpc_completion c;
	arpc_msg m;
	assert_int_equal(arpc_cq_get(NULL, &c, 0), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_cq_post(NULL, &c), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_cq_fd(NULL), -1);
	assert_int_equal(arpc_msgq_get(NULL, &m), ARPC_S_INVALID_ARG);
	assert_int_equal(arpc_msgq_fd(NULL), -1);
	arpc_cq_destroy(NULL);
	arpc_msgq_destroy(NULL);

	arpc_cq *cq = arpc_cq_create();
	assert_non_null(cq);
	assert_int_equal(arpc_cq_get(cq, &c, 0), ARPC_S_TIMEOUT);
	assert_int_equal(arpc_cq_get(cq, &c, 20), ARPC_S_TIMEOUT);
	arpc_cq_destroy(cq);
}

static void test_msgq_is_nonblocking_fifo(void **state)
{
	arpc_msgq *q = arpc_msgq_create();
	assert_non_null(q);
	arpc_msg m;
	assert_int_equal(arpc_msgq_get(q, &m), ARPC_S_TIMEOUT);
	assert_false(readable(arpc_msgq_fd(q)));
	/* The library posts through reserved slots. */
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(msgq_reserve(q), 0);
		arpc_msg in = { .msg = 100 + i, .async = NULL };
		msgq_post_reserved(q, &in);
	}
	assert_true(readable(arpc_msgq_fd(q)));
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(arpc_msgq_get(q, &m), ARPC_S_OK);
		assert_int_equal(m.msg, 100 + i);
	}
	assert_false(readable(arpc_msgq_fd(q)));
	arpc_msgq_destroy(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_readable_exactly_while_nonempty),
		cmocka_unit_test(test_reserved_slots_survive_wraparound),
		cmocka_unit_test(test_cq_each_item_wakes_exactly_one_waiter),
		cmocka_unit_test(test_cq_and_msgq_arguments),
		cmocka_unit_test(test_msgq_is_nonblocking_fifo),
	};
	return cmocka_run_group_tests_name("queues", tests, NULL, NULL);
}
