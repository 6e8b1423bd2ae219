/* linux.seccomp: the built-in RuntimeDefault profile and localhost
 * profiles (OCI or Docker format) read from the host. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <string.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

#define PROFILE_MAX (1u << 20)
#define NO_CAP (-1)

/* Syscalls refused with EPERM unless the container holds `cap` (NO_CAP:
 * always). They reach state the kernel does not namespace: modules, kexec,
 * the clock, swap, the keyring, raw I/O ports, mount tables, tracing. */
static const struct {
	const char *name;
	int cap;
} denied[] = {
	{ "acct", CAP_SYS_PACCT },
	{ "add_key", NO_CAP },
	{ "bpf", CAP_SYS_ADMIN },
	{ "clock_adjtime", CAP_SYS_TIME },
	{ "clock_settime", CAP_SYS_TIME },
	{ "create_module", NO_CAP },
	{ "delete_module", CAP_SYS_MODULE },
	{ "finit_module", CAP_SYS_MODULE },
	{ "fsconfig", CAP_SYS_ADMIN },
	{ "fsmount", CAP_SYS_ADMIN },
	{ "fsopen", CAP_SYS_ADMIN },
	{ "fspick", CAP_SYS_ADMIN },
	{ "get_kernel_syms", NO_CAP },
	{ "init_module", CAP_SYS_MODULE },
	{ "io_uring_enter", NO_CAP },
	{ "io_uring_register", NO_CAP },
	{ "io_uring_setup", NO_CAP },
	{ "ioperm", CAP_SYS_RAWIO },
	{ "iopl", CAP_SYS_RAWIO },
	{ "kcmp", CAP_SYS_PTRACE },
	{ "kexec_file_load", CAP_SYS_BOOT },
	{ "kexec_load", CAP_SYS_BOOT },
	{ "keyctl", NO_CAP },
	{ "lookup_dcookie", CAP_SYS_ADMIN },
	{ "mount", CAP_SYS_ADMIN },
	{ "move_mount", CAP_SYS_ADMIN },
	{ "name_to_handle_at", CAP_SYS_ADMIN },
	{ "nfsservctl", NO_CAP },
	{ "open_by_handle_at", CAP_DAC_READ_SEARCH },
	{ "open_tree", CAP_SYS_ADMIN },
	{ "perf_event_open", CAP_SYS_ADMIN },
	{ "pivot_root", CAP_SYS_ADMIN },
	{ "process_vm_readv", CAP_SYS_PTRACE },
	{ "process_vm_writev", CAP_SYS_PTRACE },
	{ "query_module", NO_CAP },
	{ "quotactl", CAP_SYS_ADMIN },
	{ "reboot", CAP_SYS_BOOT },
	{ "request_key", NO_CAP },
	{ "setns", CAP_SYS_ADMIN },
	{ "settimeofday", CAP_SYS_TIME },
	{ "stime", CAP_SYS_TIME },
	{ "swapoff", CAP_SYS_ADMIN },
	{ "swapon", CAP_SYS_ADMIN },
	{ "syslog", CAP_SYSLOG },
	{ "sysfs", NO_CAP },
	{ "_sysctl", NO_CAP },
	{ "umount", CAP_SYS_ADMIN },
	{ "umount2", CAP_SYS_ADMIN },
	{ "unshare", CAP_SYS_ADMIN },
	{ "uselib", NO_CAP },
	{ "userfaultfd", CAP_SYS_PTRACE },
	{ "ustat", NO_CAP },
	{ "vm86", NO_CAP },
	{ "vm86old", NO_CAP },
};

static json_t *native_arches(void)
{
#if defined(__x86_64__)
	return json_pack("[s,s,s]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
#elif defined(__aarch64__)
	return json_pack("[s,s]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
#else
	return json_array();
#endif
}

static json_t *default_for(uint64_t caps)
{
	json_t *names = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		if (denied[i].cap != NO_CAP && (caps & (UINT64_C(1) << denied[i].cap)))
			continue;
		/* A name libseccomp cannot resolve would make the runtime fail. */
		if (seccomp_syscall_resolve_name(denied[i].name) == __NR_SCMP_ERROR)
			continue;
		json_array_append_new(names, json_string(denied[i].name));
	}
	return json_pack("{s:s,s:o,s:[{s:o,s:s,s:i}]}", "defaultAction", "SCMP_ACT_ALLOW",
			 "architectures", native_arches(), "syscalls", "names", names, "action",
			 "SCMP_ACT_ERRNO", "errnoRet", EPERM);
}

json_t *oci_seccomp_default(void)
{
	return default_for(0);
}

static const char *native_arch_name(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "";
#endif
}

/* Whether an entry passes its Docker-format "includes" (include: every cap
 * held, the arch listed) or "excludes" (no cap held, arch not listed).
 * minKernel is not checked (the entry is kept). */
static bool cond_match(const json_t *cond, uint64_t caps, bool include)
{
	if (!json_is_object(cond))
		return true;
	const json_t *v;
	size_t i;
	bool any_cap = false, all_caps = true, arch = false;
	const json_t *cl = json_object_get(cond, "caps"), *al = json_object_get(cond, "arches");
	json_array_foreach(cl, i, v)
	{
		int n = json_is_string(v) ? oci_cap_from_name(json_string_value(v)) : -1;
		bool has = n >= 0 && (caps & (UINT64_C(1) << n));
		any_cap |= has;
		all_caps &= has;
	}
	json_array_foreach(al, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), native_arch_name()) == 0)
			arch = true;
	}
	if (include)
		return all_caps && (json_array_size(al) == 0 || arch);
	return !(any_cap || arch);
}

static int convert_syscalls(const json_t *in, uint64_t caps, json_t *out, const char *path,
			    struct err *err)
{
	size_t i;
	const json_t *sc;
	json_array_foreach(in, i, sc)
	{
		const json_t *names = json_object_get(sc, "names");
		const json_t *name = json_object_get(sc, "name");
		const json_t *action = json_object_get(sc, "action");
		if (!json_is_object(sc) || !json_is_string(action) ||
		    !(json_is_array(names) || json_is_string(name)))
			return err_msg(
			    err, -EINVAL,
			    "seccomp profile '%s': syscalls[%zu] needs \"names\" and \"action\"",
			    path, i);
		if (!cond_match(json_object_get(sc, "includes"), caps, true) ||
		    !cond_match(json_object_get(sc, "excludes"), caps, false))
			continue;
		json_t *o = json_pack("{s:O}", "action", action);
		json_object_set_new(o, "names",
				    json_is_array(names) ? json_deep_copy(names)
							 : json_pack("[O]", name));
		const char *keep[] = { "errnoRet", "args" };
		for (size_t k = 0; k < ARRAY_SIZE(keep); k++)
			if (json_object_get(sc, keep[k]))
				json_object_set(o, keep[k], json_object_get(sc, keep[k]));
		json_array_append_new(out, o);
	}
	return 0;
}

/* The architectures of a Docker "archMap" matching this machine. */
static json_t *arches_from_map(const json_t *map)
{
	json_t *a = native_arches();
	const char *first = json_array_size(a) ? json_string_value(json_array_get(a, 0)) : "";
	json_t *out = json_array();
	size_t i;
	const json_t *e;
	json_array_foreach(map, i, e)
	{
		const json_t *arch = json_object_get(e, "architecture");
		if (!json_is_string(arch) || strcmp(json_string_value(arch), first) != 0)
			continue;
		json_array_append(out, (json_t *)arch);
		json_array_extend(out, json_object_get(e, "subArchitectures"));
	}
	json_decref(a);
	return out;
}

static int load_localhost(const char *path, uint64_t caps, json_t **ret, struct err *err)
{
	if (str_has_prefix(path, "localhost/"))
		path += strlen("localhost");
	if (path[0] != '/')
		return err_msg(err, -EINVAL,
			       "seccomp localhost profile '%s' must be an absolute path", path);
	cleanup_free char *buf = NULL;
	size_t len;
	int r = fs_read_file(AT_FDCWD, path, PROFILE_MAX, &buf, &len, err);
	if (r < 0)
		return err_wrap(err, "seccomp profile");
	return oci_seccomp_profile_convert(path, buf, len, caps, ret, err);
}

int oci_seccomp_profile_convert(const char *path, const char *buf, size_t len, uint64_t caps,
				json_t **ret, struct err *err)
{
	json_t *in = NULL;
	int r = js_load(path, buf, len, PROFILE_MAX, &in, err);
	if (r < 0)
		return r;
	const json_t *da = json_object_get(in, "defaultAction");
	if (!json_is_string(da)) {
		json_decref(in);
		return err_msg(err, -EINVAL, "seccomp profile '%s': \"defaultAction\" is missing",
			       path);
	}
	json_t *out = json_pack("{s:O,s:[]}", "defaultAction", da, "syscalls");
	const char *keep[] = { "defaultErrnoRet", "flags", "listenerPath", "listenerMetadata" };
	for (size_t k = 0; k < ARRAY_SIZE(keep); k++)
		if (json_object_get(in, keep[k]))
			json_object_set(out, keep[k], json_object_get(in, keep[k]));
	if (json_is_array(json_object_get(in, "architectures")))
		json_object_set(out, "architectures", json_object_get(in, "architectures"));
	else if (json_is_array(json_object_get(in, "archMap")))
		json_object_set_new(out, "architectures",
				    arches_from_map(json_object_get(in, "archMap")));
	r = convert_syscalls(json_object_get(in, "syscalls"), caps,
			     json_object_get(out, "syscalls"), path, err);
	json_decref(in);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

int oci_seccomp_build(const struct oci_seccomp *s, uint64_t caps, json_t **ret, struct err *err)
{
	*ret = NULL;
	switch (s->kind) {
	case OCI_SECCOMP_UNCONFINED:
		return 0;
	case OCI_SECCOMP_RUNTIME_DEFAULT:
		*ret = default_for(caps);
		return 0;
	case OCI_SECCOMP_LOCALHOST:
		return load_localhost(s->localhost_path ? s->localhost_path : "", caps, ret, err);
	}
	return err_msg(err, -EINVAL, "unknown seccomp profile kind %d", (int)s->kind);
}
