/* Host facts that bound a spec: capabilities, the oom_score_adj floor,
 * RLIMIT_NOFILE, cgroup layout, swap accounting, mount_setattr; the OCI
 * runtime's features document; capability names and the CRI add/drop
 * rules; mount propagation of host paths. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/base.h"
#include "base/json.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

static const char *const cap_names[] = {
	[CAP_CHOWN] = "CAP_CHOWN",
	[CAP_DAC_OVERRIDE] = "CAP_DAC_OVERRIDE",
	[CAP_DAC_READ_SEARCH] = "CAP_DAC_READ_SEARCH",
	[CAP_FOWNER] = "CAP_FOWNER",
	[CAP_FSETID] = "CAP_FSETID",
	[CAP_KILL] = "CAP_KILL",
	[CAP_SETGID] = "CAP_SETGID",
	[CAP_SETUID] = "CAP_SETUID",
	[CAP_SETPCAP] = "CAP_SETPCAP",
	[CAP_LINUX_IMMUTABLE] = "CAP_LINUX_IMMUTABLE",
	[CAP_NET_BIND_SERVICE] = "CAP_NET_BIND_SERVICE",
	[CAP_NET_BROADCAST] = "CAP_NET_BROADCAST",
	[CAP_NET_ADMIN] = "CAP_NET_ADMIN",
	[CAP_NET_RAW] = "CAP_NET_RAW",
	[CAP_IPC_LOCK] = "CAP_IPC_LOCK",
	[CAP_IPC_OWNER] = "CAP_IPC_OWNER",
	[CAP_SYS_MODULE] = "CAP_SYS_MODULE",
	[CAP_SYS_RAWIO] = "CAP_SYS_RAWIO",
	[CAP_SYS_CHROOT] = "CAP_SYS_CHROOT",
	[CAP_SYS_PTRACE] = "CAP_SYS_PTRACE",
	[CAP_SYS_PACCT] = "CAP_SYS_PACCT",
	[CAP_SYS_ADMIN] = "CAP_SYS_ADMIN",
	[CAP_SYS_BOOT] = "CAP_SYS_BOOT",
	[CAP_SYS_NICE] = "CAP_SYS_NICE",
	[CAP_SYS_RESOURCE] = "CAP_SYS_RESOURCE",
	[CAP_SYS_TIME] = "CAP_SYS_TIME",
	[CAP_SYS_TTY_CONFIG] = "CAP_SYS_TTY_CONFIG",
	[CAP_MKNOD] = "CAP_MKNOD",
	[CAP_LEASE] = "CAP_LEASE",
	[CAP_AUDIT_WRITE] = "CAP_AUDIT_WRITE",
	[CAP_AUDIT_CONTROL] = "CAP_AUDIT_CONTROL",
	[CAP_SETFCAP] = "CAP_SETFCAP",
	[CAP_MAC_OVERRIDE] = "CAP_MAC_OVERRIDE",
	[CAP_MAC_ADMIN] = "CAP_MAC_ADMIN",
	[CAP_SYSLOG] = "CAP_SYSLOG",
	[CAP_WAKE_ALARM] = "CAP_WAKE_ALARM",
	[CAP_BLOCK_SUSPEND] = "CAP_BLOCK_SUSPEND",
	[CAP_AUDIT_READ] = "CAP_AUDIT_READ",
	[CAP_PERFMON] = "CAP_PERFMON",
	[CAP_BPF] = "CAP_BPF",
	[CAP_CHECKPOINT_RESTORE] = "CAP_CHECKPOINT_RESTORE",
};

/* What a container gets when CRI asks for nothing else. */
static const unsigned default_caps[] = {
	CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,	    CAP_FOWNER, CAP_SETGID,
	CAP_SETUID, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_KILL,
};

const char *oci_cap_name(unsigned cap)
{
	return cap < ARRAY_SIZE(cap_names) ? cap_names[cap] : NULL;
}

int oci_cap_from_name(const char *name)
{
	if (strncasecmp(name, "CAP_", 4) == 0)
		name += 4;
	for (unsigned i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (cap_names[i] && strcasecmp(cap_names[i] + 4, name) == 0)
			return (int)i;
	return -EINVAL;
}

static bool is_all(const char *s)
{
	return strcasecmp(s, "ALL") == 0 || strcasecmp(s, "CAP_ALL") == 0;
}

/* Apply one add or drop list to *mask; "ALL" entries were handled first. */
static int apply_caps(char *const *list, bool add, uint64_t *mask, struct err *err)
{
	for (size_t i = 0; list && list[i]; i++) {
		if (is_all(list[i]))
			continue;
		int n = oci_cap_from_name(list[i]);
		if (n < 0)
			return err_msg(err, -EINVAL, "unknown capability '%s' in %s", list[i],
				       add ? "add_capabilities" : "drop_capabilities");
		if (add)
			*mask |= UINT64_C(1) << n;
		else
			*mask &= ~(UINT64_C(1) << n);
	}
	return 0;
}

int oci_caps_compute(const struct oci_ctr_config *c, uint64_t bounding, uint64_t *ret,
		     struct err *err)
{
	uint64_t all = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(cap_names); i++)
		all |= UINT64_C(1) << i;
	uint64_t m = 0;
	for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
		m |= UINT64_C(1) << default_caps[i];
	if (c->privileged) {
		m = all;
	} else {
		bool drop_all = false, add_all = false;
		for (size_t i = 0; c->cap_drop && c->cap_drop[i]; i++)
			drop_all |= is_all(c->cap_drop[i]);
		for (size_t i = 0; c->cap_add && c->cap_add[i]; i++)
			add_all |= is_all(c->cap_add[i]);
		if (drop_all)
			m = 0;
		if (add_all)
			m = all;
		int r = apply_caps(c->cap_add, true, &m, err);
		if (r < 0)
			return r;
		r = apply_caps(c->cap_drop, false, &m, err);
		if (r < 0)
			return r;
	}
	/* Asking the runtime for a capability the host bounding set lacks
	 * makes the container fail to start: such caps are silently left out. */
	*ret = m & bounding;
	return 0;
}

/* "Key:\tHEX" in /proc/self/status. */
static int status_hex(const char *status, const char *key, uint64_t *ret)
{
	size_t kl = strlen(key);
	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			const char *v = p + kl + 1 + strspn(p + kl + 1, " \t");
			cleanup_free char *hex = xstrndup(v, strcspn(v, "\n"));
			return str_to_u64(hex, 16, UINT64_MAX, ret) < 0 ? -EIO : 0;
		}
	}
	return -EIO;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* cgroup v2 lists memory.swap.max in every non-root cgroup when the kernel
 * accounts swap: look in our own cgroup, else in the usual children. */
static bool v2_swap_accounting(void)
{
	cleanup_free char *cg = NULL;
	size_t len;
	if (fs_read_file(AT_FDCWD, "/proc/self/cgroup", 1 << 16, &cg, &len, NULL) == 0 &&
	    str_has_prefix(cg, "0::/")) {
		cg[strcspn(cg, "\n")] = '\0';
		if (strcmp(cg, "0::/") != 0 && !strstr(cg, "/../")) {
			cleanup_free char *p =
			    xasprintf("/sys/fs/cgroup%s/memory.swap.max", cg + 3);
			if (file_exists(p))
				return true;
		}
	}
	return file_exists("/sys/fs/cgroup/init.scope/memory.swap.max") ||
	       file_exists("/sys/fs/cgroup/system.slice/memory.swap.max");
}

int oci_host_probe(struct oci_host *ret, struct err *err)
{
	*ret = (struct oci_host){ 0 };
	cleanup_free char *status = NULL, *oom = NULL;
	size_t len;
	int r = fs_read_file(AT_FDCWD, "/proc/self/status", 1 << 20, &status, &len, err);
	if (r < 0)
		return r;
	if (status_hex(status, "CapBnd", &ret->cap_bounding) < 0 ||
	    status_hex(status, "CapEff", &ret->cap_effective) < 0)
		return err_msg(err, -EIO, "/proc/self/status: no CapBnd/CapEff lines");
	r = fs_read_file(AT_FDCWD, "/proc/self/oom_score_adj", 64, &oom, &len, err);
	if (r < 0)
		return r;
	oom[strcspn(oom, "\n")] = '\0';
	int64_t adj;
	if (str_to_i64(oom, -1000, 1000, &adj) < 0)
		return err_msg(err, -EIO,
			       "/proc/self/oom_score_adj: '%s' is not a number in [-1000, 1000]",
			       oom);
	ret->oom_score_adj_min = (int)adj;
	/* Without CAP_SYS_RESOURCE the kernel refuses to lower oom_score_adj
	 * below what this process has; with it, anything goes. */
	if (ret->cap_effective & (UINT64_C(1) << CAP_SYS_RESOURCE))
		ret->oom_score_adj_min = -1000;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_set(err, -errno, "getrlimit(RLIMIT_NOFILE)");
	ret->nofile_hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
	ret->cgroup2 = file_exists("/sys/fs/cgroup/cgroup.controllers");
	ret->swap_accounting =
	    ret->cgroup2 ? v2_swap_accounting()
			 : file_exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
	/* A bad fd and no attributes: the kernel answers EBADF or EINVAL when
	 * it has the call, ENOSYS when it does not; nothing is changed. */
	ret->mount_setattr = syscall(SYS_mount_setattr, -1, "", 0, NULL, 0) == 0 || errno != ENOSYS;
	return 0;
}

/* The callers read at most this much of `<runtime> features`. */
#define OCI_FEATURES_MAX ((size_t)1 << 20)

/* Whether `key` of `obj` is an array holding the string `s`; anything else
 * (missing, another type, other elements) is a runtime not saying so. */
static bool strv_has(const json_t *obj, const char *key, const char *s)
{
	const json_t *a = NULL;
	if (js_get(obj, "", key, JSON_ARRAY, false, &a, NULL) < 0)
		return false;
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v) if (json_is_string(v) &&
					strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

int oci_runtime_features_parse(const char *buf, size_t len, struct oci_runtime_features *ret,
			       struct err *err)
{
	*ret = (struct oci_runtime_features){ 0 };
	json_t *o = NULL;
	int r = js_load("runtime features", buf, len, OCI_FEATURES_MAX, &o, err);
	if (r < 0)
		return r;
	if (!json_is_object(o)) {
		json_decref(o);
		return err_msg(err, -EINVAL, "runtime features: not a JSON object");
	}
	/* Fields of another type are a runtime that does not offer them (the
	 * features document grows; its old fields never change type). */
	const json_t *linux = NULL, *ext = NULL, *idmap = NULL;
	(void)js_get(o, "", "linux", JSON_OBJECT, false, &linux, NULL);
	(void)js_get(linux, "linux", "mountExtensions", JSON_OBJECT, false, &ext, NULL);
	(void)js_get(ext, "", "idmap", JSON_OBJECT, false, &idmap, NULL);
	ret->rro = strv_has(o, "mountOptions", "rro");
	ret->userns = strv_has(linux, "namespaces", "user");
	(void)js_get_bool(idmap, "", "enabled", false, &ret->idmap, NULL);
	json_decref(o);
	return 0;
}

/* Fields of one mountinfo line: "ID PARENT MAJ:MIN ROOT POINT OPTS [OPT...] - ...".
 * Returns the propagation (2 shared, 1 slave, 0 private) of a line whose id
 * is mnt_id, or -ENOENT. */
static int line_propagation(const char *line, size_t len, uint64_t mnt_id)
{
	cleanup_free char *l = xstrndup(line, len);
	char *end = strchr(l, ' ');
	if (!end)
		return -ENOENT;
	*end++ = '\0';
	uint64_t id;
	if (str_to_u64(l, 10, UINT64_MAX, &id) < 0 || id != mnt_id)
		return -ENOENT;
	/* Skip 5 more fields, then optional fields until "-". */
	char *save = NULL, *tok = strtok_r(end, " ", &save);
	for (int i = 0; tok && i < 5; i++)
		tok = strtok_r(NULL, " ", &save);
	int prop = 0;
	for (; tok && strcmp(tok, "-") != 0; tok = strtok_r(NULL, " ", &save)) {
		if (str_has_prefix(tok, "shared:"))
			prop = 2;
		else if (str_has_prefix(tok, "master:") && prop == 0)
			prop = 1;
	}
	return prop;
}

int oci_mountinfo_propagation(const char *mountinfo, uint64_t mnt_id)
{
	for (const char *p = mountinfo; *p;) {
		const char *nl = strchrnul(p, '\n');
		int r = line_propagation(p, (size_t)(nl - p), mnt_id);
		if (r >= 0)
			return r;
		p = *nl ? nl + 1 : nl;
	}
	return -ENOENT;
}

int oci_mount_check_propagation(const char *host_path, enum oci_propagation p, struct err *err)
{
	if (p == OCI_PROPAGATION_PRIVATE)
		return 0;
	if (p != OCI_PROPAGATION_HOST_TO_CONTAINER && p != OCI_PROPAGATION_BIDIRECTIONAL)
		return err_msg(err, -EINVAL, "mount '%s': unknown propagation %d", host_path,
			       (int)p);
	struct statx stx;
	if (statx(AT_FDCWD, host_path, 0, STATX_MNT_ID, &stx) < 0)
		return err_set(err, -errno, "stat mount source '%s'", host_path);
	if (!(stx.stx_mask & STATX_MNT_ID))
		return err_msg(err, -EINVAL, "mount '%s': the kernel does not report mount ids",
			       host_path);
	cleanup_free char *mi = NULL;
	size_t len;
	int r = fs_read_file(AT_FDCWD, "/proc/self/mountinfo", 64u << 20, &mi, &len, err);
	if (r < 0)
		return r;
	int have = oci_mountinfo_propagation(mi, stx.stx_mnt_id);
	if (have < 0)
		return err_msg(err, -EINVAL, "mount '%s': mount %" PRIu64 " not in mountinfo",
			       host_path, (uint64_t)stx.stx_mnt_id);
	if (p == OCI_PROPAGATION_BIDIRECTIONAL && have != 2)
		return err_msg(
		    err, -EINVAL,
		    "mount '%s' asks for Bidirectional propagation but its host mount is not shared: run `mount --make-rshared` on it (or on /)",
		    host_path);
	if (p == OCI_PROPAGATION_HOST_TO_CONTAINER && have == 0)
		return err_msg(
		    err, -EINVAL,
		    "mount '%s' asks for HostToContainer propagation but its host mount is private: make it shared or slave (`mount --make-rshared`)",
		    host_path);
	return 0;
}
