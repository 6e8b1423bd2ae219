/* gRPC over an nghttp2 server session (loop thread only): request headers
 * and messages in, responses out through a deferred data source that the
 * call's queue feeds, trailers (or a trailers-only response) at the end. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/rpc_int.h"

#define STREAM_WINDOW (1u << 20)
#define CONN_WINDOW (16u << 20)
#define MAX_STREAMS 1024u

#define NV(n, v)                                                                               \
	{                                                                                      \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE \
	}

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

static struct rpc_call *stream_call(nghttp2_session *s, int32_t sid)
{
	return nghttp2_session_get_stream_user_data(s, sid);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct rpc_conn *c = user;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct rpc_call *call = rpc_call_new(c->srv, c, f->hd.stream_id);
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, call);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct rpc_call *call = stream_call(s, f->hd.stream_id);
	if (!call || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (name_is(name, namelen, ":path") && !call->method) {
		call->method = xstrndup((const char *)value, valuelen);
	} else if (name_is(name, namelen, ":method")) {
		call->bad_method = !(valuelen == 4 && memcmp(value, "POST", 4) == 0);
	} else if (name_is(name, namelen, "content-type") && !call->content_type) {
		call->content_type = xstrndup((const char *)value, valuelen);
	} else if (name_is(name, namelen, "grpc-timeout")) {
		uint64_t ns;
		if (rpc_timeout_parse((const char *)value, valuelen, &ns) < 0)
			call->deadline = UINT64_MAX; /* refused once the headers are in */
		else
			call->deadline = ev_now_ns() + (ns ? ns : 1);
	}
	return 0;
}

static void on_deadline(struct ev_loop *loop, void *data)
{
	struct rpc_call *call = data;
	call->timer = NULL;
	struct rpc_conn *c = call->conn;
	rpc_call_fail(call, RPC_DEADLINE_EXCEEDED, "%s: deadline exceeded", call->method);
	if (c)
		rpc_conn_flush(c);
}

static void headers_done(struct rpc_call *call)
{
	if (!call->method) {
		rpc_call_fail(call, RPC_INTERNAL, "request without a :path");
		return;
	}
	if (call->bad_method) {
		rpc_call_fail(call, RPC_INTERNAL, "%s: gRPC requests must use POST", call->method);
		return;
	}
	const char *ct = call->content_type;
	if (!ct || !str_has_prefix(ct, "application/grpc")) {
		rpc_call_fail(call, RPC_INTERNAL, "%s: content-type '%s' is not application/grpc",
			      call->method, ct ? ct : "");
		return;
	}
	if (call->deadline == UINT64_MAX) {
		call->deadline = 0;
		rpc_call_fail(call, RPC_INVALID_ARGUMENT, "%s: malformed grpc-timeout header",
			      call->method);
		return;
	}
	if (call->deadline) {
		uint64_t now = ev_now_ns();
		uint64_t ms = call->deadline > now ? (call->deadline - now + 999999) / 1000000 : 0;
		call->timer = ev_timer_add(call->srv->loop, ms, on_deadline, call);
	}
}

static void request_done(struct rpc_call *call)
{
	if (call->rx_done)
		return;
	if (!rpc_deframer_idle(&call->df)) {
		rpc_call_fail(call, RPC_INTERNAL, "%s: request ended inside a message",
			      call->method);
		return;
	}
	if (!call->have_req) {
		/* Lenient: a unary request without its (empty) message. */
		call->req = xmalloc(1);
		call->req_len = 0;
		call->have_req = true;
	}
	rpc_call_dispatch(call);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct rpc_call *call = stream_call(s, f->hd.stream_id);
	if (!call)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		headers_done(call);
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		request_done(call);
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *p,
			 size_t len, void *user)
{
	struct rpc_call *call = stream_call(s, sid);
	while (call && !call->rx_done && len > 0) {
		size_t used;
		int r = rpc_deframer_feed(&call->df, p, len, &used);
		p += used;
		len -= used;
		if (r == -ENOTSUP) {
			rpc_call_fail(call, RPC_UNIMPLEMENTED,
				      "%s: compressed messages are not supported; send them "
				      "uncompressed (grpc-encoding identity)",
				      call->method);
		} else if (r == -EMSGSIZE) {
			rpc_call_fail(call, RPC_RESOURCE_EXHAUSTED,
				      "%s: request message of %zu bytes exceeds the limit of %zu "
				      "bytes",
				      call->method, call->df.declared, call->df.max);
		} else if (r == 1 && call->have_req) {
			rpc_call_fail(call, RPC_INVALID_ARGUMENT,
				      "%s: more than one request message on a unary call",
				      call->method);
		} else if (r == 1) {
			call->req = rpc_deframer_take(&call->df, &call->req_len);
			call->have_req = true;
		}
	}
	return 0;
}

static void unlink_call(struct rpc_conn *c, struct rpc_call *call)
{
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *user)
{
	struct rpc_conn *c = user;
	struct rpc_call *call = stream_call(s, sid);
	if (!call)
		return 0;
	nghttp2_session_set_stream_user_data(s, sid, NULL);
	unlink_call(c, call);
	rpc_call_detach(call);
	return 0;
}

static void submit_trailers(nghttp2_session *s, struct rpc_call *call, bool only)
{
	pthread_mutex_lock(&call->mu);
	enum rpc_code code = call->code;
	cleanup_free char *enc = rpc_pct_encode(call->message ? call->message : "");
	pthread_mutex_unlock(&call->mu);
	char status[16];
	snprintf(status, sizeof(status), "%d", (int)code);
	nghttp2_nv nv[] = {
		NV(":status", "200"),
		NV("content-type", "application/grpc"),
		NV("grpc-status", status),
		NV("grpc-message", enc),
	};
	size_t skip = only ? 0 : 2, n = ARRAY_SIZE(nv) - (enc[0] ? 0 : 1);
	if (only)
		nghttp2_submit_response(s, call->stream_id, nv, n, NULL);
	else
		nghttp2_submit_trailer(s, call->stream_id, nv + skip, n - skip);
	call->trailers_sent = true;
}

static ssize_t data_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *user)
{
	struct rpc_call *call = src->ptr;
	bool eof;
	size_t n = rpc_call_take_bytes(call, buf, len, &eof);
	if (eof) {
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		submit_trailers(s, call, false);
	} else if (n == 0) {
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

void rpc_h2_call_flush(struct rpc_call *call)
{
	struct rpc_conn *c = call->conn;
	if (!c || !c->h2 || call->trailers_sent)
		return;
	if (call->headers_sent) {
		nghttp2_session_resume_data(c->h2, call->stream_id);
		return;
	}
	pthread_mutex_lock(&call->mu);
	bool out = call->out_head != NULL, fin = call->finished;
	pthread_mutex_unlock(&call->mu);
	if (!out && !fin)
		return;
	call->headers_sent = true;
	if (!out) {
		submit_trailers(c->h2, call, true);
		return;
	}
	nghttp2_nv nv[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
	nghttp2_data_provider prd = { .source.ptr = call, .read_callback = data_read };
	nghttp2_submit_response(c->h2, call->stream_id, nv, ARRAY_SIZE(nv), &prd);
}

int rpc_h2_start(struct rpc_conn *c, struct err *err)
{
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb) != 0)
		return err_msg(err, -ENOMEM, "nghttp2 callbacks");
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	/* Go gRPC clients (kubelet, crictl) send the socket path as
	 * :authority, which nghttp2's HTTP checks reject; the gRPC checks
	 * that matter (:path, content-type, :method) are done here. */
	nghttp2_option *opt;
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cb);
		return err_msg(err, -ENOMEM, "nghttp2 options");
	}
	nghttp2_option_set_no_http_messaging(opt, 1);
	int r = nghttp2_session_server_new2(&c->h2, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (r != 0)
		return err_msg(err, -ENOMEM, "nghttp2 session: %s", nghttp2_strerror(r));
	nghttp2_settings_entry set[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
	};
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, set, ARRAY_SIZE(set));
	nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
	return 0;
}

int rpc_h2_recv(struct rpc_conn *c, const uint8_t *p, size_t n)
{
	ssize_t r = nghttp2_session_mem_recv(c->h2, p, n);
	if (r < 0) {
		log_debug("h2 connection error", "error=%s", log_q(nghttp2_strerror((int)r)));
		return -EPROTO;
	}
	return 0;
}

void rpc_h2_detach_all(struct rpc_conn *c)
{
	while (c->calls) {
		struct rpc_call *call = c->calls;
		unlink_call(c, call);
		if (c->h2)
			nghttp2_session_set_stream_user_data(c->h2, call->stream_id, NULL);
		rpc_call_detach(call);
	}
	nghttp2_session_del(c->h2);
	c->h2 = NULL;
}

void rpc_h2_goaway(struct rpc_conn *c)
{
	if (c->h2)
		nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->h2),
				      NGHTTP2_NO_ERROR, NULL, 0);
}
