/*
 * arpc: the command-line client of arpcd.
 *
 *   arpc [-e ENDPOINT] [-t MS] [--json] ping | methods | stats | shutdown
 *   arpc [-e ENDPOINT] [-t MS] [--json] call METHOD [DATA] [--hex HEX | --u32 N |
 *        --file F] [--async [--notify=none|event|apc|ioc|msg|callback]]
 *   arpc [-e ENDPOINT] demo [--delay MS]
 *
 * The endpoint is -e, else $ARPC_ENDPOINT, else the default socket of the
 * installed configuration.  Exit status: 0 on success, else the class of
 * the failure (exit_code_for below, and arpc(1)).  Errors are one sentence
 * on stderr naming the endpoint and the status.
 */
#include "config.h"

#include <arpc/arpc.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "payload.h"

/* The longest a file or stdin payload may be: the daemon's default max_frame. */
#define PAYLOAD_MAX (1024u * 1024u)

struct options {
	const char *endpoint;
	uint32_t timeout_ms;
	int json;
	int async;
	arpc_notify_type notify;
	uint32_t delay_ms; /* demo */
	struct payload req;
};

static int exit_code_for(arpc_status st)
{
	switch (st) {
	case ARPC_S_OK:
		return EX_OK;
	case ARPC_S_APP_FAULT:
		return 1; /* the method ran and failed */
	case ARPC_S_UNKNOWN_METHOD:
		return 2;
	case ARPC_S_INVALID_ARG:
	case ARPC_S_BUFFER_TOO_SMALL:
		return EX_DATAERR;
	case ARPC_S_ACCESS_DENIED:
		return EX_NOPERM;
	case ARPC_S_SERVER_UNAVAILABLE:
		return EX_UNAVAILABLE;
	case ARPC_S_SERVER_TOO_BUSY:
	case ARPC_S_TIMEOUT:
		return EX_TEMPFAIL;
	case ARPC_S_CALL_FAILED:
	case ARPC_S_CALL_FAILED_DNE:
	case ARPC_S_CALL_CANCELLED:
	case ARPC_S_PROTOCOL_ERROR:
		return EX_PROTOCOL;
	default:
		return EX_SOFTWARE;
	}
}

static void usage(FILE *to)
{
	fprintf(to,
	        "usage: arpc [-e ENDPOINT] [-t MS] [--json] COMMAND [ARGS]\n"
	        "\n"
	        "commands:\n"
	        "  ping                       call sys.ping and print the round-trip time\n"
	        "  methods                    list the daemon's methods (sys.methods)\n"
	        "  stats                      print the daemon's counters (sys.stats)\n"
	        "  call METHOD [DATA]         call METHOD with DATA as the payload\n"
	        "      --hex HEX              payload from hex digits\n"
	        "      --u32 N                payload: N as a 4-byte little-endian integer\n"
	        "      --file F               payload from file F ('-': standard input)\n"
	        "      --async                make the call asynchronously...\n"
	        "      --notify=KIND          ...completed by none|event|apc|ioc|msg|callback\n"
	        "  demo [--delay MS]          the SDK's AsyncRPC sample, step by step\n"
	        "  shutdown                   ask the daemon to shut down (admin only)\n"
	        "\n"
	        "options:\n"
	        "  -e, --endpoint ENDPOINT    unix:/path or tcp:host:port (default: $ARPC_ENDPOINT,\n"
	        "                             else %s)\n"
	        "  -t, --timeout MS           give up after MS milliseconds\n"
	        "  -j, --json                 print one JSON object instead of text\n"
	        "  -h, --help                 this text\n",
	        ARPC_DEFAULT_ENDPOINT);
}

static int fail(const struct options *o, const char *what, arpc_status st, const char *detail)
{
	fprintf(stderr, "arpc: %s failed on %s: %s (%s)%s%s\n", what, o->endpoint,
	        arpc_strerror(st), arpc_status_name(st), detail ? ": " : "", detail ? detail : "");
	return exit_code_for(st);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int open_binding(const struct options *o, arpc_binding **b)
{
	arpc_status st = arpc_binding_open(o->endpoint, b);
	if (st != ARPC_S_OK)
		return fail(o, "connect", st, NULL);
	if (o->timeout_ms)
		arpc_binding_set_timeout(*b, o->timeout_ms);
	return EX_OK;
}

/* Prints a call's outcome as text or JSON; returns the exit status. */
static int report(const struct options *o, const char *method, arpc_status st,
                  const arpc_reply *r, uint64_t elapsed_us, const char *delivered)
{
	if (o->json) {
		printf("{\"endpoint\":");
		json_string(stdout, o->endpoint, strlen(o->endpoint));
		printf(",\"method\":");
		json_string(stdout, method, strlen(method));
		printf(",\"status\":\"%s\",\"code\":%d,\"elapsed_us\":%llu", arpc_status_name(st),
		       (int)st, (unsigned long long)elapsed_us);
		if (delivered)
			printf(",\"delivered\":\"%s\"", delivered);
		if (st == ARPC_S_APP_FAULT)
			printf(",\"fault\":%u", r->fault);
		if (r->detail) {
			printf(",\"detail\":");
			json_string(stdout, r->detail, strlen(r->detail));
		}
		if (st == ARPC_S_OK) {
			printf(",\"reply_hex\":\"");
			print_hex(stdout, r->data, r->len);
			printf("\"");
			if (payload_is_text(r->data, r->len)) {
				printf(",\"reply_text\":");
				json_string(stdout, r->data, r->len);
			}
		}
		printf("}\n");
		return exit_code_for(st);
	}
	if (st != ARPC_S_OK) {
		char what[300];
		snprintf(what, sizeof(what), "call %s", method);
		if (st == ARPC_S_APP_FAULT) {
			char detail[512];
			snprintf(detail, sizeof(detail), "fault code %u%s%s", r->fault,
			         r->detail ? ", " : "", r->detail ? r->detail : "");
			return fail(o, what, st, detail);
		}
		return fail(o, what, st, r->detail);
	}
	if (delivered)
		fprintf(stderr, "arpc: %s\n", delivered);
	print_payload(stdout, r->data, r->len);
	return EX_OK;
}

static int cmd_sync(const struct options *o, const char *method)
{
	arpc_binding *b;
	int rc = open_binding(o, &b);
	if (rc != EX_OK)
		return rc;
	arpc_reply r;
	uint64_t t0 = now_us();
	arpc_status st = arpc_call(b, method, o->req.data, o->req.len, &r);
	uint64_t elapsed = now_us() - t0;
	rc = report(o, method, st, &r, elapsed, NULL);
	arpc_reply_free(&r);
	arpc_binding_close(b);
	return rc;
}

static int cmd_ping(const struct options *o)
{
	arpc_binding *b;
	int rc = open_binding(o, &b);
	if (rc != EX_OK)
		return rc;
	arpc_reply r;
	uint64_t t0 = now_us();
	arpc_status st = arpc_call(b, "sys.ping", NULL, 0, &r);
	uint64_t elapsed = now_us() - t0;
	if (o->json || st != ARPC_S_OK)
		rc = report(o, "sys.ping", st, &r, elapsed, NULL);
	else
		printf("pong from %s in %llu us\n", o->endpoint, (unsigned long long)elapsed);
	arpc_reply_free(&r);
	arpc_binding_close(b);
	return rc;
}

/* ---- --async: one call through a chosen notification path ---------------- */

struct async_run {
	arpc_async a;
	int done_fd;                 /* EVENT: the library signals here */
	arpc_cq *done_cq;            /* CALLBACK: the I/O thread posts here, so that
	                              * what it wrote is ordered before main reads it */
	pthread_t caller;
	const char *how;
	char how_buf[160];
};

static void on_apc(arpc_async *a, arpc_event ev)
{
	struct async_run *run = a->user_info;
	run->how = pthread_equal(pthread_self(), run->caller)
	                   ? "completion delivered by an APC on the calling thread, run inside "
	                     "arpc_sleep_alertable"
	                   : "completion delivered by an APC on another thread (unexpected)";
}

static void on_callback(arpc_async *a, arpc_event ev)
{
	struct async_run *run = a->user_info;
	run->how = "completion delivered by a callback on the library's I/O thread";
	arpc_completion done = { .key = 2 };
	if (arpc_cq_post(run->done_cq, &done) != ARPC_S_OK)
		run->how = "callback ran, but could not signal the main thread";
}

static int wait_readable(int fd, uint32_t ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, ms == UINT32_MAX ? -1 : (int)ms);
	while (r < 0 && errno == EINTR);
	return r == 1;
}

/* Waits for the notification of run->a as its kind is received; returns 0
 * if it did not come within the limit. */
static int await_notification(struct async_run *run, arpc_cq *cq, arpc_msgq *mq, uint32_t ms)
{
	uint64_t until = ms == UINT32_MAX ? UINT64_MAX : now_us() + (uint64_t)ms * 1000u;
	switch (run->a.notify) {
	case ARPC_NOTIFY_NONE: {
		unsigned long polls = 0;
		while (arpc_async_get_status(&run->a) == ARPC_S_ASYNC_CALL_PENDING) {
			if (now_us() >= until)
				return 0;
			polls++;
			usleep(1000);
		}
		snprintf(run->how_buf, sizeof(run->how_buf),
		         "completion observed by polling arpc_async_get_status (%lu polls, 1 ms apart)",
		         polls + 1);
		run->how = run->how_buf;
		return 1;
	}
	case ARPC_NOTIFY_EVENT: {
		if (!wait_readable(run->a.u.event_fd, ms))
			return 0;
		uint64_t n = 0;
		if (read(run->a.u.event_fd, &n, sizeof(n)) != sizeof(n))
			return 0;
		snprintf(run->how_buf, sizeof(run->how_buf),
		         "completion delivered by the eventfd (counter %llu)", (unsigned long long)n);
		run->how = run->how_buf;
		return 1;
	}
	case ARPC_NOTIFY_APC:
		while (!run->how) {
			if (now_us() >= until)
				return 0;
			arpc_sleep_alertable(100);
		}
		return 1;
	case ARPC_NOTIFY_IOC: {
		arpc_completion c;
		if (arpc_cq_get(cq, &c, ms) != ARPC_S_OK)
			return 0;
		snprintf(run->how_buf, sizeof(run->how_buf),
		         "completion delivered through the completion queue (key %lu, status %s)",
		         (unsigned long)c.key, arpc_status_name(c.status));
		run->how = run->how_buf;
		return 1;
	}
	case ARPC_NOTIFY_MSG: {
		arpc_msg m;
		if (!wait_readable(arpc_msgq_fd(mq), ms) || arpc_msgq_get(mq, &m) != ARPC_S_OK)
			return 0;
		snprintf(run->how_buf, sizeof(run->how_buf),
		         "completion delivered as message %#x on the message queue", m.msg);
		run->how = run->how_buf;
		return 1;
	}
	case ARPC_NOTIFY_CALLBACK: {
		arpc_completion done;
		return arpc_cq_get(run->done_cq, &done, ms) == ARPC_S_OK;
	}
	}
	return 0;
}

static void setup_notify(struct async_run *run, arpc_notify_type kind, arpc_cq *cq,
                         arpc_msgq *mq)
{
	run->a.notify = kind;
	run->a.user_info = run;
	switch (kind) {
	case ARPC_NOTIFY_EVENT:
		run->a.u.event_fd = run->done_fd;
		break;
	case ARPC_NOTIFY_APC:
		run->a.u.apc.fn = on_apc;
		run->a.u.apc.to_thread = 0;
		break;
	case ARPC_NOTIFY_IOC:
		run->a.u.ioc.cq = cq;
		run->a.u.ioc.key = 1;
		break;
	case ARPC_NOTIFY_MSG:
		run->a.u.msg.queue = mq;
		run->a.u.msg.msg = 0x8000;
		break;
	case ARPC_NOTIFY_CALLBACK:
		run->a.u.callback.fn = on_callback;
		break;
	default:
		break;
	}
}

static int cmd_call_async(const struct options *o, const char *method)
{
	arpc_binding *b;
	int rc = open_binding(o, &b);
	if (rc != EX_OK)
		return rc;
	struct async_run run;
	memset(&run, 0, sizeof(run));
	run.caller = pthread_self();
	run.done_fd = eventfd(0, EFD_CLOEXEC);
	arpc_cq *cq = arpc_cq_create();
	arpc_msgq *mq = arpc_msgq_create();
	run.done_cq = cq;
	if (run.done_fd < 0 || !cq || !mq) {
		fprintf(stderr, "arpc: cannot create the notification objects: %s\n", strerror(errno));
		return EX_OSERR;
	}
	arpc_async_init(&run.a, sizeof(run.a));
	setup_notify(&run, o->notify, cq, mq);
	run.a.timeout_ms = o->timeout_ms;

	uint64_t t0 = now_us();
	arpc_status st = arpc_call_async(b, &run.a, method, o->req.data, o->req.len, NULL, 0);
	if (st != ARPC_S_OK) {
		char what[300];
		snprintf(what, sizeof(what), "starting %s", method);
		rc = fail(o, what, st, NULL);
	} else {
		/* Without a timeout, wait as long as the call may take. */
		uint32_t limit = o->timeout_ms ? o->timeout_ms + 5000 : UINT32_MAX;
		if (!await_notification(&run, cq, mq, limit)) {
			arpc_async_cancel(&run.a, 1);
			await_notification(&run, cq, mq, 5000);
		}
		arpc_reply r;
		st = arpc_async_complete(&run.a, &r);
		rc = report(o, method, st, &r, now_us() - t0, run.how);
		arpc_reply_free(&r);
	}
	arpc_binding_close(b);
	arpc_cq_destroy(cq);
	arpc_msgq_destroy(mq);
	close(run.done_fd);
	return rc;
}

/* ---- demo: the seed's scenario, narrated -------------------------------- */

static int cmd_demo(const struct options *o)
{
	printf("1. Open a binding to %s.\n", o->endpoint);
	arpc_binding *b;
	int rc = open_binding(o, &b);
	if (rc != EX_OK)
		return rc;

	printf("2. Initialize an async handle (arpc_async_init, like RpcAsyncInitializeHandle)\n"
	       "   and ask to be told of completion through an eventfd.\n");
	arpc_async a;
	arpc_async_init(&a, sizeof(a));
	a.notify = ARPC_NOTIFY_EVENT;
	a.u.event_fd = eventfd(0, EFD_CLOEXEC);
	if (a.u.event_fd < 0) {
		fprintf(stderr, "arpc: eventfd: %s\n", strerror(errno));
		return EX_OSERR;
	}

	printf("3. Start demo.async_delay (%u ms) asynchronously; the server completes it by a\n"
	       "   timer, holding no worker thread.\n",
	       o->delay_ms);
	uint8_t req[4];
	payload_u32(req, o->delay_ms);
	uint64_t t0 = now_us();
	arpc_status st = arpc_call_async(b, &a, "demo.async_delay", req, sizeof(req), NULL, 0);
	if (st != ARPC_S_OK)
		return fail(o, "starting demo.async_delay", st, NULL);
	printf("   arpc_call_async returned %s; the call is %s.\n", arpc_status_name(st),
	       arpc_status_name(arpc_async_get_status(&a)));

	printf("4. While it is pending, make a synchronous demo.message call on the same binding.\n");
	const char *msg = "hello from arpc demo";
	arpc_reply r;
	st = arpc_call(b, "demo.message", msg, strlen(msg), &r);
	arpc_reply_free(&r);
	if (st != ARPC_S_OK)
		return fail(o, "call demo.message", st, NULL);
	printf("   demo.message returned %s after %llu us; demo.async_delay is still %s.\n",
	       arpc_status_name(st), (unsigned long long)(now_us() - t0),
	       arpc_status_name(arpc_async_get_status(&a)));

	printf("5. Wait for the event.\n");
	if (!wait_readable(a.u.event_fd, o->delay_ms * 3 + 5000)) {
		arpc_async_cancel(&a, 1);
		wait_readable(a.u.event_fd, 5000);
		printf("   no completion in time: cancelled.\n");
	}
	uint64_t n;
	if (read(a.u.event_fd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	printf("   signalled after %llu us.\n", (unsigned long long)(now_us() - t0));

	printf("6. Complete the call (arpc_async_complete, like RpcAsyncCompleteCall).\n");
	st = arpc_async_complete(&a, &r);
	if (st == ARPC_S_OK && r.len == 4) {
		const uint8_t *d = r.data;
		printf("   %s: the server echoed %u ms.\n", arpc_status_name(st),
		       (unsigned)(d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24));
	} else {
		printf("   %s\n", arpc_status_name(st));
	}
	arpc_reply_free(&r);
	close(a.u.event_fd);
	arpc_binding_close(b);
	return st == ARPC_S_OK ? EX_OK : fail(o, "demo.async_delay", st, NULL);
}

/* ---- command line -------------------------------------------------------- */

static int parse_notify(const char *s, arpc_notify_type *out)
{
	static const struct {
		const char *name;
		arpc_notify_type kind;
	} kinds[] = {
		{ "none", ARPC_NOTIFY_NONE }, { "event", ARPC_NOTIFY_EVENT },
		{ "apc", ARPC_NOTIFY_APC },   { "ioc", ARPC_NOTIFY_IOC },
		{ "msg", ARPC_NOTIFY_MSG },   { "callback", ARPC_NOTIFY_CALLBACK },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(s, kinds[i].name) == 0) {
			*out = kinds[i].kind;
			return 0;
		}
	}
	return -1;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

enum { OPT_HEX = 256, OPT_U32, OPT_FILE, OPT_ASYNC, OPT_NOTIFY, OPT_DELAY };

static const struct option longopts[] = {
	{ "endpoint", required_argument, NULL, 'e' },
	{ "timeout", required_argument, NULL, 't' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "hex", required_argument, NULL, OPT_HEX },
	{ "u32", required_argument, NULL, OPT_U32 },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "async", no_argument, NULL, OPT_ASYNC },
	{ "notify", required_argument, NULL, OPT_NOTIFY },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ NULL, 0, NULL, 0 },
};

/* Where a call's payload comes from, when not from a DATA argument. */
struct sources {
	const char *hex, *u32, *file;
};

/* Applies one option; returns 0, EX_USAGE (said why), or -1 for --help. */
static int apply_option(int c, struct options *o, struct sources *src)
{
	switch (c) {
	case 'e':
		o->endpoint = optarg;
		return 0;
	case 't':
		if (parse_u32(optarg, &o->timeout_ms) == 0)
			return 0;
		fprintf(stderr, "arpc: --timeout wants milliseconds, not '%s'\n", optarg);
		return EX_USAGE;
	case 'j':
		o->json = 1;
		return 0;
	case 'h':
		return -1;
	case OPT_HEX:
		src->hex = optarg;
		return 0;
	case OPT_U32:
		src->u32 = optarg;
		return 0;
	case OPT_FILE:
		src->file = optarg;
		return 0;
	case OPT_ASYNC:
		o->async = 1;
		return 0;
	case OPT_NOTIFY:
		o->async = 1;
		if (parse_notify(optarg, &o->notify) == 0)
			return 0;
		fprintf(stderr, "arpc: --notify wants none, event, apc, ioc, msg or callback, not '%s'\n",
		        optarg);
		return EX_USAGE;
	case OPT_DELAY:
		if (parse_u32(optarg, &o->delay_ms) == 0)
			return 0;
		fprintf(stderr, "arpc: --delay wants milliseconds, not '%s'\n", optarg);
		return EX_USAGE;
	default:
		usage(stderr);
		return EX_USAGE;
	}
}

/* Options come before the command ("+": stop at it) and after it, mixed
 * with its arguments (GNU getopt moves those to the end).  optind = 0
 * makes getopt start afresh for the second pass. */
static int parse_options(int argc, char **argv, const char *optstring, struct options *o,
                         struct sources *src)
{
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		int r = apply_option(c, o, src);
		if (r == -1) {
			usage(stdout);
			exit(EX_OK);
		}
		if (r != 0)
			return r;
	}
	return 0;
}

static int load_payload(struct options *o, const struct sources *src, const char *method,
                        int nargs, char **args)
{
	int sources = (nargs == 2) + !!src->hex + !!src->u32 + !!src->file;
	if (sources > 1) {
		fprintf(stderr, "arpc: give the payload one way: DATA, --hex, --u32 or --file\n");
		return EX_USAGE;
	}
	const char *why = NULL;
	int r = 0;
	if (nargs == 2)
		r = payload_from_text(&o->req, args[1], &why);
	else if (src->hex)
		r = payload_from_hex(&o->req, src->hex, &why);
	else if (src->u32)
		r = payload_from_u32(&o->req, src->u32, &why);
	else if (src->file)
		r = payload_from_file(&o->req, src->file, PAYLOAD_MAX, &why);
	if (r == 0)
		return EX_OK;
	fprintf(stderr, "arpc: bad payload for %s: %s\n", method, why);
	return r == -EIO ? EX_NOINPUT : EX_USAGE;
}

int main(int argc, char **argv)
{
	struct options o = { .notify = ARPC_NOTIFY_EVENT, .delay_ms = 500 };
	struct sources src = { NULL, NULL, NULL };
	int rc = parse_options(argc, argv, "+e:t:jh", &o, &src);
	if (rc != 0)
		return rc;
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[optind];
	int rest_argc = argc - optind;
	char **rest_argv = argv + optind; /* the command stands in for argv[0] */
	rc = parse_options(rest_argc, rest_argv, "e:t:jh", &o, &src);
	if (rc != 0)
		return rc;
	if (!o.endpoint)
		o.endpoint = getenv("ARPC_ENDPOINT");
	if (!o.endpoint || !*o.endpoint)
		o.endpoint = ARPC_DEFAULT_ENDPOINT;
	int nargs = rest_argc - optind;
	char **args = rest_argv + optind;

	if (strcmp(cmd, "ping") == 0 && nargs == 0)
		return cmd_ping(&o);
	if (strcmp(cmd, "methods") == 0 && nargs == 0)
		return cmd_sync(&o, "sys.methods");
	if (strcmp(cmd, "stats") == 0 && nargs == 0)
		return cmd_sync(&o, "sys.stats");
	if (strcmp(cmd, "shutdown") == 0 && nargs == 0)
		return cmd_sync(&o, "sys.shutdown");
	if (strcmp(cmd, "demo") == 0 && nargs == 0)
		return cmd_demo(&o);
	if (strcmp(cmd, "call") == 0 && (nargs == 1 || nargs == 2)) {
		rc = load_payload(&o, &src, args[0], nargs, args);
		if (rc != EX_OK)
			return rc;
		rc = o.async ? cmd_call_async(&o, args[0]) : cmd_sync(&o, args[0]);
		payload_free(&o.req);
		return rc;
	}
	fprintf(stderr, "arpc: unknown command or wrong arguments: '%s'\n", cmd);
	usage(stderr);
	return EX_USAGE;
}
