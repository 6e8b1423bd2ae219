/* Detached processes in a new PID namespace (the pod's ocid-pause), and
 * killing processes that are not our children through pidfds. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "proc/proc.h"
#include "proc/proc_int.h"

/* In a child about to exec: default SIGPIPE, empty signal mask. */
static void child_reset_signals(void)
{
	/* Async-signal-safe: sigaction and sigprocmask only. The daemon
	 * blocks signals (they go through a signalfd) and ignores SIGPIPE;
	 * neither may leak into a plugin. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigset_t all;
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
}

/* What the intermediate and the program's child tell the parent, each in
 * one write (atomic on a pipe), in whatever order they come. */
enum { MSG_PID = 1, MSG_MID_ERR, MSG_EXEC_ERR };
struct spawn_msg {
	int kind, val;
};

static void tell(int fd, int kind, int val)
{
	struct spawn_msg m = { kind, val };
	(void)!write(fd, &m, sizeof(m));
}

static __attribute__((noreturn)) void mid_fail(int fd, int e)
{
	tell(fd, MSG_MID_ERR, e ? e : EIO);
	_exit(127);
}

struct mid_args {
	int wfd;
	const int *nsfd;
	size_t nns;
	char *const *argv;
	int devnull;
	char *stack; /* PROC_CLONE_STACK bytes for the program's child */
};

/* The program's child, PID 1 of the new namespace (a proc_clone_vm child
 * of the intermediate): stdio on /dev/null, the pipe as fd 3 until exec. */
static int program_child(void *arg)
{
	static char *const empty_env[] = { NULL };
	const struct mid_args *a = arg;
	child_reset_signals();
	if (dup2(a->devnull, 0) < 0 || dup2(a->devnull, 1) < 0 || dup2(a->devnull, 2) < 0 ||
	    dup3(a->wfd, 3, O_CLOEXEC) < 0)
		_exit(127);
	(void)close_range(4, ~0U, 0);
	execve(a->argv[0], a->argv, empty_env);
	tell(3, MSG_EXEC_ERR, errno);
	_exit(127);
}

/* The intermediate (a proc_clone_vm child): join the pod's namespaces,
 * make a PID namespace and a session, start the program's child in them,
 * tell its pid and exit, so that the program is nobody's child here. */
static int intermediate(void *arg)
{
	const struct mid_args *a = arg;
	for (size_t i = 0; i < a->nns; i++)
		if (setns(a->nsfd[i], 0) < 0)
			mid_fail(a->wfd, errno);
	if (unshare(CLONE_NEWPID) < 0)
		mid_fail(a->wfd, errno);
	if (setsid() < 0)
		mid_fail(a->wfd, errno);
	pid_t pid = proc_clone_vm(program_child, (void *)a, 0, a->stack, PROC_CLONE_STACK);
	if (pid < 0)
		mid_fail(a->wfd, -pid);
	tell(a->wfd, MSG_PID, (int)pid);
	_exit(0);
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	ssize_t n;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

int proc_spawn_pid_ns(char *const *argv, const char *const *ns_paths, pid_t *ret_pid,
		      struct err *err)
{
	int nsfd[PROC_NS_MAX];
	size_t nns = 0;
	int pfd[2] = { -1, -1 };
	cleanup_close int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return err_set(err, -errno, "open /dev/null");
	int r = proc_ns_open_all(ns_paths, nsfd, &nns, err);
	if (r < 0)
		goto out;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		r = err_set(err, -errno, "pipe");
		goto out;
	}
	/* Two stacks: the intermediate's (the upper half) and its child's. */
	char stacks[2 * PROC_CLONE_STACK] __attribute__((aligned(16)));
	struct mid_args a = { pfd[1], nsfd, nns, argv, devnull, stacks };
	pid_t mid = proc_clone_vm(intermediate, &a, 0, stacks + PROC_CLONE_STACK, PROC_CLONE_STACK);
	close(pfd[1]);
	pfd[1] = -1;
	if (mid < 0) {
		r = err_set(err, mid, "clone");
		goto out;
	}
	/* Until both ends are closed: the intermediate's at its exit, the
	 * child's at its exec (close-on-exec) or exit. */
	int v = 0, mid_err = 0, exec_err = 0;
	struct spawn_msg msg;
	while (read_full(pfd[0], &msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
		if (msg.kind == MSG_PID && msg.val > 0)
			v = msg.val;
		else if (msg.kind == MSG_MID_ERR)
			mid_err = msg.val;
		else if (msg.kind == MSG_EXEC_ERR)
			exec_err = msg.val;
	}
	int st;
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
	if (v <= 0) {
		r = err_set(err, mid_err > 0 ? -mid_err : -EIO, "start %s in a new PID namespace",
			    argv[0]);
		goto out;
	}
	if (exec_err) {
		r = err_set(err, -exec_err, "exec %s", argv[0]);
		goto out;
	}
	*ret_pid = v;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	proc_ns_close_all(nsfd, nns);
	return r;
}

int proc_kill_wait(pid_t pid, int sig, uint64_t timeout_ms)
{
	cleanup_close int fd = (int)pidfd_open(pid, 0);
	if (fd < 0)
		return errno == ESRCH ? 0 : -errno;
	if (pidfd_send_signal(fd, sig, NULL, 0) < 0 && errno != ESRCH)
		return -errno;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;
	do
		n = poll(&p, 1, (int)timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -ETIMEDOUT;
	/* Reap it when it happens to be our child; otherwise init does. */
	siginfo_t si;
	(void)waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG);
	return 0;
}

int proc_spawn_fds(char *const *argv, char *const *env, const int *fds, int n_fds, pid_t *ret_pid)
{
	return proc_spawn_fds_flags(argv, env, fds, n_fds, 0, ret_pid);
}

int proc_spawn_fds_flags(char *const *argv, char *const *env, const int *fds, int n_fds,
			 short flags, pid_t *ret_pid)
{
	if (n_fds < 0 || n_fds > PROC_SPAWN_MAX_FDS)
		return -EINVAL;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	int r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	r = posix_spawnattr_init(&at);
	if (r != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		return -r;
	}
	/* The actions run in order: a source below n_fds that is not its own
	 * target could be overwritten by an earlier one, so it is moved up
	 * first (a caller whose stdio was closed gets pipes on 0..2). */
	int src[PROC_SPAWN_MAX_FDS];
	memcpy(src, fds, (size_t)n_fds * sizeof(*fds));
	for (int i = 0; i < n_fds && r == 0; i++) {
		if (fds[i] >= 0 && fds[i] < n_fds && fds[i] != i) {
			src[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, n_fds);
			if (src[i] < 0)
				r = errno;
		}
	}
	/* glibc clears FD_CLOEXEC when a dup2 action names the same fd. */
	for (int i = 0; i < n_fds && r == 0; i++)
		r = src[i] >= 0 ? posix_spawn_file_actions_adddup2(&fa, src[i], i)
				: posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, n_fds);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&at, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&at, &all);
	if (r == 0)
		r = posix_spawnattr_setflags(
		    &at, (short)(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | flags));
	if (r == 0)
		r = posix_spawn(ret_pid, argv[0], &fa, &at, argv, env);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&at);
	for (int i = 0; i < n_fds; i++)
		if (src[i] != fds[i] && src[i] >= 0)
			close(src[i]);
	return -r;
}
