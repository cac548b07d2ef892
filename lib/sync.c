/*
 * sync.c: arpc_call, the synchronous call, without thread hand-offs.
 *
 * The caller writes its own request (conn_submit_locked) and then, if no
 * other thread is reading the connection, reads it itself until its reply
 * is in: the leader.  Replies for other calls it reads on the way are
 * completed and notified from here.  A caller that finds a leader waits on
 * its condition variable as a follower; whoever reads its reply wakes it,
 * and a leader that is done hands the socket to a follower still waiting.
 * internal.h, "Who reads a conn", has the whole protocol.
 */
#include "config.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Reads the connection until our call completes (reply, failure, or our
 * deadline passing). */
static void lead(struct conn *conn, struct call *c, struct sync_wait *sw)
{
	struct arpc_binding *b = conn->b;
	conn->thread_readers = 1;
	while (!sw->done && !conn->dead) {
		if (c->deadline && now_ns() >= c->deadline) {
			conn_abandon_locked(conn, c, ARPC_S_TIMEOUT);
			break;
		}
		/* While reading is paused for PONGs the peer made us queue, the
		 * leader writes them out itself instead of reading. */
		int paused = conn_read_paused(conn);
		struct pollfd pfd = { .fd = conn->fd, .events = paused ? POLLOUT : POLLIN };
		pthread_mutex_unlock(&b->mu);
		int r = poll(&pfd, 1, poll_ms_until(c->deadline));
		pthread_mutex_lock(&b->mu);
		if (r <= 0 || conn->dead)
			continue;
		if (!paused)
			conn_read_locked(conn);
		else if (conn_write_out_locked(conn) < 0)
			conn_fail_locked(conn, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
	}
	conn_release_reader_locked(conn);
}

static void follow(struct conn *conn, struct sync_wait *sw, uint64_t deadline)
{
	list_push_back(&conn->followers, &sw->link);
	if (deadline) {
		struct timespec ts;
		timespec_at(deadline, &ts);
		pthread_cond_timedwait(&sw->cv, &conn->b->mu, &ts);
	} else {
		pthread_cond_wait(&sw->cv, &conn->b->mu);
	}
	list_remove(&sw->link);
}

static void wait_locked(struct call *c, struct sync_wait *sw)
{
	while (!sw->done) {
		struct conn *conn = c->conn; /* set while the call is pending */
		if (c->deadline && now_ns() >= c->deadline)
			conn_abandon_locked(conn, c, ARPC_S_TIMEOUT);
		else if (conn->thread_readers == 0)
			lead(conn, c, sw);
		else
			follow(conn, sw, c->deadline);
	}
}

arpc_status arpc_call(arpc_binding *b, const char *method, const void *req, size_t req_len,
                      arpc_reply *reply)
{
	if (reply)
		memset(reply, 0, sizeof(*reply));
	if (!b || !method || (!req && req_len))
		return ARPC_S_INVALID_ARG;
	if (binding_inherited(b))
		return ARPC_S_WRONG_PROCESS;
	if (ctx_on_thread(b->ctx))
		return ARPC_S_WRONG_THREAD;
	size_t method_len = strnlen(method, WIRE_METHOD_MAX + 1);
	if (!wire_method_valid(method, method_len))
		return ARPC_S_INVALID_ARG;

	struct sync_wait sw = { .done = 0 };
	monotonic_cond_init(&sw.cv);
	list_node_init(&sw.link);
	struct call c;
	memset(&c, 0, sizeof(c));
	c.sync = &sw;
	c.b = b;
	c.heap_idx = SIZE_MAX;
	list_node_init(&c.link);

	/* arpc_binding_close may run meanwhile: keep b until we are done. */
	binding_ref(b);
	pthread_mutex_lock(&b->mu);
	c.deadline = deadline_after_ms(b->timeout_ms);
	arpc_status st = binding_submit_locked(b, &c, method, method_len, req, req_len);
	if (st == ARPC_S_OK) {
		wait_locked(&c, &sw);
		st = c.status;
	}
	pthread_mutex_unlock(&b->mu);
	binding_unref(b);
	pthread_cond_destroy(&sw.cv);

	if (reply) {
		reply->len = c.len;
		reply->fault = c.fault;
		reply->detail = c.detail;
		if (st == ARPC_S_OK)
			reply->data = reply->alloc_ = c.data;
		else
			free(c.data);
	} else {
		call_free_result(&c);
	}
	return st;
}
