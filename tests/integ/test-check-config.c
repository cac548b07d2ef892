/*
 * arpcd --check-config -c FILE (issue 3, must-show 8): a bad key is
 * reported as "FILE:LINE: ... key" with a non-zero exit; so are a bad
 * value, a value out of range and an unknown section; a good file, and the
 * shipped conf/arpcd.conf, print "configuration OK" and exit 0.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct harness h;
static char out[8192];

static int setup(void **state)
{
	return harness_init(&h, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

/* Writes `text` as NAME, runs --check-config on it; returns the status. */
static int check(const char *name, const char *text, char *path, size_t len)
{
	assert_int_equal(harness_write_file(&h, name, text, path, len), 0);
	const char *argv[] = {"arpcd", "--check-config", "-c", path, NULL};
	int st = harness_run(argv, out, sizeof(out));
	print_message("# %s: exit %d: %s", name, st, out);
	return st;
}

/* The error names FILE:LINE and the words given. */
static void expect_error(const char *name, const char *text, int line, const char *w1,
                         const char *w2)
{
	char path[128], where[160];
	assert_int_not_equal(check(name, text, path, sizeof(path)), 0);
	snprintf(where, sizeof(where), "%s:%d: ", path, line);
	if (!strstr(out, where) || !strstr(out, w1) || (w2 && !strstr(out, w2)))
		fail_msg("expected '%s' with '%s'%s%s, got: %s", where, w1, w2 ? " and " : "",
		         w2 ? w2 : "", out);
	assert_null(strstr(out, "configuration OK"));
}

static void bad_key(void **state)
{
	expect_error("bad-key.conf", "[daemon]\nworkers = 2\n\nbogus_key = 1\n", 4, "bogus_key",
	             NULL);
	/* A [limits] key put in [daemon] is unknown there. */
	expect_error("misplaced.conf", "# comment\n[daemon]\nmax_frame = 1M\n", 3, "max_frame",
	             "[daemon]");
}

static void bad_value(void **state)
{
	expect_error("bad-value.conf", "[daemon]\nworkers = many\n", 2, "workers", "many");
	expect_error("out-of-range.conf", "[daemon]\nlog_level = info\nworkers = 0\n", 3,
	             "workers", "out of range");
	expect_error("bad-size.conf", "[limits]\nmax_frame = 12Q\n", 2, "max_frame", "12Q");
	expect_error("bad-level.conf", "[daemon]\nlog_level = loud\n", 2, "log_level", "loud");
	expect_error("bad-listen.conf", "[daemon]\nlisten = udp:1234\n", 2, "listen", "udp:1234");
}

static void unknown_section(void **state)
{
	expect_error("section.conf", "[daemon]\nworkers = 2\n[nosuch]\nkey = 1\n", 4, "nosuch",
	             NULL);
}

static void duplicate_key(void **state)
{
	expect_error("dup.conf", "[daemon]\nworkers = 2\nworkers = 3\n", 3, "workers",
	             "duplicate");
	/* listen repeats, but not with the same endpoint twice. */
	expect_error("dup-listen.conf",
	             "[daemon]\nlisten = unix:/tmp/a.sock\nlisten = tcp:7000\nlisten = unix:/tmp/a.sock\n",
	             4, "listen", "duplicate endpoint 'unix:/tmp/a.sock'");
}

static void good_file(void **state)
{
	char path[128];
	assert_int_equal(check("good.conf",
	                       "[daemon]\nlisten = unix:/tmp/x.sock\nlisten = tcp:7000\nworkers = 2\n"
	                       "log_level = debug\n[limits]\nmax_frame = 64K\nidle_timeout = 30s\n",
	                       path, sizeof(path)),
	                 0);
	assert_non_null(strstr(out, "configuration OK"));
}

static void shipped_file(void **state)
{
	char path[4096];
	const char *top = getenv("ARPC_TOP_SRCDIR");
	snprintf(path, sizeof(path), "%s/conf/arpcd.conf", top ? top : ".");
	const char *argv[] = {"arpcd", "--check-config", "-c", path, NULL};
	assert_int_equal(harness_run(argv, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "configuration OK"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_key),         cmocka_unit_test(bad_value),
		cmocka_unit_test(unknown_section), cmocka_unit_test(duplicate_key),
		cmocka_unit_test(good_file),       cmocka_unit_test(shipped_file),
	};
	return cmocka_run_group_tests_name("check-config", tests, setup, teardown);
}
