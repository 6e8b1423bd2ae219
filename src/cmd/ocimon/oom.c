/* OOM kills of the container's cgroup: the oom_kill counter of cgroup v1
 * memory.oom_control or v2 memory.events, compared at exit with its value
 * at start; on v1 kernels without that counter, an eventfd notification
 * (cgroup.event_control) instead. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "ocimon.h"

#define CG_ROOT "/sys/fs/cgroup"

/* The "oom_kill N" value of the counter file, -1 when absent. */
static int64_t read_kills(const struct ocimon_oom *o)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", o->dir,
		 o->v1 ? "memory.oom_control" : "memory.events");
	cleanup_free char *s = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, path, 4096, &s, &len, NULL) < 0)
		return -1;
	for (char *line = s; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		unsigned long long v;
		if (sscanf(line, "oom_kill %llu", &v) == 1)
			return (int64_t)(v & INT64_MAX);
	}
	return -1;
}

/* From /proc/<pid>/cgroup: the v1 memory hierarchy line, else the v2 one. */
static bool find_cgroup(struct ocimon_oom *o, pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	cleanup_free char *s = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, path, 65536, &s, &len, NULL) < 0)
		return false;
	const char *v2 = NULL;
	for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1;
		if (strcmp(line, "0") == 0 && *ctrls == '\0') {
			v2 = c2 + 1;
			continue;
		}
		for (const char *p = ctrls; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
			if (strncmp(p, "memory", 6) == 0 && (p[6] == ',' || p[6] == '\0')) {
				o->v1 = true;
				snprintf(o->dir, sizeof(o->dir), CG_ROOT "/memory%s", c2 + 1);
				return true;
			}
		}
	}
	if (!v2)
		return false;
	struct stat st;
	bool unified = stat(CG_ROOT "/cgroup.controllers", &st) == 0;
	snprintf(o->dir, sizeof(o->dir), CG_ROOT "%s%s", unified ? "" : "/unified", v2);
	return true;
}

static void register_eventfd(struct ocimon_oom *o)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/memory.oom_control", o->dir);
	o->ctl_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->ctl_fd < 0)
		return;
	o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	snprintf(path, sizeof(path), "%s/cgroup.event_control", o->dir);
	cleanup_close int ec = open(path, O_WRONLY | O_CLOEXEC);
	char line[32];
	int n = snprintf(line, sizeof(line), "%d %d", o->efd, o->ctl_fd);
	if (o->efd < 0 || ec < 0 || write(ec, line, (size_t)n) != n) {
		if (o->efd >= 0)
			(void)close(o->efd);
		o->efd = -1;
	}
}

void ocimon_oom_init(struct ocimon_oom *o, pid_t pid)
{
	o->dir[0] = '\0';
	o->v1 = false;
	o->efd = o->ctl_fd = -1;
	o->seen = false;
	if (!find_cgroup(o, pid))
		return;
	o->kills_at_start = read_kills(o);
	/* The eventfd also fires when the cgroup is removed (runc delete), so
	 * it is used only where the kernel has no counter to compare. */
	if (o->v1 && o->kills_at_start < 0)
		register_eventfd(o);
}

bool ocimon_oom_check(struct ocimon_oom *o)
{
	if (o->efd >= 0) {
		uint64_t v;
		if (read(o->efd, &v, sizeof(v)) == sizeof(v) && v > 0)
			o->seen = true;
	}
	if (o->dir[0] && o->kills_at_start >= 0 && read_kills(o) > o->kills_at_start)
		o->seen = true;
	return o->seen;
}

void ocimon_oom_done(struct ocimon_oom *o)
{
	if (o->efd >= 0)
		(void)close(o->efd);
	if (o->ctl_fd >= 0)
		(void)close(o->ctl_fd);
	o->efd = o->ctl_fd = -1;
}
