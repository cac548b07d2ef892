/*
 * conn.c: one client connection (see conn.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "arpcd.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "servercall.h"

/* Reads per readiness event: bounded, so one busy client cannot starve
 * the others; level-triggered I/O brings us back for the rest. */
#define READS_PER_EVENT 4
/* How often a paused connection is checked for a peer that went away. */
#define HUP_PROBE_INTERVAL 0.25

static void read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void hup_probe_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* For refusals before a conn exists: one GOAWAY, best effort, then close.
 * A fresh socket's send buffer always has room for 16 bytes. */
static void refuse_fd(int fd, uint32_t status)
{
	uint8_t frame[WIRE_HEADER_SIZE];
	wire_pack_control(frame, WIRE_GOAWAY, 0, status);
	ssize_t w = send(fd, frame, sizeof(frame), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w; /* the peer may already be gone: nothing else to tell it */
	close(fd);
}

static void start_idle_timer(struct conn *c)
{
	uint32_t ms = c->srv->cfg->idle_timeout_ms;
	if (ms == 0 || ev_is_active(&c->idle))
		return;
	c->last_active = ev_now(c->srv->loop);
	ev_timer_set(&c->idle, ms / 1000.0, 0.0);
	ev_timer_start(c->srv->loop, &c->idle);
}

/* ------------------------------------------------------------------------
 * Memory budgets
 *
 * Everything a connection makes arpcd hold is charged to it: its record,
 * its call table, its receive buffer (whole frames and the one being
 * read), its output queue, and the calls in its table (record, timer and
 * request, by servercall.c).  The sum over connections, plus calls that
 * outlived theirs, is the server's total.  Memory is taken at two points
 * only, both on the loop: a read into the receive buffer, and a call made
 * of a frame.  Each is allowed (may_take) or the connection stops reading
 * until enough is released: the socket's own flow control pushes back.
 *
 *   - A connection holding max_connection_memory stops, unless it has no
 *     call in flight and no output queued: such a connection may always
 *     read one frame, or it could never make progress.
 *   - The first three quarters of max_total_memory are first come, first
 *     served.  The last quarter is a reserve shared equally: there a
 *     connection may take memory only while it holds less than the
 *     reserve divided by the connections open.  Clients that push at the
 *     budget hold more than that, so they stop at three quarters, and a
 *     client that holds little still gets its calls in.  Nothing passes
 *     max_total_memory.
 * ------------------------------------------------------------------------ */

void mem_charge(struct server *srv, struct conn *c, int64_t delta)
{
	if (c)
		c->mem += (uint64_t)delta;
	srv->mem_charged += (uint64_t)delta;
	if (delta < 0)
		srv->mem_freed = 1;
	else if (srv->mem_charged > srv->mem_peak)
		srv->mem_peak = srv->mem_charged;
}

void mem_uncharge_conn(struct conn *c, uint64_t bytes)
{
	c->mem -= bytes;
}

/* Recomputes what the connection itself holds (not its calls). */
static void recount(struct conn *c)
{
	uint64_t own = sizeof(*c) + ALLOC_OVERHEAD + c->dec.cap + c->out.mem;
	if (c->calls.cap)
		own += (uint64_t)c->calls.cap * sizeof(*c->calls.slots) + ALLOC_OVERHEAD;
	if (own != c->mem_own) {
		mem_charge(c->srv, c, (int64_t)own - (int64_t)c->mem_own);
		c->mem_own = own;
	}
}

static int holds_nothing(const struct conn *c)
{
	return c->calls.count == 0 && outq_empty(&c->out);
}

/* Whether c may take `need` more bytes (see above). */
static int may_take(const struct conn *c, uint64_t need)
{
	const struct server *srv = c->srv;
	const struct config *cfg = srv->cfg;
	uint64_t total = srv->mem_charged + need, reserve = cfg->max_total_memory / 4;
	if (!holds_nothing(c) && c->mem + need > cfg->max_connection_memory)
		return 0;
	if (total <= cfg->max_total_memory - reserve)
		return 1;
	uint32_t n = srv->st.connections ? srv->st.connections : 1;
	return total <= cfg->max_total_memory && c->mem + need <= reserve / n;
}

/*
 * The most the next read can add to the receive buffer.  The decoder
 * (lib/wire.c) grows before a read, by doubling from 16 KiB, to room for
 * what is buffered plus 1 KiB, or for the whole frame whose header is in;
 * never past one frame of the largest size.  A bound, not the exact figure:
 * twice what it makes room for, at least 16 KiB, at most that largest frame.
 */
static uint64_t read_need(const struct conn *c)
{
	const struct wire_decoder *d = &c->dec;
	uint64_t buffered = d->end - d->start, want = buffered + 1024;
	if (buffered >= WIRE_HEADER_SIZE) {
		uint64_t frame = WIRE_HEADER_SIZE + (uint64_t)wire_get32(d->buf + d->start);
		if (frame > want)
			want = frame;
	}
	uint64_t most = 2 * (d->start + want), limit = WIRE_HEADER_SIZE + (uint64_t)d->max_body;
	if (most < 16384)
		most = 16384;
	if (most > limit)
		most = limit;
	return most > d->cap ? most - d->cap : 0;
}

/* What the next buffered frame costs as a call, or 0 if no whole frame is
 * buffered (the header says its size before the body is there). */
static uint64_t frame_need(const struct conn *c)
{
	size_t buffered = wire_decoder_buffered(&c->dec);
	if (buffered < WIRE_HEADER_SIZE)
		return 0;
	uint32_t body = wire_get32(c->dec.buf + c->dec.start);
	if (buffered - WIRE_HEADER_SIZE < body)
		return 0;
	return servercall_cost(body);
}

static void pause_reading(struct conn *c);

/* Stops reading c until enough memory is released. */
static void budget_pause(struct conn *c)
{
	struct server *srv = c->srv;
	/* An empty receive buffer need not be kept while nothing is read. */
	if (wire_decoder_buffered(&c->dec) == 0 && c->dec.cap) {
		wire_decoder_free(&c->dec);
		recount(c);
	}
	if (!c->budget_wait) {
		c->budget_wait = 1;
		TAILQ_INSERT_TAIL(&srv->budget_wait, c, budget_link);
		srv->st.budget_pauses++;
		srv->st.budget_paused++;
		log_debug("%s: holds %llu bytes (all connections: %llu): reading paused for the "
		          "memory budget",
		          c->peer, (unsigned long long)c->mem, (unsigned long long)srv->mem_charged);
	}
	pause_reading(c);
}

static void budget_unwait(struct conn *c)
{
	if (!c->budget_wait)
		return;
	c->budget_wait = 0;
	TAILQ_REMOVE(&c->srv->budget_wait, c, budget_link);
	c->srv->st.budget_paused--;
}

void conn_new(struct server *srv, int fd, int is_unix, const char *tcp_peer)
{
	const char *why;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		log_warnx("cannot take a new connection: out of memory, closing it");
		close(fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->id = ++srv->next_conn_id;
	snprintf(c->peer, sizeof(c->peer), "conn %llu (tcp %s)", (unsigned long long)c->id,
	         tcp_peer ? tcp_peer : "?");
	c->is_unix = is_unix != 0;
	if (is_unix) {
		int r = access_read_peer(c);
		if (r < 0) {
			errno = -r;
			log_warn("conn %llu: cannot read the peer's credentials, closing",
			         (unsigned long long)c->id);
			close(fd);
			free(c);
			return;
		}
	}
	if (!access_allowed(srv->cfg, c, &why)) {
		log_notice("%s: refused: %s", c->peer, why);
		refuse_fd(fd, ARPC_S_ACCESS_DENIED);
		free(c);
		return;
	}
	wire_decoder_init(&c->dec, (uint32_t)srv->cfg->max_frame);
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	ev_init(&c->idle, idle_cb);
	ev_timer_init(&c->hup_probe, hup_probe_cb, HUP_PROBE_INTERVAL, HUP_PROBE_INTERVAL);
	c->rio.data = c->wio.data = c->idle.data = c->hup_probe.data = c;
	ev_io_start(srv->loop, &c->rio);
	start_idle_timer(c);
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->st.connections++;
	srv->st.connections_total++;
	recount(c);
	log_debug("%s: connected", c->peer);
}

void conn_refuse(int fd, uint32_t status)
{
	refuse_fd(fd, status);
}

static void mark_flush(struct conn *c)
{
	if (!c->on_flush && !c->closed) {
		TAILQ_INSERT_TAIL(&c->srv->flush, c, flush_link);
		c->on_flush = 1;
	}
}

void conn_close_later(struct conn *c, const char *why)
{
	if (c->closed || c->close_now)
		return;
	c->close_now = 1;
	c->close_why = why;
	if (!c->paused) {
		ev_io_stop(c->srv->loop, &c->rio);
		c->paused = 1;
	}
	mark_flush(c);
}

static void queued(struct conn *c)
{
	recount(c);
	if (c->out.bytes > c->srv->cfg->max_output_buffer) {
		log_warnx("%s: %zu bytes of replies unread (over max_output_buffer), disconnecting",
		          c->peer, c->out.bytes);
		conn_close_later(c, "output buffer over max_output_buffer");
	}
	mark_flush(c);
}

static size_t reply_prefix_len(uint32_t status)
{
	return WIRE_HEADER_SIZE + (status == ARPC_S_APP_FAULT ? 4u : 0u);
}

void conn_queue_reply(struct conn *c, uint32_t id, uint32_t status, uint32_t fault,
                      const void *data, size_t len)
{
	if (c->closed)
		return;
	size_t plen = reply_prefix_len(status);
	uint8_t *p = outq_reserve(&c->out, plen + len);
	if (!p) {
		log_warnx("%s: out of memory for a reply, disconnecting", c->peer);
		conn_close_later(c, "out of memory");
		return;
	}
	wire_pack_reply_prefix(p, id, status, fault, len);
	if (len)
		memcpy(p + plen, data, len);
	queued(c);
}

void conn_queue_reply_chunk(struct conn *c, uint32_t id, uint32_t status, uint32_t fault,
                            struct ochunk *ch)
{
	if (c->closed) {
		ochunk_free(ch);
		return;
	}
	size_t plen = reply_prefix_len(status);
	ch->off -= plen;
	wire_pack_reply_prefix(ch->data + ch->off, id, status, fault, ch->len);
	ch->len += plen;
	outq_append_chunk(&c->out, ch);
	queued(c);
}

void conn_queue_control(struct conn *c, uint8_t type, uint32_t call_id, uint32_t word)
{
	if (c->closed)
		return;
	uint8_t *p = outq_reserve(&c->out, WIRE_HEADER_SIZE);
	if (!p) {
		log_warnx("%s: out of memory for a %s frame, disconnecting", c->peer,
		          wire_type_name(type));
		conn_close_later(c, "out of memory");
		return;
	}
	wire_pack_control(p, type, call_id, word);
	queued(c);
}

/*
 * Whether the peer is gone altogether, not just done sending.  A unix
 * socket tells the two apart: POLLHUP once the peer closed, POLLRDHUP alone
 * after its shutdown(SHUT_WR) (it still reads: its calls are answered).
 * Over TCP both are a FIN, and a client that died is far likelier than
 * one that half-closed: gone.  POLLRDHUP shows even with unread bytes in
 * the way.
 */
static int peer_gone(const struct conn *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLRDHUP};
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (pfd.revents & (POLLHUP | POLLERR))
		return 1;
	return !c->is_unix && (pfd.revents & POLLRDHUP);
}

/* Reading is paused (the in-flight limit, or for good after a protocol
 * error), so EOF would go unseen until a call finishes, and a client that
 * left would keep its handlers running. */
static void hup_probe_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	if (peer_gone(c))
		conn_close(c, "closed by the peer (seen while reading was paused)");
}

static void pause_reading(struct conn *c)
{
	if (c->paused)
		return;
	c->paused = 1;
	ev_io_stop(c->srv->loop, &c->rio);
	ev_timer_again(c->srv->loop, &c->hup_probe);
	if (!c->broken)
		log_debug("%s: %u calls in flight: reading paused", c->peer, c->calls.count);
}

/* Resumes reading paused by the in-flight limit or a memory budget, if
 * both allow (not after the peer's end of stream: nothing more will come). */
static void maybe_resume_reading(struct conn *c)
{
	if (!c->paused || c->close_now || c->broken || c->read_eof ||
	    c->calls.count >= c->srv->cfg->max_inflight)
		return;
	if (c->budget_wait) {
		uint64_t need = frame_need(c);
		if (!may_take(c, need ? need : read_need(c)))
			return;
		budget_unwait(c);
	}
	c->paused = 0;
	ev_timer_stop(c->srv->loop, &c->hup_probe);
	ev_io_start(c->srv->loop, &c->rio);
	/* Frames already buffered wait for no new bytes: look at them now
	 * (from the loop, not from inside this call's completion). */
	ev_feed_event(c->srv->loop, &c->rio, EV_READ);
}

void conn_call_done(struct conn *c, uint32_t id)
{
	idmap_remove(&c->calls, id);
	/* Its reply is traffic: the idle period starts again from here, or a
	 * client's next call could meet a GOAWAY right after a long call. */
	c->last_active = ev_now(c->srv->loop);
	maybe_resume_reading(c);
	if (c->draining)
		mark_flush(c);
}

/* Decodes and dispatches every whole frame in the buffer, up to the
 * in-flight limit. */
static void process_frames(struct conn *c)
{
	struct wire_frame f;
	uint64_t now = 0;
	while (!c->closed && !c->broken) {
		if (c->calls.count >= c->srv->cfg->max_inflight) {
			pause_reading(c);
			return;
		}
		uint64_t need = frame_need(c);
		if (need && !may_take(c, need)) {
			budget_pause(c);
			return;
		}
		int r = wire_decoder_next(&c->dec, &f);
		if (r == 0)
			return;
		if (r == WIRE_E_NOMEM) {
			log_warnx("%s: out of memory for the receive buffer, disconnecting", c->peer);
			conn_close(c, "out of memory");
			return;
		}
		if (r < 0) {
			conn_protocol_error(c, "%s", wire_error_message(r));
			return;
		}
		if (!now)
			now = now_ns(); /* once per batch: no clock read per frame */
		dispatch_frame(c, &f, now);
		if (!c->closed)
			recount(c); /* the call table may have grown */
	}
}

/*
 * The peer will send nothing more.  If it shut down only its writing side
 * (shutdown(SHUT_WR)) on a unix socket, it still reads: the calls it made
 * are answered, then the connection closes, as after our GOAWAY.  A peer
 * that is gone (peer_gone) has its calls cancelled at once.
 */
static void peer_eof(struct conn *c)
{
	if ((c->calls.count == 0 && outq_empty(&c->out)) || peer_gone(c)) {
		conn_close(c, "closed by the peer");
		return;
	}
	log_debug("%s: end of stream with %u calls in flight: answering them, then closing",
	          c->peer, c->calls.count);
	c->read_eof = 1;
	c->draining = 1; /* no GOAWAY: the peer is done sending anyway */
	/* Paused for good; the probe still sees the peer leave altogether. */
	pause_reading(c);
	mark_flush(c); /* closes now if nothing is left to wait for */
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	process_frames(c); /* what a resume left buffered */
	for (int i = 0; i < READS_PER_EVENT && !c->closed && !c->paused; i++) {
		size_t room;
		if (!may_take(c, read_need(c))) {
			budget_pause(c);
			return;
		}
		uint8_t *space = wire_decoder_space(&c->dec, &room);
		recount(c); /* the buffer may have grown, or been released */
		if (!space) {
			process_frames(c); /* reports the decoder's error, if any */
			return;
		}
		ssize_t n = read(c->fd, space, room);
		if (n > 0) {
			wire_decoder_commit(&c->dec, (size_t)n);
			c->last_active = ev_now(loop);
			process_frames(c);
			if ((size_t)n < room)
				return; /* the socket is drained */
		} else if (n == 0) {
			peer_eof(c);
			return;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else if (errno != EINTR) {
			conn_close(c, strerror(errno));
			return;
		}
	}
}

/* After output was written: close what is due. */
static void after_write(struct conn *c)
{
	if (c->close_now)
		conn_close(c, c->close_why);
	else if (c->draining && c->calls.count == 0 && outq_empty(&c->out))
		conn_close(c, "drained after GOAWAY");
}

static void write_out(struct conn *c)
{
	size_t before = c->out.bytes;
	int r = outq_flush(&c->out, c->fd);
	if (r < 0) {
		conn_close(c, r == -EPIPE || r == -ECONNRESET ? "closed by the peer" : strerror(-r));
		return;
	}
	recount(c);
	if (c->out.bytes < before)
		c->last_active = ev_now(c->srv->loop); /* the peer reads: not idle */
	if (r == 1 && !c->writing) {
		c->writing = 1;
		ev_io_start(c->srv->loop, &c->wio);
	} else if (r == 0 && c->writing) {
		c->writing = 0;
		ev_io_stop(c->srv->loop, &c->wio);
	}
	if (r == 0 || c->close_now)
		after_write(c);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	write_out(w->data);
}

void conns_flush(struct server *srv)
{
	struct conn *c;
	while ((c = TAILQ_FIRST(&srv->flush))) {
		TAILQ_REMOVE(&srv->flush, c, flush_link);
		c->on_flush = 0;
		if (c->writing && !c->close_now)
			continue; /* wio is on it */
		write_out(c);
	}
}

void conn_protocol_error(struct conn *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	if (c->closed || c->broken)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: protocol error: %s; sending GOAWAY, closing after %u calls in flight",
	          c->peer, msg, c->calls.count);
	c->srv->st.protocol_errors++;
	/* The stream cannot be read past the bad frame, ever. */
	c->broken = 1;
	pause_reading(c);
	/* GOAWAY's call_id promises the calls already accepted: they are
	 * answered, then the connection closes (docs/protocol.md). */
	c->draining = 1;
	conn_queue_control(c, WIRE_GOAWAY, c->max_call_id, ARPC_S_PROTOCOL_ERROR);
}

void conn_goaway(struct conn *c, uint32_t status)
{
	if (c->closed || c->draining)
		return;
	c->draining = 1;
	conn_queue_control(c, WIRE_GOAWAY, c->max_call_id, status);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	uint32_t ms = c->srv->cfg->idle_timeout_ms;
	if (ms == 0)
		return; /* turned off by a reload */
	ev_tstamp timeout = ms / 1000.0;
	ev_tstamp left = c->last_active + timeout - ev_now(loop);
	/* libev's "be smart about timeouts": reads only store a time stamp;
	 * the timer re-arms itself for whatever is left. */
	if (left <= 0 && c->calls.count > 0) {
		c->last_active = ev_now(loop); /* waiting on us is not idling */
		left = timeout;
	}
	if (left > 0) {
		ev_timer_set(w, left, 0.0);
		ev_timer_start(loop, w);
		return;
	}
	if (!outq_empty(&c->out)) {
		/* Replies wait and the peer took none of them for the whole
		 * timeout: that is idling too, and a GOAWAY would wait behind
		 * them for ever. */
		log_warnx("%s: %zu bytes of replies unread for %u ms, disconnecting", c->peer,
		          c->out.bytes, ms);
		conn_close(c, "not reading its replies");
		return;
	}
	log_debug("%s: idle for %u ms, closing", c->peer, ms);
	conn_goaway(c, ARPC_S_OK);
}

void conn_close(struct conn *c, const char *why)
{
	struct server *srv = c->srv;
	if (c->closed)
		return;
	c->closed = 1;
	log_debug("%s: closed: %s", c->peer, why);
	ev_io_stop(srv->loop, &c->rio);
	ev_io_stop(srv->loop, &c->wio);
	ev_timer_stop(srv->loop, &c->idle);
	ev_timer_stop(srv->loop, &c->hup_probe);
	budget_unwait(c);
	if (c->on_flush) {
		TAILQ_REMOVE(&srv->flush, c, flush_link);
		c->on_flush = 0;
	}
	close(c->fd);
	c->fd = -1;
	TAILQ_REMOVE(&srv->conns, c, link);
	TAILQ_INSERT_TAIL(&srv->dead, c, link);
	srv->st.connections--;

	/* Detach every call before cancelling any: a cancel callback may finish
	 * another call of this connection, which must then not look for it in
	 * a table being walked. */
	struct idmap calls = c->calls;
	memset(&c->calls, 0, sizeof(c->calls));
	for (uint32_t i = 0; i < calls.cap; i++)
		if (calls.slots[i].val)
			servercall_detach(calls.slots[i].val);
	for (uint32_t i = 0; i < calls.cap; i++)
		if (calls.slots[i].val)
			servercall_cancel(calls.slots[i].val, ARPC_CANCEL_DISCONNECT);
	for (uint32_t i = 0; i < calls.cap; i++)
		if (calls.slots[i].val)
			servercall_release(calls.slots[i].val);
	idmap_free(&calls);
	server_call_retired(srv);
}

void conns_free_dead(struct server *srv)
{
	struct conn *c;
	int freed = 0;
	while ((c = TAILQ_FIRST(&srv->dead))) {
		TAILQ_REMOVE(&srv->dead, c, link);
		wire_decoder_free(&c->dec);
		outq_free(&c->out);
		/* Its calls went off it when they were detached: what is left
		 * is its own. */
		mem_charge(srv, NULL, -(int64_t)c->mem);
		free(c);
		freed = 1;
	}
#ifdef HAVE_MALLOC_TRIM
	/* The last client just went: give the buffers of a busy spell back to
	 * the system, which free() alone leaves to fragmentation in the heap.
	 * Once, not at every turn of the idle loop. */
	if (freed && srv->st.connections == 0 && srv->st.calls_inflight == 0)
		malloc_trim(0);
#else
	(void)freed;
#endif
}

void conns_budget_resume(struct server *srv)
{
	struct conn *c, *next;
	if (!srv->mem_freed)
		return;
	srv->mem_freed = 0;
	/* Oldest first.  Each resumed connection is checked again at its
	 * next read and call, so resuming too many at once costs a pause, never
	 * memory past the budget. */
	for (c = TAILQ_FIRST(&srv->budget_wait); c; c = next) {
		next = TAILQ_NEXT(c, budget_link);
		maybe_resume_reading(c);
	}
}

void conns_apply_config(struct server *srv)
{
	struct conn *c;
	TAILQ_FOREACH(c, &srv->conns, link) {
		wire_decoder_set_max_body(&c->dec, (uint32_t)srv->cfg->max_frame);
		/* The timer may be set for the old, longer timeout: idle_cb
		 * measures from last_active with the new one and re-arms. */
		if (ev_is_active(&c->idle) && srv->cfg->idle_timeout_ms) {
			ev_timer_stop(srv->loop, &c->idle);
			ev_timer_set(&c->idle, 0.0, 0.0);
			ev_timer_start(srv->loop, &c->idle);
		}
		start_idle_timer(c);
		maybe_resume_reading(c);
	}
}
