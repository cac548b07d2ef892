/*
 * Every call answered exactly once under a mix of everything at once:
 * several connections each pipeline worker jobs (demo.sleep), timer
 * delays (demo.async_delay), inline calls (demo.echo), deadlines that
 * pass in the queue, in the handler or in the timer, client CANCELs (of
 * calls running, queued, delayed or already answered), and a job queue
 * small enough to overflow.  On the connections that stay, each request
 * gets exactly one reply, with a status its path allows and, when 0, its
 * own payload back.  Other connections leave with calls in flight.
 * Afterwards nothing is left in flight, and arpcd exits 0 (in the
 * sanitizer build: no leak, no race it can see).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

#define NCONNS 6
#define NFRAMES 400 /* per connection, calls and cancels */

enum kind { K_NONE, K_SLEEP, K_DELAY, K_ECHO };

struct call {
	uint8_t kind;
	uint8_t cancelled;  /* a CANCEL was sent for it */
	uint8_t deadline;   /* it had one */
	uint8_t answered;
	uint8_t payload[32];
	size_t len;
};

static struct harness h;
static struct call calls[NCONNS][NFRAMES + 1];
static unsigned by_status[ARPC_S_STATUS_MAX_];
static uint32_t rng = 12345;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static uint32_t next_rand(uint32_t n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

/* Pipelines NFRAMES frames on c, recording what each call id is. */
static uint32_t send_mix(struct wc *c, struct call *tab)
{
	uint32_t ncalls = 0;
	for (int i = 0; i < NFRAMES; i++) {
		uint32_t r = next_rand(100);
		if (r < 10 && ncalls > 0) {
			uint32_t id = 1 + next_rand(ncalls);
			tab[id].cancelled = 1;
			assert_int_equal(wc_send_control(c, WIRE_CANCEL, id), 0);
			continue;
		}
		uint32_t id = ++ncalls;
		struct call *k = &tab[id];
		uint32_t deadline = next_rand(4) == 0 ? 1 + next_rand(10) : 0;
		const char *method;
		if (r < 45) {
			k->kind = K_SLEEP;
			method = "demo.sleep";
			wire_put32(k->payload, next_rand(4));
			k->len = 4;
		} else if (r < 85) {
			k->kind = K_DELAY;
			method = "demo.async_delay";
			wire_put32(k->payload, next_rand(30));
			k->len = 4;
		} else {
			k->kind = K_ECHO;
			method = "demo.echo";
			k->len = next_rand(sizeof(k->payload));
			for (size_t j = 0; j < k->len; j++)
				k->payload[j] = (uint8_t)next_rand(256);
		}
		k->deadline = deadline != 0;
		assert_int_equal(wc_send_request(c, id, method, k->payload, k->len, deadline, 0), 0);
	}
	return ncalls;
}

static void check_reply(struct call *tab, uint32_t ncalls, const struct wc_frame *f)
{
	assert_int_equal(f->type, WIRE_REPLY);
	assert_in_range(f->call_id, 1, ncalls);
	struct call *k = &tab[f->call_id];
	if (k->answered)
		fail_msg("call %u answered twice", f->call_id);
	k->answered = 1;
	if (f->word < ARPC_S_STATUS_MAX_)
		by_status[f->word]++;
	switch (f->word) {
	case ARPC_S_OK:
		assert_int_equal(f->len, k->len);
		if (k->len)
			assert_memory_equal(f->data, k->payload, k->len);
		break;
	case ARPC_S_CALL_CANCELLED:
		assert_true(k->cancelled);
		break;
	case ARPC_S_TIMEOUT:
		assert_true(k->deadline);
		break;
	case ARPC_S_SERVER_TOO_BUSY:
		assert_int_equal(k->kind, K_SLEEP);
		break;
	default:
		fail_msg("call %u (kind %d): status %u: %.*s", f->call_id, k->kind, f->word,
		         (int)f->len, (char *)f->data);
	}
}

static int all_retired(void *arg)
{
	return harness_stat(&h, "calls_inflight") == 0 && harness_stat(&h, "workers_busy") == 0 &&
	       harness_stat(&h, "jobs_queued") == 0;
}

static void every_call_answered_once_under_mixed_load(void **state)
{
	struct wc c[NCONNS];
	uint32_t ncalls[NCONNS];
	struct wc_frame f;

	assert_int_equal(harness_init(&h, "workers = 3\n[limits]\nmax_queued_jobs = 20\n"
	                                  "max_inflight_per_connection = 64\n"), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	memset(calls, 0, sizeof(calls));
	for (int i = 0; i < NCONNS; i++) {
		assert_int_equal(wc_connect(&c[i], h.endpoint), 0);
		ncalls[i] = send_mix(&c[i], calls[i]);
	}
	/* Even connections stay for every reply; odd ones leave now. */
	for (int i = 1; i < NCONNS; i += 2)
		wc_close(&c[i]);
	for (int i = 0; i < NCONNS; i += 2) {
		for (uint32_t n = 0; n < ncalls[i]; n++) {
			assert_int_equal(wc_read(&c[i], &f, HARNESS_TIMEOUT_MS), 1);
			check_reply(calls[i], ncalls[i], &f);
			wc_frame_free(&f);
		}
		/* Nothing after the last: a PING's PONG is next. */
		assert_int_equal(wc_ping(&c[i], 1), 0);
		wc_close(&c[i]);
	}
	print_message("# replies: %u ok, %u cancelled, %u timeout, %u too busy\n",
	              by_status[ARPC_S_OK], by_status[ARPC_S_CALL_CANCELLED],
	              by_status[ARPC_S_TIMEOUT], by_status[ARPC_S_SERVER_TOO_BUSY]);
	assert_true(harness_wait_until(all_retired, NULL, HARNESS_TIMEOUT_MS));
	assert_int_equal(harness_stat(&h, "protocol_errors"), 0);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(every_call_answered_once_under_mixed_load, teardown),
	};
	return cmocka_run_group_tests_name("mixed-load", tests, NULL, NULL);
}
