/*
 * harness.h: what integration tests need to run a real arpcd and talk to
 * it, for the daemon's tests and the client library's alike.
 *
 * A harness is a temporary directory (mkdtemp) holding a config that
 * listens on a unix socket inside it, arpcd's log (its stderr), and a
 * datagram socket that arpcd's sd_notify messages go to, so starting waits
 * for READY=1 rather than polling.  arpcd is $ARPC_TOP_BUILDDIR/daemon/arpcd.
 * Every wait is bounded; harness_cleanup() kills what is left and removes
 * the directory, so tests call it from their teardown, which cmocka runs
 * on failures too.
 *
 * The raw wire client (wc_*) speaks the protocol with lib/wire.h and
 * nothing else, so tests can send exactly the bytes they mean.
 */
#ifndef ARPC_TEST_HARNESS_H
#define ARPC_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

/* Bound on every wait: start-up, shutdown, a reply. */
#define HARNESS_TIMEOUT_MS 10000

struct harness {
	char dir[40];
	char sock[64];      /* DIR/arpcd.sock */
	char endpoint[72];  /* "unix:DIR/arpcd.sock" */
	char conf[64];      /* DIR/arpcd.conf */
	char log[64];       /* DIR/arpcd.log: arpcd's stdout and stderr */
	char notify[64];    /* DIR/notify.sock */
	int notify_fd;
	pid_t pid;          /* 0 when not running */
	/* Set after harness_init, if at all: a NULL-terminated command that
	 * arpcd runs under (valgrind and its options), and the bound on
	 * start-up and shutdown for a daemon that slow (0: HARNESS_TIMEOUT_MS). */
	const char *const *wrapper;
	int wait_ms;
	/* Set after harness_init, if at all: arpcd's RLIMIT_NOFILE (soft and
	 * hard), set in the child before exec; 0: the test's own. */
	unsigned long nofile_soft, nofile_hard;
};

/*
 * Makes the directory and writes DIR/arpcd.conf:
 *     [daemon]
 *     listen = unix:DIR/arpcd.sock
 *     demo_methods = yes      (left out if `extra` mentions demo_methods)
 * then `extra` (may be NULL) verbatim: it may go on with [daemon] keys and
 * open other sections.  Does not start arpcd.  Returns 0, or -1 (printed).
 */
int harness_init(struct harness *h, const char *extra);

/* Starts arpcd -c DIR/arpcd.conf [args...] and waits for READY=1.  `args`
 * is NULL or a NULL-terminated list of extra arguments.  Returns 0, or -1
 * (arpcd's log is printed, and it is killed). */
int harness_start(struct harness *h, const char *const *args);

/* SIGTERM, then waits for arpcd to exit (SIGKILL after HARNESS_TIMEOUT_MS).
 * Returns its exit status, 128 + signal if a signal ended it, or -1 if it
 * had to be killed.  A status other than 0 prints its log. */
int harness_stop(struct harness *h);

/* Sends `sig` and reaps arpcd (SIGKILL fallback); returns as harness_stop. */
int harness_kill(struct harness *h, int sig);

/* Waits for arpcd to exit on its own; returns as harness_stop. */
int harness_wait_exit(struct harness *h, int timeout_ms);

/* Starts arpcd again, same directory, config and socket (after a kill). */
int harness_restart(struct harness *h);

/* Kills arpcd if it runs, removes the directory.  Safe to call twice. */
void harness_cleanup(struct harness *h);

/* Writes DIR/name with `text`; its path goes to path[0..len). 0 or -1. */
int harness_write_file(struct harness *h, const char *name, const char *text, char *path,
                       size_t len);

/* The arpcd executable's path. */
const char *harness_arpcd(void);

/* Runs arpcd with argv (argv[0] ignored), collecting its stdout and stderr
 * into out[0..len) (NUL-terminated).  Returns its exit status, or -1. */
int harness_run(const char *const *argv, char *out, size_t len);

/* Runs the program argv[0] (a path) with argv, environment `env` added
 * (NULL or NULL-terminated "K=V" strings; a bare "K" unsets K), collecting
 * stdout and stderr into out[0..len) (NUL-terminated), within timeout_ms
 * (then killed).  Returns its exit status, 128 + signal, or -1. */
int harness_run_program(const char *const *argv, const char *const *env, char *out, size_t len,
                        int timeout_ms);

/* Whether arpcd's log contains `needle`. */
int harness_log_contains(const struct harness *h, const char *needle);

/* A counter of sys.stats (asked on a new connection), or -1. */
long long harness_stat(const struct harness *h, const char *key);

/* Polls cond(arg) every millisecond until it holds or ms pass. */
int harness_wait_until(int (*cond)(void *arg), void *arg, int ms);

/* Whether sys.stats `key` is `want` within ms (harness_wait_until). */
int harness_wait_stat(const struct harness *h, const char *key, long long want, int ms);

/* Whether arpcd's log contains `needle` within ms (harness_wait_until). */
int harness_wait_log(const struct harness *h, const char *needle, int ms);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t harness_now_ms(void);

/* Milliseconds left until `end` (harness_now_ms() terms), 0 once past it.
 * A loop that waits for several messages takes its bound from one `end`
 * set before it, so that the whole wait is bounded, not each message: a
 * daemon that keeps talking (STATUS=, WATCHDOG=1) cannot stretch it. */
int harness_ms_left(int64_t end);

/* A TCP port nothing listens on right now on 127.0.0.1 (the kernel's pick),
 * or -1 (printed). */
int harness_free_tcp_port(void);

/* This host's first IPv4 address other than loopback, as text into
 * out[0..len): 1, or 0 if it has none. */
int harness_non_loopback_addr(char *out, size_t len);

/* The path of the executable `name` in $PATH, else in /usr/bin, /bin,
 * /usr/sbin or /sbin, into out[0..len): 0, or -1 ("" in out) if none. */
int harness_find_program(const char *name, char *out, size_t len);

/* A "VmRSS"-style field of /proc/PID/status in KiB, or -1. */
long harness_proc_status_kb(pid_t pid, const char *field);

/* ------------------------------------------------------------------------
 * The raw wire client.
 * ------------------------------------------------------------------------ */

struct wc {
	int fd;
	struct wire_decoder dec;
};

/* A frame read by wc_read; data is malloc'd (wc_frame_free). */
struct wc_frame {
	uint8_t type;
	uint16_t flags;
	uint32_t call_id;
	uint32_t word;  /* REPLY, GOAWAY: the status */
	uint32_t fault; /* REPLY with ARPC_S_APP_FAULT */
	uint8_t *data;
	size_t len;
};

/* Connects to "unix:/path" or "tcp:host:port".  0, or -1 with errno. */
int wc_connect(struct wc *c, const char *endpoint);
void wc_close(struct wc *c);

/* Writes all n bytes (bounded).  0 or -1. */
int wc_send_raw(struct wc *c, const void *buf, size_t n);
int wc_send_request(struct wc *c, uint32_t id, const char *method, const void *payload,
                    size_t len, uint32_t deadline_ms, uint16_t flags);
/* A request whose payload is one u32 LE (demo.async_delay, demo.sleep). */
int wc_send_u32(struct wc *c, uint32_t id, const char *method, uint32_t v);
int wc_send_control(struct wc *c, uint8_t type, uint32_t id);

/* Reads the next frame: 1, 0 on EOF (or ECONNRESET), -1 on timeout or a
 * decoding error. */
int wc_read(struct wc *c, struct wc_frame *f, int timeout_ms);
void wc_frame_free(struct wc_frame *f);

/* Reads the next frame, which must be the REPLY to `id` with `status` and,
 * if `detail` is not NULL, that payload: 0 if it is, -1 (printed) if not. */
int wc_expect_reply(struct wc *c, uint32_t id, uint32_t status, const char *detail);

/* Sends a PING and reads the next frame, which must be its PONG: 0 if it
 * is, -1 (printed) if anything else came first, or nothing. */
int wc_ping(struct wc *c, uint32_t id);

/* Sends a request and reads its reply, which must be the next frame.
 * Returns the reply's status (word), or -1. */
int wc_call(struct wc *c, uint32_t id, const char *method, const void *payload, size_t len,
            struct wc_frame *reply);

#endif
