/*
 * test-cli-and-bench.c: the arpc command line against a real arpcd (every
 * command, every --notify path, JSON output, the exit status of each
 * failure class), and a short run of each arpc-bench mode, which must
 * complete and print figures.  No figure is judged here: timings belong to
 * docs/benchmarks.md.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client-harness.h"
#include "harness.h"

static char out[65536];

/* Runs a built tool with the given arguments after it; returns its status. */
static int run_tool(const char *tool, const char *const *args, const char *const *env)
{
	const char *argv[24];
	size_t n = 0;
	argv[n++] = client_built(tool);
	for (size_t i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return client_run(argv, env, out, sizeof(out), 60000);
}

#define ARPC(...) run_tool("tools/arpc", (const char *const[]){ "-e", client_endpoint(), __VA_ARGS__, NULL }, NULL)

static void expect_out(const char *needle)
{
	if (!strstr(out, needle))
		fail_msg("expected '%s' in:\n%s", needle, out);
}

static void test_ping_methods_stats(void **state)
{
	assert_int_equal(ARPC("ping"), 0);
	expect_out("pong from unix:");
	assert_int_equal(ARPC("methods"), 0);
	expect_out("demo.echo");
	expect_out("sys.ping");
	expect_out("demo.async_delay");
	assert_int_equal(ARPC("stats"), 0);
	expect_out("\"calls_total\":");
}

static void test_call_payload_forms(void **state)
{
	assert_int_equal(ARPC("call", "demo.echo", "hello"), 0);
	assert_string_equal(out, "hello\n");
	assert_int_equal(ARPC("call", "demo.echo_worker", "pooled"), 0);
	assert_string_equal(out, "pooled\n");
	assert_int_equal(ARPC("call", "demo.echo", "--hex", "00 ff:10"), 0);
	assert_string_equal(out, "00ff10\n"); /* not printable: shown as hex */
	assert_int_equal(ARPC("call", "demo.async_delay", "--u32", "10"), 0);
	assert_string_equal(out, "0a000000\n");

	char path[256];
	struct harness *h = *state;
	assert_int_equal(harness_write_file(h, "payload.txt", "from a file", path, sizeof(path)), 0);
	assert_int_equal(ARPC("call", "demo.echo", "--file", path), 0);
	assert_string_equal(out, "from a file\n");
	/* Options may also come after the command's arguments. */
	assert_int_equal(ARPC("call", "demo.echo", "late", "--json"), 0);
	expect_out("\"reply_text\":\"late\"");
}

static void test_json_output(void **state)
{
	assert_int_equal(ARPC("--json", "call", "demo.echo", "quote\"me"), 0);
	expect_out("\"status\":\"ARPC_S_OK\",\"code\":0");
	expect_out("\"reply_text\":\"quote\\\"me\"");
	expect_out("\"method\":\"demo.echo\"");
	assert_int_equal(ARPC("--json", "call", "no.such.method"), 2);
	expect_out("\"status\":\"ARPC_S_UNKNOWN_METHOD\",\"code\":11");
}

static void test_async_every_notify_path(void **state)
{
	static const struct {
		const char *kind, *says;
	} paths[] = {
		{ "none", "observed by polling" },
		{ "event", "delivered by the eventfd" },
		{ "apc", "APC on the calling thread" },
		{ "ioc", "through the completion queue" },
		{ "msg", "as message" },
		{ "callback", "callback on the library's I/O thread" },
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char opt[32];
		snprintf(opt, sizeof(opt), "--notify=%s", paths[i].kind);
		int st = ARPC("call", "demo.async_delay", "--u32", "20", "--async", opt);
		if (st != 0)
			fail_msg("--notify=%s exited %d:\n%s", paths[i].kind, st, out);
		expect_out(paths[i].says);
		expect_out("14000000"); /* the echoed delay */
	}
}

static void test_demo_narrates_the_seed(void **state)
{
	assert_int_equal(ARPC("demo", "--delay", "100"), 0);
	expect_out("2. Initialize an async handle");
	expect_out("4. While it is pending, make a synchronous demo.message call");
	expect_out("demo.async_delay is still ARPC_S_ASYNC_CALL_PENDING");
	expect_out("ARPC_S_OK: the server echoed 100 ms");
}

static void test_exit_status_per_failure_class(void **state)
{
	assert_int_equal(ARPC("call", "no.such.method"), 2);
	expect_out("no such method (ARPC_S_UNKNOWN_METHOD)");
	expect_out(client_endpoint()); /* the error names the endpoint */
	assert_int_equal(ARPC("call", "demo.async_delay", "--hex", "01"), 65);
	expect_out("ARPC_S_INVALID_ARG");
	assert_int_equal(ARPC("-t", "100", "call", "demo.async_delay", "--u32", "30000"), 75);
	expect_out("ARPC_S_TIMEOUT");
	assert_int_equal(run_tool("tools/arpc",
	                          (const char *const[]){ "-e", "unix:/nonexistent.sock", "ping", NULL },
	                          NULL),
	                 69);
	expect_out("unix:/nonexistent.sock");
	/* Usage errors. */
	assert_int_equal(run_tool("tools/arpc", (const char *const[]){ NULL }, NULL), 64);
	assert_int_equal(ARPC("call"), 64);
	assert_int_equal(ARPC("--notify=smoke", "call", "x"), 64);
	assert_int_equal(ARPC("call", "demo.echo", "a", "--hex", "00"), 64);
	assert_int_equal(ARPC("call", "demo.echo", "--hex", "0"), 64);
	assert_int_equal(ARPC("frobnicate"), 64);
	assert_int_equal(ARPC("call", "demo.echo", "--file", "/nonexistent/file"), 66);
}

static void test_endpoint_from_environment(void **state)
{
	char env[200];
	snprintf(env, sizeof(env), "ARPC_ENDPOINT=%s", client_endpoint());
	assert_int_equal(run_tool("tools/arpc", (const char *const[]){ "ping", NULL },
	                          (const char *const[]){ env, NULL }),
	                 0);
	expect_out(client_endpoint());
}

/* ---- arpc-bench: each mode completes and prints its figures ---- */

#define BENCH(...) run_tool("bench/arpc-bench", (const char *const[]){ "-e", client_endpoint(), "--warmup", "20", __VA_ARGS__, NULL }, NULL)

static void test_bench_baseline(void **state)
{
	int st = run_tool("bench/arpc-bench",
	                  (const char *const[]){ "-d", "0.3", "--warmup", "20", "baseline", NULL },
	                  NULL);
	if (st != 0)
		fail_msg("baseline exited %d:\n%s", st, out);
	expect_out("baseline raw socket, sequential");
	expect_out("latency us: p50");
	expect_out("128 in flight, batched");
	expect_out("one write per message");
	expect_out("calls/s");
}

static void test_bench_latency(void **state)
{
	assert_int_equal(BENCH("-d", "0.3", "latency"), 0);
	expect_out("latency demo.echo 64 B");
	expect_out("latency us: p50");
	expect_out("daemon CPU");
	/* The same through the worker pool. */
	assert_int_equal(BENCH("-d", "0.3", "-m", "demo.echo_worker", "latency"), 0);
	expect_out("latency demo.echo_worker 64 B");
	expect_out("latency us: p50");
}

static void test_bench_throughput_each_notify(void **state)
{
	static const char *kinds[] = { "callback", "ioc", "event", "apc", "msg", "none" };
	for (size_t i = 0; i < 6; i++) {
		char opt[32];
		snprintf(opt, sizeof(opt), "--notify=%s", kinds[i]);
		int st = BENCH("-d", "0.3", "-w", "16", opt, "throughput");
		if (st != 0)
			fail_msg("throughput %s exited %d:\n%s", kinds[i], st, out);
		expect_out("calls/s");
		expect_out(kinds[i]);
	}
	assert_int_equal(BENCH("-d", "0.3", "-c", "3", "--json", "throughput"), 0);
	expect_out("\"calls_per_s\":");
	expect_out("\"latency_us\":{\"p50\":");
}

static void test_bench_delay(void **state)
{
	int st = BENCH("--calls", "2000", "-c", "4", "--delay-ms", "200", "delay");
	if (st != 0)
		fail_msg("delay exited %d:\n%s", st, out);
	expect_out("calls 2000 in");
	expect_out("pending at once");
	expect_out("bytes per pending call");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_methods_stats),
		cmocka_unit_test(test_call_payload_forms),
		cmocka_unit_test(test_json_output),
		cmocka_unit_test(test_async_every_notify_path),
		cmocka_unit_test(test_demo_narrates_the_seed),
		cmocka_unit_test(test_exit_status_per_failure_class),
		cmocka_unit_test(test_endpoint_from_environment),
		cmocka_unit_test(test_bench_baseline),
		cmocka_unit_test(test_bench_latency),
		cmocka_unit_test(test_bench_throughput_each_notify),
		cmocka_unit_test(test_bench_delay),
	};
	return cmocka_run_group_tests_name("cli-and-bench", tests, client_setup, client_teardown);
}
