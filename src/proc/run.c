/* proc_run: spawn with CLOEXEC pipes, bounded capture, timeout, cancel. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "proc/proc.h"
#include "proc/proc_int.h"

struct sink {
	char *buf;
	size_t len, cap, max;
	bool truncated;
};

static int sink_read(int fd, struct sink *s)
{
	char tmp[16384];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 1 : -errno;
		if (n == 0)
			return 0;
		size_t take = (size_t)n;
		if (s->len + take > s->max) {
			take = s->max - s->len;
			s->truncated = true;
		}
		if (s->len + take + 1 > s->cap) {
			s->cap = (s->len + take + 1) * 2;
			s->buf = xrealloc(s->buf, s->cap);
		}
		memcpy(s->buf + s->len, tmp, take);
		s->len += take;
	}
}

struct proc_cancel {
	int fd; /* an eventfd, readable once fired */
};

int proc_cancel_new(struct proc_cancel **ret, struct err *err)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return err_set(err, -errno, "eventfd");
	struct proc_cancel *c = xnew(struct proc_cancel);
	c->fd = fd;
	*ret = c;
	return 0;
}

void proc_cancel_fire(struct proc_cancel *c)
{
	uint64_t one = 1;
	while (write(c->fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void proc_cancel_free(struct proc_cancel *c)
{
	if (!c)
		return;
	(void)close(c->fd);
	free(c);
}

static bool fired(const struct proc_cancel *c)
{
	if (!c)
		return false;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

struct io {
	int in_w, out_r, err_r, pidfd, cancel;
	const char *input;
	size_t input_len, input_off;
	struct sink out, errs;
};

/* Pump the pipes until both outputs hit EOF or the child exits and they
 * are drained. Returns 0, -ETIMEDOUT, -ECANCELED or -errno. */
static int pump(struct io *io, uint64_t timeout_ms)
{
	uint64_t deadline = timeout_ms ? mono_ms() + timeout_ms : 0;
	bool exited = false;
	while (io->out_r >= 0 || io->err_r >= 0) {
		struct pollfd p[5] = {
			{ .fd = io->in_w, .events = POLLOUT },
			{ .fd = io->out_r, .events = POLLIN },
			{ .fd = io->err_r, .events = POLLIN },
			{ .fd = exited ? -1 : io->pidfd, .events = POLLIN },
			{ .fd = io->cancel, .events = POLLIN },
		};
		int wait = -1;
		if (deadline) {
			uint64_t t = mono_ms();
			if (t >= deadline)
				return -ETIMEDOUT;
			wait = (int)(deadline - t);
		}
		if (exited)
			wait = 0; /* drain what is left, then stop */
		int n = poll(p, 5, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p[4].revents)
			return -ECANCELED;
		if (n == 0 && exited)
			break;
		if (p[0].revents) {
			ssize_t w = write(io->in_w, io->input + io->input_off,
					  io->input_len - io->input_off);
			if (w > 0)
				io->input_off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
			    io->input_off == io->input_len) {
				close(io->in_w);
				io->in_w = -1;
			}
		}
		int *fds[2] = { &io->out_r, &io->err_r };
		struct sink *sinks[2] = { &io->out, &io->errs };
		for (int i = 0; i < 2; i++) {
			if (!p[i + 1].revents)
				continue;
			int r = sink_read(*fds[i], sinks[i]);
			if (r < 0)
				return r;
			if (r == 0) {
				close(*fds[i]);
				*fds[i] = -1;
			}
		}
		if (p[3].revents)
			exited = true;
	}
	return 0;
}

static void io_close(struct io *io)
{
	int *fds[] = { &io->in_w, &io->out_r, &io->err_r, &io->pidfd };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	free(io->out.buf);
	free(io->errs.buf);
}

static int wait_child(pid_t pid, int *ret_status)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	*ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
	return 0;
}

/* Close both ends and forget them: a second close could hit another
 * thread's new fd. */
static void fd_pair_close(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
}

/* Pipes, the child and its pidfd, the parent's ends made non-blocking in
 * io. On failure nothing is left open or running (err says what failed). */
static int io_start(const struct proc_opts *o, struct io *io, pid_t *ret_pid, struct err *err)
{
	static char *const empty_env[] = { NULL };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
	int r = 0;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0)
		r = err_set(err, -errno, "pipe");
	const int fds[] = { in[0], out[1], er[1] };
	if (r >= 0 && (r = proc_spawn_fds_flags(o->argv, o->env ? o->env : empty_env, fds, 3,
						POSIX_SPAWN_SETPGROUP, ret_pid)) < 0)
		err_set(err, r, "exec %s", o->argv[0]);
	if (r >= 0) {
		io->in_w = TAKE_FD(in[1]);
		io->out_r = TAKE_FD(out[0]);
		io->err_r = TAKE_FD(er[0]);
	}
	fd_pair_close(in);
	fd_pair_close(out);
	fd_pair_close(er);
	if (r < 0)
		return r;
	io->pidfd = (int)pidfd_open(*ret_pid, 0);
	if (io->pidfd < 0) {
		r = err_set(err, -errno, "pidfd_open");
		(void)kill(*ret_pid, SIGKILL); /* not reaped yet: the pid is still its */
		int st;
		(void)wait_child(*ret_pid, &st);
		return r;
	}
	if (!o->input_len) {
		close(io->in_w);
		io->in_w = -1;
	}
	(void)fs_fd_set_nonblock(io->out_r, true);
	(void)fs_fd_set_nonblock(io->err_r, true);
	if (io->in_w >= 0)
		(void)fs_fd_set_nonblock(io->in_w, true);
	io->input = o->input;
	io->input_len = o->input_len;
	io->out.max = io->errs.max = o->max_output ? o->max_output : PROC_OUTPUT_MAX;
	return 0;
}

/* Linux 6.9's flag of pidfd_send_signal (older headers lack it). */
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

/* SIGKILL to the process group the child leads, named by its pidfd so that
 * a number reused after another thread reaped it (the ExecSync watcher's
 * kill of a runtime that wrote its own pid) is never hit. A kernel before
 * 6.9 gets kill(-pid), only while the child is not reaped. */
static void kill_group(int pidfd, pid_t pid)
{
	if (pidfd_send_signal(pidfd, SIGKILL, NULL, PIDFD_SIGNAL_PROCESS_GROUP) == 0 ||
	    errno != EINVAL)
		return;
	siginfo_t si = { 0 };
	if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
		(void)kill(-pid, SIGKILL);
}

/* The run was cut short (pump's -errno r): kill the child's process group
 * (what it started, such as a plugin's IPAM plugin or a wrapper's program,
 * goes with it) and reap the child. */
static int cut_short(const struct proc_opts *o, const struct io *io, pid_t pid, int r,
		     struct err *err)
{
	kill_group(io->pidfd, pid);
	(void)pidfd_send_signal(io->pidfd, SIGKILL, NULL, 0);
	int st;
	(void)wait_child(pid, &st);
	if (r == -ETIMEDOUT)
		return err_msg(err, r, "%s: timed out after %llu ms", o->argv[0],
			       (unsigned long long)o->timeout_ms);
	if (r == -ECANCELED)
		return err_msg(err, r, "%s: cancelled", o->argv[0]);
	return err_set(err, r, "%s: read output", o->argv[0]);
}

static char *take_sink(struct sink *s, size_t *ret_len)
{
	char *b = s->buf ? TAKE_PTR(s->buf) : xstrdup("");
	b[s->len] = 0;
	*ret_len = s->len;
	return b;
}

int proc_run(const struct proc_opts *o, struct proc_result *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	if (fired(o->cancel))
		return err_msg(err, -ECANCELED, "%s: cancelled", o->argv[0]);
	struct io io = { .in_w = -1,
			 .out_r = -1,
			 .err_r = -1,
			 .pidfd = -1,
			 .cancel = o->cancel ? o->cancel->fd : -1 };
	pid_t pid = -1;
	int r = io_start(o, &io, &pid, err);
	if (r >= 0 && (r = pump(&io, o->timeout_ms)) < 0) {
		r = cut_short(o, &io, pid, r, err);
	} else if (r >= 0 && (r = wait_child(pid, &ret->status)) < 0) {
		err_set(err, r, "wait for %s", o->argv[0]);
	} else if (r >= 0) {
		ret->truncated = io.out.truncated || io.errs.truncated;
		ret->out = take_sink(&io.out, &ret->out_len);
		ret->errout = take_sink(&io.errs, &ret->err_len);
	}
	io_close(&io);
	return r;
}

void proc_result_done(struct proc_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->errout);
	memset(r, 0, sizeof(*r));
}
