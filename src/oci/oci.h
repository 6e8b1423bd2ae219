/* oci: OCI runtime-spec generation (config.json from plain structs), host
 * facts that bound it (capabilities, oom_score_adj, rlimits, mount
 * propagation), users from the rootfs, and the host's cgroup driver. */
#pragma once

#include "base/json.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/cleanup.h"
#include "base/err.h"

enum oci_cgroup_driver { OCI_CGROUP_CGROUPFS, OCI_CGROUP_SYSTEMD };

/** The cgroup driver this host wants: systemd when systemd is PID 1
 *  (/run/systemd/system exists and /proc/1/comm is "systemd"), else
 *  cgroupfs. Never fails. */
enum oci_cgroup_driver oci_cgroup_driver_detect(void);

/** "systemd" or "cgroupfs". */
const char *oci_cgroup_driver_name(enum oci_cgroup_driver d);

/** Pure part of the detection, for tests: `run_systemd_exists` and the
 *  contents of /proc/1/comm (may end in '\n', may be NULL). */
enum oci_cgroup_driver oci_cgroup_driver_decide(bool run_systemd_exists, const char *pid1_comm);

/* ------------------------------------------------------------------------
 * Container spec: plain structs describing one container request, and a
 * builder that turns them into an OCI runtime-spec config.json (jansson).
 * Every pointer in these structs is borrowed; string vectors are
 * NULL-terminated and may be NULL. Nothing here knows about protobuf.
 * ---------------------------------------------------------------------- */

/* How a namespace is set up. The values match CRI's NamespaceMode. */
enum oci_ns_mode {
	OCI_NS_POD = 0,	      /* join `path` (the pod's pinned namespace) */
	OCI_NS_CONTAINER = 1, /* a new namespace of the container's own */
	OCI_NS_NODE = 2,      /* the host's: no namespace entry at all */
	OCI_NS_TARGET = 3,    /* join `path` (another container's namespace) */
};

struct oci_ns {
	enum oci_ns_mode mode;
	const char *path; /* required for POD and TARGET */
};

/* One range of a user namespace's uid or gid map. */
struct oci_idmap {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t length;
};

/* The pod's user namespace, joined by its containers. path NULL: none (the
 * host's). The maps are the namespace's own, repeated in the spec because
 * runtimes want them (runc chowns its exec fifo to the mapped root). */
struct oci_userns {
	const char *path;
	struct oci_idmap uid, gid;
};

struct oci_namespaces {
	struct oci_ns pid, net, ipc, uts;
	bool cgroup; /* a new cgroup namespace (cgroup v2 hosts) */
	struct oci_userns user;
};

/** The host id that container id `id` is through `m`; an id outside the
 *  range is the overflow id 65534, as the kernel shows it. */
uint32_t oci_idmap_to_host(const struct oci_idmap *m, uint32_t id);

/* Mount propagation. The values match CRI's MountPropagation. */
enum oci_propagation {
	OCI_PROPAGATION_PRIVATE = 0,	       /* rprivate */
	OCI_PROPAGATION_HOST_TO_CONTAINER = 1, /* rslave: host mount must be shared or slave */
	OCI_PROPAGATION_BIDIRECTIONAL = 2,     /* rshared: host mount must be shared */
};

/* A CRI mount. `host_path` is created as a directory when missing. */
struct oci_mount {
	const char *container_path; /* absolute */
	const char *host_path;	    /* absolute */
	bool readonly;
	enum oci_propagation propagation;
	/* Read-only submounts too ("rro"): needs readonly, PRIVATE propagation
	 * and a host that can (oci_host.rro). */
	bool recursive_readonly;
};

/* A CRI device: host_path may be a device node or a directory of them. */
struct oci_device {
	const char *container_path;
	const char *host_path;
	const char *permissions; /* subset of "rwm"; NULL or "" = "rwm" */
};

struct oci_kv {
	const char *key;
	const char *value;
};

struct oci_hugepage_limit {
	const char *page_size; /* "2MB", "1GB" */
	uint64_t limit;	       /* bytes */
};

/* Resources; 0 (or NULL) means "not set" for every field, as in CRI. */
struct oci_resources {
	int64_t cpu_period; /* us */
	int64_t cpu_quota;  /* us */
	int64_t cpu_shares;
	int64_t memory_limit_in_bytes;
	int64_t memory_swap_limit_in_bytes; /* memory + swap; see oci_spec_build */
	const char *cpuset_cpus;
	const char *cpuset_mems;
	const struct oci_hugepage_limit *hugepages;
	size_t n_hugepages;
	const struct oci_kv *unified; /* cgroup v2 files, e.g. memory.high */
	size_t n_unified;
	int64_t pids_limit; /* > 0 sets pids.max; -1 = unlimited */
	int64_t oom_score_adj;
};

/* The values match CRI's SecurityProfile.ProfileType: a zeroed struct
 * oci_seccomp is RuntimeDefault, as CRI-O does for an empty profile. */
enum oci_seccomp_kind {
	OCI_SECCOMP_RUNTIME_DEFAULT = 0, /* the built-in profile (oci_seccomp_default) */
	OCI_SECCOMP_UNCONFINED = 1,
	OCI_SECCOMP_LOCALHOST = 2, /* an OCI/Docker-format JSON profile on the host */
};

struct oci_seccomp {
	enum oci_seccomp_kind kind;
	const char *localhost_path; /* absolute host path, for OCI_SECCOMP_LOCALHOST */
};

/* What to do with the image config's VOLUMEs not covered by a CRI mount. */
enum oci_volumes_mode {
	OCI_VOLUMES_MKDIR = 0,	/* create the directory inside the rootfs */
	OCI_VOLUMES_IGNORE = 1, /* do nothing */
};

/* The parts of an image config the spec needs. */
struct oci_image_spec {
	char *const *entrypoint;
	char *const *cmd;
	char *const *env; /* "KEY=value" */
	char *const *volumes;
	const char *working_dir; /* NULL or "" = unset */
	const char *user;	 /* "", "name", "uid", "name:group", "uid:gid" */
};

/* Host files of the pod, bind-mounted into each container. NULL = none. */
struct oci_pod_files {
	const char *hosts;	 /* -> /etc/hosts */
	const char *resolv_conf; /* -> /etc/resolv.conf */
	const char *hostname;	 /* -> /etc/hostname */
	const char *shm;	 /* -> /dev/shm (else a private 64 MiB tmpfs) */
};

/* How the process's groups are made. The values match CRI's
 * SupplementalGroupsPolicy. */
enum oci_groups_policy {
	OCI_GROUPS_MERGE = 0,  /* the primary gid, the user's groups in the image's
				* /etc/group, then CRI's supplemental groups */
	OCI_GROUPS_STRICT = 1, /* the primary gid and CRI's supplemental groups only */
};

/* One container request: image config + CRI ContainerConfig + pod context. */
struct oci_ctr_config {
	const char *rootfs; /* host path of the mounted root filesystem */
	struct oci_image_spec image;

	char *const *command; /* CRI command (overrides image Entrypoint) */
	char *const *args;    /* CRI args (overrides image Cmd) */
	char *const *envs;    /* CRI envs "KEY=value"; win over the image's */
	const char *working_dir;

	bool has_run_as_user; /* CRI run_as_user set */
	int64_t run_as_user;
	const char *run_as_username; /* NULL or "" = unset */
	bool has_run_as_group;	     /* CRI run_as_group set */
	int64_t run_as_group;
	const int64_t *supplemental_groups;
	size_t n_supplemental_groups;
	enum oci_groups_policy groups_policy;

	const struct oci_mount *mounts;
	size_t n_mounts;
	const struct oci_device *devices;
	size_t n_devices;

	bool privileged; /* every host capability, no masked paths, /sys rw, host devices */
	/* privileged without the host's devices (a runtime handler's
	 * privileged_without_host_devices): only the runtime's default ones */
	bool no_host_devices;
	bool no_new_privs;
	bool readonly_rootfs;
	bool tty;		     /* process.terminal (and TERM=xterm when unset) */
	bool stdin;		     /* not in the spec: for the monitor, kept here for callers */
	bool stdin_once;	     /* likewise: stdin closes when the first attach ends */
	char *const *cap_add;	     /* "NET_ADMIN" or "CAP_NET_ADMIN" or "ALL" */
	char *const *cap_drop;	     /* same */
	char *const *masked_paths;   /* NULL = the defaults; empty vector = none */
	char *const *readonly_paths; /* NULL = the defaults; empty vector = none */

	struct oci_namespaces ns;
	const char *cgroups_path; /* linux.cgroupsPath as the runtime wants it */
	struct oci_resources resources;
	const char *hostname;
	struct oci_pod_files pod_files;
	const struct oci_kv *sysctls; /* namespaced sysctls of the pod */
	size_t n_sysctls;
	const struct oci_kv *annotations;
	size_t n_annotations;
	struct oci_seccomp seccomp;
	enum oci_volumes_mode volumes;
	/* oci-hooks(5) directories, read at each build (a new hook file applies
	 * to the next container); NULL: no hooks. Broken files are logged and
	 * skipped. */
	char *const *hooks_dirs;
	/* CDI: spec directories, and the devices asked for by name (CRI
	 * CDIDevices); the values of cdi.k8s.io/ annotations (comma lists)
	 * name more. NULL: none. */
	char *const *cdi_dirs;
	char *const *cdi_devices;
};

/* Facts about the host that bound what a spec may ask for. */
struct oci_host {
	uint64_t cap_bounding;	/* CapBnd of this process */
	uint64_t cap_effective; /* CapEff of this process */
	int oom_score_adj_min;	/* lowest oom_score_adj a container may get */
	uint64_t nofile_hard;	/* RLIMIT_NOFILE hard limit of this process */
	bool cgroup2;		/* unified hierarchy only */
	bool swap_accounting;	/* memory+swap limits can be set */
	bool mount_setattr;	/* the kernel has mount_setattr(2) (5.12+) */
	/* Recursive read-only mounts work: mount_setattr and a runtime whose
	 * features list "rro". oci_host_probe leaves it false; the caller that
	 * knows the runtime (oci_runtime_features_parse) sets it. */
	bool rro;
};

/* What `<runtime> features` (OCI runtime features document) says. */
struct oci_runtime_features {
	bool rro;    /* mountOptions lists "rro" */
	bool userns; /* linux.namespaces lists "user" */
	bool idmap;  /* linux.mountExtensions.idmap.enabled */
};

/** Parse the JSON output of `<runtime> features` (`len` bytes). -EINVAL
 *  with err when it is not a JSON object; fields it lacks read as false. */
int oci_runtime_features_parse(const char *buf, size_t len, struct oci_runtime_features *ret,
			       struct err *err);

/** Read the host facts: CapBnd/CapEff from /proc/self/status, the floor
 *  for oom_score_adj (our own /proc/self/oom_score_adj unless we hold
 *  CAP_SYS_RESOURCE, then -1000), RLIMIT_NOFILE, the cgroup layout and
 *  whether swap accounting exists. -EIO/-errno with err when /proc is
 *  unreadable. */
int oci_host_probe(struct oci_host *ret, struct err *err);

/** The default RLIMIT_NOFILE given to containers (capped by the host). */
#define OCI_NOFILE_DEFAULT 1048576
/** The PATH a container gets when neither the image nor CRI sets one. */
#define OCI_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/** Build the OCI runtime-spec for `c` on host `h`. Side effects, all on
 *  purpose: the working directory and image VOLUMEs are created inside
 *  c->rootfs (openat2 RESOLVE_IN_ROOT, owned by the container user when
 *  new); a CRI mount's missing host path is created as a directory.
 *  Errors (-EINVAL unless said): no command at all, a relative or duplicate
 *  container path, a propagation the host mount cannot give, a
 *  recursive_readonly mount that is not readonly and PRIVATE or on a host
 *  without h->rro, an unknown capability, RunAsGroup without
 *  RunAsUser/RunAsUsername, a user or group the rootfs does not know, a POD/TARGET namespace without a path,
 *  unified resources on a cgroup v1 host, a bad device or seccomp profile;
 *  -ENOTDIR when the working directory path runs into a file; I/O errors
 *  as -errno. Argument checks run before anything is created. Privileged
 *  containers get no seccomp filter. *ret is a new reference. */
int oci_spec_build(const struct oci_ctr_config *c, const struct oci_host *h, json_t **ret,
		   struct err *err);

/* ---- helpers for the container lifecycle ---- */

/** A signal as an image config's StopSignal or CRI's Signal enum writes
 *  it: "SIGTERM", "TERM", "15", "SIGRTMIN+3", "RTMIN+3", "RTMAX-1",
 *  "SIGRTMINPLUS3", "SIGRTMAXMINUS1" (any case); realtime signals count
 *  from SIGRTMIN. NULL or "" gives SIGTERM. Returns the number, or -EINVAL
 *  naming the string. */
int oci_signal_parse(const char *s, struct err *err);

#define OCI_SIGNAL_NAME_MAX 16
/** The name of `sig` in `buf`, which it returns: "SIGTERM", "SIGRTMIN",
 *  "SIGRTMIN+3" (up to +15), "SIGRTMAX-2", "SIGRTMAX"; the decimal number
 *  for anything else. oci_signal_parse reads every one back. */
const char *oci_signal_name(int sig, char buf[OCI_SIGNAL_NAME_MAX]);

/** linux.resources for `res` without device rules: the object
 *  `<runtime> update --resources FILE` takes (UpdateContainerResources).
 *  Same checks and host bounds as oci_spec_build (swap only where the host
 *  accounts it, unified only on cgroup v2). *ret is a new reference. */
int oci_resources_build(const struct oci_resources *res, const struct oci_host *h, json_t **ret,
			struct err *err);

/** linux.cgroupsPath for container `id` under `parent`: with systemd
 *  "<parent>:ocid:<id>" (parent a "*.slice" name, default "system.slice"),
 *  with cgroupfs "<parent>/ocid-<id>" (parent absolute, default "/ocid").
 *  -EINVAL for a parent of the wrong form or an id with '/' or ':'.
 *  *ret malloc'd. */
int oci_cgroups_path(enum oci_cgroup_driver d, const char *parent, const char *id, char **ret,
		     struct err *err);

/* ---- OCI hooks (oci-hooks(5), version 1.0.0; hooks.c) ---- */

enum oci_hook_stage {
	OCI_HOOK_PRESTART,
	OCI_HOOK_CREATE_RUNTIME,
	OCI_HOOK_CREATE_CONTAINER,
	OCI_HOOK_START_CONTAINER,
	OCI_HOOK_POSTSTART,
	OCI_HOOK_POSTSTOP,
	OCI_HOOK_STAGES
};
/** "prestart", "createRuntime", ... as config.json names them; NULL past the end. */
const char *oci_hook_stage_name(enum oci_hook_stage s);
/** Is `name` one of the six stage names? */
bool oci_hook_stage_valid(const char *name);

/** One hook file: what to run, at which stages, under which conditions. */
struct oci_hook_rule;
/** Parse one hook file's text (`name` prefixes errors). Strict: version
 *  "1.0.0"; hook.path absolute, args and env string arrays (env NAME=VALUE),
 *  timeout 1 to 3600; `when` with at least one of always, annotations
 *  (key regex -> value regex), commands (regexes of process.args[0]),
 *  hasBindMounts; stages a non-empty list of the six stage names; unknown
 *  keys refused; at most 64 KiB. -EINVAL (-EFBIG) with err naming the key. */
int oci_hook_parse(const char *name, const char *text, size_t len, struct oci_hook_rule **ret,
		   struct err *err);
void oci_hook_rule_free(struct oci_hook_rule *r);
DEFINE_CLEANUP(struct oci_hook_rule, oci_hook_rule_free)
/** Does `r` apply to a container whose process.args[0] is `arg0` (may be
 *  NULL), with these annotations, and bind mounts asked for or not? Every
 *  condition set must hold (always: false never matches). */
bool oci_hook_rule_matches(const struct oci_hook_rule *r, const char *arg0,
			   const struct oci_kv *annotations, size_t n_annotations,
			   bool has_bind_mounts);
/** Its stages, as a mask of 1 << enum oci_hook_stage. */
unsigned oci_hook_rule_stages(const struct oci_hook_rule *r);

/** The hook files ("*.json") of `dirs` in order, a later directory's file
 *  replacing the same-named one of an earlier directory (also when the
 *  later one is broken), ordered by file name. A missing directory is
 *  fine; a broken file is skipped and its reason pushed onto
 *  *ret_warnings. Never fails. */
struct oci_hooks *oci_hooks_load(char *const *dirs, char ***ret_warnings);
void oci_hooks_free(struct oci_hooks *h);
DEFINE_CLEANUP(struct oci_hooks, oci_hooks_free)
/** Number of hooks loaded (0 for NULL). */
size_t oci_hooks_count(const struct oci_hooks *h);
/** Append the matching hooks to spec.hooks.<stage> (created as needed), in
 *  file-name order. Returns the number of hook files injected. */
int oci_hooks_inject(const struct oci_hooks *h, json_t *spec, const struct oci_kv *annotations,
		     size_t n_annotations, bool has_bind_mounts);

/* ---- CDI, the Container Device Interface (cdi.c) ---- */

/** Devices of CDI spec files, by fully qualified name ("vendor.com/class=dev"). */
struct oci_cdi;
/** Parse one CDI spec (JSON; cdiVersion 0.3.0 to 0.8.0; kind vendor/class;
 *  devices with name and containerEdits; spec-wide containerEdits applied to
 *  each) and add its devices to `into` (unchanged on error). Edits: env
 *  (NAME=VALUE), deviceNodes (absolute path, hostPath; type c/b/u/p; major,
 *  minor, fileMode, uid, gid; permissions within rwm), mounts (absolute
 *  hostPath and containerPath, type, options), hooks (hookName a stage,
 *  absolute path, args, env). -EINVAL (-EFBIG) naming the key. */
int oci_cdi_spec_parse(const char *name, const char *text, size_t len, struct oci_cdi *into,
		       struct err *err);
/** A YAML CDI spec as the JSON text oci_cdi_spec_parse reads (malloc'd):
 *  plain scalars reading as integers, true/false or null become those;
 *  anchors, aliases and nesting beyond 32 levels are refused (-EINVAL
 *  naming the line). */
int oci_cdi_yaml_to_json(const char *name, const char *text, size_t len, char **ret,
			 struct err *err);
/** The *.json, *.yaml and *.yml specs of `dirs`; a device of a later directory wins over the
 *  same name in an earlier one. Broken files are skipped, their reasons
 *  pushed onto *ret_warnings. Never fails. */
struct oci_cdi *oci_cdi_load(char *const *dirs, char ***ret_warnings);
/** An empty set (to parse into). */
struct oci_cdi *oci_cdi_new(void);
void oci_cdi_free(struct oci_cdi *c);
DEFINE_CLEANUP(struct oci_cdi, oci_cdi_free)
size_t oci_cdi_count(const struct oci_cdi *c);
/** Apply the edits of the devices `names` (NULL-terminated) to `spec`:
 *  linux.devices and their cgroup rules (type and numbers from the host
 *  node when the spec has none), process.env (replacing a variable of the
 *  same name), mounts, hooks. -EINVAL naming an unknown device (nothing
 *  applied then); -ENOENT/-EINVAL for a host node missing or not a device. */
int oci_cdi_apply(const struct oci_cdi *c, json_t *spec, char *const *names, struct err *err);
