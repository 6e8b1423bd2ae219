/* Pure parsers of stats: fixtures taken from this kind of host (hybrid
 * cgroups, kernel 6.x) plus edge cases. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "base/fs.h"
#include "stats/stats.h"

static char *fixture(const char *name, size_t *len)
{
	char *buf = NULL;
	cleanup_free char *p = fs_path_join(FIXTURES, name);
	cleanup_err struct err err = ERR_INIT;
	int r = fs_read_file(AT_FDCWD, p, 1 << 20, &buf, len, &err);
	if (r < 0)
		fail_msg("%s", err_str(&err));
	return buf;
}

#define PARSE_STR(fn, s, out) fn(s, strlen(s), out)

static void test_memory_stat_v1(void **state)
{
	size_t len;
	cleanup_free char *buf = fixture("v1_memory.stat", &len);
	struct stats_memory_stat ms;
	assert_int_equal(stats_parse_memory_stat(buf, len, &ms), 0);
	assert_true(ms.has_total);
	assert_int_equal(ms.rss, 1884160);
	assert_int_equal(ms.total_rss, 1884160);
	assert_int_equal(ms.inactive_file, 688128);
	assert_int_equal(ms.total_inactive_file, 688128);
	assert_int_equal(ms.total_pgfault, 199239);
	assert_int_equal(ms.total_pgmajfault, 30);
	assert_int_equal(ms.hierarchical_memory_limit, 9223372036854771712ULL);

	struct stats_memory m;
	stats_memory_compute(6447104, 9223372036854771712ULL, &ms, false, &m);
	assert_int_equal(m.usage_bytes, 6447104);
	assert_int_equal(m.working_set_bytes, 6447104 - 688128);
	assert_int_equal(m.rss_bytes, 1884160);
	assert_int_equal(m.page_faults, 199239);
	assert_int_equal(m.major_page_faults, 30);
	assert_true(m.limit_bytes == STATS_UNLIMITED);
	assert_int_equal(m.available_bytes, 0);
}

static void test_memory_stat_v2(void **state)
{
	size_t len;
	cleanup_free char *buf = fixture("v2_memory.stat", &len);
	struct stats_memory_stat ms;
	assert_int_equal(stats_parse_memory_stat(buf, len, &ms), 0);
	assert_false(ms.has_total);
	assert_int_equal(ms.anon, 1212416);
	assert_int_equal(ms.file, 4194304);
	assert_int_equal(ms.inactive_file, 3145728);
	assert_int_equal(ms.pgfault, 2391);
	assert_int_equal(ms.pgmajfault, 7);

	struct stats_memory m;
	stats_memory_compute(6000000, 8 << 20, &ms, true, &m);
	assert_int_equal(m.working_set_bytes, 6000000 - 3145728);
	assert_int_equal(m.rss_bytes, 1212416);
	assert_int_equal(m.page_faults, 2391);
	assert_int_equal(m.major_page_faults, 7);
	assert_int_equal(m.limit_bytes, 8 << 20);
	assert_int_equal(m.available_bytes, (8 << 20) - (6000000 - 3145728));
}

static void test_memory_compute_edges(void **state)
{
	struct stats_memory_stat ms = { .inactive_file = 5000 };
	struct stats_memory m;
	/* inactive larger than usage: working set clamps at 0 */
	stats_memory_compute(4000, STATS_UNLIMITED, &ms, true, &m);
	assert_int_equal(m.working_set_bytes, 0);
	assert_int_equal(m.available_bytes, 0);
	/* over the limit: nothing available */
	stats_memory_compute(20000, 10000, &ms, true, &m);
	assert_int_equal(m.working_set_bytes, 15000);
	assert_int_equal(m.available_bytes, 0);
	/* v1 without total_* keys (an old kernel or a leaf): the local keys */
	struct stats_memory_stat v1 = {
		.rss = 7, .pgfault = 8, .pgmajfault = 9, .inactive_file = 1
	};
	stats_memory_compute(100, 1ULL << 62, &v1, false, &m);
	assert_int_equal(m.rss_bytes, 7);
	assert_int_equal(m.page_faults, 8);
	assert_int_equal(m.major_page_faults, 9);
	assert_int_equal(m.working_set_bytes, 99);
	assert_true(m.limit_bytes == STATS_UNLIMITED);
	/* v1 limit below the "unlimited" floor is a limit */
	stats_memory_compute(100, 1000, &v1, false, &m);
	assert_int_equal(m.limit_bytes, 1000);
	assert_int_equal(m.available_bytes, 901);
}

static void test_cpu_stat(void **state)
{
	size_t len;
	struct stats_cpu c;
	cleanup_free char *v1 = fixture("v1_cpu.stat", &len);
	assert_int_equal(stats_parse_cpu_stat(v1, len, &c), 0);
	assert_true(c.has_throttling);
	assert_int_equal(c.usage_ns, 0);

	cleanup_free char *v2 = fixture("v2_cpu.stat", &len);
	assert_int_equal(stats_parse_cpu_stat(v2, len, &c), 0);
	assert_false(c.has_throttling); /* the root cgroup has no cpu controller stats */
	assert_int_equal(c.usage_ns, 1660533977000ULL);
	assert_int_equal(c.user_ns, 1441017972000ULL);
	assert_int_equal(c.system_ns, 219516004000ULL);

	cleanup_free char *thr = fixture("v2_cpu_throttled.stat", &len);
	assert_int_equal(stats_parse_cpu_stat(thr, len, &c), 0);
	assert_true(c.has_throttling);
	assert_int_equal(c.usage_ns, 8077213000ULL);
	assert_int_equal(c.nr_periods, 1240);
	assert_int_equal(c.nr_throttled, 31);
	assert_int_equal(c.throttled_ns, 2187654000ULL);

	/* v1 throttled_time is already ns */
	assert_int_equal(PARSE_STR(stats_parse_cpu_stat, "nr_periods 3\nthrottled_time 77\n", &c),
			 0);
	assert_int_equal(c.throttled_ns, 77);
	/* usec that would overflow in ns saturates */
	assert_int_equal(PARSE_STR(stats_parse_cpu_stat, "usage_usec 18446744073709551615", &c), 0);
	assert_true(c.usage_ns == UINT64_MAX);
}

static void test_u64(void **state)
{
	size_t len;
	uint64_t v;
	cleanup_free char *buf = fixture("v1_cpuacct.usage", &len);
	assert_int_equal(stats_parse_u64(buf, len, &v), 0);
	assert_int_equal(v, 1699480693295ULL);
	assert_int_equal(PARSE_STR(stats_parse_u64, "max\n", &v), 0);
	assert_true(v == STATS_UNLIMITED);
	assert_int_equal(PARSE_STR(stats_parse_u64, "18446744073709551615\n", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(PARSE_STR(stats_parse_u64, "0", &v), 0);
	assert_int_equal(v, 0);
	const char *bad[] = { "", "\n", "18446744073709551616", " 5", "-1", "12a", "maxi", "1 2" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(PARSE_STR(stats_parse_u64, bad[i], &v), -EBADMSG);
	/* not NUL-terminated: only len bytes count */
	assert_int_equal(stats_parse_u64("123456", 3, &v), 0);
	assert_int_equal(v, 123);
}

static void test_memory_events(void **state)
{
	size_t len;
	uint64_t k = 99;
	cleanup_free char *v2 = fixture("v2_memory.events", &len);
	assert_int_equal(stats_parse_memory_events(v2, len, &k), 0);
	assert_int_equal(k, 1);
	cleanup_free char *v1 = fixture("v1_memory.oom_control", &len);
	assert_int_equal(stats_parse_memory_events(v1, len, &k), 0);
	assert_int_equal(k, 0);
	assert_int_equal(PARSE_STR(stats_parse_memory_events, "low 0\n", &k), 0);
	assert_int_equal(k, 0);
	assert_int_equal(PARSE_STR(stats_parse_memory_events, "oom_kill x\n", &k), -EBADMSG);
	assert_int_equal(PARSE_STR(stats_parse_memory_events, "oom_kill\n", &k), -EBADMSG);
	assert_int_equal(PARSE_STR(stats_parse_memory_events, "oom_kill 3", &k), 0);
	assert_int_equal(k, 3);
}

static void test_kv_edges(void **state)
{
	struct stats_memory_stat ms;
	/* empty is fine: every field 0 */
	assert_int_equal(PARSE_STR(stats_parse_memory_stat, "", &ms), 0);
	assert_int_equal(ms.rss, 0);
	/* a line that is not "key value" */
	assert_int_equal(PARSE_STR(stats_parse_memory_stat, "rss 1\ngarbage\n", &ms), -EBADMSG);
	assert_int_equal(PARSE_STR(stats_parse_memory_stat, " 1\n", &ms), -EBADMSG);
	/* unknown keys with odd values are ignored; blank lines, CRLF tolerated */
	assert_int_equal(PARSE_STR(stats_parse_memory_stat, "future -3\n\nrss 5\r\nanon 6", &ms),
			 0);
	assert_int_equal(ms.rss, 5);
	assert_int_equal(ms.anon, 6);
	/* a known key must carry a number within 64 bits */
	assert_int_equal(PARSE_STR(stats_parse_memory_stat, "rss 99999999999999999999\n", &ms),
			 -EBADMSG);
	assert_int_equal(PARSE_STR(stats_parse_memory_stat, "rss 1 2\n", &ms), -EBADMSG);
	/* a key that is a prefix of a known one is another key */
	assert_int_equal(PARSE_STR(stats_parse_memory_stat, "rs 5\nrss_huge 7\n", &ms), 0);
	assert_int_equal(ms.rss, 0);
}

static void test_net_dev(void **state)
{
	size_t len;
	cleanup_free char *buf = fixture("net_dev", &len);
	struct stats_net n = { 0 };
	assert_int_equal(stats_parse_net_dev(buf, len, &n), 0);
	assert_int_equal(n.n_ifaces, 3); /* lo skipped */
	assert_string_equal(n.ifaces[0].name, "ifb0");
	assert_string_equal(n.ifaces[2].name, "eth0");
	assert_int_equal(n.ifaces[2].rx_bytes, 45379050);
	assert_int_equal(n.ifaces[2].rx_packets, 1095);
	assert_int_equal(n.ifaces[2].tx_bytes, 65210);
	assert_int_equal(n.ifaces[2].tx_packets, 826);
	struct stats_net_iface t;
	stats_net_total(&n, &t);
	assert_int_equal(t.rx_bytes, 45379050);
	assert_string_equal(t.name, "");
	stats_net_done(&n);
	assert_null(n.ifaces);
	stats_net_done(NULL);
}

static void test_net_dev_edges(void **state)
{
	const char *hdr = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n";
	struct stats_net n = { 0 };
	char buf[1024];
	/* headers only: no interfaces */
	assert_int_equal(stats_parse_net_dev(hdr, strlen(hdr), &n), 0);
	assert_int_equal(n.n_ifaces, 0);
	stats_net_done(&n);
	/* errors and drops land where they should */
	snprintf(buf, sizeof(buf), "%sveth1:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", hdr);
	assert_int_equal(stats_parse_net_dev(buf, strlen(buf), &n), 0);
	assert_int_equal(n.n_ifaces, 1);
	assert_string_equal(n.ifaces[0].name, "veth1");
	assert_int_equal(n.ifaces[0].rx_errors, 3);
	assert_int_equal(n.ifaces[0].rx_dropped, 4);
	assert_int_equal(n.ifaces[0].tx_bytes, 9);
	assert_int_equal(n.ifaces[0].tx_errors, 11);
	assert_int_equal(n.ifaces[0].tx_dropped, 12);
	stats_net_done(&n);
	const char *bad[] = {
		"",
		"Inter-|\n",
		"no header\nat all\n",
		"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n",		      /* 15 counters */
		"eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",	      /* no colon */
		"0123456789abcdef: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", /* name too long */
		"et h0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",	      /* space in name */
		": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",		      /* no name */
		"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(buf, sizeof(buf), "%s%s", i < 3 ? "" : hdr, bad[i]);
		assert_int_equal(stats_parse_net_dev(buf, strlen(buf), &n), -EBADMSG);
		assert_null(n.ifaces);
	}
}

static void check_path(const char *in, const char *want)
{
	cleanup_free char *out = NULL;
	cleanup_err struct err err = ERR_INIT;
	int r = stats_cgroup_path(in, &out, &err);
	if (!want) {
		assert_int_equal(r, -EINVAL);
		assert_non_null(err.msg);
		return;
	}
	if (r < 0)
		fail_msg("%s: %s", in, err_str(&err));
	assert_string_equal(out, want);
}

static void test_cgroup_path(void **state)
{
	check_path("/ocid/pod-1/ctr-2", "/ocid/pod-1/ctr-2");
	check_path("ocid//pod-1/./ctr-2/", "/ocid/pod-1/ctr-2");
	check_path("/", "/");
	check_path("/a/../b", NULL);
	check_path("..", NULL);
	check_path("", NULL);
	check_path(NULL, NULL);
	check_path("kubepods-besteffort.slice:cri-o:abc",
		   "/kubepods.slice/kubepods-besteffort.slice/cri-o-abc.scope");
	check_path("a-b-c.slice:ocid:x", "/a.slice/a-b.slice/a-b-c.slice/ocid-x.scope");
	check_path(":ocid:abc", "/system.slice/ocid-abc.scope");
	check_path("-.slice:ocid:abc", "/ocid-abc.scope");
	check_path("system.slice::abc", "/system.slice/abc.scope");
	check_path("x.slice:p:kubepods-burstable.slice",
		   "/kubepods.slice/kubepods-burstable.slice");
	check_path(
	    "kubepods-burstable-pod12.slice:ocid:ab",
	    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice/ocid-ab.scope");
	check_path("kubepods-besteffort.slice", "/kubepods.slice/kubepods-besteffort.slice");
	check_path("-.slice", "/");
	check_path("a--b.slice", NULL);
	check_path("/a-b.slice", "/a-b.slice"); /* a cgroupfs path that happens to end so */
	check_path("a.slice:b", NULL);
	check_path("a.slice:b:c:d", NULL);
	check_path("a:p:n", NULL);
	check_path("a--b.slice:p:n", NULL);
	check_path("-a.slice:p:n", NULL);
	check_path("a-.slice:p:n", NULL);
	check_path(".slice:p:n", NULL);
	check_path("a.slice:p:", NULL);
	check_path("a.slice:p:../x", NULL);
	check_path("a/b.slice:p:n", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_stat_v1),
		cmocka_unit_test(test_memory_stat_v2),
		cmocka_unit_test(test_memory_compute_edges),
		cmocka_unit_test(test_cpu_stat),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_memory_events),
		cmocka_unit_test(test_kv_edges),
		cmocka_unit_test(test_net_dev),
		cmocka_unit_test(test_net_dev_edges),
		cmocka_unit_test(test_cgroup_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
