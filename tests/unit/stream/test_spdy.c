/* SPDY/3.1 framing: every encoder through the parser, header blocks over
 * one continuous zlib stream, frames and blocks made by the independent
 * Python client (spdy_vectors.h), truncation, oversize, wrong version,
 * short payloads and malformed or oversized header blocks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "stream/stream_int.h"
#include "spdy_vectors.h"

/* Parse the single frame in b, checking that every proper prefix is
 * incomplete and that bytes after it are left alone. */
static void parse_whole(const struct sbuf *b, struct spdy_frame *f)
{
	const uint8_t *p = b->p + b->off;
	size_t n = sbuf_pending(b);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(spdy_frame_parse(p, i, f), -EAGAIN);
	uint8_t *more = malloc(n + 3);
	memcpy(more, p, n);
	memset(more + n, 0xff, 3);
	assert_int_equal(spdy_frame_parse(more, n + 3, f), (ssize_t)n);
	free(more);
	assert_int_equal(spdy_frame_parse(p, n, f), (ssize_t)n);
}

static void test_fixed_frames(void **state)
{
	struct sbuf b = { 0 };
	struct spdy_frame f;

	spdy_put_data(&b, 3, SPDY_FLAG_FIN, "hello", 5);
	parse_whole(&b, &f);
	assert_int_equal(f.type, SPDY_DATA);
	assert_int_equal(f.flags, SPDY_FLAG_FIN);
	assert_int_equal(f.stream_id, 3);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.data, "hello", 5);
	sbuf_done(&b);

	spdy_put_data(&b, 0x7fffffff, 0, NULL, 0);
	parse_whole(&b, &f);
	assert_int_equal(f.type, SPDY_DATA);
	assert_int_equal(f.stream_id, 0x7fffffff);
	assert_int_equal(f.len, 0);
	sbuf_done(&b);

	spdy_put_rst(&b, 5, SPDY_CANCEL);
	parse_whole(&b, &f);
	assert_int_equal(f.type, SPDY_RST_STREAM);
	assert_int_equal(f.stream_id, 5);
	assert_int_equal(f.status, SPDY_CANCEL);
	sbuf_done(&b);

	spdy_put_ping(&b, 0xfffffffe);
	parse_whole(&b, &f);
	assert_int_equal(f.type, SPDY_PING);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.ping_id, 0xfffffffe);
	sbuf_done(&b);

	spdy_put_goaway(&b, 7, 2);
	parse_whole(&b, &f);
	assert_int_equal(f.type, SPDY_GOAWAY);
	assert_int_equal(f.stream_id, 7);
	assert_int_equal(f.status, 2);
	assert_int_equal(f.len, 8);
	sbuf_done(&b);

	spdy_put_window_update(&b, 0, 65536);
	parse_whole(&b, &f);
	assert_int_equal(f.type, SPDY_WINDOW_UPDATE);
	assert_int_equal(f.stream_id, 0);
	assert_int_equal(f.delta, 65536);
	sbuf_done(&b);
}

/* The exact bytes of a few fixed frames, as the draft lays them out. */
static void test_fixed_bytes(void **state)
{
	struct sbuf b = { 0 };
	static const uint8_t ping[] = { 0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 2 };
	static const uint8_t rst[] = { 0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 5 };
	static const uint8_t data[] = { 0, 0, 0, 1, 1, 0, 0, 2, 'h', 'i' };

	spdy_put_ping(&b, 2);
	spdy_put_rst(&b, 1, SPDY_CANCEL);
	spdy_put_data(&b, 1, SPDY_FLAG_FIN, "hi", 2);
	assert_int_equal(sbuf_pending(&b), sizeof(ping) + sizeof(rst) + sizeof(data));
	assert_memory_equal(b.p, ping, sizeof(ping));
	assert_memory_equal(b.p + sizeof(ping), rst, sizeof(rst));
	assert_memory_equal(b.p + sizeof(ping) + sizeof(rst), data, sizeof(data));
	sbuf_done(&b);
}

static void expect_headers(const struct spdy_headers *h, const char *const *kv)
{
	size_t n = 0;
	for (; kv[n]; n += 2) {
		const char *v = spdy_headers_get(h, kv[n]);
		assert_non_null(v);
		assert_string_equal(v, kv[n + 1]);
	}
	assert_int_equal(h->n, n / 2);
}

/* SYN_STREAM and SYN_REPLY through the parser and the inflater, many
 * blocks on one stream: the deflater's 2 KiB window slides past the
 * dictionary, and each block must decode given only the ones before. */
static void test_header_frames(void **state)
{
	struct spdy_zout *zo = spdy_zout_new();
	struct spdy_zin *zi = spdy_zin_new();
	struct sbuf b = { 0 };
	struct spdy_frame f;
	struct spdy_headers h;
	struct err err = ERR_INIT;
	char port[16], id[16];

	for (uint32_t i = 0; i < 300; i++) {
		snprintf(port, sizeof(port), "%u", 1000 + i * 7);
		snprintf(id, sizeof(id), "%u", i);
		const char *kv[] = {
			"streamtype", i % 2 ? "data" : "error", "port",	      port, "requestid",
			id,	      "content-type",		"text/plain", NULL
		};
		uint32_t sid = 2 * i + 1;
		if (i % 3 == 0)
			spdy_put_syn_reply(&b, zo, sid, i % 2 ? SPDY_FLAG_FIN : 0, kv);
		else
			spdy_put_syn_stream(&b, zo, sid, i % 2 ? SPDY_FLAG_FIN : 0, kv);
		parse_whole(&b, &f);
		assert_int_equal(f.type, i % 3 == 0 ? SPDY_SYN_REPLY : SPDY_SYN_STREAM);
		assert_int_equal(f.stream_id, sid);
		assert_int_equal(f.flags, i % 2 ? SPDY_FLAG_FIN : 0);
		assert_int_equal(f.assoc_id, 0);
		assert_int_equal(f.priority, 0);
		assert_int_equal(spdy_headers_decode(zi, f.data, f.len, &h, &err), 0);
		expect_headers(&h, kv);
		spdy_headers_done(&h);
		sbuf_done(&b);
	}

	/* An empty header block, as kubelet's SYN_REPLY sends. */
	spdy_put_syn_reply(&b, zo, 9, 0, NULL);
	parse_whole(&b, &f);
	assert_int_equal(spdy_headers_decode(zi, f.data, f.len, &h, &err), 0);
	assert_int_equal(h.n, 0);
	assert_null(spdy_headers_get(&h, "streamtype"));
	sbuf_done(&b);

	spdy_zout_free(zo);
	spdy_zin_free(zi);
	err_done(&err);
}

/* A header frame put after consumed bytes (sbuf off > 0) that forces the
 * buffer to compact and grow: the length is patched at the right place. */
static void test_header_frame_in_used_buffer(void **state)
{
	struct spdy_zout *zo = spdy_zout_new();
	struct spdy_zin *zi = spdy_zin_new();
	struct sbuf b = { 0 };
	struct spdy_frame f;
	struct spdy_headers h;
	struct err err = ERR_INIT;
	uint8_t junk[250];
	char big[3000];

	memset(junk, 'j', sizeof(junk));
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + (i * 7919) % 26);
	big[sizeof(big) - 1] = '\0';
	sbuf_add(&b, junk, sizeof(junk));
	sbuf_take(&b, 200);
	const char *kv[] = { "x-big", big, NULL };
	spdy_put_syn_stream(&b, zo, 1, 0, kv);
	sbuf_take(&b, 50);
	parse_whole(&b, &f);
	assert_int_equal(f.type, SPDY_SYN_STREAM);
	assert_int_equal(spdy_headers_decode(zi, f.data, f.len, &h, &err), 0);
	expect_headers(&h, kv);
	spdy_headers_done(&h);
	sbuf_done(&b);
	spdy_zout_free(zo);
	spdy_zin_free(zi);
	err_done(&err);
}

/* The deflater primes with the SPDY/3 dictionary (its zlib header names
 * Adler-32 0xe3c6a7c2), and with an 11-bit window the dictionary still
 * shortens a block of common header names. */
static void test_deflater_uses_dictionary(void **state)
{
	struct spdy_zout *zo = spdy_zout_new();
	struct sbuf b = { 0 };
	struct spdy_frame f;
	const char *kv[] = { "accept-encoding", "gzip,deflate", "content-type",
			     "text/plain",	"user-agent",	"x",
			     "cache-control",	"max-age=0",	NULL };

	spdy_put_syn_reply(&b, zo, 1, 0, kv);
	parse_whole(&b, &f);
	assert_true(f.len > 6);
	assert_true(f.data[1] & 0x20); /* FDICT */
	assert_int_equal((f.data[0] << 8 | f.data[1]) % 31, 0);
	static const uint8_t dictid[] = { 0xe3, 0xc6, 0xa7, 0xc2 };
	assert_memory_equal(f.data + 2, dictid, 4);

	/* The same block deflated without a dictionary is longer. */
	uint8_t raw[256], plain[512];
	size_t n = 0;
	raw[n++] = 0, raw[n++] = 0, raw[n++] = 0, raw[n++] = 4;
	for (size_t i = 0; kv[i]; i++) {
		size_t l = strlen(kv[i]);
		raw[n++] = 0, raw[n++] = 0, raw[n++] = 0, raw[n++] = (uint8_t)l;
		memcpy(raw + n, kv[i], l);
		n += l;
	}
	z_stream zs = { 0 };
	assert_int_equal(
	    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 11, 1, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = raw;
	zs.avail_in = (uInt)n;
	zs.next_out = plain;
	zs.avail_out = sizeof(plain);
	assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
	size_t plain_len = sizeof(plain) - zs.avail_out;
	deflateEnd(&zs);
	assert_true(f.len + 16 < plain_len);

	sbuf_done(&b);
	spdy_zout_free(zo);
}

/* A client's byte stream from the Python implementation: three SYN_STREAMs
 * on one zlib stream (Go's settings: 32 KiB window, level 9), DATA, PING. */
static void test_python_wire(void **state)
{
	struct spdy_zin *zi = spdy_zin_new();
	struct spdy_frame f;
	struct spdy_headers h;
	struct err err = ERR_INIT;
	const uint8_t *p = vec_wire;
	size_t len = sizeof(vec_wire);
	ssize_t n;
	int i = 0;
	const char *kv1[] = { "streamtype", "error", NULL };
	const char *kv3[] = { "streamtype", "stdout", NULL };
	const char *kv5[] = { "streamtype",
			      "data",
			      "port",
			      "8080",
			      "requestid",
			      "0",
			      "user-agent",
			      "kubectl/v1.30.0 (linux/amd64)",
			      "accept-encoding",
			      "gzip, deflate",
			      NULL };
	const char *const *kvs[] = { kv1, kv3, kv5 };

	while (len > 0) {
		n = spdy_frame_parse(p, len, &f);
		assert_true(n > 0);
		/* Every prefix of every frame is incomplete. */
		for (size_t k = 0; k < (size_t)n; k++)
			assert_int_equal(spdy_frame_parse(p, k, &f), -EAGAIN);
		assert_int_equal(spdy_frame_parse(p, len, &f), n);
		if (i < 3) {
			assert_int_equal(f.type, SPDY_SYN_STREAM);
			assert_int_equal(f.stream_id, 2 * i + 1);
			assert_int_equal(f.flags, 0);
			assert_int_equal(spdy_headers_decode(zi, f.data, f.len, &h, &err), 0);
			expect_headers(&h, kvs[i]);
			spdy_headers_done(&h);
		} else if (i == 3) {
			assert_int_equal(f.type, SPDY_DATA);
			assert_int_equal(f.stream_id, 5);
			assert_int_equal(f.len, 5);
			assert_memory_equal(f.data, "hello", 5);
		} else if (i == 4) {
			assert_int_equal(f.type, SPDY_PING);
			assert_int_equal(f.ping_id, 1);
		} else {
			assert_int_equal(f.type, SPDY_DATA);
			assert_int_equal(f.flags, SPDY_FLAG_FIN);
			assert_int_equal(f.len, 0);
		}
		p += n;
		len -= (size_t)n;
		i++;
	}
	assert_int_equal(i, 6);
	spdy_zin_free(zi);
	err_done(&err);
}

static void test_oversize_and_version(void **state)
{
	struct spdy_frame f;
	uint8_t h[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };
	uint32_t big = SPDY_MAX_PAYLOAD + 1;

	/* Known from the 8-byte header alone. */
	h[5] = (uint8_t)(big >> 16), h[6] = (uint8_t)(big >> 8), h[7] = (uint8_t)big;
	assert_int_equal(spdy_frame_parse(h, 8, &f), -EMSGSIZE);
	h[4] = 0xff; /* flags do not count towards the length */
	assert_int_equal(spdy_frame_parse(h, 8, &f), -EMSGSIZE);
	h[5] = h[6] = h[7] = 0xff;
	assert_int_equal(spdy_frame_parse(h, 8, &f), -EMSGSIZE);
	big = SPDY_MAX_PAYLOAD;
	h[5] = (uint8_t)(big >> 16), h[6] = (uint8_t)(big >> 8), h[7] = (uint8_t)big;
	assert_int_equal(spdy_frame_parse(h, 8, &f), -EAGAIN);

	/* Control frames of SPDY/2 or 4: refused; data frames have no version. */
	uint8_t ping2[] = { 0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1 };
	assert_int_equal(spdy_frame_parse(ping2, sizeof(ping2), &f), -EPROTO);
	ping2[1] = 4;
	assert_int_equal(spdy_frame_parse(ping2, sizeof(ping2), &f), -EPROTO);
	ping2[0] = 0x81, ping2[1] = 3; /* version 0x103 */
	assert_int_equal(spdy_frame_parse(ping2, sizeof(ping2), &f), -EPROTO);
	ping2[0] = 0x80;
	assert_int_equal(spdy_frame_parse(ping2, sizeof(ping2), &f), (ssize_t)sizeof(ping2));
}

static ssize_t parse_control(uint16_t type, uint8_t flags, const uint8_t *payload, size_t n,
			     struct spdy_frame *f)
{
	static uint8_t buf[64];
	assert_true(n + 8 <= sizeof(buf));
	buf[0] = 0x80, buf[1] = 3, buf[2] = (uint8_t)(type >> 8), buf[3] = (uint8_t)type;
	buf[4] = flags, buf[5] = 0, buf[6] = 0, buf[7] = (uint8_t)n;
	memcpy(buf + 8, payload, n);
	return spdy_frame_parse(buf, n + 8, f);
}

static void test_payload_sizes(void **state)
{
	struct spdy_frame f;
	uint8_t z[32] = { 0 };
	static const struct {
		uint16_t type;
		size_t ok, bad[4];
	} cases[] = {
		{ SPDY_SYN_STREAM, 10, { 0, 4, 9, 9 } },    { SPDY_SYN_REPLY, 4, { 0, 1, 3, 3 } },
		{ SPDY_HEADERS, 4, { 0, 3, 3, 3 } },	    { SPDY_RST_STREAM, 8, { 0, 4, 7, 9 } },
		{ SPDY_PING, 4, { 0, 3, 5, 8 } },	    { SPDY_GOAWAY, 8, { 0, 4, 7, 12 } },
		{ SPDY_WINDOW_UPDATE, 8, { 0, 4, 7, 16 } }, { SPDY_SETTINGS, 4, { 0, 3, 8, 11 } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_control(cases[i].type, 0, z, cases[i].ok, &f),
				 (ssize_t)(8 + cases[i].ok));
		assert_int_equal(f.type, cases[i].type);
		for (size_t j = 0; j < 4; j++)
			assert_int_equal(parse_control(cases[i].type, 0, z, cases[i].bad[j], &f),
					 -EBADMSG);
	}

	/* SETTINGS: the count must match the entries. */
	uint8_t s[12] = { 0, 0, 0, 1, 0, 0, 0, 7, 0, 1, 0, 0 };
	assert_int_equal(parse_control(SPDY_SETTINGS, 0, s, 12, &f), 20);
	assert_int_equal(f.len, 12);
	assert_memory_equal(f.data, s, 12);
	s[3] = 2;
	assert_int_equal(parse_control(SPDY_SETTINGS, 0, s, 12, &f), -EBADMSG);
	s[0] = 0x20, s[3] = 1; /* count 2^29 + 1: no overflow into a match */
	assert_int_equal(parse_control(SPDY_SETTINGS, 0, s, 12, &f), -EBADMSG);

	/* Unknown control types (NOOP of SPDY/2, CREDENTIAL, anything) parse. */
	uint8_t u[5] = { 1, 2, 3, 4, 5 };
	assert_int_equal(parse_control(5, 0, u, 0, &f), 8);
	assert_int_equal(f.type, 5);
	assert_int_equal(parse_control(10, 0x7, u, 5, &f), 13);
	assert_int_equal(f.type, 10);
	assert_int_equal(f.flags, 7);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.data, u, 5);
	assert_int_equal(parse_control(0xffff, 0, u, 5, &f), 13);

	/* The reserved high bits of ids and deltas are dropped. */
	uint8_t w[8] = { 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 1 };
	assert_int_equal(parse_control(SPDY_WINDOW_UPDATE, 0, w, 8, &f), 16);
	assert_int_equal(f.stream_id, 0x7fffffff);
	assert_int_equal(f.delta, 1);
	uint8_t ss[10] = { 0x80, 0, 0, 3, 0x80, 0, 0, 1, 0xe0, 0 };
	assert_int_equal(parse_control(SPDY_SYN_STREAM, 2, ss, 10, &f), 18);
	assert_int_equal(f.stream_id, 3);
	assert_int_equal(f.assoc_id, 1);
	assert_int_equal(f.priority, 7);
	assert_int_equal(f.flags, SPDY_FLAG_UNIDIRECTIONAL);
	assert_int_equal(f.len, 0);
}

/* Decode one block with a fresh inflater; then the stream is broken (or
 * not) for the next block. */
static int decode_fresh(const uint8_t *p, size_t len, struct spdy_headers *h, bool *broken)
{
	struct spdy_zin *zi = spdy_zin_new();
	struct err err = ERR_INIT;
	int r = spdy_headers_decode(zi, p, len, h, &err);
	if (r < 0) {
		assert_int_equal(err.code, r);
		assert_non_null(err.msg);
		assert_int_equal(h->n, 0);
		/* After an error the stream stays refused. */
		err_done(&err);
		assert_int_equal(spdy_headers_decode(zi, vec_wire, 0, h, &err), -EBADMSG);
		*broken = true;
	}
	err_done(&err);
	spdy_zin_free(zi);
	return r;
}

#define DECODE(vec) decode_fresh(vec, sizeof(vec), &h, &broken)

static void test_bad_blocks(void **state)
{
	struct spdy_headers h;
	bool broken = false;

	assert_int_equal(DECODE(vec_upper), -EBADMSG);
	assert_int_equal(DECODE(vec_repeated), -EBADMSG);
	assert_int_equal(DECODE(vec_empty_name), -EBADMSG);
	assert_int_equal(DECODE(vec_too_many), -EMSGSIZE);
	assert_int_equal(DECODE(vec_name_past_end), -EBADMSG);
	assert_int_equal(DECODE(vec_value_past_end), -EBADMSG);
	assert_int_equal(DECODE(vec_pairs_past_end), -EBADMSG);
	assert_int_equal(DECODE(vec_trailing), -EBADMSG);
	assert_int_equal(DECODE(vec_short), -EBADMSG);
	assert_int_equal(DECODE(vec_bomb), -EMSGSIZE);
	assert_int_equal(DECODE(vec_past_bound), -EMSGSIZE);
	assert_int_equal(DECODE(vec_wrong_dict), -EBADMSG);
	assert_int_equal(DECODE(vec_finished), -EBADMSG);
	assert_true(broken);

	/* Corrupt zlib: a flipped bit in the deflate data of a good block. */
	uint8_t bad[sizeof(vec_max_headers)];
	memcpy(bad, vec_max_headers, sizeof(bad));
	bad[7] ^= 0x40;
	bad[8] ^= 0xff;
	assert_true(DECODE(bad) < 0);
	/* A truncated block is incomplete data, so a malformed block. */
	assert_int_equal(decode_fresh(vec_bomb, 10, &h, &broken), -EBADMSG);
	/* No block at all. */
	assert_int_equal(decode_fresh(vec_bomb, 0, &h, &broken), -EBADMSG);

	/* The limits themselves are allowed. */
	broken = false;
	assert_int_equal(DECODE(vec_max_headers), 0);
	assert_int_equal(h.n, SPDY_MAX_HEADERS);
	assert_string_equal(spdy_headers_get(&h, "h63"), "v");
	spdy_headers_done(&h);
	assert_int_equal(DECODE(vec_at_bound), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.h[0].value_len, SPDY_MAX_HEADER_BLOCK - 13);
	assert_int_equal(strlen(h.h[0].value), SPDY_MAX_HEADER_BLOCK - 13);
	spdy_headers_done(&h);
	assert_false(broken);
}

/* Upper-case and repeated names our own deflater was (wrongly) asked to
 * send are refused by the decoder too, and multi-valued headers keep their
 * NUL separators. */
static void test_names_and_values(void **state)
{
	struct spdy_zout *zo = spdy_zout_new();
	struct spdy_zin *zi;
	struct sbuf b = { 0 };
	struct spdy_frame f;
	struct spdy_headers h;
	struct err err = ERR_INIT;
	const char *upper[] = { "Port", "1", NULL };
	const char *twice[] = { "port", "1", "port", "2", NULL };
	const char *space[] = { "po rt", "1", NULL };
	const char *const *bad[] = { upper, twice, space };

	for (size_t i = 0; i < 3; i++) {
		zi = spdy_zin_new();
		spdy_put_syn_stream(&b, zo, 1, 0, bad[i]);
		parse_whole(&b, &f);
		assert_int_equal(spdy_headers_decode(zi, f.data, f.len, &h, &err), -EBADMSG);
		sbuf_done(&b);
		spdy_zin_free(zi);
		spdy_zout_free(zo);
		zo = spdy_zout_new();
	}

	/* Two values of one name, NUL-separated on the wire; an empty value. */
	zi = spdy_zin_new();
	const uint8_t blk_raw[] = { 0,	 0, 0,	 2, 0, 0, 0, 1,	  'a', 0, 0, 0, 3,
				    'x', 0, 'y', 0, 0, 0, 1, 'b', 0,   0, 0, 0 };
	z_stream zs = { 0 };
	uint8_t blk[128];
	assert_int_equal(deflateInit(&zs, 9), Z_OK);
	zs.next_in = (Bytef *)blk_raw;
	zs.avail_in = sizeof(blk_raw);
	zs.next_out = blk;
	zs.avail_out = sizeof(blk);
	assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
	/* (A stream without the dictionary decodes too: nothing forbids it.) */
	assert_int_equal(spdy_headers_decode(zi, blk, sizeof(blk) - zs.avail_out, &h, &err), 0);
	deflateEnd(&zs);
	assert_int_equal(h.n, 2);
	assert_string_equal(spdy_headers_get(&h, "a"), "x");
	assert_int_equal(h.h[0].value_len, 3);
	assert_memory_equal(h.h[0].value, "x\0y", 4);
	assert_string_equal(spdy_headers_get(&h, "b"), "");
	assert_int_equal(h.h[1].value_len, 0);
	spdy_headers_done(&h);
	spdy_headers_done(&h); /* idempotent */
	spdy_zin_free(zi);

	spdy_zout_free(zo);
	spdy_zin_free(NULL);
	spdy_zout_free(NULL);
	err_done(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_frames),
		cmocka_unit_test(test_fixed_bytes),
		cmocka_unit_test(test_header_frames),
		cmocka_unit_test(test_header_frame_in_used_buffer),
		cmocka_unit_test(test_deflater_uses_dictionary),
		cmocka_unit_test(test_python_wire),
		cmocka_unit_test(test_oversize_and_version),
		cmocka_unit_test(test_payload_sizes),
		cmocka_unit_test(test_bad_blocks),
		cmocka_unit_test(test_names_and_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
