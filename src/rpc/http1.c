/* HTTP/1.1 on the rpc socket: one request at a time per connection (reads
 * pause while a handler runs on a worker), keep-alive, bounded bodies. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/rpc_int.h"

/* A request being handled on a worker. The loop thread moves body bytes
 * in and response bytes out under `mu`; the worker's last post (job_done)
 * comes after all its others, so the loop frees the job there. */
struct rpc_http_stream {
	struct rpc_conn *conn; /* loop thread */
	struct rpc_server *srv;
	const struct rpc_http_route *route;
	struct rpc_http_head head;
	bool close;
	uint64_t body_left;	       /* loop: body bytes still to come off the socket */
	struct rpc_http_response resp; /* buffered handlers */
	uint8_t *body;		       /* buffered handlers: the whole body */
	size_t body_len;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rpc_buf in;  /* streaming: body bytes for the worker */
	struct rpc_buf out; /* streaming: response bytes for the loop */
	bool body_end, gone, begun, post_pending;
	/* parked (rpc_http_stream_park): set by the handler, then the loop's */
	bool park_wanted;
	struct rpc_park park;
	rpc_http_pump_fn pump;
	rpc_park_done_fn park_done;
	void *park_state;
};

#define STREAM_BUF_MAX (1u << 20)

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Status";
	}
}

static void respond(struct rpc_conn *c, int status, const char *type, const char *body, size_t len,
		    bool close)
{
	cleanup_free char *head =
	    xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		      "Content-Length: %zu\r\n%s\r\n",
		      status, reason(status), type, len, close ? "Connection: close\r\n" : "");
	rpc_conn_write(c, head, strlen(head));
	if (len)
		rpc_conn_write(c, body, len);
	if (close)
		c->closing = true;
}

/* A JSON error body {"error": "..."}; `msg` is plain text without quotes. */
static void respond_error(struct rpc_conn *c, int status, const char *msg, bool close)
{
	cleanup_free char *esc = xstrdup(msg);
	for (char *p = esc; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '\'';
	cleanup_free char *body = xasprintf("{\"error\":\"%s\"}\n", esc);
	respond(c, status, "application/json", body, strlen(body), close);
}

static const struct rpc_http_route *route_find(struct rpc_server *srv, const char *path)
{
	for (size_t i = 0; i < srv->nroutes; i++) {
		const struct rpc_http_route *r = &srv->routes[i];
		if (r->prefix ? str_has_prefix(path, r->path) : strcmp(path, r->path) == 0)
			return r;
	}
	return NULL;
}

static void job_free(struct rpc_http_stream *job)
{
	rpc_http_head_done(&job->head);
	free(job->body);
	free(job->resp.body);
	free(job->in.p);
	free(job->out.p);
	pthread_cond_destroy(&job->cv);
	pthread_mutex_destroy(&job->mu);
	free(job);
}

/* Loop thread: move response bytes the worker queued onto the connection. */
/* Loop thread: move response bytes the worker queued onto the connection,
 * unless (with !all) the peer is already that far behind; the connection
 * pulls again through rpc_http1_pump once it has written. */
static void move_out(struct rpc_http_stream *job, bool all)
{
	struct rpc_conn *c = job->conn;
	pthread_mutex_lock(&job->mu);
	job->post_pending = false;
	if (!all && c->out.len - c->out.off >= STREAM_BUF_MAX) {
		pthread_mutex_unlock(&job->mu);
		return;
	}
	if (job->out.len > job->out.off)
		rpc_conn_write(c, job->out.p + job->out.off, job->out.len - job->out.off);
	job->out.off = job->out.len = 0;
	pthread_cond_broadcast(&job->cv);
	pthread_mutex_unlock(&job->mu);
}

void rpc_http1_pump(struct rpc_conn *c)
{
	if (c->job && c->job->route->stream)
		move_out(c->job, false);
}

static void job_flush(struct ev_loop *loop, void *data)
{
	struct rpc_http_stream *job = data;
	move_out(job, false);
	rpc_conn_flush(job->conn);
}

static void job_done(struct ev_loop *loop, void *data)
{
	struct rpc_http_stream *job = data;
	struct rpc_conn *c = job->conn;
	move_out(job, true);
	c->http_busy = false;
	c->job = NULL;
	if (c->dead) {
		/* Closed while the handler ran: the connection waited for us. */
		rpc_conn_free(c);
		job_free(job);
		return;
	}
	if (job->route->stream) {
		if (!job->begun)
			respond(c, 200, "application/json", "", 0, job->close);
		else
			rpc_conn_write(c, "0\r\n\r\n", 5);
		if (job->close || job->body_left > 0)
			c->closing = true;
	} else {
		const struct rpc_http_response *r = &job->resp;
		respond(c, r->status ? r->status : 200,
			r->content_type ? r->content_type : "application/json",
			r->body ? r->body : "", r->body ? r->body_len : 0, job->close);
	}
	job_free(job);
	if (!c->closing && rpc_http1_recv(c) < 0)
		c->closing = true;
	rpc_conn_flush(c);
}

/* ---- parked streams (park.c does the waiting) ---- */

static bool job_gone(struct rpc_http_stream *job)
{
	pthread_mutex_lock(&job->mu);
	bool gone = job->gone;
	pthread_mutex_unlock(&job->mu);
	return gone;
}

static bool park_run(struct rpc_park *p)
{
	struct rpc_http_stream *job = p->owner;
	return !job_gone(job) && job->pump(job->park_state, job);
}

/* The response ends as a handler's would; posted, since the park may end
 * inside rpc_conn_close, which job_done must not run under. */
static void park_over(struct rpc_park *p)
{
	struct rpc_http_stream *job = p->owner;
	job->park_done(job->park_state);
	ev_post(job->srv->loop, job_done, job);
}

static void park_start(struct ev_loop *loop, void *data)
{
	struct rpc_http_stream *job = data;
	job->park = (struct rpc_park){ .srv = job->srv,
				       .owner = job,
				       .fd = job->park.fd,
				       .interval_ms = job->park.interval_ms,
				       .run = park_run,
				       .over = park_over };
	if (job_gone(job)) {
		job->park.st = PARK_OVER;
		park_over(&job->park);
		return;
	}
	rpc_park_begin(&job->park);
}

void rpc_http_stream_park(struct rpc_http_stream *s, int fd, unsigned interval_ms,
			  rpc_http_pump_fn pump, rpc_park_done_fn done, void *state)
{
	s->park_wanted = true;
	s->park.fd = fd;
	s->park.interval_ms = interval_ms;
	s->pump = pump;
	s->park_done = done;
	s->park_state = state;
}

static void job_run(void *data)
{
	struct rpc_http_stream *job = data;
	struct rpc_http_request req = {
		.method = job->head.method,
		.path = job->head.path,
		.query = job->head.query,
		.body = job->body,
		.body_len = job->body_len,
	};
	if (job->route->stream)
		job->route->stream(job->route->data, &req, job);
	else
		job->route->fn(job->route->data, &req, &job->resp);
	ev_post(job->srv->loop, job->park_wanted ? park_start : job_done, job);
}

/* Loop thread: hand body bytes from the connection to a streaming job. */
static void feed_body(struct rpc_conn *c, struct rpc_http_stream *job)
{
	size_t have = c->in.len - c->in.off;
	size_t n = have < job->body_left ? have : (size_t)job->body_left;
	pthread_mutex_lock(&job->mu);
	if (n)
		rpc_buf_append(&job->in, c->in.p + c->in.off, n);
	job->body_left -= n;
	job->body_end = job->body_left == 0;
	pthread_cond_broadcast(&job->cv);
	pthread_mutex_unlock(&job->mu);
	c->in.off += n;
}

bool rpc_http1_want_read(struct rpc_conn *c)
{
	struct rpc_http_stream *job = c->job;
	if (!job || job->body_left == 0)
		return false;
	pthread_mutex_lock(&job->mu);
	bool room = job->in.len - job->in.off < STREAM_BUF_MAX;
	pthread_mutex_unlock(&job->mu);
	return room;
}

void rpc_http1_gone(struct rpc_conn *c)
{
	struct rpc_http_stream *job = c->job;
	if (!job)
		return;
	pthread_mutex_lock(&job->mu);
	job->gone = true;
	pthread_cond_broadcast(&job->cv);
	pthread_mutex_unlock(&job->mu);
	rpc_park_stop(&job->park);
}

void rpc_http1_eof(struct rpc_conn *c)
{
	if (c->job && c->job->body_left > 0)
		rpc_http1_gone(c);
}

/* A request head (and for buffered routes its whole body) is in c->in:
 * answer it directly or start its handler. */
static void request(struct rpc_conn *c, struct rpc_http_head *head, size_t head_len)
{
	struct rpc_server *srv = c->srv;
	size_t body_len = head->content_length > 0 ? (size_t)head->content_length : 0;
	bool close = head->close || srv->stopping;
	const struct rpc_http_route *route = route_find(srv, head->path);
	c->in.off += head_len;
	c->sent_continue = false;
	if (!route) {
		c->in.off += body_len;
		cleanup_free char *msg = xasprintf("no such path: %s", head->path);
		respond_error(c, 404, msg, close);
		rpc_http_head_done(head);
		return;
	}
	struct rpc_http_stream *job = xnew(struct rpc_http_stream);
	job->conn = c;
	job->srv = srv;
	job->route = route;
	job->head = *head;
	job->close = close;
	pthread_mutex_init(&job->mu, NULL);
	pthread_cond_init(&job->cv, NULL);
	*head = (struct rpc_http_head){ 0 };
	job->body_len = body_len;
	if (route->stream) {
		job->body_left = body_len;
		feed_body(c, job);
	} else {
		job->body = xmemdup(c->in.p + c->in.off, body_len ? body_len : 1);
		c->in.off += body_len;
	}
	c->http_busy = true;
	c->job = job;
	if (ev_pool_submit(rpc_server_pool(srv, route->cls), job_run, job) < 0) {
		c->http_busy = false;
		c->job = NULL;
		c->closing = job->body_left > 0;
		job_free(job);
		respond_error(c, 503, "ocid is busy; retry", close);
	}
}

static bool streaming_route(struct rpc_server *srv, const char *path)
{
	const struct rpc_http_route *r = route_find(srv, path);
	return r && r->stream;
}

/* ---- worker side ---- */

static bool wants_post(struct rpc_http_stream *job)
{
	if (job->post_pending)
		return false;
	job->post_pending = true;
	return true;
}

ssize_t rpc_http_stream_read(struct rpc_http_stream *s, void *buf, size_t len)
{
	pthread_mutex_lock(&s->mu);
	while (s->in.off == s->in.len && !s->body_end && !s->gone)
		pthread_cond_wait(&s->cv, &s->mu);
	size_t have = s->in.len - s->in.off;
	if (!have) {
		bool gone = s->gone && !s->body_end;
		pthread_mutex_unlock(&s->mu);
		return gone ? -ECONNRESET : 0;
	}
	size_t n = have < len ? have : len;
	memcpy(buf, s->in.p + s->in.off, n);
	s->in.off += n;
	/* Reading paused at STREAM_BUF_MAX: resume once half is taken. */
	bool resume = have >= STREAM_BUF_MAX && have - n < STREAM_BUF_MAX && wants_post(s);
	if (s->in.off == s->in.len)
		s->in.off = s->in.len = 0;
	pthread_mutex_unlock(&s->mu);
	if (resume)
		ev_post(s->srv->loop, job_flush, s);
	return (ssize_t)n;
}

/* Queue bytes for the loop; with `wait`, block while much is unsent. */
static int queue_out(struct rpc_http_stream *s, const void *p, size_t n)
{
	pthread_mutex_lock(&s->mu);
	if (s->gone) {
		pthread_mutex_unlock(&s->mu);
		return -ECONNRESET;
	}
	if (s->park_wanted && s->out.len - s->out.off > STREAM_BUF_MAX) {
		/* Parked: never block a worker for a client that does not read. */
		pthread_mutex_unlock(&s->mu);
		return -ENOBUFS;
	}
	rpc_buf_append(&s->out, p, n);
	bool post = wants_post(s);
	pthread_mutex_unlock(&s->mu);
	if (post)
		ev_post(s->srv->loop, job_flush, s);
	if (s->park_wanted)
		return 0;
	pthread_mutex_lock(&s->mu);
	while (s->out.len - s->out.off > STREAM_BUF_MAX && !s->gone)
		pthread_cond_wait(&s->cv, &s->mu);
	bool gone = s->gone;
	pthread_mutex_unlock(&s->mu);
	return gone ? -ECONNRESET : 0;
}

int rpc_http_stream_begin(struct rpc_http_stream *s, int status, const char *content_type)
{
	if (s->begun)
		return -EALREADY;
	s->begun = true;
	cleanup_free char *head = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
					    "Transfer-Encoding: chunked\r\n%s\r\n",
					    status, reason(status), content_type,
					    s->close ? "Connection: close\r\n" : "");
	return queue_out(s, head, strlen(head));
}

int rpc_http_stream_write(struct rpc_http_stream *s, const void *p, size_t n)
{
	if (!s->begun) {
		int r = rpc_http_stream_begin(s, 200, "application/json");
		if (r < 0)
			return r;
	}
	if (n == 0)
		return 0;
	char size[24];
	int k = snprintf(size, sizeof(size), "%zx\r\n", n);
	cleanup_free uint8_t *chunk = xmalloc((size_t)k + n + 2);
	memcpy(chunk, size, (size_t)k);
	memcpy(chunk + k, p, n);
	memcpy(chunk + (size_t)k + n, "\r\n", 2);
	return queue_out(s, chunk, (size_t)k + n + 2);
}

bool rpc_http_stream_gone(struct rpc_http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	bool gone = s->gone;
	pthread_mutex_unlock(&s->mu);
	return gone;
}

int rpc_http1_recv(struct rpc_conn *c)
{
	if (c->job && c->job->body_left > 0)
		feed_body(c, c->job);
	while (!c->http_busy && !c->closing && c->in.off < c->in.len) {
		const uint8_t *p = c->in.p + c->in.off;
		size_t have = c->in.len - c->in.off;
		ssize_t hl = rpc_http_head_len(p, have);
		if (hl == -E2BIG) {
			respond_error(c, 431, "request head too large", true);
			return 0;
		}
		if (hl == 0)
			return 0;
		cleanup_err struct err err = ERR_INIT;
		struct rpc_http_head head;
		int r = rpc_http_head_parse(p, (size_t)hl, &head, &err);
		if (r < 0) {
			rpc_http_head_done(&head);
			respond_error(c, r == -EPROTONOSUPPORT ? 505 : 400, err_str(&err), true);
			return 0;
		}
		size_t max = atomic_load(&c->srv->max_recv);
		bool stream = streaming_route(c->srv, head.path);
		size_t want = head.content_length > 0 ? (size_t)head.content_length : 0;
		if (head.expect_continue && !c->sent_continue && have - (size_t)hl < want &&
		    !head.chunked && (stream || want <= max)) {
			/* The client waits for this before it sends the body. */
			rpc_conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
			c->sent_continue = true;
		}
		if (head.chunked) {
			respond_error(c, 411,
				      "chunked request bodies are not supported; send "
				      "Content-Length",
				      true);
		} else if (!stream && head.content_length > 0 &&
			   (uint64_t)head.content_length > max) {
			respond_error(c, 413, "request body exceeds the size limit", true);
		} else if (!stream &&
			   have - (size_t)hl <
			       (size_t)(head.content_length > 0 ? head.content_length : 0)) {
			rpc_http_head_done(&head); /* wait for the whole body */
			return 0;
		} else {
			request(c, &head, (size_t)hl);
			continue;
		}
		rpc_http_head_done(&head);
		return 0;
	}
	if (c->in.off == c->in.len)
		c->in.off = c->in.len = 0;
	return 0;
}
