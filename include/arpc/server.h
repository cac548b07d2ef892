/*
 * <arpc/server.h>: the handler and module API of arpcd.
 *
 * A module is a shared object that arpcd loads for each `[module NAME]`
 * section of its configuration.  arpcd calls its arpc_module_init(), which
 * registers methods with arpc_server_register().  Built-in methods (demo.*,
 * sys.*) use the same API.
 *
 * A handler receives a `struct arpc_call *` for each request.  Lifetime
 * rules, the whole of them:
 *
 *  - The handler owns the call from the moment it is invoked until it
 *    finishes it, exactly once, with one of arpc_call_complete(),
 *    arpc_call_fail(), arpc_call_abort() or arpc_call_complete_after().
 *    It may finish it before returning, or later from any thread.
 *  - After finishing it, the handler must not touch the call again; arpcd
 *    frees it once the reply is queued (or dropped) and the connection no
 *    longer refers to it.  Every call must be finished, cancelled or not:
 *    an unfinished call is leaked.
 *  - The request bytes (arpc_call_request) live as long as the call.
 *
 * Threads: a handler registered without ARPC_HANDLER_INLINE runs on a worker
 * thread and may block (within reason: it holds that worker).  With
 * ARPC_HANDLER_INLINE it runs on the event loop thread and must never block.
 * Cancel callbacks always run on the event loop thread and must not block.
 *
 * This API is exported by the arpcd executable; modules link against
 * nothing, and find these symbols when arpcd loads them.
 *
 * The type is `struct arpc_call`, not a typedef, because <arpc/arpc.h>
 * declares the client function arpc_call() and a module may include both.
 */
#ifndef ARPC_SERVER_H
#define ARPC_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <arpc/arpc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct arpc_call;
typedef struct arpc_server arpc_server;

/* Handler flags. */
enum {
	ARPC_HANDLER_INLINE = 1u << 0, /* run on the loop thread; must not block */
	ARPC_HANDLER_ADMIN = 1u << 1   /* only for peers listed in admin_users */
};

/* Why a call was cancelled. */
typedef enum arpc_cancel_reason {
	ARPC_CANCEL_NONE = 0,       /* not cancelled */
	ARPC_CANCEL_CLIENT = 1,     /* the client sent CANCEL */
	ARPC_CANCEL_DEADLINE = 2,   /* the request's deadline passed */
	ARPC_CANCEL_DISCONNECT = 3, /* the connection closed */
	ARPC_CANCEL_SHUTDOWN = 4    /* the daemon's shutdown grace period ended */
} arpc_cancel_reason;

typedef void (*arpc_handler_fn)(struct arpc_call *call, void *data);
typedef void (*arpc_cancel_fn)(struct arpc_call *call, arpc_cancel_reason why, void *data);

/*
 * Registers `fn` for `method` ([A-Za-z0-9_.], 1-255 characters).  `data` is
 * passed to every invocation and stays the caller's.  Only valid during
 * arpc_module_init() (and arpcd's own start-up).
 *
 * Returns 0; -EINVAL for a bad name or flags; -EEXIST if the method is
 * already registered; -ENOMEM.
 */
ARPC_EXPORT int arpc_server_register(arpc_server *srv, const char *method, arpc_handler_fn fn, void *data,
                         uint32_t flags);

/* Logs a line through arpcd's log, at syslog priority `priority` (LOG_ERR ...
 * LOG_DEBUG), prefixed with the module's name.  Any thread. */
ARPC_EXPORT void arpc_server_log(arpc_server *srv, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The request payload; *len receives its size.  Never NULL (a zero-length
 * request gives a valid pointer and *len = 0). */
ARPC_EXPORT const void *arpc_call_request(const struct arpc_call *call, size_t *len);

/* The method name, NUL-terminated, as the client sent it. */
ARPC_EXPORT const char *arpc_call_method(const struct arpc_call *call);

/* The request's deadline on CLOCK_MONOTONIC, in nanoseconds; 0 if the
 * client set none. */
ARPC_EXPORT uint64_t arpc_call_deadline(const struct arpc_call *call);

/* The peer's credentials on a Unix socket: returns 0 and fills the non-NULL
 * pointers; -ENOENT on TCP. */
ARPC_EXPORT int arpc_call_peer(const struct arpc_call *call, pid_t *pid, uid_t *uid, gid_t *gid);

/*
 * RpcServerTestCancel: the reason the call was cancelled (the client sent
 * CANCEL, its deadline passed, the connection closed, shutdown), or
 * ARPC_CANCEL_NONE.  Any thread; does not finish the call.
 */
ARPC_EXPORT arpc_cancel_reason arpc_call_cancelled(const struct arpc_call *call);

/*
 * Asks for `fn(call, why, data)` on the loop thread when the call is
 * cancelled, at most once, and never after the call was finished.  If the
 * call is already cancelled, fn runs soon from the loop, never from inside
 * this function.  One callback per call; a second registration replaces the
 * first.  Any thread, before the call is finished.
 */
ARPC_EXPORT void arpc_call_on_cancel(struct arpc_call *call, arpc_cancel_fn fn, void *data);

/*
 * RpcAsyncCompleteCall: finishes the call with status 0 and the reply
 * payload data[0..len) (copied).  Any thread.
 *
 * Returns 0; -EALREADY if the call was already finished (nothing changes);
 * -EMSGSIZE if len exceeds the daemon's max_frame (the call is then failed
 * with ARPC_S_PROTOCOL_ERROR instead, and finished); -ENOMEM (the call is
 * finished with ARPC_S_NO_MEMORY if even that can be sent).  The reply of a
 * call whose client went away is dropped; that still counts as finishing.
 */
ARPC_EXPORT int arpc_call_complete(struct arpc_call *call, const void *data, size_t len);

/*
 * RpcAsyncAbortCall with an application exception code: the client's call
 * completes with ARPC_S_APP_FAULT, reply.fault = code, reply.detail = detail
 * (may be NULL; copied).  Returns as arpc_call_complete().
 */
ARPC_EXPORT int arpc_call_fail(struct arpc_call *call, uint32_t code, const char *detail);

/*
 * Finishes the call with one of arpc's own statuses, for example
 * ARPC_S_CALL_CANCELLED after seeing a cancel, or ARPC_S_INVALID_ARG for a
 * malformed request.  `status` must be one a server may send
 * (docs/protocol.md, "Status codes"), and not ARPC_S_OK or ARPC_S_APP_FAULT:
 * else -EINVAL and nothing changes.  Returns as arpc_call_complete().
 */
ARPC_EXPORT int arpc_call_abort(struct arpc_call *call, arpc_status status, const char *detail);

/*
 * Finishes the call `delay_ms` milliseconds from now with the payload
 * data[0..len) (copied now), by a timer on the event loop: no worker is held
 * while it waits.  If the call is cancelled in the meantime, the timer is
 * stopped and the client gets ARPC_S_CALL_CANCELLED (client cancel),
 * ARPC_S_TIMEOUT (deadline) or nothing (disconnect).  Any thread.  Returns
 * as arpc_call_complete(); from this point the call is finished for the
 * handler.
 */
ARPC_EXPORT int arpc_call_complete_after(struct arpc_call *call, uint32_t delay_ms, const void *data,
                             size_t len);

/* ------------------------------------------------------------------------
 * Modules.
 * ------------------------------------------------------------------------ */

/* One `key = value` line of the module's config section, other than `path`. */
typedef struct arpc_module_arg {
	const char *key;
	const char *value;
} arpc_module_arg;

/*
 * Every module defines this function.  arpcd calls it once after dlopen(),
 * on the main thread, before serving.  args[0..nargs) are the section's keys
 * (valid only during the call: copy what you keep).  Return 0, or a negative
 * errno to refuse to load (arpcd then exits with an error naming the module).
 */
ARPC_EXPORT int arpc_module_init(arpc_server *srv, const arpc_module_arg *args, size_t nargs);

/* Optional: called at shutdown after the last call has been finished. */
ARPC_EXPORT void arpc_module_fini(void);

#ifdef __cplusplus
}
#endif

#endif /* ARPC_SERVER_H */
