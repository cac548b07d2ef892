/*
 * msg_sdevent_demo: ARPC_NOTIFY_MSG into systemd's sd-event loop, through
 * <arpc/adapters/sd-event.h>.
 *
 * Usage: msg_sdevent_demo ENDPOINT
 */
#include <arpc/adapters/sd-event.h>
#include <arpc/arpc.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

enum { CALLS = 5, WM_ARPC_DONE = 0x8002 };

struct app {
	sd_event *event;
	arpc_async a[CALLS];
	int done, failed;
};

static void on_message(arpc_sd_msgq *w, const arpc_msg *m, void *data)
{
	struct app *app = data;
	arpc_reply r;
	arpc_status st = arpc_async_complete(m->async, &r);
	printf("message %#x: call %d completed: %s, echo '%.*s'\n", m->msg, (int)(m->async - app->a),
	       arpc_status_name(st), (int)r.len, r.data ? (const char *)r.data : "");
	arpc_reply_free(&r);
	app->failed |= st != ARPC_S_OK || m->msg != WM_ARPC_DONE;
	if (++app->done == CALLS)
		sd_event_exit(app->event, 0);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *data)
{
	fprintf(stderr, "msg_sdevent_demo: not every call completed in time\n");
	return sd_event_exit(((struct app *)data)->event, 1);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: msg_sdevent_demo ENDPOINT\n");
		return 2;
	}
	struct app app;
	memset(&app, 0, sizeof(app));
	arpc_binding *b;
	arpc_status st = arpc_binding_open(argv[1], &b);
	arpc_msgq *q = arpc_msgq_create();
	if (st != ARPC_S_OK || !q) {
		fprintf(stderr, "msg_sdevent_demo: %s: %s\n", argv[1], arpc_strerror(st));
		return 1;
	}
	int r = sd_event_new(&app.event);
	arpc_sd_msgq w;
	if (r >= 0)
		r = arpc_sd_msgq_attach(app.event, &w, q, on_message, &app);
	uint64_t now;
	if (r >= 0)
		r = sd_event_now(app.event, CLOCK_MONOTONIC, &now);
	if (r >= 0)
		r = sd_event_add_time(app.event, NULL, CLOCK_MONOTONIC, now + 10000000, 0, on_timeout,
		                      &app);
	if (r < 0) {
		fprintf(stderr, "msg_sdevent_demo: sd-event: %s\n", strerror(-r));
		return 1;
	}
	for (int i = 0; i < CALLS; i++) {
		char text[16];
		snprintf(text, sizeof(text), "message %d", i);
		arpc_async_init(&app.a[i], sizeof(app.a[i]));
		app.a[i].notify = ARPC_NOTIFY_MSG;
		app.a[i].u.msg.queue = q;
		app.a[i].u.msg.msg = WM_ARPC_DONE;
		st = arpc_call_async(b, &app.a[i], "demo.echo", text, strlen(text), NULL, 0);
		if (st != ARPC_S_OK) {
			fprintf(stderr, "msg_sdevent_demo: call %d not started: %s\n", i, arpc_strerror(st));
			return 1;
		}
	}
	r = sd_event_loop(app.event);
	arpc_sd_msgq_detach(&w);
	sd_event_unref(app.event);
	arpc_binding_close(b);
	arpc_msgq_destroy(q);
	return r == 0 && app.done == CALLS && !app.failed ? 0 : 1;
}
