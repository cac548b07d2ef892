/*
 * test-fault-fd-exhaustion.c: arpcd runs out of file descriptors.  Its
 * RLIMIT_NOFILE is lowered (prlimit(2) on the running daemon) to leave it a
 * few descriptors, clients connect until it holds all it may, and more
 * connect behind them.  Those are not left in the listen backlog: each is
 * accepted through the daemon's reserve of descriptors, told GOAWAY
 * ARPC_S_SERVER_TOO_BUSY and closed.  The daemon does not spin on a
 * listener that stays readable: over a bounded interval its CPU time
 * (/proc/PID/stat) grows by less than half the wall time, which a busy
 * loop cannot do.  Meanwhile the accepted connections are served; once
 * some close, new ones are accepted and answered.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "fault-harness.h"

enum {
	SPARE = 8,       /* descriptors the daemon may open past what it holds */
	WAITING = 4,     /* connections refused, and later served */
	MAX_CONNS = 64,  /* bound on the connections the test opens */
	IDLE_MS = 1000,  /* the interval the CPU time is measured over */
};

static const char config[] = "workers = 1\n"
                             "[limits]\n"
                             "shutdown_timeout = 2s\n";

static int setup(void **state)
{
	return fault_setup(state, config);
}

/* How many descriptor numbers below `limit` process pid leaves free, or
 * -1.  RLIMIT_NOFILE bounds the numbers, not the count, and a daemon may
 * have inherited descriptors anywhere. */
static int free_below(pid_t pid, int limit)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int used = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		used += e->d_name[0] != '.' && atoi(e->d_name) < limit;
	closedir(d);
	return limit - used;
}

/* User plus system CPU time of process pid in milliseconds, or -1. */
static long long cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the ")" that ends the command name. */
	char *p = strrchr(buf, ')');
	unsigned long long utime, stime;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	                 &utime, &stime) != 2)
		return -1;
	return (long long)((utime + stime) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* The daemon's descriptor limit in the test. */
static int limit;

static int fds_back(void *arg)
{
	struct harness *h = arg;
	return free_below(h->pid, limit) >= SPARE;
}

static int fds_free(void *arg)
{
	struct harness *h = arg;
	return free_below(h->pid, limit) > 0;
}

static void ping(struct wc *c, uint32_t id)
{
	struct wc_frame f;
	assert_int_equal(wc_call(c, id, "sys.ping", NULL, 0, &f), 0);
	wc_frame_free(&f);
}

static void test_refuses_past_the_limit_and_resumes(void **state)
{
	struct harness *h = *state;
	static struct wc conns[MAX_CONNS], waiting[WAITING];

	/* The lowest limit that leaves SPARE descriptors to open. */
	for (limit = 1; limit < 4096 && free_below(h->pid, limit) < SPARE; limit++)
		;
	assert_int_equal(free_below(h->pid, limit), SPARE);
	const struct rlimit lim = { (rlim_t)limit, (rlim_t)limit };
	if (prlimit(h->pid, RLIMIT_NOFILE, &lim, NULL) < 0)
		fail_msg("prlimit(%d, RLIMIT_NOFILE, %d): %s", (int)h->pid, limit, strerror(errno));

	/* Connect and be served until the daemon holds all it may. */
	int n = 0;
	while (free_below(h->pid, limit) > 0) {
		if (n == MAX_CONNS)
			fail_msg("%d connections and the daemon still has %d descriptors free", n,
			         free_below(h->pid, limit));
		assert_int_equal(wc_connect(&conns[n], h->endpoint), 0);
		ping(&conns[n], 1);
		n++;
	}
	assert_true(n >= WAITING + 1);

	/* These are refused: GOAWAY SERVER_TOO_BUSY, then closed. */
	for (int i = 0; i < WAITING; i++) {
		struct wc_frame f;
		assert_int_equal(wc_connect(&waiting[i], h->endpoint), 0);
		assert_int_equal(wc_read(&waiting[i], &f, HARNESS_TIMEOUT_MS), 1);
		assert_int_equal(f.type, WIRE_GOAWAY);
		assert_int_equal(f.word, ARPC_S_SERVER_TOO_BUSY);
		wc_frame_free(&f);
		assert_int_equal(wc_read(&waiting[i], &f, HARNESS_TIMEOUT_MS), 0);
		wc_close(&waiting[i]);
	}
	if (!harness_wait_log(h, "out of file descriptors", HARNESS_TIMEOUT_MS))
		fail_msg("arpcd never logged that it is out of file descriptors");

	/* No busy loop: far less CPU than wall time while at the limit, with
	 * a client knocking all along. */
	long long cpu0 = cpu_ms(h->pid);
	int64_t t0 = harness_now_ms();
	for (int k = 0; harness_now_ms() - t0 < IDLE_MS && k < 1000; k++) {
		struct wc late;
		struct wc_frame f;
		assert_int_equal(wc_connect(&late, h->endpoint), 0);
		assert_int_equal(wc_read(&late, &f, HARNESS_TIMEOUT_MS), 1);
		assert_int_equal(f.word, ARPC_S_SERVER_TOO_BUSY);
		wc_frame_free(&f);
		wc_close(&late);
		usleep(50 * 1000);
	}
	long long cpu1 = cpu_ms(h->pid);
	int64_t wall = harness_now_ms() - t0;
	assert_true(cpu0 >= 0 && cpu1 >= 0);
	printf("# out of descriptors: %lld ms of CPU in %lld ms\n", cpu1 - cpu0, (long long)wall);
	if ((cpu1 - cpu0) * 2 >= wall)
		fail_msg("arpcd used %lld ms of CPU in %lld ms while out of descriptors",
		         cpu1 - cpu0, (long long)wall);

	/* The accepted connections are served all along. */
	for (int i = 0; i < n; i++)
		ping(&conns[i], 2);

	/* Descriptors free up: new connections are accepted and answered,
	 * and the rest go on being served. */
	for (int i = 0; i < WAITING; i++)
		wc_close(&conns[i]);
	for (int i = 0; i < WAITING; i++) {
		if (!harness_wait_until(fds_free, h, HARNESS_TIMEOUT_MS))
			fail_msg("arpcd has no descriptor free after connections closed");
		assert_int_equal(wc_connect(&waiting[i], h->endpoint), 0);
		ping(&waiting[i], 2);
	}
	for (int i = WAITING; i < n; i++)
		ping(&conns[i], 3);

	for (int i = 0; i < WAITING; i++)
		wc_close(&waiting[i]);
	for (int i = WAITING; i < n; i++)
		wc_close(&conns[i]);
	/* All closed: the daemon is back to what it held, and takes new ones. */
	if (!harness_wait_until(fds_back, h, HARNESS_TIMEOUT_MS))
		fail_msg("arpcd has %d descriptors free, not %d again", free_below(h->pid, limit),
		         SPARE);
	struct wc c;
	assert_int_equal(wc_connect(&c, h->endpoint), 0);
	ping(&c, 1);
	wc_close(&c);
	assert_int_equal(harness_stop(h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_past_the_limit_and_resumes),
	};
	return cmocka_run_group_tests_name("fault-fd-exhaustion", tests, setup,
	                                   fault_teardown);
}
