/* The remote command client of ocic ctr exec and ctr attach: one SPDY
 * session with v4.channel.k8s.io, as client-go opens it (error, stdin,
 * stdout, stderr, resize), our stdio on its streams, and the exit code from
 * the Status on the error stream. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "ocic.h"
#include "remote.h"
#include "stream/stream.h"

#define RC_PROTOCOL "v4.channel.k8s.io"
/* Stop reading stdin while this much is queued for the server. */
#define BACKLOG_MAX (256u * 1024u)
#define STDIN_CHUNK (32u * 1024u)
/* The error stream carries one small Status. */
#define STATUS_MAX (64u * 1024u)
/* At the end, time for our last frames (FIN, GOAWAY) to leave. */
#define CLOSE_FLUSH_MS 1000

enum { CH_ERROR, CH_STDIN, CH_STDOUT, CH_STDERR, CH_RESIZE, CH_N };
static const char *const ch_names[CH_N] = { "error", "stdin", "stdout", "stderr", "resize" };

struct session {
	const struct ocic_remote *r;
	struct stream_client *c;
	uint32_t id[CH_N]; /* 0: not opened */
	bool fin[CH_N];	   /* the server finished sending on it */
	bool stdin_eof;
	bool server_gone; /* EOF or GOAWAY */
	char *status;	  /* what the error stream said */
	size_t status_len;
	int sigfd;
	bool raw;
	struct termios saved;
	int signo; /* the signal that ended us */
};

int ocic_write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			(void)poll(&pf, 1, -1);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int ocic_signalfd(bool winch)
{
	sigset_t set;
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGHUP);
	if (winch)
		(void)sigaddset(&set, SIGWINCH);
	/* A reader of our output that goes away is an error of write(2). */
	(void)signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return ocic_fail("sigprocmask: %s", strerror(errno)), -1;
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return ocic_fail("signalfd: %s", strerror(errno)), -1;
	return fd;
}

/* ---- the terminal ---- */

static void raw_on(struct session *s)
{
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &s->saved) < 0)
		return;
	t = s->saved;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		s->raw = true;
}

static void raw_off(struct session *s)
{
	if (s->raw)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &s->saved);
	s->raw = false;
}

static void send_size(struct session *s)
{
	struct winsize ws;
	if (!s->id[CH_RESIZE])
		return;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return;
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "{\"Width\":%u,\"Height\":%u}", ws.ws_col, ws.ws_row);
	stream_client_send(s->c, s->id[CH_RESIZE], msg, (size_t)n);
}

/* ---- the session ---- */

static int open_streams(struct session *s)
{
	/* client-go's order; the command starts once the server has them all. */
	bool want[CH_N] = { true, s->r->in, true, !s->r->tty, s->r->tty };
	for (int ch = 0; ch < CH_N; ch++) {
		if (!want[ch])
			continue;
		const char *kv[] = { "streamtype", ch_names[ch], NULL };
		int id = stream_client_open(s->c, kv);
		if (id < 0)
			return ocic_fail("cannot open the %s stream", ch_names[ch]);
		s->id[ch] = (uint32_t)id;
	}
	send_size(s);
	return 0;
}

static int channel_of(const struct session *s, uint32_t id)
{
	for (int ch = 0; ch < CH_N; ch++)
		if (s->id[ch] && s->id[ch] == id)
			return ch;
	return -1;
}

static int on_event(struct session *s, const struct stream_client_ev *ev)
{
	int ch = channel_of(s, ev->id);
	switch (ev->type) {
	case STREAM_CLIENT_GOAWAY:
		s->server_gone = true;
		return 0;
	case STREAM_CLIENT_RESET:
		if (ch >= 0 && !s->fin[CH_ERROR])
			return ocic_fail(
			    "the streaming server refused the %s stream (RST_STREAM %u)",
			    ch_names[ch], ev->status);
		return 0;
	case STREAM_CLIENT_REPLY:
		if (ch >= 0 && ev->fin)
			s->fin[ch] = true;
		return 0;
	case STREAM_CLIENT_DATA:
		break;
	}
	if (ch < 0)
		return 0;
	if (ev->len && ch == CH_ERROR) {
		if (s->status_len + ev->len > STATUS_MAX)
			return ocic_fail("the error stream says more than %u bytes", STATUS_MAX);
		s->status = xrealloc(s->status, s->status_len + ev->len + 1);
		memcpy(s->status + s->status_len, ev->data, ev->len);
		s->status_len += ev->len;
		s->status[s->status_len] = '\0';
	} else if (ev->len && (ch == CH_STDOUT || ch == CH_STDERR)) {
		/* A reader that went away does not end the command. */
		(void)ocic_write_all(ch == CH_STDOUT ? STDOUT_FILENO : STDERR_FILENO, ev->data,
				     ev->len);
	}
	if (ev->fin)
		s->fin[ch] = true;
	return 0;
}

static int server_input(struct session *s)
{
	cleanup_err struct err err = ERR_INIT;
	int r = stream_client_read(s->c, &err);
	if (r == 0)
		s->server_gone = true;
	else if (r < 0 && r != -EAGAIN)
		return ocic_fail("%s", err_str(&err));
	for (;;) {
		struct stream_client_ev ev;
		r = stream_client_next(s->c, &ev, &err);
		if (r < 0)
			return ocic_fail("%s", err_str(&err));
		if (r == 0)
			return 0;
		r = on_event(s, &ev);
		if (r != 0)
			return r;
	}
}

static void stdin_input(struct session *s)
{
	char buf[STDIN_CHUNK];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		stream_client_send(s->c, s->id[CH_STDIN], buf, (size_t)n);
		return;
	}
	/* EOF, or an error such as EIO from a terminal that hung up. */
	s->stdin_eof = true;
	stream_client_fin(s->c, s->id[CH_STDIN]);
}

/* true: a signal ends the session. */
static bool signals(struct session *s)
{
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			send_size(s);
			continue;
		}
		s->signo = (int)si.ssi_signo;
		return true;
	}
	return false;
}

static bool finished(const struct session *s)
{
	if (s->server_gone)
		return true;
	for (int ch = CH_ERROR; ch <= CH_STDERR; ch++)
		if (ch != CH_STDIN && s->id[ch] && !s->fin[ch])
			return false;
	return true;
}

static int loop(struct session *s)
{
	cleanup_err struct err err = ERR_INIT;
	while (!finished(s)) {
		if (stream_client_flush(s->c, 0, &err) < 0)
			return ocic_fail("%s", err_str(&err));
		struct pollfd p[3] = {
			{ .fd = stream_client_fd(s->c), .events = POLLIN },
			{ .fd = s->sigfd, .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
		};
		if (stream_client_backlog(s->c) > 0)
			p[0].events |= POLLOUT;
		if (s->id[CH_STDIN] && !s->stdin_eof && stream_client_backlog(s->c) < BACKLOG_MAX)
			p[2].fd = STDIN_FILENO;
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ocic_fail("poll: %s", strerror(errno));
		}
		if (p[1].revents && signals(s))
			return 0;
		if (p[2].revents)
			stdin_input(s);
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			int r = server_input(s);
			if (r != 0)
				return r;
		}
	}
	return 0;
}

/* The exit code the error stream's Status gives. */
static int outcome(const struct session *s)
{
	if (!s->fin[CH_ERROR])
		return ocic_fail("the streaming session ended before the command's exit status");
	if (s->status_len == 0)
		return OCIC_EXIT_OK; /* nothing said: no error (client-go's reading) */
	int code = 0;
	cleanup_free char *msg = NULL;
	int r = stream_status_parse((const uint8_t *)s->status, s->status_len, &code, &msg);
	if (r < 0)
		return ocic_fail("%s", msg);
	return code >= 0 && code <= 255 ? code : OCIC_EXIT_FAIL;
}

int ocic_remote_run(const struct ocic_remote *r)
{
	cleanup_err struct err err = ERR_INIT;
	struct session s = { .r = r, .sigfd = -1 };
	int rc = stream_client_connect(r->url, RC_PROTOCOL, &s.c, &err);
	if (rc < 0)
		return ocic_fail("%s", err_str(&err));
	s.sigfd = ocic_signalfd(r->tty);
	rc = s.sigfd < 0 ? OCIC_EXIT_FAIL : open_streams(&s);
	if (rc == 0 && r->tty && r->in && isatty(STDIN_FILENO))
		raw_on(&s);
	if (rc == 0)
		rc = loop(&s);
	raw_off(&s);
	if (rc == 0 && s.signo)
		rc = 128 + s.signo;
	else if (rc == 0)
		rc = outcome(&s);
	/* Leave as client-go does: GOAWAY, then close. */
	if (!s.server_gone) {
		stream_client_goaway(s.c);
		(void)stream_client_flush(s.c, CLOSE_FLUSH_MS, NULL);
	}
	stream_client_free(s.c);
	if (s.sigfd >= 0)
		(void)close(s.sigfd);
	free(s.status);
	return rc;
}

int ocic_remote_call(const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *resp_desc, struct ocic_remote *rem)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(resp_desc, "url");
	if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
		return ocic_fail("%s: its reply has no url", method);
	ProtobufCMessage *resp = NULL;
	int r = ocic_call(method, req, resp_desc, &resp);
	if (r != 0)
		return r;
	char *url;
	memcpy(&url, (const char *)resp + f->offset, sizeof(url));
	rem->url = url;
	r = ocic_remote_run(rem);
	rem->url = NULL;
	protobuf_c_message_free_unpacked(resp, NULL);
	return r;
}
