/* rpcclient: a small blocking gRPC client over HTTP/2 (nghttp2, prior
 * knowledge h2c) on a unix socket, plus a one-shot HTTP/1.1 client for the
 * daemon's status API on the same socket. Used by ocic, tests and bench;
 * ocid does not link it.
 *
 * Not thread-safe: one struct rpc_client belongs to one thread. Many calls
 * may be in flight at once on one connection (rpc_client_start, then
 * rpc_client_run); rpc_client_call is the simple unary form. Every call
 * ends with a gRPC status: failures of the connection, local deadlines and
 * oversized replies are reported as statuses too (UNAVAILABLE,
 * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "rpc/rpc.h"

struct rpc_client;

/** The outcome of one call. `message` is the percent-decoded grpc-message
 *  (NULL when the server sent none); `data` is the reply message of a unary
 *  call (NULL and 0 for an empty or missing message, and for streaming
 *  calls). Both are malloc'd and owned by the reply. */
struct rpc_client_reply {
	enum rpc_code code;
	char *message;
	uint8_t *data;
	size_t len;
	unsigned n_msgs; /* messages received */
};

/** Free the reply's buffers and reset it. Accepts NULL. */
void rpc_client_reply_done(struct rpc_client_reply *r);

/** Called for each message of a streaming call; `msg` is valid during the
 *  call only. Return < 0 to cancel the call (it then ends CANCELLED). */
typedef int (*rpc_client_msg_fn)(void *data, const uint8_t *msg, size_t len);
/** Called once when a call ends. The callback may take `reply->data` and
 *  `reply->message` (set them to NULL); the rest is freed after it returns.
 *  It may start new calls on the same client. */
typedef void (*rpc_client_done_fn)(void *data, struct rpc_client_reply *reply);

struct rpc_client_req {
	const char *method; /* "/pkg.Service/Method" */
	const uint8_t *msg; /* serialized request, copied */
	size_t len;
	uint64_t timeout_ms;	  /* sent as grpc-timeout and enforced locally; 0: none */
	rpc_client_msg_fn on_msg; /* NULL: unary, the reply message lands in reply.data */
	rpc_client_done_fn on_done;
	void *data;
};

/** Connect a nonblocking, CLOEXEC unix stream socket to `path`. Returns the
 *  fd; on failure -errno with "cannot connect to <path>: <strerror>". */
int rpc_client_dial(const char *path, struct err *err);

/** Connect to the gRPC server at unix socket `path` and send the HTTP/2
 *  preface. Errors as rpc_client_dial. */
int rpc_client_new(const char *path, struct rpc_client **ret, struct err *err);
/** Close the connection and free. Pending calls are dropped without their
 *  done callbacks. Accepts NULL. */
void rpc_client_free(struct rpc_client *c);
DEFINE_CLEANUP(struct rpc_client, rpc_client_free)

/** Largest reply message accepted (default 64 MiB); larger ones end the call
 *  with RESOURCE_EXHAUSTED. */
void rpc_client_set_max_recv(struct rpc_client *c, size_t max);

/** Queue a call; it makes progress inside rpc_client_run. Returns 0, or
 *  -ENOTCONN (err set) when the connection is already broken, -EINVAL when
 *  the method path is not "/..". */
int rpc_client_start(struct rpc_client *c, const struct rpc_client_req *req, struct err *err);

/** Do I/O until no call is in flight (every done callback has run).
 *  Returns 0, or -errno when the connection broke (err set; the pending
 *  calls have then ended UNAVAILABLE). */
int rpc_client_run(struct rpc_client *c, struct err *err);

/** Number of calls in flight. */
unsigned rpc_client_pending(const struct rpc_client *c);

/** One unary call: send `msg` to `method` and wait for the status.
 *  Returns 0 when the call ended (look at reply->code: OK or not), or
 *  -errno when the connection broke or was broken (err set and
 *  reply->code UNAVAILABLE). reply must be zeroed; free with
 *  rpc_client_reply_done. */
int rpc_client_call(struct rpc_client *c, const char *method, const uint8_t *msg, size_t len,
		    uint64_t timeout_ms, struct rpc_client_reply *reply, struct err *err);

/** One server-streaming call: each reply message goes to on_msg. Same
 *  return contract as rpc_client_call; reply->data stays NULL. */
int rpc_client_call_stream(struct rpc_client *c, const char *method, const uint8_t *msg, size_t len,
			   uint64_t timeout_ms, rpc_client_msg_fn on_msg, void *data,
			   struct rpc_client_reply *reply, struct err *err);

/* HTTP/1.1, one request per connection ("Connection: close"). */

struct rpc_client_http_req {
	const char *method;	  /* "GET", "POST", ... */
	const char *path;	  /* with the query, e.g. "/info" */
	const char *content_type; /* NULL: none sent */
	const void *body;	  /* sent with Content-Length when body_len > 0 */
	size_t body_len;
	uint64_t timeout_ms; /* whole exchange; 0: none */
	size_t max_body;     /* 0: 16 MiB */
};

struct rpc_client_http_reply {
	int status;	    /* e.g. 200 */
	char *content_type; /* malloc'd, NULL when absent */
	char *body;	    /* malloc'd, NUL-terminated (not counted in body_len) */
	size_t body_len;
};

/** Free the reply's buffers and reset it. Accepts NULL. */
void rpc_client_http_reply_done(struct rpc_client_http_reply *r);

/** Send one HTTP/1.1 request on a new connection to unix socket `path` and
 *  read the whole response (Content-Length, chunked, or until EOF).
 *  Returns 0 with any HTTP status in reply; -errno on connect/IO errors,
 *  -ETIMEDOUT, -EMSGSIZE when the body is larger than max_body, -EPROTO on
 *  a malformed response. */
int rpc_client_http(const char *path, const struct rpc_client_http_req *req,
		    struct rpc_client_http_reply *reply, struct err *err);
