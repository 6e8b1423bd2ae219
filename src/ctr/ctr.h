/* ctr: the container manager. An in-memory index of containers (loaded from
 * the database at start, so restarts keep every container in its state),
 * name reservation, the CREATED -> RUNNING -> EXITED state machine, the OCI
 * runtime calls (through an ocimon per container), exit watching (inotify
 * on the exit files ocimon writes) and an event bus for GetContainerEvents.
 *
 * Lists and statuses are answered from memory; the runtime is only run for
 * create/start/stop/remove/exec/update. Nothing here knows about protobuf:
 * what ContainerStatus reports of a container's config (its mounts and
 * resources) is a struct ctr_status_cfg, stored as JSON this module writes
 * and parses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "base/id.h"
#include "db/db.h"
#include "oci/oci.h"
#include "stats/stats.h"

struct storage;
struct image_service;
struct pod_manager;
struct ctr_mgr;

enum ctr_state {
	CTR_CREATED = 0,
	CTR_RUNNING = 1,
	CTR_EXITED = 2,
	CTR_UNKNOWN = 3,
};

/** "CREATED", "RUNNING", "EXITED", "UNKNOWN". */
const char *ctr_state_name(enum ctr_state s);

struct ctr_kv {
	char *key;
	char *value;
};

/* One mount as ContainerStatus reports it: as CreateContainer asked. */
struct ctr_status_mount {
	char *container_path;
	char *host_path;
	bool readonly;
	bool selinux_relabel;
	bool recursive_read_only;
	enum oci_propagation propagation;
	struct oci_idmap *uids, *gids; /* idmapped mount ranges */
	size_t n_uids, n_gids;
	char *image;	      /* an image volume's image, or NULL */
	char *image_sub_path; /* or NULL */
};

/* What ContainerStatus reports of a container's config: the mounts as
 * asked and the resources (CreateContainer's, then each
 * UpdateContainerResources'). Filled by the CRI adapter; a parsed one owns
 * every pointer (ctr_status_cfg_done), one the adapter builds may borrow
 * them. The strings and arrays of `resources` belong to it likewise. */
struct ctr_status_cfg {
	struct ctr_status_mount *mounts;
	size_t n_mounts;
	bool has_resources;
	struct oci_resources resources;
};

/** `c` as a JSON object (malloc'd; what ctr stores in its row). */
char *ctr_status_cfg_to_json(const struct ctr_status_cfg *c);
/** Parse `len` bytes of what ctr_status_cfg_to_json wrote into *ret (owned;
 *  free with ctr_status_cfg_done, also after failure). -EINVAL naming the
 *  path of the bad value, -EFBIG over 16 MiB. */
int ctr_status_cfg_parse(const char *text, size_t len, struct ctr_status_cfg *ret, struct err *err);
/** Free what ctr_status_cfg_parse filled (zeroes it). */
void ctr_status_cfg_done(struct ctr_status_cfg *c);

/* A snapshot of one container, owned by the caller (ctr_info_free). */
struct ctr_info {
	char id[ID_LEN + 1];
	char *pod_id;
	char *name;	/* the reserved name */
	char *ctr_name; /* CRI metadata name */
	uint32_t attempt;
	char *image_ref;   /* the image as CreateContainer named it */
	char *image_id;	   /* its config digest */
	char *repo_digest; /* "repo@sha256:..." it was known by at create, or NULL */
	enum ctr_state state;
	int64_t created_ns, started_ns, finished_ns;
	int32_t exit_code;
	char *reason; /* "Completed", "Error", "OOMKilled" or "" */
	char *message;
	int32_t pid;
	int stop_signal; /* the signal StopContainer sends first */
	char *log_path;
	struct ctr_kv *labels;
	size_t n_labels;
	struct ctr_kv *annotations;
	size_t n_annotations;
	/* What ContainerStatus reports (ctr_status only; zeroed in lists). */
	struct ctr_status_cfg cfg;
	char *spec_path;    /* config.json of the bundle */
	char *cgroups_path; /* linux.cgroupsPath of the spec ("" when unknown) */
	char *upper_dir;    /* the writable layer */
	char *attach_path;  /* ocimon's attach socket (SOCK_SEQPACKET, mon.h) */
	char *ctl_path;	    /* ocimon's control socket */
	bool tty;	    /* the container has a terminal */
	bool stdin_once;    /* its stdin closes when the first attach ends */
	bool has_user;	    /* the process user below is known */
	int64_t uid, gid;
	int64_t *groups; /* additional gids */
	size_t n_groups;
};

/** Free a snapshot. Accepts NULL. */
void ctr_info_free(struct ctr_info *c);
DEFINE_CLEANUP(struct ctr_info, ctr_info_free)
/** Free an array of `n` snapshots and the array. */
void ctr_info_list_free(struct ctr_info **v, size_t n);

struct ctr_config {
	const char *root;	   /* <root>/containers/<id>/{upper,work,merged} */
	const char *runroot;	   /* <runroot>/containers/<id>/{config.json,exit,ctl,attach} */
	const char *runtime;	   /* OCI runtime binary (absolute) */
	const char *ocimon;	   /* monitor binary (absolute; ocid resolves it at start) */
	const char *cgroup_driver; /* "systemd" or "cgroupfs" */
	/* Start a container the runtime left waiting on <runtime root>/<id>/
	 * exec.fifo (runc) by reading that fifo, as `runc start` does,
	 * instead of running `<runtime> start`. */
	bool exec_fifo_start;
	struct db *db;
	struct storage *storage;	     /* layer store; NULL = opened on root */
	struct image_service *images;	     /* image lookup; NULL = the image tables directly */
	struct pod_manager *pods;	     /* where a create finds its pod (pod_get) */
	enum oci_volumes_mode image_volumes; /* see ctr_mgr_set_image_volumes */
};

/** Load every container from the database and reconcile with the host:
 *  exit files written while ocid was down are applied, half-done creates
 *  (directories without a row) are rolled back, exit watching starts.
 *  Running containers are left alone. -errno with err on failure. */
int ctr_mgr_new(const struct ctr_config *cfg, struct ctr_mgr **ret, struct err *err);
/** How creates treat an image's VOLUMEs that no CRI mount covers (the
 *  image_volumes setting): from the next create on. Any thread. */
void ctr_mgr_set_image_volumes(struct ctr_mgr *m, enum oci_volumes_mode mode);
/** Stop watching and free (containers keep running). Accepts NULL. */
void ctr_mgr_free(struct ctr_mgr *m);
DEFINE_CLEANUP(struct ctr_mgr, ctr_mgr_free)

/* What a CRI mount asks beyond a bind of its host path (the matching
 * entry of ctr_create_req.spec.mounts), prepared by the manager before the
 * runtime runs. Everything borrowed. */
struct ctr_mount_extra {
	/* An image volume (KEP-4639): the image (reference or id, as pulled)
	 * mounted read-only from the layer store instead of a host path, and
	 * the directory or file of it to mount (NULL or "" = its root). */
	const char *image;
	const char *image_sub_path;
	/* An idmapped bind (CRI uidMappings/gidMappings): one range each,
	 * container id -> host id, within the pod's user namespace. */
	size_t n_uids, n_gids;
	const struct oci_idmap *uids, *gids;
};

/* The runtime handler a container runs under (its pod's [runtimes.<name>]).
 * Everything borrowed; kept with the container (its database record). */
struct ctr_handler {
	const char *name;
	const char *path;	  /* the OCI runtime program (absolute) */
	const char *root;	  /* its --root; "": ocid's (see ctr_rt_new) */
	char *const *args;	  /* global flags before the verb, or NULL */
	char *const *monitor_env; /* NAME=VALUE added to the runtime's environment */
	bool no_pivot_root;	  /* `create --no-pivot` */
	bool exec_fifo_start;	  /* start through runc's exec fifo */
	/* Its program (`features`) and the kernel can do recursive read-only
	 * ("rro") mounts; without, a mount asking for one is refused. */
	bool recursive_read_only;
};

/* A CreateContainer request. Everything borrowed. */
struct ctr_create_req {
	/* The pod's handler; NULL = the manager's runtime (ctr_config). */
	const struct ctr_handler *handler;
	const char *pod_id; /* full id or unique prefix */
	const char *pod_name, *pod_namespace, *pod_uid;
	const char *name; /* CRI metadata name */
	uint32_t attempt;
	const char *image; /* reference or image id (prefix) */
	const struct oci_kv *labels;
	size_t n_labels;
	const struct oci_kv *annotations;
	size_t n_annotations;
	const char *log_dir;	   /* the pod's log directory ("" = none) */
	const char *log_path;	   /* relative to log_dir ("" = no log) */
	const char *cgroup_parent; /* the pod's ("" = ocid's default) */
	const char *stop_signal;   /* "SIGTERM"...; NULL = the image's StopSignal, else SIGTERM */
	/* The CRI side of the spec: command, args, envs, working_dir, user,
	 * mounts, devices, privileged, caps, tty, stdin, resources, seccomp,
	 * namespace modes (net/ipc/pid: POD or NODE or CONTAINER; paths are
	 * filled by the manager), hostname, sysctls. rootfs, image and
	 * cgroups_path are filled by the manager. */
	struct oci_ctr_config spec;
	/* One per spec.mounts entry, or NULL when no mount asks for more. */
	const struct ctr_mount_extra *mount_extras;
	/* What ContainerStatus will report; stored, handed back in ctr_info. */
	const struct ctr_status_cfg *status_cfg;
	/* The caller's deadline (ev_now_ns clock; 0 = none): the runtime's
	 * create is killed in time to undo it all and answer -ETIMEDOUT
	 * before then. */
	uint64_t deadline_ns;
};

/** Create a container: reserve its name (-EEXIST naming the holder), resolve
 *  the image (-ENOENT naming it) and the pod (-ENOENT), mount its rootfs,
 *  write the bundle and start an ocimon that runs `<runtime> create`.
 *  *ret_id gets the new id. On failure nothing is left behind. */
int ctr_create(struct ctr_mgr *m, const struct ctr_create_req *req, char ret_id[ID_LEN + 1],
	       struct err *err);

/** CREATED -> RUNNING (ctr_runtime_start: runc's exec fifo or `<runtime>
 *  start`). -ENOENT unknown id, -EINVAL when not CREATED. `deadline_ns`
 *  (ev_now_ns clock; 0 = none): a runtime that has not answered in time is
 *  killed, -ETIMEDOUT naming it, and the container stays CREATED. */
int ctr_start(struct ctr_mgr *m, const char *id, uint64_t deadline_ns, struct err *err);

/** Stop: the stop signal (image StopSignal or SIGTERM), up to `timeout_s`
 *  seconds, then SIGKILL; returns once the container exited. timeout 0
 *  kills at once. Idempotent: an exited container and an id that names
 *  nothing (unknown, or not hex at all) are 0; -ENOTUNIQ for an ambiguous
 *  prefix. */
int ctr_stop(struct ctr_mgr *m, const char *id, int64_t timeout_s, struct err *err);

/** Remove: stops if needed, `<runtime> delete`, unmounts, removes its
 *  directories (not the log). An unknown id is 0. */
int ctr_remove(struct ctr_mgr *m, const char *id, struct err *err);

/** A snapshot of `id` (full or unique prefix). -ENOENT when it names
 *  nothing, -ENOTUNIQ for an ambiguous prefix. */
int ctr_status(struct ctr_mgr *m, const char *id, struct ctr_info **ret, struct err *err);

struct ctr_filter {
	const char *id;	    /* full id or prefix; NULL = any */
	const char *pod_id; /* full id or prefix; NULL = any */
	bool has_state;
	enum ctr_state state;
	const struct oci_kv *labels; /* all must match */
	size_t n_labels;
};

/** Containers matching `f` (NULL = all), oldest first; their snapshots
 *  carry no cfg (ctr_status has it). Never fails but for -EINVAL on a
 *  malformed id. */
int ctr_list(struct ctr_mgr *m, const struct ctr_filter *f, struct ctr_info ***ret, size_t *ret_n,
	     struct err *err);

/** `<runtime> update` with `r` as oci_resources_build makes it (same checks
 *  and host bounds as a create); then `r` is what ContainerStatus reports.
 *  -EINVAL when the container is not running or created, or for resources
 *  oci_resources_build refuses. */
int ctr_update_resources(struct ctr_mgr *m, const char *id, const struct oci_resources *r,
			 struct err *err);

/** Ask the container's monitor to reopen its log. -EINVAL when it is not running. */
int ctr_reopen_log(struct ctr_mgr *m, const char *id, struct err *err);

struct ctr_exec_result {
	int exit_code;
	char *out;
	size_t out_len;
	char *errout;
	size_t err_len;
};
void ctr_exec_result_done(struct ctr_exec_result *r);

/** The bound of ExecSync's output, both streams together: with the reply's
 *  protobuf framing (a tag and a length of at most 5 bytes per stream, the
 *  exit code) it stays below kubelet's 16 MiB message limit. */
#define CTR_EXEC_OUTPUT_MAX (((size_t)16 << 20) - 4096)

/** Run `cmd` in the container (`<runtime> exec`, the container's user, env
 *  and cwd) and capture its output: stdout and stderr together at most
 *  CTR_EXEC_OUTPUT_MAX, the start of each kept (a stream under half of it
 *  whole, the other cut to the rest; the process's output past the bound
 *  is read and dropped, so it never blocks). With
 *  timeout_s > 0 the process is killed when it passes and -ETIMEDOUT is
 *  returned. -EINVAL when not running or cmd is empty. */
int ctr_exec_sync(struct ctr_mgr *m, const char *id, char *const *cmd, int64_t timeout_s,
		  struct ctr_exec_result *ret, struct err *err);

/* ---- exec sessions (exec.c), for the streaming server ---- */

struct ctr_exec_opts {
	char *const *cmd;  /* argv, NULL-terminated, non-empty */
	bool tty;	   /* a terminal: stdout carries both streams */
	bool in, out, err; /* which streams the session wants */
};

struct ctr_exec_target;

/* A running `<runtime> exec` (our child) and our ends of its stdio. */
struct ctr_exec_proc {
	pid_t pid;			/* the runtime process */
	int pidfd;			/* readable once it exited */
	int in_fd;			/* its stdin: a pipe, the pty master (a dup) or -1 */
	int out_fd;			/* its stdout: a pipe, the pty master or -1 */
	int err_fd;			/* its stderr: a pipe or -1 (always -1 with a tty) */
	struct ctr_exec_target *target; /* the exec'd program's pid files */
	bool tty;
	bool reaped;
	int exit_code; /* once reaped: 0..255, 128 + signal when killed */
};

void ctr_exec_proc_init(struct ctr_exec_proc *p);

/** Start `o->cmd` in running container `id` (the container's user, env,
 *  cwd; TERM=xterm with a tty). -ENOENT unknown id, -EINVAL when it is not
 *  running or the command is empty, else -errno with err. */
int ctr_exec_spawn(struct ctr_mgr *m, const char *id, const struct ctr_exec_opts *o,
		   struct ctr_exec_proc *ret, struct err *err);
/** Resize the session's terminal. -ENOTTY without one, -EINVAL for 0. */
int ctr_exec_proc_resize(struct ctr_exec_proc *p, unsigned width, unsigned height);
/** Reap the runtime: its exit code, -EAGAIN while it runs (block false). */
int ctr_exec_proc_reap(struct ctr_exec_proc *p, bool block);
/** Close our ends; a runtime still running is killed and reaped. */
void ctr_exec_proc_done(struct ctr_exec_proc *p);

/** Verbose ContainerStatus info as JSON (malloc'd): sandboxID, pid, name,
 *  cgroupsPath and the OCI spec as runtimeSpec (when readable). */
int ctr_verbose_info(struct ctr_mgr *m, const struct ctr_info *i, char **ret, struct err *err);

/** Stop every container of pod `pod_id` (timeout 0), for StopPodSandbox. */
int ctr_pod_stop(struct ctr_mgr *m, const char *pod_id, struct err *err);
/** Remove every container of pod `pod_id`, for RemovePodSandbox. */
int ctr_pod_remove(struct ctr_mgr *m, const char *pod_id, struct err *err);

/* What the runtime handler can do, for CRI Status. */
struct ctr_features {
	bool recursive_read_only; /* "rro" mounts: kernel mount_setattr + runtime support */
	bool user_namespaces;	  /* pods in their own user namespace (mode POD) */
};

/** The features found at start (the runtime's `features` command and the
 *  kernel were probed once then). Never fails. */
void ctr_mgr_features(const struct ctr_mgr *m, struct ctr_features *ret);
/** Freeze (`pause`) or thaw a running container's processes through the
 *  runtime's cgroup freezer (`<runtime> pause` / `resume`). The container
 *  stays RUNNING for the CRI. -ENOENT unknown id, -EINVAL when it is not
 *  running, already paused (pause) or not paused (resume); -EIO with the
 *  runtime's message. */
int ctr_pause(struct ctr_mgr *m, const char *id, bool pause, struct err *err);

/* What the runtime says of a container (`<runtime> state`). */
struct ctr_runtime_state {
	char *status; /* "created", "running", "paused", "stopped" */
	char *rootfs; /* the root filesystem path */
	char *bundle;
	int32_t pid;
};
/** `<runtime> state` of container `id`: 0 with *ret filled (free with
 *  ctr_runtime_state_done), -ENOENT unknown id, -EIO with the runtime's
 *  message (e.g. it no longer knows the container), -EBADMSG bad JSON. */
int ctr_runtime_state(struct ctr_mgr *m, const char *id, struct ctr_runtime_state *ret,
		      struct err *err);
void ctr_runtime_state_done(struct ctr_runtime_state *s);

/** Containers seen ending killed by the OOM killer since start (any
 *  thread; for metrics). */
uint64_t ctr_mgr_oom_total(const struct ctr_mgr *m);

/** 0 when no container mounts image `image_id` (a config digest) as an
 *  image volume; else -EBUSY with err naming the container and the path. */
int ctr_image_check_unused(struct ctr_mgr *m, const char *image_id, struct err *err);

/* ---- stats ---- */

struct ctr_stats {
	struct ctr_info *info;
	bool has_cgroup; /* cg was read (running containers with a cgroup) */
	struct stats_cgroup cg;
	bool has_fs; /* fs is the writable layer's usage */
	struct stats_fs_usage fs;
};

/** Stats of every container matching `f` (ctr_list's rules). Free with
 *  ctr_stats_free. Readings that fail leave their has_* flag false. */
int ctr_stats_list(struct ctr_mgr *m, const struct ctr_filter *f, struct ctr_stats **ret,
		   size_t *ret_n, struct err *err);
/** Stats of one container. -ENOENT when unknown. Free with ctr_stats_free(ret, 1)
 *  semantics: ctr_info_free(ret->info). */
int ctr_stats_get(struct ctr_mgr *m, const char *id, struct ctr_stats *ret, struct err *err);
void ctr_stats_free(struct ctr_stats *v, size_t n);
struct ctr_pod_stats {
	bool has_cgroup;
	struct stats_cgroup cg; /* the pod's cgroup */
	bool has_net;
	struct stats_net net; /* its network namespace's interfaces */
	struct ctr_stats *ctrs;
	size_t n_ctrs;
};

/** Stats of pod `pod_id` (full id): its cgroup `cgroup` (an OCI
 *  cgroupsPath-style path; NULL/"" = none), the interfaces of the network
 *  namespace pinned at `netns` (NULL = host network: none) and its
 *  containers. Readings that fail leave their has_* flag false. Free with
 *  ctr_pod_stats_done. */
int ctr_pod_stats_get(struct ctr_mgr *m, const char *pod_id, const char *cgroup, const char *netns,
		      struct ctr_pod_stats *ret, struct err *err);
void ctr_pod_stats_done(struct ctr_pod_stats *s);

/** The directory holding the writable layers (FilesystemIdentifier). */
const char *ctr_fs_mountpoint(const struct ctr_mgr *m);

/** Usage of ctr_fs_mountpoint (ImageFsInfo's container filesystem): what
 *  the writable layers and their work directories hold, rootfs mounts not
 *  entered; the walk is cached for a few seconds as the per-container
 *  walks are. Errors as stats_fs_usage. */
int ctr_fs_usage(struct ctr_mgr *m, struct stats_fs_usage *ret, struct err *err);

/* ---- events ---- */

enum ctr_event_type {
	CTR_EVENT_CREATED = 0,
	CTR_EVENT_STARTED = 1,
	CTR_EVENT_STOPPED = 2,
	CTR_EVENT_DELETED = 3,
};

struct ctr_event {
	enum ctr_event_type type;
	char id[ID_LEN + 1];
	char pod_id[ID_LEN + 1];
	int64_t time_ns;
};

struct ctr_sub;

/** Subscribe to container events from now on. Free with
 *  ctr_events_unsubscribe. NULL with errno set when no eventfd can be made
 *  (EMFILE, ENFILE). */
struct ctr_sub *ctr_events_subscribe(struct ctr_mgr *m);
/** An eventfd (non-blocking, CLOEXEC, the subscriber's) that is readable
 *  while events may wait, the subscriber overflowed, or the bus closed: a
 *  caller that waits on no thread (an event loop) polls it, then calls
 *  ctr_events_next with wait_ms 0 until it answers 0, which also clears
 *  it (under the bus lock, so an event published later sets it again). */
int ctr_events_fd(const struct ctr_sub *s);
/** Wait up to `wait_ms` for the next event: 1 with *ret filled, 0 on
 *  timeout, -EPIPE when the subscriber fell too far behind (events lost),
 *  -ESHUTDOWN once ctr_events_close was called. */
int ctr_events_next(struct ctr_sub *s, uint64_t wait_ms, struct ctr_event *ret);
void ctr_events_unsubscribe(struct ctr_sub *s);
/** Shutting down: every subscriber's wait ends with -ESHUTDOWN, so event
 *  streams finish at once instead of holding the shutdown grace period. */
void ctr_events_close(struct ctr_mgr *m);
