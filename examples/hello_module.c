/*
 * hello_module.c: a handler module for arpcd, the smallest useful one.
 *
 * Load it with a section of arpcd.conf:
 *
 *     [module hello]
 *     path = /usr/lib/arpc/modules/hello_module.so
 *     greeting = Hello
 *
 * It registers `hello.greet`, which answers "<greeting>, <request>" (the
 * request is the name to greet, as bytes).  Every key of the section other
 * than `path` comes to arpc_module_init(); an unknown key, or an empty
 * greeting, makes it refuse to load, so a typo in the config is an error
 * at start-up rather than a silently ignored line.
 *
 * A module uses <arpc/server.h> only, and links against nothing: arpcd
 * provides those functions when it loads the module.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <arpc/server.h>

#define DEFAULT_GREETING "Hello"

/* arpc_module_init's args die with the call: the greeting is copied. */
static char *greeting;

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
	arpc_call_complete(call, reply, glen + 2 + name_len);
	free(reply);
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
	int r = arpc_server_register(srv, "hello.greet", hello_greet, greeting,
	                             ARPC_HANDLER_INLINE);
	if (r < 0) {
		arpc_server_log(srv, LOG_ERR, "cannot register hello.greet: %s", strerror(-r));
		free(greeting);
		greeting = NULL;
		return r;
	}
	return 0;
}

void arpc_module_fini(void)
{
	free(greeting);
	greeting = NULL;
}
