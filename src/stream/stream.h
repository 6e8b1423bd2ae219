/* stream: the streaming server behind CRI Exec, Attach and PortForward.
 *
 * The CRI calls only validate and hand out a URL
 * `http://<address>:<port>/{exec,attach,portforward}/<token>`; the client
 * (kubelet, crictl, ocic) then connects here and upgrades to SPDY/3.1 or
 * WebSocket. The server has its own listener thread and one thread per
 * session: nothing here runs on the RPC workers.
 *
 * Tokens are 128 random bits, single use, and expire after a minute; an
 * unknown, used or expired token gets 404 and nothing else. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "ctr/ctr.h"
#include "pod/pod.h"

struct stream_server;

struct stream_config {
	const char *address;	 /* listen address (IPv4 or IPv6 literal) */
	unsigned port;		 /* 0 = an ephemeral port */
	unsigned idle_timeout_s; /* a session with no traffic this long is closed; 0 = never */
	unsigned max_sessions;	 /* sessions at once; more are answered 503 */
	const char *tls_cert, *tls_key; /* PEM files: serve HTTPS (TLS 1.2+); NULL = plain */
	const char *tls_ca; /* verify client certificates against this CA; NULL = none */
	struct ctr_mgr *ctrs;
	struct pod_manager *pods;
};

/** Bind, listen and start serving. -errno with err (e.g. -EADDRINUSE). */
int stream_server_new(const struct stream_config *cfg, struct stream_server **ret, struct err *err);
/** Stop accepting, end every session, free. Accepts NULL. */
void stream_server_free(struct stream_server *s);
/** The port in use (the ephemeral one when 0 was asked). */
unsigned stream_server_port(const struct stream_server *s);
/** The URL base "http://127.0.0.1:PORT" (https with TLS), borrowed. */
const char *stream_server_base_url(const struct stream_server *s);
/** Sessions open now. */
size_t stream_server_sessions(struct stream_server *s);

struct stream_exec_req {
	const char *ctr_id;
	char *const *cmd; /* exec only */
	bool tty, in, out, err;
};

/** A URL for an exec session in running container ctr_id. Validates as
 *  kubelet does: -EINVAL for an empty command, tty together with stderr, no
 *  stream at all, a container that is not running; -ENOENT unknown id;
 *  -ENOSPC when too many tokens are outstanding. *ret_url is malloc'd. */
int stream_exec_url(struct stream_server *s, const struct stream_exec_req *r, char **ret_url,
		    struct err *err);
/** A URL for attaching to running container r->ctr_id (cmd unused). */
int stream_attach_url(struct stream_server *s, const struct stream_exec_req *r, char **ret_url,
		      struct err *err);
/** A URL for port-forwarding into ready pod `pod_id`; `ports` (may be
 *  empty: the client names them) must be 1..65535. */
int stream_portforward_url(struct stream_server *s, const char *pod_id, const int32_t *ports,
			   size_t n_ports, char **ret_url, struct err *err);

/* ---- the client side (client.c, client_msg.c): what ocic speaks ---------
 *
 * A SPDY/3.1 client of a streaming URL, as client-go (kubectl, crictl)
 * speaks it: the HTTP/1.1 upgrade with one X-Stream-Protocol-Version
 * ("v4.channel.k8s.io" for exec and attach, "portforward.k8s.io"), streams
 * opened with odd ids and a header list ("streamtype" ...), DATA with FIN
 * for half close, the server's PINGs echoed, no flow control (spdystream
 * has none). It does no I/O on its own: the caller polls
 * stream_client_fd() and calls stream_client_read/next/flush. Not
 * thread-safe. Built into its own small library (stream_client_lib), which
 * needs only base and the framing: ocic links it without ctr or pod. */

struct stream_client;

/** Connect to `url` (as Exec, Attach and PortForward answer it: http://,
 *  a host that is an IP literal or a name, an optional port, a path) and
 *  upgrade to SPDY/3.1 asking for `protocol`. Waits at most 30 s in all.
 *  Errors, with err a message a person can act on: -EPROTONOSUPPORT for an
 *  https:// URL (not supported yet) or a 101 that names another protocol;
 *  -EINVAL for a malformed URL; -EPROTO for an answer that is not 101 (err:
 *  "upgrade refused: HTTP 404 Not Found: <body>") or is malformed;
 *  -ETIMEDOUT; -errno of connect, read or write. */
int stream_client_connect(const char *url, const char *protocol, struct stream_client **ret,
			  struct err *err);
/** Close the connection and free. Accepts NULL. */
void stream_client_free(struct stream_client *c);
DEFINE_CLEANUP(struct stream_client, stream_client_free)

/** The protocol the server agreed to (borrowed). */
const char *stream_client_protocol(const struct stream_client *c);
/** The connection's fd (nonblocking), for poll. */
int stream_client_fd(const struct stream_client *c);

/** Open a stream: SYN_STREAM with the NULL-terminated name, value, ...
 *  list `kv` (lower-case names). Returns its id (odd, > 0), or -ENOSPC when
 *  the ids are used up. The SYN_REPLY comes as an event. */
int stream_client_open(struct stream_client *c, const char *const *kv);
/** Queue n bytes of DATA on stream id (in frames of at most 32 KiB). */
void stream_client_send(struct stream_client *c, uint32_t id, const void *p, size_t n);
/** Queue the end of what we send on stream id (empty DATA with FIN). */
void stream_client_fin(struct stream_client *c, uint32_t id);
/** Queue RST_STREAM CANCEL for stream id. */
void stream_client_reset(struct stream_client *c, uint32_t id);
/** Queue GOAWAY: the session ends from our side. */
void stream_client_goaway(struct stream_client *c);

/** Bytes queued for the server: poll for POLLOUT while > 0, and stop
 *  producing above a bound of the caller's. */
size_t stream_client_backlog(const struct stream_client *c);
/** Write queued bytes; wait up to timeout_ms for the socket to take them
 *  all (0: take what it takes now). 0, or -errno with err (-ETIMEDOUT when
 *  some are left after a wait). */
int stream_client_flush(struct stream_client *c, int timeout_ms, struct err *err);
/** Read what the socket has into the input buffer. The bytes read, 0 at
 *  EOF, -EAGAIN when there was nothing, -errno with err. */
int stream_client_read(struct stream_client *c, struct err *err);

enum stream_client_ev_type {
	STREAM_CLIENT_REPLY,  /* SYN_REPLY on `id` (fin: the server sends nothing on it) */
	STREAM_CLIENT_DATA,   /* data[0..len) on `id` (may be empty); fin: its last */
	STREAM_CLIENT_RESET,  /* RST_STREAM on `id` with `status` */
	STREAM_CLIENT_GOAWAY, /* the server ends the session */
};

struct stream_client_ev {
	enum stream_client_ev_type type;
	uint32_t id;
	const uint8_t *data; /* valid until the next stream_client_next or _read */
	size_t len;
	bool fin;
	uint32_t status; /* RESET: the RST_STREAM status; GOAWAY: its status */
};

/** The next event from the bytes read: 1 with *ev set, 0 when a whole frame
 *  is not there yet. PINGs of the server are answered, server-opened
 *  streams refused, SETTINGS and WINDOW_UPDATE ignored (no event).
 *  -EBADMSG, -EMSGSIZE or -EPROTO with err for a broken stream of frames:
 *  the session is over. */
int stream_client_next(struct stream_client *c, struct stream_client_ev *ev, struct err *err);

/* Pure pieces of the client (client_msg.c), unit-tested on their own. */

struct stream_url {
	char *host;	   /* without the brackets of an IPv6 literal */
	char *port;	   /* "80" when the URL names none */
	char *host_header; /* host[:port] as the URL wrote it, for Host: */
	char *path;	   /* from the first '/', with the query; "/" when none */
};

/** Split an http:// URL. -EPROTONOSUPPORT for https:// ("https streaming
 *  URLs are not supported yet"), -EINVAL for another scheme, an empty or
 *  malformed host (an unclosed '['), a port that is not 1..65535, or
 *  control characters or spaces anywhere. *ret is filled only on success;
 *  free with stream_url_done. */
int stream_url_parse(const char *url, struct stream_url *ret, struct err *err);
void stream_url_done(struct stream_url *u);

/* The status line and the headers the client looks at, of an HTTP/1.1
 * response head. */
struct stream_reply_head {
	int status;		/* 100..599 */
	char *reason;		/* may be "" */
	char *upgrade;		/* Upgrade; NULL when absent */
	char *connection;	/* Connection; NULL when absent */
	char *protocol;		/* X-Stream-Protocol-Version; NULL when absent */
	int64_t content_length; /* -1 when absent */
};

/** Parse the response head at p[0..len). Returns its length through the
 *  blank line (> 0), 0 while incomplete, -E2BIG when no blank line comes
 *  within STREAM_REPLY_HEAD_MAX bytes, -EBADMSG with err for a malformed
 *  status line or header, a repeated X-Stream-Protocol-Version or
 *  Content-Length, or a NUL byte (repeated Upgrade and Connection lines
 *  are joined into one list). Lines end with CRLF. On success *ret is set:
 *  free with stream_reply_head_done. */
ssize_t stream_reply_head_parse(const uint8_t *p, size_t len, struct stream_reply_head *ret,
				struct err *err);
void stream_reply_head_done(struct stream_reply_head *h);
#define STREAM_REPLY_HEAD_MAX (16u * 1024u)

/** Does the comma-separated list `value` hold `token` (case-insensitive)?
 *  NULL holds nothing. */
bool stream_token_list_has(const char *value, const char *token);

/** What a v4 error channel said (`p[0..len)`: the Kubernetes Status JSON):
 *  0 with *ret_code 0 for "Success"; 0 with *ret_code the exit code for a
 *  "Failure" whose details carry the cause "ExitCode"; -EREMOTEIO for
 *  another failure, with *ret_msg its message (malloc'd; "" never: the
 *  reason, or "unknown error"); -EBADMSG for text that is not such a
 *  Status, with *ret_msg the text itself (older servers send plain text),
 *  or, for a JSON object that is no well-formed Status (unparsable, larger
 *  than 64 KiB, a field of the wrong type), "the error channel's Status is
 *  malformed: " and why (the parse error with its line and column). */
int stream_status_parse(const uint8_t *p, size_t len, int *ret_code, char **ret_msg);
