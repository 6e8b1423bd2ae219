/* bench-rpc: gRPC round trip and throughput against a unix socket, with the
 * project's own client (rpcclient/rpcclient.h). Prints one "name value unit" line per
 * figure; asserts nothing.
 *
 * Usage: bench-rpc SOCKET [-n CALLS] [-w WARMUP] [-c STREAMS] [-C CONNS]
 *                         [-d SECONDS] [-p PREFIX] [-m METHOD]
 * The request is a CRI VersionRequest{version:"v1"}, hand-encoded. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rpcclient/rpcclient.h"

static const uint8_t version_req[] = { 0x0a, 0x02, 'v', '1' };

static const char *arg_socket;
static const char *arg_method = "/runtime.v1.RuntimeService/Version";
static const char *arg_prefix = "rpc";
static unsigned arg_calls = 20000, arg_warmup = 2000, arg_streams = 64, arg_conns = 4;
static double arg_seconds = 2.0;

static uint64_t now_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int one_call(struct rpc_client *c)
{
	cleanup_err struct err err = ERR_INIT;
	struct rpc_client_reply reply = { 0 };
	int r =
	    rpc_client_call(c, arg_method, version_req, sizeof(version_req), 10000, &reply, &err);

	if (r == 0 && reply.code != RPC_OK)
		r = -EIO;
	if (r < 0)
		fprintf(stderr, "bench-rpc: call failed: %s: %s\n", rpc_code_name(reply.code),
			reply.message ? reply.message : err_str(&err));
	rpc_client_reply_done(&reply);
	return r;
}

/* Sequential calls on one connection: p50, p99, mean. */
static int bench_sequential(struct rpc_client *c)
{
	cleanup_free uint64_t *lat = xcalloc(arg_calls, sizeof(*lat));
	uint64_t sum = 0;

	for (unsigned i = 0; i < arg_warmup; i++) {
		if (one_call(c) < 0)
			return -EIO;
	}
	for (unsigned i = 0; i < arg_calls; i++) {
		uint64_t t0 = now_ns();

		if (one_call(c) < 0)
			return -EIO;
		lat[i] = now_ns() - t0;
		sum += lat[i];
	}
	qsort(lat, arg_calls, sizeof(*lat), cmp_u64);
	printf("%s.seq_p50 %.1f us\n", arg_prefix, lat[arg_calls / 2] / 1000.0);
	printf("%s.seq_p99 %.1f us\n", arg_prefix, lat[arg_calls * 99 / 100] / 1000.0);
	printf("%s.seq_mean %.1f us\n", arg_prefix, (double)sum / arg_calls / 1000.0);
	printf("%s.seq_calls %u calls\n", arg_prefix, arg_calls);
	return 0;
}

/* Closed loop: `streams` calls kept in flight on one connection. */
struct loop {
	struct rpc_client *c;
	uint64_t until;
	unsigned done, failed;
	int rc;
};

static void loop_start(struct loop *l);

static void loop_done(void *data, struct rpc_client_reply *reply)
{
	struct loop *l = data;

	if (reply->code == RPC_OK)
		l->done++;
	else
		l->failed++;
	if (now_ns() < l->until)
		loop_start(l);
}

static void loop_start(struct loop *l)
{
	cleanup_err struct err err = ERR_INIT;
	struct rpc_client_req req = {
		.method = arg_method,
		.msg = version_req,
		.len = sizeof(version_req),
		.timeout_ms = 10000,
		.on_done = loop_done,
		.data = l,
	};

	if (rpc_client_start(l->c, &req, &err) < 0)
		l->failed++;
}

static void *loop_run(void *data)
{
	cleanup_err struct err err = ERR_INIT;
	struct loop *l = data;

	for (unsigned i = 0; i < arg_streams; i++)
		loop_start(l);
	l->rc = rpc_client_run(l->c, &err);
	if (l->rc < 0)
		fprintf(stderr, "bench-rpc: %s\n", err_str(&err));
	return NULL;
}

/* `conns` connections, each in its own thread with arg_streams in flight. */
static int bench_concurrent(unsigned conns, const char *name)
{
	cleanup_free struct loop *loops = xcalloc(conns, sizeof(*loops));
	cleanup_free pthread_t *threads = xcalloc(conns, sizeof(*threads));
	uint64_t t0, dt;
	unsigned done = 0, failed = 0;
	int rc = 0;

	for (unsigned i = 0; i < conns; i++) {
		cleanup_err struct err err = ERR_INIT;

		if (rpc_client_new(arg_socket, &loops[i].c, &err) < 0) {
			fprintf(stderr, "bench-rpc: %s\n", err_str(&err));
			conns = i;
			rc = -EIO;
			break;
		}
		/* Warm the connection up (settings exchange) before timing. */
		if (one_call(loops[i].c) < 0) {
			conns = i + 1;
			rc = -EIO;
			break;
		}
	}
	t0 = now_ns();
	for (unsigned i = 0; rc == 0 && i < conns; i++) {
		loops[i].until = t0 + (uint64_t)(arg_seconds * 1e9);
		if (pthread_create(&threads[i], NULL, loop_run, &loops[i]) != 0)
			abort();
	}
	for (unsigned i = 0; rc == 0 && i < conns; i++)
		(void)pthread_join(threads[i], NULL);
	dt = now_ns() - t0;
	for (unsigned i = 0; i < conns; i++) {
		done += loops[i].done;
		failed += loops[i].failed;
		if (loops[i].rc < 0)
			rc = loops[i].rc;
		rpc_client_free(loops[i].c);
	}
	if (rc < 0)
		return rc;
	printf("%s.%s %.0f calls/s\n", arg_prefix, name, done / (dt / 1e9));
	if (failed)
		printf("%s.%s_failed %u calls\n", arg_prefix, name, failed);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench-rpc SOCKET [-n CALLS] [-w WARMUP] [-c STREAMS] [-C CONNS] "
			"[-d SECONDS] [-p PREFIX] [-m METHOD]\n");
	return 2;
}

int main(int argc, char **argv)
{
	cleanup_err struct err err = ERR_INIT;
	cleanup(rpc_client_free) struct rpc_client *c = NULL;
	char name[64];
	int opt;

	while ((opt = getopt(argc, argv, "n:w:c:C:d:p:m:")) != -1) {
		switch (opt) {
		case 'n':
			arg_calls = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			arg_warmup = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			arg_streams = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'C':
			arg_conns = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			arg_seconds = strtod(optarg, NULL);
			break;
		case 'p':
			arg_prefix = optarg;
			break;
		case 'm':
			arg_method = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1 || arg_calls == 0 || arg_streams == 0 || arg_conns == 0)
		return usage();
	arg_socket = argv[optind];
	if (rpc_client_new(arg_socket, &c, &err) < 0) {
		fprintf(stderr, "bench-rpc: %s\n", err_str(&err));
		return 1;
	}
	if (bench_sequential(c) < 0)
		return 1;
	(void)snprintf(name, sizeof(name), "streams%u_conns1", arg_streams);
	if (bench_concurrent(1, name) < 0)
		return 1;
	(void)snprintf(name, sizeof(name), "streams%u_conns%u", arg_streams, arg_conns);
	if (bench_concurrent(arg_conns, name) < 0)
		return 1;
	return 0;
}
