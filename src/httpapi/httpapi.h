/* httpapi: the HTTP/1.1 status API served on the CRI socket by rpc:
 *   GET /info    JSON: version, root, runroot, storage_driver, cgroup_driver,
 *                default_runtime, listen
 *   GET /config  the effective config as TOML (application/toml)
 *   POST /images/import, GET /images/pulls (images.c)
 *   GET /containers/<id>, POST /pause/<id>, /unpause/<id> (containers.c) */
#pragma once

#include <pthread.h>

#include "config/config.h"
#include "metrics/metrics.h"
#include "rpc/rpc.h"

struct image_service;
struct ctr_mgr;
struct pod_manager;

struct httpapi_deps {
	const struct config *cfg;     /* read under cfg_lock */
	pthread_rwlock_t *cfg_lock;   /* SIGHUP replaces *cfg under the write lock */
	const char *cgroup_driver;    /* "systemd" or "cgroupfs" */
	struct image_service *images; /* NULL: no image endpoints */
	const char *stream_url;	      /* the streaming server's base URL, or NULL */
	struct ctr_mgr *ctrs;	      /* NULL: no container endpoints or metrics */
	struct pod_manager *pods;     /* the containers' IPs; may be NULL */
	struct metrics *metrics;      /* NULL: no metrics */
};

/** Register /info and /config on `srv`. `deps` is borrowed for the
 *  server's life. */
void httpapi_register(struct rpc_server *srv, struct httpapi_deps *deps);

/** Add the collector of container and image-pull metrics to
 *  deps->metrics (ocid_containers_running, ocid_containers_oom_total,
 *  ocid_image_pulls_bytes_total, ocid_image_layer_reuse_total,
 *  ocid_image_pulls_failure_total). */
void httpapi_metrics_collector(struct httpapi_deps *deps);

/** The effective config as a JSON object (malloc'd, never NULL). */
char *httpapi_config_json(const struct config *cfg);
