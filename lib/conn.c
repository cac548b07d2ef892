/*
 * conn.c: one connection to arpcd: sending requests, reading replies,
 * failing every call exactly once when the connection dies.  Everything
 * here runs with the binding's mutex held (internal.h, "Locking"); the
 * watcher callbacks at the end run on the I/O thread and take it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* The largest reply body the client accepts: far above any server's
 * max_frame, but a bound on what a broken server can make us allocate. */
#define CLIENT_MAX_BODY (64u * 1024u * 1024u)
#define TABLE_INITIAL_SIZE 64u
/* Reads per wake before the loop moves on to other work. */
#define READS_PER_WAKE 16
/* A connection nobody watched for this long is checked before reuse. */
#define IDLE_PROBE_NS 1000000000ull
/* Frames the peer makes us send (PONGs) that may wait to be written before
 * we stop reading: a peer that sends PINGs and never reads then meets
 * backpressure instead of growing our output queue (gRPC's rule for
 * "induced" frames).  1024 PONGs are 16 KiB. */
#define INDUCED_MAX 1024u

static void rio_cb(struct ev_loop *loop, ev_io *w, int revents);
static void wio_cb(struct ev_loop *loop, ev_io *w, int revents);
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

struct conn *conn_new(struct arpc_binding *b, int fd)
{
	struct conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	conn->table = calloc(TABLE_INITIAL_SIZE, sizeof(*conn->table));
	if (!conn->table) {
		free(conn);
		return NULL;
	}
	conn->table_size = TABLE_INITIAL_SIZE;
	conn->b = b;
	binding_ref(b);
	conn->fd = fd;
	conn->last_used = now_ns();
	wire_decoder_init(&conn->in, CLIENT_MAX_BODY);
	list_init(&conn->followers);
	list_init(&conn->oneway);
	list_node_init(&conn->kick_link);
	list_node_init(&conn->dead_link);
	list_node_init(&conn->cork_link);
	list_push_back(&b->conns, &conn->b_link);
	ev_io_init(&conn->rio, rio_cb, fd, EV_READ);
	ev_io_init(&conn->wio, wio_cb, fd, EV_WRITE);
	ev_init(&conn->deadline_timer, timer_cb);
	conn->rio.data = conn->wio.data = conn->deadline_timer.data = conn;
	return conn;
}

/* On the I/O thread, once the conn is dead and nobody reads it. */
void conn_destroy(struct conn *conn)
{
	struct ev_loop *loop = conn->b->ctx->loop;
	ev_io_stop(loop, &conn->rio);
	ev_io_stop(loop, &conn->wio);
	ev_timer_stop(loop, &conn->deadline_timer);
	close(conn->fd);
	wire_decoder_free(&conn->in);
	free(conn->out.buf);
	free(conn->table);
	free(conn->heap);
	struct arpc_binding *b = conn->b;
	free(conn);
	binding_unref(b);
}

int conn_usable(const struct conn *conn)
{
	return conn && !conn->dead && !conn->goaway;
}

/* ---- output queue ------------------------------------------------------ */

static size_t outq_len(const struct outq *q)
{
	return q->end - q->start;
}

static int outq_reserve(struct outq *q, size_t more)
{
	if (q->cap - q->end >= more)
		return 0;
	size_t len = outq_len(q);
	if (q->start > 0) {
		memmove(q->buf, q->buf + q->start, len);
		q->start = 0;
		q->end = len;
		if (q->cap - q->end >= more)
			return 0;
	}
	size_t ncap = q->cap ? q->cap * 2 : 4096;
	while (ncap - len < more)
		ncap *= 2;
	uint8_t *nbuf = realloc(q->buf, ncap);
	if (!nbuf)
		return -1;
	q->buf = nbuf;
	q->cap = ncap;
	return 0;
}

static void outq_append(struct outq *q, const void *p, size_t n)
{
	memcpy(q->buf + q->end, p, n);
	q->end += n;
}

/* ---- who does what next ------------------------------------------------ */

static int on_iothread(const struct conn *conn)
{
	return ctx_on_thread(conn->b->ctx);
}

/* Queued output gets written: at the end of the current batch when we are
 * on the I/O thread (so that many replies' follow-up requests go out in one
 * write), else by the I/O thread's write watcher. */
static void want_write(struct conn *conn)
{
	if (on_iothread(conn))
		ctx_cork(conn->b->ctx, conn);
	else if (!conn->iot_writing)
		ctx_kick(conn->b->ctx, conn, KICK_WRITE);
}

/* Outstanding asynchronous calls need someone reading the socket. */
static void want_reader(struct conn *conn)
{
	if (conn->thread_readers > 0 || conn->iot_reading)
		return;
	if (on_iothread(conn))
		conn_iot_apply_locked(conn, KICK_READ);
	else
		ctx_kick(conn->b->ctx, conn, KICK_READ);
}

int conn_read_paused(const struct conn *conn)
{
	return conn->induced >= INDUCED_MAX;
}

/* n more bytes are on the wire.  Once the PONGs we were made to queue are
 * out, reading resumes if it had paused for them. */
static void note_written(struct conn *conn, size_t n)
{
	int was_paused = conn_read_paused(conn);
	conn->written_total += n;
	if (conn->induced && conn->written_total >= conn->induced_end) {
		conn->induced = 0;
		if (was_paused && conn->n_async > 0)
			want_reader(conn);
	}
}

static void want_timer(struct conn *conn)
{
	if (on_iothread(conn))
		conn_iot_apply_locked(conn, KICK_TIMER);
	else
		ctx_kick(conn->b->ctx, conn, KICK_TIMER);
}

/* ---- sending ----------------------------------------------------------- */

/* Consumes `sent` bytes: first from the output queue, whose bytes were
 * ahead on the wire, then from iov[0..n), queuing what is left of it. */
static void account_sent(struct conn *conn, size_t sent, const struct iovec *iov, int n)
{
	struct outq *q = &conn->out;
	size_t from_q = sent < outq_len(q) ? sent : outq_len(q);
	q->start += from_q;
	sent -= from_q;
	if (outq_len(q) == 0)
		q->start = q->end = 0;
	for (int i = 0; i < n; i++) {
		size_t len = iov[i].iov_len;
		if (sent >= len) {
			sent -= len;
			continue;
		}
		outq_append(q, (const uint8_t *)iov[i].iov_base + sent, len - sent);
		sent = 0;
	}
}

/* One sendmsg of the output queue followed by iov[0..n), from an
 * application thread.  Returns the bytes written (0 when the socket is
 * full), or -1 when the connection is dead. */
static ssize_t send_direct(struct conn *conn, const struct iovec *iov, int n)
{
	struct iovec all[4];
	int k = 0;
	if (outq_len(&conn->out) > 0)
		all[k++] = (struct iovec){ conn->out.buf + conn->out.start, outq_len(&conn->out) };
	for (int i = 0; i < n && k < 4; i++)
		all[k++] = iov[i];
	/* sendmsg, not writev: MSG_NOSIGNAL, so a dead peer is EPIPE for us
	 * rather than SIGPIPE for the application. */
	struct msghdr mh = { .msg_iov = all, .msg_iovlen = (size_t)k };
	ssize_t w;
	do
		w = sendmsg(conn->fd, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	return w > 0 ? w : 0;
}

/*
 * Sends iov[0..n) (total bytes; n <= 3).  An application thread writes it
 * straight to the socket, after whatever is queued ahead of it, unless the
 * I/O thread is already waiting to write or `hold` asks to gather it with
 * the requests that follow (ARPC_CALL_MORE); the I/O thread gathers its own
 * output until the end of its batch.  Room for all of it is reserved first,
 * so a request is never left half-written for lack of memory.  Returns 0;
 * -ENOMEM (nothing sent or queued); -EPIPE when the connection turned out
 * dead: nothing of these bytes is on the wire, and the caller must fail the
 * conn.
 */
static int conn_send_locked(struct conn *conn, const struct iovec *iov, int n, size_t total,
                            int hold)
{
	if (outq_reserve(&conn->out, total) < 0)
		return -ENOMEM;
	size_t sent = 0;
	int direct = !on_iothread(conn) && !conn->iot_writing;
	if (direct && !hold) {
		ssize_t w = send_direct(conn, iov, n);
		if (w < 0)
			return -EPIPE; /* the caller fails the conn */
		sent = (size_t)w;
		note_written(conn, sent);
	}
	conn->queued_total += total;
	account_sent(conn, sent, iov, n);
	if (direct && hold)
		return 0; /* until a later write or arpc_binding_flush() */
	/* The rest of the bytes, and one-way calls, which complete once
	 * written, are the I/O thread's. */
	if (outq_len(&conn->out) > 0 || !list_empty(&conn->oneway))
		want_write(conn);
	return 0;
}

/* arpc_binding_flush for one conn: held requests go out now. */
void conn_flush_held_locked(struct conn *conn)
{
	if (conn->dead || outq_len(&conn->out) == 0)
		return;
	/* Nothing of its own to add: what is queued goes out as before a call. */
	if (conn_send_locked(conn, NULL, 0, 0, 0) == -EPIPE)
		conn_fail_locked(conn, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
}

/* A CANCEL or PONG: best effort, as the peer copes with its absence. */
static void send_control_locked(struct conn *conn, uint8_t type, uint32_t id)
{
	uint8_t frame[WIRE_HEADER_SIZE];
	wire_pack_control(frame, type, id, 0);
	struct iovec iov = { frame, sizeof(frame) };
	int r = conn_send_locked(conn, &iov, 1, sizeof(frame), 0);
	if (r == -EPIPE) {
		conn_fail_locked(conn, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
		return;
	}
	if (r == 0 && type == WIRE_PONG && conn->written_total < conn->queued_total) {
		conn->induced++;
		conn->induced_end = conn->queued_total;
	}
}

/* Ids go up by one per call and come round after 2^32 of them
 * (docs/protocol.md, "Call ids"): 0 is never used, nor an id still
 * outstanding.  *seq counts every id issued, so it orders calls across the
 * wrap. */
static uint32_t alloc_id(struct conn *conn, uint64_t *seq)
{
	for (;;) {
		uint64_t s = ++conn->id_seq;
		uint32_t id = (uint32_t)s;
		if (id != 0 && !calltab_find(conn, id)) {
			*seq = s;
			return id;
		}
	}
}

int conn_test_set_next_id(struct arpc_binding *b, uint32_t id)
{
	pthread_mutex_lock(&b->mu);
	struct conn *conn = b->conn;
	if (conn) {
		/* Forward only, so seqs keep their order. */
		uint64_t s = (conn->id_seq & ~(uint64_t)UINT32_MAX) | (uint64_t)id;
		if (s <= conn->id_seq)
			s += (uint64_t)UINT32_MAX + 1;
		conn->id_seq = s - 1;
	}
	pthread_mutex_unlock(&b->mu);
	return conn ? 0 : -1;
}

size_t conn_test_outq_len(struct arpc_binding *b)
{
	pthread_mutex_lock(&b->mu);
	size_t n = b->conn ? outq_len(&b->conn->out) : 0;
	pthread_mutex_unlock(&b->mu);
	return n;
}

static uint32_t deadline_word(uint64_t deadline)
{
	if (!deadline)
		return 0;
	uint64_t now = now_ns();
	uint64_t ms = deadline > now ? (deadline - now + 999999u) / 1000000u : 1;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Takes a call out of every index of its conn. */
static void detach_call(struct conn *conn, struct call *c)
{
	calltab_remove(conn, c);
	deadlines_remove(conn, c);
	if (list_linked(&c->link))
		list_remove(&c->link);
}

/*
 * Reads what the socket holds from a thread that is not its reader: a
 * submission that found the socket closed, the probe of an idle conn.
 * It counts as the conn's reader meanwhile, because the I/O thread
 * destroys a failed conn that nobody reads, and we still look at it.  With
 * `then_fail` the conn is failed afterwards.  Returns the reason of a
 * GOAWAY the server sent (ARPC_S_OK for none, or a plain close).  The conn
 * may be gone when it returns, if it failed.
 */
static arpc_status read_unwatched_locked(struct conn *conn, int then_fail)
{
	int reader = conn->thread_readers == 0;
	if (reader)
		conn->thread_readers = 1;
	conn_read_locked(conn);
	arpc_status reason = conn->goaway ? conn->goaway_status : ARPC_S_OK;
	if (then_fail)
		conn_fail_locked(conn, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
	if (reader)
		conn_release_reader_locked(conn); /* retires it if it failed */
	return reason;
}

arpc_status conn_submit_locked(struct conn *conn, struct call *c, const char *method,
                               size_t method_len, const void *req, size_t req_len)
{
	int oneway = (c->flags & CALL_ONEWAY) != 0;
	uint8_t prefix[WIRE_REQUEST_PREFIX_MAX];

	c->id = alloc_id(conn, &c->seq);
	size_t plen = wire_pack_request_prefix(prefix, c->id, oneway ? WIRE_FLAG_ONEWAY : 0,
	                                       deadline_word(c->deadline), method, method_len,
	                                       req_len);
	if (plen == 0)
		return ARPC_S_INVALID_ARG;
	if (c->deadline && c->async && deadlines_push(conn, c) < 0)
		return ARPC_S_NO_MEMORY;
	if (oneway)
		list_push_back(&conn->oneway, &c->link);
	else
		calltab_insert(conn, c);
	c->conn = conn;
	c->end_offset = conn->queued_total + plen + req_len;

	struct iovec iov[2] = { { prefix, plen }, { (void *)(uintptr_t)req, req_len } };
	int r = conn_send_locked(conn, iov, req_len ? 2 : 1, plen + req_len,
	                         (c->flags & CALL_MORE) != 0);
	if (r < 0) {
		/* Not on the wire: the call was never accepted.  It leaves the conn
		 * before the conn fails, so that only the others are notified. */
		detach_call(conn, c);
		c->conn = NULL;
		if (r == -ENOMEM)
			return ARPC_S_NO_MEMORY;
		/* A server that refuses a connection says why in a GOAWAY and
		 * closes at once, maybe before our first write: read it, so that
		 * the caller learns the reason rather than a lost connection. */
		arpc_status refusal = read_unwatched_locked(conn, 1);
		return refusal != ARPC_S_OK ? refusal : ARPC_S_CALL_FAILED_DNE;
	}
	conn->last_used = now_ns();
	/* One-way calls are completed by the I/O thread once written (see
	 * conn_send_locked), never on this stack. */
	if (!oneway && c->async)
		want_reader(conn);
	if (c->deadline && c->async && deadlines_min(conn) == c)
		want_timer(conn);
	return ARPC_S_OK;
}

/* ---- failing ----------------------------------------------------------- */

static arpc_status status_by_progress(const struct conn *conn, const struct call *c,
                                      arpc_status sent, arpc_status unsent)
{
	return conn->written_total >= c->end_offset ? sent : unsent;
}

void conn_fail_locked(struct conn *conn, arpc_status sent, arpc_status unsent)
{
	if (conn->dead)
		return;
	conn->dead = 1;
	/* Wakes a synchronous leader blocked in poll() on this socket. */
	(void)shutdown(conn->fd, SHUT_RDWR);
	if (conn->b->conn == conn)
		conn->b->conn = NULL;
	list_remove(&conn->b_link);

	struct call *c;
	while ((c = calltab_any(conn))) {
		detach_call(conn, c);
		call_complete_locked(c, status_by_progress(conn, c, sent, unsent));
	}
	struct list_node *n;
	while ((n = list_pop_front(&conn->oneway))) {
		c = list_entry(n, struct call, link);
		deadlines_remove(conn, c);
		call_complete_locked(c, status_by_progress(conn, c, ARPC_S_OK, unsent));
	}
	if (conn->thread_readers == 0)
		ctx_retire(conn->b->ctx, conn);
}

/* A conn that got GOAWAY and is no longer its binding's current one goes as
 * soon as its last call is answered. */
static void retire_if_drained(struct conn *conn)
{
	if (conn->goaway && !conn->dead && conn->n_calls == 0 && list_empty(&conn->oneway) &&
	    conn->b->conn != conn)
		conn_fail_locked(conn, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
}

void conn_cancel_locked(struct conn *conn, struct call *c, int abortive)
{
	if (c->flags & CALL_ONEWAY)
		return; /* nothing to cancel: it completes once written */
	if (!(c->flags & CALL_CANCEL_SENT)) {
		c->flags |= CALL_CANCEL_SENT;
		send_control_locked(conn, WIRE_CANCEL, c->id);
	}
	if (abortive && !(c->flags & CALL_COMPLETED) && c->conn == conn) {
		detach_call(conn, c);
		call_complete_locked(c, ARPC_S_CALL_CANCELLED);
		retire_if_drained(conn);
	}
}

void conn_abandon_locked(struct conn *conn, struct call *c, arpc_status st)
{
	detach_call(conn, c);
	if (st == ARPC_S_TIMEOUT && !(c->flags & CALL_ONEWAY))
		send_control_locked(conn, WIRE_CANCEL, c->id);
	call_complete_locked(c, st);
	retire_if_drained(conn);
}

static void expire_locked(struct conn *conn, uint64_t now)
{
	struct call *c;
	while (!conn->dead && (c = deadlines_min(conn)) && c->deadline <= now)
		conn_abandon_locked(conn, c, ARPC_S_TIMEOUT);
}

/* ---- receiving --------------------------------------------------------- */

static void handle_reply(struct conn *conn, const struct wire_frame *f)
{
	if (!wire_reply_status_valid(f->word)) {
		/* A status only a client may produce (a pending call, a full
		 * buffer...) would make a finished call lie about its state. */
		conn_fail_locked(conn, ARPC_S_PROTOCOL_ERROR, ARPC_S_CALL_FAILED_DNE);
		return;
	}
	struct call *c = calltab_find(conn, f->call_id);
	if (!c)
		return; /* the call was given up (abortive cancel, timeout) */
	detach_call(conn, c);
	call_complete_locked(c, call_set_reply_locked(c, f));
	retire_if_drained(conn);
}

/*
 * The seq of the last call the server accepted, from GOAWAY's call_id:
 * that call's own if it is still outstanding; else the latest seq that
 * carried this id, as requests go out in seq order and the server has
 * accepted none sent after it.  0 when it accepted none (id 0).  An id we
 * never sent counts as accepting everything: a call wrongly reported as
 * not executed could be run twice, one wrongly reported as maybe executed
 * cannot.
 */
static uint64_t accepted_seq(const struct conn *conn, uint32_t last_id)
{
	if (last_id == 0)
		return 0;
	const struct call *c = calltab_find(conn, last_id);
	if (c)
		return c->seq;
	uint32_t back = (uint32_t)conn->id_seq - last_id;
	if (back >= conn->id_seq)
		return UINT64_MAX;
	return conn->id_seq - back;
}

/* The server will answer the calls it accepted up to last_id and no
 * others: those were not executed and never will be.  They complete with
 * the server's reason, or ARPC_S_CALL_FAILED_DNE when it is only closing
 * (status 0: shutdown, idle, drain), which the application may resend. */
static void handle_goaway(struct conn *conn, uint32_t last_id, uint32_t status)
{
	if (!wire_goaway_status_valid(status)) {
		conn_fail_locked(conn, ARPC_S_PROTOCOL_ERROR, ARPC_S_CALL_FAILED_DNE);
		return;
	}
	conn->goaway = 1;
	conn->goaway_status = (arpc_status)status;
	arpc_status st = status == ARPC_S_OK ? ARPC_S_CALL_FAILED_DNE : (arpc_status)status;
	uint64_t accepted = accepted_seq(conn, last_id);
	for (size_t i = 0; i < conn->table_size; i++) {
		struct call *c = conn->table[i];
		while (c) {
			struct call *next = c->hnext;
			if (c->seq > accepted) {
				detach_call(conn, c);
				call_complete_locked(c, st);
			}
			c = next;
		}
	}
	retire_if_drained(conn);
}

static void handle_frame(struct conn *conn, const struct wire_frame *f)
{
	switch (f->type) {
	case WIRE_REPLY:
		handle_reply(conn, f);
		break;
	case WIRE_PING:
		send_control_locked(conn, WIRE_PONG, f->call_id);
		break;
	case WIRE_PONG:
		break;
	case WIRE_GOAWAY:
		handle_goaway(conn, f->call_id, f->word);
		break;
	default:
		/* REQUEST or CANCEL: a server never sends these. */
		conn_fail_locked(conn, ARPC_S_PROTOCOL_ERROR, ARPC_S_CALL_FAILED_DNE);
		break;
	}
}

/* Returns -1 when the conn died. */
static int process_frames(struct conn *conn)
{
	struct wire_frame f;
	int r;
	while ((r = wire_decoder_next(&conn->in, &f)) == 1) {
		handle_frame(conn, &f);
		if (conn->dead)
			return -1;
	}
	if (r < 0) {
		conn_fail_locked(conn, ARPC_S_PROTOCOL_ERROR, ARPC_S_CALL_FAILED_DNE);
		return -1;
	}
	return 0;
}

/* Reads what the socket has (without blocking) and handles every whole
 * frame.  EOF or an error fails the conn. */
void conn_read_locked(struct conn *conn)
{
	for (int i = 0; i < READS_PER_WAKE && !conn->dead && !conn_read_paused(conn); i++) {
		size_t room;
		uint8_t *p = wire_decoder_space(&conn->in, &room);
		if (!p) {
			conn_fail_locked(conn, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
			return;
		}
		ssize_t n = read(conn->fd, p, room);
		if (n > 0) {
			wire_decoder_commit(&conn->in, (size_t)n);
			if (process_frames(conn) < 0)
				return;
			if ((size_t)n < room)
				return; /* drained */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_fail_locked(conn, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
		return;
	}
}

/* Before reusing a conn nobody has watched for a while, see whether the
 * server said goodbye meanwhile (idle timeout, restart), so the call goes
 * to a fresh connection instead of failing. */
void conn_probe_idle_locked(struct conn *conn, uint64_t now)
{
	if (conn->dead || conn->iot_reading || conn->thread_readers || conn->n_calls ||
	    now - conn->last_used < IDLE_PROBE_NS)
		return;
	char ch;
	ssize_t n = recv(conn->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		(void)read_unwatched_locked(conn, 0);
}

/* A synchronous leader stops reading: hand the socket to a follower that
 * still waits, else to the I/O thread if asynchronous calls remain. */
void conn_release_reader_locked(struct conn *conn)
{
	conn->thread_readers = 0;
	if (conn->dead) {
		ctx_retire(conn->b->ctx, conn);
		return;
	}
	for (struct list_node *n = conn->followers.head.next; n != &conn->followers.head;
	     n = n->next) {
		struct sync_wait *sw = list_entry(n, struct sync_wait, link);
		if (!sw->done) {
			pthread_cond_signal(&sw->cv);
			return;
		}
	}
	if (conn->n_async > 0)
		want_reader(conn);
}

/* ---- the I/O thread's side --------------------------------------------- */

/* Writes the output queue until the socket is full, from any thread
 * holding b->mu.  Returns 0, or -1 when the connection failed (the caller
 * fails the conn). */
int conn_write_out_locked(struct conn *conn)
{
	struct outq *q = &conn->out;
	while (outq_len(q) > 0) {
		ssize_t w = send(conn->fd, q->buf + q->start, outq_len(q), MSG_NOSIGNAL);
		if (w > 0) {
			q->start += (size_t)w;
			note_written(conn, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	if (outq_len(q) == 0)
		q->start = q->end = 0;
	return 0;
}

/* Writes the output queue; completes one-way calls that are now written;
 * keeps the write watcher running exactly while output remains. */
static void flush_locked(struct conn *conn)
{
	struct outq *q = &conn->out;
	if (conn_write_out_locked(conn) < 0) {
		conn_fail_locked(conn, ARPC_S_CALL_FAILED, ARPC_S_CALL_FAILED_DNE);
		return;
	}

	struct list_node *n;
	while ((n = list_front(&conn->oneway))) {
		struct call *c = list_entry(n, struct call, link);
		if (conn->written_total < c->end_offset)
			break;
		detach_call(conn, c);
		call_complete_locked(c, ARPC_S_OK);
	}
	retire_if_drained(conn);
	if (conn->dead)
		return;

	struct ev_loop *loop = conn->b->ctx->loop;
	if (outq_len(q) > 0 && !conn->iot_writing) {
		ev_io_start(loop, &conn->wio);
		conn->iot_writing = 1;
	} else if (outq_len(q) == 0 && conn->iot_writing) {
		ev_io_stop(loop, &conn->wio);
		conn->iot_writing = 0;
	}
}

static void arm_timer(struct conn *conn)
{
	struct ev_loop *loop = conn->b->ctx->loop;
	struct call *c = deadlines_min(conn);
	if (!c) {
		ev_timer_stop(loop, &conn->deadline_timer);
		conn->timer_at = 0;
		return;
	}
	if (conn->timer_at == c->deadline && ev_is_active(&conn->deadline_timer))
		return;
	uint64_t now = now_ns();
	double after = c->deadline > now ? (double)(c->deadline - now) / 1e9 : 0.0;
	ev_timer_stop(loop, &conn->deadline_timer);
	ev_timer_set(&conn->deadline_timer, after, 0.0);
	ev_timer_start(loop, &conn->deadline_timer);
	conn->timer_at = c->deadline;
}

void conn_iot_apply_locked(struct conn *conn, unsigned flags)
{
	if (conn->dead)
		return;
	if ((flags & KICK_READ) && conn->thread_readers == 0 && !conn->iot_reading &&
	    !conn_read_paused(conn)) {
		ev_io_start(conn->b->ctx->loop, &conn->rio);
		conn->iot_reading = 1;
	}
	if (flags & KICK_WRITE)
		flush_locked(conn);
	if ((flags & KICK_TIMER) && !conn->dead)
		arm_timer(conn);
}

/* Flushes a corked conn at the end of the I/O thread's batch. */
void conn_uncork(struct conn *conn)
{
	struct arpc_binding *b = conn->b;
	pthread_mutex_lock(&b->mu);
	conn->corked = 0;
	if (!conn->dead)
		flush_locked(conn);
	pthread_mutex_unlock(&b->mu);
}

static void stop_reading(struct conn *conn)
{
	if (conn->iot_reading) {
		ev_io_stop(conn->b->ctx->loop, &conn->rio);
		conn->iot_reading = 0;
	}
}

static void rio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *conn = w->data;
	struct arpc_binding *b = conn->b;
	struct arpc_ctx *ctx = b->ctx;
	pthread_mutex_lock(&b->mu);
	/* A synchronous leader reads now; it hands the socket back when done. */
	if (conn->dead || conn->thread_readers > 0)
		stop_reading(conn);
	else
		conn_read_locked(conn);
	/* Paused: note_written starts the watcher again. */
	if (conn->dead || conn_read_paused(conn))
		stop_reading(conn);
	pthread_mutex_unlock(&b->mu);
	ctx_run_pending(ctx);
}

static void wio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *conn = w->data;
	struct arpc_binding *b = conn->b;
	struct arpc_ctx *ctx = b->ctx;
	pthread_mutex_lock(&b->mu);
	if (!conn->dead)
		flush_locked(conn);
	if (conn->dead && conn->iot_writing) {
		ev_io_stop(loop, &conn->wio);
		conn->iot_writing = 0;
	}
	pthread_mutex_unlock(&b->mu);
	ctx_run_pending(ctx);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *conn = w->data;
	struct arpc_binding *b = conn->b;
	struct arpc_ctx *ctx = b->ctx;
	pthread_mutex_lock(&b->mu);
	conn->timer_at = 0;
	expire_locked(conn, now_ns());
	if (!conn->dead)
		arm_timer(conn);
	pthread_mutex_unlock(&b->mu);
	ctx_run_pending(ctx);
}
