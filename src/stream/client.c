/* The client side of a streaming session (ocic ctr exec/attach, ocic pod
 * port-forward): TCP, the HTTP/1.1 upgrade to SPDY/3.1, and the frames of
 * one session, spoken as client-go speaks them (see spdy.c's comment). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "stream/stream_int.h"

/* The whole of connect, request and answer head. */
#define CONNECT_TIMEOUT_MS 30000
/* The body of a refused upgrade read for its message. */
#define REFUSAL_BODY_MAX 4096
#define READ_CHUNK (64u * 1024u)
#define DATA_FRAME_MAX 32768u
/* Client bytes not yet parsed: one whole frame of the largest size. */
#define IN_MAX (SPDY_MAX_PAYLOAD + 64u * 1024u)

struct stream_client {
	int fd;
	char *protocol;
	struct spdy_zin *zin;
	struct spdy_zout *zout;
	struct sbuf in, out;
	size_t consumed; /* bytes of `in` the last event used (taken on the next call) */
	uint32_t next_id;
};

const char *stream_client_protocol(const struct stream_client *c)
{
	return c->protocol;
}

int stream_client_fd(const struct stream_client *c)
{
	return c->fd;
}

void stream_client_free(struct stream_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		(void)close(c->fd);
	free(c->protocol);
	spdy_zin_free(c->zin);
	spdy_zout_free(c->zout);
	sbuf_done(&c->in);
	sbuf_done(&c->out);
	free(c);
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = mono_ms();
	return now >= deadline ? 0 : (int)(deadline - now);
}

/* Wait for `events` on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = remaining_ms(deadline);
		if (ms == 0)
			return -ETIMEDOUT;
		int r = poll(&p, 1, ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			return 0;
	}
}

static int dial(const struct stream_url *u, uint64_t deadline, struct err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	int r = getaddrinfo(u->host, u->port, &hints, &ai);
	if (r != 0)
		return err_msg(err, -EHOSTUNREACH, "streaming server %s: %s", u->host_header,
			       gai_strerror(r));
	int e = ECONNREFUSED;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		cleanup_close int fd =
		    socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			e = errno;
			continue;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		socklen_t el = sizeof(e);
		if (r < 0)
			e = -r;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (r == 0 && e == 0) {
			freeaddrinfo(ai);
			return TAKE_FD(fd);
		}
	}
	freeaddrinfo(ai);
	return err_set(err, -e, "connect to the streaming server %s", u->host_header);
}

static int write_all(int fd, const char *p, size_t n, uint64_t deadline, struct err *err)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN) {
			int r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return err_set(err, r, "send the upgrade request");
			continue;
		}
		if (w < 0 && errno != EINTR)
			return err_set(err, -errno, "send the upgrade request");
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	return 0;
}

/* One read into c->in with the deadline: bytes read, 0 at EOF, -errno. */
static int read_some(struct stream_client *c, uint64_t deadline)
{
	int r = wait_fd(c->fd, POLLIN, deadline);
	if (r < 0)
		return r;
	uint8_t buf[4096];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	sbuf_add(&c->in, buf, (size_t)n);
	return (int)n;
}

/* A refused upgrade: its status and body (what the server says is wrong). */
static int refused(struct stream_client *c, const struct stream_reply_head *h, uint64_t deadline,
		   struct err *err)
{
	size_t want = h->content_length >= 0 && h->content_length < REFUSAL_BODY_MAX
			  ? (size_t)h->content_length
			  : REFUSAL_BODY_MAX;
	/* Until the body is whole or the server closes; a second at most. */
	uint64_t until = mono_ms() + 1000 < deadline ? mono_ms() + 1000 : deadline;
	while (sbuf_pending(&c->in) < want) {
		int r = read_some(c, until);
		if (r == 0 || (r < 0 && r != -EAGAIN))
			break;
	}
	size_t n = sbuf_pending(&c->in) < want ? sbuf_pending(&c->in) : want;
	const char *body = n ? (const char *)c->in.p + c->in.off : "";
	while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' '))
		n--;
	return err_msg(err, -EPROTO, "upgrade refused: HTTP %d%s%s%s%.*s", h->status,
		       *h->reason ? " " : "", h->reason, n ? ": " : "", (int)n, body);
}

static int check_101(struct stream_client *c, const struct stream_reply_head *h,
		     const char *protocol, uint64_t deadline, struct err *err)
{
	if (h->status != 101)
		return refused(c, h, deadline, err);
	if (!stream_token_list_has(h->upgrade, "SPDY/3.1") ||
	    !stream_token_list_has(h->connection, "upgrade"))
		return err_msg(
		    err, -EPROTO,
		    "the streaming server answered 101 but not with an upgrade to SPDY/3.1 (Upgrade: %s)",
		    h->upgrade ? h->upgrade : "none");
	if (!h->protocol || strcmp(h->protocol, protocol) != 0)
		return err_msg(err, -EPROTONOSUPPORT,
			       "the streaming server did not agree to protocol %s (it answered %s)",
			       protocol, h->protocol ? h->protocol : "none");
	return 0;
}

/* Read the answer's head; on a 101, what follows it stays in c->in. */
static int upgrade_reply(struct stream_client *c, const char *protocol, uint64_t deadline,
			 struct err *err)
{
	for (;;) {
		struct stream_reply_head h = { 0 };
		ssize_t hl =
		    stream_reply_head_parse(c->in.p ? c->in.p + c->in.off : (const uint8_t *)"",
					    sbuf_pending(&c->in), &h, err);
		if (hl == -E2BIG)
			return err_msg(err, -EPROTO, "the streaming server's answer has no end");
		if (hl < 0)
			return (int)hl;
		if (hl > 0) {
			sbuf_take(&c->in, (size_t)hl);
			int r = check_101(c, &h, protocol, deadline, err);
			if (r == 0)
				c->protocol = xstrdup(h.protocol);
			stream_reply_head_done(&h);
			return r;
		}
		int r = read_some(c, deadline);
		if (r == 0)
			return err_msg(
			    err, -ECONNRESET,
			    "the streaming server closed the connection without an answer");
		if (r == -ETIMEDOUT)
			return err_msg(err, r, "no answer from the streaming server in %d s",
				       CONNECT_TIMEOUT_MS / 1000);
		if (r < 0 && r != -EAGAIN)
			return err_set(err, r, "read the streaming server's answer");
	}
}

int stream_client_connect(const char *url, const char *protocol, struct stream_client **ret,
			  struct err *err)
{
	uint64_t deadline = mono_ms() + CONNECT_TIMEOUT_MS;
	struct stream_url u = { 0 };
	int r = stream_url_parse(url, &u, err);
	if (r < 0)
		return r;
	struct stream_client *c = xnew(struct stream_client);
	c->next_id = 1;
	c->fd = dial(&u, deadline, err);
	r = c->fd;
	if (r >= 0) {
		/* client-go's request: POST, no body. */
		cleanup_free char *req =
		    xasprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ocic\r\n"
			      "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
			      "X-Stream-Protocol-Version: %s\r\n\r\n",
			      u.path, u.host_header, protocol);
		r = write_all(c->fd, req, strlen(req), deadline, err);
	}
	if (r >= 0)
		r = upgrade_reply(c, protocol, deadline, err);
	stream_url_done(&u);
	if (r < 0) {
		stream_client_free(c);
		return r;
	}
	c->zin = spdy_zin_new();
	c->zout = spdy_zout_new();
	*ret = c;
	return 0;
}

int stream_client_open(struct stream_client *c, const char *const *kv)
{
	if (c->next_id > 0x7fffffffu)
		return -ENOSPC;
	uint32_t id = c->next_id;
	c->next_id += 2;
	spdy_put_syn_stream(&c->out, c->zout, id, 0, kv);
	return (int)id;
}

void stream_client_send(struct stream_client *c, uint32_t id, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		size_t k = n > DATA_FRAME_MAX ? DATA_FRAME_MAX : n;
		spdy_put_data(&c->out, id, 0, b, k);
		b += k;
		n -= k;
	}
}

void stream_client_fin(struct stream_client *c, uint32_t id)
{
	spdy_put_data(&c->out, id, SPDY_FLAG_FIN, NULL, 0);
}

void stream_client_reset(struct stream_client *c, uint32_t id)
{
	spdy_put_rst(&c->out, id, SPDY_CANCEL);
}

void stream_client_goaway(struct stream_client *c)
{
	spdy_put_goaway(&c->out, 0, 0);
}

size_t stream_client_backlog(const struct stream_client *c)
{
	return sbuf_pending(&c->out);
}

int stream_client_flush(struct stream_client *c, int timeout_ms, struct err *err)
{
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	while (sbuf_pending(&c->out) > 0) {
		ssize_t n = send(c->fd, c->out.p + c->out.off, sbuf_pending(&c->out), MSG_NOSIGNAL);
		if (n > 0) {
			sbuf_take(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return err_set(err, -errno, "send to the streaming server");
		if (timeout_ms <= 0)
			return 0;
		int r = wait_fd(c->fd, POLLOUT, deadline);
		if (r < 0)
			return err_set(err, r, "send to the streaming server");
	}
	return 0;
}

int stream_client_read(struct stream_client *c, struct err *err)
{
	if (c->consumed) {
		sbuf_take(&c->in, c->consumed);
		c->consumed = 0;
	}
	if (sbuf_pending(&c->in) >= IN_MAX)
		return -EAGAIN; /* a frame this big was refused by the parser already */
	uint8_t *buf = xmalloc(READ_CHUNK);
	ssize_t n = read(c->fd, buf, READ_CHUNK);
	int r = (int)n;
	if (n > 0)
		sbuf_add(&c->in, buf, (size_t)n);
	else if (n < 0 && (errno == EAGAIN || errno == EINTR))
		r = -EAGAIN;
	else if (n < 0)
		r = err_set(err, -errno, "read from the streaming server");
	free(buf);
	return r;
}

/* A header block from the server: decoded to keep the zlib stream in step,
 * then dropped (nothing the client needs is in it). */
static int skip_headers(struct stream_client *c, const struct spdy_frame *f, struct err *err)
{
	struct spdy_headers h = { 0 };
	int r = spdy_headers_decode(c->zin, f->data, f->len, &h, err);
	spdy_headers_done(&h);
	return r < 0 ? err_wrap(err, "a header block from the streaming server") : 0;
}

/* One frame: 1 with an event, 0 for one handled here, < 0 broken. */
static int frame(struct stream_client *c, const struct spdy_frame *f, struct stream_client_ev *ev,
		 struct err *err)
{
	*ev = (struct stream_client_ev){ .id = f->stream_id, .fin = f->flags & SPDY_FLAG_FIN };
	switch (f->type) {
	case SPDY_DATA:
		ev->type = STREAM_CLIENT_DATA;
		ev->data = f->data;
		ev->len = f->len;
		return 1;
	case SPDY_SYN_REPLY:
		ev->type = STREAM_CLIENT_REPLY;
		return skip_headers(c, f, err) < 0 ? -EBADMSG : 1;
	case SPDY_SYN_STREAM:
		/* Servers open no streams in these protocols. */
		if (skip_headers(c, f, err) < 0)
			return -EBADMSG;
		spdy_put_rst(&c->out, f->stream_id, SPDY_REFUSED_STREAM);
		return 0;
	case SPDY_HEADERS:
		return skip_headers(c, f, err) < 0 ? -EBADMSG : 0;
	case SPDY_RST_STREAM:
		ev->type = STREAM_CLIENT_RESET;
		ev->status = f->status;
		return 1;
	case SPDY_PING:
		/* Even ids are the server's: echo them; odd ones answer ours. */
		if (f->ping_id % 2 == 0)
			spdy_put_ping(&c->out, f->ping_id);
		return 0;
	case SPDY_GOAWAY:
		ev->type = STREAM_CLIENT_GOAWAY;
		ev->status = f->status;
		return 1;
	default: /* SETTINGS, WINDOW_UPDATE, unknown: no flow control here */
		return 0;
	}
}

int stream_client_next(struct stream_client *c, struct stream_client_ev *ev, struct err *err)
{
	if (c->consumed) {
		sbuf_take(&c->in, c->consumed);
		c->consumed = 0;
	}
	while (sbuf_pending(&c->in) > 0) {
		struct spdy_frame f;
		ssize_t n = spdy_frame_parse(c->in.p + c->in.off, sbuf_pending(&c->in), &f);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return err_set(err, (int)n, "a frame from the streaming server");
		int r = frame(c, &f, ev, err);
		if (r < 0)
			return r;
		if (r > 0) {
			/* The event points into the buffer: taken on the next call. */
			c->consumed = (size_t)n;
			return 1;
		}
		sbuf_take(&c->in, (size_t)n);
	}
	return 0;
}
