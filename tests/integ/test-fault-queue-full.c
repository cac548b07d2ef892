/*
 * test-fault-queue-full.c: the worker pool's queue is full (one worker,
 * asleep in demo.sleep; max_queued_jobs calls queued behind it).  Further
 * worker-bound calls are answered ARPC_S_SERVER_TOO_BUSY at once: their
 * replies, and those of inline calls (sys.ping) made meanwhile, all arrive
 * while the sleep still runs, so nothing stalls behind it.  Through libarpc
 * the same call returns ARPC_S_SERVER_TOO_BUSY.  Once the sleep ends
 * (cancelled, so no wait on a clock) the queued calls run and everything
 * is normal again.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "fault-harness.h"

enum {
	QUEUED = 3,    /* max_queued_jobs */
	REFUSED = 20,  /* worker-bound calls sent while the queue is full, each
	                  followed by an inline call */
	LONG_MS = 60000,
};

static const char config[] = "workers = 1\n"
                             "[limits]\n"
                             "max_queued_jobs = 3\n"
                             "demo_sleep_max = 2m\n"
                             "shutdown_timeout = 2s\n";

static int setup(void **state)
{
	return fault_setup(state, config);
}

static void read_reply(struct wc *c, uint32_t id, uint32_t status)
{
	assert_int_equal(wc_expect_reply(c, id, status, NULL), 0);
}

static void test_full_queue_answers_too_busy(void **state)
{
	struct harness *h = *state;
	long long rejected = harness_stat(h, "busy_rejections");
	struct wc c;
	assert_int_equal(wc_connect(&c, h->endpoint), 0);

	/* Call 1 takes the worker; 2..QUEUED+1 fill the queue. */
	assert_int_equal(wc_send_u32(&c, 1, "demo.sleep", LONG_MS), 0);
	fault_expect_stat(h, "workers_busy", 1);
	for (uint32_t id = 2; id <= QUEUED + 1; id++)
		assert_int_equal(wc_send_u32(&c, id, "demo.sleep", 1), 0);
	fault_expect_stat(h, "jobs_queued", QUEUED);

	/* More worker calls, interleaved with inline pings: every one is
	 * answered while call 1 sleeps, in the order sent. */
	uint32_t id = 100;
	for (int i = 0; i < REFUSED; i++) {
		const char *method = i % 2 ? "demo.sleep" : "demo.message";
		assert_int_equal(wc_send_u32(&c, id++, method, 1), 0);
		assert_int_equal(wc_send_request(&c, id++, "sys.ping", NULL, 0, 0, 0), 0);
	}
	id = 100;
	for (int i = 0; i < REFUSED; i++) {
		read_reply(&c, id++, ARPC_S_SERVER_TOO_BUSY);
		read_reply(&c, id++, ARPC_S_OK);
	}

	/* The library's caller sees the same, at once. */
	arpc_binding *b;
	arpc_reply r;
	uint8_t ms[4];
	wire_put32(ms, 1);
	assert_int_equal(arpc_binding_open(h->endpoint, &b), ARPC_S_OK);
	assert_int_equal(arpc_call(b, "demo.sleep", ms, 4, &r), ARPC_S_SERVER_TOO_BUSY);
	arpc_reply_free(&r);
	assert_int_equal(arpc_call(b, "sys.ping", NULL, 0, &r), ARPC_S_OK);
	arpc_reply_free(&r);

	assert_int_equal(harness_stat(h, "busy_rejections"), rejected + REFUSED + 1);
	assert_int_equal(harness_stat(h, "workers_busy"), 1);
	assert_int_equal(harness_stat(h, "jobs_queued"), QUEUED);

	/* The sleep ends: the queued calls run, in order, and succeed. */
	assert_int_equal(wc_send_control(&c, WIRE_CANCEL, 1), 0);
	read_reply(&c, 1, ARPC_S_CALL_CANCELLED);
	for (uint32_t q = 2; q <= QUEUED + 1; q++)
		read_reply(&c, q, ARPC_S_OK);

	/* All is normal: worker calls run again, from both clients. */
	for (uint32_t k = 0; k < QUEUED + 2; k++) {
		assert_int_equal(arpc_call(b, "demo.sleep", ms, 4, &r), ARPC_S_OK);
		arpc_reply_free(&r);
		struct wc_frame f;
		assert_int_equal(wc_call(&c, 200 + k, "demo.sleep", ms, 4, &f), ARPC_S_OK);
		wc_frame_free(&f);
	}
	assert_int_equal(harness_stat(h, "busy_rejections"), rejected + REFUSED + 1);
	fault_expect_stat(h, "jobs_queued", 0);
	arpc_binding_close(b);
	wc_close(&c);
	assert_int_equal(harness_stop(h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_queue_answers_too_busy),
	};
	return cmocka_run_group_tests_name("fault-queue-full", tests, setup,
	                                   fault_teardown);
}
