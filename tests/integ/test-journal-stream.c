/*
 * Log format: when $JOURNAL_STREAM names the device and inode of arpcd's
 * stderr (journald reading it), every line starts with a <N> syslog
 * priority and nothing else; otherwise (unset, or naming another file:
 * stderr was redirected since) lines read "arpcd: LEVEL: ...".
 */
#include "config.h"

#include <ctype.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "deploy-harness.h"

/* "JOURNAL_STREAM=DEV:INO" of the file at path (created if need be). */
static void journal_stream_of(const char *path, char *out, size_t len)
{
	struct stat st;
	FILE *fp = fopen(path, "a");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(stat(path, &st), 0);
	snprintf(out, len, "JOURNAL_STREAM=%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
}

/* Runs arpcd with `journal` ("JOURNAL_STREAM=..." or "JOURNAL_STREAM" to
 * unset it): start, a refused reload (an error line), stop. */
static void run_daemon(struct harness *h, const char *journal)
{
	char notify[128], path[96], buf[512];
	const char *argv[] = {harness_arpcd(), "-c", h->conf, NULL};
	const char *env[] = {notify, journal, NULL};
	int fd = notify_open(h, "journal-notify.sock", path, sizeof(path));
	assert_true(fd >= 0);
	snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", path);
	struct spawn s = {.argv = argv, .env = env};
	assert_int_equal(deploy_spawn(h, &s), 0);
	/* STATUS= messages come every few seconds: the bound is on the whole
	 * wait, or they would stretch it for ever. */
	if (!notify_wait_for(fd, "READY=1", buf, sizeof(buf), HARNESS_TIMEOUT_MS))
		fail_msg("no READY=1 from arpcd within %d ms of its start", HARNESS_TIMEOUT_MS);
	char conf[96];
	assert_int_equal(harness_write_file(h, "arpcd.conf", "[limits]\nmax_frame = tiny\n", conf,
	                                    sizeof(conf)), 0);
	assert_int_equal(kill(h->pid, SIGHUP), 0);
	if (!notify_wait_for(fd, "READY=1", buf, sizeof(buf), HARNESS_TIMEOUT_MS))
		fail_msg("no READY=1 from arpcd within %d ms of SIGHUP", HARNESS_TIMEOUT_MS);
	close(fd);
	assert_int_equal(harness_stop(h), 0);
}

/* Every line of the log, checked by `line_ok`; returns the line count. */
static int check_lines(const struct harness *h, int (*line_ok)(const char *))
{
	char line[4096];
	int n = 0;
	FILE *fp = fopen(h->log, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		if (!line_ok(line))
			fail_msg("log line without the expected start: %s", line);
		n++;
	}
	fclose(fp);
	return n;
}

static int has_priority(const char *l)
{
	return l[0] == '<' && l[1] >= '0' && l[1] <= '7' && l[2] == '>' && strncmp(l + 3, "arpcd: ", 7);
}

static int plain(const char *l)
{
	return strncmp(l, "arpcd: ", 7) == 0;
}

static void test_priority_prefix_under_journald(void **state)
{
	struct harness *h = *state;
	char js[96];
	journal_stream_of(h->log, js, sizeof(js));
	run_daemon(h, js);
	int n = check_lines(h, has_priority);
	printf("# %d log lines, each with a <N> prefix\n", n);
	assert_true(n >= 4);
	assert_true(harness_log_contains(h, "<5>arpcd " PACKAGE_VERSION " ready"));
	assert_true(harness_log_contains(h, "<3>reload failed"));
	assert_true(harness_log_contains(h, "<5>stopped"));
}

static void test_plain_without_journal_stream(void **state)
{
	struct harness *h = *state;
	run_daemon(h, "JOURNAL_STREAM");
	assert_true(check_lines(h, plain) >= 4);
	assert_true(harness_log_contains(h, "arpcd: error: reload failed"));
}

/* $JOURNAL_STREAM names another file: stderr is not journald's any more. */
static void test_plain_when_stderr_is_elsewhere(void **state)
{
	struct harness *h = *state;
	char js[96], other[96];
	snprintf(other, sizeof(other), "%s/other.log", h->dir);
	journal_stream_of(other, js, sizeof(js));
	run_daemon(h, js);
	assert_true(check_lines(h, plain) >= 4);
}

/* A config error at start goes through the log as well. */
static void test_config_error_has_priority(void **state)
{
	struct harness *h = *state;
	char js[96], path[96];
	const char *argv[] = {harness_arpcd(), "-c", h->conf, NULL};
	journal_stream_of(h->log, js, sizeof(js));
	const char *env[] = {js, NULL};
	assert_int_equal(harness_write_file(h, "arpcd.conf", "[daemon]\nworkers = 0\n", path,
	                                    sizeof(path)), 0);
	struct spawn s = {.argv = argv, .env = env};
	assert_int_equal(deploy_spawn(h, &s), 0);
	assert_int_equal(harness_wait_exit(h, HARNESS_TIMEOUT_MS), 1);
	assert_true(check_lines(h, has_priority) >= 1);
	assert_true(harness_log_contains(h, "<3>"));
	assert_true(harness_log_contains(h, "'workers' in [daemon] is out of range"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		DEPLOY_TEST(test_priority_prefix_under_journald),
		DEPLOY_TEST(test_plain_without_journal_stream),
		DEPLOY_TEST(test_plain_when_stderr_is_elsewhere),
		DEPLOY_TEST(test_config_error_has_priority),
	};
	return cmocka_run_group_tests_name("journal-stream", tests, NULL, NULL);
}
