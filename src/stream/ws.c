/* WebSocket framing, server side (RFC 6455): the handshake's accept key,
 * an incremental parser of client frames with reassembly, and encoders.
 *
 * Why not libwslay: its frame layer (wslay_frame_recv) pulls bytes through
 * a callback into a private 4 KiB buffer and hands payload out in pieces,
 * so it consumes partial frames. ws_parse's contract (an incomplete frame
 * takes 0 bytes; the caller's sbuf keeps what is not taken) would need the
 * header decoded here first, after which wslay only unmasks. It checks
 * neither masking, RSV bits, UTF-8, close codes, reassembly nor message
 * size, and its sender needs a context per output buffer (ws_put_* take an
 * sbuf only). Its event layer owns the socket I/O, the send queue and the
 * close handshake, which the session does. The framing is ~100 lines. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "stream/stream_int.h"

enum {
	WS_NORMAL = 1000,
	WS_PROTOCOL_ERROR = 1002,
	WS_NO_STATUS = 1005,
	WS_INVALID_DATA = 1007,
	WS_TOO_BIG = 1009,
};

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int ws_accept_key(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	/* Base64 of 16 bytes: 22 characters, then "==". */
	if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return -EINVAL;
	for (int i = 0; i < 22; i++)
		if (!b64_char(key[i]))
			return -EINVAL;
	unsigned char buf[24 + sizeof(guid) - 1], md[SHA_DIGEST_LENGTH];
	memcpy(buf, key, 24);
	memcpy(buf + 24, guid, sizeof(guid) - 1);
	SHA1(buf, sizeof(buf), md);
	EVP_EncodeBlock((unsigned char *)out, md, (int)sizeof(md));
	return 0;
}

/* Checks p[0..n) as UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF). -1 when invalid; else the length of the prefix
 * of whole characters (the rest is a valid start of one). */
static ssize_t utf8_prefix(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i], lo = 0x80, hi = 0xbf;
		size_t need;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return -1;
		for (size_t k = 1; k <= need; k++) {
			if (i + k == n)
				return (ssize_t)i;
			if (p[i + k] < lo || p[i + k] > hi)
				return -1;
			lo = 0x80, hi = 0xbf;
		}
		i += need + 1;
	}
	return (ssize_t)i;
}

static bool utf8_ok(const uint8_t *p, size_t n)
{
	return utf8_prefix(p, n) == (ssize_t)n;
}

struct frame {
	bool fin;
	uint8_t op;
	uint64_t len;
	size_t head; /* bytes of header, mask key included */
	const uint8_t *mask;
};

/* Decode the header at p[0..n): its size, 0 while incomplete, or minus the
 * close code for a frame that breaks the rules (checked as soon as the
 * bytes that show it are in). */
static int frame_head(const struct ws_parser *ps, const uint8_t *p, size_t n, struct frame *f)
{
	if (n < 2)
		return 0;
	f->fin = p[0] & 0x80;
	f->op = p[0] & 0x0f;
	bool control = f->op & 0x08;
	if (p[0] & 0x70) /* RSV1-3: no extension is ever negotiated */
		return -WS_PROTOCOL_ERROR;
	if (!(p[1] & 0x80)) /* client frames are masked */
		return -WS_PROTOCOL_ERROR;
	if (control ? f->op > WS_PONG || !f->fin : f->op > WS_BINARY)
		return -WS_PROTOCOL_ERROR;
	if (f->op == WS_CONT ? !ps->in_msg : !control && ps->in_msg)
		return -WS_PROTOCOL_ERROR;
	uint8_t len7 = p[1] & 0x7f;
	if (control && len7 > 125)
		return -WS_PROTOCOL_ERROR;
	size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
	if (n < 2 + ext)
		return 0;
	f->len = len7;
	if (ext) {
		f->len = 0;
		for (size_t i = 0; i < ext; i++)
			f->len = f->len << 8 | p[2 + i];
		if (f->len >> 63)
			return -WS_PROTOCOL_ERROR;
	}
	if (!control && f->len > WS_MAX_MESSAGE - ps->msg.len)
		return -WS_TOO_BIG;
	f->head = 2 + ext + 4;
	if (n < f->head)
		return 0;
	f->mask = p + 2 + ext;
	return (int)f->head;
}

static void unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4])
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ^ mask[i & 3];
}

/* A data frame joins the message; at FIN the message is the event. */
static int data_frame(struct ws_parser *ps, const struct frame *f, const uint8_t *payload,
		      struct ws_event *ev, bool *have_event)
{
	if (f->op != WS_CONT) {
		ps->in_msg = true;
		ps->msg_opcode = f->op;
		ps->text_ok = 0;
	}
	size_t old = ps->msg.len;
	if (f->len) {
		sbuf_add(&ps->msg, payload, (size_t)f->len);
		unmask(ps->msg.p + old, ps->msg.p + old, (size_t)f->len, f->mask);
	}
	if (ps->msg_opcode == WS_TEXT) {
		/* Checked fragment by fragment, so bad text fails early. */
		ssize_t ok = 0;
		if (ps->msg.len > ps->text_ok)
			ok = utf8_prefix(ps->msg.p + ps->text_ok, ps->msg.len - ps->text_ok);
		if (ok < 0 || (f->fin && ps->text_ok + (size_t)ok != ps->msg.len))
			return -WS_INVALID_DATA;
		ps->text_ok += (size_t)ok;
	}
	if (!f->fin)
		return 0;
	ps->in_msg = false;
	ps->msg_out = true;
	*ev = (struct ws_event){ .opcode = ps->msg_opcode,
				 .data = ps->msg.p ? ps->msg.p : ps->ctl,
				 .len = ps->msg.len };
	*have_event = true;
	return 0;
}

static bool close_code_ok(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

static int control_frame(struct ws_parser *ps, const struct frame *f, const uint8_t *payload,
			 struct ws_event *ev, bool *have_event)
{
	size_t n = (size_t)f->len;
	unmask(ps->ctl, payload, n, f->mask);
	*ev = (struct ws_event){ .opcode = f->op, .data = ps->ctl, .len = n };
	if (f->op == WS_CLOSE) {
		ev->close_code = WS_NO_STATUS;
		if (n == 1)
			return -WS_PROTOCOL_ERROR;
		if (n >= 2) {
			ev->close_code = (uint16_t)(ps->ctl[0] << 8 | ps->ctl[1]);
			if (!close_code_ok(ev->close_code))
				return -WS_PROTOCOL_ERROR;
			if (!utf8_ok(ps->ctl + 2, n - 2))
				return -WS_INVALID_DATA;
			ev->data = ps->ctl + 2;
			ev->len = n - 2;
		}
	}
	*have_event = true;
	return 0;
}

ssize_t ws_parse(struct ws_parser *ps, const uint8_t *p, size_t len, struct ws_event *ev,
		 bool *have_event, uint16_t *ret_close)
{
	*have_event = false;
	*ret_close = 0;
	if (ps->failed) {
		*ret_close = ps->failed;
		return -EPROTO;
	}
	if (ps->msg_out) {
		ps->msg_out = false;
		ps->msg.off = ps->msg.len = 0;
		/* A big message's buffer is not kept for the session's life. */
		if (ps->msg.cap > 64 * 1024)
			sbuf_done(&ps->msg);
	}
	size_t off = 0;
	while (!*have_event && len - off >= 2) {
		struct frame f;
		int r = frame_head(ps, p + off, len - off, &f);
		if (r == 0 || (r > 0 && f.len > len - off - f.head))
			break;
		if (r > 0 && (f.op & 0x08))
			r = control_frame(ps, &f, p + off + f.head, ev, have_event);
		else if (r > 0)
			r = data_frame(ps, &f, p + off + f.head, ev, have_event);
		if (r < 0) {
			*have_event = false;
			ps->failed = (uint16_t)-r;
			*ret_close = ps->failed;
			return -EPROTO;
		}
		off += f.head + (size_t)f.len;
	}
	return (ssize_t)off;
}

void ws_parser_done(struct ws_parser *ps)
{
	sbuf_done(&ps->msg);
	*ps = (struct ws_parser){ 0 };
}

static void put_head(struct sbuf *out, uint8_t b0, bool masked, size_t n)
{
	uint8_t h[10] = { b0 };
	size_t hn = 2;
	if (n < 126) {
		h[1] = (uint8_t)n;
	} else if (n <= 0xffff) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hn = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hn = 10;
	}
	if (masked)
		h[1] |= 0x80;
	sbuf_add(out, h, hn);
}

void ws_put_frame(struct sbuf *out, enum ws_opcode op, const void *p, size_t n)
{
	put_head(out, 0x80 | op, false, n);
	sbuf_add(out, p, n);
}

void ws_put_close(struct sbuf *out, uint16_t code, const char *reason)
{
	uint8_t b[125] = { (uint8_t)(code >> 8), (uint8_t)code };
	size_t n = reason ? strlen(reason) : 0;
	if (n > sizeof(b) - 2) {
		/* Control frames hold 125 bytes: cut at a character boundary. */
		n = sizeof(b) - 2;
		while (n && ((uint8_t)reason[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(b + 2, reason, n);
	ws_put_frame(out, WS_CLOSE, b, n + 2);
}

void ws_put_client_frame(struct sbuf *out, enum ws_opcode op, const void *p, size_t n,
			 const uint8_t mask[4])
{
	put_head(out, 0x80 | op, true, n);
	sbuf_add(out, mask, 4);
	sbuf_add(out, p, n);
	if (n)
		unmask(out->p + out->len - n, out->p + out->len - n, n, mask);
}
