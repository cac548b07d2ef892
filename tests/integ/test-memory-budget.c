/*
 * Memory budgets (max_connection_memory, max_total_memory) and the
 * demo_methods switch, against the real arpcd:
 *
 *  - one connection that pipelines large requests to a method that holds
 *    them (demo.echo_worker behind a demo.sleep that keeps the only worker
 *    busy) is stopped at its budget: arpcd's charged bytes (sys.stats
 *    memory_charged_peak) stay within max_connection_memory and a fixed
 *    slack, its RSS does not follow what the client sends, and every call
 *    is still answered once the worker is free;
 *  - several such connections push the whole daemon at max_total_memory:
 *    the charge never passes it, and another client's calls (inline and
 *    through the workers) are still answered; once the hostile clients
 *    leave, the charge falls back to what the remaining connection holds;
 *  - demo_methods = no (the default) leaves the demo.* methods out: they
 *    are unknown, and absent from sys.methods;
 *  - --check-config refuses budgets that do not fit together, and a reload
 *    applies new budgets.
 *
 * No timing is asserted: every wait is bounded, and the hostile clients
 * stop pushing when arpcd has not taken a byte from them for a while.
 */
#include "config.h"

#include <errno.h>
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

#include <arpc/arpc.h>

#include "harness.h"

/* Request payloads just under the tests' max_frame of 64K. */
#define PAYLOAD 60000u
#define MAX_FRAME_TEST 65536u
/* How long a hostile client keeps trying once arpcd takes nothing more. */
#define STUCK_MS 1000
/* The bound on every push and drain loop. */
#define LOOP_MS 30000

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static void start(const char *extra)
{
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
}

/* A client that writes requests without waiting for replies, and reads
 * replies only when told to. */
struct pusher {
	struct wc wc;
	uint8_t *frame;     /* one request frame, sent again with a new id */
	size_t frame_len;
	size_t off;         /* bytes of the current frame already sent */
	uint32_t next_id;   /* id of the current frame */
	uint32_t last_id;   /* the last id to send */
	uint32_t replies;   /* REPLY frames read, all checked */
	uint32_t bad;       /* replies with a status other than 0 or a wrong size */
};

static void pusher_open(struct pusher *p, const char *method, uint32_t first_id,
                        uint32_t count)
{
	uint8_t prefix[WIRE_REQUEST_PREFIX_MAX];
	memset(p, 0, sizeof(*p));
	assert_int_equal(wc_connect(&p->wc, h.endpoint), 0);
	size_t plen = wire_pack_request_prefix(prefix, 1, 0, 0, method, strlen(method), PAYLOAD);
	assert_true(plen > 0);
	p->frame_len = plen + PAYLOAD;
	p->frame = malloc(p->frame_len);
	assert_non_null(p->frame);
	memcpy(p->frame, prefix, plen);
	memset(p->frame + plen, 'x', PAYLOAD);
	p->next_id = first_id;
	p->last_id = first_id + count - 1;
}

static void pusher_close(struct pusher *p)
{
	wc_close(&p->wc);
	free(p->frame);
	p->frame = NULL;
}

static int pusher_done_sending(const struct pusher *p)
{
	return p->next_id > p->last_id;
}

/* Writes what the socket takes now, without blocking; returns the bytes
 * written, or -1 on an error other than a full socket. */
static long pusher_send(struct pusher *p)
{
	long total = 0;
	while (!pusher_done_sending(p)) {
		if (p->off == 0) {
			/* call_id is at offset 8 of the header */
			wire_put32(p->frame + 8, p->next_id);
		}
		ssize_t w = send(p->wc.fd, p->frame + p->off, p->frame_len - p->off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? total : -1;
		total += w;
		p->off += (size_t)w;
		if (p->off == p->frame_len) {
			p->off = 0;
			p->next_id++;
		}
	}
	return total;
}

/* Reads every reply that has arrived, waiting up to ms for the first. */
static void pusher_read(struct pusher *p, int ms)
{
	struct wc_frame f;
	while (wc_read(&p->wc, &f, ms) == 1) {
		if (f.type == WIRE_REPLY) {
			p->replies++;
			if (f.word != 0 || (f.len != PAYLOAD && f.len != 4))
				p->bad++;
		}
		wc_frame_free(&f);
		ms = 0;
	}
}

/*
 * Pushes from every pusher until none has had a byte taken for STUCK_MS
 * and arpcd says that `paused` connections wait for the budget (on a slow
 * machine arpcd may just not have read yet), or all is sent, or LOOP_MS
 * passed.  Returns the bytes sent.
 */
static long push_until_stuck(struct pusher *ps, size_t n, long long paused)
{
	long sent = 0;
	int64_t end = harness_now_ms() + LOOP_MS, last_progress = harness_now_ms();
	while (harness_now_ms() < end) {
		if (harness_now_ms() - last_progress >= STUCK_MS) {
			if (harness_stat(&h, "connections_budget_paused") >= paused)
				break;
			last_progress = harness_now_ms();
		}
		int all_sent = 1;
		for (size_t i = 0; i < n; i++) {
			long w = pusher_send(&ps[i]);
			assert_true(w >= 0);
			if (w > 0) {
				sent += w;
				last_progress = harness_now_ms();
			}
			all_sent &= pusher_done_sending(&ps[i]);
		}
		if (all_sent)
			break;
		usleep(10000);
	}
	return sent;
}

/* Sends the rest and reads every reply, within LOOP_MS. */
static void pusher_finish(struct pusher *p, uint32_t expect_replies)
{
	int64_t end = harness_now_ms() + LOOP_MS;
	while (p->replies < expect_replies && harness_now_ms() < end) {
		assert_true(pusher_send(p) >= 0);
		pusher_read(p, 20);
	}
	assert_int_equal(p->replies, expect_replies);
	assert_int_equal(p->bad, 0);
}

static void connection_budget_stops_a_pipelining_client(void **state)
{
	struct pusher p;
	const uint32_t count = 400; /* 400 x 60000 bytes: 24 MB sent */
	const long long budget = 256 * 1024;

	start("workers = 1\n[limits]\nmax_frame = 64K\nmax_connection_memory = 256K\n"
	      "max_total_memory = 8M\n");
	long rss_before = harness_proc_status_kb(h.pid, "VmRSS");
	assert_true(rss_before > 0);

	pusher_open(&p, "demo.echo_worker", 2, count);
	/* The only worker sleeps: every echo_worker call waits in the queue. */
	assert_int_equal(wc_send_u32(&p.wc, 1, "demo.sleep", 1500), 0);
	assert_true(harness_wait_stat(&h, "workers_busy", 1, HARNESS_TIMEOUT_MS));

	long sent = push_until_stuck(&p, 1, 1);
	long hwm = harness_proc_status_kb(h.pid, "VmHWM");
	long long peak = harness_stat(&h, "memory_charged_peak");
	long long paused = harness_stat(&h, "connections_budget_paused");
	print_message("# sent %ld bytes before arpcd stopped reading; arpcd VmRSS %ld KiB -> "
	              "VmHWM %ld KiB; memory_charged_peak %lld; connections_budget_paused %lld\n",
	              sent, rss_before, hwm, peak, paused);
	/* Without the budget arpcd reads all 24 MB into queued calls. */
	assert_true(hwm - rss_before < 8 * 1024);
	assert_true(peak > 0);
	/* The connection's charge stays within its budget, plus the frame it
	 * may still read while holding nothing and the connection sys.stats
	 * came in on. */
	assert_true(peak <= budget + 2 * (MAX_FRAME_TEST + 16 * 1024));
	assert_int_equal(paused, 1);
	assert_true(pusher_done_sending(&p) == 0);

	/* Backpressure, not refusal: once the worker is free every call is
	 * answered, the sleep's included. */
	pusher_finish(&p, count + 1);
	peak = harness_stat(&h, "memory_charged_peak");
	assert_true(peak > 0 && peak <= budget + 2 * (MAX_FRAME_TEST + 16 * 1024));
	assert_true(harness_stat(&h, "budget_pauses") >= 1);
	pusher_close(&p);
	assert_true(harness_wait_stat(&h, "calls_inflight", 0, HARNESS_TIMEOUT_MS));
	assert_int_equal(harness_stop(&h), 0);
}

#define HOSTILE 6

static void hostile_connections_leave_room_for_another_client(void **state)
{
	struct pusher ps[HOSTILE];
	struct wc sleeper, victim;
	struct wc_frame f;
	const long long total = 2 * 1024 * 1024;
	char small[1000];

	start("workers = 2\n[limits]\nmax_frame = 64K\nmax_connection_memory = 1M\n"
	      "max_total_memory = 2M\n");
	assert_int_equal(wc_connect(&sleeper, h.endpoint), 0);
	assert_int_equal(wc_send_u32(&sleeper, 1, "demo.sleep", 2000), 0);
	assert_int_equal(wc_send_u32(&sleeper, 2, "demo.sleep", 2000), 0);
	assert_true(harness_wait_stat(&h, "workers_busy", 2, HARNESS_TIMEOUT_MS));

	for (int i = 0; i < HOSTILE; i++)
		pusher_open(&ps[i], "demo.echo_worker", 1, 200);
	long sent = push_until_stuck(ps, HOSTILE, HOSTILE);
	long long charged = harness_stat(&h, "memory_charged");
	long long paused = harness_stat(&h, "connections_budget_paused");
	print_message("# %d hostile connections sent %ld bytes; memory_charged %lld of %lld; "
	              "connections_budget_paused %lld\n",
	              HOSTILE, sent, charged, total, paused);
	assert_true(charged > 0 && charged <= total);
	assert_true(paused >= 1);

	/* Another client: an inline call and a worker call, both answered
	 * while the hostile clients still push at the budget. */
	assert_int_equal(wc_connect(&victim, h.endpoint), 0);
	assert_int_equal(wc_call(&victim, 1, "sys.ping", NULL, 0, &f), 0);
	wc_frame_free(&f);
	memset(small, 'v', sizeof(small));
	assert_int_equal(wc_call(&victim, 2, "demo.echo", small, sizeof(small), &f), 0);
	assert_int_equal(f.len, sizeof(small));
	wc_frame_free(&f);
	assert_int_equal(wc_send_request(&victim, 3, "demo.echo_worker", small, sizeof(small), 0, 0),
	                 0);
	/* Behind the sleeps and the hostile jobs already queued, all bounded. */
	assert_int_equal(wc_read(&victim, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_REPLY);
	assert_int_equal(f.call_id, 3);
	assert_int_equal(f.word, 0);
	wc_frame_free(&f);

	long long peak = harness_stat(&h, "memory_charged_peak");
	print_message("# memory_charged_peak %lld of %lld\n", peak, total);
	assert_true(peak > 0 && peak <= total);

	/* The hostile clients leave: the charge falls back to what is left
	 * open (the victim, the sleeper and the sys.stats connection). */
	for (int i = 0; i < HOSTILE; i++)
		pusher_close(&ps[i]);
	assert_true(harness_wait_stat(&h, "connections", 3, HARNESS_TIMEOUT_MS));
	assert_true(harness_wait_stat(&h, "calls_inflight", 0, LOOP_MS));
	charged = harness_stat(&h, "memory_charged");
	print_message("# after the hostile clients left: memory_charged %lld\n", charged);
	assert_true(charged > 0 && charged < 3 * (MAX_FRAME_TEST + 16 * 1024));
	wc_close(&victim);
	wc_close(&sleeper);
	assert_int_equal(harness_stop(&h), 0);
}

static void demo_methods_off_by_default(void **state)
{
	struct wc c;
	struct wc_frame f;

	start("demo_methods = no\n");
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_call(&c, 1, "demo.echo", "x", 1, &f), ARPC_S_UNKNOWN_METHOD);
	wc_frame_free(&f);
	uint8_t ms[4];
	wire_put32(ms, 1);
	assert_int_equal(wc_call(&c, 2, "demo.async_delay", ms, 4, &f), ARPC_S_UNKNOWN_METHOD);
	wc_frame_free(&f);
	assert_int_equal(wc_call(&c, 3, "sys.methods", NULL, 0, &f), 0);
	assert_null(strstr((const char *)f.data, "demo."));
	assert_non_null(strstr((const char *)f.data, "sys.ping"));
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);

	/* The built-in default is the same as the shipped file's. */
	harness_cleanup(&h);
	assert_int_equal(harness_init(&h, "# demo_methods left to its default\n"), 0);
	char path[128];
	char text[256];
	snprintf(text, sizeof(text), "[daemon]\nlisten = %s\n", h.endpoint);
	assert_int_equal(harness_write_file(&h, "arpcd.conf", text, path, sizeof(path)), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_call(&c, 1, "demo.echo", "x", 1, &f), ARPC_S_UNKNOWN_METHOD);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/* --check-config on a file with `text`; the output goes to out. */
static int check_config(const char *text, char *out, size_t len)
{
	char path[128];
	assert_int_equal(harness_write_file(&h, "check.conf", text, path, sizeof(path)), 0);
	const char *argv[] = {"arpcd", "--check-config", "-c", path, NULL};
	return harness_run(argv, out, len);
}

static void budgets_checked_and_reloaded(void **state)
{
	char out[2048];

	assert_int_equal(harness_init(&h, "[limits]\nmax_connection_memory = 1M\n"), 0);
	assert_int_equal(check_config("[limits]\nmax_frame = 1M\nmax_total_memory = 4M\n", out,
	                              sizeof(out)),
	                 1);
	assert_non_null(strstr(out, "max_total_memory (4194304) must be at least 8 x max_frame"));
	assert_int_equal(check_config("[limits]\nmax_connection_memory = 64M\n"
	                              "max_total_memory = 32M\n",
	                              out, sizeof(out)),
	                 1);
	assert_non_null(strstr(out, "must be at least max_connection_memory"));
	assert_int_equal(check_config("[limits]\nmax_connection_memory = 1K\n", out, sizeof(out)),
	                 1);
	assert_non_null(strstr(out, "'max_connection_memory' in [limits] is out of range"));
	assert_int_equal(check_config("[daemon]\ndemo_methods = maybe\n", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "expected yes or no"));
	assert_int_equal(check_config("[daemon]\ndemo_methods = yes\n[limits]\n"
	                              "max_connection_memory = 8M\nmax_total_memory = 1G\n",
	                              out, sizeof(out)),
	                 0);

	/* A reload applies new budgets, and keeps demo_methods until a restart. */
	assert_int_equal(harness_start(&h, NULL), 0);
	char path[128], text[512];
	snprintf(text, sizeof(text),
	         "[daemon]\nlisten = %s\ndemo_methods = no\n[limits]\nmax_connection_memory = 2M\n"
	         "max_total_memory = 64M\n",
	         h.endpoint);
	assert_int_equal(harness_write_file(&h, "arpcd.conf", text, path, sizeof(path)), 0);
	assert_int_equal(kill(h.pid, SIGHUP), 0);
	assert_true(harness_wait_log(&h, "reloaded '", HARNESS_TIMEOUT_MS));
	assert_true(harness_log_contains(&h, "reload: max_connection_memory: 1048576 -> 2097152"));
	assert_true(harness_log_contains(&h, "reload: max_total_memory: 268435456 -> 67108864"));
	assert_true(harness_log_contains(&h, "reload: demo_methods changed (yes -> no): needs a "
	                                     "restart"));
	assert_int_equal(harness_stat(&h, "memory_budget"), 64 * 1024 * 1024);
	struct wc c;
	struct wc_frame f;
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_call(&c, 1, "demo.echo", "x", 1, &f), 0);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(connection_budget_stops_a_pipelining_client, teardown),
		cmocka_unit_test_teardown(hostile_connections_leave_room_for_another_client, teardown),
		cmocka_unit_test_teardown(demo_methods_off_by_default, teardown),
		cmocka_unit_test_teardown(budgets_checked_and_reloaded, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
