/* cgroup readers: host layout, cgroup paths, cpu / memory / pids of v1 and
 * v2 hierarchies. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fs.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

/* 1 when `path` is a mount of filesystem `magic`, 0 when not or missing. */
static int is_fs(const char *path, long magic, struct err *err)
{
	struct statfs sf;
	if (statfs(path, &sf) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return err_set(err, -errno, "statfs '%s'", path);
	}
	return (long)sf.f_type == magic;
}

/* The first of `names` under root that is a cgroup v1 mount goes to *slot. */
static int detect_v1(const char *root, const char *const *names, char **slot, struct err *err)
{
	for (; *names; names++) {
		cleanup_free char *p = fs_path_join(root, *names);
		int r = is_fs(p, CGROUP_SUPER_MAGIC, err);
		if (r < 0)
			return r;
		if (r > 0) {
			*slot = TAKE_PTR(p);
			return 0;
		}
	}
	return 0;
}

/* Co-mounted cpu and cpuacct usually also have "cpu" and "cpuacct"
 * symlinks; without them only the joint name exists. */
static const char *const V1_CPU[] = { "cpu", "cpu,cpuacct", "cpuacct,cpu", NULL };
static const char *const V1_CPUACCT[] = { "cpuacct", "cpu,cpuacct", "cpuacct,cpu", NULL };
static const char *const V1_MEMORY[] = { "memory", NULL };
static const char *const V1_PIDS[] = { "pids", NULL };

int stats_layout_detect(const char *root, struct stats_layout *ret, struct err *err)
{
	struct stats_layout l = { 0 };
	if (!root)
		root = "/sys/fs/cgroup";
	int r = is_fs(root, CGROUP2_SUPER_MAGIC, err);
	if (r < 0)
		return r;
	if (r > 0) {
		ret->v2 = xstrdup(root);
		ret->cpu = ret->cpuacct = ret->memory = ret->pids = NULL;
		return 0;
	}
	cleanup_free char *unified = fs_path_join(root, "unified");
	if ((r = is_fs(unified, CGROUP2_SUPER_MAGIC, err)) < 0)
		return r;
	if (r > 0)
		l.v2 = TAKE_PTR(unified);
	if ((r = detect_v1(root, V1_CPU, &l.cpu, err)) < 0 ||
	    (r = detect_v1(root, V1_CPUACCT, &l.cpuacct, err)) < 0 ||
	    (r = detect_v1(root, V1_MEMORY, &l.memory, err)) < 0 ||
	    (r = detect_v1(root, V1_PIDS, &l.pids, err)) < 0) {
		stats_layout_done(&l);
		return r;
	}
	if (!l.v2 && !l.cpu && !l.cpuacct && !l.memory && !l.pids)
		return err_msg(err, -ENOENT, "no cgroup hierarchy is mounted under '%s'", root);
	*ret = l;
	return 0;
}

void stats_layout_done(struct stats_layout *l)
{
	if (!l)
		return;
	free(l->v2);
	free(l->cpu);
	free(l->cpuacct);
	free(l->memory);
	free(l->pids);
	*l = (struct stats_layout){ 0 };
}

/* "a-b.slice" → "/a.slice/a-b.slice"; "-.slice" → "". NULL when malformed. */
static char *expand_slice(const char *slice)
{
	if (strcmp(slice, "-.slice") == 0)
		return xstrdup("");
	size_t n = strlen(slice);
	if (!str_has_suffix(slice, ".slice") || n == strlen(".slice") || strchr(slice, '/'))
		return NULL;
	size_t base = n - strlen(".slice");
	if (slice[0] == '-' || slice[base - 1] == '-' || strstr(slice, "--"))
		return NULL;
	char *out = xstrdup("");
	for (size_t i = 0; i <= base; i++) {
		if (i < base && slice[i] != '-')
			continue;
		char *next = xasprintf("%s/%.*s.slice", out, (int)i, slice);
		free(out);
		out = next;
	}
	return out;
}

/* "slice:prefix:name" → path, or NULL when malformed. */
static char *systemd_path_expand(const char *cgroups_path)
{
	const char *c1 = strchr(cgroups_path, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2 || strchr(c2 + 1, ':') || c2[1] == '\0' || strchr(c2 + 1, '/'))
		return NULL;
	cleanup_free char *slice = xstrndup(cgroups_path, (size_t)(c1 - cgroups_path));
	cleanup_free char *prefix = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
	const char *name = c2 + 1;
	if (strchr(prefix, '/'))
		return NULL;
	if (str_has_suffix(name, ".slice")) {
		char *p = expand_slice(name);
		if (p && *p == '\0') {
			free(p);
			p = xstrdup("/");
		}
		return p;
	}
	cleanup_free char *dir = expand_slice(*slice ? slice : "system.slice");
	if (!dir)
		return NULL;
	return xasprintf("%s/%s%s%s.scope", dir, prefix, *prefix ? "-" : "", name);
}

static int systemd_path(const char *cgroups_path, char **ret, struct err *err)
{
	*ret = systemd_path_expand(cgroups_path);
	if (!*ret)
		return err_msg(err, -EINVAL,
			       "malformed systemd cgroup path '%s' (want slice:prefix:name)",
			       cgroups_path);
	return 0;
}

int stats_cgroup_path(const char *cgroups_path, char **ret, struct err *err)
{
	if (str_empty(cgroups_path))
		return err_msg(err, -EINVAL, "empty cgroup path");
	if (strchr(cgroups_path, ':'))
		return systemd_path(cgroups_path, ret, err);
	if (!strchr(cgroups_path, '/') && str_has_suffix(cgroups_path, ".slice")) {
		/* a bare systemd slice, as kubelet names a pod's cgroup parent */
		cleanup_free char *p = expand_slice(cgroups_path);
		if (!p)
			return err_msg(err, -EINVAL, "malformed systemd slice name '%s'",
				       cgroups_path);
		*ret = *p ? TAKE_PTR(p) : xstrdup("/");
		return 0;
	}
	cleanup_free char *abs =
	    cgroups_path[0] == '/' ? xstrdup(cgroups_path) : xasprintf("/%s", cgroups_path);
	if (fs_path_clean(abs, ret) < 0)
		return err_msg(err, -EINVAL, "cgroup path '%s' has a '..' component", cgroups_path);
	return 0;
}

/* Open the directory of cgroup `rel` (clean, no leading '/') under `mount`.
 * -ENOENT without an error message when absent. */
static int open_cg(const char *mount, const char *rel, struct err *err)
{
	if (!mount)
		return -ENOENT;
	cleanup_free char *p = fs_path_join(mount, rel);
	int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return err_set(err, -errno, "open cgroup '%s'", p);
	return fd < 0 ? -ENOENT : fd;
}

/* Read `name` under dirfd; -ENOENT is returned without touching err when
 * `optional`. */
static int read_cg_file(int dirfd, const char *name, bool optional, char **buf, size_t *len,
			struct err *err)
{
	cleanup_err struct err e = ERR_INIT;
	int r = fs_read_file(dirfd, name, STATS_FILE_MAX, buf, len, &e);
	if (r == -ENOENT && optional)
		return r;
	if (r < 0)
		return err_move(err, &e);
	return 0;
}

static int read_cg_u64(int dirfd, const char *name, bool optional, uint64_t *ret, struct err *err)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int r = read_cg_file(dirfd, name, optional, &buf, &len, err);
	if (r < 0)
		return r;
	if (stats_parse_u64(buf, len, ret) < 0)
		return err_msg(err, -EBADMSG, "%s: not a number", name);
	return 0;
}

/* Read and parse `name` with `parse` (a stats_parse_* of the kv family). */
#define READ_PARSE(dirfd, name, optional, parse, out, err)                          \
	({                                                                          \
		cleanup_free char *buf_ = NULL;                                     \
		size_t len_;                                                        \
		int r_ = read_cg_file(dirfd, name, optional, &buf_, &len_, err);    \
		if (r_ >= 0 && parse(buf_, len_, out) < 0)                          \
			r_ = err_msg(err, -EBADMSG, "%s: unexpected format", name); \
		r_;                                                                 \
	})

static int read_cpu_v1(const struct stats_layout *l, const char *rel, struct stats_cpu *cpu,
		       struct err *err)
{
	cleanup_close int fd = open_cg(l->cpuacct, rel, err);
	if (fd < 0)
		return fd;
	int r = read_cg_u64(fd, "cpuacct.usage", false, &cpu->usage_ns, err);
	if (r < 0)
		return r;
	if ((r = read_cg_u64(fd, "cpuacct.usage_user", true, &cpu->user_ns, err)) < 0 &&
	    r != -ENOENT)
		return r;
	if ((r = read_cg_u64(fd, "cpuacct.usage_sys", true, &cpu->system_ns, err)) < 0 &&
	    r != -ENOENT)
		return r;
	cleanup_close int cfd = open_cg(l->cpu, rel, err);
	if (cfd == -ENOENT)
		return 0;
	if (cfd < 0)
		return cfd;
	struct stats_cpu thr = { 0 };
	r = READ_PARSE(cfd, "cpu.stat", true, stats_parse_cpu_stat, &thr, err);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	cpu->has_throttling = thr.has_throttling;
	cpu->nr_periods = thr.nr_periods;
	cpu->nr_throttled = thr.nr_throttled;
	cpu->throttled_ns = thr.throttled_ns;
	return 0;
}

static int read_cpu(const struct stats_layout *l, const char *rel, struct stats_cgroup *ret,
		    struct err *err)
{
	int r;
	if (l->cpuacct) {
		r = read_cpu_v1(l, rel, &ret->cpu, err);
	} else {
		cleanup_close int fd = open_cg(l->v2, rel, err);
		if (fd < 0)
			return fd;
		r = READ_PARSE(fd, "cpu.stat", false, stats_parse_cpu_stat, &ret->cpu, err);
	}
	ret->has_cpu = r >= 0;
	return r;
}

static int read_memory_dir(int fd, bool v2, struct stats_memory *m, struct err *err)
{
	uint64_t usage, limit, kills = 0;
	struct stats_memory_stat ms;
	int r = read_cg_u64(fd, v2 ? "memory.current" : "memory.usage_in_bytes", v2, &usage, err);
	if (r < 0)
		return r; /* v2: -ENOENT when the controller is not enabled here */
	if ((r = read_cg_u64(fd, v2 ? "memory.max" : "memory.limit_in_bytes", false, &limit, err)) <
	    0)
		return r;
	if ((r = READ_PARSE(fd, "memory.stat", false, stats_parse_memory_stat, &ms, err)) < 0)
		return r;
	r = READ_PARSE(fd, v2 ? "memory.events" : "memory.oom_control", true,
		       stats_parse_memory_events, &kills, err);
	if (r < 0 && r != -ENOENT)
		return r;
	stats_memory_compute(usage, limit, &ms, v2, m);
	m->oom_kills = kills;
	return 0;
}

static int read_memory(const struct stats_layout *l, const char *rel, struct stats_cgroup *ret,
		       struct err *err)
{
	bool v2 = !l->memory;
	cleanup_close int fd = open_cg(v2 ? l->v2 : l->memory, rel, err);
	if (fd < 0)
		return fd;
	int r = read_memory_dir(fd, v2, &ret->memory, err);
	ret->has_memory = r >= 0;
	return r;
}

static int read_pids(const struct stats_layout *l, const char *rel, struct stats_cgroup *ret,
		     struct err *err)
{
	cleanup_close int fd = open_cg(l->pids ? l->pids : l->v2, rel, err);
	if (fd < 0)
		return fd;
	int r = read_cg_u64(fd, "pids.current", true, &ret->pids.current, err);
	if (r < 0)
		return r;
	if ((r = read_cg_u64(fd, "pids.max", false, &ret->pids.limit, err)) < 0)
		return r;
	ret->has_pids = true;
	return 0;
}

int stats_cgroup_read(const struct stats_layout *l, const char *path, struct stats_cgroup *ret,
		      struct err *err)
{
	cleanup_free char *clean = NULL;
	int r = stats_cgroup_path(path, &clean, err);
	if (r < 0)
		return r;
	const char *rel = clean + 1; /* relative to each mount; "" for the root */
	*ret = (struct stats_cgroup){ .timestamp_ns = (uint64_t)wall_ns() };
	int (*readers[])(const struct stats_layout *, const char *, struct stats_cgroup *,
			 struct err *) = { read_cpu, read_memory, read_pids };
	bool any = false;
	for (size_t i = 0; i < ARRAY_SIZE(readers); i++) {
		cleanup_err struct err e = ERR_INIT;
		r = readers[i](l, rel, ret, &e);
		if (r < 0 && r != -ENOENT) {
			(void)err_move(err, &e);
			return err_wrap(err, "cgroup '%s'", clean);
		}
		any |= r >= 0;
	}
	if (!any)
		return err_msg(err, -ENOENT, "cgroup '%s' does not exist", clean);
	return 0;
}
