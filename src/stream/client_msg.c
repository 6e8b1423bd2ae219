/* The client's pure parts: the streaming URL, the head of the server's
 * answer to the upgrade, and the Status of the v4 error channel. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"
#include "stream/stream_int.h"

static bool has_ctl_or_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int port_parse(const char *s, size_t n, char **ret)
{
	unsigned long v = 0;
	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*ret = xstrndup(s, n);
	return 0;
}

/* host[:port] or [v6][:port] of the authority a[0..n). */
static int authority_parse(const char *a, size_t n, struct stream_url *u)
{
	const char *host = a, *colon = NULL;
	size_t host_len;
	if (n > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', n);
		if (!close || close == a + 1)
			return -EINVAL;
		host = a + 1;
		host_len = (size_t)(close - host);
		if (close + 1 < a + n) {
			if (close[1] != ':')
				return -EINVAL;
			colon = close + 1;
		}
	} else {
		colon = memchr(a, ':', n);
		host_len = colon ? (size_t)(colon - a) : n;
		if (host_len == 0 || memchr(a, '[', n) || memchr(a, ']', n) ||
		    (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - a))))
			return -EINVAL;
	}
	if (colon) {
		if (port_parse(colon + 1, n - (size_t)(colon + 1 - a), &u->port) < 0)
			return -EINVAL;
	} else {
		u->port = xstrdup("80");
	}
	u->host = xstrndup(host, host_len);
	u->host_header = xstrndup(a, n);
	return 0;
}

int stream_url_parse(const char *url, struct stream_url *ret, struct err *err)
{
	const char *rest;
	if (strncasecmp(url, "https://", 8) == 0)
		return err_msg(err, -EPROTONOSUPPORT,
			       "streaming URL '%s': https streaming URLs are not supported yet",
			       url);
	if (strncasecmp(url, "http://", 7) != 0)
		return err_msg(err, -EINVAL, "streaming URL '%s': not an http:// URL", url);
	if (has_ctl_or_space(url))
		return err_msg(err, -EINVAL, "streaming URL '%s': spaces or control characters",
			       url);
	rest = url + 7;
	size_t alen = strcspn(rest, "/?#");
	if (memchr(rest, '@', alen))
		return err_msg(err, -EINVAL, "streaming URL '%s': user information is not taken",
			       url);
	struct stream_url u = { 0 };
	if (authority_parse(rest, alen, &u) < 0) {
		stream_url_done(&u);
		return err_msg(err, -EINVAL, "streaming URL '%s': bad host or port", url);
	}
	const char *path = rest + alen;
	size_t plen = strcspn(path, "#");
	u.path = plen == 0	  ? xstrdup("/")
		 : path[0] == '/' ? xstrndup(path, plen)
				  : xasprintf("/%.*s", (int)plen, path);
	*ret = u;
	return 0;
}

void stream_url_done(struct stream_url *u)
{
	if (!u)
		return;
	free(u->host);
	free(u->port);
	free(u->host_header);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

/* ---- the response head ---- */

static bool tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int status_line(const char *l, size_t n, struct stream_reply_head *h)
{
	/* HTTP/1.x SP 3DIGIT [SP reason] */
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
		return -EBADMSG;
	for (int i = 9; i < 12; i++)
		if (l[i] < '0' || l[i] > '9')
			return -EBADMSG;
	h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (h->status < 100)
		return -EBADMSG;
	if (n > 12 && l[12] != ' ')
		return -EBADMSG;
	for (size_t i = 13; i < n; i++)
		if ((unsigned char)l[i] < 0x20 && l[i] != '\t')
			return -EBADMSG;
	h->reason = n > 13 ? xstrndup(l + 13, n - 13) : xstrdup("");
	return 0;
}

static int set_list(char **slot, const char *v, size_t n)
{
	char *t = *slot ? xasprintf("%s, %.*s", *slot, (int)n, v) : xstrndup(v, n);
	free(*slot);
	*slot = t;
	return 0;
}

static int header_line(const char *l, size_t n, struct stream_reply_head *h)
{
	const char *colon = memchr(l, ':', n);
	if (!colon || colon == l)
		return -EBADMSG;
	size_t nl = (size_t)(colon - l);
	for (size_t i = 0; i < nl; i++)
		if (!tchar((unsigned char)l[i]))
			return -EBADMSG;
	const char *v = colon + 1, *end = l + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (const char *p = v; p < end; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return -EBADMSG;
	size_t vl = (size_t)(end - v);
	if (nl == 7 && strncasecmp(l, "upgrade", 7) == 0)
		return set_list(&h->upgrade, v, vl);
	if (nl == 10 && strncasecmp(l, "connection", 10) == 0)
		return set_list(&h->connection, v, vl);
	if (nl == 25 && strncasecmp(l, "x-stream-protocol-version", 25) == 0) {
		if (h->protocol)
			return -EBADMSG;
		h->protocol = xstrndup(v, vl);
		return 0;
	}
	if (nl == 14 && strncasecmp(l, "content-length", 14) == 0) {
		uint64_t cl;
		cleanup_free char *s = xstrndup(v, vl);
		if (h->content_length >= 0 || str_to_u64(s, 10, INT64_MAX, &cl) < 0)
			return -EBADMSG;
		h->content_length = (int64_t)cl;
	}
	return 0;
}

ssize_t stream_reply_head_parse(const uint8_t *p, size_t len, struct stream_reply_head *ret,
				struct err *err)
{
	size_t max = len < STREAM_REPLY_HEAD_MAX ? len : STREAM_REPLY_HEAD_MAX;
	if (!p || max < 4)
		return 0;
	const uint8_t *end = memmem(p, max, "\r\n\r\n", 4);
	if (!end)
		return len >= STREAM_REPLY_HEAD_MAX ? -E2BIG : 0;
	size_t head_len = (size_t)(end - p) + 4;
	if (memchr(p, '\0', head_len))
		return err_msg(err, -EBADMSG, "the server's answer holds a NUL byte");
	struct stream_reply_head h = { .content_length = -1 };
	const char *l = (const char *)p, *stop = (const char *)end + 2;
	int r = 0;
	for (bool first = true; l < stop && r == 0; first = false) {
		const char *nl = memmem(l, (size_t)(stop - l), "\r\n", 2);
		size_t n = (size_t)(nl - l);
		if (first)
			r = status_line(l, n, &h);
		else if (l[0] == ' ' || l[0] == '\t')
			r = -EBADMSG; /* obsolete line folding */
		else
			r = header_line(l, n, &h);
		if (r < 0) {
			(void)err_msg(err, -EBADMSG, "malformed answer from the server: '%.*s'",
				      (int)(n > 200 ? 200 : n), l);
		}
		l = nl + 2;
	}
	if (r < 0) {
		stream_reply_head_done(&h);
		return r;
	}
	*ret = h;
	return (ssize_t)head_len;
}

void stream_reply_head_done(struct stream_reply_head *h)
{
	if (!h)
		return;
	free(h->reason);
	free(h->upgrade);
	free(h->connection);
	free(h->protocol);
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
}

bool stream_token_list_has(const char *value, const char *token)
{
	size_t tl = strlen(token);
	for (const char *s = value; s && *s;) {
		s += strspn(s, " \t,");
		size_t n = strcspn(s, ",");
		size_t k = n;
		while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
			k--;
		if (k == tl && strncasecmp(s, token, tl) == 0)
			return true;
		s += n;
	}
	return false;
}

/* ---- the v4 Status ---- */

/* ocic reads at most this much of the error channel; a Status is small. */
#define STATUS_MAX (64u * 1024u)

static int exit_code_cause(const json_t *st, int *ret_code)
{
	const json_t *details = NULL, *causes = NULL;
	if (js_get(st, "", "details", JSON_OBJECT, false, &details, NULL) < 0 || !details ||
	    js_get(details, "details", "causes", JSON_ARRAY, false, &causes, NULL) < 0)
		return -ENOENT;
	size_t i;
	const json_t *c;
	json_array_foreach(causes, i, c)
	{
		const char *reason = NULL, *msg = NULL;
		int64_t v;
		if (js_get_str(c, "", "reason", NULL, &reason, NULL) == 0 &&
		    js_get_str(c, "", "message", NULL, &msg, NULL) == 0 && reason &&
		    strcmp(reason, "ExitCode") == 0 && msg &&
		    str_to_i64(msg, INT32_MIN, INT32_MAX, &v) == 0) {
			*ret_code = (int)v;
			return 0;
		}
	}
	return -ENOENT;
}

/* Not a Status: what the channel said, as it said it (v1..v3 servers send
 * plain text). */
static int plain_text(const uint8_t *p, size_t len, char **ret_msg)
{
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	*ret_msg = xstrndup((const char *)p, len);
	return -EBADMSG;
}

static int malformed(const struct err *e, char **ret_msg)
{
	*ret_msg = xasprintf("the error channel's Status is malformed: %s", err_str(e));
	return -EBADMSG;
}

static bool starts_object(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < len && p[i] == '{';
}

static int failure(const json_t *st, int *ret_code, char **ret_msg)
{
	cleanup_err struct err e = ERR_INIT;
	const char *reason = NULL, *msg = NULL;
	if (js_get_str(st, "", "reason", NULL, &reason, &e) < 0 ||
	    js_get_str(st, "", "message", NULL, &msg, &e) < 0)
		return malformed(&e, ret_msg);
	if (reason && strcmp(reason, "NonZeroExitCode") == 0 && exit_code_cause(st, ret_code) == 0)
		return 0;
	*ret_msg = xstrdup(!str_empty(msg) ? msg : !str_empty(reason) ? reason : "unknown error");
	return -EREMOTEIO;
}

int stream_status_parse(const uint8_t *p, size_t len, int *ret_code, char **ret_msg)
{
	cleanup_err struct err e = ERR_INIT;
	json_t *st = NULL;
	*ret_msg = NULL;
	if (js_load("Status", (const char *)p, len, STATUS_MAX, &st, &e) < 0)
		return starts_object(p, len) ? malformed(&e, ret_msg) : plain_text(p, len, ret_msg);
	/* A JSON value that is no object, or an object without a status this
	 * parser knows, is text as well. */
	const char *status = NULL;
	int r = json_is_object(st) ? js_get_str(st, "", "status", NULL, &status, &e) : 0;
	if (r < 0)
		r = malformed(&e, ret_msg);
	else if (status && strcmp(status, "Success") == 0)
		r = *ret_code = 0;
	else if (status && strcmp(status, "Failure") == 0)
		r = failure(st, ret_code, ret_msg);
	else
		r = plain_text(p, len, ret_msg);
	json_decref(st);
	return r;
}
