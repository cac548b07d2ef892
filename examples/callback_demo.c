/*
 * callback_demo: ARPC_NOTIFY_CALLBACK.  The completion routine runs on the
 * library's I/O thread; it must not block, but it may call the library:
 * here each callback completes its call and starts the next one, a chain
 * of calls driven entirely from callbacks.  The main thread waits for the
 * last one on an eventfd.
 *
 * Usage: callback_demo ENDPOINT
 */
#include <arpc/arpc.h>

#include <poll.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { CHAIN = 10 };

static arpc_binding *binding;
static arpc_async handles[CHAIN];
static int next, failed, done_fd;

static void start_next(void);

static void on_complete(arpc_async *a, arpc_event ev)
{
	arpc_status st = arpc_async_complete(a, NULL);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "callback_demo: call %d: %s\n", (int)(a - handles), arpc_strerror(st));
		failed = 1;
	}
	start_next();
}

static void start_next(void)
{
	uint64_t one = 1;
	if (next == CHAIN || failed) {
		if (write(done_fd, &one, sizeof(one)) != sizeof(one))
			perror("callback_demo: eventfd");
		return;
	}
	arpc_async *a = &handles[next++];
	arpc_async_init(a, sizeof(*a));
	a->notify = ARPC_NOTIFY_CALLBACK;
	a->u.callback.fn = on_complete;
	arpc_status st = arpc_call_async(binding, a, "sys.ping", NULL, 0, NULL, 0);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "callback_demo: call %d not started: %s\n", next - 1, arpc_strerror(st));
		failed = 1;
		if (write(done_fd, &one, sizeof(one)) != sizeof(one))
			perror("callback_demo: eventfd");
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: callback_demo ENDPOINT\n");
		return 2;
	}
	arpc_status st = arpc_binding_open(argv[1], &binding);
	if (st != ARPC_S_OK) {
		fprintf(stderr, "callback_demo: %s: %s\n", argv[1], arpc_strerror(st));
		return 1;
	}
	done_fd = eventfd(0, EFD_CLOEXEC);
	start_next();
	struct pollfd p = { .fd = done_fd, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1) {
		fprintf(stderr, "callback_demo: the chain did not finish in 10 s\n");
		return 1;
	}
	printf("%d calls chained from callbacks on the I/O thread\n", next);
	arpc_binding_close(binding);
	close(done_fd);
	return failed || next != CHAIN ? 1 : 0;
}
