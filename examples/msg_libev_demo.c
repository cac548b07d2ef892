/*
 * msg_libev_demo: ARPC_NOTIFY_MSG into a libev loop.  Completions become
 * messages {msg, async} on a queue that the program's own event loop reads
 * through <arpc/adapters/libev.h>: the Linux form of posting a message to a
 * window.
 *
 * Usage: msg_libev_demo ENDPOINT
 */
#include <arpc/adapters/libev.h>
#include <arpc/arpc.h>

#include <stdio.h>

enum { CALLS = 5, WM_ARPC_DONE = 0x8001 };

struct app {
	arpc_async a[CALLS];
	int done, failed;
};

static void on_message(arpc_ev_msgq *w, const arpc_msg *m, void *data)
{
	struct app *app = data;
	if (m->msg != WM_ARPC_DONE)
		return;
	arpc_status st = arpc_async_complete(m->async, NULL);
	printf("message %#x: call %d completed: %s\n", m->msg, (int)(m->async - app->a),
	       arpc_status_name(st));
	app->failed |= st != ARPC_S_OK;
	if (++app->done == CALLS)
		ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	fprintf(stderr, "msg_libev_demo: not every call completed in time\n");
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: msg_libev_demo ENDPOINT\n");
		return 2;
	}
	struct app app = { .done = 0 };
	arpc_binding *b;
	arpc_status st = arpc_binding_open(argv[1], &b);
	arpc_msgq *q = arpc_msgq_create();
	if (st != ARPC_S_OK || !q) {
		fprintf(stderr, "msg_libev_demo: %s: %s\n", argv[1], arpc_strerror(st));
		return 1;
	}
	struct ev_loop *loop = EV_DEFAULT;
	arpc_ev_msgq w;
	arpc_ev_msgq_start(loop, &w, q, on_message, &app);
	ev_timer guard;
	ev_timer_init(&guard, on_timeout, 10.0, 0.0);
	ev_timer_start(loop, &guard);

	for (int i = 0; i < CALLS; i++) {
		arpc_async_init(&app.a[i], sizeof(app.a[i]));
		app.a[i].notify = ARPC_NOTIFY_MSG;
		app.a[i].u.msg.queue = q;
		app.a[i].u.msg.msg = WM_ARPC_DONE;
		st = arpc_call_async(b, &app.a[i], "sys.ping", NULL, 0, NULL, 0);
		if (st != ARPC_S_OK) {
			fprintf(stderr, "msg_libev_demo: call %d not started: %s\n", i, arpc_strerror(st));
			return 1;
		}
	}
	ev_run(loop, 0);
	arpc_ev_msgq_stop(loop, &w);
	arpc_binding_close(b);
	arpc_msgq_destroy(q);
	return app.done == CALLS && !app.failed ? 0 : 1;
}
