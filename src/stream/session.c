/* One streaming session, on its own thread: the HTTP request, the token,
 * the upgrade to SPDY/3.1 or WebSocket with the sub-protocol both sides
 * know, then one poll loop that moves bytes between the client and the
 * backend (rc.c: exec and attach; pf.c: port-forward). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/clock.h"
#include "stream/stream_int.h"

#define HEAD_TIMEOUT_MS 10000
/* kubelet's stream creation timeout: the client opens its streams within it. */
#define SETUP_TIMEOUT_NS (30ULL * 1000000000ULL)
#define READ_CHUNK (64u * 1024u)
/* Client bytes not yet parsed (a frame being received). */
#define IN_MAX (SPDY_MAX_PAYLOAD + 64u * 1024u)

/* Remote command protocols in the order this server prefers them when a
 * client offers several: the client's order decides (as kubelet does). */
static const struct {
	const char *name;
	int version;
} rc_spdy_protos[] = {
	{ "v4.channel.k8s.io", 4 },
	{ "v3.channel.k8s.io", 3 },
	{ "v2.channel.k8s.io", 2 },
	{ "channel.k8s.io", 1 },
};

static const struct {
	const char *name;
	int version;
	bool b64;
} rc_ws_protos[] = {
	{ "v5.channel.k8s.io", 5, false },	 { "v4.channel.k8s.io", 4, false },
	{ "v4.base64.channel.k8s.io", 4, true }, { "channel.k8s.io", 1, false },
	{ "base64.channel.k8s.io", 1, true },
};

/* ---- plain HTTP replies before the upgrade ---- */

static void reply_plain(struct sess *s, int code, const char *reason, const char *extra,
			const char *body)
{
	cleanup_free char *msg = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
					   "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
					   code, reason, strlen(body), extra ? extra : "", body);
	(void)sconn_write_all(&s->conn, msg, strlen(msg), mono_ms() + HEAD_TIMEOUT_MS);
}

static int read_head(struct sconn *c, struct sbuf *in, size_t *ret_len)
{
	uint64_t deadline = mono_ms() + HEAD_TIMEOUT_MS;
	for (;;) {
		ssize_t hl = stream_head_len(in->p ? in->p + in->off : (const uint8_t *)"",
					     sbuf_pending(in));
		if (hl < 0)
			return (int)hl;
		if (hl > 0) {
			*ret_len = (size_t)hl;
			return 0;
		}
		uint8_t buf[2048];
		ssize_t n = sconn_read(c, buf, sizeof(buf));
		if (n > 0) {
			sbuf_add(in, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (n != -EAGAIN)
			return (int)n;
		uint64_t now = mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
	}
}

/* ---- output to the client ---- */

void sess_send(struct sess *s, uint32_t key, const void *p, size_t n)
{
	if (s->proto == SESS_SPDY) {
		/* Frames stay well under what a client takes in one. */
		const uint8_t *b = p;
		do {
			size_t k = n > 32768 ? 32768 : n;
			spdy_put_data(&s->out, key, 0, b, k);
			b += k;
			n -= k;
		} while (n > 0);
		return;
	}
	if (s->ws_closed)
		return;
	if (!s->b64) {
		uint8_t *msg = xmalloc(n + 1);
		msg[0] = (uint8_t)key;
		if (n)
			memcpy(msg + 1, p, n);
		ws_put_frame(&s->out, WS_BINARY, msg, n + 1);
		free(msg);
		return;
	}
	size_t cap = 4 * ((n + 2) / 3) + 2;
	uint8_t *msg = xmalloc(cap);
	msg[0] = (uint8_t)('0' + key);
	size_t len = n ? (size_t)EVP_EncodeBlock(msg + 1, p, (int)n) : 0;
	ws_put_frame(&s->out, WS_TEXT, msg, len + 1);
	free(msg);
}

void sess_fin(struct sess *s, uint32_t key)
{
	if (s->proto == SESS_SPDY) {
		for (size_t i = 0; i < s->n_st; i++)
			if (s->st[i].id == key) {
				if (s->st[i].tx_fin)
					return;
				s->st[i].tx_fin = true;
			}
		spdy_put_data(&s->out, key, SPDY_FLAG_FIN, NULL, 0);
		return;
	}
	/* WebSocket: only v5 can say that one channel ended. */
	if (s->version >= 5 && !s->ws_closed) {
		uint8_t msg[2] = { 255, (uint8_t)key };
		ws_put_frame(&s->out, WS_BINARY, msg, 2);
	}
}

size_t sess_backlog(const struct sess *s)
{
	return sbuf_pending(&s->out);
}

static int flush_out(struct sess *s)
{
	while (sbuf_pending(&s->out) > 0) {
		ssize_t n = sconn_write(&s->conn, s->out.p + s->out.off, sbuf_pending(&s->out));
		if (n < 0)
			return n == -EAGAIN ? 0 : (int)n;
		sbuf_take(&s->out, (size_t)n);
		s->last_ns = mono_ns();
	}
	return 0;
}

/* ---- SPDY input ---- */

static struct sess_stream *find_stream(struct sess *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_st; i++)
		if (s->st[i].id == id)
			return &s->st[i];
	return NULL;
}

static int stream_type(const char *t)
{
	static const char *const names[] = { "stdin", "stdout", "stderr", "error", "resize" };
	for (int i = 0; i < RC_N; i++)
		if (t && strcmp(t, names[i]) == 0)
			return i;
	if (t && strcmp(t, "data") == 0)
		return SST_PF_DATA;
	return -1;
}

/* Port-forward streams come in pairs sharing a request id: the error
 * stream first, then the data stream; a pair complete opens a connection. */
static void pf_pair(struct sess *s, const struct sess_stream *n)
{
	for (size_t i = 0; i + 1 < s->n_st; i++) {
		const struct sess_stream *o = &s->st[i];
		if (o->type + n->type != SST_PF_DATA + SST_PF_ERROR ||
		    strcmp(o->request_id, n->request_id) != 0 || o->port != n->port)
			continue;
		const struct sess_stream *d = n->type == SST_PF_DATA ? n : o;
		const struct sess_stream *e = n->type == SST_PF_DATA ? o : n;
		pf_open(s, d->id, e->id, d->port);
		return;
	}
}

static int spdy_syn_stream(struct sess *s, const struct spdy_frame *f, struct err *err)
{
	if (!s->zin || s->n_st >= SESS_MAX_STREAMS || find_stream(s, f->stream_id)) {
		/* The command's streams are all open: no more are taken. */
		spdy_put_rst(&s->out, f->stream_id, SPDY_REFUSED_STREAM);
		return 0;
	}
	struct spdy_headers h = { 0 };
	int r = spdy_headers_decode(s->zin, f->data, f->len, &h, err);
	if (r < 0)
		return r;
	struct sess_stream st = { .id = f->stream_id, .rx_fin = f->flags & SPDY_FLAG_FIN };
	const char *type = spdy_headers_get(&h, "streamtype");
	st.type = stream_type(type);
	if (type && strcmp(type, "error") == 0 && s->version == 0)
		st.type = SST_PF_ERROR;
	bool pf = s->version == 0;
	bool ok = pf ? st.type == SST_PF_DATA || st.type == SST_PF_ERROR
		     : st.type >= 0 && st.type < RC_N && !s->have[st.type];
	if (ok && pf) {
		const char *port = spdy_headers_get(&h, "port");
		const char *rid = spdy_headers_get(&h, "requestid");
		char *end = NULL;
		long v = port ? strtol(port, &end, 10) : 0;
		ok = port && *end == '\0' && v >= 1 && v <= 65535;
		st.port = (uint16_t)v;
		snprintf(st.request_id, sizeof(st.request_id), "%s", rid ? rid : "");
	}
	spdy_headers_done(&h);
	if (!ok) {
		spdy_put_rst(&s->out, f->stream_id, SPDY_REFUSED_STREAM);
		return 0;
	}
	s->st = xreallocarray(s->st, s->n_st + 1, sizeof(*s->st));
	s->st[s->n_st++] = st;
	spdy_put_syn_reply(&s->out, s->zout, st.id, 0, (const char *const[]){ NULL });
	if (pf) {
		pf_pair(s, &s->st[s->n_st - 1]);
		return 0;
	}
	s->key[st.type] = st.id;
	s->have[st.type] = true;
	if (rc_ready(s)) {
		/* No stream comes after these: drop the zlib state (most of
		 * an idle session's memory). */
		spdy_zin_free(s->zin);
		s->zin = NULL;
		rc_start(s);
	}
	return 0;
}

static void spdy_data(struct sess *s, const struct spdy_frame *f)
{
	struct sess_stream *st = find_stream(s, f->stream_id);
	if (!st || st->rx_fin) {
		spdy_put_rst(&s->out, f->stream_id,
			     st ? SPDY_STREAM_ALREADY_CLOSED : SPDY_INVALID_STREAM);
		return;
	}
	bool fin = f->flags & SPDY_FLAG_FIN;
	st->rx_fin = fin;
	if (st->type == SST_PF_DATA) {
		if (f->len)
			pf_input(s, st->id, f->data, f->len);
		if (fin)
			pf_input_eof(s, st->id);
	} else if (st->type < RC_N) {
		if (f->len)
			rc_input(s, st->type, f->data, f->len);
		if (fin)
			rc_input_eof(s, st->type);
	}
}

static int spdy_frame(struct sess *s, const struct spdy_frame *f, struct err *err)
{
	struct sess_stream *st;
	switch (f->type) {
	case SPDY_DATA:
		spdy_data(s, f);
		return 0;
	case SPDY_SYN_STREAM:
		return spdy_syn_stream(s, f, err);
	case SPDY_RST_STREAM:
		st = find_stream(s, f->stream_id);
		if (st && st->type == SST_PF_DATA)
			pf_reset(s, st->id);
		else if (st && st->type == RC_STDIN && !st->rx_fin)
			rc_input_eof(s, RC_STDIN);
		if (st)
			st->rx_fin = st->tx_fin = true;
		return 0;
	case SPDY_PING:
		/* Odd ids are the client's, to be echoed; even ones would be
		 * answers to pings of ours (we send none). */
		if (f->ping_id & 1)
			spdy_put_ping(&s->out, f->ping_id);
		return 0;
	case SPDY_GOAWAY:
		s->client_eof = true;
		return 0;
	default: /* SETTINGS, WINDOW_UPDATE, HEADERS, unknown: nothing to do */
		return 0;
	}
}

static int spdy_input(struct sess *s, struct err *err)
{
	while (sbuf_pending(&s->in) > 0) {
		struct spdy_frame f;
		ssize_t n = spdy_frame_parse(s->in.p + s->in.off, sbuf_pending(&s->in), &f);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return err_set(err, (int)n, "SPDY frame");
		int r = spdy_frame(s, &f, err);
		sbuf_take(&s->in, (size_t)n);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- WebSocket input ---- */

static void ws_message(struct sess *s, const struct ws_event *ev)
{
	const uint8_t *p = ev->data;
	size_t n = ev->len;
	if (n == 0)
		return;
	uint8_t *dec = NULL;
	int ch;
	if (s->b64) {
		ch = p[0] - '0';
		dec = xmalloc(n);
		int m = n > 1 ? EVP_DecodeBlock(dec, p + 1, (int)(n - 1)) : 0;
		if (m < 0) {
			free(dec);
			return;
		}
		/* EVP_DecodeBlock counts padding as data. */
		while (m > 0 && n > 1 && p[n - 1] == '=') {
			m--;
			n--;
		}
		p = dec;
		n = (size_t)m;
	} else {
		ch = p[0];
		p++;
		n--;
	}
	if (s->version >= 5 && ch == 255 && n >= 1) {
		/* v5: the client closed one channel. */
		if (s->job->kind == STREAM_PORTFORWARD)
			pf_input_eof(s, p[0]);
		else if (p[0] < RC_N)
			rc_input_eof(s, p[0]);
	} else if (s->job->kind == STREAM_PORTFORWARD) {
		if (ch >= 0 && ch % 2 == 0 && n > 0)
			pf_input(s, (uint32_t)ch, p, n);
	} else if (ch >= 0 && ch < RC_N && n > 0) {
		rc_input(s, ch, p, n);
	}
	free(dec);
}

static int ws_input(struct sess *s, struct err *err)
{
	while (sbuf_pending(&s->in) > 0 && !s->ws_closed) {
		struct ws_event ev;
		bool have = false;
		uint16_t code = 0;
		ssize_t n =
		    ws_parse(&s->wsp, s->in.p + s->in.off, sbuf_pending(&s->in), &ev, &have, &code);
		if (n < 0) {
			ws_put_close(&s->out, code, "protocol error");
			s->ws_closed = true;
			return err_set(err, (int)n, "WebSocket frame (close %u)", code);
		}
		if (have) {
			if (ev.opcode == WS_PING)
				ws_put_frame(&s->out, WS_PONG, ev.data, ev.len);
			else if (ev.opcode == WS_CLOSE) {
				ws_put_close(&s->out, 1000, NULL);
				s->ws_closed = true;
				s->client_eof = true;
			} else if (ev.opcode == WS_BINARY || ev.opcode == WS_TEXT)
				ws_message(s, &ev);
		}
		sbuf_take(&s->in, (size_t)n);
		if (n == 0 && !have)
			break;
	}
	return 0;
}

/* ---- the upgrade ---- */

/* The client's first protocol that we speak (kubelet's rule), or -1. */
static int pick(const struct stream_head *h, const char *header, const char *const *names,
		size_t n_names, bool *offered)
{
	*offered = false;
	for (size_t i = 0;; i++) {
		cleanup_free char *v = stream_head_value(h, header, i);
		if (!v)
			return -1;
		*offered = true;
		for (size_t k = 0; k < n_names; k++)
			if (strcmp(v, names[k]) == 0)
				return (int)k;
	}
}

static int upgrade_spdy(struct sess *s, const struct stream_head *h)
{
	const char *names[ARRAY_SIZE(rc_spdy_protos)];
	size_t n = 0;
	if (s->job->kind == STREAM_PORTFORWARD)
		names[n++] = "portforward.k8s.io";
	else
		for (; n < ARRAY_SIZE(rc_spdy_protos); n++)
			names[n] = rc_spdy_protos[n].name;
	bool offered;
	int k = pick(h, "X-Stream-Protocol-Version", names, n, &offered);
	if (k < 0) {
		reply_plain(
		    s, offered ? 403 : 400, offered ? "Forbidden" : "Bad Request", NULL,
		    offered
			? "unable to upgrade: unable to negotiate protocol: no protocol the server supports\n"
			: "unable to upgrade: X-Stream-Protocol-Version is required\n");
		return -EPROTONOSUPPORT;
	}
	s->proto = SESS_SPDY;
	s->version = s->job->kind == STREAM_PORTFORWARD ? 0 : rc_spdy_protos[k].version;
	s->zin = spdy_zin_new();
	s->zout = spdy_zout_new();
	cleanup_free char *msg =
	    xasprintf("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		      "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: %s\r\n\r\n",
		      names[k]);
	sbuf_add(&s->out, msg, strlen(msg));
	return 0;
}

static int upgrade_ws(struct sess *s, const struct stream_head *h)
{
	cleanup_free char *key = stream_head_value(h, "Sec-WebSocket-Key", 0);
	cleanup_free char *ver = stream_head_value(h, "Sec-WebSocket-Version", 0);
	char accept[29];
	if (!key || !ver || strcmp(ver, "13") != 0 || ws_accept_key(key, accept) < 0) {
		reply_plain(
		    s, 400, "Bad Request", "Sec-WebSocket-Version: 13\r\n",
		    "a WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version 13\n");
		return -EPROTO;
	}
	static const char *const pf_names[] = { "portforward.k8s.io", "base64.portforward.k8s.io" };
	const char *names[ARRAY_SIZE(rc_ws_protos)];
	size_t n = 0;
	bool pf = s->job->kind == STREAM_PORTFORWARD;
	if (pf)
		for (; n < ARRAY_SIZE(pf_names); n++)
			names[n] = pf_names[n];
	else
		for (; n < ARRAY_SIZE(rc_ws_protos); n++)
			names[n] = rc_ws_protos[n].name;
	bool offered;
	int k = pick(h, "Sec-WebSocket-Protocol", names, n, &offered);
	if (k < 0 && offered) {
		reply_plain(
		    s, 400, "Bad Request", NULL,
		    "unable to upgrade: none of the WebSocket sub-protocols offered is supported\n");
		return -EPROTONOSUPPORT;
	}
	s->proto = SESS_WS;
	if (pf) {
		s->version = 0;
		s->b64 = k == 1;
	} else {
		/* No sub-protocol offered: the original binary channel protocol. */
		s->version = k < 0 ? 1 : rc_ws_protos[k].version;
		s->b64 = k >= 0 && rc_ws_protos[k].b64;
	}
	cleanup_free char *proto =
	    k >= 0 ? xasprintf("Sec-WebSocket-Protocol: %s\r\n", names[k]) : xstrdup("");
	cleanup_free char *msg =
	    xasprintf("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
		      accept, proto);
	sbuf_add(&s->out, msg, strlen(msg));
	return 0;
}

/* WebSocket port-forward: the ports are in the query; each gets channels
 * 2i (data) and 2i+1 (error), each opened by the port number (LE16). */
static int ws_pf_open(struct sess *s, const struct stream_head *h)
{
	for (size_t i = 0; i < PF_MAX_CONNS; i++) {
		cleanup_free char *v = stream_query_value(h->query, "port", i);
		if (!v)
			return i > 0 ? 0 : -EINVAL;
		char *end = NULL;
		long port = strtol(v, &end, 10);
		if (*end || port < 1 || port > 65535)
			return -EINVAL;
		uint8_t le[2] = { (uint8_t)(port & 0xff), (uint8_t)(port >> 8) };
		sess_send(s, (uint32_t)(2 * i), le, 2);
		sess_send(s, (uint32_t)(2 * i + 1), le, 2);
		pf_open(s, (uint32_t)(2 * i), (uint32_t)(2 * i + 1), (uint16_t)port);
	}
	return 0;
}

/* The request: method, path, token, upgrade. 0 to go on with the session
 * (its 101 queued in s->out); < 0 when it was answered and must end. */
static int route(struct sess *s, const struct stream_head *h)
{
	static const char *const kinds[] = { "/exec/", "/attach/", "/portforward/" };
	int kind = -1;
	const char *token = NULL;
	for (int i = 0; i < 3; i++)
		if (str_has_prefix(h->path, kinds[i])) {
			kind = i;
			token = h->path + strlen(kinds[i]);
		}
	if (kind >= 0)
		s->job = stream_token_take(s->srv, token);
	if (!s->job || (int)s->job->kind != kind) {
		/* Unknown, used, expired, or for another kind: nothing else. */
		reply_plain(s, 404, "Not Found", NULL, "");
		return -ENOENT;
	}
	if (strcmp(h->method, "GET") != 0 && strcmp(h->method, "POST") != 0) {
		reply_plain(s, 405, "Method Not Allowed", "Allow: GET, POST\r\n", "");
		return -EINVAL;
	}
	int r;
	if (stream_head_has_token(h, "Upgrade", "SPDY/3.1"))
		r = upgrade_spdy(s, h);
	else if (stream_head_has_token(h, "Upgrade", "websocket"))
		r = upgrade_ws(s, h);
	else {
		reply_plain(s, 400, "Bad Request", NULL,
			    "this URL needs an upgrade to SPDY/3.1 or websocket\n");
		r = -EPROTO;
	}
	if (r < 0)
		return r;
	if (s->job->kind == STREAM_PORTFORWARD) {
		cleanup_err struct err err = ERR_INIT;
		r = pf_init(s, &err);
		if (r < 0) {
			log_warn("port-forward failed", "pod=%s error=%s", s->job->id,
				 log_q(err_str(&err)));
			return r;
		}
		if (s->proto == SESS_WS && ws_pf_open(s, h) < 0)
			return -EINVAL;
	} else if (s->proto == SESS_WS) {
		for (int i = 0; i < RC_N; i++) {
			s->key[i] = (uint32_t)i;
			s->have[i] = true;
		}
		rc_start(s);
	} else {
		s->setup_deadline_ns = mono_ns() + SETUP_TIMEOUT_NS;
	}
	return 0;
}

/* ---- the loop ---- */

/* Port-forward streams finished both ways leave the table, so a session
 * serves any number of connections over its life, not SESS_MAX_STREAMS. */
static void forget_done_streams(struct sess *s)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n_st; i++)
		if (!(s->st[i].rx_fin && s->st[i].tx_fin))
			s->st[k++] = s->st[i];
	s->n_st = k;
}

static bool rc_kind(const struct sess *s)
{
	return s->job->kind != STREAM_PORTFORWARD;
}

static int poll_timeout(const struct sess *s)
{
	uint64_t now = mono_ns(), until = UINT64_MAX;
	unsigned idle = s->srv->cfg.idle_timeout_s;
	if (idle)
		until = s->last_ns + (uint64_t)idle * 1000000000ULL;
	if (s->setup_deadline_ns && !s->started && s->setup_deadline_ns < until)
		until = s->setup_deadline_ns;
	if (s->exited && !s->finished && s->exit_ns + 500000000ULL < until)
		until = s->exit_ns + 500000000ULL;
	if (until == UINT64_MAX)
		return -1;
	return until <= now ? 0 : (int)((until - now) / 1000000 + 1);
}

/* Timers: the idle bound, the stream set-up bound. true: end now. */
static bool timers(struct sess *s)
{
	uint64_t now = mono_ns();
	unsigned idle = s->srv->cfg.idle_timeout_s;
	if (idle && now >= s->last_ns + (uint64_t)idle * 1000000000ULL) {
		log_info("streaming session idle: closed", "kind=%d id=%.12s", s->job->kind,
			 s->job->id);
		return true;
	}
	if (rc_kind(s) && !s->started && s->setup_deadline_ns && now >= s->setup_deadline_ns) {
		log_info("streaming session: the client did not open its streams in time",
			 "id=%.12s", s->job->id);
		return true;
	}
	return false;
}

static int client_read(struct sess *s, struct err *err)
{
	if (s->in.cap - s->in.len < READ_CHUNK) {
		/* Room for one more chunk (sbuf_add grows it). */
		uint8_t z = 0;
		sbuf_add(&s->in, &z, 1);
		s->in.len--;
		if (s->in.cap - s->in.len < READ_CHUNK) {
			s->in.p = xrealloc(s->in.p, s->in.len + READ_CHUNK);
			s->in.cap = s->in.len + READ_CHUNK;
		}
	}
	ssize_t n = sconn_read(&s->conn, s->in.p + s->in.len, READ_CHUNK);
	if (n == -EAGAIN)
		return 0;
	if (n < 0) {
		s->client_eof = true;
		return 0;
	}
	if (n == 0) {
		s->client_eof = true;
		return 0;
	}
	s->in.len += (size_t)n;
	s->last_ns = mono_ns();
	return s->proto == SESS_SPDY ? spdy_input(s, err) : ws_input(s, err);
}

/* Backends keep data they could not pass on (a full pipe or socket);
 * while there is much of it, the client is not read. */
static size_t held_input(const struct sess *s)
{
	size_t n = sbuf_pending(&s->to_stdin);
	for (size_t i = 0; i < PF_MAX_CONNS; i++)
		if (s->conns[i])
			n += sbuf_pending(&s->conns[i]->to_pod);
	return n;
}

static void loop(struct sess *s)
{
	cleanup_err struct err err = ERR_INIT;
	struct pollfd p[2 + 2 * PF_MAX_CONNS];
	while (!s->failed) {
		if (flush_out(s) < 0)
			break;
		if (s->finished && sbuf_pending(&s->out) == 0)
			break;
		if (s->client_eof || s->ws_closed)
			break;
		size_t n = 1;
		p[0] = (struct pollfd){ .fd = s->conn.fd };
		if (sbuf_pending(&s->in) < IN_MAX && held_input(s) < SESS_BACKLOG_MAX)
			p[0].events |= POLLIN;
		if (sbuf_pending(&s->out) > 0)
			p[0].events |= POLLOUT;
		n += rc_kind(s) ? rc_pollfds(s, p + 1, ARRAY_SIZE(p) - 1)
				: pf_pollfds(s, p + 1, ARRAY_SIZE(p) - 1);
		/* Bytes TLS decrypted already: no poll would report them. */
		bool pending = (p[0].events & POLLIN) && sconn_pending(&s->conn);
		int r = poll(p, n, pending ? 0 : poll_timeout(s));
		if (pending) {
			p[0].revents |= POLLIN;
			r = r < 0 ? 1 : r + 1;
		}
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0) {
			if (timers(s))
				break;
			if (rc_kind(s))
				rc_events(s, p + 1, 0);
			continue;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (client_read(s, &err) < 0) {
				log_info("streaming session: bad input from the client", "error=%s",
					 log_q(err_str(&err)));
				break;
			}
		}
		if (rc_kind(s)) {
			rc_events(s, p + 1, n - 1);
		} else {
			pf_events(s, p + 1, n - 1);
			forget_done_streams(s);
		}
	}
}

/* The TLS handshake, the request head, its route: 0 to serve the
 * session, < 0 when it was answered (an HTTP error) or failed. */
static int accept_request(struct sess *s)
{
	cleanup_err struct err err = ERR_INIT;
	size_t head_len = 0;
	struct stream_head h = { 0 };
	int r = sconn_accept(&s->conn, s->srv->tls, mono_ms() + HEAD_TIMEOUT_MS, &err);
	if (r < 0)
		log_debug("streaming session: TLS handshake failed", "error=%s",
			  log_q(err_str(&err)));
	if (r >= 0)
		r = read_head(&s->conn, &s->in, &head_len);
	if (r == -E2BIG)
		reply_plain(s, 431, "Request Header Fields Too Large", NULL, "");
	if (r >= 0) {
		r = stream_head_parse(s->in.p + s->in.off, head_len, &h, &err);
		if (r < 0)
			reply_plain(s, 400, "Bad Request", NULL, err_str(&err));
	}
	if (r >= 0) {
		sbuf_take(&s->in, head_len);
		r = route(s, &h);
	}
	stream_head_done(&h);
	return r;
}

/* After the loop: the protocol's goodbye (unless the client left first),
 * what is still to send, then the command or the forwarding ends. */
static void end_session(struct sess *s)
{
	if (s->proto == SESS_SPDY && !s->client_eof)
		spdy_put_goaway(&s->out, 0, 0);
	else if (s->proto == SESS_WS && !s->ws_closed)
		ws_put_close(&s->out, 1000, NULL);
	if (sbuf_pending(&s->out) > 0)
		(void)sconn_write_all(&s->conn, s->out.p + s->out.off, sbuf_pending(&s->out),
				      mono_ms() + 5000);
	if (rc_kind(s))
		rc_done(s);
	else
		pf_done(s);
}

void stream_session_serve(struct stream_server *srv, int fd)
{
	struct sess *s = xzalloc(sizeof(*s));
	s->srv = srv;
	s->conn = (struct sconn){ .fd = fd };
	s->attach_fd = -1;
	s->netns_fd = -1;
	ctr_exec_proc_init(&s->ex);
	s->last_ns = mono_ns();
	(void)fs_fd_set_nonblock(fd, true);
	if (accept_request(s) >= 0) {
		loop(s);
		end_session(s);
	}
	sconn_linger(&s->conn);
	sconn_close(&s->conn);
	sbuf_done(&s->in);
	sbuf_done(&s->out);
	spdy_zin_free(s->zin);
	spdy_zout_free(s->zout);
	ws_parser_done(&s->wsp);
	free(s->st);
	stream_job_free(s->job);
	free(s);
}
