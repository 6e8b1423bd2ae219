/* ocid daemon: wiring shared by the files of src/cmd/ocid. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "config/config.h"
#include "cri/cri.h"
#include "db/db.h"
#include "ev/ev.h"
#include "httpapi/httpapi.h"
#include "rpc/rpc.h"

struct daemon {
	struct config cfg; /* replaced in place on SIGHUP under cfg_lock */
	pthread_rwlock_t cfg_lock;
	struct ev_loop *loop;
	struct rpc_server *srv;
	struct db *db;
	struct storage *storage;
	struct image_service *images;
	struct ctr_mgr *ctrs;
	struct cni *cni;
	struct pod_manager *pods;
	struct stream_server *stream;
	struct metrics *metrics; /* counters always; served only when configured */
	int root_lock;
	int run_lock;
	struct cri_deps cri;
	unsigned cri_gen;	  /* ocid_cri_configure's rounds; the newest applies */
	struct probe_job *probes; /* rounds asked on threads, not yet applied */
	struct httpapi_deps http;
	bool stopping;
};

/** Run the daemon with the given flags (no subcommand). Returns the exit
 *  status: 0 after SIGTERM/SIGINT, 1 on a start-up failure, 2 on a config
 *  error. *ret_abandon is set when calls still run on worker threads after
 *  the shutdown grace: nothing was freed, and the caller must _exit() with
 *  the status at once (returning from main would run exit handlers under
 *  those threads). */
int ocid_run(int argc, char **argv, bool *ret_abandon);
/** mem.c: bound the allocator's arenas and start the thread that gives
 *  memory freed after large work back to the system. Call before other
 *  threads exist. */
void ocid_mem_start(void);

/** Take an exclusive flock on `<dir>/ocid.lock` (created, CLOEXEC) and write
 *  our pid into it. -EBUSY when another process holds it, with err naming
 *  that pid and the path. The fd is returned in *ret_fd. */
int ocid_lock_take(const char *dir, int *ret_fd, struct err *err);

/** `ocid check [FLAGS]`: check the database of the configured root (read
 *  only; ocid may run). Exit status 0 sound, 1 damaged (each problem
 *  printed), 2 when it cannot be read or the flags are wrong. */
int ocid_check(int argc, char **argv);
/** `ocid wipe [FLAGS]`: with ocid stopped (its locks free), kill every
 *  container of the runtime root, unmount what is mounted below the roots,
 *  and empty them, keeping the database aside as ocid.db.wiped-<time>.
 *  Exit status 0, 1 on failure (ocid running), 2 for bad flags. */
int ocid_wipe(int argc, char **argv);

/** The CNI handle of `cfg`: its config and plugin directories, the
 *  built-in network, the ADD cache and host-local data under the root. */
int ocid_cni_new(const struct config *cfg, struct cni **ret, struct err *err);

/** Create `path` and missing parents with `mode`. */
int ocid_mkdir_p(const char *path, mode_t mode, struct err *err);

/** Send `state` (e.g. "READY=1\nMAINPID=42") to $NOTIFY_SOCKET when set;
 *  '@' names an abstract socket. 0 when unset. */
int ocid_notify(const char *state, struct err *err);

/** The path of helper program `name` (ocimon, ocid-pause), newly allocated:
 *  OCID_LIBEXECDIR/<name> (<prefix>/<libexecdir>/ocid as configured at
 *  build time) or, when this ocid is not the installed one and `src/cmd/<name>/<name>`
 *  beside its own build directory is executable, that one. Not checked
 *  further: a missing helper fails when it is run. */
char *ocid_helper_path(const char *name);

/** SIGHUP: re-read the config files, apply what can change at run time,
 *  log what changed. A broken config is logged and the running one kept. */
void ocid_reload(struct daemon *d);
/** The image_volumes setting of `cfg` for the container manager. */
enum oci_volumes_mode ocid_image_volumes(const struct config *cfg);
/** Give the image service the image settings of `cfg` (start and reload). */
void ocid_image_configure(struct image_service *images, const struct config *cfg);
/** handlers.c: give the CRI adapter the hook and CDI directories and the
 *  runtime handlers of d->cfg, each handler's program asked for its
 *  features (start, after the container manager, and reload; loop thread).
 *  The first call asks the programs before returning; later ones (reload)
 *  ask on a thread of their own and the loop swaps the settings in when
 *  all have answered or timed out -- unless a later call came since. */
void ocid_cri_configure(struct daemon *d);
/** When the loop has ended (loop thread): kill the programs that rounds
 *  still asking are running, and wait until their threads have reaped
 *  them (5 s at most in all), so that none outlives ocid. */
void ocid_cri_cancel(struct daemon *d);
/** At stop, before the loop is freed (after ocid_cri_cancel once the loop
 *  has run): let go of the rounds still asking (their threads free them
 *  when they end, or the exit does). */
void ocid_cri_stop(struct daemon *d);
