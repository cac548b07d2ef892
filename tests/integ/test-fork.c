/*
 * test-fork.c: libarpc in a child of fork(), against a real arpcd.
 *
 * The parent has the library running (its I/O thread, a binding, a call
 * pending across the fork).  The child, which has only the forking thread,
 * opens a binding of its own and makes asynchronous calls notified by an
 * eventfd, by a CALLBACK on a new I/O thread and by an APC to itself, and a
 * synchronous call; the parent's binding gives it ARPC_S_WRONG_PROCESS at
 * once, never a hang.  The parent's own binding and call are unaffected.
 *
 * The child cannot use cmocka: it reports each failed check on stderr and
 * exits with their count; the parent waits for it within a bound.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer kills a child of a threaded parent that starts threads,
 * which is exactly what this test checks the library does. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "die_after_fork=0";
}
#endif

#define CHILD_LIMIT_MS 20000

static int child_failures;

#define CHILD_CHECK(cond, ...)                                                   \
	do {                                                                     \
		if (!(cond)) {                                                   \
			child_failures++;                                        \
			fprintf(stderr, "child: line %d: ", __LINE__);          \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
		}                                                                \
	} while (0)

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r == 1;
}

static atomic_int child_callback_ran;
static int child_callback_efd = -1;

static void child_callback(arpc_async *a, arpc_event ev)
{
	atomic_store(&child_callback_ran, 1);
	uint64_t one = 1;
	if (write(child_callback_efd, &one, sizeof(one)) != sizeof(one))
		atomic_store(&child_callback_ran, -1);
}

static atomic_int child_apc_ran;

static void child_apc(arpc_async *a, arpc_event ev)
{
	atomic_store(&child_apc_ran, 1);
}

static void child_async_event(arpc_binding *b)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	CHILD_CHECK(efd >= 0, "eventfd: %s", strerror(errno));
	arpc_async a;
	CHILD_CHECK(arpc_async_init(&a, sizeof(a)) == ARPC_S_OK, "init");
	a.notify = ARPC_NOTIFY_EVENT;
	a.u.event_fd = efd;
	a.timeout_ms = 2000;
	arpc_status st = arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0);
	CHILD_CHECK(st == ARPC_S_OK, "async call: %s", arpc_status_name(st));
	CHILD_CHECK(wait_readable(efd, 10000), "no eventfd notification");
	st = arpc_async_complete(&a, NULL);
	CHILD_CHECK(st == ARPC_S_OK, "async call completed with %s", arpc_status_name(st));
	close(efd);
}

static void child_async_callback(arpc_binding *b)
{
	child_callback_efd = eventfd(0, EFD_CLOEXEC);
	CHILD_CHECK(child_callback_efd >= 0, "eventfd: %s", strerror(errno));
	arpc_async a;
	CHILD_CHECK(arpc_async_init(&a, sizeof(a)) == ARPC_S_OK, "init");
	a.notify = ARPC_NOTIFY_CALLBACK;
	a.u.callback.fn = child_callback;
	a.timeout_ms = 2000;
	arpc_status st = arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0);
	CHILD_CHECK(st == ARPC_S_OK, "callback call: %s", arpc_status_name(st));
	CHILD_CHECK(wait_readable(child_callback_efd, 10000), "the CALLBACK never ran");
	CHILD_CHECK(atomic_load(&child_callback_ran) == 1, "the CALLBACK failed");
	st = arpc_async_complete(&a, NULL);
	CHILD_CHECK(st == ARPC_S_OK, "callback call completed with %s", arpc_status_name(st));
	close(child_callback_efd);
}

static void child_async_apc(arpc_binding *b)
{
	arpc_async a;
	CHILD_CHECK(arpc_async_init(&a, sizeof(a)) == ARPC_S_OK, "init");
	a.notify = ARPC_NOTIFY_APC;
	a.u.apc.fn = child_apc;
	a.u.apc.to_thread = 0;
	a.timeout_ms = 2000;
	arpc_status st = arpc_call_async(b, &a, "sys.ping", NULL, 0, NULL, 0);
	CHILD_CHECK(st == ARPC_S_OK, "APC call: %s", arpc_status_name(st));
	for (int i = 0; i < 100 && !atomic_load(&child_apc_ran); i++)
		(void)arpc_sleep_alertable(100);
	CHILD_CHECK(atomic_load(&child_apc_ran), "the APC never ran");
	st = arpc_async_complete(&a, NULL);
	CHILD_CHECK(st == ARPC_S_OK, "APC call completed with %s", arpc_status_name(st));
}

/* Everything the parent's binding offers is refused at once. */
static void child_inherited(arpc_binding *parents, arpc_async *parents_pending)
{
	arpc_reply r;
	arpc_status st = arpc_call(parents, "sys.ping", NULL, 0, &r);
	CHILD_CHECK(st == ARPC_S_WRONG_PROCESS, "sync call on the parent's binding: %s",
	            arpc_status_name(st));
	arpc_async a;
	CHILD_CHECK(arpc_async_init(&a, sizeof(a)) == ARPC_S_OK, "init");
	st = arpc_call_async(parents, &a, "sys.ping", NULL, 0, NULL, 0);
	CHILD_CHECK(st == ARPC_S_WRONG_PROCESS, "async call on the parent's binding: %s",
	            arpc_status_name(st));
	CHILD_CHECK(arpc_async_get_status(&a) == ARPC_S_INVALID_ASYNC_HANDLE,
	            "the refused call changed its handle");
	st = arpc_binding_flush(parents);
	CHILD_CHECK(st == ARPC_S_WRONG_PROCESS, "flush: %s", arpc_status_name(st));
	st = arpc_binding_set_timeout(parents, 10);
	CHILD_CHECK(st == ARPC_S_WRONG_PROCESS, "set_timeout: %s", arpc_status_name(st));
	st = arpc_async_cancel(parents_pending, 1);
	CHILD_CHECK(st == ARPC_S_WRONG_PROCESS, "cancel of the parent's call: %s",
	            arpc_status_name(st));
	CHILD_CHECK(arpc_async_get_status(parents_pending) == ARPC_S_ASYNC_CALL_PENDING,
	            "the parent's call changed in the child");
	arpc_binding_close(parents);
}

static int child_main(arpc_binding *parents, arpc_async *parents_pending)
{
	child_inherited(parents, parents_pending);
	arpc_binding *b = NULL;
	arpc_status st = arpc_binding_open(client_endpoint(), &b);
	CHILD_CHECK(st == ARPC_S_OK, "open: %s", arpc_status_name(st));
	if (st != ARPC_S_OK)
		return child_failures;
	child_async_event(b);
	child_async_callback(b);
	child_async_apc(b);
	arpc_reply r;
	st = arpc_call(b, "sys.ping", NULL, 0, &r);
	CHILD_CHECK(st == ARPC_S_OK, "sync call: %s", arpc_status_name(st));
	arpc_reply_free(&r);
	arpc_binding_close(b);
	return child_failures;
}

/* Reaps the child within CHILD_LIMIT_MS (killing it past that); returns its
 * exit status, or -1 if it hung or died of a signal. */
static int reap_child(pid_t pid)
{
	for (int waited = 0; waited < CHILD_LIMIT_MS; waited += 10) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	return -1;
}

static void test_child_calls_and_inherited_binding(void **state)
{
	arpc_binding *b = client_open_binding();
	int efd = client_eventfd();
	/* The library is fully running in the parent: an APC queue on this
	 * thread, and a call pending across the fork. */
	assert_true(arpc_apc_fd() >= 0);
	arpc_async pending;
	client_event_async(&pending, efd);
	uint8_t req[4];
	client_u32(req, 300);
	assert_int_equal(arpc_call_async(b, &pending, "demo.async_delay", req, sizeof(req), NULL, 0),
	                 ARPC_S_OK);

	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_main(b, &pending));

	int status = reap_child(pid);
	if (status != 0)
		fail_msg("the child %s", status < 0 ? "hung or crashed" : "failed checks (stderr)");
	/* The parent's call and binding were not disturbed. */
	assert_int_equal(client_event_wait(efd, 10000), 1);
	assert_int_equal(arpc_async_complete(&pending, NULL), ARPC_S_OK);
	arpc_reply r;
	assert_int_equal(arpc_call(b, "sys.ping", NULL, 0, &r), ARPC_S_OK);
	arpc_reply_free(&r);
	arpc_binding_close(b);
	close(efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_calls_and_inherited_binding),
	};
	return cmocka_run_group_tests(tests, client_setup, client_teardown);
}
