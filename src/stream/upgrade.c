/* The HTTP/1.1 request head that opens a streaming session (an upgrade to
 * SPDY/3.1 or WebSocket): pure, bounded, strict RFC 9112 syntax, except
 * that bare LF line ends are accepted as the RFC allows. Unlike
 * rpc/http1_head.c it keeps every header line, since the upgrade needs
 * several (Connection, Upgrade, Sec-WebSocket-*, X-Stream-Protocol-Version). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "rpc/rpc.h"
#include "stream/stream_int.h"

ssize_t stream_head_len(const uint8_t *p, size_t len)
{
	size_t n = len < STREAM_HEAD_MAX ? len : STREAM_HEAD_MAX;
	/* The head ends at the first empty line: "\n\n" or "\n\r\n". */
	for (size_t i = 1; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i - 1] == '\n' || (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n'))
			return (ssize_t)(i + 1);
	}
	return len >= STREAM_HEAD_MAX ? -E2BIG : 0;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int request_line(char *line, struct stream_head *h, struct err *err)
{
	struct rpc_http_request_line l;
	int r = rpc_http_request_line_split(line, &l, err);
	if (r < 0)
		return r;
	if (strcmp(l.version, "HTTP/1.1") != 0)
		return err_msg(err, -EINVAL, "not an HTTP/1.1 request");
	h->method = l.method;
	return rpc_http_target_split(l.target, &h->path, &h->query, err);
}

static int header(char *line, struct stream_head *h, struct err *err)
{
	if (is_ows(line[0]))
		return err_msg(err, -EINVAL, "folded header line");
	char *colon = strchr(line, ':');
	if (!colon)
		return err_msg(err, -EINVAL, "header line without a colon");
	*colon = '\0';
	if (!rpc_http_token_ok(line))
		return err_msg(err, -EINVAL, "malformed header name");
	if (h->n == STREAM_HEADERS_MAX)
		return err_msg(err, -EINVAL, "more than %d headers", STREAM_HEADERS_MAX);
	char *v = colon + 1;
	while (is_ows(*v))
		v++;
	size_t n = strlen(v);
	while (n && is_ows(v[n - 1]))
		v[--n] = '\0';
	for (const char *c = v; *c; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return err_msg(err, -EINVAL, "invalid characters in header %s", line);
	h->h[h->n].name = line;
	h->h[h->n].value = v;
	h->n++;
	return 0;
}

int stream_head_parse(const uint8_t *p, size_t len, struct stream_head *h, struct err *err)
{
	*h = (struct stream_head){ 0 };
	if (len > STREAM_HEAD_MAX)
		return err_msg(err, -E2BIG, "request head longer than %u bytes", STREAM_HEAD_MAX);
	if (memchr(p, '\0', len))
		return err_msg(err, -EINVAL, "NUL byte in request head");
	h->buf = xstrndup((const char *)p, len);
	char *line = h->buf, *end = h->buf + len;
	for (bool first = true;; first = false) {
		char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			return err_msg(err, -EINVAL, "incomplete request head");
		*eol = '\0';
		if (eol > line && eol[-1] == '\r')
			eol[-1] = '\0';
		if (strchr(line, '\r'))
			return err_msg(err, -EINVAL, "bare CR in request head");
		if (!*line && !first) {
			if (eol + 1 != end)
				return err_msg(err, -EINVAL, "data after the request head");
			return 0;
		}
		int r = first ? request_line(line, h, err) : header(line, h, err);
		if (r < 0)
			return r;
		line = eol + 1;
	}
}

/* The next non-empty element of a comma-separated list at *s, trimmed of
 * OWS: its start, and its length in *n; NULL at the end. Elements are
 * tokens in every header the upgrade reads, so quoted strings (which could
 * hold a comma) are not special. */
static const char *next_element(const char **s, size_t *n)
{
	const char *c = *s;
	for (;;) {
		while (is_ows(*c) || *c == ',')
			c++;
		if (!*c) {
			*s = c;
			return NULL;
		}
		const char *start = c;
		while (*c && *c != ',')
			c++;
		const char *e = c;
		while (e > start && is_ows(e[-1]))
			e--;
		*s = c;
		*n = (size_t)(e - start);
		return start;
	}
}

/* Calls fn on each element of each `name` header until it returns true;
 * returns the element it stopped at (length in *ret_n), or NULL. */
static const char *find_element(const struct stream_head *h, const char *name,
				bool (*fn)(const char *e, size_t n, void *data), void *data,
				size_t *ret_n)
{
	for (size_t i = 0; i < h->n; i++) {
		if (strcasecmp(h->h[i].name, name) != 0)
			continue;
		const char *s = h->h[i].value, *e;
		size_t n;
		while ((e = next_element(&s, &n)))
			if (fn(e, n, data)) {
				*ret_n = n;
				return e;
			}
	}
	return NULL;
}

static bool count_down(const char *e, size_t n, void *data)
{
	size_t *idx = data;
	(void)e;
	(void)n;
	return (*idx)-- == 0;
}

char *stream_head_value(const struct stream_head *h, const char *name, size_t idx)
{
	size_t n;
	const char *e = find_element(h, name, count_down, &idx, &n);
	return e ? xstrndup(e, n) : NULL;
}

static bool is_token(const char *e, size_t n, void *data)
{
	const char *token = data;
	return strlen(token) == n && strncasecmp(e, token, n) == 0;
}

bool stream_head_has_token(const struct stream_head *h, const char *name, const char *token)
{
	size_t n;
	return find_element(h, name, is_token, (void *)token, &n) != NULL;
}

void stream_head_done(struct stream_head *h)
{
	free(h->buf);
	*h = (struct stream_head){ 0 };
}

/* Percent-decode s[0..n) into a new string; NULL for a malformed escape
 * or one that decodes to NUL (no C string could carry it). */
static char *pct_decode(const char *s, size_t n)
{
	cleanup_free char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (n - i < 3)
			return NULL;
		int a = str_hexval((unsigned char)s[i + 1]),
		    b = str_hexval((unsigned char)s[i + 2]);
		if (a < 0 || b < 0 || (a == 0 && b == 0))
			return NULL;
		out[o++] = (char)(a << 4 | b);
		i += 2;
	}
	out[o] = '\0';
	return TAKE_PTR(out);
}

char *stream_query_value(const char *query, const char *key, size_t idx)
{
	/* Like Go's url.ParseQuery (which the Kubernetes side uses), pairs
	 * that do not decode are skipped, "k" alone has the value "". Unlike
	 * it, '+' is left alone (RFC 3986 has no space-for-plus). */
	for (const char *s = query; *s;) {
		size_t n = strcspn(s, "&");
		const char *eq = memchr(s, '=', n);
		size_t kn = eq ? (size_t)(eq - s) : n;
		cleanup_free char *k = pct_decode(s, kn);
		if (k && strcmp(k, key) == 0) {
			char *v = eq ? pct_decode(eq + 1, n - kn - 1) : xstrdup("");
			if (v && idx-- == 0)
				return v;
			free(v);
		}
		s += n;
		if (*s == '&')
			s++;
	}
	return NULL;
}
