/* HTTP/1.1 request head parser: pure, bounded, strict (RFC 9112 syntax). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "rpc/rpc.h"

ssize_t rpc_http_head_len(const uint8_t *p, size_t len)
{
	size_t n = len < RPC_HTTP_HEAD_MAX ? len : RPC_HTTP_HEAD_MAX;
	for (size_t i = 3; i < n; i++)
		if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
			return (ssize_t)(i + 1);
	return len >= RPC_HTTP_HEAD_MAX ? -E2BIG : 0;
}

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

bool rpc_http_token_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

static bool value_ok(const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

int rpc_http_request_line_split(char *line, struct rpc_http_request_line *ret, struct err *err)
{
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
		return err_msg(err, -EINVAL, "malformed request line");
	*sp1 = *sp2 = '\0';
	if (!rpc_http_token_ok(line))
		return err_msg(err, -EINVAL, "malformed method");
	*ret =
	    (struct rpc_http_request_line){ .method = line, .target = sp1 + 1, .version = sp2 + 1 };
	return 0;
}

int rpc_http_target_split(char *target, char **ret_path, char **ret_query, struct err *err)
{
	if (target[0] != '/')
		return err_msg(err, -EINVAL, "request target must be an absolute path");
	for (const char *c = target; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return err_msg(err, -EINVAL, "request target has invalid characters");
	char *q = strchr(target, '?');
	*ret_query = q ? q + 1 : target + strlen(target);
	if (q)
		*q = '\0';
	*ret_path = target;
	return 0;
}

static int request_line(char *line, struct rpc_http_head *h, struct err *err)
{
	struct rpc_http_request_line l;
	int r = rpc_http_request_line_split(line, &l, err);
	if (r < 0)
		return r;
	if (strncmp(l.version, "HTTP/1.", 7) != 0 || l.version[7] < '0' || l.version[7] > '9' ||
	    l.version[8])
		return err_msg(err, -EPROTONOSUPPORT, "unsupported protocol version");
	h->method = l.method;
	h->minor = l.version[7] - '0';
	h->close = h->minor == 0;
	return rpc_http_target_split(l.target, &h->path, &h->query, err);
}

static int content_length(const char *v, struct rpc_http_head *h, struct err *err)
{
	if (h->content_length >= 0)
		return err_msg(err, -EINVAL, "more than one Content-Length");
	if (!*v || strlen(v) > 15)
		return err_msg(err, -EINVAL, "bad Content-Length");
	int64_t n = 0;
	for (const char *c = v; *c; c++) {
		if (*c < '0' || *c > '9')
			return err_msg(err, -EINVAL, "bad Content-Length");
		n = n * 10 + (*c - '0');
	}
	h->content_length = n;
	return 0;
}

static int header(char *line, struct rpc_http_head *h, struct err *err)
{
	char *colon = strchr(line, ':');
	if (!colon)
		return err_msg(err, -EINVAL, "header line without a colon");
	*colon = '\0';
	if (!rpc_http_token_ok(line))
		return err_msg(err, -EINVAL, "malformed header name");
	char *v = trim(colon + 1);
	if (!value_ok(v))
		return err_msg(err, -EINVAL, "invalid characters in header %s", line);
	if (strcasecmp(line, "content-length") == 0)
		return content_length(v, h, err);
	if (strcasecmp(line, "transfer-encoding") == 0 && strcasecmp(v, "identity") != 0)
		h->chunked = true;
	if (strcasecmp(line, "expect") == 0 && strcasecmp(v, "100-continue") == 0)
		h->expect_continue = true;
	if (strcasecmp(line, "connection") == 0) {
		if (strcasestr(v, "close"))
			h->close = true;
		else if (strcasestr(v, "keep-alive"))
			h->close = false;
	}
	return 0;
}

int rpc_http_head_parse(const uint8_t *p, size_t len, struct rpc_http_head *h, struct err *err)
{
	*h = (struct rpc_http_head){ .content_length = -1 };
	if (len < 4 || memcmp(p + len - 4, "\r\n\r\n", 4) != 0)
		return err_msg(err, -EINVAL, "incomplete request head");
	if (memchr(p, '\0', len))
		return err_msg(err, -EINVAL, "NUL byte in request head");
	h->buf = xstrndup((const char *)p, len - 4);
	char *save = NULL;
	bool first = true;
	for (char *line = h->buf; line; line = save) {
		char *eol = strstr(line, "\r\n");
		save = eol ? eol + 2 : NULL;
		if (eol)
			*eol = '\0';
		if (strchr(line, '\r') || strchr(line, '\n'))
			return err_msg(err, -EINVAL, "bare CR or LF in request head");
		int r = first ? request_line(line, h, err) : header(line, h, err);
		if (r < 0)
			return r;
		first = false;
	}
	if (h->chunked && h->content_length >= 0)
		return err_msg(err, -EINVAL, "both Content-Length and Transfer-Encoding");
	return 0;
}

void rpc_http_head_done(struct rpc_http_head *h)
{
	free(h->buf);
	*h = (struct rpc_http_head){ .content_length = -1 };
}
