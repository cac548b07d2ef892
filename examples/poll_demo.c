/*
 * poll_demo: ARPC_NOTIFY_NONE.  Starts several calls and polls their handles
 * with arpc_async_get_status until each is no longer pending, the way
 * RpcAsyncGetCallStatus is used.  Polling costs CPU; the other notification
 * kinds exist so that a program need not.
 *
 * Usage: poll_demo ENDPOINT
 */
#include <arpc/arpc.h>

#include <stdio.h>
#include <time.h>

enum { CALLS = 5 };

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: poll_demo ENDPOINT\n");
		return 2;
	}
	arpc_binding *b;
	arpc_status st = arpc_binding_open(argv[1], &b);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "poll_demo: %s: %s\n", argv[1], arpc_strerror(st));
		return 1;
	}
	arpc_async a[CALLS];
	for (int i = 0; i < CALLS; i++) {
		uint32_t ms = 50u * (uint32_t)(CALLS - i); /* the last finishes first */
		uint8_t req[4] = { (uint8_t)ms, (uint8_t)(ms >> 8), 0, 0 };
		arpc_async_init(&a[i], sizeof(a[i]));
		a[i].notify = ARPC_NOTIFY_NONE;
		st = arpc_call_async(b, &a[i], "demo.async_delay", req, sizeof(req), NULL, 0);
		if (st != ARPC_S_OK) {
			fprintf(stderr, "poll_demo: call %d not started: %s\n", i, arpc_strerror(st));
			return 1;
		}
	}
	int done = 0, failed = 0;
	struct timespec tick = { 0, 1000000 };
	for (int spins = 0; done < CALLS && spins < 10000; spins++) {
		for (int i = 0; i < CALLS; i++) {
			if (arpc_async_get_status(&a[i]) == ARPC_S_ASYNC_CALL_PENDING)
				continue;
			arpc_reply r;
			st = arpc_async_complete(&a[i], &r);
			if (st == ARPC_S_INVALID_ASYNC_HANDLE)
				continue; /* consumed on an earlier pass */
			printf("call %d (%u ms) completed: %s\n", i, 50u * (unsigned)(CALLS - i),
			       arpc_status_name(st));
			failed |= st != ARPC_S_OK;
			arpc_reply_free(&r);
			done++;
		}
		nanosleep(&tick, NULL);
	}
	arpc_binding_close(b);
	return done == CALLS && !failed ? 0 : 1;
}
