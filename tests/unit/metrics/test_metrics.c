/* metrics: counters, the exposition text, /proc/<pid>/stat, the server. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics/metrics.h"

static void collect(void *data, struct metrics_out *out)
{
	metrics_out_family(out, "ocid_test_gauge", "gauge", "A test.");
	cleanup_free char *v = metrics_label_escape(data);
	cleanup_free char *labels = xasprintf("name=\"%s\"", v);
	metrics_out_u64(out, "ocid_test_gauge", labels, 42);
}

static void test_render(void **state)
{
	cleanup(metrics_free) struct metrics *m = metrics_new();
	struct metrics_op *ver = metrics_op_add(m, "Version");
	struct metrics_op *pull = metrics_op_add(m, "PullImage");
	assert_ptr_equal(metrics_op_find(m, "PullImage"), pull);
	assert_null(metrics_op_find(m, "Nope"));
	metrics_op_observe(ver, 200000, 0);	    /* 0.2 ms */
	metrics_op_observe(ver, 20000000, 0);	    /* 20 ms */
	metrics_op_observe(pull, 3000000000ULL, 5); /* 3 s, NOT_FOUND */
	metrics_op_observe(pull, 1000, 99);	    /* out of range: UNKNOWN */
	metrics_op_observe(NULL, 1, 1);
	assert_int_equal(metrics_op_errors(pull, 5), 1);
	assert_int_equal(metrics_op_errors(pull, 2), 1);
	metrics_add_collector(m, collect, "a\"b\\c\nd");
	cleanup_free char *t = metrics_render(m);
	assert_non_null(strstr(t, "# TYPE ocid_operations_total counter\n"));
	assert_non_null(strstr(t, "ocid_operations_total{operation=\"Version\"} 2\n"));
	assert_non_null(strstr(t, "ocid_operations_total{operation=\"PullImage\"} 2\n"));
	assert_non_null(strstr(
	    t, "ocid_operations_latency_seconds_bucket{operation=\"Version\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(
	    t, "ocid_operations_latency_seconds_bucket{operation=\"Version\",le=\"0.025\"} 2\n"));
	assert_non_null(strstr(
	    t, "ocid_operations_latency_seconds_bucket{operation=\"Version\",le=\"+Inf\"} 2\n"));
	assert_non_null(
	    strstr(t, "ocid_operations_latency_seconds_count{operation=\"PullImage\"} 2\n"));
	assert_non_null(
	    strstr(t, "ocid_operations_latency_seconds_sum{operation=\"Version\"} 0.020200000\n"));
	assert_non_null(strstr(
	    t, "ocid_operations_errors_total{operation=\"PullImage\",code=\"NOT_FOUND\"} 1\n"));
	assert_non_null(strstr(
	    t, "ocid_operations_errors_total{operation=\"PullImage\",code=\"UNKNOWN\"} 1\n"));
	assert_null(strstr(t, "code=\"OK\""));
	assert_non_null(strstr(t, "# TYPE process_resident_memory_bytes gauge\n"));
	assert_non_null(strstr(t, "process_threads 1\n"));
	assert_non_null(strstr(t, "ocid_processes_defunct "));
	assert_non_null(strstr(t, "ocid_test_gauge{name=\"a\\\"b\\\\c\\nd\"} 42\n"));
}

static void test_stat(void **state)
{
	/* A comm with spaces and a ')' of its own. */
	const char *s = "1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 7 0 "
			"500 123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0\n";
	struct metrics_proc p;
	assert_int_equal(metrics_proc_stat_parse(s, strlen(s), 100, 4096, 1000.0, &p), 0);
	assert_int_equal(metrics_proc_stat_state(s, strlen(s)), 'S');
	assert_true(p.cpu_seconds > 3.99 && p.cpu_seconds < 4.01);
	assert_int_equal(p.threads, 7);
	assert_true(p.start_time_s > 1004.99 && p.start_time_s < 1005.01);
	assert_int_equal(p.vsize_bytes, 123456789);
	assert_int_equal(p.rss_bytes, 300 * 4096);
	const char *z = "9 (x) Z 1";
	assert_int_equal(metrics_proc_stat_state(z, strlen(z)), 'Z');
	assert_int_equal(metrics_proc_stat_parse(z, strlen(z), 100, 4096, 0, &p), -EINVAL);
	const char *bad[] = { "", "1 (x", "1 (x)", "1 (x)S", "1 (x) S 1 x 3" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(metrics_proc_stat_parse(bad[i], strlen(bad[i]), 100, 4096, 0, &p),
				 -EINVAL);
	assert_int_equal(metrics_proc_stat_state("1 (x)", 5), 0);
}

static char *get(const char *path, const char *request)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	char *buf = xmalloc(1 << 20);
	size_t got = 0;
	ssize_t r;
	while ((r = read(fd, buf + got, (1 << 20) - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(fd);
	return buf;
}

static void test_serve_unix(void **state)
{
	char dir[] = "/tmp/metrics-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cleanup_free char *path = xasprintf("%s/m.sock", dir);
	cleanup_err struct err err = ERR_INIT;
	struct metrics *m = metrics_new();
	metrics_op_observe(metrics_op_add(m, "Status"), 1, 0);
	assert_int_equal(metrics_serve(m, "127.0.0.1", 0, path, &err), 0);
	assert_int_equal(metrics_port(m), 0);
	cleanup_free char *ok = get(path, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(str_has_prefix(ok, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(ok, "text/plain; version=0.0.4"));
	assert_non_null(strstr(ok, "ocid_operations_total{operation=\"Status\"} 1\n"));
	cleanup_free char *nf = get(path, "GET /nope HTTP/1.1\r\n\r\n");
	assert_true(str_has_prefix(nf, "HTTP/1.1 404 "));
	cleanup_free char *bad = get(path, "nonsense\r\n\r\n");
	assert_true(str_has_prefix(bad, "HTTP/1.1 400 "));
	cleanup_free char *post = get(path, "POST /metrics HTTP/1.1\r\n\r\n");
	assert_true(str_has_prefix(post, "HTTP/1.1 405 "));
	/* A second server on the same live socket is refused. */
	struct metrics *m2 = metrics_new();
	assert_int_equal(metrics_serve(m2, "127.0.0.1", 0, path, &err), -EADDRINUSE);
	metrics_free(m2);
	err_done(&err);
	metrics_free(m);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(rmdir(dir), 0);
	/* A bad address is the caller's error. */
	m = metrics_new();
	assert_int_equal(metrics_serve(m, "not-an-ip", 0, "", &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "not-an-ip"));
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_serve_unix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
