/*
 * test-fault-daemon-killed-under-load.c: arpcd is killed with SIGKILL while
 * client threads keep it busy through libarpc, synchronous and asynchronous
 * calls alike, and is then restarted.  Every call a client made completes
 * exactly once (submissions and completions are counted per handle), with
 * success or a failure status that says the connection went away, none
 * hangs (every wait is bounded, and the bindings' deadline turns a hang
 * into ARPC_S_TIMEOUT, which is not accepted), and once arpcd is back every
 * thread's calls succeed again on the same bindings.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpc/arpc.h>

#include "client-harness.h"

enum {
	SYNC_THREADS = 3,
	ASYNC_THREADS = 3,
	THREADS = SYNC_THREADS + ASYNC_THREADS,
	WINDOW = 64,           /* asynchronous calls each async thread keeps pending */
	PROGRESS = 200,        /* successes each thread needs before the kill and after */
	WAIT_MS = 20000,       /* bound on every wait of the main thread */
	CALL_DEADLINE_MS = 15000,
};

struct loader {
	int id;
	int is_async;
	arpc_binding *b;
	pthread_t t;
	atomic_int stop;
	/* Written by the loader, read by the main thread. */
	atomic_ulong started;   /* calls accepted (sync: made) */
	atomic_ulong completed; /* completions seen, exactly one per started call */
	atomic_ulong ok;
	atomic_ulong failed;    /* an accepted failure status */
	atomic_ulong refused;   /* arpc_call_async refused to start: no notification */
	char error[200];        /* the first thing that went wrong */
};

static struct loader loaders[THREADS];

static int acceptable_failure(arpc_status st)
{
	return st == ARPC_S_CALL_FAILED || st == ARPC_S_CALL_FAILED_DNE ||
	       st == ARPC_S_SERVER_UNAVAILABLE;
}

/* The request of call number n: a short echo, or a short async_delay. */
static const char *request_of(unsigned long n, uint8_t *buf, size_t *len)
{
	if (n % 4 == 3) {
		client_u32(buf, (uint32_t)(n % 5));
		*len = 4;
		return "demo.async_delay";
	}
	*len = (size_t)snprintf((char *)buf, 32, "call %lu", n);
	return "demo.echo";
}

/* Checks a successful reply against its request. */
static int reply_matches(const uint8_t *req, size_t len, const arpc_reply *r)
{
	return r->len == len && (len == 0 || memcmp(r->data, req, len) == 0);
}

static void note_error(struct loader *l, const char *what, unsigned long n, arpc_status st)
{
	if (!l->error[0])
		snprintf(l->error, sizeof(l->error), "thread %d call %lu: %s: %s", l->id, n, what,
		         arpc_status_name(st));
}

/* Counts one final status; 0 to go on, -1 to stop the thread. */
static int account(struct loader *l, unsigned long n, arpc_status st, int matches)
{
	atomic_fetch_add(&l->completed, 1);
	if (st == ARPC_S_OK && matches) {
		atomic_fetch_add(&l->ok, 1);
		return 0;
	}
	if (st == ARPC_S_OK) {
		note_error(l, "wrong reply payload", n, st);
		return -1;
	}
	if (!acceptable_failure(st)) {
		note_error(l, "unexpected status", n, st);
		return -1;
	}
	atomic_fetch_add(&l->failed, 1);
	usleep(1000); /* the daemon is gone: do not spin on it */
	return 0;
}

static void *sync_main(void *arg)
{
	struct loader *l = arg;
	for (unsigned long n = 0; !atomic_load(&l->stop); n++) {
		uint8_t req[32];
		size_t len;
		const char *method = request_of(n, req, &len);
		arpc_reply r;
		atomic_fetch_add(&l->started, 1);
		arpc_status st = arpc_call(l->b, method, req, len, &r);
		int m = st == ARPC_S_OK && reply_matches(req, len, &r);
		arpc_reply_free(&r);
		if (account(l, n, st, m) < 0)
			break;
	}
	return NULL;
}

/* One slot of an async thread's window: its handle and what it sent. */
struct slot {
	arpc_async a;
	uint8_t req[32];
	size_t len;
	unsigned long n;
	int pending;
};

/* Starts the next call in slot s; 0, or -1 after a refusal to start. */
static int slot_start(struct loader *l, struct slot *s, arpc_cq *cq, size_t key,
                      unsigned long n)
{
	const char *method = request_of(n, s->req, &s->len);
	s->n = n;
	if (arpc_async_init(&s->a, sizeof(s->a)) != ARPC_S_OK) {
		note_error(l, "arpc_async_init", n, ARPC_S_INVALID_ARG);
		return -2;
	}
	s->a.notify = ARPC_NOTIFY_IOC;
	s->a.u.ioc.cq = cq;
	s->a.u.ioc.key = key;
	arpc_status st = arpc_call_async(l->b, &s->a, method, s->req, s->len, NULL, 0);
	if (st == ARPC_S_OK) {
		s->pending = 1;
		atomic_fetch_add(&l->started, 1);
		return 0;
	}
	/* Not started: no notification will come.  Only "nobody there" fits. */
	if (st != ARPC_S_SERVER_UNAVAILABLE) {
		note_error(l, "arpc_call_async refused", n, st);
		return -2;
	}
	atomic_fetch_add(&l->refused, 1);
	usleep(1000);
	return -1;
}

/* Takes one completion off cq and accounts for it; 0, or -1 on an error. */
static int slot_reap(struct loader *l, struct slot *slots, arpc_cq *cq)
{
	arpc_completion c;
	arpc_status st = arpc_cq_get(cq, &c, WAIT_MS);
	if (st != ARPC_S_OK) {
		note_error(l, "no completion within the bound", 0, st);
		return -1;
	}
	if (c.key >= WINDOW || c.async != &slots[c.key].a) {
		note_error(l, "completion for an unknown handle", 0, c.status);
		return -1;
	}
	struct slot *s = &slots[c.key];
	if (!s->pending) {
		note_error(l, "completed twice", s->n, c.status);
		return -1;
	}
	s->pending = 0;
	arpc_reply r;
	arpc_status fin = arpc_async_complete(&s->a, &r);
	if (fin != c.status) {
		note_error(l, "arpc_async_complete disagrees with the completion", s->n, fin);
		arpc_reply_free(&r);
		return -1;
	}
	int m = fin == ARPC_S_OK && reply_matches(s->req, s->len, &r);
	arpc_reply_free(&r);
	return account(l, s->n, fin, m);
}

static void *async_main(void *arg)
{
	struct loader *l = arg;
	struct slot *slots = calloc(WINDOW, sizeof(*slots));
	arpc_cq *cq = arpc_cq_create();
	unsigned long n = 0;
	unsigned pending = 0;
	if (!slots || !cq) {
		snprintf(l->error, sizeof(l->error), "thread %d: out of memory", l->id);
		goto out;
	}
	while (!atomic_load(&l->stop) && !l->error[0]) {
		for (size_t k = 0; k < WINDOW; k++) {
			if (slots[k].pending)
				continue;
			int r = slot_start(l, &slots[k], cq, k, n++);
			if (r == -2)
				goto drain;
			if (r == 0)
				pending++;
		}
		if (pending > 0) {
			if (slot_reap(l, slots, cq) < 0)
				goto drain;
			pending--;
		}
	}
drain:
	/* Every call started gets its one completion, stop or not. */
	while (pending > 0 && !l->error[0] && slot_reap(l, slots, cq) == 0)
		pending--;
	if (pending > 0)
		return NULL; /* the test fails; the handles must outlive their calls */
	arpc_completion extra;
	if (!l->error[0] && arpc_cq_get(cq, &extra, 100) != ARPC_S_TIMEOUT)
		note_error(l, "a completion after the last call", 0, extra.status);
out:
	arpc_cq_destroy(cq);
	free(slots);
	return NULL;
}

/* Whether every thread has `want` more successes than in base[]. */
struct progress {
	unsigned long base[THREADS];
	unsigned long want;
};

static int all_progressed(void *arg)
{
	struct progress *p = arg;
	for (int i = 0; i < THREADS; i++) {
		if (loaders[i].error[0])
			return 1; /* no use waiting: the caller reports it */
		if (atomic_load(&loaders[i].ok) < p->base[i] + p->want)
			return 0;
	}
	return 1;
}

static void wait_progress(const char *when)
{
	struct progress p = { .want = PROGRESS };
	for (int i = 0; i < THREADS; i++)
		p.base[i] = atomic_load(&loaders[i].ok);
	int ok = client_wait_until(all_progressed, &p, WAIT_MS);
	for (int i = 0; i < THREADS; i++)
		if (loaders[i].error[0])
			fail_msg("%s: %s", when, loaders[i].error);
	if (!ok)
		fail_msg("%s: some thread made no progress within %d ms", when, WAIT_MS);
}

/* Whether every thread has seen the daemon gone: a failed or refused call. */
static int all_failed(void *arg)
{
	for (int i = 0; i < THREADS; i++) {
		if (loaders[i].error[0])
			return 1;
		if (atomic_load(&loaders[i].failed) + atomic_load(&loaders[i].refused) == 0)
			return 0;
	}
	return 1;
}

static void test_sigkill_under_load_and_restart(void **state)
{
	for (int i = 0; i < THREADS; i++) {
		struct loader *l = &loaders[i];
		l->id = i;
		l->is_async = i >= SYNC_THREADS;
		l->b = client_open_binding();
		assert_int_equal(arpc_binding_set_timeout(l->b, CALL_DEADLINE_MS), ARPC_S_OK);
		void *(*fn)(void *) = l->is_async ? async_main : sync_main;
		assert_int_equal(pthread_create(&l->t, NULL, fn, l), 0);
	}
	wait_progress("before the kill");

	assert_int_equal(client_daemon_kill(SIGKILL), 0);
	if (!client_wait_until(all_failed, NULL, WAIT_MS))
		fail_msg("some thread never noticed the daemon was gone");
	for (int i = 0; i < THREADS; i++)
		if (loaders[i].error[0])
			fail_msg("after the kill: %s", loaders[i].error);

	assert_int_equal(client_daemon_restart(), 0);
	wait_progress("after the restart");

	for (int i = 0; i < THREADS; i++)
		atomic_store(&loaders[i].stop, 1);
	unsigned long started = 0, completed = 0, ok = 0, failed = 0, refused = 0;
	for (int i = 0; i < THREADS; i++) {
		struct loader *l = &loaders[i];
		pthread_join(l->t, NULL);
		if (l->error[0])
			fail_msg("%s", l->error);
		assert_int_equal(atomic_load(&l->started), atomic_load(&l->completed));
		assert_int_equal(atomic_load(&l->completed),
		                 atomic_load(&l->ok) + atomic_load(&l->failed));
		started += atomic_load(&l->started);
		completed += atomic_load(&l->completed);
		ok += atomic_load(&l->ok);
		failed += atomic_load(&l->failed);
		refused += atomic_load(&l->refused);

		/* The binding that lived through the kill serves a new call. */
		arpc_reply r;
		assert_int_equal(arpc_call(l->b, "demo.echo", "after", 5, &r), ARPC_S_OK);
		assert_int_equal(r.len, 5);
		assert_memory_equal(r.data, "after", 5);
		arpc_reply_free(&r);
		arpc_binding_close(l->b);
	}
	printf("# %lu calls started, %lu completed once each: %lu ok, %lu failed; "
	       "%lu refused at submission\n", started, completed, ok, failed, refused);
	assert_true(failed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_under_load_and_restart),
	};
	return cmocka_run_group_tests_name("fault-daemon-killed-under-load", tests, client_setup,
	                                   client_teardown);
}
