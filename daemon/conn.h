/*
 * conn.h: one client connection, owned by the loop thread.
 *
 * A connection reads into its wire_decoder, decodes every whole frame of a
 * read, dispatches them, and queues replies in its outq; the server's
 * `prepare` watcher flushes each connection with pending output once per
 * loop iteration.  States: open -> draining (GOAWAY sent: no new calls,
 * closed once in-flight calls are answered and output flushed) -> closed
 * (socket closed, calls detached, memory freed later by `prepare`, so no
 * caller up the stack is left holding a freed connection).
 */
#ifndef ARPCD_CONN_H
#define ARPCD_CONN_H

#include <ev.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "idmap.h"
#include "outq.h"
#include "wire.h"

struct server;

struct conn {
	struct server *srv;
	TAILQ_ENTRY(conn) link;       /* srv->conns, then srv->dead */
	TAILQ_ENTRY(conn) flush_link; /* srv->flush while on_flush */
	uint64_t id;
	int fd;
	char peer[80];                /* "uid 1000 pid 42" or "tcp 127.0.0.1:5000" */
	int has_cred;
	pid_t pid;
	uid_t uid;
	gid_t gid;

	ev_io rio, wio;
	ev_timer idle;
	ev_timer hup_probe;           /* while paused: did the peer go away? */
	ev_tstamp last_active;

	struct wire_decoder dec;
	struct idmap calls;           /* outstanding calls by id */
	struct outq out;
	uint32_t max_call_id;         /* last id accepted: GOAWAY's call_id */

	/* Memory budget: what this connection makes arpcd hold.  mem_own is
	 * the record, the call table, the receive buffer and the output
	 * queue; mem adds the calls in the table (their records and requests). */
	uint64_t mem;
	uint64_t mem_own;
	TAILQ_ENTRY(conn) budget_link; /* srv->budget_wait while budget_wait */

	unsigned on_flush : 1;
	unsigned paused : 1;          /* reading stopped: in-flight limit or memory budget */
	unsigned budget_wait : 1;     /* paused (also) for a memory budget */
	unsigned writing : 1;         /* wio active: the socket was full */
	unsigned draining : 1;        /* GOAWAY sent */
	unsigned close_now : 1;       /* close at the next flush (after writing what we can) */
	unsigned closed : 1;
	unsigned broken : 1;          /* protocol error: never read again; drain, close */
	unsigned read_eof : 1;        /* the peer half-closed: answering, then closing */
	unsigned is_unix : 1;         /* a unix socket: half-close and close differ */
	const char *close_why;
};

/* Takes an accepted socket; refuses it (GOAWAY, close) if access says so.
 * is_unix: whether to read SO_PEERCRED. */
void conn_new(struct server *srv, int fd, int is_unix, const char *tcp_peer);

/* Refuses an accepted socket that never became a conn: GOAWAY, close. */
void conn_refuse(int fd, uint32_t status);

/* Queues a REPLY.  Never fails: when out of memory the connection is
 * closed instead (at the next flush).  Loop thread. */
void conn_queue_reply(struct conn *c, uint32_t id, uint32_t status, uint32_t fault,
                      const void *data, size_t len);
/* Queues a REPLY whose data is in `ch` at ch->off (with room before it
 * for the header); takes ownership of ch. */
void conn_queue_reply_chunk(struct conn *c, uint32_t id, uint32_t status, uint32_t fault,
                            struct ochunk *ch);
/* Queues a header-only frame (PONG, GOAWAY). */
void conn_queue_control(struct conn *c, uint8_t type, uint32_t call_id, uint32_t word);

/* A call left c's table: resume reading if it was paused for the in-flight
 * limit, and let a draining connection close. */
void conn_call_done(struct conn *c, uint32_t id);

/* The peer broke the protocol: log, stop reading for good, GOAWAY
 * (PROTOCOL_ERROR); close once the calls already accepted are answered. */
void conn_protocol_error(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends GOAWAY with `status` and stops taking calls; closes once drained. */
void conn_goaway(struct conn *c, uint32_t status);

/* Closes at once: stops watchers, closes the socket, cancels its calls
 * (ARPC_CANCEL_DISCONNECT), and queues the memory for `prepare`. */
void conn_close(struct conn *c, const char *why);

/* Asks for a close at the next flush, after writing what can be written. */
void conn_close_later(struct conn *c, const char *why);

/* The `prepare` step: flush every connection with output; close or free
 * what is due. */
void conns_flush(struct server *srv);
void conns_free_dead(struct server *srv);

/*
 * Memory budgets.  mem_charge adds delta bytes to c (NULL: a call that
 * outlived its connection) and to the server's total; mem_uncharge_conn
 * takes bytes off c alone, when a call it charged leaves its table but is
 * still alive (the total keeps them until the call is freed).
 */
void mem_charge(struct server *srv, struct conn *c, int64_t delta);
void mem_uncharge_conn(struct conn *c, uint64_t bytes);

/* The `prepare` step: resume connections paused for a budget, if memory
 * was released since they paused. */
void conns_budget_resume(struct server *srv);

/* A reload changed the limits: apply max_frame and the idle timeout. */
void conns_apply_config(struct server *srv);

#endif
