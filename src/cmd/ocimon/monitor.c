/* The monitor's loop: container output into the CRI log and to attach
 * clients, ctl requests, SIGCHLD (we are the subreaper), then the exit
 * file. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "ocimon.h"

struct monitor {
	const struct ocimon_args *a;
	struct ocimon_create *c;
	struct mon_log *log;
	struct ocimon_attach *at;
	struct ev_loop *loop;
	struct ocimon_oom oom;
	int ctl_fd;
	struct ev_timer *partial_timer; /* armed while a line is pending */
	int rc;
	bool done;
	struct err err;
};

/* One read buffer for every output fd: the loop is single-threaded. */
static char out_buf[8192];

static void close_output(struct monitor *m, int s)
{
	ev_fd_del(m->loop, m->c->out_fd[s]);
	(void)close(m->c->out_fd[s]);
	m->c->out_fd[s] = -1;
	(void)mon_log_flush(m->log, (enum mon_stream)s, NULL);
}

/* Read what is there now from output stream s. Returns 1 after data, 0
 * when there is none now, -1 once the stream is finished (EOF, or EIO from
 * a pty whose other side closed). */
static int pump(struct monitor *m, int s)
{
	ssize_t n = read(m->c->out_fd[s], out_buf, sizeof(out_buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		close_output(m, s);
		return -1;
	}
	/* A failed log write (disk full) is not fatal: the next record tries
	 * again, and attach clients still get the output. */
	(void)mon_log_write(m->log, (enum mon_stream)s, out_buf, (size_t)n, NULL);
	ocimon_attach_broadcast(m->at, s == 0 ? MON_ATTACH_STDOUT : MON_ATTACH_STDERR, out_buf,
				(size_t)n);
	return 1;
}

/* A line pending for PARTIAL_FLUSH_MS is written as a P record. */
#define PARTIAL_FLUSH_MS 1000

static void on_partial_timer(struct ev_loop *loop, void *data)
{
	struct monitor *m = data;
	m->partial_timer = NULL;
	for (int s = 0; s < 2; s++)
		(void)mon_log_flush_partial(m->log, (enum mon_stream)s, NULL);
}

static void on_output(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct monitor *m = data;
	int s = fd == m->c->out_fd[0] ? 0 : 1;
	(void)pump(m, s);
	if (!m->partial_timer && (mon_log_pending(m->log, MON_STREAM_STDOUT) > 0 ||
				  mon_log_pending(m->log, MON_STREAM_STDERR) > 0))
		m->partial_timer = ev_timer_add(loop, PARTIAL_FLUSH_MS, on_partial_timer, m);
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The container's init is gone: take the output still buffered in the
 * pipes (everything it wrote is there now), write the exit file, stop. */
static void finish(struct monitor *m, int status)
{
	struct mon_exit e = { .finished_ns = realtime_ns() };
	if (WIFSIGNALED(status)) {
		e.signal = WTERMSIG(status);
		e.exit_code = 128 + e.signal;
	} else {
		e.exit_code = WEXITSTATUS(status);
	}
	for (int s = 0; s < 2; s++) {
		unsigned rounds = 0;
		/* Bounded: a surviving grandchild could keep writing. */
		while (m->c->out_fd[s] >= 0 && rounds++ < 1024 && pump(m, s) > 0)
			;
		if (m->c->out_fd[s] >= 0)
			close_output(m, s);
	}
	ev_timer_cancel(m->loop, m->partial_timer);
	m->partial_timer = NULL;
	e.oom = ocimon_oom_check(&m->oom);
	m->rc = mon_exit_write(m->a->exit_path, &e, &m->err);
	ocimon_attach_done(m->at, &e, m->a->attach_path);
	ev_fd_del(m->loop, m->ctl_fd);
	(void)unlink(m->a->ctl_path);
	m->done = true;
	ev_loop_quit(m->loop);
}

static void on_sigchld(struct ev_loop *loop, int signo, void *data)
{
	struct monitor *m = data;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return;
		/* Other pids are orphans reparented to us (the subreaper). */
		if (p == m->c->pid)
			finish(m, st);
	}
}

static int handle_request(struct monitor *m, const struct mon_msg *req)
{
	struct err err = ERR_INIT;
	int r;
	switch (req->type) {
	case MON_MSG_REOPEN_LOG:
		r = mon_log_reopen(m->log, &err);
		err_done(&err);
		return r;
	case MON_MSG_RESIZE: {
		if (!m->c->tty || m->c->out_fd[0] < 0)
			return -ENOTTY;
		struct winsize ws = { .ws_row = req->resize.height, .ws_col = req->resize.width };
		return ioctl(m->c->out_fd[0], TIOCSWINSZ, &ws) < 0 ? -errno : 0;
	}
	default:
		return -EOPNOTSUPP;
	}
}

static void on_ctl_client(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct monitor *m = data;
	static uint8_t buf[MON_MSG_MAX_SIZE];
	static struct mon_msg req;
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		int r = mon_msg_decode(buf, (size_t)n, &req);
		struct mon_msg rep = { .type = MON_MSG_REPLY };
		rep.status = r < 0 ? (r == -EAGAIN ? -EBADMSG : r) : handle_request(m, &req);
		int len = mon_msg_encode(&rep, buf, sizeof(buf));
		if (len > 0)
			(void)send(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	/* One request per connection. */
	ev_fd_del(loop, fd);
	(void)close(fd);
}

static void on_ctl_accept(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c >= 0 && ev_fd_add(loop, c, EPOLLIN, on_ctl_client, data, NULL) < 0)
		(void)close(c);
}

static int watch(struct monitor *m, struct err *err)
{
	int r = ev_signal_add(m->loop, SIGCHLD, on_sigchld, m, err);
	for (int s = 0; r >= 0 && s < 2; s++) {
		if (m->c->out_fd[s] < 0)
			continue;
		(void)fs_fd_set_nonblock(m->c->out_fd[s], true);
		r = ev_fd_add(m->loop, m->c->out_fd[s], EPOLLIN, on_output, m, err);
	}
	if (r >= 0)
		r = ev_fd_add(m->loop, m->ctl_fd, EPOLLIN, on_ctl_accept, m, err);
	if (r >= 0)
		r = ocimon_attach_start(m->at, m->c->in_fd, m->a->stdin_once, err);
	return r;
}

int ocimon_run(const struct ocimon_args *a, struct ocimon_create *c, struct mon_log *log,
	       int ctl_fd, struct ocimon_attach *at, struct err *err)
{
	struct monitor m = { .a = a,
			     .c = c,
			     .log = log,
			     .at = at,
			     .ctl_fd = ctl_fd,
			     .loop = at->loop,
			     .err = ERR_INIT };
	ocimon_oom_init(&m.oom, c->pid);
	int r = watch(&m, err);
	if (r >= 0) {
		/* The container may have exited before SIGCHLD was routed to
		 * the loop's signalfd. */
		on_sigchld(m.loop, SIGCHLD, &m);
		if (!m.done)
			r = ev_loop_run(m.loop);
	}
	ocimon_oom_done(&m.oom);
	if (r >= 0 && m.rc < 0)
		r = err_move(err, &m.err);
	err_done(&m.err);
	return r;
}
