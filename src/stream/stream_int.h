/* stream internals shared by its files: the byte buffer, the transport
 * (plain TCP or TLS), the HTTP upgrade head, SPDY/3.1 and WebSocket
 * framing. Only src/stream/ (and its unit tests and fuzz targets) include
 * this header. */
#pragma once

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "stream/stream.h"

/* ---- byte buffer (buf.c) ------------------------------------------------ */

/* Bytes p[off..len) are pending; cap is the allocation. */
struct sbuf {
	uint8_t *p;
	size_t off, len, cap;
};

/** Append n bytes (grows with xrealloc; never fails). */
void sbuf_add(struct sbuf *b, const void *p, size_t n);
/** Drop n pending bytes from the front (n <= sbuf_pending). */
void sbuf_take(struct sbuf *b, size_t n);
/** Pending bytes. */
static inline size_t sbuf_pending(const struct sbuf *b)
{
	return b->len - b->off;
}
/** Free the storage and zero the buffer. */
void sbuf_done(struct sbuf *b);

/* ---- HTTP/1.1 request head of an upgrade (upgrade.c) -------------------- */

/* A bound on the head (request line + headers). */
#define STREAM_HEAD_MAX (16u * 1024u)
#define STREAM_HEADERS_MAX 64

struct stream_head {
	char *method, *path, *query; /* point into buf; query "" when none */
	size_t n;
	struct {
		char *name, *value; /* name as sent; value trimmed */
	} h[STREAM_HEADERS_MAX];
	char *buf;
};

/** Length of the head at p through its blank line; 0 while incomplete;
 *  -E2BIG when no blank line appears within STREAM_HEAD_MAX bytes. */
ssize_t stream_head_len(const uint8_t *p, size_t len);
/** Parse a complete head: p[0..len) as stream_head_len measured it. -EINVAL
 *  with err for a malformed request line or header, more than
 *  STREAM_HEADERS_MAX headers, or not HTTP/1.1; -E2BIG when len passes
 *  STREAM_HEAD_MAX. *h is always set: call stream_head_done even after an
 *  error. */
int stream_head_parse(const uint8_t *p, size_t len, struct stream_head *h, struct err *err);
/** The idx-th value of header `name` (case-insensitive), counting each
 *  comma-separated element of every header line of that name as one value
 *  (so "a, b" then "c" gives a, b, c); NULL past the end. The returned
 *  string is malloc'd. */
char *stream_head_value(const struct stream_head *h, const char *name, size_t idx);
/** Does header `name` hold `token` among its comma-separated elements
 *  (case-insensitive)? ("Connection: keep-alive, Upgrade" holds upgrade.) */
bool stream_head_has_token(const struct stream_head *h, const char *name, const char *token);
void stream_head_done(struct stream_head *h);

/** Value of query parameter `key` (percent-decoded), idx-th occurrence,
 *  malloc'd; NULL when absent. '+' is not a space; pairs with a malformed
 *  escape or %00 are skipped; "key" without '=' has the value "". */
char *stream_query_value(const char *query, const char *key, size_t idx);

/* ---- SPDY/3.1 framing (spdy.c): what Kubernetes' spdystream speaks ----- */

enum spdy_type {
	SPDY_DATA = 0,
	SPDY_SYN_STREAM = 1,
	SPDY_SYN_REPLY = 2,
	SPDY_RST_STREAM = 3,
	SPDY_SETTINGS = 4,
	SPDY_PING = 6,
	SPDY_GOAWAY = 7,
	SPDY_HEADERS = 8,
	SPDY_WINDOW_UPDATE = 9,
};
#define SPDY_FLAG_FIN 0x01
#define SPDY_FLAG_UNIDIRECTIONAL 0x02
/* Frames with a longer payload are refused (-EMSGSIZE). */
#define SPDY_MAX_PAYLOAD (256u * 1024u)
/* Bounds on a decoded header block. */
#define SPDY_MAX_HEADERS 64
#define SPDY_MAX_HEADER_BLOCK (64u * 1024u)

/* RST_STREAM status codes. */
enum spdy_rst {
	SPDY_PROTOCOL_ERROR = 1,
	SPDY_INVALID_STREAM = 2,
	SPDY_REFUSED_STREAM = 3,
	SPDY_CANCEL = 5,
	SPDY_INTERNAL_ERROR = 6,
	SPDY_FLOW_CONTROL_ERROR = 7,
	SPDY_STREAM_IN_USE = 8,
	SPDY_STREAM_ALREADY_CLOSED = 9,
	SPDY_FRAME_TOO_LARGE = 11,
};

struct spdy_frame {
	enum spdy_type type; /* SPDY_DATA for a data frame */
	uint8_t flags;
	uint32_t stream_id; /* DATA, SYN_*, RST, HEADERS, WINDOW_UPDATE (0 = session);
			       GOAWAY: the last good stream id */
	uint32_t assoc_id;  /* SYN_STREAM */
	uint8_t priority;   /* SYN_STREAM, 0..7 */
	uint32_t status;    /* RST_STREAM, GOAWAY */
	uint32_t delta;	    /* WINDOW_UPDATE */
	uint32_t ping_id;   /* PING */
	/* DATA: the payload; SYN_STREAM, SYN_REPLY, HEADERS: the compressed
	 * header block; SETTINGS and unknown control types: the raw payload.
	 * Points into the parsed buffer. */
	const uint8_t *data;
	size_t len;
};

/** Parse one frame from p[0..len). Returns the bytes it takes (header +
 *  payload) and fills *f; -EAGAIN when p holds only part of a frame;
 *  -EMSGSIZE when its payload passes SPDY_MAX_PAYLOAD (known from the
 *  8-byte header alone); -EPROTO for a control frame of another version;
 *  -EBADMSG for a payload too short for its type (RST_STREAM, PING, GOAWAY
 *  and WINDOW_UPDATE must be exactly their size, SETTINGS as long as its
 *  count says). Unknown control types parse (the caller ignores them, as
 *  SPDY asks). Stream ids are not checked here (0 on DATA is the caller's
 *  to refuse). */
ssize_t spdy_frame_parse(const uint8_t *p, size_t len, struct spdy_frame *f);

/* One direction's zlib stream for header blocks, primed with SPDY/3's
 * dictionary; a session has one of each, kept for its whole life. */
struct spdy_zin;
struct spdy_zout;
struct spdy_zin *spdy_zin_new(void);
void spdy_zin_free(struct spdy_zin *z);
struct spdy_zout *spdy_zout_new(void);
void spdy_zout_free(struct spdy_zout *z);

struct spdy_headers {
	size_t n;
	struct {
		char *name; /* lower-case, NUL-terminated */
		char *
		    value; /* NUL-separated values, NUL-terminated; value_len excludes the final NUL */
		size_t value_len;
	} h[SPDY_MAX_HEADERS];
};

/** Inflate and decode a header block. -EBADMSG with err for a corrupt zlib
 *  stream or a malformed block (lengths past the end, an empty or
 *  upper-case name, a repeated name); -EMSGSIZE when it inflates past
 *  SPDY_MAX_HEADER_BLOCK or holds more than SPDY_MAX_HEADERS pairs. After
 *  an error the zlib stream is unusable: the session must end. */
int spdy_headers_decode(struct spdy_zin *z, const uint8_t *p, size_t len, struct spdy_headers *ret,
			struct err *err);
/** The (first) value of `name` (lower-case), or NULL. */
const char *spdy_headers_get(const struct spdy_headers *h, const char *name);
void spdy_headers_done(struct spdy_headers *h);

/* Encoders append one whole frame to `out`. Header lists are
 * NULL-terminated name, value, name, value, ... arrays. */
void spdy_put_syn_stream(struct sbuf *out, struct spdy_zout *z, uint32_t id, uint8_t flags,
			 const char *const *kv);
void spdy_put_syn_reply(struct sbuf *out, struct spdy_zout *z, uint32_t id, uint8_t flags,
			const char *const *kv);
void spdy_put_data(struct sbuf *out, uint32_t id, uint8_t flags, const void *p, size_t n);
void spdy_put_rst(struct sbuf *out, uint32_t id, uint32_t status);
void spdy_put_ping(struct sbuf *out, uint32_t ping_id);
void spdy_put_goaway(struct sbuf *out, uint32_t last_good, uint32_t status);
void spdy_put_window_update(struct sbuf *out, uint32_t id, uint32_t delta);

/* ---- WebSocket framing (ws.c, RFC 6455, server side) -------------------- */

/* Messages (after reassembly of fragments) longer than this close the
 * connection with 1009. */
#define WS_MAX_MESSAGE (1u << 20)

enum ws_opcode {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key
 *  + the RFC's GUID)), NUL-terminated in out (29 bytes). -EINVAL for a key
 *  that is not base64 of 16 bytes. */
int ws_accept_key(const char *key, char out[29]);

/* Zero-initialise ({ 0 }) before the first ws_parse. The fields are the
 * parser's own. */
struct ws_parser {
	struct sbuf msg;    /* the data message being reassembled, unmasked */
	uint8_t msg_opcode; /* WS_TEXT or WS_BINARY */
	bool in_msg;	    /* a message's first fragment came, its last did not */
	bool msg_out;	    /* msg went out as an event: drop it on the next call */
	size_t text_ok;	    /* WS_TEXT: bytes of msg known to be whole UTF-8 characters */
	uint16_t failed;    /* the close code of an earlier error: it sticks */
	uint8_t ctl[125];   /* the last control frame's payload, unmasked */
};

struct ws_event {
	enum ws_opcode opcode; /* WS_TEXT/WS_BINARY (whole message), WS_CLOSE, WS_PING, WS_PONG */
	const uint8_t *data;   /* valid until the next ws_parse call; WS_CLOSE: the reason */
	size_t len;
	uint16_t close_code; /* WS_CLOSE: the code sent, 1005 when none */
};

/** Parse client frames from p[0..len) (client frames must be masked).
 *  Returns the bytes taken (>= 0) and sets *have_event when one complete
 *  message or control frame is in *ev (call again with the rest: it stops
 *  after each event, and may take fragments without one);
 *  -EAGAIN is never returned: an incomplete frame takes 0 bytes.
 *  -EPROTO with *ret_close set to the close code to send (1002 protocol
 *  error, 1007 invalid UTF-8 in a text message or close reason, 1009 too
 *  big); every later call fails the same way. */
ssize_t ws_parse(struct ws_parser *ps, const uint8_t *p, size_t len, struct ws_event *ev,
		 bool *have_event, uint16_t *ret_close);
void ws_parser_done(struct ws_parser *ps);

/** Append one unmasked server frame (FIN set) to out. */
void ws_put_frame(struct sbuf *out, enum ws_opcode op, const void *p, size_t n);
/** Append a close frame with `code` and a reason (may be NULL). */
void ws_put_close(struct sbuf *out, uint16_t code, const char *reason);
/** Append one masked client frame (for ocic and tests). */
void ws_put_client_frame(struct sbuf *out, enum ws_opcode op, const void *p, size_t n,
			 const uint8_t mask[4]);

/* ---- the client connection (conn.c): plain TCP or TLS ------------------ */

#include <openssl/types.h>

/* fd is non-blocking; ssl is NULL for plain TCP. */
struct sconn {
	int fd;
	SSL *ssl;
};

/** A server TLS context: TLS 1.2 or newer, cert (PEM chain) and key; with
 *  a CA file, clients must present a certificate it signed. */
int sconn_tls_ctx_new(const char *cert, const char *key, const char *ca, SSL_CTX **ret,
		      struct err *err);
/** With a context, the TLS handshake (until deadline_ms, mono_ms clock);
 *  without, nothing. -EPROTO or -ETIMEDOUT with err. */
int sconn_accept(struct sconn *c, SSL_CTX *ctx, uint64_t deadline_ms, struct err *err);
/** Bytes read, 0 at EOF, -EAGAIN when nothing is there now, -errno. */
ssize_t sconn_read(struct sconn *c, void *buf, size_t n);
/** Bytes written, -EAGAIN when none fit now, -errno. */
ssize_t sconn_write(struct sconn *c, const void *buf, size_t n);
/** TLS holds decrypted bytes not read yet (no poll would tell). */
bool sconn_pending(const struct sconn *c);
/** Write everything, waiting until deadline_ms. */
int sconn_write_all(struct sconn *c, const void *buf, size_t n, uint64_t deadline_ms);
/** End our side (close_notify, FIN) and read what the client still sends
 *  for up to a second, so our last bytes are not reset under it. */
void sconn_linger(struct sconn *c);
void sconn_close(struct sconn *c);

/* ---- the server and its sessions (server.c, session.c, rc.c, pf.c) ----- */

enum stream_kind { STREAM_EXEC, STREAM_ATTACH, STREAM_PORTFORWARD };

/* What a token stands for, taken by the session that presents it. */
struct stream_job {
	enum stream_kind kind;
	char id[ID_LEN + 1]; /* the container's (exec, attach) or pod's full id */
	char **cmd;	     /* exec */
	bool tty, in, out, err;
	int32_t *ports; /* port-forward: the ports of the request (may be none) */
	size_t n_ports;
};
void stream_job_free(struct stream_job *j);
DEFINE_CLEANUP(struct stream_job, stream_job_free)

struct stream_token {
	char token[33]; /* 32 hex digits: 128 random bits */
	uint64_t expires_ns;
	struct stream_job *job;
};

struct stream_server {
	struct stream_config cfg;
	char *address, *base_url;
	unsigned port;
	SSL_CTX *tls; /* NULL: plain HTTP */
	int listen_fd, wake_fd;
	pthread_t acceptor;
	bool acceptor_started;
	pthread_mutex_t mu;
	pthread_cond_t idle; /* signalled when a session ends */
	struct stream_token *tokens;
	size_t n_tokens;
	int *session_fds; /* open sessions' client sockets, for shutdown */
	size_t n_sessions, max_sessions;
	bool stopping;
};

/** Take the job behind `token` (single use): NULL when unknown, used or
 *  expired. */
struct stream_job *stream_token_take(struct stream_server *s, const char *token);

/** Serve one accepted client connection to its end; closes fd. */
void stream_session_serve(struct stream_server *s, int fd);

/* ---- one session (session.c: transport and protocol; rc.c: exec and
 * attach; pf.c: port-forward) ---- */

/* Channels of the remote command protocols (exec, attach): the SPDY
 * `streamtype` names and the WebSocket channel numbers alike. */
enum rc_chan { RC_STDIN = 0, RC_STDOUT = 1, RC_STDERR = 2, RC_ERROR = 3, RC_RESIZE = 4, RC_N = 5 };

enum sess_proto { SESS_SPDY, SESS_WS };

/* A SPDY stream the client opened. */
struct sess_stream {
	uint32_t id;
	int type; /* enum rc_chan, or SST_PF_DATA / SST_PF_ERROR */
	uint16_t port;
	char request_id[24];
	bool rx_fin, tx_fin;
};
#define SST_PF_DATA 16
#define SST_PF_ERROR 17
#define SESS_MAX_STREAMS 256

/* One port-forward connection: a TCP socket inside the pod and the
 * protocol channel (SPDY data stream id / WebSocket channel) it feeds. */
struct pf_conn {
	uint32_t data_key, error_key;
	uint16_t port;
	int fd;
	struct sbuf to_pod; /* client data the socket has not taken yet */
	bool rx_eof;	    /* the client finished sending */
	bool pod_eof;	    /* the socket read EOF (FIN sent to the client) */
	bool shut_wr;	    /* SHUT_WR done on the socket */
};
#define PF_MAX_CONNS 128

struct sess {
	struct stream_server *srv;
	struct sconn conn;
	struct stream_job *job;
	enum sess_proto proto;
	int version; /* remote command protocol version 1..5; 0 for port-forward */
	bool b64;    /* WebSocket base64 channel protocol */
	struct sbuf in, out;
	uint64_t last_ns;
	bool client_eof, failed;
	/* SPDY */
	struct spdy_zin *zin;
	struct spdy_zout *zout;
	struct sess_stream *st;
	size_t n_st;
	/* WebSocket */
	struct ws_parser wsp;
	bool ws_closed;
	/* exec / attach (rc.c) */
	uint32_t key[RC_N]; /* SPDY stream id (WebSocket: the channel number) */
	bool have[RC_N];
	bool started, finished;
	uint64_t setup_deadline_ns;
	struct ctr_exec_proc ex;
	int attach_fd;
	bool stdin_once; /* attach: the container closes stdin after its first client */
	char *ctl_path;
	bool out_open[RC_N]; /* stdout/stderr not yet at EOF */
	bool exited;
	uint64_t exit_ns;
	int exit_code;
	struct sbuf to_stdin;
	bool stdin_eof;
	struct sbuf resize;
	/* port-forward (pf.c) */
	int netns_fd;
	struct pf_conn *conns[PF_MAX_CONNS];
};

/* What session.c offers the backends. A key is a SPDY stream id, or a
 * WebSocket channel number. */
void sess_send(struct sess *s, uint32_t key, const void *p, size_t n);
void sess_fin(struct sess *s, uint32_t key);
/** Bytes queued for the client; backends stop reading above a bound. */
size_t sess_backlog(const struct sess *s);
#define SESS_BACKLOG_MAX (256u * 1024u)

/* rc.c */
/** Are the channels the job needs all open (SPDY), so the command can run? */
bool rc_ready(const struct sess *s);
/** Start the command (exec) or connect to the monitor (attach). On failure
 *  the status goes to the error channel and the session finishes. */
void rc_start(struct sess *s);
void rc_input(struct sess *s, int ch, const uint8_t *p, size_t n);
void rc_input_eof(struct sess *s, int ch);
/** Add the backend's fds to p (at most max); the count. */
size_t rc_pollfds(struct sess *s, struct pollfd *p, size_t max);
void rc_events(struct sess *s, const struct pollfd *p, size_t n);
void rc_done(struct sess *s);

/* pf.c */
int pf_init(struct sess *s, struct err *err);
/** A client channel pair for `port`: dial it inside the pod. */
void pf_open(struct sess *s, uint32_t data_key, uint32_t error_key, uint16_t port);
void pf_input(struct sess *s, uint32_t data_key, const uint8_t *p, size_t n);
void pf_input_eof(struct sess *s, uint32_t data_key);
void pf_reset(struct sess *s, uint32_t data_key);
size_t pf_pollfds(struct sess *s, struct pollfd *p, size_t max);
void pf_events(struct sess *s, const struct pollfd *p, size_t n);
void pf_done(struct sess *s);

/* rc_msg.c: what the remote command channels carry (pure) */
/** The v4 error-channel Status for an exit code (0: Success) or, with
 *  `msg`, a failure; malloc'd JSON. */
char *rc_status_json(int exit_code, const char *msg);
/** Take complete resize messages ({"Width":W,"Height":H}, concatenated
 *  JSON values) from the front of b; for each, call fn. -EBADMSG for a
 *  malformed message (err says why: the JSON parse error with its line and
 *  column, or the field), -EMSGSIZE when b holds more than 4 KiB without
 *  one. */
int rc_resize_parse(struct sbuf *b, void (*fn)(void *data, unsigned w, unsigned h), void *data,
		    struct err *err);
