/* rpc server internals shared by server.c (socket, connections, routing),
 * h2.c (nghttp2 sessions), call.c (calls across threads) and http1.c. */
#pragma once

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>

#include "rpc/rpc.h"

#define RPC_DEFAULT_MAX_RECV (16u << 20)
#define RPC_DEFAULT_MAX_SEND (80u << 20)
#define RPC_DEFAULT_WORKERS 16u
#define RPC_DEFAULT_LONG_WORKERS 32u
#define RPC_DEFAULT_PULL_WORKERS 8u
#define RPC_DEFAULT_QUEUE 4096u

/* The pools by class: RPC_STREAM handlers and every pump run on the short
 * pool. */
enum { POOL_SHORT, POOL_LONG, POOL_PULL, POOL_COUNT };

struct rpc_method {
	char *path;
	enum rpc_class cls;
	rpc_handler_fn fn;
	void *data;
};

struct rpc_http_route {
	char *path;
	bool prefix;
	enum rpc_class cls;
	rpc_http_fn fn;		   /* buffered, or */
	rpc_http_stream_fn stream; /* streaming */
	void *data;
};

/* A parked call or HTTP stream (park.c): waits on the loop thread for its
 * fd or timer, then runs `run` on a short worker. Loop thread only, but
 * for `keep`, which the worker sets before it posts. */
enum park_state { PARK_OFF, PARK_WAITING, PARK_RUNNING, PARK_OVER };
struct rpc_park {
	struct rpc_server *srv;
	void *owner; /* the call or HTTP stream */
	int fd;
	unsigned interval_ms;
	bool (*run)(struct rpc_park *p);  /* worker: one pump; false = over */
	void (*over)(struct rpc_park *p); /* loop: the owner ends; called once */
	enum park_state st;
	bool stop, keep, watching;
	struct ev_timer *timer;
};
/* Loop thread: start waiting (and pump once at once). */
void rpc_park_begin(struct rpc_park *p);
/* Loop thread: end the park: now when waiting, after the pump when one
 * runs; nothing when not parked or already over. */
void rpc_park_stop(struct rpc_park *p);
/* Any thread: the pool for a class. */
struct ev_pool *rpc_server_pool(struct rpc_server *srv, enum rpc_class cls);

struct rpc_conn;

struct rpc_server {
	struct ev_loop *loop;
	struct ev_pool *pools[POOL_COUNT];
	char *path;
	int lfd;
	dev_t sock_dev; /* the socket file we bound: unlinked at exit only if */
	ino_t sock_ino; /* the path still names it */
	_Atomic size_t max_recv, max_send;
	struct rpc_method *methods;
	size_t nmethods;
	struct rpc_http_route *routes;
	size_t nroutes;
	struct rpc_conn *conns; /* every open connection */
	_Atomic unsigned live_calls;
	/* shutdown */
	bool stopping;
	ev_fn done;
	void *done_data;
	struct ev_timer *grace_timer, *poll_timer;
	uint64_t grace_end_ns;
};

enum conn_kind { CONN_SNIFF, CONN_H2, CONN_HTTP1 };

/* Bytes accepted but not yet written; bounded because the producer stops
 * (nghttp2 output, HTTP/1.1 reads) while anything is pending. */
struct rpc_buf {
	uint8_t *p;
	size_t off, len, cap;
};

/* A connection: loop thread only. */
struct rpc_conn {
	struct rpc_server *srv;
	int fd;
	enum conn_kind kind;
	uint32_t events;
	bool closing; /* closed once output is written */
	bool dead;    /* fd closed; freed when no HTTP/1.1 job refers to it */
	struct rpc_buf in, out;
	nghttp2_session *h2;
	struct rpc_call *calls;	     /* streams with a call attached */
	bool http_busy;		     /* an HTTP/1.1 handler runs on a worker */
	struct rpc_http_stream *job; /* that handler's request */
	bool sent_continue;	     /* "100 Continue" sent for the request waiting */
	struct rpc_conn *prev, *next;
};

/* One gRPC stream's call. References: the stream (until it closes), the
 * worker (until the handler returns), each pending ev_post. */
struct rpc_call {
	_Atomic int refs;
	struct rpc_server *srv;
	/* loop thread only */
	struct rpc_conn *conn; /* NULL once the stream is gone */
	int32_t stream_id;
	struct rpc_call *prev, *next; /* in conn->calls */
	struct rpc_deframer df;
	uint8_t *req;
	size_t req_len;
	bool have_req, dispatched, headers_sent, trailers_sent;
	char *content_type;
	struct ev_timer *timer;
	bool bad_method;
	bool rx_done; /* request complete or refused: further DATA is ignored */
	rpc_handler_fn fn;
	void *fn_data;
	/* parked (rpc_call_park): set by the handler, then the loop's */
	bool park_wanted;
	struct rpc_park park;
	rpc_pump_fn pump;
	rpc_park_done_fn park_done;
	void *park_state;
	/* set before dispatch, read-only afterwards */
	char *method;
	uint64_t deadline;
	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic bool cancelled;
	bool finished, post_pending;
	enum rpc_code code;
	char *message;
	struct rpc_out *out_head, **out_tail;
	size_t out_bytes;
};

/* A framed message waiting to be sent. */
struct rpc_out {
	uint8_t hdr[5];
	uint8_t *msg;
	size_t len, off; /* off counts the 5 header bytes too */
	struct rpc_out *next;
};

/* server.c */
void rpc_conn_flush(struct rpc_conn *c);
void rpc_conn_close(struct rpc_conn *c);
/* Free a closed connection that an HTTP/1.1 job kept. */
void rpc_conn_free(struct rpc_conn *c);
const struct rpc_method *rpc_server_find(struct rpc_server *srv, const char *path);
void rpc_buf_append(struct rpc_buf *b, const void *p, size_t n);
/* Queue bytes for the peer (HTTP/1.1); a broken peer closes the connection later. */
void rpc_conn_write(struct rpc_conn *c, const void *p, size_t n);

/* h2.c */
int rpc_h2_start(struct rpc_conn *c, struct err *err);
int rpc_h2_recv(struct rpc_conn *c, const uint8_t *p, size_t n);
void rpc_h2_detach_all(struct rpc_conn *c);
void rpc_h2_goaway(struct rpc_conn *c);
/* Push what a call has queued (headers, data, trailers) to nghttp2. */
void rpc_h2_call_flush(struct rpc_call *call);

/* call.c */
struct rpc_call *rpc_call_new(struct rpc_server *srv, struct rpc_conn *c, int32_t stream_id);
void rpc_call_ref(struct rpc_call *call);
void rpc_call_unref(struct rpc_call *call);
/* Loop thread: the stream is gone; cancel and drop the stream's reference. */
void rpc_call_detach(struct rpc_call *call);
/* Loop thread: finish from the server side (errors found before or instead
 * of the handler, deadline). Ignored when already finished. */
void rpc_call_fail(struct rpc_call *call, enum rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Loop thread: hand the complete request to a worker. */
void rpc_call_dispatch(struct rpc_call *call);
/* Data source: copy up to len queued bytes; sets *eof once everything
 * is out and the call is finished. */
size_t rpc_call_take_bytes(struct rpc_call *call, uint8_t *buf, size_t len, bool *eof);

/* http1.c */
int rpc_http1_recv(struct rpc_conn *c);
/* Whether the connection should be read now (a request body is wanted). */
bool rpc_http1_want_read(struct rpc_conn *c);
/* The connection is closing under a running handler. */
void rpc_http1_gone(struct rpc_conn *c);
/* Move a streaming response's queued bytes onto the connection. */
void rpc_http1_pump(struct rpc_conn *c);
/* The peer stopped sending: a handler still waiting for body bytes fails. */
void rpc_http1_eof(struct rpc_conn *c);
