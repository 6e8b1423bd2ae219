/* ctr internals shared by the files of src/ctr. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "ctr/ctr.h"
#include "db/ctr.h"
#include "image/image.h"

/* ---- pod.c: the pod of a create, from the pod manager ---- */

/* Where a pod's pieces are. Paths are NULL when the pod does not have that
 * namespace or file (the container then gets the host's namespace, or no
 * bind mount). Strings owned; free with ctr_pod_done. */
struct ctr_pod {
	char id[ID_LEN + 1]; /* the full pod id */
	char *netns, *ipcns, *utsns, *pidns;
	char *hostname_file, *hosts, *resolv_conf, *shm;
	char *cgroup_parent; /* the pod's cgroup (parent of its containers'), or NULL */
	char *hostname;	     /* or NULL */
	char *userns;	     /* the pod's own user namespace, or NULL (the host's) */
	struct oci_idmap uid_map, gid_map; /* its ranges, when userns is set */
};
void ctr_pod_done(struct ctr_pod *p);
/** The pod `pod_id` (full id or unique prefix) as a create needs it: 0
 *  with *ret filled, -ENOENT when there is no such pod, -ENOTUNIQ for an
 *  ambiguous prefix, -EINVAL when it is not ready. */
int ctr_pod_find(struct ctr_mgr *m, const char *pod_id, struct ctr_pod *ret, struct err *err);

/* The handler a container runs under (owned copy of a ctr_handler, root
 * resolved). */
struct ctr_rt {
	char *name, *path, *root;
	char **args, **env; /* env: monitor_env */
	bool no_pivot, exec_fifo;
};

/* One container. `row` is what the database holds; its run-time fields
 * (state, times, exit code, reason, message, pid) and `removed` are
 * guarded by `st`, which is only ever held briefly. `op` serialises the
 * lifecycle operations (create/start/stop/remove/update) of this
 * container and may be held across runtime calls. */
struct ctr {
	char id[ID_LEN + 1];
	struct db_ctr row;
	struct ctr_kv *labels;
	size_t n_labels;
	struct ctr_kv *annotations;
	size_t n_annotations;
	int stop_signal;
	char *repo_digest; /* of the image at create (ContainerStatus.image_ref), or NULL */
	char *cgroups_path;
	char *upper_dir;
	char *attach_path, *ctl_path;
	bool tty;
	bool stdin_once; /* stdin closes when the first attach client leaves */
	json_t *user;	 /* process.user of the spec, or NULL */
	bool visible;	 /* false while being created: not listed, name held */
	bool paused;	 /* frozen by ctr_pause (under st); found again at recovery */
	bool removed;
	struct ctr_rt *rt; /* its runtime handler (set before it is indexed) */
	int refs;	   /* guarded by the index lock */
	pthread_mutex_t op;
	pthread_mutex_t st;
	pthread_cond_t changed; /* signalled (under st) when the state changes */
};

/* ---- index.c: ids, names, lookup (no I/O) ---- */

struct ctr_index {
	pthread_rwlock_t lock;
	struct id_set ids;
	struct ctr **v;
	size_t n, cap;
};

void ctr_index_init(struct ctr_index *x);
/** Drop every container (their references). */
void ctr_index_done(struct ctr_index *x);
/** A new container object with one reference held by the caller. */
struct ctr *ctr_new(const char *id);
void ctr_ref(struct ctr *c);
void ctr_unref(struct ctr *c);
/** Insert `c` (the index takes a reference). -EEXIST when its name
 *  (c->row.name) is held by another container (err names it), or the id
 *  is taken. */
int ctr_index_add(struct ctr_index *x, struct ctr *c, struct err *err);
/** Remove `c` from the index (drops the index's reference). */
void ctr_index_remove(struct ctr_index *x, struct ctr *c);
/** Resolve a full id or unique prefix to a visible container, with a
 *  reference for the caller. -ENOENT / -ENOTUNIQ / -EINVAL. */
int ctr_index_get(struct ctr_index *x, const char *id, struct ctr **ret, struct err *err);
/** References to every container (visible or not), oldest first. */
struct ctr **ctr_index_all(struct ctr_index *x, size_t *ret_n);
/** Unref each and free the array. */
void ctr_refs_free(struct ctr **v, size_t n);
/** Whether `c` matches `f` (caller holds c->st). `pod_full` is the pod id
 *  the filter's prefix resolved to, or NULL to compare prefixes. */
bool ctr_matches(const struct ctr *c, const struct ctr_filter *f);
/** A snapshot of `c` (caller holds c->st); the CRI config bytes only
 *  `with_config`. */
struct ctr_info *ctr_snapshot(const struct ctr *c, bool with_config);
/** Parse a JSON object of strings into kv pairs; "{}" on bad input. */
void ctr_kv_parse(const char *json, struct ctr_kv **ret, size_t *ret_n);
/** Serialise kv pairs as a JSON object. malloc'd. */
char *ctr_kv_json(const struct oci_kv *kv, size_t n);
void ctr_kv_free(struct ctr_kv *kv, size_t n);
/** The reserved name k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>. malloc'd. */
char *ctr_name_make(const char *name, const char *pod, const char *ns, const char *uid,
		    uint32_t attempt);

/* ---- events.c ---- */

struct ctr_bus {
	pthread_mutex_t lock;
	struct ctr_sub *subs;
	bool closed;
};

void ctr_bus_init(struct ctr_bus *b);
/** Wake every subscriber with -EPIPE; no more events. */
void ctr_bus_close(struct ctr_bus *b);
void ctr_bus_done(struct ctr_bus *b);
struct ctr_sub *ctr_bus_subscribe(struct ctr_bus *b);
void ctr_bus_publish(struct ctr_bus *b, enum ctr_event_type type, const char *id,
		     const char *pod_id);

/* ---- mgr.c ---- */

struct ctr_mgr {
	char *root, *runroot, *runtime, *runtime_root, *ocimon, *cgroup_driver;
	struct db *db;
	struct storage *storage;
	struct image_service *images;
	struct stats *stats; /* NULL when no cgroup hierarchy was found */
	char *containers_dir;
	bool own_storage;
	bool exec_fifo_start;
	struct pod_manager *pods;
	int image_volumes; /* enum oci_volumes_mode; atomic (set on reload) */
	struct oci_host host;
	struct oci_runtime_features features; /* `<runtime> features`, probed once at start */
	uint64_t oom_total; /* containers seen killed by the OOM killer (atomic, for metrics) */
	bool userns;	    /* pods in user namespaces work here (ctr_userns_probe) */
	struct ctr_index index;
	struct ctr_bus bus;
	/* exit watching */
	int inotify_fd;
	int stop_fd;
	pthread_t watcher;
	bool watcher_started;
	pthread_mutex_t watch_lock;
	struct watch *watches;
	size_t n_watches;
	/* monitor watching: a pidfd per container's ocimon, in `epfd` beside
	 * the inotify and stop fds (under watch_lock) */
	int epfd;
	struct mon_watch *mons;
	size_t n_mons;
	uint64_t next_token;
};

/** Persist the run-time fields of `c` (caller holds c->st); logged on failure. */
void ctr_save_state(struct ctr_mgr *m, struct ctr *c);

/* ---- paths.c ---- */

/** Paths of a container (malloc'd). */
char *ctr_path_run(const struct ctr_mgr *m, const char *id, const char *name);
char *ctr_path_root(const struct ctr_mgr *m, const char *id, const char *name);
/** The ctl or attach socket path: under the run dir when it fits a
 *  sockaddr_un, else a short name under <runroot>/s/. */
char *ctr_path_sock(const struct ctr_mgr *m, const char *id, const char *name);

/* ---- watch.c: exit files and monitors, on the watcher thread ---- */

struct mon_exit;

/** Set up the watcher's fds and lock (first in the manager's start-up;
 *  ctr_watch_done undoes what was done, also after a failure). */
int ctr_watch_init(struct ctr_mgr *m, struct err *err);
/** Start the watcher thread. -EAGAIN when it cannot be made. */
int ctr_watch_start(struct ctr_mgr *m, struct err *err);
/** End the watcher thread and wait for it; nothing when it never started. */
void ctr_watch_stop(struct ctr_mgr *m);
void ctr_watch_done(struct ctr_mgr *m);
/** Move `c` to EXITED with `e`'s code, time and reason (caller holds
 *  c->st; not saved, no event). */
void ctr_exit_apply(struct ctr *c, const struct mon_exit *e);
/** Start watching the exit file of `c`. */
int ctr_watch_add(struct ctr_mgr *m, const char *id, struct err *err);
void ctr_watch_remove(struct ctr_mgr *m, const char *id);
/** Read the exit file of `c` and, when present, move it to EXITED (saved,
 *  event published). Returns 1 when it exited, 0 when still running. */
int ctr_exit_check(struct ctr_mgr *m, struct ctr *c);
/** Whether process `pid` still is container `id`'s (its cgroup names the
 *  id): a pid recorded before a restart may have been reused since. A
 *  zombie is not: it has exited. */
bool ctr_pid_is(pid_t pid, const char *id);
/** Watch container `id`'s monitor, process `mon_pid`, through a pidfd: when
 *  it exits without having written the exit file, ctr_monitor_lost runs (on
 *  the watcher thread, within milliseconds). -ESRCH when it is gone already.
 *  ctr_watch_remove ends the watch. */
int ctr_monitor_watch(struct ctr_mgr *m, const char *id, pid_t mon_pid, struct err *err);
/** The monitor of `c` (pid `mon_pid`, 0 when unknown) is gone. An exit it
 *  recorded is taken as usual; else nothing is left to collect the
 *  container's output and exit status: its process is killed, and it moves
 *  to EXITED (137, or 255 when it was gone already) with reason Error and a
 *  message that says the monitor died, through an exit file written for the
 *  monitor (so a stop waiting for one ends too). */
void ctr_monitor_lost(struct ctr_mgr *m, struct ctr *c, pid_t mon_pid);

/* ---- recover.c ---- */

/** Load every container of the database and reconcile it with the host;
 *  roll back half-done creates. -errno with err when the rows cannot be
 *  read; a container that cannot be loaded is logged and skipped. */
int ctr_recover(struct ctr_mgr *m, struct err *err);

/* ---- runtime.c: OCI runtime CLI calls ---- */

/** A copy of `h` (NULL: the manager's runtime), root resolved. */
struct ctr_rt *ctr_rt_new(const struct ctr_mgr *m, const struct ctr_handler *h);
void ctr_rt_free(struct ctr_rt *rt);
/** `rt` as a JSON object (for the container's record), and back: a
 *  missing or bad object (a record from before handlers) gives the
 *  manager's runtime. */
json_t *ctr_rt_json(const struct ctr_rt *rt);
struct ctr_rt *ctr_rt_load(const struct ctr_mgr *m, const json_t *j);
/** Whether the runtime is gVisor's runsc (as ocimon tells it): the pid of
 *  its container is its sandbox's, signalled through `runsc kill`. */
bool ctr_rt_sandboxed(const struct ctr_rt *rt);
/** Push `<program> --root R <handler args>` onto *argv. */
void ctr_rt_argv(const struct ctr_rt *rt, char ***argv);
/** The runtime's environment: PATH and the handler's monitor_env (free
 *  with strv_free). */
char **ctr_rt_env(const struct ctr_rt *rt);

/** `<runtime> --root R <args...>` of handler `rt`; -errno with the
 *  runtime's stderr in err: -ECHILD when the runtime ran and failed (the
 *  message names the handler and program). Killed after 120 s (-ETIMEDOUT
 *  naming the runtime and the verb). */
int ctr_runtime_run(const struct ctr_mgr *m, const struct ctr_rt *rt, char *const *args,
		    const char *input, size_t input_len, struct err *err);
/** ctr_runtime_run_for that hands the runtime's stdout (NUL-terminated,
 *  at most 1 MiB) to *ret_out (owned) when `ret_out` is not NULL. */
int ctr_runtime_output(const struct ctr_mgr *m, const struct ctr_rt *rt, char *const *args,
		       const char *input, size_t input_len, unsigned timeout_ms, char **ret_out,
		       struct err *err);
/** Thaw `c` if ctr_pause froze it (caller holds c->op): a frozen process
 *  takes no signal, so stop and remove thaw it first. 0 or -errno. */
int ctr_pause_undo(struct ctr_mgr *m, struct ctr *c, struct err *err);
/** At recovery: whether running container `c` is paused, from its
 *  runtime's state (a freeze outlives ocid; the flag does not). Logs when
 *  the runtime cannot say (then not paused). */
void ctr_pause_recover(struct ctr_mgr *m, struct ctr *c);
/** ctr_runtime_run killed after `timeout_ms`. */
int ctr_runtime_run_for(const struct ctr_mgr *m, const struct ctr_rt *rt, char *const *args,
			const char *input, size_t input_len, unsigned timeout_ms, struct err *err);
/** The time a runtime call may take within a call's deadline (ev_now_ns
 *  clock; 0 = none, then `dflt_ms`): what is left, less a quarter (at most
 *  a second) kept to undo what the call made and answer; at least 1 ms,
 *  at most `dflt_ms`. */
unsigned ctr_deadline_budget_ms(uint64_t deadline_ns, unsigned dflt_ms);
/** Run `<runtime> features` once and keep what it says in m->features
 *  and m->host.rro. A runtime without the command has no features (logged
 *  at info level); never fails. */
void ctr_runtime_features_probe(struct ctr_mgr *m);
/** userns.c: whether containers of pods with their own user namespace
 *  work here, in m->userns: the runtime knows user namespaces, the kernel
 *  has mount_setattr, an idmapped overlay works on the root's filesystem
 *  (storage_idmap_probe) and every directory above <root>/containers and
 *  <runroot>/pods is searchable by others. Logs what fails; never fails.
 *  Call after the runtime's features and the storage are known. */
void ctr_userns_probe(struct ctr_mgr *m);
/** CREATED -> running: `<runtime> start`, or, with exec_fifo_start and a
 *  runc-style exec fifo, what `runc start` does without the runc process:
 *  read the fifo to its end, then remove it. Either way it returns once the
 *  program's exec has finished (proc_exec_wait). `pid` is the init's. */
int ctr_runtime_start(const struct ctr_mgr *m, const struct ctr_rt *rt, const char *id, pid_t pid,
		      unsigned timeout_ms, struct err *err);

/* ---- create.c ---- */

/** Undo what a create left on disk (mount, dirs) for `id`. Best effort:
 *  ctr_cleanup_rootfs (the overlay, volumes, <root>/containers/<id>) then
 *  ctr_cleanup_run (the bundle under the runroot, the sockets). */
void ctr_cleanup_dirs(struct ctr_mgr *m, const char *id);
void ctr_cleanup_rootfs(struct ctr_mgr *m, const char *id);
void ctr_cleanup_run(struct ctr_mgr *m, const char *id);

/* ---- volumes.c ---- */

/* The mounts of a create once ocid made its own: image volumes and
 * idmapped binds, each mounted on <root>/containers/<id>/vol/<n> and given
 * to the spec as a read-only or plain bind of that path. */
struct ctr_volumes {
	struct oci_mount *mounts; /* the request's, host paths replaced */
	size_t n_mounts;
	json_t *record; /* [{"image": id, "path": container path}], or NULL */
	char **layers;	/* chain ids the image volumes use */
	char **paths;	/* the host paths the mounts point to now (owned) */
};

/** Mount what `extras` (one per mounts[i], may be NULL) asks for, for
 *  container `id` of pod `pod`. -ENOENT for a missing image or sub path,
 *  -EINVAL for a bad request (a sub path leaving the image, mappings
 *  without a pod user namespace or outside it), each naming the mount.
 *  What was mounted stays for ctr_volumes_unmount on failure too. */
int ctr_volumes_prepare(struct ctr_mgr *m, const char *id, const struct ctr_pod *pod,
			const struct oci_mount *mounts, size_t n,
			const struct ctr_mount_extra *extras, struct ctr_volumes *ret,
			struct err *err);
void ctr_volumes_done(struct ctr_volumes *v);
/** Detach every mount under <root>/containers/<id>/vol. Best effort. */
void ctr_volumes_unmount(struct ctr_mgr *m, const char *id);

/* ---- image.c ---- */

struct ctr_image {
	char *id;
	char *repo_digest; /* "repo@sha256:..." (the named repository's if any), or NULL */
	struct image_config *config;
	char **layers; /* chain ids, top-most first */
	size_t n_layers;
};

/** Resolve a reference or an image id (prefix) through the image tables.
 *  -ENOENT naming it when there is no such image. */
int ctr_image_resolve(struct db *db, struct image_service *svc, const char *name,
		      struct ctr_image *ret, struct err *err);
void ctr_image_done(struct ctr_image *i);

/* ---- once public, used only inside ctr ---- */

/** Whether the state machine allows `from` -> `to`: CREATED -> RUNNING,
 *  CREATED -> EXITED (killed before start), RUNNING -> EXITED, UNKNOWN ->
 *  anything. */
bool ctr_state_can(enum ctr_state from, enum ctr_state to);
/** Kill the exec'd process, what it started and the runtime. */
void ctr_exec_proc_kill(struct ctr_exec_proc *p);
/** Where an exec of container c writes its program's pid (files under
 *  the container's run directory), and how that program is ended. */
struct ctr_exec_target *ctr_exec_target_new(const struct ctr_mgr *m, const struct ctr *c);
/** The runtime exec's flags that write those pid files. */
void ctr_exec_target_args(const struct ctr_exec_target *t, char ***argv);
/** SIGKILL the program (inside a sandbox too), what it started and the
 *  runtime process waiting for it. */
void ctr_exec_target_kill(const struct ctr_exec_target *t);
/** Remove the pid files and free (NULL is fine). */
void ctr_exec_target_free(struct ctr_exec_target *t);
