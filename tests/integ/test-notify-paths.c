/*
 * test-notify-paths.c: for each of the six notification paths, 10,000 calls
 * from 4 threads on one binding: each call completes exactly once, with its
 * own payload, and is notified exactly once.
 *
 * Each thread keeps a window of handles in flight.  Every payload is unique
 * (thread, sequence number, and a length that varies), so a reply given to
 * the wrong call, or twice, is caught.  A notification is counted on the
 * handle it names (user_info), and must arrive once per call.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

enum { THREADS = 4, CALLS_PER_THREAD = 2500, WINDOW = 32, PAYLOAD_MAX = 96 };

struct slot {
	arpc_async a;
	char req[PAYLOAD_MAX];
	size_t req_len;
	atomic_int notified; /* notifications seen for the current call */
	int busy;
	int event_fd;        /* EVENT: one per slot, so each count is exact */
	struct worker *w;    /* the thread that owns the slot */
};

struct worker {
	arpc_binding *b;
	arpc_notify_type kind;
	int id;
	struct slot slots[WINDOW];
	int submitted, completed;
	/* Per-path plumbing, owned by the worker. */
	arpc_cq *cq;
	arpc_msgq *mq;
	int done_fd;                      /* CALLBACK: the I/O thread tells us here */
	pthread_mutex_t cb_mu;            /* CALLBACK: completed slots, oldest first */
	int cb_ready[WINDOW * 2];
	int cb_n;
	char error[256];
};

#define WORKER_FAIL(w, ...) \
	do { \
		if (!(w)->error[0]) \
			snprintf((w)->error, sizeof((w)->error), __VA_ARGS__); \
	} while (0)

static void on_apc(arpc_async *a, arpc_event ev)
{
	struct slot *s = a->user_info;
	atomic_fetch_add(&s->notified, 1);
}

/* CALLBACK: runs on the I/O thread; hands the slot to its worker. */
static void on_callback_queue(arpc_async *a, arpc_event ev)
{
	struct slot *s = a->user_info;
	struct worker *w = s->w;
	atomic_fetch_add(&s->notified, 1);
	pthread_mutex_lock(&w->cb_mu);
	w->cb_ready[w->cb_n++] = (int)(s - w->slots);
	pthread_mutex_unlock(&w->cb_mu);
	uint64_t one = 1;
	if (write(w->done_fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

static void submit(struct worker *w, int i)
{
	struct slot *s = &w->slots[i];
	if (arpc_async_init(&s->a, sizeof(s->a)) != ARPC_S_OK) {
		WORKER_FAIL(w, "arpc_async_init of slot %d refused", i);
		return;
	}
	s->a.user_info = s;
	s->a.notify = w->kind;
	switch (w->kind) {
	case ARPC_NOTIFY_EVENT:
		s->a.u.event_fd = s->event_fd;
		break;
	case ARPC_NOTIFY_APC:
		s->a.u.apc.fn = on_apc;
		s->a.u.apc.to_thread = 0;
		break;
	case ARPC_NOTIFY_IOC:
		s->a.u.ioc.cq = w->cq;
		s->a.u.ioc.key = (uintptr_t)i;
		s->a.u.ioc.tag = s;
		break;
	case ARPC_NOTIFY_MSG:
		s->a.u.msg.queue = w->mq;
		s->a.u.msg.msg = 0x400u + (uint32_t)i;
		break;
	case ARPC_NOTIFY_CALLBACK:
		s->a.u.callback.fn = on_callback_queue;
		break;
	default:
		break;
	}
	/* Unique payload of a varying length. */
	int n = snprintf(s->req, sizeof(s->req), "w%d-call%d-", w->id, w->submitted);
	size_t len = (size_t)n + (size_t)(w->submitted % 37);
	memset(s->req + n, 'a' + w->submitted % 26, len - (size_t)n);
	s->req_len = len;
	atomic_store(&s->notified, 0);
	arpc_status st = arpc_call_async(w->b, &s->a, "demo.echo", s->req, s->req_len, NULL, 0);
	if (st != ARPC_S_OK)
		WORKER_FAIL(w, "submission %d: %s", w->submitted, arpc_status_name(st));
	s->busy = 1;
	w->submitted++;
}

/* Checks and consumes slot i's completed call. */
static void finish(struct worker *w, int i, int expect_notified)
{
	struct slot *s = &w->slots[i];
	if (!s->busy) {
		WORKER_FAIL(w, "slot %d notified while idle", i);
		return;
	}
	arpc_status polled = arpc_async_get_status(&s->a);
	if (polled == ARPC_S_ASYNC_CALL_PENDING) {
		WORKER_FAIL(w, "slot %d notified while its status is still PENDING", i);
		return;
	}
	arpc_reply r;
	arpc_status st = arpc_async_complete(&s->a, &r);
	if (st != ARPC_S_OK || st != polled)
		WORKER_FAIL(w, "slot %d: status %s (polled %s)", i, arpc_status_name(st),
		            arpc_status_name(polled));
	else if (r.len != s->req_len || memcmp(r.data, s->req, r.len) != 0)
		WORKER_FAIL(w, "slot %d: reply '%.*s' is not its request '%.*s'", i, (int)r.len,
		            (const char *)r.data, (int)s->req_len, s->req);
	if (expect_notified && atomic_load(&s->notified) != 1)
		WORKER_FAIL(w, "slot %d notified %d times", i, atomic_load(&s->notified));
	/* A consumed handle is consumed: no second result. */
	if (arpc_async_complete(&s->a, NULL) != ARPC_S_INVALID_ASYNC_HANDLE)
		WORKER_FAIL(w, "slot %d completed twice", i);
	arpc_reply_free(&r);
	s->busy = 0;
	w->completed++;
}

static int wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Waits for some completions and finishes them; returns 0 on a stall. */
static int reap(struct worker *w)
{
	int got = 0;
	switch (w->kind) {
	case ARPC_NOTIFY_NONE:
		for (int spin = 0; spin < 20000 && !got; spin++) {
			for (int i = 0; i < WINDOW; i++) {
				if (w->slots[i].busy &&
				    arpc_async_get_status(&w->slots[i].a) != ARPC_S_ASYNC_CALL_PENDING) {
					finish(w, i, 0);
					got++;
				}
			}
			if (!got)
				usleep(100);
		}
		break;
	case ARPC_NOTIFY_EVENT: {
		struct pollfd p[WINDOW];
		int idx[WINDOW], n = 0;
		for (int i = 0; i < WINDOW; i++) {
			if (!w->slots[i].busy)
				continue;
			p[n] = (struct pollfd){ .fd = w->slots[i].event_fd, .events = POLLIN };
			idx[n++] = i;
		}
		if (poll(p, (nfds_t)n, 10000) <= 0)
			return 0;
		for (int k = 0; k < n; k++) {
			if (!(p[k].revents & POLLIN))
				continue;
			struct slot *s = &w->slots[idx[k]];
			uint64_t count;
			if (read(s->event_fd, &count, sizeof(count)) != sizeof(count))
				return 0;
			atomic_fetch_add(&s->notified, (int)count);
			finish(w, idx[k], 1);
			got++;
		}
		break;
	}
	case ARPC_NOTIFY_APC: {
		arpc_status st = arpc_sleep_alertable(10000);
		if (st != ARPC_S_APC_RAN)
			return 0;
		for (int i = 0; i < WINDOW; i++) {
			struct slot *s = &w->slots[i];
			if (s->busy && atomic_load(&s->notified) > 0) {
				finish(w, i, 1);
				got++;
			}
		}
		break;
	}
	case ARPC_NOTIFY_IOC: {
		arpc_completion c;
		if (arpc_cq_get(w->cq, &c, 10000) != ARPC_S_OK)
			return 0;
		do {
			struct slot *s = c.tag;
			if (c.async != &s->a || c.key != (uintptr_t)(s - w->slots))
				WORKER_FAIL(w, "completion names the wrong handle");
			if (c.status != ARPC_S_OK)
				WORKER_FAIL(w, "completion status %s", arpc_status_name(c.status));
			atomic_fetch_add(&s->notified, 1);
			finish(w, (int)c.key, 1);
			got++;
		} while (arpc_cq_get(w->cq, &c, 0) == ARPC_S_OK);
		break;
	}
	case ARPC_NOTIFY_MSG: {
		if (wait_fd(arpc_msgq_fd(w->mq), 10000) != 1)
			return 0;
		arpc_msg m;
		while (arpc_msgq_get(w->mq, &m) == ARPC_S_OK) {
			struct slot *s = m.async->user_info;
			if (m.msg != 0x400u + (uint32_t)(s - w->slots))
				WORKER_FAIL(w, "message %#x names the wrong handle", m.msg);
			atomic_fetch_add(&s->notified, 1);
			finish(w, (int)(s - w->slots), 1);
			got++;
		}
		break;
	}
	case ARPC_NOTIFY_CALLBACK:
		/* A wake may find its slot already taken by the previous one:
		 * then wait for the next. */
		for (int tries = 0; tries < 1000 && !got; tries++) {
			if (wait_fd(w->done_fd, 10000) != 1)
				return 0;
			uint64_t count;
			if (read(w->done_fd, &count, sizeof(count)) != sizeof(count))
				return 0;
			int ready[WINDOW * 2], n;
			pthread_mutex_lock(&w->cb_mu);
			n = w->cb_n;
			memcpy(ready, w->cb_ready, sizeof(int) * (size_t)n);
			w->cb_n = 0;
			pthread_mutex_unlock(&w->cb_mu);
			for (int k = 0; k < n; k++) {
				finish(w, ready[k], 1);
				got++;
			}
		}
		break;
	}
	return got;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	while (w->completed < CALLS_PER_THREAD && !w->error[0]) {
		for (int i = 0; i < WINDOW && w->submitted < CALLS_PER_THREAD; i++)
			if (!w->slots[i].busy)
				submit(w, i);
		if (!reap(w))
			WORKER_FAIL(w, "stalled: %d of %d completed", w->completed, CALLS_PER_THREAD);
	}
	return NULL;
}

static void run_path(arpc_notify_type kind)
{
	struct worker w[THREADS];
	memset(w, 0, sizeof(w));
	arpc_binding *b = client_open_binding();
	for (int i = 0; i < THREADS; i++) {
		w[i].b = b;
		w[i].kind = kind;
		w[i].id = i;
		for (int k = 0; k < WINDOW; k++) {
			w[i].slots[k].w = &w[i];
			w[i].slots[k].event_fd = client_eventfd();
			assert_true(w[i].slots[k].event_fd >= 0);
		}
		w[i].done_fd = client_eventfd();
		w[i].cq = arpc_cq_create();
		w[i].mq = arpc_msgq_create();
		pthread_mutex_init(&w[i].cb_mu, NULL);
		assert_true(w[i].done_fd >= 0 && w[i].cq && w[i].mq);
	}
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	arpc_binding_close(b);
	for (int i = 0; i < THREADS; i++) {
		if (w[i].error[0])
			fail_msg("notify kind %d, thread %d: %s", (int)kind, i, w[i].error);
		assert_int_equal(w[i].completed, CALLS_PER_THREAD);
		for (int k = 0; k < WINDOW; k++)
			close(w[i].slots[k].event_fd);
		close(w[i].done_fd);
		arpc_cq_destroy(w[i].cq);
		arpc_msgq_destroy(w[i].mq);
		pthread_mutex_destroy(&w[i].cb_mu);
	}
}

static void test_none(void **state) { run_path(ARPC_NOTIFY_NONE); }
static void test_event(void **state) { run_path(ARPC_NOTIFY_EVENT); }
static void test_apc(void **state) { run_path(ARPC_NOTIFY_APC); }
static void test_ioc(void **state) { run_path(ARPC_NOTIFY_IOC); }
static void test_msg(void **state) { run_path(ARPC_NOTIFY_MSG); }
static void test_callback(void **state) { run_path(ARPC_NOTIFY_CALLBACK); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),  cmocka_unit_test(test_event),
		cmocka_unit_test(test_apc),   cmocka_unit_test(test_ioc),
		cmocka_unit_test(test_msg),   cmocka_unit_test(test_callback),
	};
	return cmocka_run_group_tests_name("notify-paths", tests, client_setup, client_teardown);
}
