/*
 * sd_notify: what arpcd tells systemd, read from a datagram socket of the
 * test's own given as $NOTIFY_SOCKET.
 *
 *  - READY=1 comes first, and only once the socket serves: at that moment
 *    a connection succeeds and sys.ping answers;
 *  - with WATCHDOG_USEC=200000, WATCHDOG=1 comes again and again (counted,
 *    not timed);
 *  - SIGHUP gives RELOADING=1, with a MONOTONIC_USEC= taken between the
 *    signal and READY=1, then READY=1; a refused reload too, its STATUS=
 *    saying so; SIGTERM gives STOPPING=1; in that order;
 *  - STATUS= counts connections and calls in flight from a timer, not per
 *    call: a hundred calls bring no STATUS= of their own.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "deploy-harness.h"

/* Messages read while waiting for one, at most. */
#define MAX_MESSAGES 1000

struct rec {
	struct harness *h;
	int fd;
	char sock[96];
	char seq[MAX_MESSAGES + 1]; /* a letter a message: R READY, L RELOADING, S STOPPING,
	                             * W WATCHDOG, T STATUS alone, ? anything else */
	size_t n;
	unsigned watchdogs, statuses;
	char msg[1024];             /* the last message */
	char reloading[1024];       /* the last RELOADING=1 message */
};

static int setup(void **state)
{
	static struct harness h;
	static struct rec r;
	memset(&r, 0, sizeof(r));
	r.h = &h;
	r.fd = -1;
	*state = &r;
	if (harness_init(&h, "[limits]\nshutdown_timeout = 2s\n") < 0)
		return -1;
	r.fd = notify_open(&h, "test-notify.sock", r.sock, sizeof(r.sock));
	return r.fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct rec *r = *state;
	if (r->fd >= 0)
		close(r->fd);
	harness_cleanup(r->h);
	return 0;
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void start(struct rec *r, const char *watchdog_usec)
{
	char notify[128], wd[64];
	const char *argv[] = {harness_arpcd(), "-c", r->h->conf, NULL};
	const char *env[] = {notify, wd, "WATCHDOG_PID", NULL};
	snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", r->sock);
	if (watchdog_usec)
		snprintf(wd, sizeof(wd), "WATCHDOG_USEC=%s", watchdog_usec);
	else
		snprintf(wd, sizeof(wd), "WATCHDOG_USEC");
	struct spawn s = {.argv = argv, .env = env};
	assert_int_equal(deploy_spawn(r->h, &s), 0);
}

static char classify(const char *m)
{
	if (notify_has(m, "RELOADING=1"))
		return 'L';
	if (notify_has(m, "READY=1"))
		return 'R';
	if (notify_has(m, "STOPPING=1"))
		return 'S';
	if (notify_has(m, "WATCHDOG=1"))
		return 'W';
	if (strncmp(m, "STATUS=", 7) == 0 && !strchr(m, '\n'))
		return 'T';
	return '?';
}

/* Reads one message into r; 0 on timeout or when too many were read. */
static int rec_next(struct rec *r, int ms)
{
	if (r->n >= MAX_MESSAGES || !notify_recv(r->fd, r->msg, sizeof(r->msg), ms))
		return 0;
	char c = classify(r->msg);
	r->seq[r->n++] = c;
	r->watchdogs += c == 'W';
	r->statuses += c == 'T';
	if (c == 'L')
		snprintf(r->reloading, sizeof(r->reloading), "%s", r->msg);
	return 1;
}

/* Reads until a message holding `line`; 1, or 0 after HARNESS_TIMEOUT_MS. */
static int rec_until(struct rec *r, const char *line)
{
	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	int left;
	while ((left = harness_ms_left(end)) > 0 && rec_next(r, left))
		if (notify_has(r->msg, line))
			return 1;
	return 0;
}

/* The letters of r->seq other than W and T: the state changes. */
static const char *changes(const struct rec *r)
{
	static char out[MAX_MESSAGES + 1];
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->seq[i] != 'W' && r->seq[i] != 'T')
			out[k++] = r->seq[i];
	out[k] = '\0';
	return out;
}

static void test_ready_watchdog_reload_stopping(void **state)
{
	struct rec *r = *state;
	char v[64];
	start(r, "200000");

	assert_true(rec_until(r, "READY=1"));
	assert_string_equal(r->seq, "R");
	/* READY=1 means serving: no retry allowed here. */
	assert_int_equal(deploy_ping(r->h->endpoint), 0);
	assert_non_null(notify_value(r->msg, "STATUS", v, sizeof(v)));
	assert_non_null(strstr(v, "connections"));

	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	while (r->watchdogs < 3 && harness_ms_left(end) > 0 && rec_next(r, harness_ms_left(end)))
		;
	printf("# %u WATCHDOG=1 messages counted\n", r->watchdogs);
	assert_true(r->watchdogs >= 3);

	uint64_t before = monotonic_usec();
	assert_int_equal(kill(r->h->pid, SIGHUP), 0);
	assert_true(rec_until(r, "READY=1"));
	uint64_t after = monotonic_usec();
	assert_non_null(notify_value(r->reloading, "MONOTONIC_USEC", v, sizeof(v)));
	uint64_t mono = strtoull(v, NULL, 10);
	assert_true(mono >= before);
	assert_true(mono <= after);
	assert_true(harness_log_contains(r->h, "reloaded"));

	assert_int_equal(kill(r->h->pid, SIGTERM), 0);
	assert_true(rec_until(r, "STOPPING=1"));
	assert_int_equal(harness_wait_exit(r->h, HARNESS_TIMEOUT_MS), 0);
	printf("# state changes: %s\n", changes(r));
	assert_string_equal(changes(r), "RLRS");
}

static void test_refused_reload_still_ready(void **state)
{
	struct rec *r = *state;
	char path[96], v[256];
	start(r, NULL);
	assert_true(rec_until(r, "READY=1"));
	assert_int_equal(harness_write_file(r->h, "arpcd.conf", "[daemon]\nworkers = many\n", path,
	                                    sizeof(path)), 0);
	assert_int_equal(kill(r->h->pid, SIGHUP), 0);
	assert_true(rec_until(r, "READY=1"));
	assert_string_equal(changes(r), "RLR");
	assert_non_null(notify_value(r->msg, "STATUS", v, sizeof(v)));
	assert_non_null(strstr(v, "reload refused"));
	assert_true(harness_log_contains(r->h, "reload failed, keeping the running configuration"));
	assert_int_equal(deploy_ping(r->h->endpoint), 0);
	assert_int_equal(kill(r->h->pid, SIGTERM), 0);
	assert_true(rec_until(r, "STOPPING=1"));
	assert_int_equal(harness_wait_exit(r->h, HARNESS_TIMEOUT_MS), 0);
	assert_int_equal(r->watchdogs, 0); /* no WATCHDOG_USEC, no pings */
}

static void test_status_from_timer_not_per_call(void **state)
{
	struct rec *r = *state;
	struct wc c;
	struct wc_frame f;
	start(r, NULL);
	assert_true(rec_until(r, "READY=1"));
	assert_int_equal(wc_connect(&c, r->h->endpoint), 0);
	for (uint32_t id = 1; id <= 100; id++) {
		assert_int_equal(wc_call(&c, id, "sys.ping", NULL, 0, &f), 0);
		wc_frame_free(&f);
	}
	/* One call stays in flight until the connection closes. */
	assert_int_equal(wc_send_u32(&c, 1000, "demo.async_delay", 60000), 0);
	int found = 0;
	int64_t end = harness_now_ms() + 3 * HARNESS_TIMEOUT_MS / 2;
	while (!found && harness_ms_left(end) > 0 && rec_next(r, harness_ms_left(end)))
		found = r->seq[r->n - 1] == 'T' &&
		        strstr(r->msg, "STATUS=1 connections, 1 calls in flight") != NULL;
	printf("# STATUS= messages after READY=1: %u (101 calls made)\n", r->statuses);
	assert_true(found);
	/* A timer tick may have fallen before the calls: one more at most. */
	assert_true(r->statuses <= 2);
	wc_close(&c);
	assert_int_equal(kill(r->h->pid, SIGTERM), 0);
	assert_true(rec_until(r, "STOPPING=1"));
	assert_int_equal(harness_wait_exit(r->h, HARNESS_TIMEOUT_MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ready_watchdog_reload_stopping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_reload_still_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_from_timer_not_per_call, setup, teardown),
	};
	return cmocka_run_group_tests_name("sd-notify", tests, NULL, NULL);
}
