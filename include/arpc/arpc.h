/*
 * <arpc/arpc.h>: the libarpc client API.
 *
 * libarpc makes synchronous and asynchronous remote calls to arpcd over one
 * multiplexed connection per binding, and tells the application that an
 * asynchronous call finished by the mechanism it picks in its handle:
 * polling, an eventfd, an APC queued to a thread, a completion queue, a
 * message to its event loop, or a callback.  It follows the model of
 * Microsoft RPC's RPC_ASYNC_STATE; docs/design.md maps one onto the other.
 *
 * General rules, true of every function below unless it says otherwise:
 *
 *  - Any thread may call any function.  The library never holds one of its
 *    own locks while it runs application code (APCs, callbacks), so that code
 *    may call back into the library.
 *  - A function that returns a status other than ARPC_S_OK (or the documented
 *    ARPC_S_ASYNC_CALL_PENDING / ARPC_S_APC_RAN) has changed nothing and
 *    sends no notification.
 *  - libarpc never prints; everything it knows about a failure is in the
 *    status and, for failures reported by the server, the reply's detail.
 *  - Pointers to library objects (arpc_binding, arpc_cq, arpc_msgq) must not
 *    be used after they have been closed or destroyed.
 *  - The server is not trusted further than docs/protocol.md: a status it
 *    may not send (ARPC_S_ASYNC_CALL_PENDING, or any other client-side
 *    status) fails the connection, every call on it completing with
 *    ARPC_S_PROTOCOL_ERROR (or ARPC_S_CALL_FAILED_DNE if its request was not
 *    yet written); replies are capped in size; and a server that sends PINGs
 *    without reading makes the library stop reading that connection while
 *    1024 of its PONGs wait unwritten, so its output queue stays bounded.
 *  - When the server refuses or leaves a connection (GOAWAY), the calls it
 *    never saw complete with its reason: ARPC_S_ACCESS_DENIED (allow_users),
 *    ARPC_S_SERVER_TOO_BUSY (max_connections), ARPC_S_PROTOCOL_ERROR,
 *    ARPC_S_NO_MEMORY, or ARPC_S_CALL_FAILED_DNE when it is just closing
 *    (shutdown, idle timeout).  They did not run and are not resent by the
 *    library: the application may resend them.  The next call on the binding
 *    opens a new connection.
 *  - fork(): the child starts afresh (a new I/O thread with its first
 *    binding, a new APC queue for the forking thread).  A binding opened
 *    before the fork belongs to the parent: in the child every function
 *    given it, and arpc_async_cancel() of a call the parent started, returns
 *    ARPC_S_WRONG_PROCESS at once; such a call's handle stays pending there.
 *    arpc_binding_close() of it only closes the child's copies of its
 *    sockets.  Queues (arpc_cq, arpc_msgq) made before the fork share their
 *    descriptors with the parent: make new ones in the child.
 */
#ifndef ARPC_ARPC_H
#define ARPC_ARPC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define ARPC_EXPORT __attribute__((visibility("default")))
#else
#define ARPC_EXPORT
#endif

/*
 * Status codes.  The numbers are part of the wire protocol (a REPLY carries
 * one) and never change; new codes are only appended.
 */
typedef enum arpc_status {
	ARPC_S_OK = 0,                  /* success */
	ARPC_S_ASYNC_CALL_PENDING = 1,  /* the call has not completed yet */
	ARPC_S_CALL_CANCELLED = 2,      /* cancelled by the caller, or the binding was closed */
	ARPC_S_CALL_FAILED = 3,         /* connection lost after the request was sent: it may have run */
	ARPC_S_CALL_FAILED_DNE = 4,     /* failed, and certainly did not execute */
	ARPC_S_SERVER_UNAVAILABLE = 5,  /* nothing answers at the endpoint */
	ARPC_S_SERVER_TOO_BUSY = 6,     /* the server refused the call or the connection for load */
	ARPC_S_TIMEOUT = 7,             /* the call's deadline passed */
	ARPC_S_INVALID_ASYNC_HANDLE = 8,/* handle not initialized, stale, consumed or of the wrong size */
	ARPC_S_INVALID_ASYNC_CALL = 9,  /* the operation does not fit the handle's state */
	ARPC_S_ASYNC_HANDLE_BUSY = 10,  /* the handle already has a pending call */
	ARPC_S_UNKNOWN_METHOD = 11,     /* the server has no such method */
	ARPC_S_ACCESS_DENIED = 12,      /* the server refused the caller (method or connection) */
	ARPC_S_PROTOCOL_ERROR = 13,     /* a peer broke the wire protocol */
	ARPC_S_INVALID_ARG = 14,        /* a bad argument */
	ARPC_S_NO_MEMORY = 15,          /* out of memory */
	ARPC_S_BUFFER_TOO_SMALL = 16,   /* the reply did not fit the caller's buffer */
	ARPC_S_APP_FAULT = 17,          /* the handler failed the call: see arpc_reply.fault */
	ARPC_S_APC_RAN = 18,            /* an alertable wait returned because APCs ran */
	ARPC_S_WRONG_THREAD = 19,       /* a blocking call was made on the library's I/O thread */
	ARPC_S_WRONG_PROCESS = 20,      /* the binding or call belongs to the parent of a fork() */
	ARPC_S_STATUS_MAX_              /* one past the last code; not a status */
} arpc_status;

/* A sentence describing `s` ("the call timed out").  Never NULL; static. */
ARPC_EXPORT const char *arpc_strerror(arpc_status s);
/* The constant's name ("ARPC_S_TIMEOUT").  Never NULL; static. */
ARPC_EXPORT const char *arpc_status_name(arpc_status s);

/* ------------------------------------------------------------------------
 * Bindings: a connection to one arpcd endpoint.
 * ------------------------------------------------------------------------ */

typedef struct arpc_binding arpc_binding;

/*
 * Opens a binding to `endpoint`: "unix:/path/to/socket" or "tcp:host:port"
 * (host a name or an address; IPv6 addresses in brackets, "tcp:[::1]:7000").
 * Connects at once, on the calling thread, so that a server that is not there
 * is reported here.  On success *out owns the binding until
 * arpc_binding_close().
 *
 * Returns ARPC_S_OK; ARPC_S_INVALID_ARG for a malformed endpoint;
 * ARPC_S_ACCESS_DENIED when the socket's permissions refuse the caller
 * (EACCES; a refusal by the daemon's allow_users comes with the first call
 * instead); ARPC_S_SERVER_UNAVAILABLE when nothing accepts the connection;
 * ARPC_S_NO_MEMORY.  The first binding starts the library's I/O thread.
 */
ARPC_EXPORT arpc_status arpc_binding_open(const char *endpoint, arpc_binding **out);

/*
 * Closes a binding.  Every call still pending on it completes with
 * ARPC_S_CALL_CANCELLED and is notified as usual; synchronous callers
 * blocked on it return ARPC_S_CALL_CANCELLED.  Handles stay the
 * application's: complete them as usual.
 *
 * Notifications.  When this returns, every notification of every call on
 * the binding has been sent: eventfds written, APCs, completion-queue items
 * and messages queued (they are the application's to take), and every
 * CALLBACK has run and returned, those of the calls this cancelled and those
 * already waiting on the I/O thread alike; none runs afterwards.  So the
 * application may free what its callbacks use as soon as this returns.
 * Called from a CALLBACK (on the I/O thread) it cannot wait for the others,
 * which run only once the current one returns: there, the binding's
 * remaining CALLBACKs run after it.  A CALLBACK must therefore never wait
 * for a thread that is closing its binding.
 *
 * May be called from a notification (APC, callback, message) of a call on
 * this binding.  `b` may be NULL.  After it returns, `b` must not be used by
 * any thread.
 */
ARPC_EXPORT void arpc_binding_close(arpc_binding *b);

/*
 * Writes the requests that calls made with ARPC_CALL_MORE left held on this
 * binding.  Any thread.  A connection found dead meanwhile fails those
 * calls (ARPC_S_CALL_FAILED_DNE, notified as usual).  Returns ARPC_S_OK, or
 * ARPC_S_INVALID_ARG for a NULL binding.
 */
ARPC_EXPORT arpc_status arpc_binding_flush(arpc_binding *b);

/*
 * Sets the binding's default deadline for calls whose handle says
 * timeout_ms = 0, and for synchronous calls.  0 means no deadline (the
 * default).  Applies to calls started after it returns.
 */
ARPC_EXPORT arpc_status arpc_binding_set_timeout(arpc_binding *b, uint32_t ms);

/* ------------------------------------------------------------------------
 * Asynchronous handles (RPC_ASYNC_STATE).
 * ------------------------------------------------------------------------ */

typedef enum arpc_notify_type {
	ARPC_NOTIFY_NONE = 0,      /* poll with arpc_async_get_status */
	ARPC_NOTIFY_EVENT = 1,     /* 1 is added to u.event_fd (an eventfd) */
	ARPC_NOTIFY_APC = 2,       /* u.apc.fn runs on a thread in an alertable wait */
	ARPC_NOTIFY_IOC = 3,       /* an arpc_completion is posted to u.ioc.cq */
	ARPC_NOTIFY_MSG = 4,       /* an arpc_msg is posted to u.msg.queue */
	ARPC_NOTIFY_CALLBACK = 5   /* u.callback.fn runs on the library's I/O thread */
} arpc_notify_type;

typedef enum arpc_event {
	ARPC_EVENT_CALL_COMPLETE = 1
} arpc_event;

struct arpc_async;
typedef struct arpc_cq arpc_cq;
typedef struct arpc_msgq arpc_msgq;

typedef void (*arpc_apc_fn)(struct arpc_async *a, arpc_event ev);
typedef void (*arpc_callback_fn)(struct arpc_async *a, arpc_event ev);

/*
 * The handle of one asynchronous call.  The application owns its memory;
 * it must stay valid and unmoved, with any out buffer given to
 * arpc_call_async(), from arpc_call_async() until arpc_async_complete() (or
 * arpc_async_cancel(a, 1) followed by arpc_async_complete()) has returned a
 * final status.
 *
 * States: initialized (arpc_async_init) -> pending (arpc_call_async accepted
 * the call; the library's) -> complete (a final status is readable; exactly
 * one notification has been or is being sent) -> consumed (arpc_async_complete
 * returned the final status).  A consumed or completed handle must be
 * initialized again before the next call.
 *
 * The application sets user_info, notify, the matching member of u,
 * timeout_ms and flags after arpc_async_init() and before arpc_call_async();
 * it never writes size, signature or runtime.
 */
typedef struct arpc_async {
	uint32_t size;            /* set by arpc_async_init: ABI version check */
	uint32_t signature;       /* set by arpc_async_init: detects stale handles */
	void *user_info;          /* the application's */
	arpc_notify_type notify;
	union {
		int event_fd;     /* EVENT: an eventfd the application owns */
		struct {
			arpc_apc_fn fn;
			pthread_t thread;  /* the target when to_thread != 0 */
			int to_thread;     /* 0: the thread that calls arpc_call_async */
		} apc;
		struct {
			arpc_cq *cq;
			uintptr_t key;     /* copied into the arpc_completion */
			void *tag;         /* copied into the arpc_completion */
		} ioc;
		struct {
			arpc_msgq *queue;
			uint32_t msg;      /* copied into the arpc_msg */
		} msg;
		struct {
			arpc_callback_fn fn;
		} callback;
	} u;
	uint32_t timeout_ms;      /* 0: the binding's default */
	uint32_t flags;           /* ARPC_CALL_* */
	void *runtime[8];         /* the library's; never touched by the application */
} arpc_async;

/* flags: a one-way call; the server sends no reply and the call completes
 * with ARPC_S_OK as soon as the request has been handed to the socket. */
#define ARPC_CALL_ONEWAY 0x1u

/*
 * flags: more calls follow; hold this request so that it goes out in one
 * write with them (like MSG_MORE).  An application thread that starts many
 * calls at once (a batch of completions answered with new calls) saves a
 * system call per request this way.  The held requests are written by the
 * next call on the binding made without ARPC_CALL_MORE (synchronous or
 * asynchronous, from any thread), by arpc_binding_flush(), or whenever the
 * library's I/O thread writes on the connection; until then the server has
 * not seen them, and a call's timeout runs meanwhile.  Ignored for calls
 * started on the I/O thread (from a CALLBACK), which are always gathered
 * until the end of the I/O thread's batch.
 */
#define ARPC_CALL_MORE 0x2u

/*
 * A reply.  On ARPC_S_OK, data/len is the payload: the caller's out buffer
 * when one was given, else memory the library allocated.  On
 * ARPC_S_APP_FAULT, fault is the handler's code.  On any failure the server
 * reported, detail may hold its message (NUL-terminated).  Release with
 * arpc_reply_free(), which frees only what the library allocated.
 */
typedef struct arpc_reply {
	void *data;
	size_t len;
	uint32_t fault;
	char *detail;
	void *alloc_;             /* the library's: what arpc_reply_free releases */
} arpc_reply;

/* An item of a completion queue (GetQueuedCompletionStatus's outputs). */
typedef struct arpc_completion {
	arpc_async *async;        /* NULL for items posted with arpc_cq_post that say so */
	uintptr_t key;
	void *tag;
	arpc_status status;       /* the call's final status */
} arpc_completion;

/* An item of a message queue (a posted window message). */
typedef struct arpc_msg {
	uint32_t msg;
	arpc_async *async;
} arpc_msg;

/*
 * RpcAsyncInitializeHandle.  Stamps size and signature, clears runtime and
 * flags, timeout_ms and notify; leaves user_info and u alone.  `size` must be
 * sizeof(arpc_async) as the caller was compiled with.
 *
 * Returns ARPC_S_OK; ARPC_S_INVALID_ARG if a is NULL or size is wrong;
 * ARPC_S_ASYNC_HANDLE_BUSY if the handle holds a pending call (it is left
 * untouched: re-initializing a pending handle would lose the call).
 */
ARPC_EXPORT arpc_status arpc_async_init(arpc_async *a, size_t size);

/*
 * Starts `method` on binding `b` with the request bytes req[0..req_len)
 * (copied before it returns).  The reply goes to out[0..out_cap) if out is
 * not NULL, else into memory the library allocates.
 *
 * Returns ARPC_S_OK when the call was accepted: it is pending, and exactly
 * one notification of the handle's kind will follow, whatever happens
 * (reply, fault, cancel, timeout, connection loss, binding close).  Any
 * other status means the call was not started and no notification follows:
 *   ARPC_S_INVALID_ASYNC_HANDLE  not initialized, wrong size, or used before
 *                                (re-initialize a completed handle);
 *   ARPC_S_ASYNC_HANDLE_BUSY     the handle has a pending call (left untouched);
 *   ARPC_S_INVALID_ARG           bad method name, notify kind or parameters,
 *                                an APC target thread with no APC queue, or
 *                                an APC to the calling thread from a CALLBACK
 *                                (the I/O thread never waits alertably);
 *   ARPC_S_SERVER_UNAVAILABLE    the connection could not be (re)established
 *                                (ARPC_S_ACCESS_DENIED: the socket's
 *                                permissions refused it);
 *   ARPC_S_ACCESS_DENIED, ARPC_S_SERVER_TOO_BUSY
 *                                the server refused the connection (GOAWAY)
 *                                before the request could be written;
 *   ARPC_S_CALL_FAILED_DNE       the connection failed before the request
 *                                could be written, on a new connection too;
 *   ARPC_S_CALL_CANCELLED        the binding is closing;
 *   ARPC_S_NO_MEMORY.
 * The notification is never sent before this function has returned.
 */
ARPC_EXPORT arpc_status arpc_call_async(arpc_binding *b, arpc_async *a, const char *method,
                                        const void *req, size_t req_len, void *out,
                                        size_t out_cap);

/*
 * RpcAsyncGetCallStatus: ARPC_S_ASYNC_CALL_PENDING while the call runs,
 * then its final status until the handle is consumed.  Wait-free; never
 * blocks.  ARPC_S_INVALID_ASYNC_HANDLE for a handle with no call.
 */
ARPC_EXPORT arpc_status arpc_async_get_status(const arpc_async *a);

/*
 * RpcAsyncCompleteCall.  On a pending call: returns
 * ARPC_S_ASYNC_CALL_PENDING and changes nothing.  On a completed call: fills
 * *reply (if reply is not NULL; else the payload is discarded), consumes the
 * handle and returns the call's final status: ARPC_S_OK, ARPC_S_APP_FAULT
 * (reply->fault), ARPC_S_BUFFER_TOO_SMALL (reply->len is the size needed;
 * the payload is lost), or any failure status.  Afterwards the handle must be
 * initialized again before reuse; completing it again returns
 * ARPC_S_INVALID_ASYNC_HANDLE.
 */
ARPC_EXPORT arpc_status arpc_async_complete(arpc_async *a, arpc_reply *reply);

/*
 * RpcAsyncCancelCall.  Non-abortive (abortive = 0): asks the server to
 * cancel; the call completes when the server answers, with
 * ARPC_S_CALL_CANCELLED or with its result if it finished first.
 * Abortive: the call completes at once with ARPC_S_CALL_CANCELLED (the
 * notification is sent as usual) and a late reply is discarded; the server is
 * still told.  Either way the application still waits for the notification
 * and completes the handle.
 *
 * Returns ARPC_S_OK, also for a call that already completed (harmless);
 * ARPC_S_INVALID_ASYNC_HANDLE for a handle with no call or a consumed one.
 *
 * Any thread may cancel at any moment, while the call completes and while
 * another thread (or a CALLBACK) consumes the handle: a cancel that loses
 * the race does nothing, and never touches another call.  The handle's
 * memory must stay valid until this returns.
 */
ARPC_EXPORT arpc_status arpc_async_cancel(arpc_async *a, int abortive);

/* Frees what the library allocated for a reply and clears it.  NULL is fine. */
ARPC_EXPORT void arpc_reply_free(arpc_reply *reply);

/*
 * A synchronous call: sends, waits for the reply and fills *reply (payload
 * in library memory; release with arpc_reply_free).  May be made while
 * asynchronous calls are pending on the same binding.  The deadline is the
 * binding's default (arpc_binding_set_timeout).  Returns the call's final
 * status, as arpc_async_complete would; ARPC_S_WRONG_THREAD, at once, when
 * called on the library's I/O thread (from a CALLBACK notification), which
 * must never block.
 */
ARPC_EXPORT arpc_status arpc_call(arpc_binding *b, const char *method, const void *req,
                                  size_t req_len, arpc_reply *reply);

/* ------------------------------------------------------------------------
 * APC: per-thread queues of completion routines.
 *
 * An APC runs on its target thread only while that thread is inside
 * arpc_sleep_alertable(), arpc_wait_alertable() or arpc_apc_dispatch(), in
 * the order queued.  A thread gets its queue on its first call to any of the
 * four functions below; an APC aimed at another thread that has none yet is
 * refused at submission (ARPC_S_INVALID_ARG).  APCs still queued when their
 * thread exits are dropped (counted by arpc_apc_dropped()): their calls'
 * statuses stay readable by polling.  An APC may itself wait alertably;
 * further APCs then run inside it.
 * ------------------------------------------------------------------------ */

/* SleepEx(ms, TRUE): returns ARPC_S_APC_RAN as soon as one or more APCs ran,
 * else ARPC_S_OK after `ms` milliseconds.  This and arpc_wait_alertable
 * return ARPC_S_WRONG_THREAD on the library's I/O thread (in a CALLBACK),
 * which must not block and has no APC queue. */
ARPC_EXPORT arpc_status arpc_sleep_alertable(uint32_t ms);

/* Waits up to `ms` for `fd` to become readable or for APCs (which it runs).
 * Returns ARPC_S_APC_RAN if APCs ran, ARPC_S_OK if fd is readable,
 * ARPC_S_TIMEOUT after ms (UINT32_MAX: no limit), ARPC_S_INVALID_ARG for a
 * negative fd other than -1 (which waits for APCs only). */
ARPC_EXPORT arpc_status arpc_wait_alertable(int fd, uint32_t ms);

/* This thread's APC queue fd, readable while APCs are queued; for the
 * thread's own poll loop, which then calls arpc_apc_dispatch().  Owned by the
 * library; -1 on failure (out of memory or file descriptors) and on the
 * library's I/O thread. */
ARPC_EXPORT int arpc_apc_fd(void);

/* Runs this thread's queued APCs; returns how many ran (0 or more), or -1 if
 * the thread's queue could not be created or this is the I/O thread. */
ARPC_EXPORT int arpc_apc_dispatch(void);

/* How many APCs were dropped because their thread exited. */
ARPC_EXPORT uint64_t arpc_apc_dropped(void);

/* ------------------------------------------------------------------------
 * IOC: completion queues (I/O completion ports).
 * ------------------------------------------------------------------------ */

/* Creates a completion queue; NULL when out of memory or file descriptors. */
ARPC_EXPORT arpc_cq *arpc_cq_create(void);

/*
 * Takes the oldest item, waiting up to `ms` milliseconds (0: do not wait;
 * UINT32_MAX: no limit).  Many threads may wait; each item wakes exactly
 * one.  Returns ARPC_S_OK with *out filled, or ARPC_S_TIMEOUT.
 */
ARPC_EXPORT arpc_status arpc_cq_get(arpc_cq *cq, arpc_completion *out, uint32_t ms);

/* PostQueuedCompletionStatus: queues a copy of *c.  ARPC_S_NO_MEMORY. */
ARPC_EXPORT arpc_status arpc_cq_post(arpc_cq *cq, const arpc_completion *c);

/* An fd that is readable while the queue holds items, for poll loops. */
ARPC_EXPORT int arpc_cq_fd(arpc_cq *cq);

/*
 * Destroys a queue.  No call may still be pending with this queue as its
 * target and no thread may be waiting on it.  Items left in it are dropped.
 * NULL is fine.
 */
ARPC_EXPORT void arpc_cq_destroy(arpc_cq *cq);

/* ------------------------------------------------------------------------
 * MSG: message queues, read by the application's event loop.
 * <arpc/adapters/libev.h> and <arpc/adapters/sd-event.h> attach one.
 * ------------------------------------------------------------------------ */

/* Creates a message queue; NULL when out of memory or file descriptors. */
ARPC_EXPORT arpc_msgq *arpc_msgq_create(void);

/* An fd that is readable while the queue holds messages. */
ARPC_EXPORT int arpc_msgq_fd(arpc_msgq *q);

/* Takes the oldest message without waiting: ARPC_S_OK, or ARPC_S_TIMEOUT
 * when the queue is empty. */
ARPC_EXPORT arpc_status arpc_msgq_get(arpc_msgq *q, arpc_msg *out);

/* Destroys a queue; the same rules as arpc_cq_destroy.  NULL is fine. */
ARPC_EXPORT void arpc_msgq_destroy(arpc_msgq *q);

#ifdef __cplusplus
}
#endif

#endif /* ARPC_ARPC_H */
