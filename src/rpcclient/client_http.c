/* One-shot HTTP/1.1 client on a unix socket for the daemon's status API. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "rpcclient/rpcclient.h"

#define HTTP_MAX_HEAD (64u << 10)
#define HTTP_DEFAULT_MAX_BODY (16u << 20)

struct http_buf {
	char *p;
	size_t len, cap;
};

void rpc_client_http_reply_done(struct rpc_client_http_reply *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->body);
	*r = (struct rpc_client_http_reply){ 0 };
}

/* Wait for `events` on fd until deadline (0: none). */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int tmo = -1, r;

	if (deadline) {
		uint64_t now = mono_ms();

		if (now >= deadline)
			return -ETIMEDOUT;
		tmo = (int)(deadline - now);
	}
	r = poll(&pfd, 1, tmo);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

static int send_all(int fd, const char *p, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		int r;

		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Find the end of the header block; returns its length or 0. */
static size_t head_len(const struct http_buf *b)
{
	char *e = memmem(b->p, b->len, "\r\n\r\n", 4);

	return e ? (size_t)(e - b->p) + 4 : 0;
}

/* Value of header `name` in the header block (malloc'd) or NULL. */
static char *head_get(const char *head, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;

	while (p && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v;

		if (!eol)
			break;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			v = p + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			return xstrndup(v, (size_t)(ve - v));
		}
		p = eol;
	}
	return NULL;
}

/* Decode a chunked body in place. Returns the decoded length, -EAGAIN when
 * incomplete, -EPROTO when malformed. */
static ssize_t dechunk(char *p, size_t len)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *eol = memmem(p + in, len - in, "\r\n", 2), *end;
		unsigned long long n;

		if (!eol)
			return -EAGAIN;
		errno = 0;
		n = strtoull(p + in, &end, 16);
		if (end == p + in || errno || n > len)
			return -EPROTO;
		in = (size_t)(eol - p) + 2;
		if (n == 0)
			return (ssize_t)out; /* trailers ignored */
		if (len - in < n + 2)
			return -EAGAIN;
		memmove(p + out, p + in, n);
		out += n;
		in += n + 2;
	}
}

static int parse_status(const char *head, size_t len, int *ret)
{
	int st = 0;

	if (len < 12 || strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
		return -EPROTO;
	for (int i = 9; i < 12; i++) {
		if (head[i] < '0' || head[i] > '9')
			return -EPROTO;
		st = st * 10 + head[i] - '0';
	}
	*ret = st;
	return 0;
}

/* Read from fd into b until EOF (the request asked for Connection: close). */
static int read_response(int fd, struct http_buf *b, size_t max, uint64_t deadline)
{
	for (;;) {
		ssize_t n;

		if (b->cap - b->len < 16384) {
			if (b->cap > max)
				return -EMSGSIZE;
			b->cap = b->cap ? 2 * b->cap : 32768;
			b->p = xrealloc(b->p, b->cap + 1);
		}
		n = recv(fd, b->p + b->len, b->cap - b->len, 0);
		if (n > 0) {
			b->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		int r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

static int parse_response(struct http_buf *b, size_t max, struct rpc_client_http_reply *reply,
			  struct err *err)
{
	size_t hl = head_len(b), blen;
	cleanup_free char *clen = NULL, *te = NULL;
	char *body;

	if (b->len == 0)
		return err_msg(err, -EPROTO, "connection closed without an HTTP response");
	if (!hl || parse_status(b->p, hl, &reply->status) < 0)
		return err_msg(err, -EPROTO, "malformed HTTP response");
	reply->content_type = head_get(b->p, hl, "Content-Type");
	clen = head_get(b->p, hl, "Content-Length");
	te = head_get(b->p, hl, "Transfer-Encoding");
	body = b->p + hl;
	blen = b->len - hl;
	if (te && strcasecmp(te, "chunked") == 0) {
		ssize_t n = dechunk(body, blen);

		if (n < 0)
			return err_msg(err, -EPROTO, "malformed chunked HTTP body");
		blen = (size_t)n;
	} else if (clen) {
		char *end;
		unsigned long long n = strtoull(clen, &end, 10);

		if (*end || end == clen || n > blen)
			return err_msg(err, -EPROTO, "HTTP body shorter than its Content-Length");
		blen = (size_t)n;
	}
	if (blen > max)
		return err_msg(err, -EMSGSIZE, "HTTP body larger than %zu bytes", max);
	reply->body = xmalloc(blen + 1);
	memcpy(reply->body, body, blen);
	reply->body[blen] = '\0';
	reply->body_len = blen;
	return 0;
}

int rpc_client_http(const char *path, const struct rpc_client_http_req *req,
		    struct rpc_client_http_reply *reply, struct err *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *head = NULL;
	struct http_buf b = { 0 };
	size_t max = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	uint64_t deadline = req->timeout_ms ? mono_ms() + req->timeout_ms : 0;
	int r;

	*reply = (struct rpc_client_http_reply){ 0 };
	fd = rpc_client_dial(path, err);
	if (fd < 0)
		return fd;
	head = xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ocid-rpc-client/%s\r\n"
			 "Connection: close\r\n%s%s%sContent-Length: %zu\r\n\r\n",
			 req->method, req->path, OCID_VERSION,
			 req->content_type ? "Content-Type: " : "",
			 req->content_type ? req->content_type : "",
			 req->content_type ? "\r\n" : "", req->body_len);
	r = send_all(fd, head, strlen(head), deadline);
	if (r >= 0 && req->body_len)
		r = send_all(fd, req->body, req->body_len, deadline);
	if (r < 0)
		return err_set(err, r, "HTTP %s %s: send", req->method, req->path);
	/* Chunk framing adds overhead beyond max; allow for it and check after. */
	r = read_response(fd, &b, HTTP_MAX_HEAD + max + max / 8 + 4096, deadline);
	if (r == -EMSGSIZE)
		r = err_msg(err, r, "HTTP %s %s: response larger than %zu bytes", req->method,
			    req->path, max);
	else if (r < 0)
		r = err_set(err, r, "HTTP %s %s: receive", req->method, req->path);
	else if (parse_response(&b, max, reply, err) < 0)
		r = err_wrap(err, "HTTP %s %s", req->method, req->path);
	free(b.p);
	if (r < 0)
		rpc_client_http_reply_done(reply);
	return r;
}
