/*
 * libarpc against a server that breaks the rules, and against arpcd when
 * it refuses a client.  The broken server is a fake one the test runs on a
 * unix socket in the harness's temporary directory, speaking frames built
 * with lib/wire.h; the refusals come from a real arpcd.
 *
 *  - A REPLY or GOAWAY carrying a status only a client may produce (1,
 *    ARPC_S_ASYNC_CALL_PENDING, and the others docs/protocol.md marks
 *    client-side) fails the connection: every call on it completes once,
 *    with ARPC_S_PROTOCOL_ERROR, and none reads as pending.
 *  - A server that floods PINGs and never reads meets backpressure: the
 *    client stops reading once its PONGs wait unwritten, its output queue
 *    and memory stay bounded, and it reads again once the server does.
 *  - GOAWAY's status reaches the calls the server never saw: the fake
 *    server's ACCESS_DENIED, arpcd's allow_users (ARPC_S_ACCESS_DENIED,
 *    `arpc ping` exits 77) and max_connections (ARPC_S_SERVER_TOO_BUSY,
 *    `arpc ping` exits 75).  With status 0 they get ARPC_S_CALL_FAILED_DNE.
 *    A socket whose permissions refuse the caller is ARPC_S_ACCESS_DENIED
 *    too (exit 77), not a server that is not there.
 *  - Call ids wrap after 2^32: 0 and ids still outstanding are skipped,
 *    GOAWAY's last id is read in sending order across the wrap, and arpcd
 *    names the last call it accepted, not the largest id.
 *
 * Linked with the static lib/libarpcclient.la for its test hooks
 * (conn_test_set_next_id, conn_test_outq_len).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"
#include "internal.h"

/* The uid a root test run connects as when it must not be let in. */
#define UNPRIVILEGED_UID 65534
/* Bytes of PINGs the flood sends at most. */
#define FLOOD_MAX_BYTES (128u << 20)
/* The flood is over once the client has not read for this long. */
#define FLOOD_STALL_MS 2000
/* What the client's output queue may hold after the flood: 1024 PONGs
 * (the pause threshold) and one read's worth more, with room to spare. */
#define FLOOD_OUTQ_MAX (1u << 20)
#define FLOOD_RSS_GROWTH_MAX_KB (48 * 1024)

static struct harness h;
static int lfd = -1;
static char fake_endpoint[128];

/* ---- the fake server -------------------------------------------------- */

static int fake_setup(void **state)
{
	(void)state;
	if (harness_init(&h, NULL) < 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/fake.sock", h.dir);
	snprintf(fake_endpoint, sizeof(fake_endpoint), "unix:%s", sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0) {
		fprintf(stderr, "fake server on %s: %s\n", sa.sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
	harness_cleanup(&h);
	return 0;
}

/* The next connection to the fake server, as a wc to read and write. */
static int fake_accept(struct wc *s)
{
	memset(s, 0, sizeof(*s));
	wire_decoder_init(&s->dec, WIRE_MAX_BODY_LIMIT);
	struct pollfd pfd = {.fd = lfd, .events = POLLIN};
	if (poll(&pfd, 1, HARNESS_TIMEOUT_MS) != 1)
		return -1;
	s->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return s->fd < 0 ? -1 : 0;
}

/* Reads the next frame, which must be a REQUEST; returns its id, or 0. */
static uint32_t fake_request(struct wc *s)
{
	struct wc_frame f;
	if (wc_read(s, &f, HARNESS_TIMEOUT_MS) != 1)
		return 0;
	uint32_t id = f.type == WIRE_REQUEST ? f.call_id : 0;
	wc_frame_free(&f);
	return id;
}

static int fake_reply(struct wc *s, uint32_t id, uint32_t status, const char *data)
{
	uint8_t p[WIRE_REPLY_PREFIX_MAX];
	size_t len = data ? strlen(data) : 0;
	size_t plen = wire_pack_reply_prefix(p, id, status, 0, len);
	if (plen == 0 || wc_send_raw(s, p, plen) < 0)
		return -1;
	return len ? wc_send_raw(s, data, len) : 0;
}

static int fake_goaway(struct wc *s, uint32_t last_id, uint32_t status)
{
	uint8_t p[WIRE_HEADER_SIZE];
	wire_pack_control(p, WIRE_GOAWAY, last_id, status);
	return wc_send_raw(s, p, sizeof(p));
}

/* ---- asynchronous calls, notified by eventfd --------------------------- */

struct acall {
	arpc_async a;
	int efd;
	char out[64];
};

static void acall_start(struct acall *c, arpc_binding *b, const char *method)
{
	memset(c, 0, sizeof(*c));
	c->efd = eventfd(0, EFD_CLOEXEC);
	assert_true(c->efd >= 0);
	assert_int_equal(arpc_async_init(&c->a, sizeof(c->a)), ARPC_S_OK);
	c->a.notify = ARPC_NOTIFY_EVENT;
	c->a.u.event_fd = c->efd;
	assert_int_equal(arpc_call_async(b, &c->a, method, "q", 1, c->out, sizeof(c->out) - 1),
	                 ARPC_S_OK);
}

/* The number of notifications within ms (read, so reset). */
static uint64_t acall_notified(struct acall *c, int ms)
{
	struct pollfd pfd = {.fd = c->efd, .events = POLLIN};
	uint64_t n = 0;
	if (poll(&pfd, 1, ms) == 1 && read(c->efd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	return n;
}

/* Waits for the one notification, checks it was one and that no second
 * follows, then consumes the handle; returns the final status. */
static arpc_status acall_finish(struct acall *c, arpc_reply *reply)
{
	assert_int_equal(acall_notified(c, HARNESS_TIMEOUT_MS), 1);
	arpc_status st = arpc_async_get_status(&c->a);
	assert_int_not_equal(st, ARPC_S_ASYNC_CALL_PENDING);
	arpc_reply r;
	assert_int_equal(arpc_async_complete(&c->a, reply ? reply : &r), st);
	if (!reply)
		arpc_reply_free(&r);
	assert_int_equal(arpc_async_complete(&c->a, NULL), ARPC_S_INVALID_ASYNC_HANDLE);
	assert_int_equal(acall_notified(c, 0), 0);
	close(c->efd);
	return st;
}

static arpc_binding *open_fake(struct wc *s)
{
	arpc_binding *b = NULL;
	assert_int_equal(arpc_binding_open(fake_endpoint, &b), ARPC_S_OK);
	assert_int_equal(fake_accept(s), 0);
	return b;
}

/* A binding to the fake server with calls x and y outstanding, their
 * requests read; returns x's id. */
static uint32_t open_with_two_calls(struct wc *s, arpc_binding **b, struct acall *x,
                                    struct acall *y)
{
	*b = open_fake(s);
	acall_start(x, *b, "t.x");
	acall_start(y, *b, "t.y");
	uint32_t xid = fake_request(s);
	assert_int_not_equal(xid, 0);
	assert_int_not_equal(fake_request(s), 0);
	return xid;
}

/* ---- statuses only a client may produce -------------------------------- */

static const uint32_t client_only[] = {
	ARPC_S_ASYNC_CALL_PENDING, ARPC_S_CALL_FAILED,          ARPC_S_SERVER_UNAVAILABLE,
	ARPC_S_INVALID_ASYNC_HANDLE, ARPC_S_INVALID_ASYNC_CALL, ARPC_S_ASYNC_HANDLE_BUSY,
	ARPC_S_BUFFER_TOO_SMALL,   ARPC_S_APC_RAN,              ARPC_S_WRONG_THREAD,
	ARPC_S_WRONG_PROCESS,      ARPC_S_STATUS_MAX_,          0xffffffffu,
};

static void reply_with_client_only_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(client_only) / sizeof(client_only[0]); i++) {
		struct wc s;
		struct acall x, y;
		arpc_binding *b;
		uint32_t xid = open_with_two_calls(&s, &b, &x, &y);
		assert_int_equal(fake_reply(&s, xid, client_only[i], NULL), 0);
		/* Both calls, answered or not, complete once, with the error. */
		print_message("# REPLY status %u\n", client_only[i]);
		assert_int_equal(acall_finish(&x, NULL), ARPC_S_PROTOCOL_ERROR);
		assert_int_equal(acall_finish(&y, NULL), ARPC_S_PROTOCOL_ERROR);
		arpc_binding_close(b);
		wc_close(&s);
	}
}

static void goaway_with_client_only_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(client_only) / sizeof(client_only[0]); i++) {
		struct wc s;
		struct acall x;
		arpc_binding *b = open_fake(&s);
		acall_start(&x, b, "t.x");
		assert_int_not_equal(fake_request(&s), 0);
		assert_int_equal(fake_goaway(&s, 0, client_only[i]), 0);
		print_message("# GOAWAY status %u\n", client_only[i]);
		assert_int_equal(acall_finish(&x, NULL), ARPC_S_PROTOCOL_ERROR);
		arpc_binding_close(b);
		wc_close(&s);
	}
}

/* The synchronous caller reads its own reply (internal.h, "Who reads a
 * conn"): the fake server answers from a thread of its own. */
struct sync_server {
	struct wc s;
	uint32_t status;
	const char *failed; /* what went wrong, reported by the main thread */
};

static void *sync_server_run(void *arg)
{
	struct sync_server *ss = arg;
	uint32_t id = fake_request(&ss->s);
	if (id == 0)
		ss->failed = "no REQUEST from the synchronous call";
	else if (fake_reply(&ss->s, id, ss->status, NULL) < 0)
		ss->failed = "cannot send the REPLY";
	return NULL;
}

static void sync_call_with_client_only_status(void **state)
{
	(void)state;
	struct sync_server ss = {.status = ARPC_S_ASYNC_CALL_PENDING};
	arpc_binding *b = open_fake(&ss.s);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, sync_server_run, &ss), 0);
	arpc_reply r;
	arpc_status st = arpc_call(b, "t.sync", NULL, 0, &r);
	assert_int_equal(pthread_join(t, NULL), 0);
	if (ss.failed)
		fail_msg("fake server: %s", ss.failed);
	assert_int_equal(st, ARPC_S_PROTOCOL_ERROR);
	arpc_reply_free(&r);
	arpc_binding_close(b);
	wc_close(&ss.s);
}

/* ---- a PING flood from a server that never reads ------------------------ */

static long self_rss_kb(void)
{
	return harness_proc_status_kb(getpid(), "VmRSS");
}

/* Sends PINGs without reading until the client stops reading them (the
 * socket stays full for FLOOD_STALL_MS) or FLOOD_MAX_BYTES went out; then
 * checks the client's output queue and memory.  Returns 0 if all is well,
 * else -1 (said why).  Asserts nothing: a synchronous caller may be waiting
 * on another thread. */
static int flood(struct wc *s, arpc_binding *b)
{
	long rss0 = self_rss_kb();
	static uint8_t pings[64 * 1024];
	for (size_t off = 0; off < sizeof(pings); off += WIRE_HEADER_SIZE)
		wire_pack_control(pings + off, WIRE_PING, (uint32_t)(off / WIRE_HEADER_SIZE), 0);
	size_t sent = 0, pos = 0;
	int stalled = 0;
	while (sent < FLOOD_MAX_BYTES) {
		ssize_t w = send(s->fd, pings + pos, sizeof(pings) - pos, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			sent += (size_t)w;
			pos = (pos + (size_t)w) % sizeof(pings);
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			print_message("# flood: send: %s\n", strerror(errno));
			return -1;
		}
		struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
		if (poll(&pfd, 1, FLOOD_STALL_MS) == 0) {
			stalled = 1;
			break;
		}
	}
	size_t outq = conn_test_outq_len(b);
	long rss1 = self_rss_kb();
	print_message("# %zu bytes of PINGs sent, %s; client output queue %zu bytes, "
	              "VmRSS %ld -> %ld KiB\n",
	              sent, stalled ? "then the client stopped reading" : "the client kept reading",
	              outq, rss0, rss1);
	if (rss0 <= 0 || rss1 <= 0 || outq > FLOOD_OUTQ_MAX ||
	    rss1 - rss0 > FLOOD_RSS_GROWTH_MAX_KB || !stalled) {
		print_message("# flood: want an output queue <= %u bytes, VmRSS growth <= %d KiB "
		              "and the client to stop reading\n",
		              FLOOD_OUTQ_MAX, FLOOD_RSS_GROWTH_MAX_KB);
		return -1;
	}
	return 0;
}

/* The server reads again (discarding the PONGs) and answers call `id`;
 * returns 0 once done(arg) holds, or -1 after HARNESS_TIMEOUT_MS. */
static int read_and_answer(struct wc *s, uint32_t id, int (*done)(void *), void *arg)
{
	uint8_t reply[WIRE_REPLY_PREFIX_MAX + 2];
	size_t rlen = wire_pack_reply_prefix(reply, id, ARPC_S_OK, 0, 2);
	memcpy(reply + rlen, "ok", 2);
	rlen += 2;
	size_t rsent = 0;
	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	static uint8_t sink[64 * 1024];
	for (int i = 0; i < 1000000 && harness_now_ms() < end; i++) {
		while (recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		if (rsent < rlen) {
			ssize_t w = send(s->fd, reply + rsent, rlen - rsent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				rsent += (size_t)w;
		}
		if (done(arg))
			return 0;
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		(void)poll(&pfd, 1, 1);
	}
	print_message("# the call did not complete once the server read again\n");
	return -1;
}

static int acall_done(void *arg)
{
	const struct acall *c = arg;
	return arpc_async_get_status(&c->a) != ARPC_S_ASYNC_CALL_PENDING;
}

static void ping_flood_meets_backpressure(void **state)
{
	(void)state;
	struct wc s;
	struct acall x;
	arpc_binding *b = open_fake(&s);
	/* An outstanding call, so that the I/O thread reads the socket. */
	acall_start(&x, b, "t.x");
	uint32_t xid = fake_request(&s);
	assert_int_not_equal(xid, 0);
	assert_int_equal(flood(&s, b), 0);
	/* The call is still pending; once the server reads, so does the
	 * client, and the reply gets through. */
	assert_int_equal(arpc_async_get_status(&x.a), ARPC_S_ASYNC_CALL_PENDING);
	assert_int_equal(read_and_answer(&s, xid, acall_done, &x), 0);
	arpc_reply r;
	assert_int_equal(acall_finish(&x, &r), ARPC_S_OK);
	assert_int_equal(r.len, 2);
	assert_memory_equal(r.data, "ok", 2);
	arpc_reply_free(&r);
	arpc_binding_close(b);
	wc_close(&s);
}

/* The same with a synchronous caller reading the socket itself. */
struct sync_caller {
	arpc_binding *b;
	arpc_status st;
	size_t len;
	atomic_int done;
};

static void *sync_caller_run(void *arg)
{
	struct sync_caller *sc = arg;
	arpc_reply r;
	sc->st = arpc_call(sc->b, "t.sync", NULL, 0, &r);
	sc->len = r.len;
	arpc_reply_free(&r);
	atomic_store(&sc->done, 1);
	return NULL;
}

static int sync_done(void *arg)
{
	struct sync_caller *sc = arg;
	return atomic_load(&sc->done);
}

static void ping_flood_meets_backpressure_sync(void **state)
{
	(void)state;
	struct wc s;
	struct sync_caller sc = {.st = ARPC_S_ASYNC_CALL_PENDING};
	sc.b = open_fake(&s);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, sync_caller_run, &sc), 0);
	uint32_t id = fake_request(&s);
	int flooded = id != 0 ? flood(&s, sc.b) : -1;
	int answered = flooded == 0 ? read_and_answer(&s, id, sync_done, &sc) : -1;
	/* On any failure above, closing the server ends the call. */
	wc_close(&s);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_not_equal(id, 0);
	assert_int_equal(flooded, 0);
	assert_int_equal(answered, 0);
	assert_int_equal(sc.st, ARPC_S_OK);
	assert_int_equal(sc.len, 2);
	arpc_binding_close(sc.b);
}

/* ---- GOAWAY's status ----------------------------------------------------- */

static void goaway_status_reaches_unseen_calls(void **state)
{
	(void)state;
	static const struct {
		uint32_t status;
		arpc_status unseen;
	} cases[] = {
		{ARPC_S_ACCESS_DENIED, ARPC_S_ACCESS_DENIED},
		{ARPC_S_SERVER_TOO_BUSY, ARPC_S_SERVER_TOO_BUSY},
		{ARPC_S_NO_MEMORY, ARPC_S_NO_MEMORY},
		{ARPC_S_OK, ARPC_S_CALL_FAILED_DNE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wc s;
		struct acall seen, unseen;
		arpc_binding *b;
		uint32_t seen_id = open_with_two_calls(&s, &b, &seen, &unseen);
		assert_int_equal(fake_goaway(&s, seen_id, cases[i].status), 0);
		print_message("# GOAWAY status %u\n", cases[i].status);
		assert_int_equal(acall_finish(&unseen, NULL), cases[i].unseen);
		/* The call it accepted is still answered. */
		assert_int_equal(arpc_async_get_status(&seen.a), ARPC_S_ASYNC_CALL_PENDING);
		assert_int_equal(fake_reply(&s, seen_id, ARPC_S_OK, "done"), 0);
		arpc_reply r;
		assert_int_equal(acall_finish(&seen, &r), ARPC_S_OK);
		assert_int_equal(r.len, 4);
		arpc_reply_free(&r);
		arpc_binding_close(b);
		wc_close(&s);
	}
}

/* ---- call ids across 2^32 ------------------------------------------------ */

static void ids_wrap_around(void **state)
{
	(void)state;
	struct wc s;
	struct acall a, w[4];
	arpc_binding *b = open_fake(&s);

	acall_start(&a, b, "t.a"); /* id 1, outstanding across the wrap */
	assert_int_equal(fake_request(&s), 1);
	assert_int_equal(conn_test_set_next_id(b, 0xfffffffeu), 0);
	static const uint32_t want[4] = {0xfffffffeu, 0xffffffffu, 2, 3}; /* not 0, not 1 */
	for (int i = 0; i < 4; i++) {
		acall_start(&w[i], b, "t.w");
		assert_int_equal(fake_request(&s), want[i]);
	}
	/* The third, id 2, is answered; then the server goes away having
	 * accepted everything up to it, in sending order: 1, 0xfffffffe and
	 * 0xffffffff were before it, 3 after. */
	assert_int_equal(fake_reply(&s, 2, ARPC_S_OK, "w2"), 0);
	arpc_reply r;
	assert_int_equal(acall_finish(&w[2], &r), ARPC_S_OK);
	assert_memory_equal(r.data, "w2", 2);
	arpc_reply_free(&r);
	assert_int_equal(fake_goaway(&s, 2, ARPC_S_OK), 0);
	assert_int_equal(acall_finish(&w[3], NULL), ARPC_S_CALL_FAILED_DNE);
	assert_int_equal(arpc_async_get_status(&a.a), ARPC_S_ASYNC_CALL_PENDING);
	assert_int_equal(arpc_async_get_status(&w[0].a), ARPC_S_ASYNC_CALL_PENDING);
	assert_int_equal(arpc_async_get_status(&w[1].a), ARPC_S_ASYNC_CALL_PENDING);

	/* Each accepted call gets its own reply. */
	assert_int_equal(fake_reply(&s, 0xffffffffu, ARPC_S_OK, "w1"), 0);
	assert_int_equal(fake_reply(&s, 1, ARPC_S_OK, "a"), 0);
	assert_int_equal(fake_reply(&s, 0xfffffffeu, ARPC_S_OK, "w0"), 0);
	assert_int_equal(acall_finish(&w[1], &r), ARPC_S_OK);
	assert_memory_equal(r.data, "w1", 2);
	arpc_reply_free(&r);
	assert_int_equal(acall_finish(&a, &r), ARPC_S_OK);
	assert_memory_equal(r.data, "a", 1);
	arpc_reply_free(&r);
	assert_int_equal(acall_finish(&w[0], &r), ARPC_S_OK);
	assert_memory_equal(r.data, "w0", 2);
	arpc_reply_free(&r);
	arpc_binding_close(b);
	wc_close(&s);
}

/* GOAWAY naming a call still outstanding, on the far side of the wrap. */
static void goaway_names_outstanding_call_across_wrap(void **state)
{
	(void)state;
	struct wc s;
	struct acall w[3];
	arpc_binding *b = open_fake(&s);
	assert_int_equal(conn_test_set_next_id(b, 0xffffffffu), 0);
	static const uint32_t want[3] = {0xffffffffu, 1, 2};
	for (int i = 0; i < 3; i++) {
		acall_start(&w[i], b, "t.w");
		assert_int_equal(fake_request(&s), want[i]);
	}
	assert_int_equal(fake_goaway(&s, 1, ARPC_S_OK), 0);
	assert_int_equal(acall_finish(&w[2], NULL), ARPC_S_CALL_FAILED_DNE);
	assert_int_equal(arpc_async_get_status(&w[0].a), ARPC_S_ASYNC_CALL_PENDING);
	assert_int_equal(arpc_async_get_status(&w[1].a), ARPC_S_ASYNC_CALL_PENDING);
	/* The server closes without answering: they may have run. */
	wc_close(&s);
	assert_int_equal(acall_finish(&w[0], NULL), ARPC_S_CALL_FAILED);
	assert_int_equal(acall_finish(&w[1], NULL), ARPC_S_CALL_FAILED);
	arpc_binding_close(b);
}

/* ---- refusals by a real arpcd -------------------------------------------- */

/* Runs argv (argv[0] a path) as `uid` when that is not ours, with stdout
 * and stderr to /dev/null and, if lib_dir is not NULL, shared libraries
 * looked up there first; returns its exit status, or -1. */
static int run_as(uid_t uid, const char *const *argv, const char *lib_dir)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(120);
		if (lib_dir && setenv("LD_LIBRARY_PATH", lib_dir, 1) < 0)
			_exit(123);
		if (uid != getuid() &&
		    (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
			_exit(121);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(122);
	}
	int64_t end = harness_now_ms() + HARNESS_TIMEOUT_MS;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 || harness_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		usleep(1000);
	}
}

static const char *built(const char *rel, char *buf, size_t len)
{
	const char *top = getenv("ARPC_TOP_BUILDDIR");
	snprintf(buf, len, "%s/%s", top ? top : ".", rel);
	return buf;
}

/*
 * `test-hostile-server --client ENDPOINT`: what a refused client sees,
 * from a process of its own (it may run under another uid).  Exits with
 * the status of arpc_binding_open if it fails, else that of a synchronous
 * sys.ping, or 100 + the status of an asynchronous one when the two
 * differ.
 */
static int client_main(const char *endpoint)
{
	arpc_binding *b;
	arpc_status st = arpc_binding_open(endpoint, &b);
	if (st != ARPC_S_OK)
		return (int)st;
	arpc_status sync_st = arpc_call(b, "sys.ping", NULL, 0, NULL);
	arpc_async a;
	if (arpc_async_init(&a, sizeof(a)) != ARPC_S_OK)
		return 111;
	arpc_status async_st = arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0);
	if (async_st == ARPC_S_OK) {
		/* Polling, bounded. */
		for (int i = 0; i < HARNESS_TIMEOUT_MS &&
		                (async_st = arpc_async_get_status(&a)) == ARPC_S_ASYNC_CALL_PENDING;
		     i++)
			usleep(1000);
		if (async_st == ARPC_S_ASYNC_CALL_PENDING)
			return 112;
		if (arpc_async_complete(&a, NULL) != async_st)
			return 113;
	}
	arpc_binding_close(b);
	return sync_st == async_st ? (int)sync_st : 100 + (int)async_st;
}

/* Copies the file at src to h.dir/name, executable by anyone: another uid
 * may be unable to reach the build tree (a clone in a private directory),
 * while the test directory is open to it.  Fails the test if it cannot. */
static void copy_to_test_dir(const char *src, const char *name, char *dst, size_t len)
{
	snprintf(dst, len, "%s/%s", h.dir, name);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	char buf[65536];
	ssize_t n = 0;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	int ok = in >= 0 && out >= 0 && n == 0;
	int err = errno;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0)
		ok = 0;
	if (!ok)
		fail_msg("cannot copy %s to %s: %s", src, dst, strerror(err));
}

/* This program (linked with the library statically) as a refused client. */
static int client_as(uid_t uid, const char *endpoint)
{
	char self[4096];
	copy_to_test_dir("/proc/self/exe", "client", self, sizeof(self));
	const char *argv[] = {self, "--client", endpoint, NULL};
	return run_as(uid, argv, NULL);
}

/* `arpc -e ENDPOINT ping` as `uid`: the real program and library of the
 * build tree, copied where that uid can run them. */
static int ping_as(uid_t uid, const char *endpoint)
{
	char src[4096], arpc[4096], lib[4096];
	copy_to_test_dir(built("tools/.libs/arpc", src, sizeof(src)), "arpc", arpc, sizeof(arpc));
	copy_to_test_dir(built("lib/.libs/libarpc.so.0", src, sizeof(src)), "libarpc.so.0", lib,
	                 sizeof(lib));
	const char *argv[] = {arpc, "-e", endpoint, "ping", NULL};
	return run_as(uid, argv, h.dir);
}

static void allow_users_denies_with_its_reason(void **state)
{
	(void)state;
	char extra[256];
	uid_t peer = getuid() == 0 ? UNPRIVILEGED_UID : getuid();
	/* The socket world-reachable, so that allow_users alone decides. */
	snprintf(extra, sizeof(extra), "socket_mode = 0666\nallow_users = %u\n",
	         (unsigned)peer + 1);
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(chmod(h.dir, 0755), 0);
	assert_int_equal(harness_start(&h, NULL), 0);

	assert_int_equal(client_as(peer, h.endpoint), ARPC_S_ACCESS_DENIED);
	assert_int_equal(ping_as(peer, h.endpoint), 77); /* arpc(1): access denied */
	assert_int_equal(harness_stop(&h), 0);
}

/* The socket file's permissions refusing the caller is access denied too,
 * not a server that is not there. */
static void socket_permissions_deny_access(void **state)
{
	(void)state;
	if (getuid() != 0) {
		skip(); /* needs a second uid */
		return;
	}
	assert_int_equal(harness_init(&h, "socket_mode = 0600\n"), 0);
	assert_int_equal(chmod(h.dir, 0755), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(client_as(UNPRIVILEGED_UID, h.endpoint), ARPC_S_ACCESS_DENIED);
	assert_int_equal(ping_as(UNPRIVILEGED_UID, h.endpoint), 77);
	assert_int_equal(harness_stop(&h), 0);
}

static void max_connections_says_too_busy(void **state)
{
	(void)state;
	char arpc[4096];
	assert_int_equal(harness_init(&h, "[limits]\nmax_connections = 1\n"), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	/* The one connection, known to the daemon once its call is answered. */
	struct wc first;
	struct wc_frame f;
	assert_int_equal(wc_connect(&first, h.endpoint), 0);
	assert_int_equal(wc_call(&first, 1, "sys.ping", NULL, 0, &f), 0);
	wc_frame_free(&f);

	assert_int_equal(client_as(getuid(), h.endpoint), ARPC_S_SERVER_TOO_BUSY);
	const char *ping[] = {built("tools/arpc", arpc, sizeof(arpc)), "-e", h.endpoint, "ping",
	                      NULL};
	assert_int_equal(run_as(getuid(), ping, NULL), 75); /* arpc(1): try again later */
	wc_close(&first);
	assert_int_equal(harness_stop(&h), 0);
}

/* arpcd's GOAWAY names the call it accepted last, in arrival order. */
static void daemon_goaway_names_last_accepted_across_wrap(void **state)
{
	(void)state;
	assert_int_equal(harness_init(&h, NULL), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	struct wc c;
	struct wc_frame f;
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	static const uint32_t ids[] = {0xfffffffeu, 0xffffffffu, 1};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(wc_call(&c, ids[i], "sys.ping", NULL, 0, &f), 0);
		assert_int_equal(f.call_id, ids[i]);
		wc_frame_free(&f);
	}
	assert_int_equal(kill(h.pid, SIGTERM), 0);
	assert_int_equal(wc_read(&c, &f, HARNESS_TIMEOUT_MS), 1);
	assert_int_equal(f.type, WIRE_GOAWAY);
	assert_int_equal(f.word, ARPC_S_OK);
	assert_int_equal(f.call_id, 1);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_wait_exit(&h, HARNESS_TIMEOUT_MS), 0);
}

/* Against arpcd, calls across the wrap with one outstanding throughout
 * each get their own reply. */
static void daemon_calls_across_wrap(void **state)
{
	(void)state;
	assert_int_equal(harness_init(&h, NULL), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	arpc_binding *b;
	assert_int_equal(arpc_binding_open(h.endpoint, &b), ARPC_S_OK);
	struct acall slow;
	memset(&slow, 0, sizeof(slow));
	slow.efd = eventfd(0, EFD_CLOEXEC);
	assert_true(slow.efd >= 0);
	assert_int_equal(arpc_async_init(&slow.a, sizeof(slow.a)), ARPC_S_OK);
	slow.a.notify = ARPC_NOTIFY_EVENT;
	slow.a.u.event_fd = slow.efd;
	uint8_t ms[4] = {0xf4, 0x01, 0, 0}; /* 500 ms: outstanding across the wrap */
	assert_int_equal(arpc_call_async(b, &slow.a, "demo.async_delay", ms, 4, NULL, 0),
	                 ARPC_S_OK);
	assert_int_equal(conn_test_set_next_id(b, 0xfffffffdu), 0);
	for (int i = 0; i < 6; i++) {
		char msg[16];
		arpc_reply r;
		snprintf(msg, sizeof(msg), "call %d", i);
		assert_int_equal(arpc_call(b, "demo.echo", msg, strlen(msg), &r), ARPC_S_OK);
		assert_int_equal(r.len, strlen(msg));
		assert_memory_equal(r.data, msg, r.len);
		arpc_reply_free(&r);
	}
	assert_int_equal(acall_finish(&slow, NULL), ARPC_S_OK);
	arpc_binding_close(b);
	assert_int_equal(harness_stop(&h), 0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--client") == 0)
		return client_main(argv[2]);
	/* Refused clients run as processes of their own (client_as), since
	 * they may need another uid and a library not yet started. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(allow_users_denies_with_its_reason, teardown),
		cmocka_unit_test_teardown(socket_permissions_deny_access, teardown),
		cmocka_unit_test_teardown(max_connections_says_too_busy, teardown),
		cmocka_unit_test_teardown(daemon_goaway_names_last_accepted_across_wrap, teardown),
		cmocka_unit_test_teardown(daemon_calls_across_wrap, teardown),
		cmocka_unit_test_setup_teardown(reply_with_client_only_status, fake_setup, teardown),
		cmocka_unit_test_setup_teardown(goaway_with_client_only_status, fake_setup, teardown),
		cmocka_unit_test_setup_teardown(sync_call_with_client_only_status, fake_setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(goaway_status_reaches_unseen_calls, fake_setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(ids_wrap_around, fake_setup, teardown),
		cmocka_unit_test_setup_teardown(goaway_names_outstanding_call_across_wrap, fake_setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(ping_flood_meets_backpressure, fake_setup, teardown),
		cmocka_unit_test_setup_teardown(ping_flood_meets_backpressure_sync, fake_setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
