/*
 * Access control with a second uid, against real arpcds (one per config).
 * Run by test-security.sh, which skips unless we are root and setpriv is
 * there: the second uid is `nobody`, and this program is also the client
 * that runs as nobody (`security-checks --client ENDPOINT METHOD`, copied
 * into the test directory so that nobody can execute it wherever the build
 * tree is).  The client prints what it got: "uid U reply S", "uid U goaway
 * S", "uid U eof" or "uid U connect-error ERRNO".
 *
 * Shown: allow_users refuses nobody (GOAWAY ACCESS_DENIED); allow_groups
 * naming nobody's group, or a supplementary group of its, lets it in;
 * sys.shutdown is refused to nobody with ACCESS_DENIED (and it may still
 * call the rest) while root may, and admin_users decides who is an admin;
 * socket_mode and socket_group are what the socket file gets, and the
 * file's permissions keep out who they should; `listen = tcp:PORT` binds
 * 127.0.0.1 only (read from /proc/net), and TCP peers are never admins and
 * are refused when an allow list is set.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpc/arpc.h>

#include "harness.h"

/* An id no account has, for the supplementary-group case. */
#define SPARE_GID 4242

static struct harness h;
static uid_t nobody_uid;
static gid_t nobody_gid;
static char nobody_group[64];
static char setpriv[256];
static char client[128];

/* ------------------------------------------------------------------------
 * The client (as nobody).
 * ------------------------------------------------------------------------ */

static int client_main(const char *endpoint, const char *method)
{
	struct wc c;
	struct wc_frame f;
	printf("uid %u ", (unsigned)getuid());
	if (wc_connect(&c, endpoint) < 0) {
		printf("connect-error %d\n", errno);
		return 0;
	}
	/* A refused peer may find the socket closed before it writes. */
	(void)wc_send_request(&c, 1, method, NULL, 0, 0, 0);
	int r = wc_read(&c, &f, HARNESS_TIMEOUT_MS);
	if (r == 1) {
		printf("%s %u\n", f.type == WIRE_REPLY ? "reply" : f.type == WIRE_GOAWAY ? "goaway" : "other",
		       f.word);
		wc_frame_free(&f);
	} else {
		printf("%s\n", r == 0 ? "eof" : "timeout");
	}
	wc_close(&c);
	return 0;
}

/* ------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------ */

/* Copies this program to DIR/client, executable by all. */
static int copy_self(const char *dir)
{
	char buf[65536];
	snprintf(client, sizeof(client), "%s/client", dir);
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int out = open(client, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ssize_t n = 0;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	int ok = in >= 0 && out >= 0 && n == 0;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "cannot copy /proc/self/exe to %s: %s\n", client, strerror(errno));
	return ok ? 0 : -1;
}

/* Starts arpcd with `extra` config lines; its directory is open to nobody. */
static void start(const char *extra)
{
	assert_int_equal(harness_init(&h, extra), 0);
	assert_int_equal(chmod(h.dir, 0755), 0);
	assert_int_equal(copy_self(h.dir), 0);
	assert_int_equal(harness_start(&h, NULL), 0);
}

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

/* Runs the client as nobody (supplementary groups: `groups`, or none) and
 * returns what it printed, without "uid U " once that is checked. */
static const char *as_nobody(const char *endpoint, const char *method, const char *groups)
{
	static char out[512];
	char reuid[32], regid[32], grp[64];
	snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned)nobody_uid);
	snprintf(regid, sizeof(regid), "--regid=%u", (unsigned)nobody_gid);
	snprintf(grp, sizeof(grp), "--groups=%s", groups ? groups : "");
	const char *argv[] = {setpriv, reuid, regid, groups ? grp : "--clear-groups", client,
	                      "--client", endpoint, method, NULL};
	int st = harness_run_program(argv, NULL, out, sizeof(out), HARNESS_TIMEOUT_MS * 2);
	if (st != 0)
		fail_msg("setpriv ... %s --client %s %s: exit status %d: %s", client, endpoint, method,
		         st, out);
	char want[32];
	snprintf(want, sizeof(want), "uid %u ", (unsigned)nobody_uid);
	if (strncmp(out, want, strlen(want)) != 0)
		fail_msg("the client did not run as nobody: %s", out);
	out[strcspn(out, "\n")] = '\0';
	return out + strlen(want);
}

/* What root (this process) gets for `method` on a new connection:
 * the reply's status, 1000 + a GOAWAY's status, or -1. */
static int as_root(const char *endpoint, const char *method)
{
	struct wc c;
	struct wc_frame f;
	int r = -1;
	if (wc_connect(&c, endpoint) < 0)
		return -1;
	(void)wc_send_request(&c, 1, method, NULL, 0, 0, 0);
	if (wc_read(&c, &f, HARNESS_TIMEOUT_MS) == 1) {
		r = f.type == WIRE_REPLY ? (int)f.word : f.type == WIRE_GOAWAY ? 1000 + (int)f.word : -1;
		wc_frame_free(&f);
	}
	wc_close(&c);
	return r;
}

#define GOAWAY(s) (1000 + (s))

/* ------------------------------------------------------------------------
 * Cases.
 * ------------------------------------------------------------------------ */

static void allow_users_refuses_nobody(void **state)
{
	start("socket_mode = 0666\nallow_users = root\n");
	assert_int_equal(as_root(h.endpoint, "sys.ping"), ARPC_S_OK);
	assert_string_equal(as_nobody(h.endpoint, "sys.ping", NULL), "goaway 12");
	assert_true(harness_log_contains(&h, "refused: its uid is not in allow_users"));
	assert_int_equal(as_root(h.endpoint, "sys.ping"), ARPC_S_OK);
	assert_int_equal(harness_stop(&h), 0);
}

static void allow_groups_admits_nobody(void **state)
{
	char extra[256];
	snprintf(extra, sizeof(extra), "socket_mode = 0666\nallow_users = root\nallow_groups = %s\n",
	         nobody_group);
	start(extra);
	assert_string_equal(as_nobody(h.endpoint, "sys.ping", NULL), "reply 0");
	assert_int_equal(harness_stop(&h), 0);
}

/* A supplementary group counts (SO_PEERGROUPS), and only while held. */
static void allow_groups_supplementary(void **state)
{
	char extra[128], gid[16];
	snprintf(extra, sizeof(extra), "socket_mode = 0666\nallow_groups = %u\n", SPARE_GID);
	snprintf(gid, sizeof(gid), "%u", SPARE_GID);
	start(extra);
	assert_string_equal(as_nobody(h.endpoint, "sys.ping", NULL), "goaway 12");
	assert_string_equal(as_nobody(h.endpoint, "sys.ping", gid), "reply 0");
	assert_int_equal(harness_stop(&h), 0);
}

/* sys.shutdown: refused to nobody (who may still call the rest); root's
 * shuts the daemon down. */
static void admin_methods(void **state)
{
	start("socket_mode = 0666\n");
	assert_string_equal(as_nobody(h.endpoint, "sys.shutdown", NULL),
	                    "reply 12"); /* ARPC_S_ACCESS_DENIED */
	assert_string_equal(as_nobody(h.endpoint, "sys.ping", NULL), "reply 0");
	assert_int_equal(as_root(h.endpoint, "sys.ping"), ARPC_S_OK); /* still running */
	assert_true(harness_log_contains(&h, "'sys.shutdown' is for admin_users only"));
	assert_int_equal(as_root(h.endpoint, "sys.shutdown"), ARPC_S_OK);
	assert_int_equal(harness_wait_exit(&h, HARNESS_TIMEOUT_MS), 0);
}

/* admin_users decides: nobody listed may shut down; root, not listed, may not. */
static void admin_users_decides(void **state)
{
	start("socket_mode = 0666\nadmin_users = nobody\n");
	assert_int_equal(as_root(h.endpoint, "sys.shutdown"), ARPC_S_ACCESS_DENIED);
	assert_string_equal(as_nobody(h.endpoint, "sys.shutdown", NULL), "reply 0");
	assert_int_equal(harness_wait_exit(&h, HARNESS_TIMEOUT_MS), 0);
}

static void socket_mode_and_group(void **state)
{
	char extra[128];
	struct stat st;
	snprintf(extra, sizeof(extra), "socket_mode = 0660\nsocket_group = %s\n", nobody_group);
	start(extra);
	assert_int_equal(stat(h.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, nobody_gid);
	/* nobody is let in by the group's write permission. */
	assert_string_equal(as_nobody(h.endpoint, "sys.ping", NULL), "reply 0");
	assert_int_equal(harness_stop(&h), 0);
	harness_cleanup(&h);

	start("socket_mode = 0600\n");
	assert_int_equal(stat(h.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_string_equal(as_nobody(h.endpoint, "sys.ping", NULL), "connect-error 13"); /* EACCES */
	assert_int_equal(harness_stop(&h), 0);
}

/* The defaults (0660, the daemon's group) keep other users out. */
static void default_socket_keeps_others_out(void **state)
{
	struct stat st;
	start(NULL);
	assert_int_equal(stat(h.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, getgid());
	assert_string_equal(as_nobody(h.endpoint, "sys.ping", NULL), "connect-error 13");
	assert_int_equal(harness_stop(&h), 0);
}

/* Whether the socket with this inode is one of pid's open files. */
static int pid_has_socket(pid_t pid, unsigned long inode)
{
	char dir[64], path[320], link[64], want[64];
	int found = 0;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	closedir(d);
	return found;
}

/* The daemon's listening TCP sockets, from /proc/net/tcp{,6}: each one's
 * local address as the kernel prints it ("0100007F:1F90").  Returns how
 * many, the first `max` in addrs. */
static int listening_sockets(pid_t pid, char addrs[][64], int max)
{
	static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	int n = 0;
	for (size_t t = 0; t < 2; t++) {
		FILE *fp = fopen(tables[t], "re");
		char line[512];
		if (!fp)
			continue;
		while (fgets(line, sizeof(line), fp)) {
			char local[64], remote[64], state[8];
			unsigned long inode;
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line, " %*s %63s %63s %7s %*s %*s %*s %*s %*s %lu", local, remote,
			           state, &inode) != 4)
				continue;
			if (strcmp(state, "0A") != 0 || !pid_has_socket(pid, inode))
				continue;
			if (n < max)
				snprintf(addrs[n], 64, "%s", local);
			n++;
		}
		fclose(fp);
	}
	return n;
}

static void tcp_port_is_loopback_only(void **state)
{
	char extra[64], ep[64], want[32], addrs[4][64];
	int port = harness_free_tcp_port();
	assert_true(port > 0);
	snprintf(extra, sizeof(extra), "listen = tcp:%d\n", port);
	start(extra);

	int n = listening_sockets(h.pid, addrs, 4);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "0100007F:%04X", (unsigned)port); /* 127.0.0.1, as /proc prints it */
	assert_string_equal(addrs[0], want);

	snprintf(ep, sizeof(ep), "tcp:127.0.0.1:%d", port);
	assert_int_equal(as_root(ep, "sys.ping"), ARPC_S_OK);
	char host[INET_ADDRSTRLEN];
	if (harness_non_loopback_addr(host, sizeof(host))) {
		struct wc c;
		snprintf(ep, sizeof(ep), "tcp:%s:%d", host, port);
		assert_int_equal(wc_connect(&c, ep), -1);
		assert_int_equal(errno, ECONNREFUSED);
	} else {
		print_message("no non-loopback IPv4 address here: only /proc/net was checked\n");
	}
	assert_int_equal(harness_stop(&h), 0);
}

/* TCP peers have no uid: never admins, and refused when an allow list is set. */
static void tcp_peers_have_no_credentials(void **state)
{
	char extra[64], ep[64];
	int port = harness_free_tcp_port();
	assert_true(port > 0);
	snprintf(extra, sizeof(extra), "listen = tcp:%d\n", port);
	snprintf(ep, sizeof(ep), "tcp:127.0.0.1:%d", port);
	start(extra);
	assert_int_equal(as_root(ep, "sys.shutdown"), ARPC_S_ACCESS_DENIED);
	assert_int_equal(as_root(ep, "sys.ping"), ARPC_S_OK);
	assert_int_equal(harness_stop(&h), 0);
	harness_cleanup(&h);

	port = harness_free_tcp_port();
	assert_true(port > 0);
	snprintf(extra, sizeof(extra), "listen = tcp:%d\nallow_users = root\n", port);
	snprintf(ep, sizeof(ep), "tcp:127.0.0.1:%d", port);
	start(extra);
	assert_int_equal(as_root(ep, "sys.ping"), GOAWAY(ARPC_S_ACCESS_DENIED));
	assert_int_equal(as_root(h.endpoint, "sys.ping"), ARPC_S_OK); /* root, on the unix socket */
	assert_int_equal(harness_stop(&h), 0);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--client") == 0)
		return client_main(argv[2], argv[3]);

	struct passwd *pw = getpwnam("nobody");
	struct group *gr;
	if (geteuid() != 0 || !pw || harness_find_program("setpriv", setpriv, sizeof(setpriv)) < 0) {
		fprintf(stderr, "security-checks: needs root, a user 'nobody' and setpriv\n");
		return 77;
	}
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
	if ((gr = getgrgid(nobody_gid)))
		snprintf(nobody_group, sizeof(nobody_group), "%s", gr->gr_name);
	else
		snprintf(nobody_group, sizeof(nobody_group), "%u", (unsigned)nobody_gid);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(allow_users_refuses_nobody, teardown),
		cmocka_unit_test_teardown(allow_groups_admits_nobody, teardown),
		cmocka_unit_test_teardown(allow_groups_supplementary, teardown),
		cmocka_unit_test_teardown(admin_methods, teardown),
		cmocka_unit_test_teardown(admin_users_decides, teardown),
		cmocka_unit_test_teardown(socket_mode_and_group, teardown),
		cmocka_unit_test_teardown(default_socket_keeps_others_out, teardown),
		cmocka_unit_test_teardown(tcp_port_is_loopback_only, teardown),
		cmocka_unit_test_teardown(tcp_peers_have_no_credentials, teardown),
	};
	return cmocka_run_group_tests_name("security", tests, NULL, NULL);
}
