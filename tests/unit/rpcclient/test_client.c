/* rpcclient (rpcclient/rpcclient.h) against independent peers: a python3-grpcio
 * server and a Python http.server, both on unix sockets (peers.py). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpcclient/rpcclient.h"

extern char **environ;

static const char *peers_py;

struct peer {
	char dir[64];
	char grpc[96];
	char http[96];
	pid_t pid;
};

static int peer_start(struct peer *p)
{
	char *argv[] = { "/usr/bin/python3", (char *)peers_py, p->grpc, p->http, NULL };

	strcpy(p->dir, "/tmp/test-rpc-client.XXXXXX");
	if (!mkdtemp(p->dir))
		return -errno;
	(void)snprintf(p->grpc, sizeof(p->grpc), "%s/grpc.sock", p->dir);
	(void)snprintf(p->http, sizeof(p->http), "%s/http.sock", p->dir);
	if (posix_spawn(&p->pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -errno;
	for (int i = 0; i < 200; i++) {
		struct stat st;

		if (stat(p->grpc, &st) == 0 && stat(p->http, &st) == 0)
			return 0;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

static void peer_stop(struct peer *p)
{
	if (p->pid > 0) {
		(void)kill(p->pid, SIGKILL);
		(void)waitpid(p->pid, NULL, 0);
	}
	(void)unlink(p->grpc);
	(void)unlink(p->http);
	(void)rmdir(p->dir);
}

struct fixture {
	struct peer peer;
	struct rpc_client *c;
};

static int group_setup(void **state)
{
	struct fixture *f = xnew(struct fixture);
	struct err err = ERR_INIT;

	if (peer_start(&f->peer) < 0 || rpc_client_new(f->peer.grpc, &f->c, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err_str(&err));
		return -1;
	}
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	rpc_client_free(f->c);
	peer_stop(&f->peer);
	free(f);
	return 0;
}

static enum rpc_code call(struct fixture *f, const char *method, const char *req,
			  uint64_t timeout_ms, struct rpc_client_reply *reply)
{
	cleanup_err struct err err = ERR_INIT;

	*reply = (struct rpc_client_reply){ 0 };
	assert_int_equal(rpc_client_call(f->c, method, (const uint8_t *)req, strlen(req),
					 timeout_ms, reply, &err),
			 0);
	return reply->code;
}

static void test_unary(void **state)
{
	struct rpc_client_reply r;

	assert_int_equal(call(*state, "/test.Echo/Echo", "hello", 5000, &r), RPC_OK);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.data, "hello", 5);
	assert_int_equal(r.n_msgs, 1);
	rpc_client_reply_done(&r);
	assert_int_equal(call(*state, "/test.Echo/Echo", "", 0, &r), RPC_OK);
	assert_int_equal(r.len, 0);
	rpc_client_reply_done(&r);
}

static void test_status(void **state)
{
	struct rpc_client_reply r;

	assert_int_equal(call(*state, "/test.Echo/Fail", "", 5000, &r), RPC_NOT_FOUND);
	assert_string_equal(r.message, "no such thing: \xc3\xbc 100%");
	rpc_client_reply_done(&r);
	assert_int_equal(call(*state, "/test.Echo/Nope", "", 5000, &r), RPC_UNIMPLEMENTED);
	rpc_client_reply_done(&r);
}

static void test_deadline(void **state)
{
	struct rpc_client_reply r;

	assert_int_equal(call(*state, "/test.Echo/Sleep", "3", 200, &r), RPC_DEADLINE_EXCEEDED);
	rpc_client_reply_done(&r);
	/* The connection is still good afterwards. */
	assert_int_equal(call(*state, "/test.Echo/Echo", "x", 5000, &r), RPC_OK);
	rpc_client_reply_done(&r);
}

static void test_sizes(void **state)
{
	struct fixture *f = *state;
	cleanup_err struct err err = ERR_INIT;
	struct rpc_client_reply r;
	size_t n = 5 << 20;
	cleanup_free uint8_t *big = xmalloc(n);

	assert_int_equal(call(f, "/test.Echo/Big", "3000000", 10000, &r), RPC_OK);
	assert_int_equal(r.len, 3000000);
	assert_int_equal(r.data[2999999], 'x');
	rpc_client_reply_done(&r);
	rpc_client_set_max_recv(f->c, 1000000);
	assert_int_equal(call(f, "/test.Echo/Big", "3000000", 10000, &r), RPC_RESOURCE_EXHAUSTED);
	rpc_client_reply_done(&r);
	rpc_client_set_max_recv(f->c, 64 << 20);
	memset(big, 'b', n);
	r = (struct rpc_client_reply){ 0 };
	assert_int_equal(rpc_client_call(f->c, "/test.Echo/Echo", big, n, 10000, &r, &err), 0);
	assert_int_equal(r.code, RPC_OK);
	assert_int_equal(r.len, n);
	assert_memory_equal(r.data, big, n);
	rpc_client_reply_done(&r);
}

struct counter {
	unsigned n, stop_at;
	int sum_ok;
};

static int on_msg(void *data, const uint8_t *msg, size_t len)
{
	struct counter *c = data;
	char want[16];

	(void)snprintf(want, sizeof(want), "%u", c->n);
	if (len != strlen(want) || memcmp(msg, want, len) != 0)
		c->sum_ok = 0;
	c->n++;
	return c->stop_at && c->n == c->stop_at ? -1 : 0;
}

static void test_stream(void **state)
{
	struct fixture *f = *state;
	cleanup_err struct err err = ERR_INIT;
	struct counter c = { .sum_ok = 1 };
	struct rpc_client_reply r = { 0 };

	assert_int_equal(rpc_client_call_stream(f->c, "/test.Echo/Count", (const uint8_t *)"2000",
						4, 10000, on_msg, &c, &r, &err),
			 0);
	assert_int_equal(r.code, RPC_OK);
	assert_int_equal(c.n, 2000);
	assert_int_equal(r.n_msgs, 2000);
	assert_true(c.sum_ok);
	rpc_client_reply_done(&r);
	/* Cancelled from the callback. */
	c = (struct counter){ .sum_ok = 1, .stop_at = 10 };
	assert_int_equal(rpc_client_call_stream(f->c, "/test.Echo/Count", (const uint8_t *)"100000",
						6, 10000, on_msg, &c, &r, &err),
			 0);
	assert_int_equal(r.code, RPC_CANCELLED);
	assert_int_equal(c.n, 10);
	rpc_client_reply_done(&r);
}

static unsigned concurrent_ok;

static void on_done(void *data, struct rpc_client_reply *r)
{
	char want[16];

	(void)snprintf(want, sizeof(want), "%u", (unsigned)(uintptr_t)data);
	if (r->code == RPC_OK && r->len == strlen(want) && memcmp(r->data, want, r->len) == 0)
		concurrent_ok++;
}

static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	cleanup_err struct err err = ERR_INIT;
	char bufs[256][16];

	concurrent_ok = 0;
	for (unsigned i = 0; i < 256; i++) {
		struct rpc_client_req req = {
			.method = i % 8 ? "/test.Echo/Echo" : "/test.Echo/Sleep",
			.msg = (const uint8_t *)bufs[i],
			.timeout_ms = 10000,
			.on_done = on_done,
			.data = (void *)(uintptr_t)i,
		};

		(void)snprintf(bufs[i], sizeof(bufs[i]), i % 8 ? "%u" : "0.2", i);
		req.len = strlen(bufs[i]);
		assert_int_equal(rpc_client_start(f->c, &req, &err), 0);
	}
	assert_int_equal(rpc_client_pending(f->c), 256);
	assert_int_equal(rpc_client_run(f->c, &err), 0);
	assert_int_equal(rpc_client_pending(f->c), 0);
	assert_int_equal(concurrent_ok, 256 - 256 / 8); /* Sleep answers "slept" */
}

static void test_server_gone(void **state)
{
	struct peer p = { 0 };
	struct rpc_client *c = NULL;
	cleanup_err struct err err = ERR_INIT;
	struct rpc_client_reply r = { 0 };

	assert_int_equal(peer_start(&p), 0);
	assert_int_equal(rpc_client_new(p.grpc, &c, &err), 0);
	assert_true(rpc_client_call(c, "/test.Echo/Die", NULL, 0, 5000, &r, &err) < 0);
	assert_int_equal(r.code, RPC_UNAVAILABLE);
	assert_non_null(strstr(err_str(&err), "connection closed"));
	rpc_client_reply_done(&r);
	/* Later calls fail at once, saying why. */
	assert_int_equal(rpc_client_call(c, "/test.Echo/Echo", NULL, 0, 5000, &r, &err), -ENOTCONN);
	assert_int_equal(r.code, RPC_UNAVAILABLE);
	assert_non_null(strstr(r.message, "connection closed"));
	rpc_client_reply_done(&r);
	rpc_client_free(c);
	peer_stop(&p);
}

static void test_connect_missing(void **state)
{
	struct rpc_client *c = NULL;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(rpc_client_new("/nonexistent/ocid.sock", &c, &err), -ENOENT);
	assert_null(c);
	assert_string_equal(err_str(&err),
			    "cannot connect to /nonexistent/ocid.sock: No such file or directory");
}

static int http(struct fixture *f, const char *method, const char *path, const char *body,
		size_t max, uint64_t timeout_ms, struct rpc_client_http_reply *reply,
		struct err *err)
{
	struct rpc_client_http_req req = {
		.method = method,
		.path = path,
		.content_type = body ? "application/json" : NULL,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = timeout_ms,
		.max_body = max,
	};

	return rpc_client_http(f->peer.http, &req, reply, err);
}

static void test_http(void **state)
{
	struct fixture *f = *state;
	cleanup_err struct err err = ERR_INIT;
	struct rpc_client_http_reply r;

	assert_int_equal(http(f, "GET", "/info", NULL, 0, 5000, &r, &err), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(r.body, "{\"name\": \"peer\"}");
	rpc_client_http_reply_done(&r);
	assert_int_equal(http(f, "GET", "/missing", NULL, 0, 5000, &r, &err), 0);
	assert_int_equal(r.status, 404);
	rpc_client_http_reply_done(&r);
	assert_int_equal(http(f, "GET", "/chunked", NULL, 0, 5000, &r, &err), 0);
	assert_string_equal(r.body, "hello chunked world");
	assert_int_equal(r.body_len, 19);
	rpc_client_http_reply_done(&r);
	assert_int_equal(http(f, "POST", "/import", "{\"a\": 1}", 0, 5000, &r, &err), 0);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "{\"a\": 1}");
	rpc_client_http_reply_done(&r);
	assert_int_equal(http(f, "GET", "/big", NULL, 1000, 5000, &r, &err), -EMSGSIZE);
	assert_int_equal(http(f, "GET", "/big", NULL, 100000, 5000, &r, &err), 0);
	assert_int_equal(r.body_len, 100000);
	rpc_client_http_reply_done(&r);
	assert_int_equal(http(f, "GET", "/slow", NULL, 0, 300, &r, &err), -ETIMEDOUT);
	/* An HTTP/2 peer is not an HTTP/1.1 server: a clean error, not a hang. */
	struct rpc_client_http_req req = { .method = "GET", .path = "/", .timeout_ms = 3000 };
	assert_true(rpc_client_http(f->peer.grpc, &req, &r, &err) < 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unary),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_server_gone),
		cmocka_unit_test(test_connect_missing),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test-rpc-client PEERS_PY\n");
		return 2;
	}
	peers_py = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
