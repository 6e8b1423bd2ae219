/* stats on real cgroups: a child that burns cpu and touches memory is moved
 * into fresh cgroups (v1 memory, cpuacct, cpu, pids and the unified
 * hierarchy, whichever this host mounts); its numbers must be plausible and
 * grow. Needs root. Everything is removed afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "base/fs.h"
#include "stats/stats.h"

#define MIB (1024 * 1024)
#define STEP_MIB 16

struct fixture {
	struct stats_layout l;
	char name[64]; /* cgroup name under each hierarchy's root */
	char *dirs[5]; /* created cgroup directories, NULL-padded */
	pid_t child;
	int go_w;    /* parent → child: one byte per "touch STEP_MIB more" */
	int ready_r; /* child → parent: one byte per step done */
};

static int write_str(const char *dir, const char *file, const char *s)
{
	cleanup_free char *p = fs_path_join(dir, file);
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fs_write_all(fd, s, strlen(s));
}

/* The child: burns cpu forever; each byte on `go` touches STEP_MIB more. */
static void child_main(int go_r, int ready_w)
{
	volatile uint64_t spin = 0;
	(void)fcntl(go_r, F_SETFL, O_NONBLOCK);
	for (;;) {
		char c;
		if (read(go_r, &c, 1) == 1) {
			char *p = mmap(NULL, STEP_MIB * MIB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				_exit(1);
			for (size_t i = 0; i < STEP_MIB * MIB; i += 4096)
				p[i] = 1;
			if (write(ready_w, "r", 1) != 1)
				_exit(1);
		}
		for (int i = 0; i < 100000; i++)
			spin++;
	}
}

static void step(struct fixture *f)
{
	char c;
	assert_int_equal(write(f->go_w, "g", 1), 1);
	assert_int_equal(read(f->ready_r, &c, 1), 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int teardown(void **state);

static int setup_fixture(struct fixture *f)
{
	cleanup_err struct err err = ERR_INIT;
	if (stats_layout_detect(NULL, &f->l, &err) < 0) {
		fprintf(stderr, "layout: %s\n", err_str(&err));
		return -1;
	}
	snprintf(f->name, sizeof(f->name), "ocid-stats-test-%d", (int)getpid());
	const char *mounts[] = { f->l.memory, f->l.cpuacct, f->l.cpu, f->l.pids, f->l.v2 };
	for (size_t i = 0, n = 0; i < ARRAY_SIZE(mounts); i++) {
		if (!mounts[i])
			continue;
		char *d = fs_path_join(mounts[i], f->name);
		if (mkdir(d, 0755) < 0) {
			fprintf(stderr, "mkdir %s: %m\n", d);
			free(d);
			return -1;
		}
		f->dirs[n++] = d;
	}
	if (f->l.memory)
		(void)write_str(f->dirs[0], "memory.limit_in_bytes", "268435456");
	int go[2], ready[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(ready, O_CLOEXEC) < 0) {
		(void)close(go[0]);
		(void)close(go[1]);
		return -1;
	}
	f->go_w = go[1];
	f->ready_r = ready[0];
	f->child = fork();
	if (f->child < 0)
		return -1;
	if (f->child == 0) {
		char c;
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* wait until moved: memory is charged where it is first touched */
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		child_main(go[0], ready[1]);
	}
	(void)close(go[0]);
	(void)close(ready[1]);
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)f->child);
	for (size_t i = 0; i < ARRAY_SIZE(f->dirs) && f->dirs[i]; i++) {
		int r = write_str(f->dirs[i], "cgroup.procs", pid);
		if (r < 0) {
			fprintf(stderr, "move to %s: %s\n", f->dirs[i], strerror(-r));
			return -1;
		}
	}
	if (write(f->go_w, "s", 1) != 1)
		return -1;
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = xnew(struct fixture);
	f->child = -1;
	f->go_w = f->ready_r = -1;
	*state = f;
	if (setup_fixture(f) < 0) {
		(void)teardown(state);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = 0;
	if (!f)
		return 0;
	if (f->child > 0) {
		(void)kill(f->child, SIGKILL);
		(void)waitpid(f->child, NULL, 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(f->dirs) && f->dirs[i]; i++) {
		/* the reaped child may take a moment to leave the cgroup */
		int tries = 0;
		while (rmdir(f->dirs[i]) < 0 && errno == EBUSY && tries++ < 100)
			sleep_ms(10);
		if (access(f->dirs[i], F_OK) == 0) {
			fprintf(stderr, "could not remove %s\n", f->dirs[i]);
			rc = -1;
		}
		free(f->dirs[i]);
	}
	(void)close(f->go_w);
	(void)close(f->ready_r);
	stats_layout_done(&f->l);
	free(f);
	return rc;
}

static void read_cg(struct stats *s, const struct fixture *f, struct stats_cgroup *cg)
{
	cleanup_err struct err err = ERR_INIT;
	if (stats_cgroup_sample(s, "ctr", f->name, cg, &err) < 0)
		fail_msg("%s", err_str(&err));
}

static void test_v1_or_default(void **state)
{
	struct fixture *f = *state;
	struct stats_layout l = { 0 };
	l.v2 = f->l.v2 ? xstrdup(f->l.v2) : NULL;
	l.cpu = f->l.cpu ? xstrdup(f->l.cpu) : NULL;
	l.cpuacct = f->l.cpuacct ? xstrdup(f->l.cpuacct) : NULL;
	l.memory = f->l.memory ? xstrdup(f->l.memory) : NULL;
	l.pids = f->l.pids ? xstrdup(f->l.pids) : NULL;
	cleanup(stats_free) struct stats *s = stats_new_take(&l);
	stats_set_min_interval(s, 0);

	step(f);
	sleep_ms(200);
	struct stats_cgroup a, b;
	read_cg(s, f, &a);
	assert_true(a.has_cpu);
	assert_true(a.cpu.usage_ns > 0);
	assert_false(a.cpu.has_nano_cores);
	step(f);
	sleep_ms(300);
	read_cg(s, f, &b);
	print_message(
	    "cpu %llu ns, %llu nano cores; memory usage %llu ws %llu rss %llu faults %llu; "
	    "pids %llu\n",
	    (unsigned long long)b.cpu.usage_ns, (unsigned long long)b.cpu.usage_nano_cores,
	    (unsigned long long)b.memory.usage_bytes,
	    (unsigned long long)b.memory.working_set_bytes, (unsigned long long)b.memory.rss_bytes,
	    (unsigned long long)b.memory.page_faults, (unsigned long long)b.pids.current);
	assert_true(b.timestamp_ns > a.timestamp_ns);
	assert_true(b.cpu.usage_ns > a.cpu.usage_ns);
	/* one spinning thread: well above 0.1 core, at most a little over 1 */
	assert_true(b.cpu.has_nano_cores);
	assert_true(b.cpu.usage_nano_cores > 100000000ULL);
	assert_true(b.cpu.usage_nano_cores < 1300000000ULL);
	if (f->l.memory || b.has_memory) {
		assert_true(b.has_memory);
		assert_true(a.memory.rss_bytes >= STEP_MIB * MIB);
		assert_true(b.memory.rss_bytes >= a.memory.rss_bytes + (STEP_MIB - 1) * MIB);
		assert_true(b.memory.usage_bytes >= b.memory.working_set_bytes);
		assert_true(b.memory.working_set_bytes >= 2 * STEP_MIB * MIB);
		assert_true(b.memory.page_faults > a.memory.page_faults);
		assert_true(b.memory.page_faults >= STEP_MIB * MIB / 4096);
	}
	if (f->l.memory) {
		assert_int_equal(b.memory.limit_bytes, 268435456);
		assert_int_equal(b.memory.available_bytes, 268435456 - b.memory.working_set_bytes);
	}
	if (f->l.pids) {
		assert_true(b.has_pids);
		assert_int_equal(b.pids.current, 1);
		assert_true(b.pids.limit == STATS_UNLIMITED);
	}
}

/* The unified hierarchy alone (on a hybrid host it has the core cpu.stat
 * even with no controller enabled). */
static void test_v2_only(void **state)
{
	struct fixture *f = *state;
	if (!f->l.v2) {
		print_message("no unified hierarchy on this host\n");
		return;
	}
	struct stats_layout l = { .v2 = xstrdup(f->l.v2) };
	cleanup(stats_free) struct stats *s = stats_new_take(&l);
	stats_set_min_interval(s, 0);
	struct stats_cgroup a, b;
	read_cg(s, f, &a);
	sleep_ms(200);
	read_cg(s, f, &b);
	assert_true(a.has_cpu);
	assert_true(b.cpu.usage_ns > a.cpu.usage_ns);
	assert_true(b.cpu.user_ns > 0);
	assert_true(b.cpu.has_nano_cores && b.cpu.usage_nano_cores > 100000000ULL);
	/* memory / pids appear exactly when enabled in this cgroup */
	cleanup_free char *p = fs_path_join(f->l.v2, f->name);
	cleanup_free char *cur = fs_path_join(p, "memory.current");
	assert_int_equal(b.has_memory, access(cur, F_OK) == 0);
}

static void test_layout(void **state)
{
	struct fixture *f = *state;
	const char *mounts[] = { f->l.memory, f->l.cpuacct, f->l.cpu, f->l.pids, f->l.v2 };
	bool any = false;
	for (size_t i = 0; i < ARRAY_SIZE(mounts); i++) {
		if (!mounts[i])
			continue;
		any = true;
		cleanup_free char *procs = fs_path_join(mounts[i], "cgroup.procs");
		assert_int_equal(access(procs, F_OK), 0);
	}
	assert_true(any);
	/* a v1 controller listed in /proc/self/cgroup is found */
	cleanup_free char *self = NULL;
	size_t len;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(fs_read_file(AT_FDCWD, "/proc/self/cgroup", 1 << 16, &self, &len, &err),
			 0);
	if (strstr(self, ":memory:"))
		assert_non_null(f->l.memory);
	if (strstr(self, ":pids:"))
		assert_non_null(f->l.pids);
	if (strstr(self, "cpuacct"))
		assert_non_null(f->l.cpuacct);
}

static void test_missing(void **state)
{
	struct fixture *f = *state;
	struct stats_cgroup cg;
	cleanup_err struct err err = ERR_INIT;
	char name[96];
	snprintf(name, sizeof(name), "/%s-missing", f->name);
	assert_int_equal(stats_cgroup_read(&f->l, name, &cg, &err), -ENOENT);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "needs root\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_or_default),
		cmocka_unit_test(test_v2_only),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_missing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
