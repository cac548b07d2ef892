/*
 * arpcd against RLIMIT_NOFILE, with the real daemon under a low limit set
 * in the harness's child before exec:
 *
 *  - under soft = hard = 64 and the default max_connections (1024),
 *    clients connect until the daemon holds every descriptor it may; each
 *    connection past that is told GOAWAY ARPC_S_SERVER_TOO_BUSY (within
 *    the harness's bound) instead of hanging in the listen backlog, the
 *    connections already accepted go on being served, a SIGHUP reload
 *    succeeds at the limit, and once some close new ones are served;
 *  - a soft limit under the hard one is raised to it at start;
 *  - --check-config warns when max_connections cannot be reached under
 *    the limit, and says nothing when it can.
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
#include <unistd.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

enum {
	LIMIT = 64,     /* arpcd's RLIMIT_NOFILE */
	MAX_CONNS = 160 /* bound on the connections the test opens */
};

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

/* Sends a PING on a new connection and reads the first frame: 1 for its
 * PONG, 0 for GOAWAY with SERVER_TOO_BUSY; anything else fails. */
static int ping_or_busy(struct wc *c, int n)
{
	struct wc_frame f;
	if (wc_connect(c, h.endpoint) < 0)
		fail_msg("connection %d: cannot connect to %s", n, h.endpoint);
	/* A refused connection may be closed before the PING goes (EPIPE):
	 * its GOAWAY is waiting to be read all the same. */
	int sent = wc_send_control(c, WIRE_PING, 7) == 0;
	int r = wc_read(c, &f, HARNESS_TIMEOUT_MS);
	if (r != 1)
		fail_msg("connection %d: %s within %d ms (the daemon holds it in its backlog?)",
		         n, r == 0 ? "closed without a word" : "nothing", HARNESS_TIMEOUT_MS);
	int served = sent && f.type == WIRE_PONG && f.call_id == 7;
	int busy = f.type == WIRE_GOAWAY && f.word == ARPC_S_SERVER_TOO_BUSY;
	if (!served && !busy)
		fail_msg("connection %d: frame type %u word %u, neither PONG nor GOAWAY "
		         "SERVER_TOO_BUSY", n, f.type, f.word);
	wc_frame_free(&f);
	if (busy) { /* and then closed */
		assert_int_equal(wc_read(c, &f, HARNESS_TIMEOUT_MS), 0);
		wc_close(c);
	}
	return served;
}

static void ping(struct wc *c, uint32_t id)
{
	assert_int_equal(wc_ping(c, id), 0);
}

static void rewrite_config(const char *rest)
{
	char text[512], path[96];
	snprintf(text, sizeof(text), "[daemon]\nlisten = %s\n%s", h.endpoint, rest);
	assert_int_equal(harness_write_file(&h, "arpcd.conf", text, path, sizeof(path)), 0);
}

struct busy_wait {
	long long want;
};

static int busy_counted(void *arg)
{
	struct busy_wait *w = arg;
	return harness_stat(&h, "busy_rejections") >= w->want;
}

static void over_the_limit_told_server_too_busy(void **state)
{
	static struct wc conns[MAX_CONNS];
	int served = 0, refused = 0, n = 0;

	assert_int_equal(harness_init(&h, NULL), 0);
	h.nofile_soft = h.nofile_hard = LIMIT;
	assert_int_equal(harness_start(&h, NULL), 0);

	/* Connect until a good number have been refused: the daemon is then
	 * at its limit for certain, however many descriptors it started with. */
	while (refused < 20) {
		if (n == MAX_CONNS)
			fail_msg("%d connections, %d served, %d refused", n, served, refused);
		if (ping_or_busy(&conns[n], n))
			served++;
		else
			refused++;
		n++;
	}
	printf("# limit %d: %d connections served, %d refused with SERVER_TOO_BUSY\n", LIMIT,
	       served, refused);
	assert_true(served >= 8);
	assert_true(served < LIMIT);

	/* The accepted ones are served all along. */
	int again = 0;
	for (int i = 0; i < n && again < served; i++) {
		if (conns[i].fd < 0)
			continue; /* refused, and closed */
		ping(&conns[i], 8);
		again++;
	}
	assert_int_equal(again, served);

	/* A reload at the limit reads the file and applies it. */
	rewrite_config("log_level = debug\n[limits]\ndemo_sleep_max = 2s\n");
	assert_int_equal(kill(h.pid, SIGHUP), 0);
	if (!harness_wait_log(&h, "reloaded '", HARNESS_TIMEOUT_MS))
		fail_msg("no 'reloaded' line in arpcd's log after SIGHUP at the descriptor limit");
	assert_false(harness_log_contains(&h, "reload failed"));
	assert_true(harness_log_contains(&h, "reload: demo_sleep_max: 10000ms -> 2000ms"));

	/* Descriptors free up: new connections are served again, and the
	 * refusals were counted. */
	for (int i = 0; i < n; i++)
		wc_close(&conns[i]);
	struct busy_wait w = {refused};
	if (!harness_wait_until(busy_counted, &w, HARNESS_TIMEOUT_MS))
		fail_msg("sys.stats busy_rejections is %lld, not at least %d",
		         harness_stat(&h, "busy_rejections"), refused);
	struct wc c;
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	ping(&c, 1);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/* "Max open files  SOFT  HARD  files" of /proc/PID/limits: the soft one. */
static long soft_nofile(pid_t pid)
{
	char path[64], line[256];
	long soft = -1;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, "Max open files", 14) == 0)
			soft = strtol(line + 14, NULL, 10);
	fclose(fp);
	return soft;
}

static void soft_limit_raised_to_hard(void **state)
{
	assert_int_equal(harness_init(&h, NULL), 0);
	h.nofile_soft = LIMIT;
	h.nofile_hard = 4 * LIMIT;
	assert_int_equal(harness_start(&h, NULL), 0);
	long soft = soft_nofile(h.pid);
	printf("# started with RLIMIT_NOFILE %d:%d, arpcd's soft limit is %ld\n", LIMIT,
	       4 * LIMIT, soft);
	assert_int_equal(soft, 4 * LIMIT);
	assert_true(harness_log_contains(&h, "soft limit raised from 64 to 256"));
	assert_int_equal(harness_stop(&h), 0);
}

/* arpcd --check-config under prlimit --nofile=LIMIT:LIMIT; its output. */
static int check_under_limit(const char *rest, char *out, size_t len)
{
	char prlimit[256], nofile[32];
	if (harness_find_program("prlimit", prlimit, sizeof(prlimit)) < 0)
		return -2;
	snprintf(nofile, sizeof(nofile), "--nofile=%d:%d", LIMIT, LIMIT);
	rewrite_config(rest);
	const char *argv[] = {prlimit, nofile, harness_arpcd(), "--check-config", "-c", h.conf,
	                      NULL};
	return harness_run_program(argv, NULL, out, len, HARNESS_TIMEOUT_MS);
}

static void check_config_warns_of_unreachable_max_connections(void **state)
{
	char out[2048];
	assert_int_equal(harness_init(&h, NULL), 0);
	int r = check_under_limit("", out, sizeof(out));
	if (r == -2)
		skip();
	printf("%s", out);
	assert_int_equal(r, 0);
	assert_non_null(strstr(out, "configuration OK"));
	assert_non_null(strstr(out, "warning: max_connections = 1024 needs about"));
	assert_non_null(strstr(out, "RLIMIT_NOFILE is 64"));

	assert_int_equal(check_under_limit("[limits]\nmax_connections = 8\n", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "configuration OK"));
	assert_null(strstr(out, "warning"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(over_the_limit_told_server_too_busy, teardown),
		cmocka_unit_test_teardown(soft_limit_raised_to_hard, teardown),
		cmocka_unit_test_teardown(check_config_warns_of_unreachable_max_connections,
		                          teardown),
	};
	return cmocka_run_group_tests_name("fd-limit", tests, NULL, NULL);
}
