/* WebSocket framing: the accept key, the parser (RFC 6455's examples,
 * prefixes, fragments, control frames, every error code) and encoders. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "stream/stream_int.h"

static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Append a masked client frame whose first byte (FIN, RSV, opcode) is b0. */
static void frame(struct sbuf *b, uint8_t b0, const void *p, size_t n)
{
	size_t start = b->len;
	ws_put_client_frame(b, WS_BINARY, p, n, mask);
	b->p[start] = b0;
}

/* Parse all of b; every event must be consumed by a check in order. */
struct run {
	struct ws_parser ps;
	struct ws_event ev[8];
	uint8_t *data[8];
	size_t n;
	ssize_t r;
	uint16_t close;
	size_t taken;
};

static void run(struct run *st, const struct sbuf *b)
{
	*st = (struct run){ 0 };
	const uint8_t *p = b->p + b->off;
	size_t len = sbuf_pending(b);
	for (;;) {
		bool have = false;
		ssize_t r = ws_parse(&st->ps, p + st->taken, len - st->taken, &st->ev[st->n], &have,
				     &st->close);
		st->r = r;
		if (r < 0) {
			assert_int_equal(r, -EPROTO);
			assert_false(have);
			assert_true(st->close >= 1000);
			break;
		}
		assert_int_equal(st->close, 0);
		st->taken += (size_t)r;
		if (!have)
			break;
		assert_true(st->n < ARRAY_SIZE(st->ev));
		st->data[st->n] = xmemdup(st->ev[st->n].data, st->ev[st->n].len);
		st->n++;
	}
}

static void run_done(struct run *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->data[i]);
	ws_parser_done(&st->ps);
}

static void expect_event(struct run *st, size_t i, enum ws_opcode op, const void *p, size_t n)
{
	assert_true(i < st->n);
	assert_int_equal(st->ev[i].opcode, op);
	assert_int_equal(st->ev[i].len, n);
	assert_memory_equal(st->data[i], p, n);
}

/* b must fail with close code `code`. */
static void expect_close(const struct sbuf *b, uint16_t code)
{
	struct run st;
	run(&st, b);
	assert_int_equal(st.r, -EPROTO);
	assert_int_equal(st.close, code);
	/* And it sticks. */
	bool have;
	uint16_t c;
	struct ws_event ev;
	assert_int_equal(ws_parse(&st.ps, (const uint8_t *)"", 0, &ev, &have, &c), -EPROTO);
	assert_int_equal(c, code);
	run_done(&st);
}

static void test_accept_key(void **state)
{
	(void)state;
	char out[29];
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ws_accept_key("AQIDBAUGBwgJCgsMDQ4PEA==", out), 0);
	assert_int_equal(strlen(out), 28);
	assert_int_equal(ws_accept_key("", out), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ===", out), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQAA", out), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZ===", out), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub2 jZQ==", out), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub2-jZQ==", out), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", out), -EINVAL);
}

static void test_rfc_examples(void **state)
{
	(void)state;
	struct run st;
	struct sbuf b = { 0 };
	/* 5.7: a single-frame masked text message. */
	static const uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	sbuf_add(&b, hello, sizeof(hello));
	run(&st, &b);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.taken, sizeof(hello));
	expect_event(&st, 0, WS_TEXT, "Hello", 5);
	run_done(&st);
	/* ws_put_client_frame makes the same bytes. */
	sbuf_done(&b);
	ws_put_client_frame(&b, WS_TEXT, "Hello", 5, mask);
	assert_int_equal(b.len, sizeof(hello));
	assert_memory_equal(b.p, hello, sizeof(hello));
	sbuf_done(&b);

	/* A single-frame unmasked text message, from a client: 1002. */
	static const uint8_t unmasked[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	sbuf_add(&b, unmasked, sizeof(unmasked));
	expect_close(&b, 1002);
	sbuf_done(&b);
	/* ... is what the server sends. */
	ws_put_frame(&b, WS_TEXT, "Hello", 5);
	assert_memory_equal(b.p, unmasked, sizeof(unmasked));
	sbuf_done(&b);

	/* A fragmented text message ("Hel", "lo"), masked as a client must. */
	frame(&b, 0x01, "Hel", 3);
	frame(&b, 0x80, "lo", 2);
	run(&st, &b);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.taken, b.len);
	expect_event(&st, 0, WS_TEXT, "Hello", 5);
	run_done(&st);
	sbuf_done(&b);

	/* Unmasked ping, masked pong. */
	static const uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	sbuf_add(&b, ping, sizeof(ping));
	expect_close(&b, 1002);
	sbuf_done(&b);
	static const uint8_t pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	sbuf_add(&b, pong, sizeof(pong));
	run(&st, &b);
	expect_event(&st, 0, WS_PONG, "Hello", 5);
	run_done(&st);
	sbuf_done(&b);
	ws_put_frame(&b, WS_PING, "Hello", 5);
	assert_memory_equal(b.p, ping, sizeof(ping));
	sbuf_done(&b);
	frame(&b, 0x89, "Hello", 5);
	run(&st, &b);
	expect_event(&st, 0, WS_PING, "Hello", 5);
	run_done(&st);
	sbuf_done(&b);

	/* 256 bytes and 64 KiB binary messages: the length forms. */
	uint8_t *big = xzalloc(65536);
	ws_put_frame(&b, WS_BINARY, big, 256);
	assert_int_equal(b.len, 4 + 256);
	assert_memory_equal(b.p, "\x82\x7e\x01\x00", 4);
	sbuf_done(&b);
	ws_put_frame(&b, WS_BINARY, big, 65536);
	assert_int_equal(b.len, 10 + 65536);
	assert_memory_equal(b.p, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
	sbuf_done(&b);
	free(big);
}

/* Round trips through every length form, and every proper prefix of a
 * frame takes nothing and gives no event. */
static void test_prefixes(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		size_t n = sizes[s];
		uint8_t *p = xmalloc(n + 1);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(i * 7);
		struct sbuf b = { 0 };
		ws_put_client_frame(&b, WS_BINARY, p, n, mask);
		struct ws_parser ps = { 0 };
		struct ws_event ev;
		bool have;
		uint16_t c;
		assert_int_equal(ws_parse(&ps, NULL, 0, &ev, &have, &c), 0);
		/* All prefixes of small frames; the header's and a few for big ones. */
		for (size_t i = 0; i < b.len; i += (i < 20 || n < 200) ? 1 : 997) {
			assert_int_equal(ws_parse(&ps, b.p, i, &ev, &have, &c), 0);
			assert_false(have);
		}
		assert_int_equal(ws_parse(&ps, b.p, b.len, &ev, &have, &c), b.len);
		assert_true(have);
		assert_int_equal(ev.opcode, WS_BINARY);
		assert_int_equal(ev.len, n);
		assert_memory_equal(ev.data, p, n);
		ws_parser_done(&ps);
		sbuf_done(&b);
		free(p);
	}

	/* Fed a byte at a time, as a session with a slow peer would. */
	struct sbuf b = { 0 }, in = { 0 };
	frame(&b, 0x01, "ab", 2);
	frame(&b, 0x89, "p", 1);
	frame(&b, 0x80, "cd", 2);
	ws_put_client_frame(&b, WS_CLOSE,
			    "\x03\xe8"
			    "bye",
			    5, mask);
	struct ws_parser ps = { 0 };
	const enum ws_opcode want[] = { WS_PING, WS_TEXT, WS_CLOSE };
	size_t got = 0;
	for (size_t i = 0; i < b.len; i++) {
		sbuf_add(&in, b.p + i, 1);
		for (;;) {
			struct ws_event ev;
			bool have;
			uint16_t c;
			ssize_t r = ws_parse(&ps, in.p + in.off, sbuf_pending(&in), &ev, &have, &c);
			assert_true(r >= 0);
			sbuf_take(&in, (size_t)r);
			if (!have)
				break;
			assert_true(got < ARRAY_SIZE(want));
			assert_int_equal(ev.opcode, want[got]);
			if (ev.opcode == WS_TEXT)
				assert_memory_equal(ev.data, "abcd", 4);
			if (ev.opcode == WS_CLOSE) {
				assert_int_equal(ev.close_code, 1000);
				assert_int_equal(ev.len, 3);
				assert_memory_equal(ev.data, "bye", 3);
			}
			got++;
		}
	}
	assert_int_equal(got, 3);
	assert_int_equal(sbuf_pending(&in), 0);
	ws_parser_done(&ps);
	sbuf_done(&b);
	sbuf_done(&in);
}

static void test_interleaved_control(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	struct run st;
	frame(&b, 0x02, "\x01\x02", 2);
	frame(&b, 0x89, "ping", 4);
	frame(&b, 0x00, "\x03", 1);
	frame(&b, 0x8a, "", 0);
	frame(&b, 0x00, "", 0);
	frame(&b, 0x80, "\x04", 1);
	frame(&b, 0x82, "next", 4);
	run(&st, &b);
	assert_int_equal(st.n, 4);
	assert_int_equal(st.taken, b.len);
	expect_event(&st, 0, WS_PING, "ping", 4);
	expect_event(&st, 1, WS_PONG, "", 0);
	expect_event(&st, 2, WS_BINARY, "\x01\x02\x03\x04", 4);
	expect_event(&st, 3, WS_BINARY, "next", 4);
	run_done(&st);
	sbuf_done(&b);

	/* An empty text message. */
	frame(&b, 0x81, "", 0);
	run(&st, &b);
	assert_int_equal(st.n, 1);
	expect_event(&st, 0, WS_TEXT, "", 0);
	assert_non_null(st.ev[0].data);
	run_done(&st);
	sbuf_done(&b);
}

static void test_protocol_errors(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	static const uint8_t rsv[] = { 0xc1, 0x40, 0x70 }; /* RSV1, RSV2, RSV1-3 */
	for (size_t i = 0; i < ARRAY_SIZE(rsv); i++) {
		frame(&b, rsv[i], "x", 1);
		expect_close(&b, 1002);
		sbuf_done(&b);
	}
	static const uint8_t ops[] = { 0x83, 0x87, 0x8b, 0x8f };
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		frame(&b, ops[i], "x", 1);
		expect_close(&b, 1002);
		sbuf_done(&b);
	}
	/* Continuation with nothing to continue. */
	frame(&b, 0x80, "x", 1);
	expect_close(&b, 1002);
	sbuf_done(&b);
	/* A new message before the last one finished. */
	frame(&b, 0x01, "x", 1);
	frame(&b, 0x81, "y", 1);
	expect_close(&b, 1002);
	sbuf_done(&b);
	/* Fragmented and too-long control frames. */
	frame(&b, 0x09, "x", 1);
	expect_close(&b, 1002);
	sbuf_done(&b);
	uint8_t p[126] = { 0 };
	frame(&b, 0x89, p, 126);
	expect_close(&b, 1002);
	sbuf_done(&b);
	frame(&b, 0x89, p, 125);
	struct run st;
	run(&st, &b);
	assert_int_equal(st.n, 1);
	run_done(&st);
	sbuf_done(&b);
	/* Unmasked, known from the first two bytes. */
	sbuf_add(&b, "\x82\x05", 2);
	expect_close(&b, 1002);
	sbuf_done(&b);
	/* A 64-bit length with its top bit set. */
	sbuf_add(&b, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01", 10);
	expect_close(&b, 1002);
	sbuf_done(&b);
}

static void test_too_big(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	/* Known from the header alone, before any payload. */
	sbuf_add(&b, "\x82\xff\x00\x00\x00\x00\x00\x10\x00\x01", 10);
	expect_close(&b, 1009);
	sbuf_done(&b);
	sbuf_add(&b, "\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff", 10);
	expect_close(&b, 1009);
	sbuf_done(&b);

	uint8_t *p = xzalloc(WS_MAX_MESSAGE);
	/* Exactly the limit is fine, in one frame or in two. */
	struct run st;
	frame(&b, 0x82, p, WS_MAX_MESSAGE);
	run(&st, &b);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.ev[0].len, WS_MAX_MESSAGE);
	run_done(&st);
	sbuf_done(&b);
	frame(&b, 0x02, p, WS_MAX_MESSAGE / 2);
	frame(&b, 0x80, p, WS_MAX_MESSAGE / 2);
	run(&st, &b);
	assert_int_equal(st.n, 1);
	run_done(&st);
	sbuf_done(&b);
	/* One byte more, across fragments. */
	frame(&b, 0x01, p, WS_MAX_MESSAGE / 2);
	frame(&b, 0x00, p, WS_MAX_MESSAGE / 2);
	frame(&b, 0x80, p, 1);
	expect_close(&b, 1009);
	sbuf_done(&b);
	free(p);
}

static void test_utf8(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	struct run st;
	static const char *const bad[] = {
		"\xff",
		"\x80",
		"\xc0\x80",
		"\xc1\xbf",
		"\xe0\x80\x80",
		"\xed\xa0\x80",
		"\xf0\x80\x80\x80",
		"\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80",
		"a\xe2\x82",
		"\xe2\x82\x61",
		"\xce",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		frame(&b, 0x81, bad[i], strlen(bad[i]));
		expect_close(&b, 1007);
		sbuf_done(&b);
	}
	/* Valid, including characters split across fragments. */
	const char *good = "\x7f\xc2\x80\xe2\x82\xac\xed\x9f\xbf\xef\xbf\xbf\xf0\x90\x80\x80"
			   "\xf4\x8f\xbf\xbf";
	size_t n = strlen(good);
	for (size_t cut = 0; cut <= n; cut++) {
		frame(&b, 0x01, good, cut);
		frame(&b, 0x80, good + cut, n - cut);
		run(&st, &b);
		assert_int_equal(st.n, 1);
		expect_event(&st, 0, WS_TEXT, good, n);
		run_done(&st);
		sbuf_done(&b);
	}
	/* Bad text fails on its fragment, before the message ends. */
	frame(&b, 0x01, "ok\xff", 3);
	expect_close(&b, 1007);
	sbuf_done(&b);
	/* Binary messages are not checked. */
	frame(&b, 0x82, "\xff", 1);
	run(&st, &b);
	assert_int_equal(st.n, 1);
	run_done(&st);
	sbuf_done(&b);
}

static void test_close(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	struct run st;
	frame(&b, 0x88, "", 0);
	run(&st, &b);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.ev[0].opcode, WS_CLOSE);
	assert_int_equal(st.ev[0].close_code, 1005);
	assert_int_equal(st.ev[0].len, 0);
	run_done(&st);
	sbuf_done(&b);

	static const uint16_t good[] = { 1000, 1001, 1002, 1003, 1007, 1008,
					 1009, 1010, 1011, 3000, 4000, 4999 };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		uint8_t p[] = { (uint8_t)(good[i] >> 8), (uint8_t)good[i], 'o', 'k' };
		frame(&b, 0x88, p, sizeof(p));
		run(&st, &b);
		assert_int_equal(st.n, 1);
		assert_int_equal(st.ev[0].close_code, good[i]);
		expect_event(&st, 0, WS_CLOSE, "ok", 2);
		run_done(&st);
		sbuf_done(&b);
	}
	static const uint16_t bad[] = { 0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000, 65535 };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint8_t p[] = { (uint8_t)(bad[i] >> 8), (uint8_t)bad[i] };
		frame(&b, 0x88, p, sizeof(p));
		expect_close(&b, 1002);
		sbuf_done(&b);
	}
	frame(&b, 0x88, "\x03", 1);
	expect_close(&b, 1002);
	sbuf_done(&b);
	frame(&b, 0x88, "\x03\xe8\xff", 3);
	expect_close(&b, 1007);
	sbuf_done(&b);
}

static void test_put_close(void **state)
{
	(void)state;
	struct sbuf b = { 0 };
	ws_put_close(&b, 1000, NULL);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.p, "\x88\x02\x03\xe8", 4);
	sbuf_done(&b);
	ws_put_close(&b, 1011, "oops");
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.p, "\x88\x06\x03\xf3oops", 8);
	sbuf_done(&b);
	/* A long reason is cut to fit 125 bytes, at a character boundary:
	 * 61 two-byte characters (122 bytes) and not half of the 62nd. */
	char reason[200] = "";
	for (int i = 0; i < 70; i++)
		strcat(reason, "\xc3\xa9");
	ws_put_close(&b, 1000, reason);
	assert_int_equal(b.p[1], 2 + 122);
	assert_int_equal(b.len, 2 + 2 + 122);
	sbuf_done(&b);
	memset(reason, 'a', 199);
	reason[199] = '\0';
	ws_put_close(&b, 1000, reason);
	assert_int_equal(b.p[1], 125);
	sbuf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_interleaved_control),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_close),
		cmocka_unit_test(test_put_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
