/* `<runtime> create`: the container's stdio pipes (or console socket), the
 * runtime's error text, the pid file. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocimon.h"

struct child_fds {
	int in, out, err;
};

/* Between fork and exec: async-signal-safe calls only. */
__attribute__((noreturn)) static void exec_runtime(const struct ocimon_args *a, char **argv,
						   struct child_fds f)
{
	/* Out of ocid's process group (terminal signals); ocimon's own
	 * session comes later (see main). */
	(void)setpgid(0, 0);
	ocimon_cpu_unpin(a);
	/* ocimon ignores SIGPIPE, SIGHUP and SIGINT, and glibc's posix_spawn
	 * leaves its two internal signals (32, 33) ignored; ignored signals
	 * survive exec, and the container must not inherit them. The raw
	 * syscall, because glibc's sigaction refuses the internal ones. */
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		unsigned long mask;
	} dfl = { .handler = SIG_DFL };
	for (int sig = 1; sig < NSIG; sig++)
		(void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	int in = fcntl(f.in, F_DUPFD, 10), out = fcntl(f.out, F_DUPFD, 10);
	int er = fcntl(f.err, F_DUPFD, 10);
	if (in < 0 || out < 0 || er < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(er, 2) < 0)
		_exit(126);
	(void)close_range(3, ~0u, 0);
	execv(argv[0], argv);
	static const char msg[] = "ocimon: cannot execute the OCI runtime\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(127);
}

/* Wait for the runtime to exit within the timeout; kill it after. Returns
 * its wait status, or -ETIMEDOUT. */
static int wait_runtime(pid_t pid, unsigned timeout_ms)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int r;
		do
			r = poll(&p, 1, (int)timeout_ms);
		while (r < 0 && errno == EINTR);
		(void)close(pidfd);
		if (r == 0) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, NULL, 0);
			return -ETIMEDOUT;
		}
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return st;
}

/* Whatever the runtime wrote to stderr (non-blocking, bounded). */
static void read_errors(int fd, char *buf, size_t size)
{
	size_t len = 0;
	(void)fs_fd_set_nonblock(fd, true);
	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
}

/* The children file of this (single-threaded) process, if the kernel has
 * them (CONFIG_PROC_CHILDREN) and the runtime leaves only the container's
 * init behind (runc, crun and the like). gVisor's runsc leaves its sandbox
 * and gofer too: its pid file says which process is the container's. */
static bool children_path(const char *runtime, char *path, size_t size)
{
	const char *slash = strrchr(runtime, '/');
	if (strncmp(slash ? slash + 1 : runtime, "runsc", 5) == 0)
		return false;
	snprintf(path, size, "/proc/self/task/%d/children", (int)getpid());
	return access(path, R_OK) == 0;
}

/* The pid in the runtime's pid file or, with `children`, in our children
 * file: the runtime's create (or exec --detach) leaves one process behind,
 * the container's init (or the exec'd process), and by the time the
 * runtime has exited it was reparented to us, the subreaper, and is our
 * only child. That spares the runtime its pid file, which runc writes with
 * O_SYNC: a journal commit (about a millisecond) when the run dir is not a
 * tmpfs. */
int ocimon_read_pid(const char *path, bool children, pid_t *ret, struct err *err)
{
	cleanup_free char *s = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, path, 4096, &s, &len, err);
	if (r < 0)
		return r;
	char *end = NULL;
	long v = strtol(s, &end, 10);
	bool one = end != s && v > 0 && v <= INT32_MAX;
	if (children && (!one || strcmp(end, " ") != 0))
		return err_msg(err, -ESRCH, "the runtime left %s processes behind",
			       end == s ? "no" : "several");
	if (!one)
		return err_msg(err, -EBADMSG, "pid file '%s': no pid", path);
	*ret = (pid_t)v;
	return 0;
}

/* The pid file as the runtime would have written it (without its O_SYNC:
 * the run dir does not outlive a reboot that loses it). */
static int write_pid_file(const char *path, pid_t pid, struct err *err)
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%d", (int)pid);
	return fs_write_file_atomic(AT_FDCWD, path, text, (size_t)n, 0644, 0, err);
}

/* The console socket: a listening unix socket whose path runc connects to,
 * beside the ctl socket, with a short name unique to this monitor (several
 * may share that directory). Removed once the terminal has arrived. */
static int console_listen(const char *ctl_path, char *path, size_t size, struct err *err)
{
	const char *slash = strrchr(ctl_path, '/');
	int dl = slash ? (int)(slash - ctl_path) : 1;
	snprintf(path, size, "%.*s/.c%d", dl, slash ? ctl_path : ".", (int)getpid());
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_msg(err, -ENAMETOOLONG, "console socket path '%s' too long", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket");
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		int r = err_set(err, -errno, "console socket '%s'", path);
		(void)close(fd);
		return r;
	}
	return fd;
}

/* Receive the pty master runc sent to the console socket. */
static int console_receive(int lfd, struct err *err)
{
	cleanup_close int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return err_set(err, -errno, "runtime did not connect to the console socket");
	char data[256];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	if (recvmsg(c, &mh, MSG_CMSG_CLOEXEC) < 0)
		return err_set(err, -errno, "receive the terminal from the runtime");
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
	    h->cmsg_len != CMSG_LEN(sizeof(int)))
		return err_msg(err, -EBADMSG, "runtime sent no terminal");
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof(fd));
	return fd;
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			(void)close(p[i]);
}

/* Pipes: [0] stdin, [1] stdout, [2] stderr; { read, write } each. */
static int make_pipes(const struct ocimon_args *a, int p[3][2], struct err *err)
{
	for (int i = 0; i < 3; i++) {
		if (i == 0 && (!a->stdin_open || a->tty))
			continue;
		if (i == 1 && a->tty)
			continue;
		if (pipe2(p[i], O_CLOEXEC) < 0)
			return err_set(err, -errno, "pipe");
	}
	return 0;
}

static int spawn_runtime(const struct ocimon_args *a, const char *console, bool pid_file,
			 int p[3][2], struct err *err)
{
	char *argv[16 + OCIMON_MAX_RUNTIME_ARGS];
	size_t n = 0;
	argv[n++] = (char *)a->runtime;
	argv[n++] = (char *)"--root";
	argv[n++] = (char *)a->runtime_root;
	for (size_t i = 0; i < a->n_runtime_args; i++)
		argv[n++] = (char *)a->runtime_args[i];
	if (a->systemd_cgroup)
		argv[n++] = (char *)"--systemd-cgroup";
	argv[n++] = (char *)"create";
	argv[n++] = (char *)"--bundle";
	argv[n++] = (char *)a->bundle;
	if (a->no_pivot)
		argv[n++] = (char *)"--no-pivot";
	if (pid_file) {
		argv[n++] = (char *)"--pid-file";
		argv[n++] = (char *)a->pid_file;
	}
	if (console) {
		argv[n++] = (char *)"--console-socket";
		argv[n++] = (char *)console;
	}
	argv[n++] = (char *)a->id;
	argv[n] = NULL;
	cleanup_close int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return err_set(err, -errno, "open /dev/null");
	struct child_fds f = { .in = p[0][0] >= 0 ? p[0][0] : devnull,
			       .out = p[1][1] >= 0 ? p[1][1] : p[2][1],
			       .err = p[2][1] };
	pid_t pid = fork();
	if (pid == 0)
		exec_runtime(a, argv, f);
	/* The chain is done (see ocimon_cpu_pin): the monitor runs anywhere. */
	ocimon_cpu_unpin(a);
	if (pid < 0)
		return err_set(err, -errno, "fork");
	return pid;
}

/* Wait for the runtime's create; then the container's pid (from the pid
 * file, or from `children`, our children file, written to the pid file)
 * or the runtime's own words (read from errfd). */
static int runtime_outcome(const struct ocimon_args *a, pid_t pid, int errfd, const char *children,
			   struct ocimon_create *ret, struct err *err)
{
	int r = wait_runtime(pid, a->timeout_ms);
	if (r == -ETIMEDOUT)
		return err_msg(err, r, "%s create: no answer within %u ms", a->runtime,
			       a->timeout_ms);
	if (r < 0)
		return r;
	if (!(WIFEXITED(r) && WEXITSTATUS(r) == 0)) {
		char text[MON_MSG_MAX_TEXT + 1];
		read_errors(errfd, text, sizeof(text));
		/* The runtime's own failure: -ECHILD (ocid answers UNKNOWN). */
		return err_msg(err, -ECHILD, "%s", text[0] ? text : "runtime create failed");
	}
	r = ocimon_read_pid(children ? children : a->pid_file, children != NULL, &ret->pid, err);
	if (r >= 0 && children)
		r = write_pid_file(a->pid_file, ret->pid, err);
	return r;
}

/* Our ends of the container's stdio into *ret: the terminal's master
 * (received on lfd), or the pipes'. */
static int take_ends(const struct ocimon_args *a, int lfd, int p[3][2], struct ocimon_create *ret,
		     struct err *err)
{
	if (!a->tty) {
		ret->out_fd[0] = p[1][0];
		ret->out_fd[1] = p[2][0];
		ret->in_fd = p[0][1];
		return 0;
	}
	int m = console_receive(lfd, err);
	ret->out_fd[0] = m;
	ret->out_fd[1] = -1;
	ret->in_fd = m < 0 || !a->stdin_open ? -1 : fcntl(m, F_DUPFD_CLOEXEC, 3);
	close_pair(p[2]);
	return m;
}

int ocimon_runtime_create(const struct ocimon_args *a, struct ocimon_create *ret, struct err *err)
{
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	char console[4200] = "";
	cleanup_close int lfd = -1;
	int r = make_pipes(a, p, err);
	if (r >= 0 && a->tty) {
		lfd = console_listen(a->ctl_path, console, sizeof(console), err);
		r = lfd;
	}
	char children[64];
	bool by_child = children_path(a->runtime, children, sizeof(children));
	pid_t pid = r < 0 ? r : spawn_runtime(a, a->tty ? console : NULL, !by_child, p, err);
	/* Our copies of the child's ends go; the container holds its own. */
	for (int i = 0; i < 3; i++) {
		int *child_end = &p[i][i == 0 ? 0 : 1];
		if (*child_end >= 0)
			(void)close(*child_end);
		*child_end = -1;
	}
	r = pid < 0 ? pid : runtime_outcome(a, pid, p[2][0], by_child ? children : NULL, ret, err);
	if (r >= 0)
		r = take_ends(a, lfd, p, ret, err);
	if (console[0])
		(void)unlink(console);
	if (r < 0) {
		for (int i = 0; i < 3; i++)
			close_pair(p[i]);
		return r;
	}
	ret->tty = a->tty;
	return 0;
}
