/* The rpc server: the unix socket, connections (first bytes decide between
 * HTTP/2 and HTTP/1.1), buffered output, routing tables and shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/rpc_int.h"

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof(h2_preface) - 1)
#define READ_CHUNK (64u * 1024u)
#define SHUTDOWN_POLL_MS 10

/* ---- buffers ---- */

void rpc_buf_append(struct rpc_buf *b, const void *p, size_t n)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		if (b->off) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->len + n > b->cap) {
			b->cap = (b->len + n) * 2;
			b->p = xrealloc(b->p, b->cap);
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static size_t buf_pending(const struct rpc_buf *b)
{
	return b->len - b->off;
}

static void buf_free(struct rpc_buf *b)
{
	free(b->p);
	*b = (struct rpc_buf){ 0 };
}

/* ---- connections ---- */

void rpc_conn_free(struct rpc_conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

void rpc_conn_close(struct rpc_conn *c)
{
	if (c->dead)
		return;
	struct rpc_server *srv = c->srv;
	if (c->h2 || c->calls)
		rpc_h2_detach_all(c);
	if (c->http_busy)
		rpc_http1_gone(c);
	ev_fd_del(srv->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (!c->http_busy)
		rpc_conn_free(c);
}

/* Send as much of p[0..n) as the socket takes now: the count sent, or -1
 * on a broken connection. */
static ssize_t send_some(int fd, const uint8_t *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = send(fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0)
			return -1;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

/* Send now, or buffer behind what is already waiting; false on a broken
 * connection. */
static bool write_out(struct rpc_conn *c, const uint8_t *p, size_t n)
{
	ssize_t w = buf_pending(&c->out) ? 0 : send_some(c->fd, p, n);
	if (w < 0)
		return false;
	if ((size_t)w < n)
		rpc_buf_append(&c->out, p + w, n - (size_t)w);
	return true;
}

static bool drain_out(struct rpc_conn *c)
{
	struct rpc_buf *b = &c->out;
	ssize_t w = send_some(c->fd, b->p + b->off, b->len - b->off);
	if (w < 0)
		return false;
	b->off += (size_t)w;
	if (b->off == b->len)
		b->off = b->len = 0;
	return true;
}

void rpc_conn_write(struct rpc_conn *c, const void *p, size_t n)
{
	if (!c->dead && !write_out(c, p, n))
		c->closing = true;
}

static bool h2_pump(struct rpc_conn *c)
{
	while (!buf_pending(&c->out) && nghttp2_session_want_write(c->h2)) {
		const uint8_t *d;
		ssize_t n = nghttp2_session_mem_send(c->h2, &d);
		if (n < 0)
			return false;
		if (n == 0)
			break;
		if (!write_out(c, d, (size_t)n))
			return false;
	}
	return buf_pending(&c->out) || nghttp2_session_want_read(c->h2) ||
	       nghttp2_session_want_write(c->h2);
}

void rpc_conn_flush(struct rpc_conn *c)
{
	if (c->dead)
		return;
	if (!drain_out(c)) {
		rpc_conn_close(c);
		return;
	}
	if (c->kind == CONN_HTTP1 && c->http_busy) {
		rpc_http1_pump(c);
		if (!drain_out(c)) {
			rpc_conn_close(c);
			return;
		}
	}
	if (c->kind == CONN_H2 && c->h2 && !h2_pump(c)) {
		rpc_conn_close(c);
		return;
	}
	bool pending = buf_pending(&c->out) > 0;
	if (c->closing && !pending && !c->http_busy) {
		rpc_conn_close(c);
		return;
	}
	uint32_t ev = 0;
	if (!pending && !c->closing && (!c->http_busy || rpc_http1_want_read(c)))
		ev |= EPOLLIN;
	if (pending)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		c->events = ev;
		ev_fd_mod(c->srv->loop, c->fd, ev);
	}
}

/* Decide the protocol from the first bytes; false when it needs more. */
static int sniff(struct rpc_conn *c)
{
	size_t have = buf_pending(&c->in);
	size_t n = have < PREFACE_LEN ? have : PREFACE_LEN;
	if (memcmp(c->in.p + c->in.off, h2_preface, n) != 0) {
		c->kind = CONN_HTTP1;
		return rpc_http1_recv(c);
	}
	if (have < PREFACE_LEN)
		return 0;
	c->kind = CONN_H2;
	cleanup_err struct err err = ERR_INIT;
	if (rpc_h2_start(c, &err) < 0) {
		log_warn("cannot start HTTP/2 session", "error=%s", log_q(err_str(&err)));
		return -ENOMEM;
	}
	int r = rpc_h2_recv(c, c->in.p + c->in.off, have);
	buf_free(&c->in);
	return r;
}

static int conn_read(struct rpc_conn *c, uint8_t *buf)
{
	ssize_t n = read(c->fd, buf, READ_CHUNK);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	if (c->kind == CONN_H2)
		return rpc_h2_recv(c, buf, (size_t)n);
	rpc_buf_append(&c->in, buf, (size_t)n);
	if (c->kind == CONN_SNIFF)
		return sniff(c);
	return rpc_http1_recv(c);
}

static void on_conn(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct rpc_conn *c = data;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		uint8_t *buf = xmalloc(READ_CHUNK);
		int r = conn_read(c, buf);
		free(buf);
		if (r < 0) {
			if (c->kind == CONN_HTTP1 && r == -EPIPE && c->http_busy) {
				/* The answer is still written once it is ready;
				 * a body cut short is an error for the handler.
				 * A peer closed both ways (HUP, not a half-close)
				 * reads no answer: its handler may stop. */
				c->closing = true;
				if (events & EPOLLHUP)
					rpc_http1_gone(c);
				else
					rpc_http1_eof(c);
			} else {
				rpc_conn_close(c);
				return;
			}
		}
	}
	rpc_conn_flush(c);
}

static void on_accept(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct rpc_server *srv = data;
	for (int i = 0; i < 64; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept failed", "error=%s", log_q(strerror(errno)));
			return;
		}
		struct rpc_conn *c = xnew(struct rpc_conn);
		c->srv = srv;
		c->fd = cfd;
		c->events = EPOLLIN;
		cleanup_err struct err err = ERR_INIT;
		if (ev_fd_add(loop, cfd, EPOLLIN, on_conn, c, &err) < 0) {
			log_warn("cannot watch connection", "error=%s", log_q(err_str(&err)));
			close(cfd);
			free(c);
			continue;
		}
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
	}
}

/* ---- the socket ---- */

/* A socket file at `path`: 1 when something accepts connections on it,
 * 0 when nothing does (stale, left by a daemon that died). */
static int socket_live(const char *path, struct err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN)
		return 1; /* EAGAIN: listening, its backlog full */
	if (errno == ECONNREFUSED || errno == ENOENT)
		return 0;
	return err_set(err, -errno, "connect to %s to see whether it is in use", path);
}

static int bind_socket(struct rpc_server *srv, struct err *err)
{
	const char *path = srv->path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_free char *tmp = xasprintf("%s.%d.tmp", path, (int)getpid());
	if (strlen(tmp) >= sizeof(sa.sun_path))
		return err_msg(err, -ENAMETOOLONG, "socket path %s is too long (at most %zu bytes)",
			       path, sizeof(sa.sun_path) - 1 - (strlen(tmp) - strlen(path)));
	struct stat st;
	bool exists = lstat(path, &st) == 0;
	if (exists && !S_ISSOCK(st.st_mode))
		return err_msg(err, -EEXIST,
			       "%s exists and is not a socket; refusing to replace it", path);
	if (exists) {
		int live = socket_live(path, err);
		if (live < 0)
			return live;
		if (live)
			return err_msg(
			    err, -EADDRINUSE,
			    "%s is in use: another process (another ocid?) accepts connections on it; refusing to take it over",
			    path);
	}
	memcpy(sa.sun_path, tmp, strlen(tmp) + 1);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket");
	(void)unlink(tmp);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_set(err, -errno, "bind %s", tmp);
	/* A stale socket is replaced atomically by the rename. */
	if (chmod(tmp, 0660) < 0 || listen(fd, 512) < 0 || lstat(tmp, &st) < 0 ||
	    rename(tmp, path) < 0) {
		int e = -errno;
		(void)unlink(tmp);
		return err_set(err, e, "listen on %s", path);
	}
	srv->sock_dev = st.st_dev;
	srv->sock_ino = st.st_ino;
	srv->lfd = TAKE_FD(fd);
	return 0;
}

/* Remove the socket file only while it is the one we bound: another daemon
 * may have replaced it since (after ours was removed by hand, say). */
static void unlink_socket(struct rpc_server *srv)
{
	struct stat st;
	if (lstat(srv->path, &st) == 0 && st.st_dev == srv->sock_dev && st.st_ino == srv->sock_ino)
		(void)unlink(srv->path);
}

int rpc_server_new(struct ev_loop *loop, const struct rpc_server_config *cfg,
		   struct rpc_server **ret, struct err *err)
{
	struct rpc_server *srv = xnew(struct rpc_server);
	srv->loop = loop;
	srv->lfd = -1;
	srv->path = xstrdup(cfg->listen_path);
	atomic_init(&srv->max_recv,
		    cfg->max_recv_bytes ? cfg->max_recv_bytes : RPC_DEFAULT_MAX_RECV);
	atomic_init(&srv->max_send,
		    cfg->max_send_bytes ? cfg->max_send_bytes : RPC_DEFAULT_MAX_SEND);
	atomic_init(&srv->live_calls, 0);
	const unsigned threads[POOL_COUNT] = {
		[POOL_SHORT] = cfg->workers ? cfg->workers : RPC_DEFAULT_WORKERS,
		[POOL_LONG] = cfg->long_workers ? cfg->long_workers : RPC_DEFAULT_LONG_WORKERS,
		[POOL_PULL] = cfg->pull_workers ? cfg->pull_workers : RPC_DEFAULT_PULL_WORKERS,
	};
	unsigned queue = cfg->max_queue ? cfg->max_queue : RPC_DEFAULT_QUEUE;
	int r = 0;
	for (size_t i = 0; i < POOL_COUNT && r >= 0; i++)
		r = ev_pool_new(threads[i], queue, &srv->pools[i], err);
	if (r >= 0)
		r = bind_socket(srv, err);
	if (r >= 0)
		r = ev_fd_add(loop, srv->lfd, EPOLLIN, on_accept, srv, err);
	if (r < 0) {
		if (srv->lfd >= 0) {
			close(srv->lfd);
			unlink_socket(srv);
			srv->lfd = -1;
		}
		rpc_server_free(srv);
		return r;
	}
	*ret = srv;
	return 0;
}

/* ---- routing ---- */

struct ev_pool *rpc_server_pool(struct rpc_server *srv, enum rpc_class cls)
{
	switch (cls) {
	case RPC_LONG:
		return srv->pools[POOL_LONG];
	case RPC_PULL:
		return srv->pools[POOL_PULL];
	case RPC_SHORT:
	case RPC_STREAM:
		break;
	}
	return srv->pools[POOL_SHORT];
}

void rpc_server_add_method(struct rpc_server *srv, const char *path, enum rpc_class cls,
			   rpc_handler_fn fn, void *data)
{
	for (size_t i = 0; i < srv->nmethods; i++) {
		if (strcmp(srv->methods[i].path, path) == 0) {
			srv->methods[i].cls = cls;
			srv->methods[i].fn = fn;
			srv->methods[i].data = data;
			return;
		}
	}
	srv->methods = xreallocarray(srv->methods, srv->nmethods + 1, sizeof(*srv->methods));
	srv->methods[srv->nmethods++] = (struct rpc_method){ xstrdup(path), cls, fn, data };
}

const struct rpc_method *rpc_server_find(struct rpc_server *srv, const char *path)
{
	for (size_t i = 0; i < srv->nmethods; i++)
		if (strcmp(srv->methods[i].path, path) == 0)
			return &srv->methods[i];
	return NULL;
}

static void add_route(struct rpc_server *srv, const char *path, enum rpc_class cls, rpc_http_fn fn,
		      rpc_http_stream_fn stream, void *data)
{
	srv->routes = xreallocarray(srv->routes, srv->nroutes + 1, sizeof(*srv->routes));
	srv->routes[srv->nroutes++] = (struct rpc_http_route){
		.path = xstrdup(path),
		.prefix = str_has_suffix(path, "/"),
		.cls = cls,
		.fn = fn,
		.stream = stream,
		.data = data,
	};
}

void rpc_server_add_http(struct rpc_server *srv, const char *path, enum rpc_class cls,
			 rpc_http_fn fn, void *data)
{
	add_route(srv, path, cls, fn, NULL, data);
}

void rpc_server_add_http_stream(struct rpc_server *srv, const char *path, enum rpc_class cls,
				rpc_http_stream_fn fn, void *data)
{
	add_route(srv, path, cls, NULL, fn, data);
}

void rpc_server_set_limits(struct rpc_server *srv, size_t max_recv, size_t max_send)
{
	atomic_store(&srv->max_recv, max_recv ? max_recv : RPC_DEFAULT_MAX_RECV);
	atomic_store(&srv->max_send, max_send ? max_send : RPC_DEFAULT_MAX_SEND);
}

/* ---- shutdown ---- */

static bool conns_busy(struct rpc_server *srv)
{
	for (struct rpc_conn *c = srv->conns; c; c = c->next)
		if (c->http_busy)
			return true;
	return false;
}

static void shutdown_finish(struct rpc_server *srv)
{
	ev_timer_cancel(srv->loop, srv->poll_timer);
	srv->poll_timer = NULL;
	ev_fn done = srv->done;
	srv->done = NULL;
	if (done)
		done(srv->loop, srv->done_data);
}

static void shutdown_poll(struct ev_loop *loop, void *data)
{
	struct rpc_server *srv = data;
	srv->poll_timer = NULL;
	if (atomic_load(&srv->live_calls) == 0 && !conns_busy(srv)) {
		shutdown_finish(srv);
		return;
	}
	if (ev_now_ns() >= srv->grace_end_ns) {
		log_warn("calls still running at the end of the shutdown grace period", "calls=%u",
			 atomic_load(&srv->live_calls));
		for (struct rpc_conn *c = srv->conns, *next; c; c = next) {
			next = c->next;
			for (struct rpc_call *call = c->calls; call; call = call->next)
				rpc_call_fail(call, RPC_UNAVAILABLE, "ocid is shutting down");
			rpc_conn_flush(c);
		}
		shutdown_finish(srv);
		return;
	}
	srv->poll_timer = ev_timer_add(loop, SHUTDOWN_POLL_MS, shutdown_poll, srv);
}

void rpc_server_shutdown(struct rpc_server *srv, unsigned grace_ms, ev_fn done, void *data)
{
	srv->stopping = true;
	srv->done = done;
	srv->done_data = data;
	srv->grace_end_ns = ev_now_ns() + (uint64_t)grace_ms * 1000000u;
	if (srv->lfd >= 0) {
		ev_fd_del(srv->loop, srv->lfd);
		close(srv->lfd);
		srv->lfd = -1;
		unlink_socket(srv);
	}
	for (struct rpc_conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (c->kind == CONN_H2)
			rpc_h2_goaway(c);
		else if (!c->http_busy)
			c->closing = true;
		rpc_conn_flush(c);
	}
	shutdown_poll(srv->loop, srv);
}

unsigned rpc_server_busy(struct rpc_server *srv)
{
	unsigned n = 0;
	for (size_t i = 0; i < POOL_COUNT; i++)
		n += ev_pool_pending(srv->pools[i]);
	return n;
}

void rpc_server_free(struct rpc_server *srv)
{
	if (!srv)
		return;
	ev_timer_cancel(srv->loop, srv->poll_timer);
	while (srv->conns)
		rpc_conn_close(srv->conns);
	if (srv->lfd >= 0) {
		ev_fd_del(srv->loop, srv->lfd);
		close(srv->lfd);
		unlink_socket(srv);
	}
	/* Workers finish (their calls are cancelled), then what they posted
	 * runs and drops the last references (a parked call's end posts once
	 * more). */
	for (size_t i = 0; i < POOL_COUNT; i++)
		ev_pool_free(srv->pools[i]);
	while (ev_loop_run_posted(srv->loop) > 0)
		;
	for (size_t i = 0; i < srv->nmethods; i++)
		free(srv->methods[i].path);
	free(srv->methods);
	for (size_t i = 0; i < srv->nroutes; i++)
		free(srv->routes[i].path);
	free(srv->routes);
	free(srv->path);
	free(srv);
}
