/* `ocid wipe`'s end of the pods (ocid stopped, its database perhaps
 * damaged): what runs in a pod's shared PID namespace or in its cgroup is
 * killed and the cgroup removed.
 * The pods are those with a directory in the runroot; their cgroups are
 * found by name ("ocid-pod-<id>") anywhere in each hierarchy, since a pod's
 * parent is kubelet's choice and only the database knew it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "pod/pod_int.h"
#include "proc/proc.h"

#define WIPE_KILL_TIMEOUT_MS 5000
#define WIPE_MAX_DEPTH 32

/* Paths below `mnt` (from its root, "/a/b/ocid-pod-ID") of the
 * directories named in `names`, into *found; their subtrees are not
 * searched. */
static void find_dirs(const char *mnt, const char *rel, char *const *names, int depth,
		      char ***found)
{
	cleanup_free char *dir = xasprintf("%s%s", mnt, rel);
	DIR *d = depth < WIPE_MAX_DEPTH ? opendir(dir) : NULL;
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		cleanup_free char *sub = xasprintf("%s/%s", rel, de->d_name);
		if (strv_contains(names, de->d_name)) {
			if (!strv_contains(*found, sub))
				strv_push(found, sub);
		} else {
			find_dirs(mnt, sub, names, depth + 1, found);
		}
	}
	closedir(d);
}

/* SIGKILL every process in `dir` and below; how many were there. */
static unsigned kill_tree(const char *dir, int depth)
{
	unsigned n = 0;
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, procs, 1 << 20, &text, &len, NULL) >= 0)
		for (char *p = text, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				n++;
		}
	DIR *d = depth < WIPE_MAX_DEPTH ? opendir(dir) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
			n += kill_tree(sub, depth + 1);
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

/* Kill what runs in cgroup `rel` of every hierarchy until nothing does,
 * then remove it; 0, or -errno of a hierarchy that kept it. */
static int end_cgroup(char *const *mounts, const char *rel)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		unsigned left = 0;
		for (size_t i = 0; mounts[i]; i += 2) {
			cleanup_free char *dir = xasprintf("%s%s", mounts[i], rel);
			left += kill_tree(dir, 0);
		}
		int r = 0;
		for (size_t i = 0; mounts[i]; i += 2) {
			cleanup_free char *dir = xasprintf("%s%s", mounts[i], rel);
			int e = remove_tree(dir, 0);
			r = r < 0 ? r : e;
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (r == 0 || (left == 0 && r != -EBUSY) || ms > WIPE_KILL_TIMEOUT_MS)
			return r;
		usleep(10000); /* the killed are still exiting */
	}
}

/* SIGKILL every process in the PID namespace pinned at `pinned` (a pod's
 * shared one: ocid-pause and its containers), whatever cgroup it is in
 * (with the systemd driver a pod has none of its own). */
static void kill_pidns(const char *pinned)
{
	struct stat ns;
	if (!proc_ns_is_pinned(pinned) || stat(pinned, &ns) < 0)
		return;
	char want[64];
	snprintf(want, sizeof(want), "pid:[%llu]", (unsigned long long)ns.st_ino);
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end = NULL;
		long pid = strtol(de->d_name, &end, 10);
		if (pid <= 0 || *end)
			continue;
		char link[64], got[64];
		snprintf(link, sizeof(link), "/proc/%ld/ns/pid", pid);
		ssize_t n = readlink(link, got, sizeof(got) - 1);
		if (n > 0 && (got[n] = '\0', strcmp(got, want) == 0))
			(void)kill((pid_t)pid, SIGKILL);
	}
	if (d)
		closedir(d);
}

unsigned pod_wipe(const char *runroot, char ***problems)
{
	cleanup_free char *pods = xasprintf("%s/pods", runroot);
	cleanup(strv_free) char **ids = NULL;
	if (fs_list_dir(pods, &ids) <= 0)
		return 0;
	for (size_t i = 0; ids[i]; i++) {
		cleanup_free char *pidns = xasprintf("%s/%s/ns/pid", pods, ids[i]);
		kill_pidns(pidns);
	}
	cleanup(strv_free) char **names = NULL;
	for (size_t i = 0; ids[i]; i++)
		strv_push_take(&names, xasprintf("ocid-pod-%s", ids[i]));
	cleanup(strv_free) char **mounts = pod_cgroup_mounts();
	cleanup(strv_free) char **found = NULL;
	for (size_t i = 0; mounts && mounts[i]; i += 2)
		find_dirs(mounts[i], "", names, 0, &found);
	unsigned n = 0;
	for (size_t i = 0; found && found[i]; i++, n++) {
		int r = end_cgroup(mounts, found[i]);
		if (r < 0)
			strv_push_take(problems,
				       xasprintf("remove cgroup '%s': %s", found[i], strerror(-r)));
	}
	return n;
}
