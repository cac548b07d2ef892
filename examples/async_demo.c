/*
 * async_demo: the Windows SDK's AsyncRPC sample, on arpc.
 *
 * Initializes an async handle whose completion is signalled on an eventfd,
 * starts demo.async_delay asynchronously, makes a synchronous demo.message
 * call while it is pending (one binding carries both), waits on the event,
 * and completes the call.
 *
 * Usage: async_demo ENDPOINT [DELAY_MS]      e.g. async_demo unix:/run/arpcd/arpcd.sock 500
 */
#include <arpc/arpc.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int fail(const char *what, const char *endpoint, arpc_status st)
{
	fprintf(stderr, "async_demo: %s on %s: %s (%s)\n", what, endpoint, arpc_strerror(st),
	        arpc_status_name(st));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: async_demo ENDPOINT [DELAY_MS]\n");
		return 2;
	}
	const char *endpoint = argv[1];
	uint32_t delay = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 500;

	arpc_binding *b;
	arpc_status st = arpc_binding_open(endpoint, &b);
	if (st != ARPC_S_OK)
		return fail("cannot open a binding", endpoint, st);

	/* RpcAsyncInitializeHandle, then the notification: an event. */
	arpc_async async;
	st = arpc_async_init(&async, sizeof(async));
	if (st != ARPC_S_OK)
		return fail("cannot initialize the handle", endpoint, st);
	async.user_info = NULL;
	async.notify = ARPC_NOTIFY_EVENT;
	async.u.event_fd = eventfd(0, EFD_CLOEXEC);
	if (async.u.event_fd < 0) {
		perror("async_demo: eventfd");
		return 1;
	}

	printf("Calling the remote procedure 'demo.async_delay' (%u ms)\n", delay);
	uint8_t req[4] = { (uint8_t)delay, (uint8_t)(delay >> 8), (uint8_t)(delay >> 16),
	                   (uint8_t)(delay >> 24) };
	st = arpc_call_async(b, &async, "demo.async_delay", req, sizeof(req), NULL, 0);
	if (st != ARPC_S_OK) /* not started: no notification will come, so no wait */
		return fail("demo.async_delay was not started", endpoint, st);

	printf("Calling the remote procedure 'demo.message'\n");
	const char *msg = "hello from async_demo";
	arpc_reply reply;
	st = arpc_call(b, "demo.message", msg, strlen(msg), &reply);
	arpc_reply_free(&reply);
	if (st != ARPC_S_OK)
		return fail("demo.message failed", endpoint, st);
	printf("While 'demo.async_delay' is running asynchronously (status: %s),\n"
	       "we still can send messages to the server in the meantime.\n",
	       arpc_status_name(arpc_async_get_status(&async)));

	printf("Waiting for the event\n");
	struct pollfd p = { .fd = async.u.event_fd, .events = POLLIN };
	if (poll(&p, 1, (int)delay * 3 + 2000) != 1) {
		/* Unlike the SDK sample, never leave a call behind. */
		fprintf(stderr, "async_demo: no completion in time; cancelling\n");
		arpc_async_cancel(&async, 1);
		poll(&p, 1, -1);
	}
	uint64_t count;
	if (read(async.u.event_fd, &count, sizeof(count)) != sizeof(count))
		perror("async_demo: read eventfd");

	st = arpc_async_complete(&async, &reply);
	printf("demo.async_delay completed: %s", arpc_status_name(st));
	if (st == ARPC_S_OK && reply.len == 4) {
		const uint8_t *d = reply.data;
		printf(", the server echoed %u ms", d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24);
	}
	printf("\n");
	arpc_reply_free(&reply);
	close(async.u.event_fd);
	arpc_binding_close(b);
	return st == ARPC_S_OK ? 0 : fail("demo.async_delay failed", endpoint, st);
}
