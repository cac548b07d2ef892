/*
 * binding.c: bindings, their current connection, and reconnection.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

void binding_ref(struct arpc_binding *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

/* The last reference goes once the application closed the binding, every
 * conn was destroyed and every call record released. */
void binding_unref(struct arpc_binding *b)
{
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_cond_destroy(&b->callbacks_done);
	pthread_cond_destroy(&b->connected);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void binding_callback_owed(struct arpc_binding *b)
{
	atomic_fetch_add(&b->callbacks_owed, 1);
}

/* The closer sets close_waiting before it reads callbacks_owed, and this
 * decrements callbacks_owed before it reads close_waiting (both sequentially
 * consistent): either the closer sees the count fall, or this sees the
 * closer and wakes it under b->mu, which the closer holds until it waits. */
void binding_callback_done(struct arpc_binding *b)
{
	if (atomic_fetch_sub(&b->callbacks_owed, 1) != 1 || !atomic_load(&b->close_waiting))
		return;
	pthread_mutex_lock(&b->mu);
	pthread_cond_broadcast(&b->callbacks_done);
	pthread_mutex_unlock(&b->mu);
}

static struct arpc_binding *binding_new(struct arpc_ctx *ctx, const struct endpoint *ep)
{
	struct arpc_binding *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->ctx = ctx;
	b->ep = *ep;
	b->generation = fork_generation();
	atomic_init(&b->refs, 1); /* the application's, until arpc_binding_close */
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->connected, NULL);
	pthread_cond_init(&b->callbacks_done, NULL);
	list_init(&b->conns);
	return b;
}

/* Connects on the calling thread with the lock released; other threads
 * that need the connection meanwhile wait for this one. */
static arpc_status connect_locked(struct arpc_binding *b)
{
	b->connecting = 1;
	pthread_mutex_unlock(&b->mu);
	int fd = endpoint_connect(&b->ep);
	pthread_mutex_lock(&b->mu);
	b->connecting = 0;
	pthread_cond_broadcast(&b->connected);
	/* The socket file's permissions refusing us is arpcd's access
	 * control as much as allow_users is (docs/security.md). */
	if (fd == -EACCES || fd == -EPERM)
		return ARPC_S_ACCESS_DENIED;
	if (fd < 0)
		return ARPC_S_SERVER_UNAVAILABLE;
	if (b->closing) {
		close(fd);
		return ARPC_S_CALL_CANCELLED;
	}
	struct conn *conn = conn_new(b, fd);
	if (!conn) {
		close(fd);
		return ARPC_S_NO_MEMORY;
	}
	/* A conn that got GOAWAY may still be finishing calls; it is retired
	 * when the last one is answered. */
	struct conn *old = b->conn;
	b->conn = conn;
	if (old && old->n_calls == 0 && list_empty(&old->oneway))
		conn_fail_locked(old, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
	return ARPC_S_OK;
}

/* The connection to send the next call on, (re)connecting if needed. */
arpc_status binding_conn_locked(struct arpc_binding *b, struct conn **out)
{
	for (;;) {
		if (b->closing)
			return ARPC_S_CALL_CANCELLED;
		if (b->conn)
			conn_probe_idle_locked(b->conn, now_ns());
		if (conn_usable(b->conn)) {
			*out = b->conn;
			return ARPC_S_OK;
		}
		if (!b->connecting) {
			arpc_status st = connect_locked(b);
			if (st != ARPC_S_OK)
				return st;
			continue;
		}
		pthread_cond_wait(&b->connected, &b->mu);
	}
}

arpc_status arpc_binding_open(const char *endpoint, arpc_binding **out)
{
	if (!endpoint || !out)
		return ARPC_S_INVALID_ARG;
	*out = NULL;
	struct endpoint ep;
	if (endpoint_parse(endpoint, &ep, NULL) < 0)
		return ARPC_S_INVALID_ARG;
	struct arpc_ctx *ctx = ctx_default();
	if (!ctx)
		return ARPC_S_NO_MEMORY;
	struct arpc_binding *b = binding_new(ctx, &ep);
	if (!b)
		return ARPC_S_NO_MEMORY;
	pthread_mutex_lock(&b->mu);
	arpc_status st = connect_locked(b);
	pthread_mutex_unlock(&b->mu);
	if (st != ARPC_S_OK) {
		binding_unref(b);
		return st;
	}
	*out = b;
	return ARPC_S_OK;
}

int binding_inherited(const struct arpc_binding *b)
{
	return b->generation != fork_generation();
}

/* Closing, in a child, a binding its parent opened: the memory and the
 * connection are the parent's.  The child only drops its copies of the
 * sockets, so that the parent's close is seen by the server; and only if no
 * parent thread held the binding's lock at the fork, else its lists may be
 * half-changed and nothing of it is touched. */
static void close_inherited(struct arpc_binding *b)
{
	if (pthread_mutex_trylock(&b->mu) != 0)
		return;
	struct list_node *n;
	for (n = list_front(&b->conns); n; n = list_next(&b->conns, n)) {
		struct conn *conn = list_entry(n, struct conn, b_link);
		if (conn->fd >= 0)
			close(conn->fd);
		conn->fd = -1;
	}
	pthread_mutex_unlock(&b->mu);
}

void arpc_binding_close(arpc_binding *b)
{
	if (!b)
		return;
	if (binding_inherited(b)) {
		close_inherited(b);
		return;
	}
	pthread_mutex_lock(&b->mu);
	b->closing = 1;
	struct list_node *n;
	while ((n = list_front(&b->conns)))
		conn_fail_locked(list_entry(n, struct conn, b_link), ARPC_S_CALL_CANCELLED,
		                 ARPC_S_CALL_CANCELLED);
	/* Every call has completed now, so no CALLBACK is owed that is not
	 * counted.  Wait for them to run, so that the application may free what
	 * they use once this returns; on the I/O thread they cannot run until
	 * the current one returns, so there it cannot wait. */
	if (!ctx_on_thread(b->ctx)) {
		atomic_store(&b->close_waiting, 1);
		while (atomic_load(&b->callbacks_owed) > 0)
			pthread_cond_wait(&b->callbacks_done, &b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	binding_unref(b);
}

arpc_status arpc_binding_flush(arpc_binding *b)
{
	if (!b)
		return ARPC_S_INVALID_ARG;
	if (binding_inherited(b))
		return ARPC_S_WRONG_PROCESS;
	pthread_mutex_lock(&b->mu);
	/* A conn retired by GOAWAY may still hold requests made before it. */
	struct list_node *n, *next;
	for (n = list_front(&b->conns); n; n = next) {
		next = list_next(&b->conns, n);
		conn_flush_held_locked(list_entry(n, struct conn, b_link));
	}
	pthread_mutex_unlock(&b->mu);
	return ARPC_S_OK;
}

arpc_status arpc_binding_set_timeout(arpc_binding *b, uint32_t ms)
{
	if (!b)
		return ARPC_S_INVALID_ARG;
	if (binding_inherited(b))
		return ARPC_S_WRONG_PROCESS;
	pthread_mutex_lock(&b->mu);
	b->timeout_ms = ms;
	pthread_mutex_unlock(&b->mu);
	return ARPC_S_OK;
}

/* Puts a call on the binding's connection.  A conn that turns out dead
 * when the request is written (the server went away while it sat idle)
 * carries nothing of the call, which then gets one fresh connection. */
arpc_status binding_submit_locked(struct arpc_binding *b, struct call *c, const char *method,
                                  size_t method_len, const void *req, size_t req_len)
{
	for (int attempt = 0;; attempt++) {
		struct conn *conn;
		arpc_status st = binding_conn_locked(b, &conn);
		if (st != ARPC_S_OK)
			return st;
		st = conn_submit_locked(conn, c, method, method_len, req, req_len);
		if (st != ARPC_S_CALL_FAILED_DNE || attempt > 0)
			return st;
	}
}
