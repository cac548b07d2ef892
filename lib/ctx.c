/*
 * ctx.c: the library's I/O thread.  It runs a libev loop that owns every
 * watcher; other threads never touch a watcher, they queue a request (a
 * kick, a retired conn, a callback to run) under ctx->mu and wake the loop
 * with ev_async_send, which coalesces: one wake carries all of them.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>

#include "internal.h"

static pthread_mutex_t default_mu = PTHREAD_MUTEX_INITIALIZER;
static struct arpc_ctx *default_ctx;
static __thread struct arpc_ctx *running_ctx; /* set on an I/O thread */

int ctx_on_thread(const struct arpc_ctx *ctx)
{
	return running_ctx == ctx;
}

int ctx_on_any_iothread(void)
{
	return running_ctx != NULL;
}

/* Runs what the current batch left: CALLBACK notifications (no lock held,
 * so they may call the library) and the writes that requests made during
 * the batch corked.  Called at the end of every watcher callback. */
void ctx_run_pending(struct arpc_ctx *ctx)
{
	for (;;) {
		struct list_node *n;
		pthread_mutex_lock(&ctx->mu);
		n = list_pop_front(&ctx->callbacks);
		pthread_mutex_unlock(&ctx->mu);
		if (n) {
			notify_run_callback(list_entry(n, struct call, link));
			continue;
		}
		n = list_pop_front(&ctx->corked);
		if (!n)
			break;
		conn_uncork(list_entry(n, struct conn, cork_link));
	}
}

/*
 * The inbox.  Kicked conns and retired conns are taken together, kicks
 * first: a conn is never kicked once dead, so every kick queued before a
 * conn was retired is in this batch, and the conn can be destroyed after
 * it.  Destruction happens only here.
 */
static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct arpc_ctx *ctx = w->data;
	struct list kicked, retired;
	list_init(&kicked);
	list_init(&retired);
	pthread_mutex_lock(&ctx->mu);
	list_splice(&kicked, &ctx->kicked);
	list_splice(&retired, &ctx->retired);
	pthread_mutex_unlock(&ctx->mu);

	struct list_node *n;
	while ((n = list_pop_front(&kicked))) {
		struct conn *conn = list_entry(n, struct conn, kick_link);
		pthread_mutex_lock(&conn->b->mu);
		unsigned flags = conn->kick_flags;
		conn->kick_flags = 0;
		conn_iot_apply_locked(conn, flags);
		pthread_mutex_unlock(&conn->b->mu);
	}
	ctx_run_pending(ctx);
	while ((n = list_pop_front(&retired)))
		conn_destroy(list_entry(n, struct conn, dead_link));
}

static void *iothread_main(void *arg)
{
	struct arpc_ctx *ctx = arg;
	running_ctx = ctx;
	ev_run(ctx->loop, 0);
	return NULL;
}

static struct arpc_ctx *ctx_create(void)
{
	struct arpc_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return NULL;
	/* No signal watchers here: leave the application's signal mask alone. */
	ctx->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!ctx->loop) {
		free(ctx);
		return NULL;
	}
	pthread_mutex_init(&ctx->mu, NULL);
	list_init(&ctx->kicked);
	list_init(&ctx->retired);
	list_init(&ctx->callbacks);
	list_init(&ctx->corked);
	ev_async_init(&ctx->wake, wake_cb);
	ctx->wake.data = ctx;
	ev_async_start(ctx->loop, &ctx->wake);

	/* The I/O thread takes no signals: the application's handlers run on
	 * the application's threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&ctx->thread, NULL, iothread_main, ctx);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		ev_async_stop(ctx->loop, &ctx->wake);
		ev_loop_destroy(ctx->loop);
		pthread_mutex_destroy(&ctx->mu);
		free(ctx);
		return NULL;
	}
	return ctx;
}

/* The context every binding shares, started on first use and kept for the
 * life of the process.  NULL if it could not be started (a later call
 * tries again). */
struct arpc_ctx *ctx_default(void)
{
	if (fork_handlers_install() < 0)
		return NULL;
	pthread_mutex_lock(&default_mu);
	if (!default_ctx)
		default_ctx = ctx_create();
	struct arpc_ctx *ctx = default_ctx;
	pthread_mutex_unlock(&default_mu);
	return ctx;
}

/* Asks the I/O thread for work on `conn`; called with conn's binding
 * mutex held.  Repeated kicks before the thread wakes cost nothing. */
void ctx_kick(struct arpc_ctx *ctx, struct conn *conn, unsigned flags)
{
	if (conn->dead || (conn->kick_flags & flags) == flags)
		return;
	int queued = conn->kick_flags != 0;
	conn->kick_flags |= flags;
	if (queued)
		return;
	pthread_mutex_lock(&ctx->mu);
	list_push_back(&ctx->kicked, &conn->kick_link);
	pthread_mutex_unlock(&ctx->mu);
	ev_async_send(ctx->loop, &ctx->wake);
}

/* Hands a dead conn nobody reads any more to the I/O thread to destroy. */
void ctx_retire(struct arpc_ctx *ctx, struct conn *conn)
{
	pthread_mutex_lock(&ctx->mu);
	list_push_back(&ctx->retired, &conn->dead_link);
	pthread_mutex_unlock(&ctx->mu);
	ev_async_send(ctx->loop, &ctx->wake);
}

void ctx_queue_callback(struct arpc_ctx *ctx, struct call *c)
{
	pthread_mutex_lock(&ctx->mu);
	list_push_back(&ctx->callbacks, &c->link);
	pthread_mutex_unlock(&ctx->mu);
	/* On the I/O thread the current batch runs it before returning to the
	 * loop (ctx_run_pending); elsewhere, wake the loop. */
	if (!ctx_on_thread(ctx))
		ev_async_send(ctx->loop, &ctx->wake);
}

/* I/O thread only: flush conn's queued output when the batch ends. */
void ctx_cork(struct arpc_ctx *ctx, struct conn *conn)
{
	if (conn->corked)
		return;
	conn->corked = 1;
	list_push_back(&ctx->corked, &conn->cork_link);
}

void ctx_fork_lock(void)
{
	pthread_mutex_lock(&default_mu);
}

void ctx_fork_unlock(void)
{
	pthread_mutex_unlock(&default_mu);
}

/* In a child: the parent's context and its thread are not here.  Its memory
 * is left alone (parent threads may have held its locks at the fork); the
 * child's first binding starts a context of its own. */
void ctx_fork_forget(void)
{
	default_ctx = NULL;
}
