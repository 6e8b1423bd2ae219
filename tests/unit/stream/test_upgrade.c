/* The upgrade request head: lengths, request lines, headers, list values,
 * tokens, query parameters, bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "stream/stream_int.h"

static int parse(const char *s, struct stream_head *h, struct err *err)
{
	ssize_t n = stream_head_len((const uint8_t *)s, strlen(s));
	assert_true(n > 0);
	return stream_head_parse((const uint8_t *)s, (size_t)n, h, err);
}

/* Parse a head that must fail with code; err must say something. */
static void bad(const char *s, int code)
{
	struct stream_head h;
	struct err err = ERR_INIT;
	assert_int_equal(parse(s, &h, &err), code);
	assert_non_null(err.msg);
	stream_head_done(&h);
	err_done(&err);
}

static void test_len(void **state)
{
	(void)state;
	const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\nFRAMES";
	assert_int_equal(stream_head_len((const uint8_t *)s, strlen(s)), strlen(s) - 6);
	for (size_t i = 0; i < strlen(s) - 6; i++)
		assert_int_equal(stream_head_len((const uint8_t *)s, i), 0);
	const char *lf = "GET / HTTP/1.1\nHost: x\n\nX";
	assert_int_equal(stream_head_len((const uint8_t *)lf, strlen(lf)), strlen(lf) - 1);
	const char *mixed = "GET / HTTP/1.1\r\nHost: x\n\r\nX";
	assert_int_equal(stream_head_len((const uint8_t *)mixed, strlen(mixed)), strlen(mixed) - 1);
	assert_int_equal(stream_head_len((const uint8_t *)"", 0), 0);
}

static void test_too_long(void **state)
{
	(void)state;
	size_t n = STREAM_HEAD_MAX + 10;
	char *big = xmalloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	assert_int_equal(stream_head_len((const uint8_t *)big, n), -E2BIG);
	assert_int_equal(stream_head_len((const uint8_t *)big, STREAM_HEAD_MAX), -E2BIG);
	assert_int_equal(stream_head_len((const uint8_t *)big, STREAM_HEAD_MAX - 1), 0);
	/* A blank line just past the bound does not count. */
	memcpy(big + STREAM_HEAD_MAX - 2, "\r\n\r\n", 4);
	assert_int_equal(stream_head_len((const uint8_t *)big, n), -E2BIG);
	/* ... and one ending at the bound does. */
	memcpy(big + STREAM_HEAD_MAX - 4, "\r\n\r\n", 4);
	assert_int_equal(stream_head_len((const uint8_t *)big, n), STREAM_HEAD_MAX);

	struct stream_head h;
	struct err err = ERR_INIT;
	assert_int_equal(stream_head_parse((const uint8_t *)big, n, &h, &err), -E2BIG);
	stream_head_done(&h);
	err_done(&err);
	free(big);
}

static void test_good(void **state)
{
	(void)state;
	struct stream_head h;
	struct err err = ERR_INIT;
	assert_int_equal(parse("GET /exec/abc?command=ls&stdout=1 HTTP/1.1\r\n"
			       "Host: 127.0.0.1:1234\r\n"
			       "Connection: Upgrade\r\n"
			       "Upgrade: SPDY/3.1\r\n"
			       "X-Empty:\r\n"
			       "X-Stream-Protocol-Version:  v4.channel.k8s.io \r\n\r\n",
			       &h, &err),
			 0);
	assert_string_equal(h.method, "GET");
	assert_string_equal(h.path, "/exec/abc");
	assert_string_equal(h.query, "command=ls&stdout=1");
	assert_int_equal(h.n, 5);
	assert_string_equal(h.h[0].name, "Host");
	assert_string_equal(h.h[0].value, "127.0.0.1:1234");
	assert_string_equal(h.h[3].value, "");
	assert_string_equal(h.h[4].value, "v4.channel.k8s.io");
	assert_true(stream_head_has_token(&h, "connection", "upgrade"));
	assert_true(stream_head_has_token(&h, "UPGRADE", "spdy/3.1"));
	assert_false(stream_head_has_token(&h, "upgrade", "websocket"));
	assert_false(stream_head_has_token(&h, "x-missing", "a"));
	assert_null(stream_head_value(&h, "x-empty", 0));
	stream_head_done(&h);

	/* Bare LF line ends; no query. */
	assert_int_equal(parse("GET /attach/t HTTP/1.1\nHost: a\n\n", &h, &err), 0);
	assert_string_equal(h.path, "/attach/t");
	assert_string_equal(h.query, "");
	assert_int_equal(h.n, 1);
	stream_head_done(&h);

	assert_int_equal(parse("POST /portforward/t? HTTP/1.1\r\n\r\n", &h, &err), 0);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.query, "");
	assert_int_equal(h.n, 0);
	stream_head_done(&h);
	assert_null(err.msg);
}

static void test_values(void **state)
{
	(void)state;
	struct stream_head h;
	struct err err = ERR_INIT;
	assert_int_equal(parse("GET / HTTP/1.1\r\n"
			       "X-Stream-Protocol-Version: v4.channel.k8s.io, v3.channel.k8s.io\r\n"
			       "Host: x\r\n"
			       "x-stream-protocol-version: ,v2.channel.k8s.io ,, \r\n"
			       "X-Stream-Protocol-Version: channel.k8s.io\r\n"
			       "Connection: keep-alive,Upgrade\r\n"
			       "Connection: \tclose\t\r\n"
			       "\r\n",
			       &h, &err),
			 0);
	const char *want[] = { "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
			       "channel.k8s.io" };
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		char *v = stream_head_value(&h, "X-Stream-Protocol-Version", i);
		assert_non_null(v);
		assert_string_equal(v, want[i]);
		free(v);
	}
	assert_null(stream_head_value(&h, "X-Stream-Protocol-Version", ARRAY_SIZE(want)));
	assert_null(stream_head_value(&h, "X-Stream-Protocol", 0));
	assert_true(stream_head_has_token(&h, "Connection", "upgrade"));
	assert_true(stream_head_has_token(&h, "Connection", "Keep-Alive"));
	assert_true(stream_head_has_token(&h, "Connection", "close"));
	assert_false(stream_head_has_token(&h, "Connection", "upgrad"));
	assert_false(stream_head_has_token(&h, "Connection", "keep-alive,Upgrade"));
	assert_false(stream_head_has_token(&h, "Connection", ""));
	char *host = stream_head_value(&h, "host", 0);
	assert_string_equal(host, "x");
	free(host);
	stream_head_done(&h);
}

static void test_bad(void **state)
{
	(void)state;
	bad("GET / HTTP/1.0\r\n\r\n", -EINVAL);
	bad("GET / HTTP/2\r\n\r\n", -EINVAL);
	bad("GET / http/1.1\r\n\r\n", -EINVAL);
	bad("GET /  HTTP/1.1\r\n\r\n", -EINVAL);
	bad("GET  / HTTP/1.1\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1 \r\n\r\n", -EINVAL);
	bad("GET /\r\n\r\n", -EINVAL);
	bad("GET\r\n\r\n", -EINVAL);
	bad("G(T / HTTP/1.1\r\n\r\n", -EINVAL);
	bad(" GET / HTTP/1.1\r\n\r\n", -EINVAL);
	bad("GET http://x/ HTTP/1.1\r\n\r\n", -EINVAL);
	bad("GET * HTTP/1.1\r\n\r\n", -EINVAL);
	bad("GET /\x7f HTTP/1.1\r\n\r\n", -EINVAL);
	bad("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", -EINVAL);
	bad("\r\n\r\n", -EINVAL);
	bad("GET\t/ HTTP/1.1\r\n\r\n", -EINVAL);
	/* Headers. */
	bad("GET / HTTP/1.1\r\nHost x\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1\r\nHost : x\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1\r\n: x\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1\r\nA(b: x\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1\r\nA: x\r\n folded\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1\r\nA: x\r\n\tfolded\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1\r\nA: x\x01y\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1\r\nA: x\ry\r\n\r\n", -EINVAL);
	bad("GET / HTTP/1.1\r\nA: x\x7f\r\n\r\n", -EINVAL);

	/* NUL, no blank line, data after the blank line. */
	struct stream_head h;
	struct err err = ERR_INIT;
	static const char nul[] = "GET / HTTP/1.1\r\nA: \0\r\n\r\n";
	assert_int_equal(stream_head_parse((const uint8_t *)nul, sizeof(nul) - 1, &h, &err),
			 -EINVAL);
	stream_head_done(&h);
	const char *s = "GET / HTTP/1.1\r\nA: b\r\n";
	assert_int_equal(stream_head_parse((const uint8_t *)s, strlen(s), &h, &err), -EINVAL);
	stream_head_done(&h);
	s = "GET / HTTP/1.1\r\n\r\nxx";
	assert_int_equal(stream_head_parse((const uint8_t *)s, strlen(s), &h, &err), -EINVAL);
	stream_head_done(&h);
	err_done(&err);

	/* obs-text is allowed in values. */
	assert_int_equal(parse("GET / HTTP/1.1\r\nA: caf\xc3\xa9\r\n\r\n", &h, &err), 0);
	stream_head_done(&h);
}

static void test_many_headers(void **state)
{
	(void)state;
	char *s = xstrdup("GET / HTTP/1.1\r\n");
	for (int i = 0; i < STREAM_HEADERS_MAX; i++) {
		char *t = xasprintf("%sX-H%d: %d\r\n", s, i, i);
		free(s);
		s = t;
	}
	char *ok = xasprintf("%s\r\n", s);
	struct stream_head h;
	struct err err = ERR_INIT;
	assert_int_equal(parse(ok, &h, &err), 0);
	assert_int_equal(h.n, STREAM_HEADERS_MAX);
	assert_string_equal(h.h[STREAM_HEADERS_MAX - 1].value, "63");
	stream_head_done(&h);
	char *over = xasprintf("%sOne-More: x\r\n\r\n", s);
	assert_int_equal(parse(over, &h, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "headers"));
	stream_head_done(&h);
	err_done(&err);
	free(s);
	free(ok);
	free(over);
}

static void check_query(const char *q, const char *key, size_t idx, const char *want)
{
	char *v = stream_query_value(q, key, idx);
	if (!want) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static void test_query(void **state)
{
	(void)state;
	const char *q = "port=80&port=8080&stdin=1&tty&x=&command=echo&command=a%20b+c%2Bd";
	check_query(q, "port", 0, "80");
	check_query(q, "port", 1, "8080");
	check_query(q, "port", 2, NULL);
	check_query(q, "stdin", 0, "1");
	check_query(q, "tty", 0, "");
	check_query(q, "x", 0, "");
	check_query(q, "command", 0, "echo");
	check_query(q, "command", 1, "a b+c+d");
	check_query(q, "missing", 0, NULL);
	check_query(q, "por", 0, NULL);
	check_query("", "a", 0, NULL);
	check_query("&&a=1&", "a", 0, "1");
	/* Keys are decoded too; '=' in a value stays. */
	check_query("p%6Frt=1&a=b=c", "port", 0, "1");
	check_query("p%6Frt=1&a=b=c", "a", 0, "b=c");
	check_query("a=%e2%82%AC", "a", 0, "\xe2\x82\xac");
	/* Malformed escapes and %00 skip the pair, not the rest. */
	check_query("a=%&a=%4&a=%zz&a=%00&a=ok", "a", 0, "ok");
	check_query("a=%&a=%4&a=%zz&a=%00&a=ok", "a", 1, NULL);
	check_query("%zz=1&b=2", "b", 0, "2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_len),   cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_good),  cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad),   cmocka_unit_test(test_many_headers),
		cmocka_unit_test(test_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
