/*
 * fork.c: what libarpc does across fork().
 *
 * A child has one thread, the one that forked; the library's I/O thread
 * and every other thread stay in the parent.  So the child starts afresh:
 * it forgets the parent's I/O context (a new one starts with its first
 * binding) and the forking thread's APC queue, whose eventfd it shares with
 * the parent.  What it inherited stays in memory but is never used:
 * bindings opened before the fork belong to the parent, and every function
 * given one in the child returns ARPC_S_WRONG_PROCESS without touching its
 * locks, which a parent thread may have held at the fork.  The handlers
 * take the library's two global locks around the fork so that the child's
 * copies are consistent.
 */
#include "config.h"

#include <pthread.h>

#include "internal.h"

/* Bumped in every child; a binding remembers the one it was opened in. */
static unsigned generation;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;
static int handlers_ok;

static void before_fork(void)
{
	ctx_fork_lock();
	apc_fork_lock();
}

static void after_fork_in_parent(void)
{
	apc_fork_unlock();
	ctx_fork_unlock();
}

static void after_fork_in_child(void)
{
	apc_fork_unlock();
	ctx_fork_unlock();
	generation++;
	ctx_fork_forget();
	apc_fork_forget();
}

static void register_handlers(void)
{
	handlers_ok = pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) == 0;
}

int fork_handlers_install(void)
{
	pthread_once(&handlers_once, register_handlers);
	return handlers_ok ? 0 : -1;
}

unsigned fork_generation(void)
{
	return generation;
}
