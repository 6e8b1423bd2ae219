/* pod: pod sandboxes. A sandbox is a set of pinned namespaces (network, IPC,
 * UTS; PID through ocid-pause when shared), a cgroup, a directory of files
 * (hostname, hosts, resolv.conf, shm) and a CNI attachment. No process runs
 * for a pod unless it shares a PID namespace. State is kept in SQLite and
 * reloaded at start-up; after a reboot (runroot gone) pods are NOTREADY.
 * Nothing here knows about protobuf: the CRI adapter fills plain structs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "oci/oci.h"

struct db;
struct cni;

/* ---- sysctls ---- */

#define POD_SYSCTL_NAME_MAX 256
#define POD_SYSCTL_VALUE_MAX 1024

enum {
	POD_SYSCTL_NET = 1, /* needs the pod's own network namespace */
	POD_SYSCTL_IPC = 2, /* needs the pod's own IPC namespace */
};

/** Validate one sysctl for a pod that owns the namespaces in `owned`
 *  (POD_SYSCTL_NET|IPC). Names are dotted ("net.ipv4.ip_forward") or
 *  slashed ("net/ipv4/conf/eth0.100/forwarding", where '.' belongs to a
 *  segment) segments of [a-z0-9_-]; no empty, "." or ".." segment. Only
 *  net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* pass, and
 *  only when the pod owns that namespace. Values are 1..POD_SYSCTL_VALUE_MAX
 *  printable ASCII bytes (spaces and tabs allowed) without '=' or '+'.
 *  On success *ret_path (malloc'd, may be NULL to skip) is the /proc/sys
 *  file and *ret_ns (may be NULL) the namespace bit. -EINVAL with a message
 *  naming the sysctl otherwise. */
int pod_sysctl_check(const char *name, const char *value, unsigned owned, char **ret_path,
		     unsigned *ret_ns, struct err *err);

/* ---- files of the pod directory ---- */

struct pod_dns {
	char **servers;	 /* NULL-terminated, may be NULL */
	char **searches; /* NULL-terminated, may be NULL */
	char **options;	 /* NULL-terminated, may be NULL */
};

/** resolv.conf text for `dns`: one "nameserver S" line per server, then
 *  "search A B ..." and "options X Y ..." lines when there are any, in that
 *  order. -EINVAL naming the entry when one is empty, too long or holds
 *  whitespace (servers, searches) or a control character (options). */
int pod_resolv_render(const struct pod_dns *dns, char **ret, struct err *err);

/** hosts text: localhost lines for IPv4 and IPv6, then "IP\tHOSTNAME" for
 *  each pod IP (NULL-terminated, may be NULL). malloc'd. */
char *pod_hosts_render(const char *hostname, char *const *ips);

/** A hostname a pod may have: 1..64 bytes of [A-Za-z0-9.-]. -EINVAL else. */
int pod_hostname_check(const char *hostname, struct err *err);

/* ---- sandbox configuration (what RunPodSandbox asks for) ---- */

struct pod_kv {
	char *key;
	char *value;
};

enum pod_proto { POD_PROTO_TCP = 0, POD_PROTO_UDP = 1, POD_PROTO_SCTP = 2 };

struct pod_port {
	enum pod_proto protocol;
	int32_t container_port;
	int32_t host_port; /* 0: not published on the host */
	char *host_ip;	   /* NULL or "": every address */
};

/* Namespace modes; values match CRI's NamespaceMode. */
enum pod_ns_mode { POD_NS_POD = 0, POD_NS_CONTAINER = 1, POD_NS_NODE = 2, POD_NS_TARGET = 3 };

/* What UpdatePodSandboxResources records for a pod (CRI's
 * LinuxContainerResources, the fields a pod cgroup takes); 0 = unset,
 * cpu_quota -1 = unlimited. */
struct pod_resources {
	int64_t cpu_period; /* us */
	int64_t cpu_quota;  /* us per period */
	int64_t cpu_shares;
	int64_t memory_limit_in_bytes;
};

struct pod_config {
	char *name, *namespace, *uid; /* metadata; all required */
	uint32_t attempt;
	char *hostname;	     /* NULL/"": the host's */
	char *log_directory; /* may be NULL */
	bool has_dns;	     /* dns_config given: resolv.conf from `dns` */
	struct pod_dns dns;
	struct pod_port *ports;
	size_t n_ports;
	struct pod_kv *labels;
	size_t n_labels;
	struct pod_kv *annotations;
	size_t n_annotations;
	char *cgroup_parent; /* NULL/"": the configured default */
	struct pod_kv *sysctls;
	size_t n_sysctls;
	enum pod_ns_mode ns_network, ns_pid, ns_ipc;
	/* The pod's user namespace, as CRI's userns_options: none given
	 * (has_userns false) or mode NODE is the host's; POD is the pod's own,
	 * with the uid and gid ranges kubelet chose (pod_run accepts exactly
	 * one of each, mapping container id 0). */
	bool has_userns;
	enum pod_ns_mode ns_user;
	struct oci_idmap *uid_maps, *gid_maps;
	size_t n_uid_maps, n_gid_maps;
	bool privileged;
	char *runtime_handler; /* may be NULL */
	/* The pod's overhead and the sum of its containers' resources, as
	 * UpdatePodSandboxResources last gave them. */
	bool has_overhead, has_resources;
	struct pod_resources overhead, resources;
};

/** Whether the pod has a user namespace of its own (userns mode POD). */
bool pod_config_userns(const struct pod_config *c);

/** Free what a config owns (not the struct). Accepts NULL. */
void pod_config_done(struct pod_config *c);
/** Deep copy. */
void pod_config_copy(struct pod_config *dst, const struct pod_config *src);
/** Serialise to a JSON text (malloc'd) for the database. */
char *pod_config_to_json(const struct pod_config *c);
/** Parse what pod_config_to_json wrote. -EINVAL with err on bad input. */
int pod_config_from_json(const char *text, struct pod_config *ret, struct err *err);
/** The reserved name "k8s_<name>_<namespace>_<uid>_<attempt>" (malloc'd). */
char *pod_config_reserved_name(const struct pod_config *c);

/* ---- the manager ---- */

enum pod_state { POD_READY = 0, POD_NOTREADY = 1 };

/* A snapshot of one sandbox; owns everything. */
struct pod_info {
	char id[ID_LEN + 1];
	char *reserved_name;
	struct pod_config cfg;
	enum pod_state state;
	int64_t created_ns;  /* unix nanoseconds */
	char **ips;	     /* first = primary; NULL-terminated, may be NULL */
	char *dir;	     /* <runroot>/pods/<id> */
	char *netns_path;    /* NULL with host network */
	char *ipcns_path;    /* NULL with host IPC */
	char *utsns_path;    /* NULL with host network */
	char *pidns_path;    /* NULL unless the pod shares a PID namespace */
	char *userns_path;   /* NULL unless the pod has its own user namespace */
	pid_t pause_pid;     /* 0 when none */
	char *cgroup_parent; /* the pod's cgroup, as containers' parent */
	char *network_name;  /* the CNI network it was attached to, or NULL */
	char *hostname;	     /* effective hostname */
	char *shm_path;	     /* NULL with host IPC */
};

/** Free a snapshot. Accepts NULL. */
void pod_info_free(struct pod_info *p);
DEFINE_CLEANUP(struct pod_info, pod_info_free)
/** Free an array of n infos and the array. */
void pod_info_list_free(struct pod_info **v, size_t n);

struct pod_manager_opts {
	const char *root;	   /* --root (the database lives there) */
	const char *runroot;	   /* --runroot: pods/<id> dirs */
	const char *cgroup_parent; /* default parent of pod cgroups, e.g. "/ocid" */
	const char *cgroup_driver; /* "cgroupfs" or "systemd" */
	uint64_t shm_size;	   /* bytes; 0 = 64 MiB */
	const char *pause_path;	   /* the pause program (ocid resolves it at start);
				      NULL = none: pods cannot share a PID namespace */
	struct db *db;		   /* borrowed */
	struct cni *cni;	   /* borrowed; NULL = no networking (host network only) */
	/* Containers of a pod: stopped before StopPodSandbox tears the pod
	 * down, removed before RemovePodSandbox. NULL = none to care for. */
	int (*stop_ctrs)(void *data, const char *pod_id, struct err *err);
	int (*remove_ctrs)(void *data, const char *pod_id, struct err *err);
	void *ctrs_data;
};

struct pod_manager;

/** Load every pod from the database. A pod whose pinned namespaces are gone
 *  (a reboot emptied the runroot) becomes NOTREADY; stop/remove still work.
 *  -errno with err on database errors. */
int pod_manager_new(const struct pod_manager_opts *o, struct pod_manager **ret, struct err *err);
/** Free the manager; pods, their namespaces and networks stay as they are
 *  (they outlive ocid). Accepts NULL. */
void pod_manager_free(struct pod_manager *m);
DEFINE_CLEANUP(struct pod_manager, pod_manager_free)

/** RunPodSandbox: validate, reserve the name, pin namespaces, cgroup, files,
 *  sysctls, CNI ADD, record. *ret_id (malloc'd) names the new pod.
 *  -EEXIST naming the holder when the reserved name is taken; -EINVAL for
 *  bad input (message names the field); other -errno with the failing
 *  step (a CNI error carries the plugin's message). Nothing leaks on
 *  failure: namespaces unpinned, CNI deleted, dirs removed. */
int pod_run(struct pod_manager *m, const struct pod_config *c, char **ret_id, struct err *err);
/** pod_run within the caller's deadline (CLOCK_MONOTONIC ns, ev_now_ns's
 *  clock; 0 = none): CNI plugins still running when the ADD's share of it
 *  is spent are killed, the chain is deleted and everything undone, and
 *  the run fails with -ETIMEDOUT naming the plugin, before the deadline. */
int pod_run_until(struct pod_manager *m, const struct pod_config *c, uint64_t deadline_ns,
		  char **ret_id, struct err *err);

/** StopPodSandbox: stop the pod's containers (stop_ctrs; its failure fails
 *  the stop), CNI DEL, stop ocid-pause, unpin namespaces, unmount shm;
 *  the pod becomes NOTREADY. Idempotent; a failing CNI DEL is logged and
 *  retried at the next stop or remove, it never fails the stop. `id` may
 *  be a unique prefix. An id that names nothing is 0 (idempotent, as the CRI
 *  asks); -ENOTUNIQ for an ambiguous prefix. */
int pod_stop(struct pod_manager *m, const char *id, struct err *err);

/** RemovePodSandbox: remove the containers (remove_ctrs), stop, remove the
 *  cgroup, the directory, the record and
 *  the name reservation. An unknown id is success (idempotent). */
int pod_remove(struct pod_manager *m, const char *id, struct err *err);

/** UpdatePodSandboxResources (in-place pod resize): record `overhead` and
 *  `resources` (NULL: not given, the recorded one stays) and, when ocid
 *  made the pod's cgroup (cgroupfs driver), set its limits to their sum:
 *  memory (limit_in_bytes / memory.max; unlimited when resources has none),
 *  CPU shares (cpu.shares / cpu.weight) and quota (cfs_quota_us and
 *  cfs_period_us / cpu.max), in every hierarchy that has the controller.
 *  Containers keep running. -ENOENT for an unknown pod, -EINVAL for a
 *  negative or out-of-range value (nothing changed), else -errno naming
 *  the cgroup file the kernel refused (-EBUSY: memory in use above the new
 *  limit; the new values stay recorded). */
int pod_update_resources(struct pod_manager *m, const char *id,
			 const struct pod_resources *overhead,
			 const struct pod_resources *resources, struct err *err);

/** A snapshot of pod `id` (full id or unique prefix). -ENOENT when unknown,
 *  -ENOTUNIQ for an ambiguous prefix. */
int pod_get(struct pod_manager *m, const char *id, struct pod_info **ret, struct err *err);

struct pod_filter {
	const char *id;		     /* full id or prefix; NULL = any */
	int state;		     /* -1 = any, else enum pod_state */
	const struct oci_kv *labels; /* all must match; may be NULL */
	size_t n_labels;
};

/** Snapshots of every pod matching `f` (NULL = all), oldest first. */
int pod_list(struct pod_manager *m, const struct pod_filter *f, struct pod_info ***ret,
	     size_t *ret_n, struct err *err);

/** Record the node's pod CIDR (UpdateRuntimeConfig; CIDRs separated by
 *  commas on a dual-stack node), also in the database so that it survives a
 *  restart of ocid; passed to CNI as the runtimeConfig "ipRanges"
 *  capability. NULL/"" clears it. -EINVAL for a malformed CIDR (nothing
 *  changed). */
int pod_manager_set_pod_cidr(struct pod_manager *m, const char *cidr, struct err *err);

/** Whether pod networking is ready: 0, or -errno with a message for the
 *  NetworkReady condition. */
int pod_network_status(struct pod_manager *m, struct err *err);

/** A JSON object (text, malloc'd) with what PodSandboxStatus verbose shows. */
char *pod_info_verbose_json(const struct pod_info *p);

/** `ocid wipe` (ocid stopped): for every pod with a directory under
 *  `runroot`, kill what runs in its shared PID namespace (ocid-pause and
 *  its containers, whatever the cgroup driver; never the caller's own
 *  namespace) and in its cgroup and below (a container the runtime lost),
 *  through pidfds or cgroup.kill, and remove the cgroup from every
 *  hierarchy; the cgroup is found by its name under any parent (cgroupfs
 *  driver; with systemd there is none). Returns how many pod cgroups it
 *  removed; a message for each that stayed is added to *problems (strv). */
unsigned pod_leftovers_wipe(const char *runroot, char ***problems);
