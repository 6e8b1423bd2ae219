/* HTTP/1.1 request head parsing: lengths, request lines, headers, errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/rpc.h"

static int parse(const char *s, struct rpc_http_head *h, struct err *err)
{
	ssize_t n = rpc_http_head_len((const uint8_t *)s, strlen(s));
	assert_true(n > 0);
	return rpc_http_head_parse((const uint8_t *)s, (size_t)n, h, err);
}

static void test_len(void **state)
{
	const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
	assert_int_equal(rpc_http_head_len((const uint8_t *)s, strlen(s)), strlen(s) - 4);
	assert_int_equal(rpc_http_head_len((const uint8_t *)s, 20), 0);
	assert_int_equal(rpc_http_head_len((const uint8_t *)"", 0), 0);
	char *big = xmalloc(RPC_HTTP_HEAD_MAX + 10);
	memset(big, 'a', RPC_HTTP_HEAD_MAX + 10);
	assert_int_equal(rpc_http_head_len((const uint8_t *)big, RPC_HTTP_HEAD_MAX + 10), -E2BIG);
	free(big);
}

static void test_good(void **state)
{
	struct rpc_http_head h;
	struct err err = ERR_INIT;
	assert_int_equal(
	    parse("GET /info?x=1&y HTTP/1.1\r\nHost: a\r\nX-A:  b c \r\n\r\n", &h, &err), 0);
	assert_string_equal(h.method, "GET");
	assert_string_equal(h.path, "/info");
	assert_string_equal(h.query, "x=1&y");
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.content_length, -1);
	assert_false(h.close);
	assert_false(h.chunked);
	rpc_http_head_done(&h);

	assert_int_equal(
	    parse("POST /p HTTP/1.1\r\ncontent-length: 12\r\nConnection: Close\r\n\r\n", &h, &err),
	    0);
	assert_string_equal(h.query, "");
	assert_int_equal(h.content_length, 12);
	assert_true(h.close);
	rpc_http_head_done(&h);

	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h, &err), 0);
	assert_true(h.close);
	rpc_http_head_done(&h);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h, &err), 0);
	assert_false(h.close);
	rpc_http_head_done(&h);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &h, &err),
			 0);
	assert_true(h.chunked);
	rpc_http_head_done(&h);
	err_done(&err);
}

static void test_bad(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *why;
	} cases[] = {
		{ "GET /\r\n\r\n", -EINVAL, "request line" },
		{ "GET  / HTTP/1.1\r\n\r\n", -EINVAL, "request line" },
		{ "GET / HTTP/1.1 x\r\n\r\n", -EINVAL, "request line" },
		{ "GET / HTTP/2.0\r\n\r\n", -EPROTONOSUPPORT, "version" },
		{ "GET / HTTP/1.10\r\n\r\n", -EPROTONOSUPPORT, "version" },
		{ "G(T / HTTP/1.1\r\n\r\n", -EINVAL, "method" },
		{ "GET http://x/ HTTP/1.1\r\n\r\n", -EINVAL, "absolute path" },
		{ "GET /\x7f HTTP/1.1\r\n\r\n", -EINVAL, "invalid characters" },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", -EINVAL, "colon" },
		{ "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", -EINVAL, "colon" },
		{ "GET / HTTP/1.1\r\n X: b\r\n\r\n", -EINVAL, "header name" },
		{ "GET / HTTP/1.1\r\nA B: c\r\n\r\n", -EINVAL, "header name" },
		{ "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", -EINVAL, "invalid characters" },
		{ "GET / HTTP/1.1\nA: b\r\n\r\n", -EINVAL, "bare CR or LF" },
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", -EINVAL,
		  "more than one" },
		{ "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -EINVAL, "Content-Length" },
		{ "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -EINVAL, "Content-Length" },
		{ "GET / HTTP/1.1\r\nContent-Length: 9999999999999999\r\n\r\n", -EINVAL,
		  "Content-Length" },
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		  -EINVAL, "both" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rpc_http_head h;
		struct err err = ERR_INIT;
		int r = parse(cases[i].in, &h, &err);
		if (r != cases[i].rc || !strstr(err_str(&err), cases[i].why))
			fail_msg("case %zu (%s): rc %d, error '%s'", i, cases[i].in, r,
				 err_str(&err));
		rpc_http_head_done(&h);
		err_done(&err);
	}
	/* NUL inside and a head that does not end in a blank line */
	struct rpc_http_head h;
	struct err err = ERR_INIT;
	assert_int_equal(
	    rpc_http_head_parse((const uint8_t *)"GET /\0 HTTP/1.1\r\n\r\n", 19, &h, &err),
	    -EINVAL);
	rpc_http_head_done(&h);
	assert_int_equal(rpc_http_head_parse((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &h, &err),
			 -EINVAL);
	rpc_http_head_done(&h);
	err_done(&err);
}

static void test_request_line(void **state)
{
	/* Split in place; the version and the target are the caller's to
	 * check, in that order. */
	char line[] = "PUT /a/b?x=1&y HTTP/9.9";
	struct rpc_http_request_line l;
	struct err err = ERR_INIT;
	assert_int_equal(rpc_http_request_line_split(line, &l, &err), 0);
	assert_string_equal(l.method, "PUT");
	assert_string_equal(l.target, "/a/b?x=1&y");
	assert_string_equal(l.version, "HTTP/9.9");
	char *path, *query;
	assert_int_equal(rpc_http_target_split(l.target, &path, &query, &err), 0);
	assert_string_equal(path, "/a/b");
	assert_string_equal(query, "x=1&y");
	char plain[] = "/";
	assert_int_equal(rpc_http_target_split(plain, &path, &query, &err), 0);
	assert_string_equal(path, "/");
	assert_string_equal(query, "");
	static const struct {
		const char *in, *why;
		bool target; /* a target, not a line */
	} bad[] = {
		{ "GET /", "malformed request line", false },
		{ "GET  / HTTP/1.1", "malformed request line", false },
		{ "GET / HTTP/1.1 x", "malformed request line", false },
		{ "G(T / HTTP/1.1", "malformed method", false },
		{ " / HTTP/1.1", "malformed method", false },
		{ "x", "request target must be an absolute path", true },
		{ "*", "request target must be an absolute path", true },
		{ "/\x7f", "invalid characters", true },
		{ "/a\tb", "invalid characters", true },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *copy = xstrdup(bad[i].in);
		int r = bad[i].target ? rpc_http_target_split(copy, &path, &query, &err)
				      : rpc_http_request_line_split(copy, &l, &err);
		if (r != -EINVAL || !strstr(err_str(&err), bad[i].why))
			fail_msg("case %zu (%s): rc %d, error '%s'", i, bad[i].in, r,
				 err_str(&err));
		free(copy);
		err_done(&err);
	}
	/* A version other than HTTP/1.x is refused before the target. */
	static const char v2[] = "GET x HTTP/2.0\r\n\r\n";
	struct rpc_http_head h;
	assert_int_equal(rpc_http_head_parse((const uint8_t *)v2, strlen(v2), &h, &err),
			 -EPROTONOSUPPORT);
	rpc_http_head_done(&h);
	err_done(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_len),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_request_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
