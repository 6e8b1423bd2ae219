/* pod internals shared by the manager files. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "cni/cni.h"
#include "pod/pod.h"

/** The cgroup mounts with their kinds: "2" for cgroup2, else the v1
 *  hierarchy's super options ("rw,memory"); NULL-terminated pairs
 *  (strv_free), NULL when there are none. */
char **pod_cgroup_mounts(void);
/** Create cgroupfs directory `path` (absolute, e.g. "/ocid/ocid-pod-ID")
 *  in every mounted cgroup hierarchy. Nothing stays on failure. */
int pod_cgroup_create(const char *path, struct err *err);
/** Move `pid` into `path` in every hierarchy that has it. */
int pod_cgroup_add_pid(const char *path, pid_t pid, struct err *err);
/* Limits of a pod cgroup. */
struct pod_cgroup_limits {
	int64_t memory; /* bytes; -1 = unlimited */
	int64_t shares; /* 0 = leave as it is */
	int64_t quota;	/* us per period; -1 = unlimited */
	int64_t period; /* us; 0 = leave as it is (v2: 100000) */
};

/** Set `l` on `path` in every hierarchy with the controllers (v1: memory,
 *  cpu; v2: the files that exist). -errno naming the file refused. */
int pod_cgroup_set_limits(const char *path, const struct pod_cgroup_limits *l, struct err *err);
/** Remove `path` from every hierarchy; missing is fine. -EBUSY while it
 *  still holds tasks. */
int pod_cgroup_remove(const char *path, struct err *err);

/* The durations of the steps of one operation, for the debug log
 * ("pod run steps id=... pin_us=812 cgroup_us=95 ..."). */
struct pod_steps {
	uint64_t last_ns;
	size_t len;
	char text[384];
};

/** Start timing (no-op unless debug logging is on). */
void pod_steps_start(struct pod_steps *s);
/** Record the time since the previous mark as "<name>_us=N". `s` may be NULL. */
void pod_steps_mark(struct pod_steps *s, const char *name);
/** Log the marks as one debug line `msg` for pod `id`. */
void pod_steps_log(const struct pod_steps *s, const char *msg, const char *id);

/* One sandbox in the manager. */
struct pod {
	struct pod_info info; /* guarded by `lock` */
	bool cni_pending;     /* a CNI DEL is still owed */
	bool creating;	      /* RunPodSandbox in progress: invisible to lookups */
	uint64_t deadline_ns; /* RunPodSandbox's (mono_ns clock; 0 = none) while it runs */
	bool removed;	      /* gone from the index; freed at the last unref */
	unsigned refs;	      /* guarded by the manager's lock */
	pthread_mutex_t lock; /* serialises run/stop/remove of this pod */
};

struct pod_manager {
	char *root, *runroot, *cgroup_parent, *cgroup_driver, *pause_path;
	uint64_t shm_size;
	struct db *db;
	struct cni *cni;
	pthread_mutex_t lock; /* guards pods, n, ids, names, refs, pod_cidr */
	struct pod **pods;
	size_t n;
	struct id_set ids;
	char *pod_cidr;
	int (*stop_ctrs)(void *data, const char *pod_id, struct err *err);
	int (*remove_ctrs)(void *data, const char *pod_id, struct err *err);
	void *ctrs_data;
};

/** Deep copy of an info (a snapshot for callers). */
struct pod_info *pod_info_dup(const struct pod_info *p);
/** The run-time part of an info as JSON text for the database. */
char *pod_status_to_json(const struct pod *p);
/** Fill the run-time part of p->info from what pod_status_to_json wrote. */
int pod_status_from_json(struct pod *p, const char *text, struct err *err);
/** Persist p (config, state, status) to the database. */
int pod_save(struct pod_manager *m, struct pod *p, struct err *err);
/** Tear down what a pod holds at run time (CNI, pause, shm, namespaces);
 *  used by stop, remove and a failed run. Never fails: what cannot be
 *  undone is logged; a failed CNI DEL sets p->cni_pending and, unless
 *  `final`, keeps the network namespace pinned for the retry. */
void pod_teardown(struct pod_manager *m, struct pod *p, bool final, struct pod_steps *t);
/** The CNI attachment of a pod (pointers borrow from p and `ports`). */
void pod_attachment(const struct pod *p, const char *pod_cidr, struct cni_port *ports,
		    struct cni_attachment *a);

/** userns.c: check the user namespace options of `c` (mode POD or NODE,
 *  POD with one uid and one gid range from container id 0, not covering
 *  host id 0, within range, and no host network, IPC or PID). -EINVAL
 *  naming what is wrong. */
int pod_userns_check(const struct pod_config *c, struct err *err);
/** Make the pod's user namespace from its mappings and pin it as
 *  <nsdir>/user, with the namespaces `which` (PROC_NS_NET|IPC|UTS) made
 *  inside it and pinned beside it; sets p->info.userns_path. */
int pod_userns_pin(struct pod *p, const char *nsdir, unsigned which, const char *hostname,
		   struct err *err);

/** A new pod (refs 0, unlocked). */
struct pod *pod_alloc(void);
/** Look up a published pod by id or unique prefix and take a reference. */
int pod_find_ref(struct pod_manager *m, const char *id, struct pod **ret, struct err *err);
/** Drop a reference; the last one frees a removed pod. */
void pod_unref(struct pod_manager *m, struct pod *p);
/** Reserve p's name and id in the index (hidden while `creating`).
 *  -EEXIST naming the holder of the name. The index holds one reference. */
int pod_index_add(struct pod_manager *m, struct pod *p, struct err *err);
/** Make a created pod visible. */
void pod_index_publish(struct pod_manager *m, struct pod *p);
/** Drop p from the index and release the index's reference. */
void pod_index_remove(struct pod_manager *m, struct pod *p);
/** A copy of the recorded pod CIDR, or NULL. */
char *pod_manager_pod_cidr(struct pod_manager *m);
/** Clean up pod directories of <runroot>/pods that have no record (ocid
 *  died inside RunPodSandbox): CNI DEL, unpin, unmount, remove. */
void pod_reap_orphans(struct pod_manager *m);
