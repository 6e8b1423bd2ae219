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

/* Mount points of cgroup and cgroup2 filesystems in our mount namespace. */
static char **cgroup_mounts(void)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	char **out = NULL;
	if (fs_read_file(AT_FDCWD, "/proc/self/mountinfo", 4 << 20, &text, &len, NULL) < 0)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mnt[4096], fstype[64];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (strcmp(fstype, "cgroup") == 0 || strcmp(fstype, "cgroup2") == 0)
			strv_push(&out, mnt);
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
	cleanup(strv_free) char **mounts = cgroup_mounts();
	for (size_t i = 0; mounts && mounts[i]; i++) {
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
	cleanup(strv_free) char **mounts = cgroup_mounts();
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; mounts && mounts[i]; i++) {
		cleanup_free char *procs = xasprintf("%s%s/cgroup.procs", mounts[i], path);
		cleanup_close int fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || fs_write_all(fd, buf, (size_t)n) < 0)
			return err_set(err, -errno, "move pid %d into '%s'", (int)pid, procs);
	}
	return 0;
}

int pod_cgroup_remove(const char *path, struct err *err)
{
	cleanup(strv_free) char **mounts = cgroup_mounts();
	int r = 0;
	for (size_t i = 0; mounts && mounts[i]; i++) {
		cleanup_free char *dir = xasprintf("%s%s", mounts[i], path);
		if (rmdir(dir) < 0 && errno != ENOENT && r >= 0)
			r = err_set(err, -errno, "remove cgroup '%s'", dir);
	}
	return r;
}
