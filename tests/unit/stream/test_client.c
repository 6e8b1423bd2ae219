/* The streaming client: its pure parts (URLs, the answer's head, token
 * lists, the v4 Status) and a whole session against a small scripted
 * server on loopback that uses the framing's own encoders. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "stream/stream_int.h"

/* ---- URLs ---- */

static void url_ok(const char *url, const char *host, const char *port, const char *hh,
		   const char *path)
{
	struct stream_url u;
	struct err err = ERR_INIT;
	assert_int_equal(stream_url_parse(url, &u, &err), 0);
	assert_string_equal(u.host, host);
	assert_string_equal(u.port, port);
	assert_string_equal(u.host_header, hh);
	assert_string_equal(u.path, path);
	stream_url_done(&u);
	stream_url_done(NULL);
}

static void url_bad(const char *url, int code)
{
	struct stream_url u;
	struct err err = ERR_INIT;
	assert_int_equal(stream_url_parse(url, &u, &err), code);
	assert_non_null(err.msg);
	err_done(&err);
}

static void test_url(void **state)
{
	(void)state;
	url_ok("http://127.0.0.1:41235/exec/0123abcd", "127.0.0.1", "41235", "127.0.0.1:41235",
	       "/exec/0123abcd");
	url_ok("http://[::1]:80/attach/x?a=b", "::1", "80", "[::1]:80", "/attach/x?a=b");
	url_ok("http://[::1]/p", "::1", "80", "[::1]", "/p");
	url_ok("HTTP://node.example:8080", "node.example", "8080", "node.example:8080", "/");
	url_ok("http://10.0.0.1?x=1", "10.0.0.1", "80", "10.0.0.1", "/?x=1");
	url_ok("http://10.0.0.1/a#frag", "10.0.0.1", "80", "10.0.0.1", "/a");
	url_ok("http://h:65535/", "h", "65535", "h:65535", "/");

	url_bad("https://127.0.0.1:1/exec/x", -EPROTONOSUPPORT);
	struct stream_url u;
	struct err err = ERR_INIT;
	assert_int_equal(stream_url_parse("https://h/x", &u, &err), -EPROTONOSUPPORT);
	assert_non_null(strstr(err_str(&err), "https streaming URLs are not supported yet"));
	err_done(&err);

	const char *bad[] = { "ftp://h/x",
			      "http://",
			      "http:///x",
			      "http://[::1/x",
			      "http://[]/x",
			      "http://[::1]x/",
			      "http://h:0/",
			      "http://h:65536/",
			      "http://h:/",
			      "http://h:8a/",
			      "http://h:1:2/",
			      "http://a b/",
			      "http://h/a\tb",
			      "http://u@h/",
			      "http://h:123456/",
			      "127.0.0.1:1234/x",
			      "",
			      "http://h]:1/" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		url_bad(bad[i], -EINVAL);
}

/* ---- the answer's head ---- */

static ssize_t head(const char *s, struct stream_reply_head *h, struct err *err)
{
	return stream_reply_head_parse((const uint8_t *)s, strlen(s), h, err);
}

static void test_head_101(void **state)
{
	(void)state;
	const char *s = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
			"upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version:  v4.channel.k8s.io \r\n"
			"Date: x\r\n\r\n\x80\x03";
	struct stream_reply_head h;
	struct err err = ERR_INIT;
	assert_int_equal(head(s, &h, &err), strlen(s) - 2);
	assert_int_equal(h.status, 101);
	assert_string_equal(h.reason, "Switching Protocols");
	assert_string_equal(h.connection, "Upgrade");
	assert_string_equal(h.upgrade, "SPDY/3.1");
	assert_string_equal(h.protocol, "v4.channel.k8s.io");
	assert_int_equal(h.content_length, -1);
	stream_reply_head_done(&h);
	/* Any prefix is incomplete. */
	for (size_t i = 0; i < strlen(s) - 2; i++)
		assert_int_equal(stream_reply_head_parse((const uint8_t *)s, i, &h, &err), 0);
	stream_reply_head_done(NULL);
}

static void test_head_refusal(void **state)
{
	(void)state;
	const char *s = "HTTP/1.0 404 Not Found\r\nContent-Length: 12\r\nConnection: a\r\n"
			"Connection: close\r\nUpgrade: x\r\nUPGRADE: y\r\n\r\n";
	struct stream_reply_head h;
	struct err err = ERR_INIT;
	assert_int_equal(head(s, &h, &err), strlen(s));
	assert_int_equal(h.status, 404);
	assert_string_equal(h.reason, "Not Found");
	assert_int_equal(h.content_length, 12);
	assert_null(h.protocol);
	/* Repeated list headers are one list. */
	assert_string_equal(h.connection, "a, close");
	assert_string_equal(h.upgrade, "x, y");
	stream_reply_head_done(&h);
	assert_int_equal(head("HTTP/1.1 500\r\n\r\n", &h, &err), 16);
	assert_string_equal(h.reason, "");
	stream_reply_head_done(&h);
}

static void test_head_bad(void **state)
{
	(void)state;
	const char *bad[] = {
		"HTTP/2 101 X\r\n\r\n",
		"HTTP/1.1 10 X\r\n\r\n",
		"HTTP/1.1 099 X\r\n\r\n",
		"HTTP/1.1 1O1 X\r\n\r\n",
		"HTTP/1.1 101X\r\n\r\n",
		"HTTP/1.1  101 X\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 101 X\r\nNoColon\r\n\r\n",
		"HTTP/1.1 101 X\r\n: v\r\n\r\n",
		"HTTP/1.1 101 X\r\nBad Name: v\r\n\r\n",
		"HTTP/1.1 101 X\r\nA: v\r\n folded\r\n\r\n",
		"HTTP/1.1 101 X\r\nA: v\x01w\r\n\r\n",
		"HTTP/1.1 101 X\r\nX-Stream-Protocol-Version: a\r\nx-stream-protocol-version: a\r\n\r\n",
		"HTTP/1.1 404 X\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 404 X\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 404 X\r\nContent-Length: 1x\r\n\r\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct stream_reply_head h;
		struct err err = ERR_INIT;
		assert_int_equal(head(bad[i], &h, &err), -EBADMSG);
		assert_non_null(err.msg);
		err_done(&err);
	}
	/* A NUL inside the head. */
	struct stream_reply_head h;
	struct err err = ERR_INIT;
	const char nul[] = "HTTP/1.1 101 X\r\nA: \0\r\n\r\n";
	assert_int_equal(stream_reply_head_parse((const uint8_t *)nul, sizeof(nul) - 1, &h, &err),
			 -EBADMSG);
	err_done(&err);
	/* No end within the bound. */
	size_t n = STREAM_REPLY_HEAD_MAX + 4;
	char *big = xmalloc(n);
	memset(big, 'a', n);
	assert_int_equal(stream_reply_head_parse((const uint8_t *)big, n, &h, &err), -E2BIG);
	assert_int_equal(
	    stream_reply_head_parse((const uint8_t *)big, STREAM_REPLY_HEAD_MAX - 1, &h, &err), 0);
	free(big);
}

static void test_token_list(void **state)
{
	(void)state;
	assert_true(stream_token_list_has("Upgrade", "upgrade"));
	assert_true(stream_token_list_has("keep-alive, Upgrade", "upgrade"));
	assert_true(stream_token_list_has(" spdy/3.1 ,x", "SPDY/3.1"));
	assert_false(stream_token_list_has("Upgraded", "upgrade"));
	assert_false(stream_token_list_has("", "upgrade"));
	assert_false(stream_token_list_has(NULL, "upgrade"));
	assert_false(stream_token_list_has(",,", "upgrade"));
}

/* ---- the v4 Status ---- */

static int status(const char *s, int *code, char **msg)
{
	return stream_status_parse((const uint8_t *)s, strlen(s), code, msg);
}

static void test_status(void **state)
{
	(void)state;
	int code = -5;
	char *msg = NULL;
	assert_int_equal(status("{\"metadata\":{},\"status\":\"Success\"}", &code, &msg), 0);
	assert_int_equal(code, 0);
	assert_null(msg);
	/* What our server sends (rc_status_json), and kubelet alike. */
	for (int want = 1; want < 300; want += 126) {
		char *js = rc_status_json(want, NULL);
		assert_int_equal(status(js, &code, &msg), 0);
		assert_int_equal(code, want);
		assert_null(msg);
		free(js);
	}
	char *js = rc_status_json(-1, "container abc is not running");
	assert_int_equal(status(js, &code, &msg), -EREMOTEIO);
	assert_string_equal(msg, "container abc is not running");
	free(msg);
	free(js);
	/* NonZeroExitCode without a usable cause: the message. */
	assert_int_equal(
	    status("{\"status\":\"Failure\",\"reason\":\"NonZeroExitCode\","
		   "\"message\":\"m\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\","
		   "\"message\":\"x7\"}]}}",
		   &code, &msg),
	    -EREMOTEIO);
	assert_string_equal(msg, "m");
	free(msg);
	assert_int_equal(status("{\"status\":\"Failure\",\"reason\":\"Forbidden\"}", &code, &msg),
			 -EREMOTEIO);
	assert_string_equal(msg, "Forbidden");
	free(msg);
	assert_int_equal(status("{\"status\":\"Failure\"}", &code, &msg), -EREMOTEIO);
	assert_string_equal(msg, "unknown error");
	free(msg);
	/* Not a Status: the text itself (v1..v3 send plain text). */
	assert_int_equal(status("command terminated with non-zero exit code: 2\n", &code, &msg),
			 -EBADMSG);
	assert_string_equal(msg, "command terminated with non-zero exit code: 2");
	free(msg);
	assert_int_equal(status("{\"status\":\"Pending\"}", &code, &msg), -EBADMSG);
	free(msg);
	assert_int_equal(status("[1]", &code, &msg), -EBADMSG);
	free(msg);
}

/* A Status that does not parse, or has a field of the wrong type: what is
 * wrong, not the text as if a server had said it. */
static void test_status_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "{\"status\":\"Failure\",\"message\":}",
		  "the error channel's Status is malformed: Status:1:31: " },
		{ " {\"status\":\"Success\",\"status\":\"Success\"}", "duplicate object key" },
		{ "{\"status\":7}",
		  "the error channel's Status is malformed: status: expected string, got integer" },
		{ "{\"status\":\"Failure\",\"message\":[]}",
		  "the error channel's Status is malformed: message: expected string, got array" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int code = -5;
		char *msg = NULL;
		assert_int_equal(status(bad[i].in, &code, &msg), -EBADMSG);
		assert_int_equal(code, -5);
		if (!msg || !strstr(msg, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, msg ? msg : "(null)", bad[i].msg);
		free(msg);
	}
	/* Bounded: a Status larger than ocic reads is refused by its size. */
	size_t n = 70 * 1024;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n] = '\0';
	int code = -5;
	char *msg = NULL;
	assert_int_equal(status(big, &code, &msg), -EBADMSG);
	assert_non_null(strstr(msg, "Status: larger than 65536 bytes"));
	free(msg);
	free(big);
}

/* ---- a session against a scripted server ---- */

struct server {
	int lfd;
	unsigned port;
	const char *answer; /* written after the request head */
	bool spdy;	    /* then: the exchange of session_script */
	char request[4096];
	bool ok; /* the script saw what it expected */
};

static void read_head(int fd, char *buf, size_t max)
{
	size_t n = 0;
	while (n + 1 < max && !memmem(buf, n, "\r\n\r\n", 4)) {
		ssize_t r = read(fd, buf + n, max - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
}

/* Read frames until one of `type` comes: its copy in *f (data in *buf). */
static bool next_frame(int fd, struct sbuf *in, enum spdy_type type, struct spdy_frame *f)
{
	for (;;) {
		ssize_t n = sbuf_pending(in)
				? spdy_frame_parse(in->p + in->off, sbuf_pending(in), f)
				: -EAGAIN;
		if (n > 0) {
			sbuf_take(in, (size_t)n);
			if (f->type == type)
				return true;
			continue;
		}
		if (n != -EAGAIN)
			return false;
		uint8_t buf[4096];
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			return false;
		sbuf_add(in, buf, (size_t)r);
	}
}

/* SYN_STREAM with streamtype=stdout, its reply, "hi" with FIN, a PING
 * that must be echoed; then the client's data and FIN; GOAWAY. */
static bool session_script(int fd)
{
	struct spdy_zin *zin = spdy_zin_new();
	struct spdy_zout *zout = spdy_zout_new();
	struct sbuf in = { 0 }, out = { 0 };
	struct spdy_frame f;
	struct spdy_headers h = { 0 };
	bool ok = next_frame(fd, &in, SPDY_SYN_STREAM, &f) && f.stream_id == 1 &&
		  spdy_headers_decode(zin, f.data, f.len, &h, NULL) == 0 &&
		  spdy_headers_get(&h, "streamtype") &&
		  strcmp(spdy_headers_get(&h, "streamtype"), "stdout") == 0;
	spdy_headers_done(&h);
	if (ok) {
		spdy_put_syn_reply(&out, zout, 1, 0, (const char *const[]){ NULL });
		spdy_put_data(&out, 1, 0, "hi", 2);
		spdy_put_data(&out, 1, SPDY_FLAG_FIN, NULL, 0);
		spdy_put_ping(&out, 2);
		ok = fs_write_all(fd, out.p + out.off, sbuf_pending(&out)) == 0;
	}
	/* Then, in any order: the echo, "abc" and the FIN on stream 1. */
	bool ping = false, abc = false, fin = false;
	while (ok && !(ping && abc && fin)) {
		ssize_t n = sbuf_pending(&in)
				? spdy_frame_parse(in.p + in.off, sbuf_pending(&in), &f)
				: -EAGAIN;
		if (n == -EAGAIN) {
			uint8_t buf[4096];
			ssize_t r = read(fd, buf, sizeof(buf));
			ok = r > 0;
			if (ok)
				sbuf_add(&in, buf, (size_t)r);
			continue;
		}
		ok = n > 0;
		if (!ok)
			break;
		if (f.type == SPDY_PING)
			ping = f.ping_id == 2;
		else if (f.type == SPDY_DATA && f.stream_id == 1 && f.len == 3)
			abc = memcmp(f.data, "abc", 3) == 0;
		else if (f.type == SPDY_DATA && f.stream_id == 1 && (f.flags & SPDY_FLAG_FIN))
			fin = abc;
		sbuf_take(&in, (size_t)n);
	}
	if (ok) {
		sbuf_done(&out);
		spdy_put_goaway(&out, 1, 0);
		ok = fs_write_all(fd, out.p + out.off, sbuf_pending(&out)) == 0;
	}
	spdy_zin_free(zin);
	spdy_zout_free(zout);
	sbuf_done(&in);
	sbuf_done(&out);
	return ok;
}

static void *serve(void *arg)
{
	struct server *s = arg;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	read_head(fd, s->request, sizeof(s->request));
	(void)fs_write_all(fd, s->answer, strlen(s->answer));
	s->ok = !s->spdy || session_script(fd);
	(void)shutdown(fd, SHUT_WR);
	uint8_t b[256];
	while (read(fd, b, sizeof(b)) > 0)
		;
	(void)close(fd);
	return NULL;
}

static pthread_t start(struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, serve, s), 0);
	return t;
}

static void test_connect_refused(void **state)
{
	(void)state;
	struct server s = { .answer =
				"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
				"Content-Length: 30\r\n\r\nunable to upgrade: no protocol\n" };
	struct stream_client *c = NULL;
	struct err err = ERR_INIT;
	int lfd = -1;
	char url[64];
	pthread_t t = start(&s);
	lfd = s.lfd;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/exec/tok", s.port);
	assert_int_equal(stream_client_connect(url, "v4.channel.k8s.io", &c, &err), -EPROTO);
	assert_string_equal(err_str(&err),
			    "upgrade refused: HTTP 403 Forbidden: unable to upgrade: no protocol");
	assert_null(c);
	pthread_join(t, NULL);
	/* What client-go sends. */
	assert_non_null(strstr(s.request, "POST /exec/tok HTTP/1.1\r\n"));
	assert_non_null(strstr(s.request, "\r\nUpgrade: SPDY/3.1\r\n"));
	assert_non_null(strstr(s.request, "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr(s.request, "\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"));
	err_done(&err);
	close(lfd);

	/* 404 with nothing more (an unknown token). */
	struct server s2 = { .answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" };
	t = start(&s2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/exec/tok", s2.port);
	assert_int_equal(stream_client_connect(url, "v4.channel.k8s.io", &c, &err), -EPROTO);
	assert_string_equal(err_str(&err), "upgrade refused: HTTP 404 Not Found");
	pthread_join(t, NULL);
	close(s2.lfd);
	err_done(&err);

	/* 101 for another protocol. */
	struct server s3 = { .answer = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				       "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
				       "v2.channel.k8s.io\r\n\r\n" };
	t = start(&s3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/exec/tok", s3.port);
	assert_int_equal(stream_client_connect(url, "v4.channel.k8s.io", &c, &err),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err_str(&err), "v2.channel.k8s.io"));
	pthread_join(t, NULL);
	close(s3.lfd);
	err_done(&err);

	/* Nobody listening. */
	assert_true(stream_client_connect("http://127.0.0.1:1/x", "p", &c, &err) < 0);
	assert_non_null(strstr(err_str(&err), "127.0.0.1:1"));
	err_done(&err);
}

/* Events until one of `type` on `id`. */
static struct stream_client_ev wait_ev(struct stream_client *c, enum stream_client_ev_type type)
{
	struct err err = ERR_INIT;
	struct stream_client_ev ev;
	for (;;) {
		int r = stream_client_next(c, &ev, &err);
		assert_true(r >= 0);
		if (r > 0 && ev.type == type)
			return ev;
		if (r > 0)
			continue;
		assert_int_equal(stream_client_flush(c, 1000, &err), 0);
		struct pollfd p = { .fd = stream_client_fd(c), .events = POLLIN };
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_true(stream_client_read(c, &err) > 0);
	}
}

static void test_session(void **state)
{
	(void)state;
	struct server s = { .answer = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				      "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
				      "v4.channel.k8s.io\r\n\r\n",
			    .spdy = true };
	struct stream_client *c = NULL;
	struct err err = ERR_INIT;
	char url[64];
	pthread_t t = start(&s);
	snprintf(url, sizeof(url), "http://[::ffff:127.0.0.1]:%u/exec/tok", s.port);
	/* An IPv4-mapped literal reaches the IPv4 listener only on dual
	 * stack; the plain literal always does. */
	if (stream_client_connect(url, "v4.channel.k8s.io", &c, &err) < 0) {
		err_done(&err);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/exec/tok", s.port);
		assert_int_equal(stream_client_connect(url, "v4.channel.k8s.io", &c, &err), 0);
	}
	assert_string_equal(stream_client_protocol(c), "v4.channel.k8s.io");
	int id = stream_client_open(c, (const char *const[]){ "streamtype", "stdout", NULL });
	assert_int_equal(id, 1);
	assert_true(stream_client_backlog(c) > 0);
	struct stream_client_ev ev = wait_ev(c, STREAM_CLIENT_REPLY);
	assert_int_equal(ev.id, 1);
	ev = wait_ev(c, STREAM_CLIENT_DATA);
	assert_int_equal(ev.len, 2);
	assert_memory_equal(ev.data, "hi", 2);
	assert_false(ev.fin);
	ev = wait_ev(c, STREAM_CLIENT_DATA);
	assert_int_equal(ev.len, 0);
	assert_true(ev.fin);
	/* The PING after it is echoed by the next call. */
	stream_client_send(c, 1, "abc", 3);
	stream_client_fin(c, 1);
	ev = wait_ev(c, STREAM_CLIENT_GOAWAY);
	stream_client_free(c);
	pthread_join(t, NULL);
	close(s.lfd);
	assert_true(s.ok);
	stream_client_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_head_101),
		cmocka_unit_test(test_head_refusal),
		cmocka_unit_test(test_head_bad),
		cmocka_unit_test(test_token_list),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_malformed),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
