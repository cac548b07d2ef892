/*
 * hello_module.c: a handler module for arpcd, the smallest useful one.
 *
 * Load it with a section of arpcd.conf:
 *
 *     [module hello]
 *     path = /usr/lib/arpc/modules/hello_module.so
 *     greeting = Hello
 *
 * It registers three methods:
 *
 *   hello.greet     answers "<greeting>, <request>" (the request is the
 *                   name to greet, as bytes); inline, on arpcd's loop.
 *   hello.later     request: u32 LE ms.  Runs on a worker, which hands the
 *                   answer (the greeting) to arpcd to send after that long
 *                   with arpc_call_complete_after() and is free at once.
 *   hello.deadline  answers the milliseconds left before the call's
 *                   deadline as u32 LE (0 if already passed), or
 *                   0xFFFFFFFF when the client set none.
 *  Every key of the section other
 * than `path` comes to arpc_module_init(); an unknown key, or an empty
 * greeting, makes it refuse to load, so a typo in the config is an error
 * at start-up rather than a silently ignored line.
 *
 * A module uses <arpc/server.h> only, and links against nothing: arpcd
 * provides those functions when it loads the module.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <arpc/server.h>

#define DEFAULT_GREETING "Hello"

/* arpc_module_init's args die with the call: the greeting is copied. */
static char *greeting;
static arpc_server *server;
static unsigned long greeted; /* loop thread only: the handler is inline */

/* Never blocks, so it is registered inline: it runs on arpcd's loop. */
static void hello_greet(struct arpc_call *call, void *data)
{
	const char *greet = data;
	size_t name_len, glen = strlen(greet);
	const char *name = arpc_call_request(call, &name_len);
	char *reply = malloc(glen + 2 + name_len);

	if (!reply) {
		arpc_call_abort(call, ARPC_S_NO_MEMORY, "hello.greet: out of memory");
		return;
	}
	memcpy(reply, greet, glen);
	memcpy(reply + glen, ", ", 2);
	memcpy(reply + glen + 2, name, name_len);
	/* Over max_frame this fails the call itself: nothing else to do. */
	if (arpc_call_complete(call, reply, glen + 2 + name_len) == 0)
		greeted++;
	free(reply);
}

static uint32_t get_u32le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32le(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* A worker handler that must not block its worker for the wait: the
 * delayed completion is a timer on arpcd's loop, and the call stays owned
 * by arpcd until then (cancelled by the client, its deadline or a
 * disconnect, the timer is stopped). */
static void hello_later(struct arpc_call *call, void *data)
{
	const char *greet = data;
	size_t len;
	const unsigned char *req = arpc_call_request(call, &len);
	if (len != 4) {
		arpc_call_abort(call, ARPC_S_INVALID_ARG, "hello.later: the request is a u32 LE delay in ms");
		return;
	}
	arpc_call_complete_after(call, get_u32le(req), greet, strlen(greet));
}

static void hello_deadline(struct arpc_call *call, void *data)
{
	unsigned char reply[4];
	uint64_t deadline = arpc_call_deadline(call);
	uint32_t left = UINT32_MAX;
	if (deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		left = deadline > now ? (uint32_t)((deadline - now) / 1000000u) : 0;
	}
	put_u32le(reply, left);
	arpc_call_complete(call, reply, sizeof(reply));
}

static int register_or_log(arpc_server *srv, const char *name, arpc_handler_fn fn, void *data,
                           uint32_t flags)
{
	int r = arpc_server_register(srv, name, fn, data, flags);
	if (r < 0)
		arpc_server_log(srv, LOG_ERR, "cannot register %s: %s", name, strerror(-r));
	return r;
}

int arpc_module_init(arpc_server *srv, const arpc_module_arg *args, size_t nargs)
{
	const char *greet = DEFAULT_GREETING;

	for (size_t i = 0; i < nargs; i++) {
		if (strcmp(args[i].key, "greeting") != 0) {
			arpc_server_log(srv, LOG_ERR, "unknown key '%s' (this module knows 'greeting')",
			                args[i].key);
			return -EINVAL;
		}
		if (!*args[i].value) {
			arpc_server_log(srv, LOG_ERR, "'greeting' is empty");
			return -EINVAL;
		}
		greet = args[i].value;
	}
	if (!(greeting = strdup(greet)))
		return -ENOMEM;
	server = srv;
	int r = register_or_log(srv, "hello.greet", hello_greet, greeting, ARPC_HANDLER_INLINE);
	if (r == 0)
		r = register_or_log(srv, "hello.later", hello_later, greeting, 0);
	if (r == 0)
		r = register_or_log(srv, "hello.deadline", hello_deadline, NULL, ARPC_HANDLER_INLINE);
	if (r < 0) {
		free(greeting);
		greeting = NULL;
		return r;
	}
	return 0;
}

/* arpcd calls it at shutdown, once no call is left. */
void arpc_module_fini(void)
{
	arpc_server_log(server, LOG_INFO, "unloading after %lu greetings", greeted);
	free(greeting);
	greeting = NULL;
}
