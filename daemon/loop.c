/*
 * loop.c: start-up, signals, reload and shutdown (see loop.h).
 *
 * Shutdown goes through three states.  RUNNING -> DRAINING (SIGTERM,
 * SIGINT or sys.shutdown): listeners closed, GOAWAY(0) sent on every
 * connection, in-flight calls left to finish; each connection closes once
 * its calls are answered.  DRAINING -> CANCELLED when shutdown_timeout
 * passes (or at a second signal): every call still in flight is cancelled
 * with ARPC_CANCEL_SHUTDOWN.  The loop ends when no connection and no call
 * is left; if handlers ignore the cancel for HARD_STOP_DELAY more, the
 * daemon gives up on them and exits with status 1.
 */
#include <config.h> /* autoconf's */

#ifdef HAVE_MALLOPT
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arpcd.h"
#include "builtin.h"
#include "config.h"
#include "conn.h"
#include "fdlimit.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "methods.h"
#include "module.h"
#include "sdnotify.h"
#include "servercall.h"
#include "worker.h"

#define HARD_STOP_DELAY 3.0

static int verbose_;

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void apply_log_level(const struct config *cfg)
{
	log_set_level(verbose_ ? LOG_DEBUG : cfg->log_level);
}

void server_call_retired(struct server *srv)
{
	if (srv->state != SERVER_RUNNING && TAILQ_EMPTY(&srv->conns) && srv->st.calls_inflight == 0)
		ev_break(srv->loop, EVBREAK_ALL);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct server *srv = w->data;
	conns_flush(srv);
	conns_free_dead(srv);
	conns_budget_resume(srv);
}

/* Every call of every connection, each held, so cancelling one cannot
 * free another before its turn.  NULL when there are none or no memory. */
static struct arpc_call **hold_all_calls(struct server *srv, size_t *n)
{
	struct conn *c;
	size_t total = 0, k = 0;
	TAILQ_FOREACH(c, &srv->conns, link)
		total += c->calls.count;
	*n = 0;
	if (total == 0)
		return NULL;
	struct arpc_call **calls = malloc(total * sizeof(*calls));
	if (!calls)
		return NULL;
	TAILQ_FOREACH(c, &srv->conns, link)
		for (uint32_t i = 0; i < c->calls.cap; i++)
			if (c->calls.slots[i].val) {
				calls[k] = c->calls.slots[i].val;
				servercall_hold(calls[k++]);
			}
	*n = k;
	return calls;
}

static void cancel_everything(struct server *srv)
{
	struct conn *c, *next;
	size_t n;
	if (srv->state == SERVER_CANCELLED)
		return;
	srv->state = SERVER_CANCELLED;
	ev_timer_stop(srv->loop, &srv->grace_timer);
	log_notice("shutdown: cancelling %llu calls still in flight",
	           (unsigned long long)srv->st.calls_inflight);
	struct arpc_call **calls = hold_all_calls(srv, &n);
	if (!calls && n == 0 && srv->st.calls_inflight > 0) {
		/* No memory for the list: closing the connections cancels them too. */
		for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
			next = TAILQ_NEXT(c, link);
			conn_close(c, "shutdown");
		}
	}
	for (size_t i = 0; i < n; i++)
		servercall_cancel(calls[i], ARPC_CANCEL_SHUTDOWN);
	for (size_t i = 0; i < n; i++)
		servercall_release(calls[i]);
	free(calls);
	ev_timer_start(srv->loop, &srv->hard_timer);
	server_call_retired(srv);
}

static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	cancel_everything(w->data);
}

static void hard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = w->data;
	struct conn *c, *next;
	for (c = TAILQ_FIRST(&srv->conns); c; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_close(c, "shutdown");
	}
	if (srv->st.calls_inflight > 0) {
		log_errorx("shutdown: %llu handlers still running %g s after their cancel; exiting "
		           "without waiting for them",
		           (unsigned long long)srv->st.calls_inflight, HARD_STOP_DELAY);
		srv->exit_code = 1;
		ev_break(loop, EVBREAK_ALL);
	}
}

static void begin_shutdown(struct server *srv, const char *why)
{
	struct conn *c;
	if (srv->state != SERVER_RUNNING) {
		log_notice("%s again: cancelling what is left now", why);
		cancel_everything(srv);
		return;
	}
	srv->state = SERVER_DRAINING;
	log_notice("%s: shutting down; %u connections, %llu calls in flight, %u ms to finish",
	           why, srv->st.connections, (unsigned long long)srv->st.calls_inflight,
	           srv->cfg->shutdown_timeout_ms);
	sdnotify_stopping(srv);
	listeners_close(srv);
	TAILQ_FOREACH(c, &srv->conns, link)
		conn_goaway(c, ARPC_S_OK);
	ev_timer_set(&srv->grace_timer, srv->cfg->shutdown_timeout_ms / 1000.0, 0.0);
	ev_timer_start(srv->loop, &srv->grace_timer);
	server_call_retired(srv);
}

static void sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	const char *name = revents & EV_CUSTOM ? "sys.shutdown"
	                   : w->signum == SIGINT ? "SIGINT" : "SIGTERM";
	begin_shutdown(w->data, name);
}

void server_request_shutdown(struct server *srv)
{
	/* Through the loop, never inside the handler that asked. */
	ev_feed_event(srv->loop, &srv->sigterm, EV_CUSTOM);
}

/* The new config is built aside and swapped in only if valid; 0, or -1
 * when it was refused (logged). */
static int reload(struct server *srv)
{
	struct config *cfg;
	char err[1024];

	log_notice("SIGHUP: reloading '%s'", srv->config_path);
	if (config_load(srv->config_path, &cfg, err, sizeof(err)) < 0) {
		log_errorx("reload failed, keeping the running configuration: %s", err);
		return -1;
	}
	if (srv->nlisten_override &&
	    config_set_listen(cfg, srv->listen_override, srv->nlisten_override, err, sizeof(err)) < 0) {
		log_errorx("reload failed, keeping the running configuration: %s", err);
		config_free(cfg);
		return -1;
	}
	int restart = config_log_changes(srv->cfg, cfg);
	if (config_keep_restart_keys(cfg, srv->cfg) < 0) {
		log_errorx("reload failed, keeping the running configuration: out of memory");
		config_free(cfg);
		return -1;
	}
	config_free(srv->cfg);
	srv->cfg = cfg;
	apply_log_level(cfg);
	servercall_set_max_frame((uint32_t)cfg->max_frame);
	builtin_apply_config(cfg);
	conns_apply_config(srv);
	log_notice("reloaded '%s'%s", srv->config_path,
	           restart ? "; some changes need a restart (see above)" : "");
	fdlimit_check(cfg);
	return 0;
}

/* systemd hears RELOADING=1 and then READY=1 even when the reload is
 * refused: the daemon goes on serving either way.  With every descriptor
 * taken by connections, opening the config file (and the sockets of
 * sd_notify, and NSS's files for user names) would fail with EMFILE: the
 * reserve is lent for the reload.  Only this thread accepts, so no
 * connection takes its place meanwhile; a handler on a worker thread
 * could, and then the reserve is only as full as fdlimit_refill gets it. */
static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct server *srv = w->data;
	if (srv->state != SERVER_RUNNING)
		return;
	fdlimit_release();
	sdnotify_reloading(srv);
	int r = reload(srv);
	sdnotify_reloaded(srv, r == 0);
	if (fdlimit_refill() < FDLIMIT_RESERVE)
		log_warnx("reload: the reserve of file descriptors is not full again "
		          "(RLIMIT_NOFILE reached), ignoring");
}

static void init_watchers(struct server *srv)
{
	ev_prepare_init(&srv->prepare, prepare_cb);
	ev_signal_init(&srv->sigterm, sigterm_cb, SIGTERM);
	ev_signal_init(&srv->sigint, sigterm_cb, SIGINT);
	ev_signal_init(&srv->sighup, sighup_cb, SIGHUP);
	ev_init(&srv->grace_timer, grace_cb);
	ev_timer_init(&srv->hard_timer, hard_cb, HARD_STOP_DELAY, 0.0);
	ev_init(&srv->status_timer, NULL);
	ev_init(&srv->watchdog_timer, NULL);
	srv->prepare.data = srv->sigterm.data = srv->sigint.data = srv->sighup.data = srv;
	srv->grace_timer.data = srv->hard_timer.data = srv;
	ev_prepare_start(srv->loop, &srv->prepare);
	ev_signal_start(srv->loop, &srv->sigterm);
	ev_signal_start(srv->loop, &srv->sigint);
	ev_signal_start(srv->loop, &srv->sighup);
	/* libev falls back to a handler (and unblocks the signals in this
	 * thread) when it cannot make a signalfd: the daemon still works, but
	 * say so, since signals then depend on where the handler runs. */
	struct sigaction sa;
	if (sigaction(SIGHUP, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
		log_notice("signals: no signalfd; libev takes them through a handler");
}

static void stop_watchers(struct server *srv)
{
	ev_prepare_stop(srv->loop, &srv->prepare);
	ev_signal_stop(srv->loop, &srv->sigterm);
	ev_signal_stop(srv->loop, &srv->sigint);
	ev_signal_stop(srv->loop, &srv->sighup);
	ev_timer_stop(srv->loop, &srv->grace_timer);
	ev_timer_stop(srv->loop, &srv->hard_timer);
	sdnotify_stop(srv);
}

/* Everything up to READY=1; -1 after logging what failed. */
static int start(struct server *srv)
{
	int r;
	srv->methods = methods_new();
	if (!srv->methods)
		return log_errorx("out of memory"), -1;
	if ((r = builtin_register(srv)) < 0)
		return log_errorx("cannot register the built-in methods: %s", strerror(-r)), -1;
	if (modules_load(srv) < 0)
		return -1;
	methods_seal(srv->methods);
	if (!(srv->pool = worker_pool_new(srv->loop, srv->cfg->workers)))
		return -1;
	if (fdlimit_reserve_init() < 0)
		return -1;
	if (listeners_open(srv) < 0)
		return -1;
	init_watchers(srv);
	sdnotify_ready(srv);
	log_notice("arpcd %s ready: %u workers", PACKAGE_VERSION, srv->cfg->workers);
	return 0;
}

int server_run(struct config *cfg, const char *config_path, char *const *listen_override,
               size_t nlisten_override, int verbose)
{
	struct server srv;
	memset(&srv, 0, sizeof(srv));
	verbose_ = verbose;
	srv.cfg = cfg;
	srv.config_path = config_path;
	srv.listen_override = listen_override;
	srv.nlisten_override = nlisten_override;
	TAILQ_INIT(&srv.listeners);
	TAILQ_INIT(&srv.conns);
	TAILQ_INIT(&srv.flush);
	TAILQ_INIT(&srv.dead);
	TAILQ_INIT(&srv.budget_wait);
	apply_log_level(cfg);
	/* EVFLAG_SIGNALFD: see main(), which blocked the signals. */
	srv.loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD);
	if (!srv.loop) {
		log_errorx("cannot create the event loop (libev)");
		config_free(cfg);
		return 1;
	}
	srv.start_ns = now_ns();
#if defined(HAVE_MALLOPT) && defined(M_MMAP_THRESHOLD)
	/* Frames up to max_frame come and go by the hundred under load.  glibc
	 * raises its mmap threshold after the first large free, and from then
	 * on keeps freed frames in its heaps, where the memory budgets no
	 * longer see them; a fixed threshold gives them back at once. */
	if (mallopt(M_MMAP_THRESHOLD, 256 * 1024) != 1)
		log_warnx("mallopt(M_MMAP_THRESHOLD) failed, ignoring");
#endif
	servercall_init(&srv);
	servercall_set_max_frame((uint32_t)cfg->max_frame);

	if (start(&srv) < 0) {
		listeners_close(&srv);
		fdlimit_reserve_free();
		worker_pool_free(srv.pool);
		modules_unload(&srv);
		methods_free(srv.methods);
		config_free(srv.cfg);
		return 1;
	}
	ev_run(srv.loop, 0);

	stop_watchers(&srv);
	listeners_close(&srv);
	fdlimit_reserve_free();
	conns_free_dead(&srv);
	if (srv.exit_code != 0)
		return srv.exit_code; /* handlers still hold workers: do not join them */
	worker_pool_free(srv.pool);
	modules_unload(&srv);
	methods_free(srv.methods);
	log_notice("stopped");
	config_free(srv.cfg);
	ev_loop_destroy(srv.loop);
	return 0;
}
