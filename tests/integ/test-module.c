/*
 * test-module.c: [module NAME] sections (issue 3, must-show 7).  The
 * example module examples/hello_module.so loads from the config and
 * answers its method; a module that cannot be loaded stops arpcd with an
 * error naming the file and saying why (dlerror's text); --check-config
 * finds a missing file without loading anything; a reload never changes a
 * loaded module.  Through the module's other methods, the handler API seen
 * from a module: arpc_call_complete_after() from a worker frees the worker
 * at once, and arpc_call_deadline() is the client's deadline.
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
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static const char *module_path(void)
{
	static char path[4096];
	const char *top = getenv("ARPC_TOP_BUILDDIR");
	snprintf(path, sizeof(path), "%s/examples/.libs/hello_module.so", top ? top : ".");
	return path;
}

/* A [module hello] section loading `path`, then `more` verbatim. */
static void init_with_module(const char *path, const char *more)
{
	char extra[8192];
	snprintf(extra, sizeof(extra), "[module hello]\npath = %s\n%s", path, more);
	assert_int_equal(harness_init(&h, extra), 0);
}

/* hello.greet with `name` on c answers `want`. */
static void expect_greeting(struct wc *c, uint32_t id, const char *name, const char *want)
{
	struct wc_frame f;
	assert_int_equal(wc_call(c, id, "hello.greet", name, strlen(name), &f), 0);
	assert_int_equal(f.len, strlen(want));
	assert_memory_equal(f.data, want, f.len);
	wc_frame_free(&f);
}

static void module_answers_its_method(void **state)
{
	struct wc c;
	struct wc_frame f;

	init_with_module(module_path(), "greeting = Bonjour\n");
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);

	expect_greeting(&c, 1, "arpc", "Bonjour, arpc");

	/* Listed beside the built-ins. */
	assert_int_equal(wc_call(&c, 2, "sys.methods", NULL, 0, &f), 0);
	assert_non_null(strstr((char *)f.data, "hello.greet"));
	wc_frame_free(&f);

	wc_close(&c);
	assert_true(harness_log_contains(&h, "module 'hello' loaded"));
	assert_int_equal(harness_stop(&h), 0);
	/* arpc_module_fini ran at shutdown. */
	assert_true(harness_log_contains(&h, "module hello: unloading after 1 greetings"));
}

/*
 * With one worker: hello.later 600 runs on it and hands its answer to a
 * loop timer, so a demo.sleep sent after it gets the worker and is answered
 * first (an ordering, not a timing).
 */
static void complete_after_from_a_worker_frees_it(void **state)
{
	struct wc c;
	struct wc_frame f;

	char extra[8192];
	snprintf(extra, sizeof(extra), "workers = 1\n[module hello]\npath = %s\ngreeting = Later\n",
	         module_path());
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	/* The one worker's queue is FIFO: it takes hello.later first.  Had
	 * complete_after held it for the 600 ms, demo.sleep would wait behind. */
	assert_int_equal(wc_send_u32(&c, 1, "hello.later", 600), 0);
	assert_int_equal(wc_send_u32(&c, 2, "demo.sleep", 10), 0);

	assert_int_equal(wc_expect_reply(&c, 2, ARPC_S_OK, NULL), 0);
	assert_int_equal(wc_expect_reply(&c, 1, ARPC_S_OK, "Later"), 0);

	/* A malformed request is refused by the module itself. */
	assert_int_equal(wc_call(&c, 3, "hello.later", "x", 1, &f), ARPC_S_INVALID_ARG);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/* hello.deadline answers the milliseconds its handler saw left. */
static uint32_t deadline_seen(struct wc *c, uint32_t id, uint32_t deadline_ms)
{
	struct wc_frame f;
	assert_int_equal(wc_send_request(c, id, "hello.deadline", NULL, 0, deadline_ms, 0), 0);
	assert_int_equal(wc_read(c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_REPLY);
	assert_int_equal(f.call_id, id);
	assert_int_equal(f.word, 0);
	assert_int_equal(f.len, 4);
	uint32_t left = wire_get32(f.data);
	wc_frame_free(&f);
	return left;
}

static void handler_sees_the_deadline(void **state)
{
	struct wc c;

	init_with_module(module_path(), "");
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(deadline_seen(&c, 1, 0), UINT32_MAX); /* none set */
	uint32_t left = deadline_seen(&c, 2, 60000);
	assert_true(left > 0 && left <= 60000);
	left = deadline_seen(&c, 3, 5000);
	assert_true(left <= 5000);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/* A reload leaves modules alone: a changed section needs a restart. */
static void reload_keeps_module_config(void **state)
{
	struct wc c;
	char text[8192], path[128];

	init_with_module(module_path(), "greeting = Bonjour\n");
	assert_int_equal(harness_start(&h, NULL), 0);
	snprintf(text, sizeof(text), "[daemon]\nlisten = %s\ndemo_methods = yes\n[module hello]\npath = %s\n"
	         "greeting = Hola\n", h.endpoint, module_path());
	assert_int_equal(harness_write_file(&h, "arpcd.conf", text, path, sizeof(path)), 0);
	assert_int_equal(kill(h.pid, SIGHUP), 0);
	assert_true(harness_wait_log(&h, "reloaded '", HARNESS_TIMEOUT_MS));
	assert_true(harness_log_contains(&h, "[module] sections changed: needs a restart"));

	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	expect_greeting(&c, 1, "arpc", "Bonjour, arpc");
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/* Without a greeting key, the module's default. */
static void module_default_greeting(void **state)
{
	struct wc c;

	init_with_module(module_path(), "");
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	expect_greeting(&c, 1, "you", "Hello, you");
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

static void missing_module_file(void **state)
{
	const char *missing = "/nonexistent/arpc-test/no-such-module.so";
	char out[4096];

	init_with_module(missing, "");

	/* --check-config: the file, and why it cannot be read. */
	const char *argv[] = {"arpcd", "--check-config", "-c", h.conf, NULL};
	assert_int_not_equal(harness_run(argv, out, sizeof(out)), 0);
	if (!strstr(out, missing) || !strstr(out, "No such file or directory"))
		fail_msg("--check-config said: %s", out);

	/* A real start: arpcd exits before READY=1, its log has dlerror()'s
	 * text, which names the file too. */
	assert_int_equal(harness_start(&h, NULL), -1);
	assert_true(harness_log_contains(&h, missing));
	assert_true(harness_log_contains(&h, "cannot open shared object file"));
}

/* A directory is readable, but no module: --check-config says so. */
static void module_path_is_a_directory(void **state)
{
	char out[4096];
	init_with_module("/tmp", "");
	const char *argv[] = {"arpcd", "--check-config", "-c", h.conf, NULL};
	assert_int_not_equal(harness_run(argv, out, sizeof(out)), 0);
	if (!strstr(out, "'/tmp' is not a regular file"))
		fail_msg("--check-config said: %s", out);
}

/* A file that is there but is no shared object: only dlopen can tell. */
static void module_file_not_a_shared_object(void **state)
{
	char bogus[128];

	assert_int_equal(harness_init(&h, NULL), 0);
	assert_int_equal(harness_write_file(&h, "bogus.so", "not an ELF file\n", bogus,
	                                    sizeof(bogus)), 0);
	char extra[256];
	snprintf(extra, sizeof(extra), "[module bogus]\npath = %s\n", bogus);
	FILE *fp = fopen(h.conf, "a");
	assert_non_null(fp);
	assert_true(fputs(extra, fp) >= 0);
	assert_int_equal(fclose(fp), 0);

	assert_int_equal(harness_start(&h, NULL), -1);
	assert_true(harness_log_contains(&h, "cannot load"));
	assert_true(harness_log_contains(&h, bogus));
	/* dlerror() on a text file: "invalid ELF header" or "file too short". */
	assert_true(harness_log_contains(&h, "ELF") || harness_log_contains(&h, "too short"));
}

/* The module refuses a key it does not know: arpcd does not start. */
static void module_refuses_unknown_key(void **state)
{
	init_with_module(module_path(), "colour = red\n");
	assert_int_equal(harness_start(&h, NULL), -1);
	assert_true(harness_log_contains(&h, "unknown key 'colour'"));
	assert_true(harness_log_contains(&h, "arpc_module_init"));
	assert_true(harness_log_contains(&h, "Invalid argument"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(module_answers_its_method, teardown),
		cmocka_unit_test_teardown(module_default_greeting, teardown),
		cmocka_unit_test_teardown(complete_after_from_a_worker_frees_it, teardown),
		cmocka_unit_test_teardown(handler_sees_the_deadline, teardown),
		cmocka_unit_test_teardown(reload_keeps_module_config, teardown),
		cmocka_unit_test_teardown(missing_module_file, teardown),
		cmocka_unit_test_teardown(module_file_not_a_shared_object, teardown),
		cmocka_unit_test_teardown(module_path_is_a_directory, teardown),
		cmocka_unit_test_teardown(module_refuses_unknown_key, teardown),
	};
	return cmocka_run_group_tests_name("module", tests, NULL, NULL);
}
