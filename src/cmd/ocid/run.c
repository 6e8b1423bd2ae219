/* The daemon's life: start-up, signals, shutdown. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/ocid/ocid.h"
#include "cni/cni.h"
#include "image/image.h"
#include "oci/oci.h"
#include "pod/pod.h"
#include "storage/storage.h"
#include "stream/stream.h"

static void shutdown_done(struct ev_loop *loop, void *data)
{
	ev_loop_quit(loop);
}

static void on_signal(struct ev_loop *loop, int signo, void *data)
{
	struct daemon *d = data;
	if (signo == SIGHUP) {
		ocid_reload(d);
		return;
	}
	if (d->stopping) {
		log_info("already shutting down", "signal=%s", sigabbrev_np(signo));
		return;
	}
	d->stopping = true;
	pthread_rwlock_rdlock(&d->cfg_lock);
	uint64_t grace_ms = d->cfg.shutdown_grace_ms;
	pthread_rwlock_unlock(&d->cfg_lock);
	log_info("shutting down", "signal=SIG%s grace=%" PRIu64 "ms", sigabbrev_np(signo),
		 grace_ms);
	if (d->ctrs)
		ctr_events_close(d->ctrs); /* event streams end now, not at the grace's end */
	rpc_server_shutdown(d->srv, (unsigned)grace_ms, shutdown_done, d);
}

static int make_dirs(const struct config *cfg, struct err *err)
{
	int r = ocid_mkdir_p(cfg->root, 0711, err);
	if (r >= 0)
		r = ocid_mkdir_p(cfg->runroot, 0711, err);
	if (r < 0)
		return r;
	cleanup_free char *listen = xstrdup(cfg->listen);
	return ocid_mkdir_p(dirname(listen), 0711, err);
}

static int pod_stop_ctrs(void *data, const char *pod_id, struct err *err)
{
	struct daemon *d = data;
	return d->ctrs ? ctr_pod_stop(d->ctrs, pod_id, err) : 0;
}

static int pod_remove_ctrs(void *data, const char *pod_id, struct err *err)
{
	struct daemon *d = data;
	return d->ctrs ? ctr_pod_remove(d->ctrs, pod_id, err) : 0;
}

int ocid_cni_new(const struct config *cfg, struct cni **ret, struct err *err)
{
	cleanup_free char *cache = xasprintf("%s/cni/cache", cfg->root);
	cleanup_free char *ipam = xasprintf("%s/cni/networks", cfg->root);
	struct cni_opts co = { .conf_dir = cfg->cni_config_dir,
			       .plugin_dirs = cfg->cni_plugin_dirs,
			       .cache_dir = cache,
			       .default_bridge = cfg->cni_default_bridge,
			       .default_subnet = cfg->cni_default_subnet,
			       .default_data_dir = ipam };
	return cni_new(&co, ret, err);
}

static int start_pods(struct daemon *d, const char *driver, const char *pause, struct err *err)
{
	const struct config *cfg = &d->cfg;
	int r = ocid_cni_new(cfg, &d->cni, err);
	if (r < 0)
		return r;
	struct pod_manager_opts po = { .root = cfg->root,
				       .runroot = cfg->runroot,
				       .cgroup_parent = cfg->cgroup_parent,
				       .cgroup_driver = driver,
				       .shm_size = cfg->shm_size,
				       .pause_path = pause,
				       .db = d->db,
				       .cni = d->cni,
				       .stop_ctrs = pod_stop_ctrs,
				       .remove_ctrs = pod_remove_ctrs,
				       .ctrs_data = d };
	return pod_manager_new(&po, &d->pods, err);
}

static int start_stream(struct daemon *d, struct err *err)
{
	const struct config *cfg = &d->cfg;
	struct stream_config sc = {
		.address = cfg->stream_address,
		.port = cfg->stream_port,
		.idle_timeout_s = (unsigned)cfg->stream_idle_timeout_s,
		.max_sessions = cfg->stream_max_sessions,
		.tls_cert = cfg->stream_tls_cert,
		.tls_key = cfg->stream_tls_key,
		.tls_ca = cfg->stream_tls_ca,
		.ctrs = d->ctrs,
		.pods = d->pods,
	};
	int r = stream_server_new(&sc, &d->stream, err);
	if (r >= 0)
		log_info("streaming server listening", "url=%s", stream_server_base_url(d->stream));
	return r;
}

/* Off unless a port or a socket is configured (as CRI-O has it). The
 * counters exist either way: they cost a few atomic adds per call. */
static int start_metrics(struct daemon *d, struct err *err)
{
	const struct config *cfg = &d->cfg;
	if (cfg->metrics_port == 0 && str_empty(cfg->metrics_socket))
		return 0;
	httpapi_metrics_collector(&d->http);
	int r = metrics_serve(d->metrics, cfg->metrics_address, cfg->metrics_port,
			      cfg->metrics_socket, err);
	if (r < 0)
		return r;
	if (str_empty(cfg->metrics_socket))
		log_info("metrics endpoint listening", "address=%s port=%u",
			 log_q(cfg->metrics_address), cfg->metrics_port);
	else
		log_info("metrics endpoint listening", "socket=%s", log_q(cfg->metrics_socket));
	return 0;
}

/* The directories, both locks, the database, the layer store and the
 * image service. */
static int start_store(struct daemon *d, struct err *err)
{
	const struct config *cfg = &d->cfg;
	int r = make_dirs(cfg, err);
	if (r < 0)
		return r;
	r = ocid_lock_take(cfg->runroot, &d->run_lock, err);
	if (r < 0)
		return r;
	r = ocid_lock_take(cfg->root, &d->root_lock, err);
	if (r < 0)
		return r;
	/* Before any module reads a row: an upgrade converts the containers a
	 * schema 4 stored as CRI protobuf, which only cri can decode. */
	static const struct db_upgrade up = { .ctr_legacy_record = cri_ctr_legacy_record };
	r = db_open_upgrading(cfg->root, &up, &d->db, err);
	if (r < 0)
		return r;
	r = storage_new(cfg->root, &d->storage, err);
	if (r >= 0)
		storage_set_layer_sync(d->storage, cfg->layer_sync);
	if (r >= 0)
		r = image_service_new(d->storage, d->db, &d->images, err);
	if (r < 0)
		return r;
	ocid_image_configure(d->images, cfg);
	return 0;
}

/* The event loop, with the signals it handles. */
static int start_loop(struct daemon *d, struct err *err)
{
	int r = ev_loop_new(&d->loop, err);
	if (r < 0)
		return r;
	/* Signals go through the loop; block them before any thread exists
	 * so the rpc workers inherit the mask. */
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		r = ev_signal_add(d->loop, sigs[i], on_signal, d, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int start(struct daemon *d, struct err *err)
{
	const struct config *cfg = &d->cfg;
	int r = start_store(d, err);
	if (r < 0)
		return r;
	d->metrics = metrics_new();
	r = start_loop(d, err);
	if (r < 0)
		return r;
	/* The helpers are found once: an upgrade of the installed ones while
	 * we run is picked up by their next exec, never by a new search. */
	cleanup_free char *ocimon = ocid_helper_path("ocimon");
	cleanup_free char *pause = cfg->pause_binary[0] == '/'
				       ? xstrdup(cfg->pause_binary)
				       : ocid_helper_path(cfg->pause_binary);
	log_info("helper programs", "ocimon=%s pause=%s", log_q(ocimon), log_q(pause));
	/* Logged before the socket exists: a client that sees the socket
	 * sees this line in the log. */
	struct rpc_server_config rc = {
		.listen_path = cfg->listen,
		.max_recv_bytes = cfg->max_recv_msg_size,
		.max_send_bytes = cfg->max_send_msg_size,
		.workers = cfg->workers,
		.long_workers = cfg->long_workers,
		.pull_workers = cfg->max_concurrent_pulls,
	};
	r = rpc_server_new(d->loop, &rc, &d->srv, err);
	if (r < 0)
		return r;
	const char *driver = oci_cgroup_driver_name(oci_cgroup_driver_detect());
	r = start_pods(d, driver, pause, err);
	if (r < 0)
		return r;
	struct ctr_config cc = { .root = cfg->root,
				 .runroot = cfg->runroot,
				 .runtime = cfg->runtime,
				 .ocimon = ocimon,
				 .cgroup_driver = driver,
				 .exec_fifo_start = cfg->exec_fifo_start,
				 .db = d->db,
				 .storage = d->storage,
				 .images = d->images,
				 .pods = d->pods,
				 .image_volumes = ocid_image_volumes(cfg) };
	r = ctr_mgr_new(&cc, &d->ctrs, err);
	if (r < 0)
		return r;
	r = start_stream(d, err);
	if (r < 0)
		return r;
	d->cri = (struct cri_deps){
		.cfg = cfg,
		.cfg_lock = &d->cfg_lock,
		.images = d->images,
		.ctrs = d->ctrs,
		.pods = d->pods,
		.stream = d->stream,
		.cgroup_driver = driver,
		.config_json = httpapi_config_json,
		.metrics = d->metrics,
	};
	d->http = (struct httpapi_deps){ .cfg = cfg,
					 .cfg_lock = &d->cfg_lock,
					 .cgroup_driver = driver,
					 .images = d->images,
					 .stream_url = stream_server_base_url(d->stream),
					 .ctrs = d->ctrs,
					 .pods = d->pods,
					 .metrics = d->metrics };
	ocid_cri_configure(d);
	cri_register(d->srv, &d->cri);
	httpapi_register(d->srv, &d->http);
	return start_metrics(d, err);
}

static void stop(struct daemon *d)
{
	rpc_server_free(d->srv);  /* waits for handlers, which count into metrics */
	metrics_free(d->metrics); /* its thread reads the managers freed below */
	ocid_cri_stop(d);
	ev_loop_free(d->loop);
	stream_server_free(d->stream);
	ctr_mgr_free(d->ctrs);
	pod_manager_free(d->pods);
	cni_free(d->cni);
	image_service_free(d->images);
	storage_free(d->storage);
	db_close(d->db);
	if (d->root_lock >= 0)
		close(d->root_lock);
	if (d->run_lock >= 0)
		close(d->run_lock);
	cri_deps_done(&d->cri);
	config_done(&d->cfg);
	pthread_rwlock_destroy(&d->cfg_lock);
}

/* What config_load cannot check without knowing the cgroup driver: under
 * cgroupfs a slice name would fail every RunPodSandbox that names no parent. */
static int check_for_driver(const struct config *cfg, struct err *err)
{
	if (oci_cgroup_driver_detect() == OCI_CGROUP_CGROUPFS && cfg->cgroup_parent[0] != '/')
		return err_msg(
		    err, -EINVAL,
		    "cgroup_parent: '%s' is a systemd slice, but the cgroup driver is cgroupfs (systemd is not PID 1); give an absolute cgroup path",
		    cfg->cgroup_parent);
	return 0;
}

/* Calls cut off at the grace's end were told they are cancelled; give the
 * ones that notice a moment to return, so that a clean exit stays the rule. */
static bool calls_ended(struct rpc_server *srv)
{
	for (int i = 0; i < 25 && rpc_server_busy(srv) > 0; i++)
		(void)usleep(10000);
	return rpc_server_busy(srv) == 0;
}

int ocid_run(int argc, char **argv, bool *ret_abandon)
{
	struct daemon d = { .root_lock = -1, .run_lock = -1 };
	cleanup_err struct err err = ERR_INIT;
	pthread_rwlock_init(&d.cfg_lock, NULL);
	config_init(&d.cfg);
	if (config_load(&d.cfg, argc, argv, &err) < 0 || check_for_driver(&d.cfg, &err) < 0) {
		fprintf(stderr, "ocid: %s\n", err_str(&err));
		stop(&d);
		return 2;
	}
	log_level_set(d.cfg.log_level);
	/* A peer that goes away must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	int sr = start(&d, &err);
	if (sr < 0) {
		fprintf(stderr, "ocid: %s\n", err_str(&err));
		if (sr == -EBADMSG)
			fputs(
			    "ocid: the database is damaged: 'ocid check' says how; 'ocid wipe' starts afresh (RECOVERY in ocid(8))\n",
			    stderr);
		stop(&d);
		return 1;
	}
	cleanup_free char *state = xasprintf("READY=1\nMAINPID=%d\n", (int)getpid());
	if (ocid_notify(state, &err) < 0) {
		log_warn("cannot notify the service manager", "error=%s", log_q(err_str(&err)));
		err_done(&err);
	}
	log_info("ocid started", "version=%s listen=%s root=%s runroot=%s cgroup_driver=%s",
		 OCID_VERSION, log_q(d.cfg.listen), log_q(d.cfg.root), log_q(d.cfg.runroot),
		 d.cri.cgroup_driver);
	int r = ev_loop_run(d.loop);
	if (r < 0)
		log_error("event loop failed", "error=%s", strerror(-r));
	ocid_cri_cancel(&d); /* also when the calls are abandoned below */
	if (d.stopping && !calls_ended(d.srv)) {
		/* The grace is over: the calls still running (a stop waiting out
		 * its container's grace period, a long ExecSync) are abandoned.
		 * Freeing the daemon would wait for them and keep the lock and the
		 * root busy; the containers keep running under their monitors, and
		 * the next start picks up where they are. */
		log_warn("calls still running at the end of the shutdown grace are abandoned",
			 "calls=%u", rpc_server_busy(d.srv));
		log_info("ocid stopped", NULL);
		*ret_abandon = true;
		return 0;
	}
	log_info("ocid stopped", NULL);
	stop(&d);
	return r < 0 ? 1 : 0;
}
