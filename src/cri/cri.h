/* cri: the CRI adapter. Routes every method of runtime.v1.RuntimeService and
 * runtime.v1.ImageService on an rpc server; the only daemon code that sees
 * protobuf-c types. Handlers are thin: decode, one domain call, encode, map
 * errors. No syscalls, SQL, JSON or file I/O here. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"
#include "config/config.h"
#include "ctr/ctr.h"
#include "db/db.h"
#include "image/image.h"
#include "metrics/metrics.h"
#include "pod/pod.h"
#include "rpc/rpc.h"
#include "stream/stream.h"

/** What handlers need; owned by the caller and outliving the server. */
struct cri_deps {
	/* The running config. `cfg_lock` guards the pointer and what it
	 * points to: handlers read under a read lock, SIGHUP swaps under a
	 * write lock. */
	const struct config *cfg;
	pthread_rwlock_t *cfg_lock;
	/* Images: pulls, queries, removal (image/image.h). */
	struct image_service *images;
	/* Containers (ctr/ctr.h); NULL answers UNIMPLEMENTED. */
	struct ctr_mgr *ctrs;
	/* Pod sandboxes (pod/pod.h); NULL answers UNIMPLEMENTED. Also the
	 * source of Status's NetworkReady. */
	struct pod_manager *pods;
	/* The streaming server (stream/stream.h); NULL answers Exec, Attach
	 * and PortForward with UNIMPLEMENTED. */
	struct stream_server *stream;
	/* The host's cgroup driver ("systemd" or "cgroupfs"). */
	const char *cgroup_driver;
	/* Render the effective config as a JSON object (malloc'd), for
	 * verbose Status; NULL leaves it out. Called under the read lock. */
	char *(*config_json)(const struct config *cfg);
	/* Each implemented method's calls, latency and errors are counted
	 * here; NULL counts nothing. */
	struct metrics *metrics;
	/* What cri_configure was given last (guarded by cfg_lock; NULL
	 * before: no hooks, no CDI, the container manager's runtime). */
	struct cri_conf *conf;
};

/* A runtime handler pods may name (runtime_handler, Kubernetes
 * RuntimeClass): a [runtimes.<name>] of the config with what its program
 * can do. */
struct cri_handler {
	struct ctr_handler h;		      /* what its containers run under */
	char *const *allowed_annotations;     /* annotation key prefixes it may act on */
	bool privileged_without_host_devices; /* privileged containers get no host devices */
	struct ctr_features features;	      /* its program's, probed by ocid */
};

/* What the CRI calls take from the configuration. Everything borrowed. */
struct cri_settings {
	char *const *hooks_dirs;     /* oci-hooks(5) directories */
	char *const *cdi_dirs;	     /* CDI spec directories */
	const char *default_handler; /* the handler of an empty runtime_handler */
	const struct cri_handler *handlers;
	size_t n_handlers;
};

/** Copy `s` for the calls from now on (ocid at start and on each reload);
 *  calls under way keep the copy they began with. Any thread. */
void cri_configure(struct cri_deps *deps, const struct cri_settings *s);
/** Free what cri_configure kept (once no call runs). */
void cri_deps_done(struct cri_deps *deps);

/** A container's record as ctr stores it (ctr_status_cfg_to_json: its
 *  mounts and resources) from the CRI ContainerConfig `blob` a database of
 *  schema 4 holds for it; db_upgrade's ctr_legacy_record, so that ocid's
 *  database upgrade converts every such row at open. Bytes that do not
 *  decode give an empty record, logged with `ctr_id`. Malloc'd. */
char *cri_ctr_legacy_record(const char *ctr_id, const uint8_t *blob, size_t len);

/** Register every CRI method on `srv` (implemented ones with their handler,
 *  the rest answering UNIMPLEMENTED), and /ocid.debug.Debug/Sleep when
 *  cfg->enable_debug_rpc. `deps` is borrowed for the server's life. */
void cri_register(struct rpc_server *srv, struct cri_deps *deps);

/** Map a negative errno to a gRPC status code (0 → OK). */
enum rpc_code cri_errno_to_code(int neg_errno);

/** The concurrency class of `service`/`method` ("runtime.v1.RuntimeService",
 *  "Version"), from the one table in class.c: 0 with *ret set, or -ENOENT
 *  with *ret = RPC_LONG for a method the table lacks. */
int cri_method_class(const char *service, const char *method, enum rpc_class *ret);
/** "short", "long", "pull" or "streaming". */
const char *cri_class_name(enum rpc_class cls);

/** Number of CRI routes (every method of both services). */
size_t cri_route_count(void);
/** Route i: full path ("/runtime.v1.RuntimeService/Version") and whether
 *  ocid implements it. NULL past the end. */
const char *cri_route_path(size_t i, bool *ret_implemented);
