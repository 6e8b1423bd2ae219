/* The pod's cgroup with the cgroupfs driver: one directory in every mounted
 * hierarchy (v1 controllers and the unified one), removed with the pod. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "pod/pod_int.h"

char **pod_cgroup_mounts(void)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	char **out = NULL;
	if (fs_read_file(AT_FDCWD, "/proc/self/mountinfo", 4 << 20, &text, &len, NULL) < 0)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mnt[4096], fstype[64], opts[512];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %511s", fstype, opts) != 2)
			continue;
		if (strcmp(fstype, "cgroup2") == 0) {
			strv_push(&out, mnt);
			strv_push(&out, "2");
		} else if (strcmp(fstype, "cgroup") == 0) {
			strv_push(&out, mnt);
			strv_push(&out, opts);
		}
	}
	return out;
}

static void copy_if_empty(const char *dir, const char *parent, const char *file)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, file);
	cleanup_free char *pp = xasprintf("%s/%s", parent, file);
	cleanup_free char *cur = NULL, *val = NULL;
	size_t n = 0;
	if (fs_read_file(AT_FDCWD, p, 4096, &cur, &n, NULL) < 0 || strspn(cur, " \n") != n)
		return;
	if (fs_read_file(AT_FDCWD, pp, 4096, &val, &n, NULL) < 0)
		return;
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		(void)fs_write_all(fd, val, n);
}

/* mkdir -p `rel` under mount `mnt`; in a cpuset hierarchy new levels get
 * their parent's cpus and mems, or no task could ever join them. */
static int mkdir_levels(const char *mnt, const char *rel, struct err *err)
{
	cleanup(strv_free) char **parts = strv_split(rel, '/');
	cleanup_free char *cur = xstrdup(mnt);
	for (size_t i = 0; parts && parts[i]; i++) {
		char *next = xasprintf("%s/%s", cur, parts[i]);
		if (mkdir(next, 0755) == 0) {
			copy_if_empty(next, cur, "cpuset.cpus");
			copy_if_empty(next, cur, "cpuset.mems");
		} else if (errno != EEXIST) {
			int r = err_set(err, -errno, "create cgroup '%s'", next);
			free(next);
			return r;
		}
		free(cur);
		cur = next;
	}
	return 0;
}

int pod_cgroup_create(const char *path, struct err *err)
{
	cleanup(strv_free) char **mounts = pod_cgroup_mounts();
	for (size_t i = 0; mounts && mounts[i]; i += 2) {
		/* A v1 hierarchy mounted below another (rare) is skipped by
		 * nothing here: every mount gets the directory. */
		int r = mkdir_levels(mounts[i], path + (path[0] == '/'), err);
		if (r < 0) {
			(void)pod_cgroup_remove(path, NULL);
			return r;
		}
	}
	return 0;
}

int pod_cgroup_add_pid(const char *path, pid_t pid, struct err *err)
{
	cleanup(strv_free) char **mounts = pod_cgroup_mounts();
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; mounts && mounts[i]; i += 2) {
		cleanup_free char *procs = xasprintf("%s%s/cgroup.procs", mounts[i], path);
		cleanup_close int fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || fs_write_all(fd, buf, (size_t)n) < 0)
			return err_set(err, -errno, "move pid %d into '%s'", (int)pid, procs);
	}
	return 0;
}

static bool has_opt(const char *opts, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Write `value` to <dir>/<file>; a file that is not there (a controller
 * not enabled) is skipped unless `must`. */
static int set_file(const char *dir, const char *file, const char *value, bool must,
		    struct err *err)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !must)
		return 0;
	if (fd < 0 || fs_write_all(fd, value, strlen(value)) < 0)
		return err_set(err, -errno, "write '%s' to '%s'", value, p);
	return 0;
}

static int set_v1(const char *dir, const char *opts, const struct pod_cgroup_limits *l,
		  struct err *err)
{
	char v[64];
	int r = 0;
	if (has_opt(opts, "memory")) {
		snprintf(v, sizeof(v), "%lld", (long long)l->memory);
		r = set_file(dir, "memory.limit_in_bytes", v, true, err);
	}
	if (r >= 0 && has_opt(opts, "cpu")) {
		if (l->shares > 0) {
			snprintf(v, sizeof(v), "%lld", (long long)l->shares);
			r = set_file(dir, "cpu.shares", v, true, err);
		}
		/* Unlimited first, so that a period and quota pair never
		 * passes through a combination the kernel refuses. */
		if (r >= 0)
			r = set_file(dir, "cpu.cfs_quota_us", "-1", true, err);
		snprintf(v, sizeof(v), "%lld", (long long)l->period);
		if (r >= 0 && l->period > 0)
			r = set_file(dir, "cpu.cfs_period_us", v, true, err);
		snprintf(v, sizeof(v), "%lld", (long long)l->quota);
		if (r >= 0 && l->quota > 0)
			r = set_file(dir, "cpu.cfs_quota_us", v, true, err);
	}
	return r;
}

static int set_v2(const char *dir, const struct pod_cgroup_limits *l, struct err *err)
{
	char v[64];
	if (l->memory > 0)
		snprintf(v, sizeof(v), "%lld", (long long)l->memory);
	else
		snprintf(v, sizeof(v), "max");
	int r = set_file(dir, "memory.max", v, false, err);
	if (r >= 0 && l->shares > 0) {
		/* The conversion runc and the kubelet use: [2, 262144] onto [1, 10000]. */
		long long s = l->shares < 2 ? 2 : l->shares > 262144 ? 262144 : l->shares;
		snprintf(v, sizeof(v), "%lld", 1 + ((s - 2) * 9999) / 262142);
		r = set_file(dir, "cpu.weight", v, false, err);
	}
	long long period = l->period > 0 ? l->period : 100000;
	if (l->quota > 0)
		snprintf(v, sizeof(v), "%lld %lld", (long long)l->quota, period);
	else
		snprintf(v, sizeof(v), "max %lld", period);
	if (r >= 0)
		r = set_file(dir, "cpu.max", v, false, err);
	return r;
}

int pod_cgroup_set_limits(const char *path, const struct pod_cgroup_limits *l, struct err *err)
{
	cleanup(strv_free) char **mounts = pod_cgroup_mounts();
	int r = 0;
	for (size_t i = 0; r >= 0 && mounts && mounts[i] && mounts[i + 1]; i += 2) {
		cleanup_free char *dir = xasprintf("%s%s", mounts[i], path);
		struct stat st;
		if (stat(dir, &st) < 0)
			continue; /* not in this hierarchy (or removed already) */
		r = strcmp(mounts[i + 1], "2") == 0 ? set_v2(dir, l, err)
						    : set_v1(dir, mounts[i + 1], l, err);
	}
	return r;
}

int pod_cgroup_remove(const char *path, struct err *err)
{
	cleanup(strv_free) char **mounts = pod_cgroup_mounts();
	int r = 0;
	for (size_t i = 0; mounts && mounts[i]; i += 2) {
		cleanup_free char *dir = xasprintf("%s%s", mounts[i], path);
		if (rmdir(dir) < 0 && errno != ENOENT && r >= 0)
			r = err_set(err, -errno, "remove cgroup '%s'", dir);
	}
	return r;
}
