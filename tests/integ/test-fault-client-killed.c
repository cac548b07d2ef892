/*
 * test-fault-client-killed.c: a client process is killed with SIGKILL while
 * it has many calls in flight on a raw connection: demo.async_delay timers
 * on the loop, demo.sleep calls running on every worker and more queued
 * behind them.  The daemon notices the connection die and frees every call:
 * sys.stats' in-flight, queued and busy counters return to 0, the sleeping
 * workers are woken rather than held to the end of their sleep, it still
 * serves, and it exits with status 0, which in the sanitizer build means
 * LeakSanitizer found nothing.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault-harness.h"

enum {
	WORKERS = 2,
	DELAYS = 500,          /* demo.async_delay calls, each for a minute */
	SLEEPS = WORKERS + 6,  /* demo.sleep calls: every worker busy, the rest queued */
	CALLS = DELAYS + SLEEPS,
	LONG_MS = 60000,
};

static const char config[] = "workers = 2\n"
                             "[limits]\n"
                             "demo_sleep_max = 2m\n"
                             "shutdown_timeout = 2s\n";

static int setup(void **state)
{
	return fault_setup(state, config);
}

/* The child: connects, sends every call, says so on `ready`, then waits to
 * be killed.  Never returns. */
static void child_main(const char *endpoint, int ready)
{
	struct wc c;
	if (wc_connect(&c, endpoint) < 0)
		_exit(2);
	uint32_t id = 1;
	for (int i = 0; i < DELAYS; i++)
		if (wc_send_u32(&c, id++, "demo.async_delay", LONG_MS) < 0)
			_exit(3);
	for (int i = 0; i < SLEEPS; i++)
		if (wc_send_u32(&c, id++, "demo.sleep", LONG_MS) < 0)
			_exit(4);
	if (write(ready, "r", 1) != 1)
		_exit(5);
	/* Should the test die before it kills us, we do not outlive it long. */
	alarm(60);
	for (;;)
		pause();
}

/* Forks the client, waits until the daemon holds all its calls, kills it. */
static void run_and_kill_client(struct harness *h)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child_main(h->endpoint, p[1]);
	}
	close(p[1]);
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };
	char b;
	int sent = poll(&pfd, 1, HARNESS_TIMEOUT_MS) == 1 && read(p[0], &b, 1) == 1;
	close(p[0]);
	if (!sent) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("the client did not send its calls");
	}
	/* Everything reached the daemon: each call is in flight, the workers
	 * sleep, the rest of the sleeps wait in the queue. */
	fault_expect_stat(h, "calls_inflight", CALLS);
	fault_expect_stat(h, "workers_busy", WORKERS);
	fault_expect_stat(h, "jobs_queued", SLEEPS - WORKERS);

	assert_int_equal(kill(pid, SIGKILL), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void test_killed_client_calls_are_freed(void **state)
{
	struct harness *h = *state;
	long long cancelled = harness_stat(h, "calls_cancelled");
	long long woken = harness_stat(h, "cancel_callbacks");
	assert_true(cancelled >= 0 && woken >= 0);

	run_and_kill_client(h);

	/* Long before any minute-long call could end on its own. */
	fault_expect_stat(h, "calls_inflight", 0);
	fault_expect_stat(h, "jobs_queued", 0);
	fault_expect_stat(h, "workers_busy", 0);
	fault_expect_stat(h, "connections", 1); /* the one asking */
	assert_true(harness_stat(h, "calls_cancelled") >= cancelled + CALLS);
	/* The sleeping workers' cancel callbacks ran: they were woken. */
	assert_true(harness_stat(h, "cancel_callbacks") >= woken + WORKERS);

	/* The daemon serves as before, the workers included. */
	struct wc c;
	struct wc_frame f;
	uint8_t ms[4];
	wire_put32(ms, 1);
	assert_int_equal(wc_connect(&c, h->endpoint), 0);
	assert_int_equal(wc_call(&c, 1, "sys.ping", NULL, 0, &f), 0);
	wc_frame_free(&f);
	for (uint32_t i = 0; i < WORKERS * 2; i++) {
		assert_int_equal(wc_call(&c, 2 + i, "demo.sleep", ms, 4, &f), 0);
		wc_frame_free(&f);
	}
	wc_close(&c);
}

/* Twice more, then a clean exit: nothing leaked (ASan's exit status). */
static void test_repeated_kills_then_clean_exit(void **state)
{
	struct harness *h = *state;
	for (int round = 0; round < 2; round++) {
		run_and_kill_client(h);
		fault_expect_stat(h, "calls_inflight", 0);
		fault_expect_stat(h, "workers_busy", 0);
	}
	assert_int_equal(harness_stop(h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_killed_client_calls_are_freed),
		cmocka_unit_test(test_repeated_kills_then_clean_exit),
	};
	return cmocka_run_group_tests_name("fault-client-killed", tests, setup,
	                                   fault_teardown);
}
