/* proc: spawning with captured output, timeouts, namespace pinning, writes
 * inside namespaces, and the PID-namespace spawn of ocid-pause. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "proc/proc.h"

static int run(char *const *argv, const char *input, struct proc_result *res, uint64_t tmo,
	       size_t max)
{
	struct proc_opts o = { .argv = argv,
			       .input = input,
			       .input_len = input ? strlen(input) : 0,
			       .timeout_ms = tmo,
			       .max_output = max };
	cleanup_err struct err err = ERR_INIT;
	return proc_run(&o, res, &err);
}

static void test_capture(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "cat; echo err >&2; echo \"$FOO\"; exit 3", NULL };
	char *env[] = { "FOO=bar baz", NULL };
	struct proc_opts o = { .argv = argv, .env = env, .input = "hello\n", .input_len = 6 };
	struct proc_result res;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(proc_run(&o, &res, &err), 0);
	assert_int_equal(res.status, 3);
	assert_string_equal(res.out, "hello\nbar baz\n");
	assert_string_equal(res.errout, "err\n");
	assert_false(res.truncated);
	proc_result_done(&res);
}

static void test_signal_and_missing(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
	struct proc_result res;
	assert_int_equal(run(argv, NULL, &res, 0, 0), 0);
	assert_int_equal(res.status, -SIGKILL);
	proc_result_done(&res);

	char *missing[] = { "/nonexistent/plugin", NULL };
	cleanup_err struct err err = ERR_INIT;
	struct proc_opts o = { .argv = missing };
	assert_int_equal(proc_run(&o, &res, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), "/nonexistent/plugin"));
	proc_result_done(&res);
}

static void test_timeout(void **state)
{
	char *argv[] = { "/bin/sleep", "10", NULL };
	struct proc_result res;
	uint64_t t0 = (uint64_t)time(NULL);
	assert_int_equal(run(argv, NULL, &res, 200, 0), -ETIMEDOUT);
	assert_true((uint64_t)time(NULL) - t0 < 5);
	proc_result_done(&res);
}

/* The child writes its pid here, then sleeps; the firing thread waits for
 * that, so the run is cut short while its child runs. */
struct firer {
	const char *pidfile;
	struct proc_cancel *c;
	pid_t pid;
};

static void *fire_when_started(void *data)
{
	struct firer *f = data;
	for (int tries = 0; tries < 3000; tries++) { /* 30 s */
		FILE *fp = fopen(f->pidfile, "r");
		int pid = 0;
		bool got = fp && fscanf(fp, "%d", &pid) == 1;
		if (fp)
			fclose(fp);
		if (got && pid > 0) {
			f->pid = pid;
			break;
		}
		usleep(10000);
	}
	proc_cancel_fire(f->c);
	return NULL;
}

static void test_cancel(void **state)
{
	char dir[] = "/tmp/ocid-test-cancel-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cleanup_free char *mark = xasprintf("%s/mark", dir);
	cleanup_free char *pidfile = xasprintf("%s/pid", dir);
	cleanup_err struct err err = ERR_INIT;
	struct proc_cancel *c = NULL;
	assert_int_equal(proc_cancel_new(&c, &err), 0);

	/* Fired while the child runs (no timeout): killed, reaped, -ECANCELED. */
	cleanup_free char *script = xasprintf("echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 30",
					      pidfile, pidfile, pidfile);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct firer f = { .pidfile = pidfile, .c = c };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fire_when_started, &f), 0);
	struct proc_opts o = { .argv = argv, .cancel = c };
	struct proc_result res;
	assert_int_equal(proc_run(&o, &res, &err), -ECANCELED);
	assert_non_null(strstr(err_str(&err), "cancelled"));
	pthread_join(t, NULL);
	assert_true(f.pid > 0);
	assert_int_equal(kill(f.pid, 0), -1); /* reaped: no such process */
	assert_int_equal(errno, ESRCH);
	proc_result_done(&res);
	err_done(&err);

	/* Fired before: nothing is started (a start would fail -ENOENT). */
	char *missing[] = { "/nonexistent/program", NULL };
	struct proc_opts o2 = { .argv = missing, .cancel = c };
	assert_int_equal(proc_run(&o2, &res, &err), -ECANCELED);
	proc_result_done(&res);
	err_done(&err);

	/* An unfired token changes nothing. */
	cleanup_free char *touch = xasprintf("touch %s", mark);
	char *argv2[] = { "/bin/sh", "-c", touch, NULL };
	struct proc_cancel *c2 = NULL;
	assert_int_equal(proc_cancel_new(&c2, &err), 0);
	struct proc_opts o3 = { .argv = argv2, .cancel = c2 };
	assert_int_equal(proc_run(&o3, &res, &err), 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(access(mark, F_OK), 0);
	proc_result_done(&res);
	proc_cancel_free(c2);
	proc_cancel_free(c);
	(void)unlink(mark);
	(void)unlink(pidfile);
	(void)rmdir(dir);
}

/* Whether pid is gone (or a zombie left to its new parent). */
static bool gone(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] == 'Z';
}

static void test_timeout_kills_the_group(void **state)
{
	/* A wrapper that does not exec: what it started goes with it. */
	char dir[] = "/tmp/ocid-test-group-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cleanup_free char *pidfile = xasprintf("%s/pid", dir);
	cleanup_free char *script = xasprintf("sleep 30 & echo $! > %s; wait", pidfile);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct proc_result res;
	assert_int_equal(run(argv, NULL, &res, 500, 0), -ETIMEDOUT);
	proc_result_done(&res);
	FILE *f = fopen(pidfile, "r");
	assert_non_null(f);
	int pid = 0;
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	for (int i = 0; i < 500 && !gone(pid); i++) /* up to 5 s for init to reap */
		usleep(10000);
	bool was_gone = gone(pid);
	if (!was_gone)
		(void)kill(pid, SIGKILL);
	assert_true(was_gone);
	(void)unlink(pidfile);
	(void)rmdir(dir);
}

static void test_bound(void **state)
{
	/* 1 MiB of output, bounded to 1000 bytes: the child still finishes
	 * (we keep draining) and the result says it was cut. */
	char *argv[] = { "/bin/sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x", NULL };
	struct proc_result res;
	assert_int_equal(run(argv, NULL, &res, 10000, 1000), 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.out_len, 1000);
	assert_true(res.truncated);
	proc_result_done(&res);
}

static void test_big_input(void **state)
{
	/* Input larger than a pipe buffer, echoed back: needs both directions
	 * pumped at once. */
	size_t n = 1 << 20;
	char *in = xmalloc(n + 1);
	memset(in, 'a', n);
	in[n] = 0;
	char *argv[] = { "/bin/cat", NULL };
	struct proc_result res;
	assert_int_equal(run(argv, in, &res, 10000, 0), 0);
	assert_int_equal(res.out_len, n);
	proc_result_done(&res);
	free(in);
}

static void test_no_fd_leak(void **state)
{
	/* Only 0, 1, 2 reach the child (the exec-error pipe is CLOEXEC). */
	char *argv[] = { "/bin/sh", "-c", "ls /proc/self/fd | wc -l", NULL };
	struct proc_result res;
	assert_int_equal(run(argv, NULL, &res, 5000, 0), 0);
	/* ls's own directory fd makes it 4. */
	assert_string_equal(res.out, "4\n");
	proc_result_done(&res);
}

static char *nsenter_out(const char *dir, const char *flag, const char *ns, const char *cmd)
{
	cleanup_free char *opt = xasprintf("%s=%s/%s", flag, dir, ns);
	char *argv[] = { "/usr/bin/nsenter", opt, "/bin/sh", "-c", (char *)cmd, NULL };
	struct proc_result res;
	assert_int_equal(run(argv, NULL, &res, 5000, 0), 0);
	assert_int_equal(res.status, 0);
	char *out = TAKE_PTR(res.out);
	proc_result_done(&res);
	return out;
}

static void test_pin(void **state)
{
	char tmpl[] = "/tmp/ocid-proc-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	cleanup_free char *dir = xasprintf("%s/ns", tmpl);
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(
	    proc_ns_pin(dir, PROC_NS_NET | PROC_NS_IPC | PROC_NS_UTS, "pod-host", &err), 0);
	cleanup_free char *net = xasprintf("%s/net", dir);
	cleanup_free char *ipc = xasprintf("%s/ipc", dir);
	assert_true(proc_ns_is_pinned(net));
	assert_true(proc_ns_is_pinned(ipc));

	cleanup_free char *hn = nsenter_out(dir, "--uts", "uts", "hostname");
	assert_string_equal(hn, "pod-host\n");
	/* lo is up and nothing else exists in the new netns. */
	cleanup_free char *links = nsenter_out(dir, "--net", "net", "ip -o link | wc -l");
	assert_string_equal(links, "1\n");
	cleanup_free char *up = nsenter_out(dir, "--net", "net", "ip -o link show lo");
	assert_non_null(strstr(up, "LOOPBACK,UP"));

	/* Writes inside: a net sysctl and an ipc one, not visible on the host. */
	const char *nsp[] = { net, ipc, NULL };
	struct proc_ns_write w[] = {
		{ "/proc/sys/net/ipv4/ip_local_port_range", "2000 3000" },
		{ "/proc/sys/kernel/shmmni", "1234" },
	};
	assert_int_equal(proc_ns_write_files(nsp, w, 2, &err), 0);
	cleanup_free char *pr =
	    nsenter_out(dir, "--net", "net", "cat /proc/sys/net/ipv4/ip_local_port_range");
	assert_string_equal(pr, "2000\t3000\n");
	cleanup_free char *shm = nsenter_out(dir, "--ipc", "ipc", "cat /proc/sys/kernel/shmmni");
	assert_string_equal(shm, "1234\n");
	char host[64] = "";
	FILE *f = fopen("/proc/sys/kernel/shmmni", "r");
	assert_non_null(f);
	assert_non_null(fgets(host, sizeof(host), f));
	fclose(f);
	assert_string_not_equal(host, "1234\n");

	/* A failing write names the file. */
	struct proc_ns_write bad[] = { { "/proc/sys/net/nonexistent", "1" } };
	assert_int_equal(proc_ns_write_files(nsp, bad, 1, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), "/proc/sys/net/nonexistent"));

	assert_int_equal(proc_ns_unpin(dir, PROC_NS_NET | PROC_NS_IPC | PROC_NS_UTS, &err), 0);
	assert_false(proc_ns_is_pinned(net));
	assert_int_equal(access(net, F_OK), -1);
	/* Idempotent. */
	assert_int_equal(proc_ns_unpin(dir, PROC_NS_NET | PROC_NS_IPC | PROC_NS_UTS, &err), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(rmdir(tmpl), 0);
}

/* A user namespace from its maps, and namespaces pinned inside it. */
static void test_pin_userns(void **state)
{
	char tmpl[] = "/tmp/ocid-proc-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	cleanup_free char *dir = xasprintf("%s/ns", tmpl);
	cleanup_err struct err err = ERR_INIT;
	struct proc_idmap uid = { 0, 400000, 65536 }, gid = { 0, 500000, 1000 };
	int fd = proc_userns_new(&uid, &gid, &err);
	if (fd < 0)
		fail_msg("%s", err_str(&err));
	assert_int_equal(proc_ns_pin_userns(dir, PROC_NS_NET | PROC_NS_UTS, "uns-host", fd, &err),
			 0);
	close(fd);
	cleanup_free char *user = xasprintf("%s/user", dir);
	cleanup_free char *net = xasprintf("%s/net", dir);
	cleanup_free char *ipc = xasprintf("%s/ipc", dir);
	assert_true(proc_ns_is_pinned(user) && proc_ns_is_pinned(net));
	assert_int_equal(access(ipc, F_OK), -1);
	/* Inside: the maps, root, the hostname; lo up in the netns. */
	cleanup_free char *maps =
	    nsenter_out(dir, "--user", "user", "cat /proc/self/uid_map /proc/self/gid_map; id -u");
	assert_non_null(strstr(maps, "0     400000      65536"));
	assert_non_null(strstr(maps, "0     500000       1000"));
	assert_true(str_has_suffix(maps, "\n0\n"));
	cleanup_free char *hn = nsenter_out(dir, "--uts", "uts", "hostname");
	assert_string_equal(hn, "uns-host\n");
	cleanup_free char *up = nsenter_out(dir, "--net", "net", "ip -o link show lo");
	assert_non_null(strstr(up, "LOOPBACK,UP"));
	unsigned all = PROC_NS_NET | PROC_NS_UTS | PROC_NS_USER;
	assert_int_equal(proc_ns_unpin(dir, all, &err), 0);
	assert_false(proc_ns_is_pinned(user));
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(rmdir(tmpl), 0);

	/* Maps the kernel refuses: the write is named, nothing leaks. */
	struct proc_idmap bad = { 0, 400000, 0 };
	assert_true(proc_userns_new(&bad, &gid, &err) < 0);
	assert_non_null(strstr(err_str(&err), "uid_map"));
}

/* Whether pid waits in sigtimedwait (syscall 128 on x86-64), i.e. takes
 * SIGTERM now; /proc/PID/status cannot tell, as the waited-for signals
 * are unblocked for the wait. */
/* proc_spawn_fds: the fd map, /dev/null, nothing else open, default signals. */
static void test_spawn_fds(void **state)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	char *argv[] = { "/bin/sh", "-c",
			 "read x || echo eof; ls /proc/self/fd | wc -l; "
			 "grep -E '^Sig(Blk|Ign)' /proc/self/status",
			 NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	const int fds[] = { -1, p[1], p[1] };
	pid_t pid = 0;
	signal(SIGUSR1, SIG_IGN);
	assert_int_equal(proc_spawn_fds(argv, env, fds, 3, &pid), 0);
	signal(SIGUSR1, SIG_DFL);
	close(p[1]);
	char buf[512] = { 0 };
	size_t n = 0;
	for (ssize_t k; (k = read(p[0], buf + n, sizeof(buf) - 1 - n)) > 0;)
		n += (size_t)k;
	close(p[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	/* stdin at EOF, 4 fds in ls (0-2 and its own), nothing blocked, no
	 * standard signal ignored (glibc keeps its own, 32 and 33, to itself) */
	const char *want = "eof\n4\nSigBlk:\t0000000000000000\nSigIgn:\t";
	assert_memory_equal(buf, want, strlen(want));
	assert_int_equal(strtoull(buf + strlen(want), NULL, 16) & 0x7fffffff, 0);
	char *bad[] = { "/nonexistent/x", NULL };
	assert_int_equal(proc_spawn_fds(bad, env, fds, 0, &pid), -ENOENT);

	/* A source that is another target's number: the child's stderr is our
	 * fd 1 while its stdout is a pipe (set up in the order 0, 1, 2, our fd
	 * 1 would be gone by the time stderr is set). */
	int a[2], b[2];
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	int saved = dup(1);
	assert_int_equal(dup2(b[1], 1), 1);
	char *both[] = { "/bin/sh", "-c", "echo out; echo err >&2", NULL };
	const int swap[] = { -1, a[1], 1 };
	int r = proc_spawn_fds(both, env, swap, 3, &pid);
	assert_int_equal(dup2(saved, 1), 1);
	close(saved);
	assert_int_equal(r, 0);
	close(a[1]);
	close(b[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	char got_a[64] = { 0 }, got_b[64] = { 0 };
	assert_true(read(a[0], got_a, sizeof(got_a) - 1) > 0);
	assert_true(read(b[0], got_b, sizeof(got_b) - 1) > 0);
	assert_string_equal(got_a, "out\n");
	assert_string_equal(got_b, "err\n");
	close(a[0]);
	close(b[0]);
}

static void test_status_parse(void **state)
{
	struct proc_sig_status st;
	assert_int_equal(proc_status_parse("Name:\tsh\nNSpid:\t4242\t1\nSigBlk:\t0000000000010000\n"
					   "SigIgn:\t0\nSigCgt:\t0000000000004002\n",
					   &st),
			 0);
	assert_true(st.ns_init);
	assert_int_equal(st.caught, 0x4002);
	assert_int_equal(st.blocked, 0x10000);
	assert_int_equal(proc_status_parse("NSpid:\t4242\t31\nSigCgt:\t0\nSigBlk:\t0", &st), 0);
	assert_false(st.ns_init);
	assert_int_equal(proc_status_parse("NSpid:\t4242 11\nSigCgt:\t0\nSigBlk:\t0\n", &st), 0);
	assert_false(st.ns_init);
	static const char *const bad[] = {
		"",
		"NSpid:\t1\nSigCgt:\t0\n",
		"NSpid:\t\nSigCgt:\t0\nSigBlk:\t0\n",
		"NSpid:\t7\nSigCgt:\txyz\nSigBlk:\t0\n",
		"NSpid:\t7\nSigCgt:\t0 1\nSigBlk:\t0\n",
		"NSpid:\t7\nSigCgt:\t1ffffffffffffffff\nSigBlk:\t0\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(proc_status_parse(bad[i], &st), -EBADMSG);
}

/* The stop signal waits until a namespace init can take it. */
static void test_signal_deliverable(void **state)
{
	cleanup_err struct err err = ERR_INIT;
	/* Not a namespace init, and SIGKILL: at once. */
	assert_int_equal(proc_signal_wait_deliverable(getpid(), SIGTERM, 0), 0);
	char *never[] = { "/bin/sleep", "60", NULL };
	pid_t pid = 0;
	assert_int_equal(proc_spawn_pid_ns(never, NULL, &pid, &err), 0);
	assert_int_equal(proc_signal_wait_deliverable(pid, SIGKILL, 0), 0);
	/* sleep as init never handles SIGTERM: the kernel would drop it. */
	assert_int_equal(proc_signal_wait_deliverable(pid, SIGTERM, 100), -ETIMEDOUT);
	assert_int_equal(proc_kill_wait(pid, SIGTERM, 300), -ETIMEDOUT);
	assert_int_equal(proc_kill_wait(pid, SIGKILL, 5000), 0);
	/* A shell that sets its trap a moment after it starts. */
	char *late[] = { "/bin/sh", "-c",
			 "sleep 0.3; trap 'exit 0' TERM; while :; do sleep 0.02; done", NULL };
	assert_int_equal(proc_spawn_pid_ns(late, NULL, &pid, &err), 0);
	assert_int_equal(proc_signal_wait_deliverable(pid, SIGTERM, 10000), 0);
	assert_int_equal(proc_kill_wait(pid, SIGTERM, 5000), 0);
	assert_int_equal(proc_signal_wait_deliverable(pid, SIGTERM, 1000), 0); /* gone */
	/* One that collects SIGTERM through a signalfd (as catatonit does). */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	char *sfd[] = { self, "--signalfd-init", NULL };
	assert_int_equal(proc_spawn_pid_ns(sfd, NULL, &pid, &err), 0);
	assert_int_equal(proc_signal_wait_deliverable(pid, SIGTERM, 10000), 0);
	assert_int_equal(proc_kill_wait(pid, SIGTERM, 5000), 0);
}

static void on_term(int sig)
{
	(void)sig;
}

/* proc_exec_wait returns once an exec has fully replaced the program: its
 * handlers reset, its name the new one; it waits while nothing changes. */
static void test_exec_wait(void **state)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* As runc init: a SIGTERM handler, waiting to be released. */
		signal(SIGTERM, on_term);
		char c;
		if (read(p[0], &c, 1) == 1)
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	size_t len = 0;
	char *before = proc_auxv(pid, &len); /* a copy of ours until it execs */
	assert_non_null(before);
	assert_true(len > 0);
	/* Nothing happens: it waits out the timeout. */
	assert_int_equal(proc_exec_wait(pid, before, len, 50), -ETIMEDOUT);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(proc_exec_wait(pid, before, len, 5000), 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	char *text = NULL;
	assert_int_equal(fs_read_file(AT_FDCWD, path, 1 << 16, &text, NULL, NULL), 0);
	assert_non_null(strstr(text, "Name:\tsleep\n"));
	struct proc_sig_status st;
	assert_int_equal(proc_status_parse(text, &st), 0);
	assert_false(st.caught & (UINT64_C(1) << (SIGTERM - 1)));
	free(text);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* Gone: at once. */
	assert_int_equal(proc_exec_wait(pid, before, len, 5000), 0);
	assert_null(proc_auxv(pid, &len));
	free(before);
	close(p[1]);
}

static void test_pause(void **state)
{
	const char *pause = getenv("OCID_PAUSE");
	assert_non_null(pause);
	char tmpl[] = "/tmp/ocid-proc-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(proc_ns_pin(tmpl, PROC_NS_IPC | PROC_NS_UTS, "p", &err), 0);
	cleanup_free char *uts = xasprintf("%s/uts", tmpl);
	const char *nsp[] = { uts, NULL };
	char *argv[] = { (char *)pause, NULL };
	pid_t pid = 0;
	assert_int_equal(proc_spawn_pid_ns(argv, nsp, &pid, &err), 0);
	assert_true(pid > 1);
	/* It is PID 1 of its own namespace: NSpid lists "<pid> 1". */
	cleanup_free char *st = NULL;
	size_t len;
	cleanup_free char *path = xasprintf("/proc/%d/status", (int)pid);
	assert_int_equal(fs_read_file(AT_FDCWD, path, 1 << 16, &st, &len, &err), 0);
	cleanup_free char *want = xasprintf("NSpid:\t%d\t1\n", (int)pid);
	assert_non_null(strstr(st, want));
	assert_int_equal(proc_ns_pin_pid(tmpl, pid, &err), 0);
	cleanup_free char *pidns = xasprintf("%s/pid", tmpl);
	assert_true(proc_ns_is_pinned(pidns));
	cleanup_free char *hn = nsenter_out(tmpl, "--uts", "uts", "hostname");
	assert_string_equal(hn, "p\n");
	/* SIGTERM ends it once it blocks SIGTERM for sigwait: before that the
	 * kernel drops SIGTERM for a namespace's init (the pod code then
	 * escalates to SIGKILL). */
	assert_int_equal(proc_signal_wait_deliverable(pid, SIGTERM, 5000), 0);
	assert_int_equal(proc_kill_wait(pid, SIGTERM, 5000), 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(proc_ns_unpin(tmpl, PROC_NS_IPC | PROC_NS_UTS | PROC_NS_PID, &err), 0);

	/* Exec failure is reported. */
	char *bad[] = { "/nonexistent/pause", NULL };
	assert_int_equal(proc_spawn_pid_ns(bad, NULL, &pid, &err), -ENOENT);
	assert_int_equal(rmdir(tmpl), 0);
}

/* `test-proc --signalfd-init`: a namespace init that, after a moment
 * without any handling, takes SIGTERM through a signalfd and exits 0. */
static int signalfd_init(void)
{
	usleep(300000);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int fd = signalfd(-1, &set, SFD_CLOEXEC);
	struct signalfd_siginfo si;
	return fd >= 0 && read(fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGTERM ? 0
											     : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--signalfd-init") == 0)
		return signalfd_init();
	signal(SIGPIPE, SIG_IGN);
	/* The detached pause is reparented to us, so proc_kill_wait reaps it. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_signal_and_missing),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_timeout_kills_the_group),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_big_input),
		cmocka_unit_test(test_no_fd_leak),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_pin_userns),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_spawn_fds),
		cmocka_unit_test(test_signal_deliverable),
		cmocka_unit_test(test_exec_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
