/* stats readers over fake cgroup trees (v1 and v2 file sets in a temp
 * dir), the per-id cpu rate, and directory usage on a real temp tree. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "base/fs.h"
#include "stats/stats.h"

static char tmpdir[] = "/tmp/ocid-stats-test-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	cleanup_err struct err err = ERR_INIT;
	return fs_rm_rf_at(AT_FDCWD, tmpdir, &err) < 0 ? -1 : 0;
}

/* Write `content` to tmpdir/rel, creating directories. */
static void put(const char *rel, const char *content)
{
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *dir = xstrdup(rel);
	char *slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = '\0';
	cleanup_close int root = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int dfd = fs_mkdir_p_at(root, dir, 0755, &err);
	if (dfd < 0)
		fail_msg("%s", err_str(&err));
	if (fs_write_file_atomic(dfd, slash + 1, content, strlen(content), 0644, 0, &err) < 0)
		fail_msg("%s", err_str(&err));
}

static char *tpath(const char *rel)
{
	return fs_path_join(tmpdir, rel);
}

static void test_v1_tree(void **state)
{
	put("v1/cpuacct/ocid/c1/cpuacct.usage", "5000000000\n");
	put("v1/cpuacct/ocid/c1/cpuacct.usage_user", "3000000000\n");
	put("v1/cpuacct/ocid/c1/cpuacct.usage_sys", "2000000000\n");
	put("v1/cpu/ocid/c1/cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 400\n");
	put("v1/memory/ocid/c1/memory.usage_in_bytes", "1000000\n");
	put("v1/memory/ocid/c1/memory.limit_in_bytes", "4000000\n");
	put("v1/memory/ocid/c1/memory.stat",
	    "rss 10\ninactive_file 20\ntotal_rss 300000\ntotal_inactive_file 100000\n"
	    "total_pgfault 55\ntotal_pgmajfault 5\n");
	put("v1/memory/ocid/c1/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
	put("v1/pids/ocid/c1/pids.current", "3\n");
	put("v1/pids/ocid/c1/pids.max", "max\n");
	struct stats_layout l = {
		.cpu = tpath("v1/cpu"),
		.cpuacct = tpath("v1/cpuacct"),
		.memory = tpath("v1/memory"),
		.pids = tpath("v1/pids"),
	};
	struct stats_cgroup cg;
	cleanup_err struct err err = ERR_INIT;
	if (stats_cgroup_read(&l, "/ocid/c1", &cg, &err) < 0)
		fail_msg("%s", err_str(&err));
	assert_true(cg.timestamp_ns > 0);
	assert_true(cg.has_cpu && cg.has_memory && cg.has_pids);
	assert_int_equal(cg.cpu.usage_ns, 5000000000ULL);
	assert_int_equal(cg.cpu.user_ns, 3000000000ULL);
	assert_int_equal(cg.cpu.system_ns, 2000000000ULL);
	assert_true(cg.cpu.has_throttling);
	assert_int_equal(cg.cpu.nr_throttled, 2);
	assert_int_equal(cg.cpu.throttled_ns, 400);
	assert_int_equal(cg.memory.usage_bytes, 1000000);
	assert_int_equal(cg.memory.working_set_bytes, 900000);
	assert_int_equal(cg.memory.rss_bytes, 300000);
	assert_int_equal(cg.memory.page_faults, 55);
	assert_int_equal(cg.memory.major_page_faults, 5);
	assert_int_equal(cg.memory.limit_bytes, 4000000);
	assert_int_equal(cg.memory.available_bytes, 3100000);
	assert_int_equal(cg.memory.oom_kills, 2);
	assert_int_equal(cg.pids.current, 3);
	assert_true(cg.pids.limit == STATS_UNLIMITED);

	/* a cgroup in no hierarchy */
	assert_int_equal(stats_cgroup_read(&l, "/ocid/nope", &cg, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), "/ocid/nope"));
	assert_int_equal(stats_cgroup_read(&l, "/ocid/../etc", &cg, &err), -EINVAL);

	/* a garbled file is an error naming it */
	put("v1/memory/ocid/c1/memory.usage_in_bytes", "lots\n");
	assert_int_equal(stats_cgroup_read(&l, "ocid/c1", &cg, &err), -EBADMSG);
	assert_non_null(strstr(err_str(&err), "memory.usage_in_bytes"));

	/* only cpuacct present: the other controllers are just absent */
	struct stats_layout only = { .cpuacct = l.cpuacct };
	err_done(&err);
	assert_int_equal(stats_cgroup_read(&only, "/ocid/c1", &cg, &err), 0);
	assert_true(cg.has_cpu);
	assert_false(cg.has_memory);
	assert_false(cg.has_pids);
	assert_false(cg.cpu.has_throttling);
	stats_layout_done(&l);
}

static void test_v2_tree(void **state)
{
	put("v2/ocid/c2/cpu.stat", "usage_usec 700\nuser_usec 500\nsystem_usec 200\n"
				   "nr_periods 4\nnr_throttled 1\nthrottled_usec 9\n");
	put("v2/ocid/c2/memory.current", "8192\n");
	put("v2/ocid/c2/memory.max", "max\n");
	put("v2/ocid/c2/memory.stat", "anon 4096\nfile 4096\ninactive_file 1024\npgfault 3\n"
				      "pgmajfault 1\n");
	put("v2/ocid/c2/memory.events", "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n");
	put("v2/ocid/c2/pids.current", "1\n");
	put("v2/ocid/c2/pids.max", "64\n");
	/* a cgroup with only the core files: memory and pids not enabled */
	put("v2/ocid/c3/cpu.stat", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n");
	struct stats_layout l = { .v2 = tpath("v2") };
	cleanup(stats_free) struct stats *s = stats_new_take(&l);
	assert_null(l.v2);
	const struct stats_layout *sl = stats_get_layout(s);
	struct stats_cgroup cg;
	cleanup_err struct err err = ERR_INIT;
	if (stats_cgroup_sample(s, "c2", "/ocid/c2", &cg, &err) < 0)
		fail_msg("%s", err_str(&err));
	assert_int_equal(cg.cpu.usage_ns, 700000);
	assert_false(cg.cpu.has_nano_cores); /* first sample */
	assert_int_equal(cg.cpu.throttled_ns, 9000);
	assert_int_equal(cg.memory.usage_bytes, 8192);
	assert_int_equal(cg.memory.working_set_bytes, 7168);
	assert_int_equal(cg.memory.rss_bytes, 4096);
	assert_true(cg.memory.limit_bytes == STATS_UNLIMITED);
	assert_int_equal(cg.memory.available_bytes, 0);
	assert_int_equal(cg.memory.oom_kills, 1);
	assert_int_equal(cg.pids.limit, 64);
	assert_int_equal(stats_cgroup_read(sl, "/ocid/c3", &cg, &err), 0);
	assert_true(cg.has_cpu);
	assert_false(cg.has_memory);
	assert_false(cg.has_pids);
}

static void test_cpu_rate(void **state)
{
	struct stats_layout l = { 0 };
	cleanup(stats_free) struct stats *s = stats_new_take(&l);
	uint64_t nc = 1;
	const uint64_t sec = 1000000000ULL;
	assert_int_equal(stats_cpu_rate(s, "a", 10 * sec, 5 * sec, &nc), 0);
	assert_int_equal(nc, 0);
	/* half a core over 2 s */
	assert_int_equal(stats_cpu_rate(s, "a", 12 * sec, 6 * sec, &nc), 1);
	assert_int_equal(nc, sec / 2);
	/* a poll 10 ms later does not start a new interval */
	assert_int_equal(stats_cpu_rate(s, "a", 12 * sec + 10000000, 6 * sec + 10000000, &nc), 1);
	assert_int_equal(nc, sec / 2);
	/* two full cores over the next 1 s (measured from 12 s) */
	assert_int_equal(stats_cpu_rate(s, "a", 13 * sec, 8 * sec, &nc), 1);
	assert_int_equal(nc, 2 * sec);
	/* ids are independent */
	assert_int_equal(stats_cpu_rate(s, "b", 13 * sec, 1, &nc), 0);
	/* counter went back: a new cgroup under the same id */
	assert_int_equal(stats_cpu_rate(s, "a", 14 * sec, 1 * sec, &nc), 0);
	assert_int_equal(stats_cpu_rate(s, "a", 15 * sec, 1 * sec + sec / 4, &nc), 1);
	assert_int_equal(nc, sec / 4);
	/* forget: starts over */
	stats_forget(s, "a");
	stats_forget(s, "never-seen");
	assert_int_equal(stats_cpu_rate(s, "a", 16 * sec, 2 * sec, &nc), 0);
	/* min interval 0: every sample counts */
	stats_set_min_interval(s, 0);
	assert_int_equal(stats_cpu_rate(s, "a", 16 * sec + 1000, 2 * sec + 1000, &nc), 1);
	assert_int_equal(nc, sec);
	/* same timestamp: no division by zero */
	assert_int_equal(stats_cpu_rate(s, "a", 16 * sec + 1000, 2 * sec + 2000, &nc), 1);
	assert_int_equal(nc, sec);
}

static void test_fs_usage(void **state)
{
	cleanup_err struct err err = ERR_INIT;
	char big[8192];
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	put("fs/a/b/c/file1", big);
	put("fs/a/file2", "hello");
	put("fs/outside/huge", big);
	cleanup_free char *root = tpath("fs/a");
	cleanup_free char *f1 = tpath("fs/a/b/c/file1");
	cleanup_free char *ln = tpath("fs/a/hardlink");
	cleanup_free char *sl = tpath("fs/a/symlink");
	cleanup_free char *outside = tpath("fs/outside");
	assert_int_equal(link(f1, ln), 0);
	assert_int_equal(symlink(outside, sl), 0);

	struct stats_fs_usage u;
	if (stats_fs_usage(root, 0, &u, &err) < 0)
		fail_msg("%s", err_str(&err));
	/* a, b, c, file1 (twice linked, once counted), file2, symlink */
	assert_int_equal(u.inodes, 6);
	assert_false(u.truncated);
	assert_true(u.bytes >= 8192 && u.bytes < 64 * 1024);
	assert_true(u.timestamp_ns > 0);

	/* entry bound */
	assert_int_equal(stats_fs_usage(root, 2, &u, &err), 0);
	assert_true(u.truncated);
	assert_true(u.inodes <= 3);

	/* depth bound */
	cleanup_free char *deep = xstrdup("fs/deep");
	for (int i = 0; i < STATS_FS_MAX_DEPTH + 5; i++) {
		char *next = xasprintf("%s/d", deep);
		free(deep);
		deep = next;
	}
	char *leaf = xasprintf("%s/f", deep);
	put(leaf, "x");
	free(leaf);
	cleanup_free char *droot = tpath("fs/deep");
	assert_int_equal(stats_fs_usage(droot, 0, &u, &err), 0);
	assert_true(u.truncated);
	assert_int_equal(u.inodes, STATS_FS_MAX_DEPTH + 1);

	/* errors name the path */
	cleanup_free char *missing = tpath("fs/missing");
	assert_int_equal(stats_fs_usage(missing, 0, &u, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), "fs/missing"));
	cleanup_free char *file = tpath("fs/a/file2");
	assert_int_equal(stats_fs_usage(file, 0, &u, &err), -ENOTDIR);
}

static void test_fs_usage_cached(void **state)
{
	cleanup_err struct err err = ERR_INIT;
	put("fsc/one", "1");
	cleanup_free char *root = tpath("fsc");
	struct stats_layout l = { 0 };
	cleanup(stats_free) struct stats *s = stats_new_take(&l);
	struct stats_fs_usage u1, u2;
	assert_int_equal(stats_fs_usage_cached(s, "c", root, 60000000000ULL, &u1, &err), 0);
	assert_int_equal(u1.inodes, 2);
	put("fsc/two", "2");
	/* within max age: the cached walk */
	assert_int_equal(stats_fs_usage_cached(s, "c", root, 60000000000ULL, &u2, &err), 0);
	assert_int_equal(u2.inodes, 2);
	assert_true(u2.timestamp_ns == u1.timestamp_ns);
	/* max age 0: a new walk */
	assert_int_equal(stats_fs_usage_cached(s, "c", root, 0, &u2, &err), 0);
	assert_int_equal(u2.inodes, 3);
	/* forget drops it */
	put("fsc/three", "3");
	stats_forget(s, "c");
	assert_int_equal(stats_fs_usage_cached(s, "c", root, 60000000000ULL, &u2, &err), 0);
	assert_int_equal(u2.inodes, 4);
}

struct thread_arg {
	struct stats *s;
	int n;
	int rates; /* samples that gave a rate */
};

/* Each thread owns ids of its own; all share the table and its buckets. */
static void *rate_thread(void *p)
{
	struct thread_arg *a = p;
	char id[32], other[32];
	for (int i = 0; i < 2000; i++) {
		uint64_t nc;
		snprintf(id, sizeof(id), "t%d-%d", a->n, i % 50);
		snprintf(other, sizeof(other), "t%d-%d", a->n, (i + 25) % 50);
		if (stats_cpu_rate(a->s, id, (uint64_t)i * 1000, (uint64_t)i * 500, &nc) > 0) {
			a->rates++;
			if (nc != 500000000)
				return p; /* rates stays short of the expected count */
		}
		if (i % 7 == 0)
			stats_forget(a->s, other);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct stats_layout l = { 0 };
	cleanup(stats_free) struct stats *s = stats_new_take(&l);
	stats_set_min_interval(s, 0);
	pthread_t t[8];
	struct thread_arg args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct thread_arg){ .s = s, .n = i };
		assert_int_equal(pthread_create(&t[i], NULL, rate_thread, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		void *ret;
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
		assert_true(args[i].rates > 1000); /* forgets reset some ids, most give rates */
	}
}

static void test_layout_none(void **state)
{
	cleanup_err struct err err = ERR_INIT;
	struct stats_layout l;
	struct stats *s = NULL;
	assert_int_equal(stats_layout_detect(tmpdir, &l, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), tmpdir));
	assert_int_equal(stats_new(tmpdir, &s, &err), -ENOENT);
	assert_null(s);
	stats_layout_done(NULL);
	stats_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tree),		cmocka_unit_test(test_v2_tree),
		cmocka_unit_test(test_cpu_rate),	cmocka_unit_test(test_fs_usage),
		cmocka_unit_test(test_fs_usage_cached), cmocka_unit_test(test_layout_none),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
