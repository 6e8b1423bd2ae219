/* `ocid wipe`'s end of the pods (ocid stopped, its database perhaps
 * damaged): what runs in a pod's shared PID namespace or in its cgroup is
 * killed and the cgroup removed. The pods are those with a directory in
 * the runroot; their cgroups are found by name ("ocid-pod-<id>") anywhere
 * in each hierarchy, since a pod's parent is kubelet's choice and only the
 * database knew it. Processes are killed through pidfds (or a v2
 * cgroup.kill), so a pid reused meanwhile is never hit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "base/id.h"
#include "pod/pod_int.h"
#include "proc/proc.h"

#define WIPE_KILL_TIMEOUT_MS 5000
#define WIPE_MAX_DEPTH 32

/* Paths below `mnt` (from its root, "/a/b/ocid-pod-ID") of the
 * directories named in `names`, into *found; their subtrees are not
 * searched, nor are other filesystems mounted below. */
static void find_dirs(const char *mnt, dev_t dev, const char *rel, char *const *names, int depth,
		      char ***found)
{
	cleanup_free char *dir = xasprintf("%s%s", mnt, rel);
	DIR *d = depth < WIPE_MAX_DEPTH ? opendir(dir) : NULL;
	if (!d)
		return;
	struct dirent *de;
	struct stat st;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		cleanup_free char *sub = xasprintf("%s/%s", rel, de->d_name);
		if (strv_contains(names, de->d_name)) {
			if (!strv_contains(*found, sub))
				strv_push(found, sub);
		} else {
			find_dirs(mnt, dev, sub, names, depth + 1, found);
		}
	}
	closedir(d);
}

/* Whether `pid` is in the PID namespace `want` ("pid:[4026532xxx]"). */
static bool in_pidns(pid_t pid, const char *want)
{
	char link[64], got[64];
	snprintf(link, sizeof(link), "/proc/%d/ns/pid", (int)pid);
	ssize_t n = readlink(link, got, sizeof(got) - 1);
	return n > 0 && (got[n] = '\0', strcmp(got, want) == 0);
}

/* Whether `pid` is in the cgroup `want` (":/a/b\n", a line's end of
 * /proc/<pid>/cgroup) of some hierarchy. */
static bool in_cgroup(pid_t pid, const char *want)
{
	cleanup_free char *path = xasprintf("/proc/%d/cgroup", (int)pid);
	cleanup_free char *got = NULL;
	size_t n = 0;
	return fs_read_file(AT_FDCWD, path, 64 << 10, &got, &n, NULL) >= 0 &&
	       strstr(got, want) != NULL;
}

/* Kill `pid` if `in(pid, want)` still holds once we hold a pidfd on it
 * (so that a pid reused since it was read is left alone). */
static void kill_if(pid_t pid, bool (*in)(pid_t, const char *), const char *want)
{
	cleanup_close int fd = pidfd_open(pid, 0);
	if (fd >= 0 && in(pid, want))
		(void)pidfd_send_signal(fd, SIGKILL, NULL, 0);
}

/* Thaw a frozen `dir` (a frozen task never sees its SIGKILL), then kill
 * what is in it and below: a v2 cgroup.kill, else each process listed.
 * How many processes were still there (v2: 1 while any is). */
static unsigned kill_tree(const char *dir, const char *rel, int depth)
{
	static const char *const thaw[][2] = { { "freezer.state", "THAWED" },
					       { "cgroup.freeze", "0" } };
	for (size_t i = 0; i < sizeof(thaw) / sizeof(thaw[0]); i++) {
		cleanup_free char *f = xasprintf("%s/%s", dir, thaw[i][0]);
		cleanup_close int fd = open(f, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			(void)fs_write_all(fd, thaw[i][1], strlen(thaw[i][1]));
	}
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	cleanup_free char *text = NULL;
	size_t len = 0;
	unsigned n = 0;
	if (fs_read_file(AT_FDCWD, procs, 1 << 20, &text, &len, NULL) >= 0 && len > 0) {
		cleanup_free char *ck = xasprintf("%s/cgroup.kill", dir);
		cleanup_close int fd = open(ck, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && fs_write_all(fd, "1", 1) == 0)
			return 1; /* the whole subtree, forks included */
		cleanup_free char *want = xasprintf(":%s\n", rel);
		for (char *p = text, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			n++;
			kill_if((pid_t)pid, in_cgroup, want);
		}
	}
	DIR *d = depth < WIPE_MAX_DEPTH ? opendir(dir) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
			cleanup_free char *subrel = xasprintf("%s/%s", rel, de->d_name);
			n += kill_tree(sub, subrel, depth + 1);
		}
	if (d)
		closedir(d);
	return n;
}

/* rmdir `dir` and what is below it, deepest first. */
static int remove_tree(const char *dir, int depth)
{
	DIR *d = depth < WIPE_MAX_DEPTH ? opendir(dir) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
			(void)remove_tree(sub, depth + 1);
		}
	if (d)
		closedir(d);
	return rmdir(dir) == 0 || errno == ENOENT ? 0 : -errno;
}

static long since_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Kill what runs in cgroup `rel` of every hierarchy until nothing does,
 * then remove it; 0, or -errno with the directory that stayed. */
static int end_cgroup(char *const *mounts, const char *rel, struct err *err)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		unsigned left = 0;
		for (size_t i = 0; mounts[i]; i += 2) {
			cleanup_free char *dir = xasprintf("%s%s", mounts[i], rel);
			left += kill_tree(dir, rel, 0);
		}
		int r = 0;
		const char *kept = NULL;
		for (size_t i = 0; mounts[i]; i += 2) {
			cleanup_free char *dir = xasprintf("%s%s", mounts[i], rel);
			int e = remove_tree(dir, 0);
			if (e < 0 && r == 0) {
				r = e;
				kept = mounts[i];
			}
		}
		if (r == 0 || (left == 0 && r != -EBUSY) || since_ms(&t0) > WIPE_KILL_TIMEOUT_MS)
			return r == 0 ? 0 : err_set(err, r, "remove cgroup '%s%s'", kept, rel);
		usleep(10000); /* the killed are still exiting */
	}
}

/* Kill every process in the PID namespace pinned at `pinned` (a pod's
 * shared one: ocid-pause and its containers), whatever cgroup it is in
 * (with the systemd driver a pod has none of its own). Never ours. */
static void kill_pidns(const char *pinned)
{
	struct stat ns;
	if (!proc_ns_is_pinned_other(pinned, "pid") || lstat(pinned, &ns) < 0)
		return;
	char want[64];
	snprintf(want, sizeof(want), "pid:[%llu]", (unsigned long long)ns.st_ino);
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end = NULL;
		long pid = strtol(de->d_name, &end, 10);
		if (pid > 0 && !*end && in_pidns((pid_t)pid, want))
			kill_if((pid_t)pid, in_pidns, want);
	}
	if (d)
		closedir(d);
}

unsigned pod_leftovers_wipe(const char *runroot, char ***problems)
{
	cleanup_free char *pods = xasprintf("%s/pods", runroot);
	cleanup(strv_free) char **all = NULL;
	int r = fs_list_dir(pods, &all);
	if (r < 0 && r != -ENOENT)
		strv_push_take(problems, xasprintf("read '%s': %s", pods, strerror(-r)));
	cleanup(strv_free) char **names = NULL;
	for (size_t i = 0; all && all[i]; i++) {
		if (!id_valid(all[i]))
			continue;
		cleanup_free char *pidns = xasprintf("%s/%s/ns/pid", pods, all[i]);
		kill_pidns(pidns);
		strv_push_take(&names, xasprintf("ocid-pod-%s", all[i]));
	}
	cleanup(strv_free) char **mounts = pod_cgroup_mounts();
	cleanup(strv_free) char **found = NULL;
	struct stat st;
	for (size_t i = 0; names && mounts && mounts[i]; i += 2)
		if (stat(mounts[i], &st) == 0)
			find_dirs(mounts[i], st.st_dev, "", names, 0, &found);
	unsigned n = 0;
	for (size_t i = 0; found && found[i]; i++) {
		cleanup_err struct err e = ERR_INIT;
		if (end_cgroup(mounts, found[i], &e) < 0)
			strv_push(problems, err_str(&e));
		else
			n++;
	}
	return n;
}
