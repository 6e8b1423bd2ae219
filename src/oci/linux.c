/* The spec's "linux" object: namespaces, cgroupsPath, resources, devices,
 * masked and read-only paths, sysctls and seccomp. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

static const char *const default_masked[] = {
	"/proc/acpi",
	"/proc/asound",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
};
static const char *const default_readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* Host devices are walked at most this deep and this many are listed. */
#define DEV_DEPTH_MAX 8
#define DEV_COUNT_MAX 4096

static int ns_add(json_t *a, const char *type, const struct oci_ns *ns, struct err *err)
{
	switch (ns->mode) {
	case OCI_NS_NODE:
		return 0;
	case OCI_NS_CONTAINER:
		json_array_append_new(a, json_pack("{s:s}", "type", type));
		return 0;
	case OCI_NS_POD:
	case OCI_NS_TARGET:
		if (str_empty(ns->path) || ns->path[0] != '/')
			return err_msg(
			    err, -EINVAL,
			    "%s namespace mode %s needs the absolute path of the namespace to join",
			    type, ns->mode == OCI_NS_POD ? "POD" : "TARGET");
		json_array_append_new(a, json_pack("{s:s,s:s}", "type", type, "path", ns->path));
		return 0;
	}
	return err_msg(err, -EINVAL, "%s namespace: unknown mode %d", type, (int)ns->mode);
}

uint32_t oci_idmap_to_host(const struct oci_idmap *m, uint32_t id)
{
	if (id < m->container_id || id - m->container_id >= m->length)
		return 65534;
	return m->host_id + (id - m->container_id);
}

static json_t *idmap_json(const struct oci_idmap *m)
{
	return json_pack("[{s:I,s:I,s:I}]", "containerID", (json_int_t)m->container_id, "hostID",
			 (json_int_t)m->host_id, "size", (json_int_t)m->length);
}

static int namespaces_json(const struct oci_namespaces *ns, json_t **ret, struct err *err)
{
	json_t *a = json_pack("[{s:s}]", "type", "mount");
	int r = 0;
	/* The user namespace first: the others are owned by it. */
	if (ns->user.path) {
		struct oci_ns u = { .mode = OCI_NS_POD, .path = ns->user.path };
		r = ns_add(a, "user", &u, err);
	}
	if (r >= 0)
		r = ns_add(a, "pid", &ns->pid, err);
	if (r >= 0)
		r = ns_add(a, "network", &ns->net, err);
	if (r >= 0)
		r = ns_add(a, "ipc", &ns->ipc, err);
	if (r >= 0)
		r = ns_add(a, "uts", &ns->uts, err);
	if (r >= 0 && ns->cgroup)
		json_array_append_new(a, json_pack("{s:s}", "type", "cgroup"));
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

static int memory_json(const struct oci_resources *res, const struct oci_host *h, json_t *out,
		       struct err *err)
{
	int64_t mem = res->memory_limit_in_bytes, swap = res->memory_swap_limit_in_bytes;
	if (mem < 0)
		return err_msg(err, -EINVAL, "memory_limit_in_bytes %lld is negative",
			       (long long)mem);
	if (swap > 0 && mem > 0 && swap < mem)
		return err_msg(
		    err, -EINVAL,
		    "memory_swap_limit_in_bytes %lld is below memory_limit_in_bytes %lld: it counts memory plus swap",
		    (long long)swap, (long long)mem);
	json_t *m = json_object();
	if (mem > 0)
		json_object_set_new(m, "limit", json_integer(mem));
	/* No swap beyond the memory limit unless asked; only where the host
	 * can account swap at all (else the runtime fails to set it). */
	if (h->swap_accounting && (swap > 0 || swap == -1 || mem > 0))
		json_object_set_new(m, "swap", json_integer(swap != 0 ? swap : mem));
	if (json_object_size(m))
		json_object_set_new(out, "memory", m);
	else
		json_decref(m);
	return 0;
}

static int cpu_json(const struct oci_resources *res, json_t *out, struct err *err)
{
	if (res->cpu_shares < 0 || res->cpu_period < 0)
		return err_msg(err, -EINVAL,
			       "cpu_shares (%lld) and cpu_period (%lld) must not be negative",
			       (long long)res->cpu_shares, (long long)res->cpu_period);
	json_t *c = json_object();
	if (res->cpu_shares > 0)
		json_object_set_new(c, "shares", json_integer(res->cpu_shares));
	if (res->cpu_quota != 0)
		json_object_set_new(c, "quota", json_integer(res->cpu_quota));
	if (res->cpu_period > 0)
		json_object_set_new(c, "period", json_integer(res->cpu_period));
	if (!str_empty(res->cpuset_cpus))
		json_object_set_new(c, "cpus", json_string(res->cpuset_cpus));
	if (!str_empty(res->cpuset_mems))
		json_object_set_new(c, "mems", json_string(res->cpuset_mems));
	if (json_object_size(c))
		json_object_set_new(out, "cpu", c);
	else
		json_decref(c);
	return 0;
}

static int resources_json(const struct oci_resources *res, const struct oci_host *h, json_t *out,
			  struct err *err)
{
	int r = memory_json(res, h, out, err);
	if (r >= 0)
		r = cpu_json(res, out, err);
	if (r < 0)
		return r;
	if (res->pids_limit != 0)
		json_object_set_new(out, "pids",
				    json_pack("{s:I}", "limit", (json_int_t)res->pids_limit));
	if (res->n_hugepages) {
		json_t *a = json_array();
		for (size_t i = 0; i < res->n_hugepages; i++) {
			const char *ps = res->hugepages[i].page_size;
			if (str_empty(ps)) {
				json_decref(a);
				return err_msg(err, -EINVAL, "hugepage limit %zu has no page size",
					       i);
			}
			json_array_append_new(a, json_pack("{s:s,s:I}", "pageSize", ps, "limit",
							   (json_int_t)res->hugepages[i].limit));
		}
		json_object_set_new(out, "hugepageLimits", a);
	}
	if (res->n_unified && !h->cgroup2)
		return err_msg(
		    err, -EINVAL,
		    "unified cgroup resources (%s, ...) need a cgroup v2 host; this one uses cgroup v1",
		    res->unified[0].key ? res->unified[0].key : "");
	if (res->n_unified) {
		json_t *u = json_object();
		for (size_t i = 0; i < res->n_unified; i++) {
			const struct oci_kv *kv = &res->unified[i];
			if (str_empty(kv->key) || strchr(kv->key, '/') || !kv->value) {
				json_decref(u);
				return err_msg(err, -EINVAL,
					       "unified resource '%s' is not a cgroup file name",
					       kv->key ? kv->key : "");
			}
			json_object_set_new(u, kv->key, json_string(kv->value));
		}
		json_object_set_new(out, "unified", u);
	}
	return 0;
}

/* One device node: linux.devices entry + cgroup allow rule. 1 added, 0 not
 * a device. */
static int device_add(const char *host, const char *ctr, const char *perms, json_t *devs,
		      json_t *rules)
{
	struct stat st;
	if (stat(host, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return 0;
	const char *type = S_ISCHR(st.st_mode) ? "c" : "b";
	json_int_t maj = major(st.st_rdev), min = minor(st.st_rdev);
	json_array_append_new(devs, json_pack("{s:s,s:s,s:I,s:I,s:i,s:I,s:I}", "path", ctr, "type",
					      type, "major", maj, "minor", min, "fileMode",
					      (int)(st.st_mode & 07777), "uid",
					      (json_int_t)st.st_uid, "gid", (json_int_t)st.st_gid));
	if (rules)
		json_array_append_new(rules,
				      json_pack("{s:b,s:s,s:I,s:I,s:s}", "allow", 1, "type", type,
						"major", maj, "minor", min, "access", perms));
	return 1;
}

/* Every device under host dir `host` as `ctr`/...; symlinks are skipped and
 * so are /dev/pts, /dev/shm and /dev/mqueue (mounted separately). */
static int device_dir_add(const char *host, const char *ctr, const char *perms, json_t *devs,
			  json_t *rules, int depth, size_t *count)
{
	cleanup_close int fd = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d)
		return -errno;
	fd = -1;
	struct dirent *de;
	while ((de = readdir(d)) && *count < DEV_COUNT_MAX) {
		if (!fs_name_ok(de->d_name) || de->d_type == DT_LNK)
			continue;
		cleanup_free char *h = fs_path_join(host, de->d_name);
		cleanup_free char *c = fs_path_join(ctr, de->d_name);
		if (de->d_type == DT_DIR) {
			if (depth < DEV_DEPTH_MAX && strcmp(h, "/dev/pts") &&
			    strcmp(h, "/dev/shm") && strcmp(h, "/dev/mqueue"))
				(void)device_dir_add(h, c, perms, devs, rules, depth + 1, count);
			continue;
		}
		if (device_add(h, c, perms, devs, rules) > 0)
			(*count)++;
	}
	closedir(d);
	return 0;
}

static int devices_json(const struct oci_ctr_config *c, json_t *linux, json_t *res, struct err *err)
{
	json_t *devs = json_array();
	json_t *rules = json_array();
	json_object_set_new(linux, "devices", devs);
	json_object_set_new(res, "devices", rules);
	size_t count = 0;
	if (c->privileged && !c->no_host_devices) {
		json_array_append_new(rules, json_pack("{s:b,s:s}", "allow", 1, "access", "rwm"));
		(void)device_dir_add("/dev", "/dev", "rwm", devs, NULL, 0, &count);
	} else {
		json_array_append_new(rules, json_pack("{s:b,s:s}", "allow", 0, "access", "rwm"));
	}
	for (size_t i = 0; i < c->n_devices; i++) {
		const struct oci_device *d = &c->devices[i];
		const char *perms = str_empty(d->permissions) ? "rwm" : d->permissions;
		if (strspn(perms, "rwm") != strlen(perms))
			return err_msg(err, -EINVAL,
				       "device '%s': permissions '%s' are not a subset of \"rwm\"",
				       d->host_path ? d->host_path : "", perms);
		if (str_empty(d->host_path) || str_empty(d->container_path) ||
		    d->container_path[0] != '/')
			return err_msg(
			    err, -EINVAL,
			    "device '%s' -> '%s': both paths must be set and the container path absolute",
			    d->host_path ? d->host_path : "",
			    d->container_path ? d->container_path : "");
		int r = device_add(d->host_path, d->container_path, perms, devs, rules);
		if (r == 0) {
			struct stat st;
			if (stat(d->host_path, &st) == 0 && S_ISDIR(st.st_mode))
				r = device_dir_add(d->host_path, d->container_path, perms, devs,
						   rules, 0, &count);
			else
				return err_msg(
				    err, -EINVAL,
				    "device '%s' is neither a device node nor a directory",
				    d->host_path);
		}
		if (r < 0)
			return err_set(err, r, "device '%s'", d->host_path);
	}
	return 0;
}

static json_t *paths_json(char *const *given, const char *const *defaults, size_t n,
			  bool privileged)
{
	json_t *a = json_array();
	if (given) {
		for (size_t i = 0; given[i]; i++)
			json_array_append_new(a, json_string(given[i]));
	} else if (!privileged) {
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_string(defaults[i]));
	}
	return a;
}

static int linux_rest(const struct oci_ctr_config *c, uint64_t caps, json_t *l, struct err *err)
{
	json_object_set_new(
	    l, "maskedPaths",
	    paths_json(c->masked_paths, default_masked, ARRAY_SIZE(default_masked), c->privileged));
	json_object_set_new(l, "readonlyPaths",
			    paths_json(c->readonly_paths, default_readonly,
				       ARRAY_SIZE(default_readonly), c->privileged));
	if (c->n_sysctls) {
		json_t *s = json_object();
		for (size_t i = 0; i < c->n_sysctls; i++) {
			if (str_empty(c->sysctls[i].key) || !c->sysctls[i].value) {
				json_decref(s);
				return err_msg(err, -EINVAL, "sysctl %zu has no name or value", i);
			}
			json_object_set_new(s, c->sysctls[i].key, json_string(c->sysctls[i].value));
		}
		json_object_set_new(l, "sysctl", s);
	}
	json_t *sc = NULL;
	int r = c->privileged ? 0 : oci_seccomp_build(&c->seccomp, caps, &sc, err);
	if (r < 0)
		return r;
	if (sc)
		json_object_set_new(l, "seccomp", sc);
	return 0;
}

int oci_linux_build(const struct oci_ctr_config *c, const struct oci_host *h, uint64_t caps,
		    json_t **ret, struct err *err)
{
	json_t *ns = NULL;
	int r = namespaces_json(&c->ns, &ns, err);
	if (r < 0)
		return r;
	json_t *l = json_pack("{s:o}", "namespaces", ns);
	if (c->ns.user.path) {
		json_object_set_new(l, "uidMappings", idmap_json(&c->ns.user.uid));
		json_object_set_new(l, "gidMappings", idmap_json(&c->ns.user.gid));
	}
	json_t *res = json_object();
	json_object_set_new(l, "resources", res);
	if (!str_empty(c->cgroups_path))
		json_object_set_new(l, "cgroupsPath", json_string(c->cgroups_path));
	r = resources_json(&c->resources, h, res, err);
	if (r >= 0)
		r = devices_json(c, l, res, err);
	if (r >= 0)
		r = linux_rest(c, caps, l, err);
	if (r < 0) {
		json_decref(l);
		return r;
	}
	*ret = l;
	return 0;
}

int oci_resources_build(const struct oci_resources *res, const struct oci_host *h, json_t **ret,
			struct err *err)
{
	json_t *o = json_object();
	int r = resources_json(res, h, o, err);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}
