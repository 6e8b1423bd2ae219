/* gRPC client over HTTP/2 on a unix socket: nghttp2 client session driven
 * by poll() on a nonblocking socket, many streams per connection. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "rpcclient/rpcclient.h"

#define CLIENT_DEFAULT_MAX_RECV (64u << 20)
#define CLIENT_WINDOW (16 << 20)
#define CLIENT_OUTBUF (64 << 10)
#define FRAME_HDR 5

struct client_stream {
	struct rpc_client *c;
	struct client_stream *next; /* in c->active or c->finished */
	int32_t id;
	uint8_t *out; /* framed request */
	size_t out_len, out_off;
	uint8_t *in; /* received, not yet deframed */
	size_t in_len, in_cap;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0: none */
	int http_status;
	bool have_status; /* grpc-status seen */
	bool ended;	  /* code decided locally (deadline, size, cancel) */
	struct rpc_client_reply reply;
	rpc_client_msg_fn on_msg;
	rpc_client_done_fn on_done;
	void *data;
};

struct rpc_client {
	int fd;
	nghttp2_session *sess;
	size_t max_recv;
	struct client_stream *active;
	struct client_stream *finished;
	unsigned pending;
	int broken; /* 0 or the -errno that broke the connection */
	char *broken_msg;
	uint8_t *outbuf;
	size_t out_len, out_off, out_cap;
};

void rpc_client_reply_done(struct rpc_client_reply *r)
{
	if (!r)
		return;
	free(r->message);
	free(r->data);
	*r = (struct rpc_client_reply){ 0 };
}

static void stream_free(struct client_stream *s)
{
	free(s->out);
	free(s->in);
	rpc_client_reply_done(&s->reply);
	free(s);
}

static void list_remove(struct client_stream **head, struct client_stream *s)
{
	for (struct client_stream **p = head; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			s->next = NULL;
			return;
		}
	}
}

/* Decide the call's status locally (first decision wins). */
static void stream_end(struct client_stream *s, enum rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stream_end(struct client_stream *s, enum rpc_code code, const char *fmt, ...)
{
	va_list ap;

	if (s->ended || s->have_status)
		return;
	s->ended = true;
	s->reply.code = code;
	free(s->reply.message);
	va_start(ap, fmt);
	s->reply.message = xvasprintf(fmt, ap);
	va_end(ap);
}

/* Move a stream from active to finished; its done callback runs later,
 * outside nghttp2's callbacks. */
static void stream_finish(struct client_stream *s)
{
	struct rpc_client *c = s->c;

	list_remove(&c->active, s);
	s->next = c->finished;
	c->finished = s;
	if (s->id > 0)
		(void)nghttp2_session_set_stream_user_data(c->sess, s->id, NULL);
}

static void stream_cancel(struct client_stream *s, enum rpc_code code, const char *what)
{
	stream_end(s, code, "%s", what);
	if (s->id > 0)
		(void)nghttp2_submit_rst_stream(s->c->sess, NGHTTP2_FLAG_NONE, s->id,
						NGHTTP2_CANCEL);
}

static enum rpc_code code_from_http(int status)
{
	switch (status) {
	case 400:
		return RPC_INTERNAL;
	case 401:
		return RPC_UNAUTHENTICATED;
	case 403:
		return RPC_PERMISSION_DENIED;
	case 404:
		return RPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return RPC_UNAVAILABLE;
	default:
		return RPC_UNKNOWN;
	}
}

/* The status of a stream the server closed without grpc-status. */
static void stream_status_missing(struct client_stream *s, uint32_t error_code)
{
	if (s->http_status != 0 && s->http_status != 200)
		stream_end(s, code_from_http(s->http_status), "HTTP status %d", s->http_status);
	else if (error_code == NGHTTP2_REFUSED_STREAM)
		stream_end(s, RPC_UNAVAILABLE, "stream refused by the server");
	else if (error_code == NGHTTP2_CANCEL)
		stream_end(s, RPC_CANCELLED, "stream cancelled by the server");
	else if (error_code != NGHTTP2_NO_ERROR)
		stream_end(s, RPC_INTERNAL, "stream reset by the server: %s",
			   nghttp2_http2_strerror(error_code));
	else
		stream_end(s, RPC_INTERNAL, "reply without grpc-status");
}

static int deliver(struct client_stream *s, const uint8_t *msg, size_t len)
{
	s->reply.n_msgs++;
	if (s->on_msg) {
		if (s->on_msg(s->data, msg, len) < 0) {
			stream_cancel(s, RPC_CANCELLED, "cancelled by the client");
			return -ECANCELED;
		}
		return 0;
	}
	if (s->reply.n_msgs > 1) {
		stream_cancel(s, RPC_INTERNAL, "more than one message in a unary reply");
		return -EPROTO;
	}
	s->reply.data = len ? xmemdup(msg, len) : NULL;
	s->reply.len = len;
	return 0;
}

/* Append received bytes and hand on each complete message. */
static void stream_feed(struct client_stream *s, const uint8_t *p, size_t n)
{
	size_t off = 0;

	if (s->ended)
		return;
	if (s->in_len + n > s->in_cap) {
		s->in_cap = s->in_len + n > 2 * s->in_cap ? s->in_len + n : 2 * s->in_cap;
		s->in = xrealloc(s->in, s->in_cap);
	}
	memcpy(s->in + s->in_len, p, n);
	s->in_len += n;
	while (s->in_len - off >= FRAME_HDR) {
		const uint8_t *h = s->in + off;
		size_t len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];

		if (h[0] != 0) {
			stream_cancel(s, RPC_INTERNAL, "compressed reply message not supported");
			return;
		}
		if (len > s->c->max_recv) {
			stream_end(s, RPC_RESOURCE_EXHAUSTED,
				   "reply message of %zu bytes is larger than the limit of %zu",
				   len, s->c->max_recv);
			stream_cancel(s, RPC_RESOURCE_EXHAUSTED, "");
			return;
		}
		if (s->in_len - off - FRAME_HDR < len)
			break;
		if (deliver(s, h + FRAME_HDR, len) < 0)
			return;
		off += FRAME_HDR + len;
	}
	memmove(s->in, s->in + off, s->in_len - off);
	s->in_len -= off;
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *user)
{
	struct client_stream *s = nghttp2_session_get_stream_user_data(sess, id);

	if (s)
		stream_feed(s, data, len);
	return 0;
}

static bool name_is(const uint8_t *name, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct client_stream *s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	char num[16];

	if (!s)
		return 0;
	if (name_is(name, namelen, ":status") || name_is(name, namelen, "grpc-status")) {
		if (valuelen == 0 || valuelen >= sizeof(num))
			return 0;
		memcpy(num, value, valuelen);
		num[valuelen] = '\0';
		uint64_t v;
		if (name[0] == ':') {
			/* A malformed :status is not 200: -1, reported as UNKNOWN. */
			s->http_status = str_to_u64(num, 10, 999, &v) == 0 ? (int)v : -1;
		} else if (!s->ended) {
			/* A grpc-status that is no number is UNKNOWN, as gRPC says. */
			s->have_status = true;
			s->reply.code = str_to_u64(num, 10, INT32_MAX, &v) == 0 ? (enum rpc_code)v
										: RPC_UNKNOWN;
		}
	} else if (name_is(name, namelen, "grpc-message") && !s->ended) {
		free(s->reply.message);
		s->reply.message = rpc_pct_decode((const char *)value, valuelen);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t id, uint32_t error_code, void *user)
{
	struct client_stream *s = nghttp2_session_get_stream_user_data(sess, id);

	if (!s)
		return 0;
	if (!s->have_status) {
		stream_status_missing(s, error_code);
	} else if (s->ended) {
		/* decided locally already */
	} else if (s->in_len) {
		s->have_status = false;
		stream_end(s, RPC_INTERNAL, "reply ended inside a message");
	} else if (!s->on_msg && s->reply.code == RPC_OK && s->reply.n_msgs == 0) {
		s->have_status = false;
		stream_end(s, RPC_INTERNAL, "unary reply without a message");
	}
	stream_finish(s);
	return 0;
}

static ssize_t read_request(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t len,
			    uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct client_stream *s = src->ptr;
	size_t n = s->out_len - s->out_off;

	if (n > len)
		n = len;
	memcpy(buf, s->out + s->out_off, n);
	s->out_off += n;
	if (s->out_off == s->out_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

int rpc_client_dial(const char *path, struct err *err)
{
	cleanup_close int fd = -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, -ENAMETOOLONG, "cannot connect to %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(err, -errno, "cannot connect to %s: socket", path);
	/* A unix stream connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_set(err, -errno, "cannot connect to %s", path);
	return TAKE_FD(fd);
}

/* The connection is unusable: end every call in flight with UNAVAILABLE. */
static void client_break(struct rpc_client *c, int code, const char *what)
{
	if (c->broken)
		return;
	c->broken = code;
	if (code == -ECONNRESET)
		c->broken_msg = xstrdup("connection closed by the server");
	else if (code == -EPROTO)
		c->broken_msg = xasprintf("%s: HTTP/2 protocol error", what);
	else
		c->broken_msg = xasprintf("%s: %s", what, strerror(-code));
	while (c->active) {
		struct client_stream *s = c->active;

		stream_end(s, RPC_UNAVAILABLE, "%s", c->broken_msg);
		stream_finish(s);
	}
}

/* Write what nghttp2 has to send until the socket would block. Frames are
 * gathered into outbuf (grown to fit the largest frame) to make few writes. */
static int client_flush(struct rpc_client *c)
{
	for (;;) {
		ssize_t w;

		if (c->out_off == c->out_len) {
			const uint8_t *p;
			ssize_t n = 0;

			c->out_off = c->out_len = 0;
			while (c->out_len < CLIENT_OUTBUF &&
			       (n = nghttp2_session_mem_send(c->sess, &p)) > 0) {
				if (c->out_len + (size_t)n > c->out_cap) {
					c->out_cap = c->out_len + (size_t)n + CLIENT_OUTBUF;
					c->outbuf = xrealloc(c->outbuf, c->out_cap);
				}
				memcpy(c->outbuf + c->out_len, p, (size_t)n);
				c->out_len += (size_t)n;
			}
			if (c->out_len == 0)
				return n < 0 ? -EPROTO : 0;
		}
		w = send(c->fd, c->outbuf + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->out_off += (size_t)w;
	}
}

static int client_read(struct rpc_client *c)
{
	uint8_t buf[64 << 10];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n < 0)
			return errno == EAGAIN ? 0 : errno == EINTR ? 0 : -errno;
		if (n == 0)
			return -ECONNRESET;
		if (nghttp2_session_mem_recv(c->sess, buf, (size_t)n) < 0)
			return -EPROTO;
		if ((size_t)n < sizeof(buf))
			return 0;
	}
}

int rpc_client_new(const char *path, struct rpc_client **ret, struct err *err)
{
	nghttp2_session_callbacks *cbs;
	struct rpc_client *c;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, CLIENT_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 1 << 16 },
	};
	int fd = rpc_client_dial(path, err);

	if (fd < 0)
		return fd;
	c = xnew(struct rpc_client);
	c->fd = fd;
	c->max_recv = CLIENT_DEFAULT_MAX_RECV;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		abort();
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	if (nghttp2_session_client_new(&c->sess, cbs, c) != 0)
		abort();
	nghttp2_session_callbacks_del(cbs);
	(void)nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv));
	(void)nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0, CLIENT_WINDOW);
	*ret = c;
	return 0;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	nghttp2_session_del(c->sess);
	for (struct client_stream *s = c->active, *n; s; s = n) {
		n = s->next;
		stream_free(s);
	}
	for (struct client_stream *s = c->finished, *n; s; s = n) {
		n = s->next;
		stream_free(s);
	}
	if (c->fd >= 0)
		(void)close(c->fd);
	free(c->broken_msg);
	free(c->outbuf);
	free(c);
}

void rpc_client_set_max_recv(struct rpc_client *c, size_t max)
{
	c->max_recv = max;
}

unsigned rpc_client_pending(const struct rpc_client *c)
{
	return c->pending;
}

static void timeout_header(char *buf, size_t size, uint64_t ms)
{
	/* grpc-timeout allows at most 8 digits. */
	if (ms <= 99999999)
		(void)snprintf(buf, size, "%llum", (unsigned long long)ms);
	else if (ms / 1000 <= 99999999)
		(void)snprintf(buf, size, "%lluS", (unsigned long long)(ms / 1000));
	else
		(void)snprintf(buf, size, "99999999S");
}

/* Literal name and value: nghttp2 keeps pointers to them until the header
 * block is sent, which only literals outlive. */
#define NVS(n, v)                                                                \
	{                                                                        \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,    \
		    NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE \
	}
/* Literal name, value copied at submit time. */
#define NVC(n, v, vlen)                                                \
	{                                                              \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen), \
		    NGHTTP2_NV_FLAG_NO_COPY_NAME                       \
	}

int rpc_client_start(struct rpc_client *c, const struct rpc_client_req *req, struct err *err)
{
	struct client_stream *s;
	char tmo[24];
	nghttp2_data_provider prov;
	nghttp2_nv hdrs[8] = {
		NVS(":method", "POST"),
		NVS(":scheme", "http"),
		NVC(":path", req->method, strlen(req->method)),
		NVS(":authority", "localhost"),
		NVS("content-type", "application/grpc"),
		NVS("te", "trailers"),
		NVS("user-agent", "ocid-rpc-client/" OCID_VERSION),
	};
	size_t nhdrs = 7;

	if (c->broken)
		return err_msg(err, -ENOTCONN, "%s", c->broken_msg);
	if (req->method[0] != '/')
		return err_msg(err, -EINVAL, "bad method path '%s'", req->method);
	if (req->timeout_ms) {
		timeout_header(tmo, sizeof(tmo), req->timeout_ms);
		hdrs[nhdrs++] = (nghttp2_nv)NVC("grpc-timeout", tmo, strlen(tmo));
	}
	s = xnew(struct client_stream);
	s->c = c;
	s->on_msg = req->on_msg;
	s->on_done = req->on_done;
	s->data = req->data;
	s->out_len = FRAME_HDR + req->len;
	s->out = xmalloc(s->out_len);
	s->out[0] = 0;
	s->out[1] = (uint8_t)(req->len >> 24);
	s->out[2] = (uint8_t)(req->len >> 16);
	s->out[3] = (uint8_t)(req->len >> 8);
	s->out[4] = (uint8_t)req->len;
	if (req->len)
		memcpy(s->out + FRAME_HDR, req->msg, req->len);
	if (req->timeout_ms)
		s->deadline_ns = mono_ns() + req->timeout_ms * 1000000u;
	prov.source.ptr = s;
	prov.read_callback = read_request;
	/* :path and grpc-timeout are copied here (no NO_COPY flag), so the
	 * caller's method string and tmo may go. */
	s->id = nghttp2_submit_request(c->sess, NULL, hdrs, nhdrs, &prov, s);
	if (s->id < 0) {
		int r = err_msg(err, -ENOMEM, "submit request: %s", nghttp2_strerror(s->id));

		stream_free(s);
		return r;
	}
	s->next = c->active;
	c->active = s;
	c->pending++;
	return 0;
}

/* Run the done callbacks of finished calls (they may start new ones). */
static void run_done(struct rpc_client *c)
{
	while (c->finished) {
		struct client_stream *s = c->finished;

		c->finished = s->next;
		c->pending--;
		if (s->on_done)
			s->on_done(s->data, &s->reply);
		stream_free(s);
	}
}

/* Cancel calls past their deadline; return the poll timeout in ms. */
static int check_deadlines(struct rpc_client *c)
{
	uint64_t now = mono_ns(), next = 0;

	for (struct client_stream *s = c->active; s; s = s->next) {
		if (!s->deadline_ns || s->ended)
			continue;
		if (s->deadline_ns <= now)
			stream_cancel(s, RPC_DEADLINE_EXCEEDED, "deadline exceeded");
		else if (!next || s->deadline_ns < next)
			next = s->deadline_ns;
	}
	if (!next)
		return -1;
	return (int)((next - now) / 1000000u + 1);
}

int rpc_client_run(struct rpc_client *c, struct err *err)
{
	int r = 0;

	while (c->pending) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int tmo;

		run_done(c);
		if (!c->pending || c->broken)
			break;
		tmo = check_deadlines(c);
		r = client_flush(c);
		if (r < 0) {
			client_break(c, r, "send to server");
			break;
		}
		if (c->out_off < c->out_len)
			pfd.events |= POLLOUT;
		if (c->finished)
			continue;
		if (poll(&pfd, 1, tmo) < 0 && errno != EINTR) {
			client_break(c, -errno, "poll");
			break;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = client_read(c);
			if (r < 0) {
				client_break(c, r, "receive from server");
				break;
			}
		}
	}
	run_done(c);
	if (c->broken)
		return err_msg(err, c->broken, "%s", c->broken_msg);
	return 0;
}

struct sync_call {
	struct rpc_client_reply *reply;
	rpc_client_msg_fn on_msg;
	void *data;
};

static void sync_done(void *data, struct rpc_client_reply *reply)
{
	struct sync_call *sc = data;

	*sc->reply = *reply;
	*reply = (struct rpc_client_reply){ 0 };
}

static int sync_msg(void *data, const uint8_t *msg, size_t len)
{
	struct sync_call *sc = data;

	return sc->on_msg(sc->data, msg, len);
}

static int call_wait(struct rpc_client *c, const struct rpc_client_req *req,
		     struct rpc_client_reply *reply, struct err *err)
{
	int r = rpc_client_start(c, req, err);

	if (r < 0) {
		reply->code = RPC_UNAVAILABLE;
		reply->message = xstrdup(err_str(err));
		return r;
	}
	return rpc_client_run(c, err);
}

int rpc_client_call(struct rpc_client *c, const char *method, const uint8_t *msg, size_t len,
		    uint64_t timeout_ms, struct rpc_client_reply *reply, struct err *err)
{
	struct sync_call sc = { .reply = reply };
	struct rpc_client_req req = {
		.method = method,
		.msg = msg,
		.len = len,
		.timeout_ms = timeout_ms,
		.on_done = sync_done,
		.data = &sc,
	};

	return call_wait(c, &req, reply, err);
}

int rpc_client_call_stream(struct rpc_client *c, const char *method, const uint8_t *msg, size_t len,
			   uint64_t timeout_ms, rpc_client_msg_fn on_msg, void *data,
			   struct rpc_client_reply *reply, struct err *err)
{
	struct sync_call sc = { .reply = reply, .on_msg = on_msg, .data = data };
	struct rpc_client_req req = {
		.method = method,
		.msg = msg,
		.len = len,
		.timeout_ms = timeout_ms,
		.on_msg = sync_msg,
		.on_done = sync_done,
		.data = &sc,
	};

	return call_wait(c, &req, reply, err);
}
