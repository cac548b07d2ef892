/*
 * arpcd takes SIGTERM, SIGINT and SIGHUP through a signalfd, not through
 * an asynchronous handler: every one of its threads (the loop, the
 * workers) has the three blocked, and no handler is installed for them
 * (/proc/PID/task/TID/status, SigBlk and SigCgt).  A handler would run on
 * whichever thread the kernel picks, and under ThreadSanitizer only when
 * its runtime delivers it; then a SIGHUP could be caught and never acted
 * on.  And the signals still work: SIGHUP reloads, SIGTERM stops, also a
 * SIGHUP sent the moment READY=1 arrives, before the loop first waits
 * (where, with a handler under ThreadSanitizer, a few runs in a hundred
 * never reloaded).
 */
#include "config.h"

#include <dirent.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

enum { WORKERS = 4, MAX_THREADS = 64, STARTS = 20 };

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

/* Field `name` ("SigBlk:") of a /proc status file, as a mask; 0 if the
 * file or field is missing (fails the caller's checks). */
static unsigned long long status_mask(const char *path, const char *name)
{
	char line[256];
	unsigned long long mask = 0;
	FILE *fp = fopen(path, "re");
	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, name, strlen(name)) == 0)
			mask = strtoull(line + strlen(name), NULL, 16);
	fclose(fp);
	return mask;
}

static unsigned long long bit(int sig)
{
	return 1ULL << (sig - 1);
}

static void signals_blocked_in_every_thread_without_handler(void **state)
{
	char dirpath[64], path[384], conf[256];
	const unsigned long long sigs = bit(SIGTERM) | bit(SIGINT) | bit(SIGHUP);

	snprintf(conf, sizeof(conf), "workers = %d\n", WORKERS);
	assert_int_equal(harness_init(&h, conf), 0);
	assert_int_equal(harness_start(&h, NULL), 0);

	snprintf(dirpath, sizeof(dirpath), "/proc/%d/task", (int)h.pid);
	DIR *d = opendir(dirpath);
	assert_non_null(d);
	struct dirent *e;
	int threads = 0, unblocked = 0;
	while ((e = readdir(d)) && threads < MAX_THREADS) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", dirpath, e->d_name);
		unsigned long long blk = status_mask(path, "SigBlk:");
		threads++;
		if ((blk & sigs) != sigs) {
			printf("# thread %s: SigBlk %016llx lacks some of SIGTERM, SIGINT, SIGHUP\n",
			       e->d_name, blk);
			unblocked++;
		}
	}
	closedir(d);
	printf("# %d threads, %d of them with a signal unblocked\n", threads, unblocked);
	assert_true(threads >= 1 + WORKERS);
	assert_int_equal(unblocked, 0);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)h.pid);
	unsigned long long cgt = status_mask(path, "SigCgt:");
	printf("# SigCgt %016llx\n", cgt);
	if (cgt & sigs)
		fail_msg("arpcd has a handler for SIGTERM, SIGINT or SIGHUP (SigCgt %016llx)", cgt);

	/* They still work: through the signalfd. */
	assert_int_equal(kill(h.pid, SIGHUP), 0);
	assert_true(harness_wait_log(&h, "reloaded '", HARNESS_TIMEOUT_MS));
	assert_int_equal(harness_stop(&h), 0);
}

/* Whether a READY=1 comes on the harness's notify socket within ms, in
 * all: STATUS= messages may come meanwhile. */
static int ready_within(int ms)
{
	char buf[512];
	int64_t end = harness_now_ms() + ms;
	int left;
	while ((left = harness_ms_left(end)) > 0) {
		struct pollfd pfd = {.fd = h.notify_fd, .events = POLLIN};
		if (poll(&pfd, 1, left) <= 0)
			return 0;
		ssize_t n = recv(h.notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, "READY=1"))
			return 1;
	}
	return 0;
}

static void sighup_right_after_ready_reloads(void **state)
{
	assert_int_equal(harness_init(&h, NULL), 0);
	for (int i = 0; i < STARTS; i++) {
		assert_int_equal(harness_start(&h, NULL), 0);
		assert_int_equal(kill(h.pid, SIGHUP), 0);
		if (!ready_within(HARNESS_TIMEOUT_MS))
			fail_msg("start %d: no READY=1 within %d ms of a SIGHUP sent at READY=1", i,
			         HARNESS_TIMEOUT_MS);
		assert_int_equal(harness_stop(&h), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(signals_blocked_in_every_thread_without_handler,
		                          teardown),
		cmocka_unit_test_teardown(sighup_right_after_ready_reloads, teardown),
	};
	return cmocka_run_group_tests_name("signals", tests, NULL, NULL);
}
