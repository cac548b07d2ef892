/*
 * test-sync-many-threads.c: synchronous calls from many threads on one
 * binding, with asynchronous calls pending and completing meanwhile.  At
 * most one caller reads the socket at a time (the leader), the others wait
 * to be handed their reply or the socket; every caller gets its own reply.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

enum { THREADS = 8, CALLS = 400, ASYNC = 64 };

struct caller {
	arpc_binding *b;
	int id;
	int ok;
	char error[160];
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	for (int i = 0; i < CALLS; i++) {
		char msg[48];
		int n = snprintf(msg, sizeof(msg), "thread %d call %d %.*s", c->id, i, i % 13,
		                 "xxxxxxxxxxxxx");
		arpc_reply r;
		arpc_status st;
		if (i % 50 == 49) {
			/* Now and then one that takes a while, so that leadership moves. */
			uint8_t req[4];
			client_u32(req, 5);
			st = arpc_call(c->b, "demo.async_delay", req, sizeof(req), &r);
			if (st == ARPC_S_OK && (r.len != 4 || memcmp(r.data, req, 4) != 0))
				snprintf(c->error, sizeof(c->error), "call %d: wrong delay reply", i);
		} else {
			st = arpc_call(c->b, "demo.echo", msg, (size_t)n, &r);
			if (st == ARPC_S_OK && (r.len != (size_t)n || memcmp(r.data, msg, (size_t)n) != 0))
				snprintf(c->error, sizeof(c->error), "call %d: got '%.*s'", i, (int)r.len,
				         (const char *)r.data);
		}
		arpc_reply_free(&r);
		if (st != ARPC_S_OK) {
			snprintf(c->error, sizeof(c->error), "call %d: %s", i, arpc_status_name(st));
			break;
		}
		if (c->error[0])
			break;
		c->ok++;
	}
	return NULL;
}

static void test_sync_callers_share_one_binding(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	arpc_async a[ASYNC];
	for (int i = 0; i < ASYNC; i++) {
		uint8_t req[4];
		client_u32(req, (uint32_t)(i * 7 % 200));
		client_event_async(&a[i], efd);
		assert_int_equal(arpc_call_async(b, &a[i], "demo.async_delay", req, 4, NULL, 0),
		                 ARPC_S_OK);
	}
	struct caller c[THREADS];
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct caller){ .b = b, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, caller_main, &c[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++) {
		if (c[i].error[0])
			fail_msg("thread %d: %s", i, c[i].error);
		assert_int_equal(c[i].ok, CALLS);
	}
	uint64_t total = 0;
	struct pollfd p = { .fd = efd, .events = POLLIN };
	for (int i = 0; i < 200 && total < ASYNC; i++) {
		if (poll(&p, 1, 50) == 1) {
			uint64_t n;
			assert_int_equal(read(efd, &n, sizeof(n)), sizeof(n));
			total += n;
		}
	}
	assert_int_equal(total, ASYNC);
	for (int i = 0; i < ASYNC; i++)
		assert_int_equal(arpc_async_complete(&a[i], NULL), ARPC_S_OK);
	close(efd);
	arpc_binding_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_callers_share_one_binding),
	};
	return cmocka_run_group_tests_name("sync-many-threads", tests, client_setup, client_teardown);
}
