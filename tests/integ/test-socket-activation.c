/*
 * Socket activation: arpcd serves the listening sockets systemd passes
 * (sd_listen_fds), here passed by systemd-socket-activate(1) exactly as a
 * socket unit would, with no PID 1 involved.
 *
 *  - a config with no listen line serves the passed socket, and leaves
 *    the socket file (systemd's) in place when it stops;
 *  - --fdname=NAME serves `listen = fd:NAME`; a passed socket bound to the
 *    path of a `listen = unix:` line (or the address of a `tcp:` line) is
 *    used for it rather than bound again; a passed socket matching no
 *    line is served too;
 *  - what cannot work fails at start with a message naming the problem:
 *    fd:NAME with no such socket, no listen line and no socket, a passed
 *    socket that is not listening, or not a stream.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include "deploy-harness.h"

static char activate[4096]; /* systemd-socket-activate's path, "" if absent */

/* Replaces the harness's config (which has a listen line) with `text`,
 * [daemon] keys only, and the demo methods on (assert_serves calls one). */
static void write_conf(struct harness *h, const char *text)
{
	char path[96], conf[1024];
	snprintf(conf, sizeof(conf), "%sdemo_methods = yes\n", text);
	assert_int_equal(harness_write_file(h, "arpcd.conf", conf, path, sizeof(path)), 0);
}

/*
 * systemd-socket-activate -l SOCK... [--fdname=NAMES] arpcd -c CONF: it
 * listens, and execs arpcd (same pid) at the first connection.
 */
static void start_activated(struct harness *h, const char *const *socks, size_t n,
                            const char *fdnames)
{
	const char *argv[24];
	char names[128];
	size_t k = 0;
	if (!activate[0])
		skip();
	argv[k++] = activate;
	for (size_t i = 0; i < n; i++) {
		argv[k++] = "-l";
		argv[k++] = socks[i];
	}
	if (fdnames) {
		snprintf(names, sizeof(names), "--fdname=%s", fdnames);
		argv[k++] = names;
	}
	argv[k++] = harness_arpcd();
	argv[k++] = "-c";
	argv[k++] = h->conf;
	argv[k] = NULL;
	struct spawn s = {.argv = argv};
	assert_int_equal(deploy_spawn(h, &s), 0);
}

/* Calls demo.echo on a connection that may be the one that activates. */
static void assert_serves(const char *endpoint)
{
	struct wc c;
	struct wc_frame f;
	assert_int_equal(wc_connect_retry(&c, endpoint, HARNESS_TIMEOUT_MS), 0);
	assert_int_equal(wc_call(&c, 7, "demo.echo", "activated", 9, &f), 0);
	assert_int_equal(f.len, 9);
	assert_memory_equal(f.data, "activated", 9);
	wc_frame_free(&f);
	wc_close(&c);
}

static void test_no_listen_line_serves_passed_socket(void **state)
{
	struct harness *h = *state;
	struct stat st;
	const char *socks[] = {h->sock};
	write_conf(h, "[daemon]\nworkers = 2\n");
	start_activated(h, socks, 1, NULL);
	assert_serves(h->endpoint);
	assert_int_equal(deploy_ping(h->endpoint), 0);
	assert_true(harness_log_contains(h, "socket 'unknown' from systemd, matching no listen line"));
	assert_int_equal(harness_stop(h), 0);
	/* The file is systemd's: arpcd must leave it for the next start. */
	assert_int_equal(lstat(h->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

static void test_fdname_serves_fd_listen_line(void **state)
{
	struct harness *h = *state;
	const char *socks[] = {h->sock};
	write_conf(h, "[daemon]\nlisten = fd:rpc\n");
	start_activated(h, socks, 1, "rpc");
	assert_serves(h->endpoint);
	assert_true(harness_log_contains(h, "socket 'rpc' from systemd, for listen = fd:rpc"));
	assert_int_equal(harness_stop(h), 0);
}

/* The unit's ListenStream= and the config's listen line name one path:
 * binding it again would find systemd's socket answering and fail. */
static void test_bound_path_matches_unix_listen_line(void **state)
{
	struct harness *h = *state;
	const char *socks[] = {h->sock};
	char conf[256];
	snprintf(conf, sizeof(conf), "[daemon]\nlisten = %s\n", h->endpoint);
	write_conf(h, conf);
	start_activated(h, socks, 1, NULL);
	assert_serves(h->endpoint);
	char want[160];
	snprintf(want, sizeof(want), "from systemd, for listen = %s", h->endpoint);
	assert_true(harness_log_contains(h, want));
	assert_int_equal(harness_stop(h), 0);
}

/* Two sockets: one for the fd: line, one that no line names; both serve,
 * and a listen line of its own is bound beside them. */
static void test_unmatched_passed_socket_served_too(void **state)
{
	struct harness *h = *state;
	char extra[96], own[96], conf[512];
	snprintf(extra, sizeof(extra), "%s/extra.sock", h->dir);
	snprintf(own, sizeof(own), "unix:%s/own.sock", h->dir);
	snprintf(conf, sizeof(conf), "[daemon]\nlisten = fd:main\nlisten = %s\n", own);
	write_conf(h, conf);
	const char *socks[] = {h->sock, extra};
	start_activated(h, socks, 2, "main:extra");
	assert_serves(h->endpoint);
	char ep[112];
	snprintf(ep, sizeof(ep), "unix:%s", extra);
	assert_serves(ep);
	assert_serves(own);
	assert_true(harness_log_contains(h, "socket 'extra' from systemd, matching no listen line"));
	assert_int_equal(harness_stop(h), 0);
}

static void test_missing_fdname_is_an_error(void **state)
{
	struct harness *h = *state;
	struct wc c;
	const char *socks[] = {h->sock};
	write_conf(h, "[daemon]\nlisten = fd:rpc\n");
	start_activated(h, socks, 1, "other");
	/* The connection starts arpcd, which refuses to run. */
	assert_int_equal(wc_connect_retry(&c, h->endpoint, HARNESS_TIMEOUT_MS), 0);
	assert_int_equal(harness_wait_exit(h, HARNESS_TIMEOUT_MS), 1);
	wc_close(&c);
	assert_true(harness_log_contains(
		h, "listen = fd:rpc: systemd passed no socket named 'rpc' (FileDescriptorName=); "
		   "sockets passed: 'other' (unix:"));
}

static void test_nothing_to_listen_on_is_an_error(void **state)
{
	struct harness *h = *state;
	const char *argv[] = {harness_arpcd(), "-c", h->conf, NULL};
	write_conf(h, "[daemon]\nworkers = 1\n");
	struct spawn s = {.argv = argv};
	assert_int_equal(deploy_spawn(h, &s), 0);
	assert_int_equal(harness_wait_exit(h, HARNESS_TIMEOUT_MS), 1);
	assert_true(harness_log_contains(h, "has no 'listen =' line and systemd passed no socket"));
}

/* Starts arpcd with a unix socket at h->sock passed by hand as fd 3,
 * named "arpcd", as a unit with Accept=yes or ListenDatagram= would. */
static void start_with_fd(struct harness *h, int type, int do_listen, const char *conf)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *argv[] = {harness_arpcd(), "-c", h->conf, NULL};
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 8), 0);
	write_conf(h, conf);
	struct spawn s = {.argv = argv, .fds = &fd, .nfds = 1, .fdnames = "arpcd"};
	assert_int_equal(deploy_spawn(h, &s), 0);
	close(fd);
}

static void test_passed_socket_not_listening(void **state)
{
	struct harness *h = *state;
	start_with_fd(h, SOCK_STREAM, 0, "[daemon]\n");
	assert_int_equal(harness_wait_exit(h, HARNESS_TIMEOUT_MS), 1);
	assert_true(harness_log_contains(h, "socket 'arpcd' passed by systemd (fd 3, unix:"));
	assert_true(harness_log_contains(h, "is not listening: arpcd needs Accept=no"));
}

static void test_passed_socket_not_stream(void **state)
{
	struct harness *h = *state;
	start_with_fd(h, SOCK_DGRAM, 0, "[daemon]\n");
	assert_int_equal(harness_wait_exit(h, HARNESS_TIMEOUT_MS), 1);
	assert_true(harness_log_contains(h, "is not a stream socket: arpcd needs ListenStream="));
}

/* The control: the same hand-passing with a listening stream socket serves. */
static void test_passed_by_hand_serves(void **state)
{
	struct harness *h = *state;
	start_with_fd(h, SOCK_STREAM, 1, "[daemon]\nlisten = fd:arpcd\n");
	assert_serves(h->endpoint);
	assert_int_equal(harness_stop(h), 0);
}

/* A passed TCP socket serves the tcp: line naming its address; binding
 * that port again beside it would fail (EADDRINUSE).  "tcp:PORT" means
 * loopback, so it names the same socket. */
static void test_tcp_passed_matches_tcp_listen_line(void **state)
{
	struct harness *h = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	const char *argv[] = {harness_arpcd(), "-c", h->conf, NULL};
	char conf[128], ep[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	unsigned port = ntohs(sa.sin_port);
	snprintf(conf, sizeof(conf), "[daemon]\nlisten = tcp:%u\n", port);
	write_conf(h, conf);
	struct spawn s = {.argv = argv, .fds = &fd, .nfds = 1, .fdnames = "web"};
	assert_int_equal(deploy_spawn(h, &s), 0);
	close(fd);
	snprintf(ep, sizeof(ep), "tcp:127.0.0.1:%u", port);
	assert_serves(ep);
	snprintf(conf, sizeof(conf), "socket 'web' from systemd, for listen = tcp:%u", port);
	assert_true(harness_log_contains(h, conf));
	assert_int_equal(harness_stop(h), 0);
}

int main(void)
{
	if (harness_find_program("systemd-socket-activate", activate, sizeof(activate)) < 0)
		fprintf(stderr, "# systemd-socket-activate not found in $PATH: its tests skip\n");
	const struct CMUnitTest tests[] = {
		DEPLOY_TEST(test_no_listen_line_serves_passed_socket),
		DEPLOY_TEST(test_fdname_serves_fd_listen_line),
		DEPLOY_TEST(test_bound_path_matches_unix_listen_line),
		DEPLOY_TEST(test_unmatched_passed_socket_served_too),
		DEPLOY_TEST(test_missing_fdname_is_an_error),
		DEPLOY_TEST(test_nothing_to_listen_on_is_an_error),
		DEPLOY_TEST(test_passed_socket_not_listening),
		DEPLOY_TEST(test_passed_socket_not_stream),
		DEPLOY_TEST(test_passed_by_hand_serves),
		DEPLOY_TEST(test_tcp_passed_matches_tcp_listen_line),
	};
	return cmocka_run_group_tests_name("socket-activation", tests, NULL, NULL);
}
