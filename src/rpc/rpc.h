/* rpc: gRPC over HTTP/2 (nghttp2, prior-knowledge h2c) and a small HTTP/1.1
 * API on one unix socket; the first bytes of a connection decide which.
 * Knows nothing of CRI: handlers get and give serialized messages.
 *
 * Threads: the loop thread owns every socket and nghttp2 session. Each
 * request runs on a worker of the pool its class names (enum rpc_class);
 * replies are handed back to the loop thread with ev_post(). So a slow
 * handler never stalls other streams of the same connection, and a call of
 * one class never queues behind calls of another. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "ev/ev.h"

/* gRPC status codes. */
enum rpc_code {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_OUT_OF_RANGE = 11,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_DATA_LOSS = 15,
	RPC_UNAUTHENTICATED = 16,
};

/** "OK", "NOT_FOUND", ... */
const char *rpc_code_name(enum rpc_code c);

struct rpc_server;
struct rpc_call;

/** Concurrency classes (DESIGN section 3). Every method and HTTP route has
 *  one; it names the pool its handler runs on, each pool bounded and with
 *  a queue of its own, so that a class never waits for another's workers. */
enum rpc_class {
	RPC_SHORT,  /* answers from memory or a few small reads, in milliseconds:
		     * the short pool (rpc_server_config.workers) */
	RPC_LONG,   /* may take seconds to minutes (runtimes, monitors, CNI,
		     * disk): the long pool (long_workers) */
	RPC_PULL,   /* a long call that downloads: a pool of its own
		     * (pull_workers); calls beyond it wait in its queue, on
		     * no thread */
	RPC_STREAM, /* server streaming: the handler starts on the short pool
		     * and parks the call (rpc_call_park) to wait on no thread */
};

/** A gRPC method handler, run on a worker thread. `req` (the deframed
 *  request message, `len` bytes) is valid until the handler returns. The
 *  handler answers with rpc_call_reply() (unary) or any number of
 *  rpc_call_send() then rpc_call_finish() (server streaming); a handler that
 *  returns without finishing is finished with INTERNAL. */
typedef void (*rpc_handler_fn)(void *data, struct rpc_call *call, const uint8_t *req, size_t len);

/** Send one message (streaming). Takes ownership of `msg` (malloc'd). Blocks
 *  while the peer's flow-control window is full. -ECANCELED once the call is
 *  cancelled or past its deadline, -EMSGSIZE above the send limit. */
int rpc_call_send_take(struct rpc_call *call, uint8_t *msg, size_t len);
/** Pump of a parked call: send what is ready and return true to wait
 *  again, or finish the call and return false. Runs on a short worker and
 *  must not block. */
typedef bool (*rpc_pump_fn)(void *state, struct rpc_call *call);
/** Frees a parked call's state once the call is over. */
typedef void (*rpc_park_done_fn)(void *state);
/** Wait for outside events on no thread: a handler that would otherwise
 *  block until something happens (an event bus, a progress feed) calls this
 *  and returns. From then on the loop thread watches `fd` (readable means
 *  there may be something to send; -1 for none) and, when `interval_ms` is
 *  not 0, a timer of that period; each time one fires, pump(state, call)
 *  runs on a short worker (once at once, too). For a parked call
 *  rpc_call_send_take never blocks: it answers -ENOBUFS once 4 MiB wait
 *  unsent (a client that does not read). When the call ends any other way
 *  (client gone, deadline, shutdown) pump is not called again; the status
 *  is CANCELLED unless set. done(state) runs exactly once, after the last
 *  pump, on the loop thread. `fd` stays the state's to close in done. */
void rpc_call_park(struct rpc_call *call, int fd, unsigned interval_ms, rpc_pump_fn pump,
		   rpc_park_done_fn done, void *state);

/** Finish with a status; `fmt` may be NULL for OK. Call once. */
void rpc_call_finish(struct rpc_call *call, enum rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Unary answer: send `msg` (taken) and finish OK. */
void rpc_call_reply_take(struct rpc_call *call, uint8_t *msg, size_t len);

/** Bytes queued for the peer and not yet taken by HTTP/2 (a pump sends more
 *  only while this is small). Any thread. */
size_t rpc_call_unsent(struct rpc_call *call);
/** The largest message rpc_call_send_take accepts now (max_send_msg_size). */
size_t rpc_call_max_send(const struct rpc_call *call);

/** The full method path, e.g. "/runtime.v1.RuntimeService/Version". */
const char *rpc_call_method(const struct rpc_call *call);
/** Deadline from grpc-timeout as ev_now_ns() time, 0 when none. */
uint64_t rpc_call_deadline(const struct rpc_call *call);
/** true once the client cancelled (RST_STREAM), went away, or the deadline passed. */
bool rpc_call_cancelled(const struct rpc_call *call);

/* HTTP/1.1 API on the same socket. Bodies are bounded by max_recv. */
struct rpc_http_request {
	const char *method; /* "GET", ... */
	const char *path;   /* without the query */
	const char *query;  /* after '?', "" when none */
	const uint8_t *body;
	size_t body_len;
};
struct rpc_http_response {
	int status;		  /* 200 by default */
	const char *content_type; /* static string; "application/json" by default */
	char *body;		  /* malloc'd, taken by the server */
	size_t body_len;
};
/** Runs on a worker thread. */
typedef void (*rpc_http_fn)(void *data, const struct rpc_http_request *req,
			    struct rpc_http_response *resp);

/* Streaming HTTP/1.1 handlers, for uploads (image import) and feeds (pull
 * progress): the body is read as it arrives, bounded only by the handler
 * (req->body is NULL, req->body_len the declared Content-Length), and the
 * response goes out in chunks as it is written. Runs on a worker thread;
 * returning ends the response (200 with an empty body if nothing began). */
struct rpc_http_stream;
typedef void (*rpc_http_stream_fn)(void *data, const struct rpc_http_request *req,
				   struct rpc_http_stream *s);
/** Read up to `len` body bytes; blocks until some arrive. Returns the
 *  count, 0 at the end of the body, -ECONNRESET once the client is gone. */
ssize_t rpc_http_stream_read(struct rpc_http_stream *s, void *buf, size_t len);
/** Start the response (chunked). Once, before any write; -EALREADY after. */
int rpc_http_stream_begin(struct rpc_http_stream *s, int status, const char *content_type);
/** Send `n` bytes as one chunk (begins with 200 application/json if not
 *  begun). Blocks while much is unsent. -ECONNRESET once the client is gone. */
int rpc_http_stream_write(struct rpc_http_stream *s, const void *p, size_t n);
/** true once the client closed the connection. */
bool rpc_http_stream_gone(struct rpc_http_stream *s);
/** Pump of a parked HTTP stream: as rpc_pump_fn. Returning false ends the
 *  response. */
typedef bool (*rpc_http_pump_fn)(void *state, struct rpc_http_stream *s);
/** rpc_call_park for a streaming HTTP handler (response already begun or
 *  not): the handler returns and the response goes on from pump, which
 *  writes with rpc_http_stream_write (-ENOBUFS instead of blocking once
 *  1 MiB waits unsent). done(state) runs once, after the last pump. */
void rpc_http_stream_park(struct rpc_http_stream *s, int fd, unsigned interval_ms,
			  rpc_http_pump_fn pump, rpc_park_done_fn done, void *state);

struct rpc_server_config {
	const char *listen_path; /* unix socket path */
	size_t max_recv_bytes;	 /* default 16 MiB when 0 */
	size_t max_send_bytes;	 /* default 80 MiB when 0 */
	unsigned workers;	 /* short pool (and pumps of parked calls); default 16 when 0 */
	unsigned long_workers;	 /* long pool; default 32 when 0 */
	unsigned pull_workers;	 /* pull pool; default 8 when 0 */
	unsigned max_queue;	 /* per pool; default 4096 when 0 */
};

/** Bind the socket (0660, created atomically) and register it on `loop`.
 *  A socket file nobody accepts on (stale) is replaced; one that accepts a
 *  connection is refused with -EADDRINUSE; any other file with -EEXIST. */
int rpc_server_new(struct ev_loop *loop, const struct rpc_server_config *cfg,
		   struct rpc_server **ret, struct err *err);
/** Register a gRPC method by full path, of class `cls`. On the loop thread. */
void rpc_server_add_method(struct rpc_server *srv, const char *path, enum rpc_class cls,
			   rpc_handler_fn fn, void *data);
/** Register an HTTP/1.1 handler for an exact path or, when `path` ends in
 *  '/', a prefix. Unknown paths answer 404 with a JSON error. */
void rpc_server_add_http(struct rpc_server *srv, const char *path, enum rpc_class cls,
			 rpc_http_fn fn, void *data);
/** Register a streaming HTTP/1.1 handler (exact path, or prefix ending in '/'). */
void rpc_server_add_http_stream(struct rpc_server *srv, const char *path, enum rpc_class cls,
				rpc_http_stream_fn fn, void *data);
/** Change the log-relevant / size limits at run time (SIGHUP). */
void rpc_server_set_limits(struct rpc_server *srv, size_t max_recv, size_t max_send);
/** Stop accepting; once in-flight calls are done or `grace_ms` passed, call
 *  done(loop, data) on the loop thread. */
void rpc_server_shutdown(struct rpc_server *srv, unsigned grace_ms, ev_fn done, void *data);
/** Handlers queued or still running on the worker pools (any thread).
 *  After a shutdown whose grace ran out, a count above 0 means
 *  rpc_server_free would wait for them. */
unsigned rpc_server_busy(struct rpc_server *srv);
/** Close everything, unlink the socket (only while the path is still the
 *  socket this server bound), free. Waits for running handlers. Accepts NULL. */
void rpc_server_free(struct rpc_server *srv);
DEFINE_CLEANUP(struct rpc_server, rpc_server_free)

/* Pure helpers, exported for tests and fuzzers. */

/** Parse a grpc-timeout value ("1S", "100m", "5u", "20n", "2M", "1H"; at
 *  most 8 digits) into nanoseconds. -EINVAL when malformed. */
int rpc_timeout_parse(const char *s, size_t len, uint64_t *ret_ns);
/** Percent-encode a grpc-message (RFC: bytes outside 0x20-0x7E and '%').
 *  Returns malloc'd string. */
char *rpc_pct_encode(const char *s);
/** Decode percent-encoding (invalid sequences kept verbatim). malloc'd. */
char *rpc_pct_decode(const char *s, size_t len);

/* HTTP/1.1 request heads. */
#define RPC_HTTP_HEAD_MAX (16u * 1024u)
struct rpc_http_head {
	char *method, *path, *query; /* point into buf; query "" when none */
	int minor;		     /* HTTP/1.<minor> */
	int64_t content_length;	     /* -1 when absent */
	bool chunked;		     /* Transfer-Encoding other than identity */
	bool close;		     /* Connection: close, or HTTP/1.0 without keep-alive */
	bool expect_continue;	     /* Expect: 100-continue */
	char *buf;
};
/** Length of the head at p (through the blank line), 0 while incomplete,
 *  -E2BIG when no blank line appears within RPC_HTTP_HEAD_MAX bytes. */
ssize_t rpc_http_head_len(const uint8_t *p, size_t len);
/** Parse a complete head (as measured by rpc_http_head_len). -EINVAL with
 *  err saying why (bad request line, header, duplicate or bad
 *  Content-Length), -EPROTONOSUPPORT for a version other than HTTP/1.x. */
int rpc_http_head_parse(const uint8_t *p, size_t len, struct rpc_http_head *h, struct err *err);
/** Free what a parsed head holds. Accepts a zeroed struct. */
void rpc_http_head_done(struct rpc_http_head *h);
/** Is s a non-empty HTTP token (RFC 9110 tchar*): a method, a header name? */
bool rpc_http_token_ok(const char *s);
/* A request line split in place: pointers into the line. */
struct rpc_http_request_line {
	char *method;	     /* a token */
	char *target;	     /* unchecked: rpc_http_target_split */
	const char *version; /* as sent, unchecked */
};
/** Split "METHOD SP target SP version" in place and check the method.
 *  -EINVAL with err saying why. The caller checks the version, then the
 *  target with rpc_http_target_split. */
int rpc_http_request_line_split(char *line, struct rpc_http_request_line *ret, struct err *err);
/** Check a request target (an absolute path of visible ASCII) and split
 *  its query off in place ("" when none). -EINVAL with err saying why. */
int rpc_http_target_split(char *target, char **ret_path, char **ret_query, struct err *err);

/* Incremental gRPC message deframer (5-byte prefix: compressed flag, then a
 * 4-byte big-endian length). Bytes may arrive in any split. */
struct rpc_deframer {
	uint8_t hdr[5];
	size_t hdr_len;
	size_t max;	 /* largest accepted message */
	size_t declared; /* length from the current prefix */
	uint8_t *msg;	 /* bytes of the current message, grown as they arrive */
	size_t got, cap;
};
/** Start with a size limit. */
void rpc_deframer_init(struct rpc_deframer *d, size_t max);
/** Free any partial message. Accepts a zeroed struct. */
void rpc_deframer_done(struct rpc_deframer *d);
/** Consume bytes from p[0..len); *used tells how many. Returns 1 when a
 *  whole message is ready (take it with rpc_deframer_take before feeding
 *  on), 0 when all bytes were consumed and more are needed, -ENOTSUP for a
 *  compressed message, -EMSGSIZE when the declared length (d->declared)
 *  exceeds d->max. After an error the deframer must not be fed again. */
int rpc_deframer_feed(struct rpc_deframer *d, const uint8_t *p, size_t len, size_t *used);
/** The completed message (malloc'd, never NULL, possibly 0 bytes); the caller owns it. */
uint8_t *rpc_deframer_take(struct rpc_deframer *d, size_t *ret_len);
/** true at a message boundary (no partial prefix or body buffered). */
bool rpc_deframer_idle(const struct rpc_deframer *d);
