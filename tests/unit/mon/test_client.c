/* mon client: argument checks, ctl requests against a peer that speaks
 * the protocol (a forked process on a real SOCK_SEQPACKET socket), bad
 * and missing replies. mon_spawn with a real ocimon and runc is covered by
 * tests/integration/test_ocimon.py. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mon/mon.h"

static char tmp[64], sock[128];

static int setup(void **state)
{
	strcpy(tmp, "/tmp/ocid-mon-cl-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(sock, sizeof(sock), "%s/ctl", tmp);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

enum peer_mode { PEER_ECHO_STATUS, PEER_GARBAGE, PEER_CLOSE };

/* A one-shot peer: accepts one connection, checks the request, answers
 * according to `mode`. Returns its pid; it exits 0 if the request was the
 * expected one. */
static pid_t peer(enum peer_mode mode, enum mon_msg_type want, int32_t status)
{
	int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, sock);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(l);
		return pid;
	}
	int c = accept(l, NULL, NULL);
	static uint8_t buf[MON_MSG_MAX_SIZE];
	static struct mon_msg m;
	ssize_t n = recv(c, buf, sizeof(buf), 0);
	int ok = n > 0 && mon_msg_decode(buf, (size_t)n, &m) == n && m.type == want;
	if (mode == PEER_ECHO_STATUS) {
		m.type = MON_MSG_REPLY;
		m.status = status;
		int k = mon_msg_encode(&m, buf, sizeof(buf));
		(void)send(c, buf, (size_t)k, 0);
	} else if (mode == PEER_GARBAGE) {
		(void)send(c, "nonsense-nonsense", 17, 0);
	}
	_exit(ok ? 0 : 1);
}

static void reap(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(sock);
}

static void test_requests(void **state)
{
	struct err err = ERR_INIT;
	pid_t p = peer(PEER_ECHO_STATUS, MON_MSG_REOPEN_LOG, 0);
	assert_int_equal(mon_reopen_log(sock, &err), 0);
	reap(p);
	p = peer(PEER_ECHO_STATUS, MON_MSG_RESIZE, -ENOTTY);
	assert_int_equal(mon_resize(sock, 80, 24, &err), -ENOTTY);
	assert_non_null(strstr(err_str(&err), sock));
	err_done(&err);
	reap(p);
	p = peer(PEER_GARBAGE, MON_MSG_REOPEN_LOG, 0);
	assert_int_equal(mon_reopen_log(sock, &err), -EPROTO);
	err_done(&err);
	reap(p);
	p = peer(PEER_CLOSE, MON_MSG_REOPEN_LOG, 0);
	assert_int_equal(mon_reopen_log(sock, &err), -EPROTO); /* empty packet: EOF */
	err_done(&err);
	reap(p);
}

/* The monitor's pid is the listener's (SO_PEERCRED); none listening:
 * -ENOENT for no socket, -ECONNREFUSED for a stale one. */
static void test_peer_pid(void **state)
{
	struct err err = ERR_INIT;
	int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, sock);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	pid_t pid = 0;
	assert_int_equal(mon_ctl_peer_pid(sock, &pid, &err), 0);
	assert_int_equal(pid, getpid());
	close(l);
	assert_int_equal(mon_ctl_peer_pid(sock, &pid, &err), -ECONNREFUSED);
	err_done(&err);
	unlink(sock);
	assert_int_equal(mon_ctl_peer_pid(sock, &pid, &err), -ENOENT);
	err_done(&err);
}

static void test_bad_args(void **state)
{
	struct err err = ERR_INIT;
	assert_int_equal(mon_reopen_log(sock, &err), -ENOENT); /* no monitor */
	assert_non_null(strstr(err_str(&err), sock));
	err_done(&err);
	assert_int_equal(mon_resize(sock, 0, 24, &err), -EINVAL);
	err_done(&err);
	assert_int_equal(mon_resize(sock, 70000, 24, &err), -EINVAL);
	err_done(&err);
	char long_path[200];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(mon_reopen_log(long_path, &err), -ENAMETOOLONG);
	err_done(&err);
	struct mon_spawn_args a = { .ocimon = "/bin/true", .id = "x" };
	pid_t pid;
	assert_int_equal(mon_spawn(&a, &pid, NULL, &err), -EINVAL);
	err_done(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_peer_pid),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
