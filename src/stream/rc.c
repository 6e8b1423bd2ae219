/* The remote command backends: exec (`<runtime> exec` as our child, its
 * stdio on pipes or a terminal: ctr/exec.c) and attach (a client of the
 * container's ocimon attach socket). Both feed the channels stdout,
 * stderr and error, and take stdin and resize. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "mon/mon.h"
#include "stream/stream_int.h"

#define OUT_CHUNK (32u * 1024u)
/* After the command exits, output still buffered in its pipes is read for
 * at most this long (a background child may hold them open forever). */
#define DRAIN_NS (500ULL * 1000000ULL)

bool rc_ready(const struct sess *s)
{
	const struct stream_job *j = s->job;
	if (!s->have[RC_ERROR] || (j->in && !s->have[RC_STDIN]) || (j->out && !s->have[RC_STDOUT]))
		return false;
	if (j->err && !j->tty && !s->have[RC_STDERR])
		return false;
	/* The resize stream came with v3. */
	return !(j->tty && s->version >= 3 && !s->have[RC_RESIZE]);
}

/* The end: close the output channels, then the status on the error
 * channel, as kubelet sends it (v4 and later: a Status object; before,
 * plain text and only on failure). */
static void finish(struct sess *s, int exit_code, const char *msg)
{
	if (s->finished)
		return;
	s->finished = true;
	for (int ch = RC_STDOUT; ch <= RC_STDERR; ch++)
		if (s->have[ch])
			sess_fin(s, s->key[ch]);
	if (!s->have[RC_ERROR])
		return;
	if (s->version >= 4) {
		cleanup_free char *st = rc_status_json(exit_code, msg);
		sess_send(s, s->key[RC_ERROR], st, strlen(st));
	} else if (msg || exit_code != 0) {
		cleanup_free char *t =
		    msg ? xstrdup(msg)
			: xasprintf("command terminated with non-zero exit code: %d", exit_code);
		sess_send(s, s->key[RC_ERROR], t, strlen(t));
	}
	sess_fin(s, s->key[RC_ERROR]);
}

static int attach_connect(const char *path, struct err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_msg(err, -ENAMETOOLONG, "attach socket path '%s' too long", path);
	strcpy(sa.sun_path, path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_set(err, -errno, "connect to the container's monitor");
	return TAKE_FD(fd);
}

static int start_attach(struct sess *s, struct err *err)
{
	cleanup(ctr_info_free) struct ctr_info *ci = NULL;
	int r = ctr_status(s->srv->cfg.ctrs, s->job->id, &ci, err);
	if (r < 0)
		return r;
	if (ci->state != CTR_RUNNING)
		return err_msg(err, -EINVAL, "container %s is not running", ci->id);
	if (!ci->attach_path)
		return err_msg(err, -ENOENT, "container %s has no attach socket", ci->id);
	s->attach_fd = attach_connect(ci->attach_path, err);
	if (s->attach_fd < 0)
		return s->attach_fd;
	s->ctl_path = ci->ctl_path ? xstrdup(ci->ctl_path) : NULL;
	s->stdin_once = ci->stdin_once;
	return 0;
}

static void resize_to(void *data, unsigned w, unsigned h)
{
	struct sess *s = data;
	if (s->job->kind == STREAM_EXEC) {
		(void)ctr_exec_proc_resize(&s->ex, w, h);
		return;
	}
	cleanup_err struct err err = ERR_INIT;
	if (s->ctl_path && mon_resize(s->ctl_path, w, h, &err) < 0)
		log_debug("attach resize failed", "id=%.12s error=%s", s->job->id,
			  log_q(err_str(&err)));
}

/* A resize channel that said something other than resize messages: the
 * session goes on at its size, the rest of what it said is dropped. */
static void bad_resize(struct sess *s, int r, const struct err *err)
{
	if (r >= 0)
		return;
	log_info("streaming session: bad resize message", "id=%.12s error=%s", s->job->id,
		 log_q(err_str(err)));
	sbuf_take(&s->resize, sbuf_pending(&s->resize));
}

static void close_stdin(struct sess *s)
{
	if (s->job->kind == STREAM_EXEC && !s->ex.tty && s->ex.in_fd >= 0) {
		(void)close(s->ex.in_fd);
		s->ex.in_fd = -1;
	}
	/* A terminal has no end of input but ^D. An attached container's
	 * stdin is the container's: it ends with this client's input only
	 * for stdin_once (CRI's StdinOnce), by an empty stdin packet. */
	if (s->job->kind == STREAM_ATTACH && s->stdin_once && s->attach_fd >= 0) {
		uint8_t eof = MON_ATTACH_STDIN;
		(void)send(s->attach_fd, &eof, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		s->stdin_once = false;
	}
}

/* Pass on the stdin held; true when all of it went. */
static bool push_stdin(struct sess *s)
{
	while (sbuf_pending(&s->to_stdin) > 0) {
		const uint8_t *p = s->to_stdin.p + s->to_stdin.off;
		size_t n = sbuf_pending(&s->to_stdin);
		ssize_t w;
		if (s->job->kind == STREAM_ATTACH) {
			uint8_t pkt[MON_ATTACH_MAX_PACKET];
			size_t k = n < sizeof(pkt) - 1 ? n : sizeof(pkt) - 1;
			pkt[0] = MON_ATTACH_STDIN;
			memcpy(pkt + 1, p, k);
			w = send(s->attach_fd, pkt, k + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				w--;
		} else {
			if (s->ex.in_fd < 0) {
				sbuf_take(&s->to_stdin, n);
				break;
			}
			w = write(s->ex.in_fd, p, n);
		}
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return false;
			/* The command stopped reading: what it did not take is dropped. */
			sbuf_take(&s->to_stdin, n);
			break;
		}
		sbuf_take(&s->to_stdin, (size_t)w);
	}
	if (s->stdin_eof)
		close_stdin(s);
	return true;
}

void rc_start(struct sess *s)
{
	cleanup_err struct err err = ERR_INIT;
	int r;
	s->started = true;
	if (s->job->kind == STREAM_EXEC) {
		struct ctr_exec_opts o = { .cmd = s->job->cmd,
					   .tty = s->job->tty,
					   .in = s->job->in,
					   .out = s->job->out,
					   .err = s->job->err };
		r = ctr_exec_spawn(s->srv->cfg.ctrs, s->job->id, &o, &s->ex, &err);
		if (r >= 0)
			(void)fs_fd_set_nonblock(s->ex.out_fd, true);
		if (r >= 0 && s->ex.err_fd >= 0)
			(void)fs_fd_set_nonblock(s->ex.err_fd, true);
		if (r >= 0 && s->ex.in_fd >= 0)
			(void)fs_fd_set_nonblock(s->ex.in_fd, true);
	} else {
		r = start_attach(s, &err);
	}
	if (r < 0) {
		log_info("streaming session failed", "id=%.12s error=%s", s->job->id,
			 log_q(err_str(&err)));
		finish(s, -1, err_str(&err));
		return;
	}
	s->out_open[RC_STDOUT] = s->job->out;
	s->out_open[RC_STDERR] = s->job->err && !s->job->tty;
	if (s->job->kind == STREAM_EXEC && !s->job->out && s->ex.out_fd >= 0 && !s->ex.tty) {
		(void)close(s->ex.out_fd);
		s->ex.out_fd = -1;
	}
	/* The size first: what the client typed is for a terminal of its size. */
	if (sbuf_pending(&s->resize) > 0)
		bad_resize(s, rc_resize_parse(&s->resize, resize_to, s, &err), &err);
	(void)push_stdin(s);
}

void rc_input(struct sess *s, int ch, const uint8_t *p, size_t n)
{
	if (ch == RC_STDIN && s->job->in && !s->stdin_eof) {
		sbuf_add(&s->to_stdin, p, n);
		if (s->started && !s->finished)
			(void)push_stdin(s);
	} else if (ch == RC_RESIZE && s->job->tty) {
		sbuf_add(&s->resize, p, n);
		if (s->started) {
			cleanup_err struct err err = ERR_INIT;
			bad_resize(s, rc_resize_parse(&s->resize, resize_to, s, &err), &err);
		}
	}
}

void rc_input_eof(struct sess *s, int ch)
{
	if (ch != RC_STDIN || s->stdin_eof)
		return;
	s->stdin_eof = true;
	if (s->started && sbuf_pending(&s->to_stdin) == 0)
		close_stdin(s);
}

static void add(struct pollfd *p, size_t *n, size_t max, int fd, short ev)
{
	if (fd >= 0 && ev && *n < max)
		p[(*n)++] = (struct pollfd){ .fd = fd, .events = ev };
}

size_t rc_pollfds(struct sess *s, struct pollfd *p, size_t max)
{
	size_t n = 0;
	if (!s->started || s->finished)
		return 0;
	bool room = sess_backlog(s) < SESS_BACKLOG_MAX;
	short want_in = sbuf_pending(&s->to_stdin) > 0 ? POLLOUT : 0;
	if (s->job->kind == STREAM_ATTACH) {
		add(p, &n, max, s->attach_fd, (short)((room ? POLLIN : 0) | want_in));
		return n;
	}
	add(p, &n, max, s->ex.out_fd, room && s->out_open[RC_STDOUT] ? POLLIN : 0);
	add(p, &n, max, s->ex.err_fd, room && s->out_open[RC_STDERR] ? POLLIN : 0);
	add(p, &n, max, s->ex.in_fd, want_in);
	add(p, &n, max, s->ex.pidfd, s->exited ? 0 : POLLIN);
	return n;
}

/* Read one chunk of the command's `ch` output into its channel. */
static void pump(struct sess *s, int fd, int ch)
{
	uint8_t *buf = xmalloc(OUT_CHUNK);
	ssize_t n = read(fd, buf, OUT_CHUNK);
	if (n > 0) {
		sess_send(s, s->key[ch], buf, (size_t)n);
		s->last_ns = mono_ns();
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		/* EOF; EIO from a terminal whose other side is all closed. */
		s->out_open[ch] = false;
		sess_fin(s, s->key[ch]);
	}
	free(buf);
}

static void attach_packet(struct sess *s)
{
	uint8_t *pkt = xmalloc(MON_ATTACH_MAX_PACKET);
	ssize_t n = recv(s->attach_fd, pkt, MON_ATTACH_MAX_PACKET, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* The monitor went away: the container has ended. */
		s->exited = true;
	} else if (n > 0) {
		int ch = pkt[0] == MON_ATTACH_STDOUT   ? RC_STDOUT
			 : pkt[0] == MON_ATTACH_STDERR ? RC_STDERR
						       : -1;
		struct mon_msg m;
		if (ch >= 0 && s->out_open[ch] && n > 1)
			sess_send(s, s->key[ch], pkt + 1, (size_t)n - 1);
		else if (ch == RC_STDERR && s->job->tty && s->out_open[RC_STDOUT] && n > 1)
			sess_send(s, s->key[RC_STDOUT], pkt + 1, (size_t)n - 1);
		else if (pkt[0] == MON_ATTACH_CTL &&
			 mon_msg_decode(pkt + 1, (size_t)n - 1, &m) > 0 && m.type == MON_MSG_EXIT) {
			s->exited = true;
			s->exit_code = m.exit.exit_code;
		}
		s->last_ns = mono_ns();
	}
	free(pkt);
}

void rc_events(struct sess *s, const struct pollfd *p, size_t n)
{
	for (size_t i = 0; i < n && !s->finished; i++) {
		if (!p[i].revents)
			continue;
		int fd = p[i].fd;
		if (s->job->kind == STREAM_ATTACH) {
			if (p[i].revents & POLLOUT)
				(void)push_stdin(s);
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
				attach_packet(s);
			continue;
		}
		if (fd == s->ex.pidfd && !s->exited) {
			if (ctr_exec_proc_reap(&s->ex, false) >= 0) {
				s->exited = true;
				s->exit_code = s->ex.exit_code;
				s->exit_ns = mono_ns();
			}
			continue;
		}
		if (fd == s->ex.in_fd && (p[i].revents & (POLLOUT | POLLERR | POLLHUP)))
			(void)push_stdin(s);
		else if (fd == s->ex.out_fd && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
			pump(s, fd, RC_STDOUT);
		else if (fd == s->ex.err_fd && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
			pump(s, fd, RC_STDERR);
	}
	if (!s->started || s->finished || !s->exited)
		return;
	bool drained = !s->out_open[RC_STDOUT] && !s->out_open[RC_STDERR];
	if (s->job->kind == STREAM_ATTACH || drained || mono_ns() >= s->exit_ns + DRAIN_NS)
		finish(s, s->job->kind == STREAM_ATTACH ? 0 : s->exit_code, NULL);
}

void rc_done(struct sess *s)
{
	if (s->attach_fd >= 0)
		(void)close(s->attach_fd);
	s->attach_fd = -1;
	/* A command still running lost its client: it is killed. */
	ctr_exec_proc_done(&s->ex);
	free(s->ctl_path);
	s->ctl_path = NULL;
	sbuf_done(&s->to_stdin);
	sbuf_done(&s->resize);
}
