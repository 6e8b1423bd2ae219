/* Debug endpoints for tests of the streaming HTTP path (only with
 * enable_debug_rpc):
 *   POST /debug/echo          the body streamed back as it arrives
 *   GET  /debug/ticks?n=N     N lines "tick i\n", 100 ms apart */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpapi/httpapi_int.h"

#define ECHO_BUF (64u * 1024u)
#define TICKS_MAX 100
#define TICK_NS 100000000L

static void echo(void *data, const struct rpc_http_request *req, struct rpc_http_stream *s)
{
	if (strcmp(req->method, "POST") != 0) {
		rpc_http_stream_begin(s, 405, "application/json");
		rpc_http_stream_write(s, "{\"error\":\"use POST\"}\n", 21);
		return;
	}
	rpc_http_stream_begin(s, 200, "application/octet-stream");
	cleanup_free uint8_t *buf = xmalloc(ECHO_BUF);
	ssize_t n;
	while ((n = rpc_http_stream_read(s, buf, ECHO_BUF)) > 0)
		if (rpc_http_stream_write(s, buf, (size_t)n) < 0)
			return;
	if (n < 0)
		log_debug("echo: client went away", "error=%s", log_q(strerror((int)-n)));
}

static void ticks(void *data, const struct rpc_http_request *req, struct rpc_http_stream *s)
{
	uint64_t v = 3;
	if (str_has_prefix(req->query, "n=") && str_to_u64(req->query + 2, 10, TICKS_MAX, &v) < 0)
		v = 3;
	int n = (int)v;
	rpc_http_stream_begin(s, 200, "text/plain");
	for (int i = 0; i < n && !rpc_http_stream_gone(s); i++) {
		char line[32];
		int k = snprintf(line, sizeof(line), "tick %d\n", i);
		if (rpc_http_stream_write(s, line, (size_t)k) < 0)
			return;
		struct timespec ts = { 0, TICK_NS };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

void httpapi_register_debug(struct rpc_server *srv)
{
	rpc_server_add_http_stream(srv, "/debug/echo", RPC_LONG, echo, NULL);
	rpc_server_add_http_stream(srv, "/debug/ticks", RPC_LONG, ticks, NULL);
}
