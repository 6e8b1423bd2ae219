/* Exec sessions for the streaming server: `<runtime> exec` in the
 * foreground as our child, its stdio on pipes or on a terminal.
 *
 * With a terminal, runc (in the foreground) makes the container's pty
 * itself and copies between it and its own stdio, which must then be a
 * terminal too: we give it the slave of a host pty, whose master is the
 * session's end. runc puts that slave in raw mode (bytes pass unchanged)
 * and, on SIGWINCH, copies its size to the container's pty; so a resize is
 * TIOCSWINSZ on our master, then SIGWINCH to runc. The runtime's exit code
 * is the program's (128 + signal when killed). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "proc/proc.h"

/* What ends an exec'd program (below). */
struct ctr_exec_target {
	char *pidfile;	  /* the host pid the runtime writes */
	char *internal;	  /* a sandboxed runtime's pid of the program, or NULL */
	char **kill_argv; /* `<runtime> ... kill --pid`, with internal */
	char **env;
	char *id;
};

void ctr_exec_proc_init(struct ctr_exec_proc *p)
{
	memset(p, 0, sizeof(*p));
	p->pidfd = p->in_fd = p->out_fd = p->err_fd = -1;
	p->pid = -1;
}

/* A host pty: *master for the session, *slave for the runtime's stdio. */
static int open_pty(int *master, int *slave, struct err *err)
{
	cleanup_close int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return err_set(err, -errno, "open a pty");
	char name[64];
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0)
		return err_set(err, -errno, "set up a pty");
	int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return err_set(err, -errno, "open '%s'", name);
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	(void)ioctl(m, TIOCSWINSZ, &ws);
	/* Raw from the start: runc makes it raw too, but only once it runs;
	 * until then the line discipline would echo what the client types. */
	struct termios t;
	if (tcgetattr(s, &t) == 0) {
		cfmakeraw(&t);
		(void)tcsetattr(s, TCSANOW, &t);
	}
	*master = TAKE_FD(m);
	*slave = s;
	return 0;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			(void)close(fds[i]);
			fds[i] = -1;
		}
}

/* The child's stdio (fds for proc_spawn_fds) and our ends in *p. */
static int make_stdio(bool tty, bool in, bool out, bool errout, int child[3],
		      struct ctr_exec_proc *p, struct err *err)
{
	child[0] = child[1] = child[2] = -1;
	if (tty) {
		int master = -1, slave = -1;
		int r = open_pty(&master, &slave, err);
		if (r < 0)
			return r;
		child[0] = slave;
		child[1] = child[2] = slave;
		p->out_fd = master;
		p->in_fd = in ? fcntl(master, F_DUPFD_CLOEXEC, 3) : -1;
		return 0;
	}
	int pipes[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	bool want[3] = { in, out, errout };
	for (int i = 0; i < 3; i++) {
		if (!want[i])
			continue;
		if (pipe2(pipes[i], O_CLOEXEC) < 0) {
			int r = err_set(err, -errno, "pipe");
			for (int j = 0; j < i; j++)
				close_fds(pipes[j], 2);
			return r;
		}
	}
	child[0] = pipes[0][0];
	p->in_fd = pipes[0][1];
	child[1] = pipes[1][1];
	p->out_fd = pipes[1][0];
	child[2] = pipes[2][1];
	p->err_fd = pipes[2][0];
	return 0;
}

/* The runtime's exec of o->cmd in container c. Without a terminal, the
 * runtime runs detached under ocimon's exec reaper
 * (src/cmd/ocimon/reaper.c): a program that leaves a child holding its
 * output must not keep the session open. */
static char **exec_argv(const struct ctr_mgr *m, const struct ctr *c, const struct ctr_exec_opts *o,
			const struct ctr_exec_target *t)
{
	char **argv = NULL;
	if (!o->tty) {
		strv_push(&argv, m->ocimon);
		strv_push(&argv, "--exec-reaper");
		strv_push(&argv, t->pidfile);
	}
	ctr_rt_argv(c->rt, &argv);
	strv_push(&argv, "exec");
	ctr_exec_target_args(t, &argv);
	if (o->tty) {
		strv_push(&argv, "--tty");
		strv_push(&argv, "--env");
		strv_push(&argv, "TERM=xterm");
	} else {
		strv_push(&argv, "--detach");
	}
	strv_push(&argv, c->id);
	for (size_t i = 0; o->cmd[i]; i++)
		strv_push(&argv, o->cmd[i]);
	return argv;
}

/* The child's ends are the child's alone (a tty's slave is all three). */
static void close_child_ends(const int child[3])
{
	if (child[0] >= 0)
		(void)close(child[0]);
	if (child[1] >= 0 && child[1] != child[0])
		(void)close(child[1]);
	if (child[2] >= 0 && child[2] != child[0] && child[2] != child[1])
		(void)close(child[2]);
}

int ctr_exec_spawn(struct ctr_mgr *m, const char *id, const struct ctr_exec_opts *o,
		   struct ctr_exec_proc *ret, struct err *err)
{
	ctr_exec_proc_init(ret);
	if (!o->cmd || !o->cmd[0])
		return err_msg(err, -EINVAL, "exec: no command given");
	struct ctr *c = NULL;
	int r = ctr_index_get(&m->index, id, &c, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->st);
	bool running = c->row.state == CTR_RUNNING;
	pthread_mutex_unlock(&c->st);
	if (!running) {
		r = err_msg(err, -EINVAL, "container %s is not running", c->id);
		ctr_unref(c);
		return r;
	}
	ret->target = ctr_exec_target_new(m, c);
	ret->tty = o->tty;
	char **env = ctr_rt_env(c->rt);
	char **argv = exec_argv(m, c, o, ret->target);
	int child[3];
	r = make_stdio(o->tty, o->in, o->out, o->err, child, ret, err);
	if (r >= 0) {
		r = proc_spawn_fds(argv, env, child, 3, &ret->pid);
		if (r < 0)
			err_set(err, r, "exec '%s'", c->rt->path);
	}
	close_child_ends(child);
	strv_free(argv);
	strv_free(env);
	ctr_unref(c);
	if (r >= 0) {
		ret->pidfd = (int)syscall(SYS_pidfd_open, ret->pid, 0);
		if (ret->pidfd < 0)
			r = err_set(err, -errno, "pidfd_open");
	}
	if (r < 0)
		ctr_exec_proc_done(ret);
	return r;
}

int ctr_exec_proc_resize(struct ctr_exec_proc *p, unsigned width, unsigned height)
{
	if (!p->tty || p->out_fd < 0)
		return -ENOTTY;
	if (width == 0 || height == 0 || width > 65535 || height > 65535)
		return -EINVAL;
	struct winsize ws = { .ws_row = (unsigned short)height, .ws_col = (unsigned short)width };
	if (ioctl(p->out_fd, TIOCSWINSZ, &ws) < 0)
		return -errno;
	/* The runtime copies the size on to the container's terminal. */
	if (p->pid > 0 && !p->reaped)
		(void)kill(p->pid, SIGWINCH);
	return 0;
}

int ctr_exec_proc_reap(struct ctr_exec_proc *p, bool block)
{
	if (p->reaped)
		return p->exit_code;
	int st = 0;
	pid_t r;
	while ((r = waitpid(p->pid, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -errno;
	if (r == 0)
		return -EAGAIN;
	p->reaped = true;
	p->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return p->exit_code;
}

void ctr_exec_proc_kill(struct ctr_exec_proc *p)
{
	if (p->target)
		ctr_exec_target_kill(p->target);
	if (p->pid > 0 && !p->reaped)
		(void)kill(p->pid, SIGKILL);
}

void ctr_exec_proc_done(struct ctr_exec_proc *p)
{
	int fds[] = { p->pidfd, p->in_fd, p->out_fd, p->err_fd };
	close_fds(fds, ARRAY_SIZE(fds));
	if (p->pid > 0 && !p->reaped) {
		/* Still running: the session ended without it. */
		ctr_exec_proc_kill(p);
		(void)ctr_exec_proc_reap(p, true);
	}
	ctr_exec_target_free(p->target);
	ctr_exec_proc_init(p);
}

/* ---- the exec'd process and what it started ---- */

static pid_t ppid_of(const char *pid)
{
	cleanup_free char *path = xasprintf("/proc/%s/stat", pid);
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, path, 4096, &text, &len, NULL) < 0)
		return -1;
	/* "pid (comm) state ppid ...": comm may hold anything, even ") ". */
	const char *q = strrchr(text, ')');
	int ppid = -1;
	if (!q || sscanf(q + 1, " %*c %d", &ppid) != 1)
		ppid = -1;
	free(text);
	return ppid;
}

/* `root` and every process below it, found by walking /proc. */
static size_t descendants(pid_t root, pid_t *out, size_t max)
{
	size_t n = 0;
	out[n++] = root;
	for (size_t done = 0; done < n && n < max; done++) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		while (d && (de = readdir(d)) && n < max) {
			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			if (ppid_of(de->d_name) == out[done])
				out[n++] = (pid_t)strtol(de->d_name, NULL, 10);
		}
		if (d)
			closedir(d);
	}
	return n;
}

static pid_t read_pid(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, path, 64, &text, &len, NULL) < 0)
		return -1;
	char *end = NULL;
	long v = strtol(text, &end, 10);
	free(text);
	return end == NULL || v <= 1 || v > INT32_MAX ? -1 : (pid_t)v;
}

static void kill_tree(const char *pidfile)
{
	pid_t pid = read_pid(pidfile);
	if (pid < 0)
		return;
	pid_t pids[256];
	size_t n = descendants(pid, pids, ARRAY_SIZE(pids));
	for (size_t i = 0; i < n; i++)
		(void)kill(pids[i], SIGKILL);
	(void)proc_kill_wait(pid, SIGKILL, 2000);
}

/* ---- what ends an exec'd program ----
 *
 * runc's --pid-file holds the program's host pid. gVisor's runsc writes
 * its own there (the program runs inside the sandbox, on the sandbox's
 * kernel): only `runsc kill --pid` reaches the program, by the pid that
 * --internal-pid-file holds. */

#define SANDBOX_KILL_MS 5000

struct ctr_exec_target *ctr_exec_target_new(const struct ctr_mgr *m, const struct ctr *c)
{
	struct ctr_exec_target *t = xzalloc(sizeof(*t));
	char rnd[ID_LEN + 1];
	(void)id_new(rnd);
	cleanup_free char *name = xasprintf("exec-%.16s.pid", rnd);
	t->pidfile = ctr_path_run(m, c->id, name);
	if (ctr_rt_sandboxed(c->rt)) {
		t->internal = xasprintf("%s.internal", t->pidfile);
		ctr_rt_argv(c->rt, &t->kill_argv);
		strv_push(&t->kill_argv, "kill");
		strv_push(&t->kill_argv, "--pid");
		t->env = ctr_rt_env(c->rt);
		t->id = xstrdup(c->id);
	}
	return t;
}

void ctr_exec_target_args(const struct ctr_exec_target *t, char ***argv)
{
	strv_push(argv, "--pid-file");
	strv_push(argv, t->pidfile);
	if (t->internal) {
		strv_push(argv, "--internal-pid-file");
		strv_push(argv, t->internal);
	}
}

static void kill_in_sandbox(const struct ctr_exec_target *t)
{
	pid_t pid = read_pid(t->internal);
	if (pid < 0)
		return;
	char num[16];
	(void)snprintf(num, sizeof(num), "%d", (int)pid);
	char **argv = NULL;
	for (size_t i = 0; t->kill_argv[i]; i++)
		strv_push(&argv, t->kill_argv[i]);
	strv_push(&argv, num);
	strv_push(&argv, t->id);
	strv_push(&argv, "KILL");
	struct proc_opts o = { .argv = argv, .env = t->env, .timeout_ms = SANDBOX_KILL_MS };
	struct proc_result res = { 0 };
	cleanup_err struct err err = ERR_INIT;
	int r = proc_run(&o, &res, &err);
	if (r < 0 || res.status != 0)
		log_warn("exec: the program in the sandbox may still run", "id=%s pid=%d err=%s",
			 t->id, (int)pid,
			 r < 0	      ? err_str(&err)
			 : res.errout ? res.errout
				      : "");
	proc_result_done(&res);
	strv_free(argv);
}

void ctr_exec_target_kill(const struct ctr_exec_target *t)
{
	if (t->internal)
		kill_in_sandbox(t);
	kill_tree(t->pidfile);
}

void ctr_exec_target_free(struct ctr_exec_target *t)
{
	if (!t)
		return;
	(void)unlink(t->pidfile);
	free(t->pidfile);
	if (t->internal) {
		(void)unlink(t->internal);
		free(t->internal);
	}
	strv_free(t->kill_argv);
	strv_free(t->env);
	free(t->id);
	free(t);
}
