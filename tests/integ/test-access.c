/*
 * Listeners and access (issue 3, "Loop and sockets", "Access"):
 *
 *  - a stale socket file left at the listen path is replaced at start; a
 *    live one, or a file that is not a socket, is left alone and arpcd
 *    refuses to start;
 *  - the socket file gets socket_mode and socket_group;
 *  - a TCP listener serves calls, and `tcp:PORT` binds loopback only;
 *  - allow_users that does not list the peer's uid refuses the connection
 *    (GOAWAY ARPC_S_ACCESS_DENIED, then close); one that lists it serves,
 *    and so does allow_groups listing its group;
 *  - sys.shutdown, an admin method, is refused with ARPC_S_ACCESS_DENIED
 *    when admin_users does not list the caller, and works when it does.
 *
 * The allow_users case needs a peer that is not root (root is always let
 * in): run as root, the test connects from a child that has dropped to an
 * unprivileged uid.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

/* The uid a root test run connects as, for allow_users. */
#define UNPRIVILEGED_UID 65534

static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static void ping_works(const char *endpoint)
{
	struct wc c;
	struct wc_frame f;
	assert_int_equal(wc_connect(&c, endpoint), 0);
	assert_int_equal(wc_call(&c, 1, "sys.ping", NULL, 0, &f), 0);
	wc_frame_free(&f);
	wc_close(&c);
}

/* A unix socket bound at path and closed without unlink: a dead daemon's. */
static void leave_socket_file(const char *path, int keep_listening, int *fd_out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (keep_listening) {
		assert_int_equal(listen(fd, 1), 0);
		*fd_out = fd;
	} else {
		close(fd);
	}
}

static void stale_socket_is_replaced(void **state)
{
	struct stat st;
	assert_int_equal(harness_init(&h, NULL), 0);
	leave_socket_file(h.sock, 0, NULL);
	assert_int_equal(lstat(h.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	assert_int_equal(harness_start(&h, NULL), 0);
	assert_true(harness_log_contains(&h, "removing stale socket"));
	ping_works(h.endpoint);
	assert_int_equal(harness_stop(&h), 0);
	/* And arpcd removes its own socket file when it stops. */
	assert_int_equal(lstat(h.sock, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void live_socket_or_plain_file_is_kept(void **state)
{
	char path[128];
	struct stat st;
	int fd = -1;

	assert_int_equal(harness_init(&h, NULL), 0);
	leave_socket_file(h.sock, 1, &fd);
	assert_int_equal(harness_start(&h, NULL), -1);
	assert_true(harness_log_contains(&h, "another server is listening"));
	close(fd);
	assert_int_equal(lstat(h.sock, &st), 0); /* not taken from its owner */

	assert_int_equal(unlink(h.sock), 0);
	assert_int_equal(harness_write_file(&h, "arpcd.sock", "data\n", path, sizeof(path)), 0);
	assert_int_equal(harness_start(&h, NULL), -1);
	assert_true(harness_log_contains(&h, "is not a socket"));
	assert_int_equal(lstat(h.sock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

/* The socket file gets socket_mode and socket_group. */
static void socket_mode_and_group(void **state)
{
	char extra[128];
	struct stat st;
	gid_t group = getuid() == 0 ? UNPRIVILEGED_UID : getgid();

	snprintf(extra, sizeof(extra), "socket_mode = 0604\nsocket_group = %u\n", (unsigned)group);
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(lstat(h.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_gid, group);
	ping_works(h.endpoint);
	assert_int_equal(harness_stop(&h), 0);
}

static void tcp_listener_serves_on_loopback(void **state)
{
	char extra[128], ep[128], addr[64], want[96];
	int port = harness_free_tcp_port();
	assert_true(port > 0);

	snprintf(extra, sizeof(extra), "listen = tcp:%d\n", port);
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	snprintf(want, sizeof(want), "listening on tcp:127.0.0.1:%d", port);
	assert_true(harness_log_contains(&h, want));

	snprintf(ep, sizeof(ep), "tcp:127.0.0.1:%d", port);
	ping_works(ep);
	ping_works(h.endpoint); /* the unix listener beside it */

	/* Loopback only: the host's other address does not answer. */
	if (harness_non_loopback_addr(addr, sizeof(addr))) {
		struct wc c;
		snprintf(ep, sizeof(ep), "tcp:%s:%d", addr, port);
		assert_int_equal(wc_connect(&c, ep), -1);
		assert_int_equal(errno, ECONNREFUSED);
		wc_close(&c);
	} else {
		print_message("# no non-loopback IPv4 address: loopback-only not checked\n");
	}

	/* No credentials on TCP: never an admin, even with admin_users = root. */
	struct wc c;
	struct wc_frame f;
	snprintf(ep, sizeof(ep), "tcp:127.0.0.1:%d", port);
	assert_int_equal(wc_connect(&c, ep), 0);
	assert_int_equal(wc_call(&c, 1, "sys.shutdown", NULL, 0, &f), ARPC_S_ACCESS_DENIED);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);
}

/*
 * Connects as `uid` (forking and dropping to it if that is not us) and
 * reports what the first frame was: 0 a PONG to a PING, 1 GOAWAY with
 * ARPC_S_ACCESS_DENIED then close, 2 anything else.
 */
static int connect_as(uid_t uid)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct wc c;
		struct wc_frame f;
		if (uid != getuid() &&
		    (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
			_exit(3);
		if (wc_connect(&c, h.endpoint) < 0)
			_exit(4);
		/* A refused peer may find the socket closed already (EPIPE): its
		 * GOAWAY is still there to read. */
		(void)wc_send_control(&c, WIRE_PING, 5);
		if (wc_read(&c, &f, HARNESS_TIMEOUT_MS) != 1)
			_exit(5);
		if (f.type == WIRE_PONG)
			_exit(0);
		if (f.type == WIRE_GOAWAY && f.word == ARPC_S_ACCESS_DENIED &&
		    wc_read(&c, &f, HARNESS_TIMEOUT_MS) == 0)
			_exit(1);
		_exit(2);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void allow_users_refuses_others(void **state)
{
	char extra[256];
	uid_t peer = getuid() == 0 ? UNPRIVILEGED_UID : getuid();

	/* World-reachable socket, so that an unprivileged child may connect;
	 * allow_users is what decides. */
	snprintf(extra, sizeof(extra), "socket_mode = 0666\nallow_users = %u\n",
	         (unsigned)peer + 1);
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(chmod(h.dir, 0755), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(connect_as(peer), 1);
	assert_true(harness_log_contains(&h, "refused: its uid is not in allow_users"));
	assert_int_equal(harness_stop(&h), 0);

	snprintf(extra, sizeof(extra), "[daemon]\nlisten = %s\nsocket_mode = 0666\n"
	         "allow_users = %u,%u\n", h.endpoint, (unsigned)peer + 1, (unsigned)peer);
	char path[128];
	assert_int_equal(harness_write_file(&h, "arpcd.conf", extra, path, sizeof(path)), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(connect_as(peer), 0);
	assert_int_equal(harness_stop(&h), 0);
}

static void shutdown_is_for_admins(void **state)
{
	char extra[128];
	struct wc c;
	struct wc_frame f;

	snprintf(extra, sizeof(extra), "admin_users = %u\n", (unsigned)getuid() + 1);
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_call(&c, 1, "sys.shutdown", NULL, 0, &f), ARPC_S_ACCESS_DENIED);
	wc_frame_free(&f);
	/* Still running and serving. */
	assert_int_equal(wc_call(&c, 2, "sys.ping", NULL, 0, &f), 0);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_stop(&h), 0);

	/* Listed: sys.shutdown answers, and arpcd exits 0 by itself. */
	snprintf(extra, sizeof(extra), "[daemon]\nlisten = %s\nadmin_users = %u\n", h.endpoint,
	         (unsigned)getuid());
	char path[128];
	assert_int_equal(harness_write_file(&h, "arpcd.conf", extra, path, sizeof(path)), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(wc_connect(&c, h.endpoint), 0);
	assert_int_equal(wc_call(&c, 1, "sys.shutdown", NULL, 0, &f), 0);
	wc_frame_free(&f);
	wc_close(&c);
	assert_int_equal(harness_wait_exit(&h, HARNESS_TIMEOUT_MS), 0);
}

/* allow_groups lets in a peer whose group is listed, whatever its uid. */
static void allow_groups_admits_members(void **state)
{
	char extra[256], path[128];
	uid_t peer = getuid() == 0 ? UNPRIVILEGED_UID : getuid();
	gid_t group = getuid() == 0 ? UNPRIVILEGED_UID : getgid(); /* setgid(uid) in connect_as */

	snprintf(extra, sizeof(extra), "socket_mode = 0666\nallow_users = %u\nallow_groups = %u\n",
	         (unsigned)peer + 1, (unsigned)group);
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(chmod(h.dir, 0755), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(connect_as(peer), 0);
	assert_int_equal(harness_stop(&h), 0);

	snprintf(extra, sizeof(extra), "[daemon]\nlisten = %s\nsocket_mode = 0666\n"
	         "allow_groups = %u\n", h.endpoint, (unsigned)group + 1);
	assert_int_equal(harness_write_file(&h, "arpcd.conf", extra, path, sizeof(path)), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
	assert_int_equal(connect_as(peer), 1);
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(stale_socket_is_replaced, teardown),
		cmocka_unit_test_teardown(live_socket_or_plain_file_is_kept, teardown),
		cmocka_unit_test_teardown(socket_mode_and_group, teardown),
		cmocka_unit_test_teardown(tcp_listener_serves_on_loopback, teardown),
		cmocka_unit_test_teardown(allow_users_refuses_others, teardown),
		cmocka_unit_test_teardown(allow_groups_admits_members, teardown),
		cmocka_unit_test_teardown(shutdown_is_for_admins, teardown),
	};
	return cmocka_run_group_tests_name("access", tests, NULL, NULL);
}
