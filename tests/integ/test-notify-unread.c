/*
 * test-notify-unread.c: arpcd's sd_notify messages never stop its loop.
 *
 * A unix datagram queue holds few messages (net.unix.max_dgram_qlen, 10 by
 * default).  Here $NOTIFY_SOCKET is the harness's socket, which the test
 * stops reading after READY=1: every reload adds RELOADING=1 and READY=1,
 * so a dozen reloads overflow the queue.  arpcd must drop what does not fit
 * and go on: every reload is carried out, calls are answered, and SIGTERM
 * ends it (its STOPPING=1 finds the queue full too).
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define RELOADS 16

static struct harness h;

/* How many times `needle` is in arpcd's log. */
static int log_count(const char *needle)
{
	FILE *f = fopen(h.log, "r");
	if (!f)
		return -1;
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static int reloads_done;

static int reloaded(void *arg)
{
	return log_count("reloaded '") >= reloads_done;
}

static void test_unread_notify_socket_does_not_stop_the_loop(void **state)
{
	assert_int_equal(harness_init(&h, NULL), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	for (reloads_done = 1; reloads_done <= RELOADS; reloads_done++) {
		assert_int_equal(kill(h.pid, SIGHUP), 0);
		if (!harness_wait_until(reloaded, NULL, HARNESS_TIMEOUT_MS))
			fail_msg("reload %d was never carried out (%d logged)", reloads_done,
			         log_count("reloaded '"));
	}
	struct wc c;
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_ping(&c, 1), 0);
	wc_close(&c);
	/* The dropped messages were noticed, once. */
	assert_int_equal(log_count("sd_notify to $NOTIFY_SOCKET failed"), 1);
	assert_int_equal(harness_stop(&h), 0);
}

/* Kills a daemon the test left running when it failed. */
static int cleanup(void **state)
{
	harness_cleanup(&h);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_unread_notify_socket_does_not_stop_the_loop, cleanup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
