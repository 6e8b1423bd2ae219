/* HTTP/1.1 on the rpc socket: one request at a time per connection (reads
 * pause while a handler runs on a worker), keep-alive, bounded bodies. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/rpc_int.h"

struct http_job {
	struct rpc_conn *conn;
	const struct rpc_http_route *route;
	struct rpc_http_head head;
	uint8_t *body;
	size_t body_len;
	bool close;
	struct rpc_http_response resp;
};

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

static void job_free(struct http_job *job)
{
	rpc_http_head_done(&job->head);
	free(job->body);
	free(job->resp.body);
	free(job);
}

static void job_done(struct ev_loop *loop, void *data)
{
	struct http_job *job = data;
	struct rpc_conn *c = job->conn;
	c->http_busy = false;
	if (c->dead) {
		/* Closed while the handler ran: the connection waited for us. */
		rpc_conn_free(c);
		job_free(job);
		return;
	}
	const struct rpc_http_response *r = &job->resp;
	respond(c, r->status ? r->status : 200,
		r->content_type ? r->content_type : "application/json", r->body ? r->body : "",
		r->body ? r->body_len : 0, job->close);
	job_free(job);
	if (!c->closing && rpc_http1_recv(c) < 0)
		c->closing = true;
	rpc_conn_flush(c);
}

static void job_run(void *data)
{
	struct http_job *job = data;
	struct rpc_http_request req = {
		.method = job->head.method,
		.path = job->head.path,
		.query = job->head.query,
		.body = job->body,
		.body_len = job->body_len,
	};
	job->route->fn(job->route->data, &req, &job->resp);
	ev_post(job->conn->srv->loop, job_done, job);
}

/* A complete request is in c->in: answer it directly or start its handler. */
static void request(struct rpc_conn *c, struct rpc_http_head *head, size_t head_len)
{
	struct rpc_server *srv = c->srv;
	size_t body_len = head->content_length > 0 ? (size_t)head->content_length : 0;
	const uint8_t *body = c->in.p + c->in.off + head_len;
	c->in.off += head_len + body_len;
	bool close = head->close || srv->stopping;
	const struct rpc_http_route *route = route_find(srv, head->path);
	if (!route) {
		cleanup_free char *msg = xasprintf("no such path: %s", head->path);
		respond_error(c, 404, msg, close);
		rpc_http_head_done(head);
		return;
	}
	struct http_job *job = xnew(struct http_job);
	job->conn = c;
	job->route = route;
	job->head = *head;
	job->body = xmemdup(body, body_len ? body_len : 1);
	job->body_len = body_len;
	job->close = close;
	*head = (struct rpc_http_head){ 0 };
	c->http_busy = true;
	if (ev_pool_submit(srv->pool, job_run, job) < 0) {
		c->http_busy = false;
		job_free(job);
		respond_error(c, 503, "ocid is busy; retry", close);
	}
}

int rpc_http1_recv(struct rpc_conn *c)
{
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
		if (head.chunked) {
			respond_error(c, 411,
				      "chunked request bodies are not supported; send "
				      "Content-Length",
				      true);
		} else if (head.content_length > 0 && (uint64_t)head.content_length > max) {
			respond_error(c, 413, "request body exceeds the size limit", true);
		} else if (have - (size_t)hl <
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
