/* The manager: its settings and the probes made once at start, the order
 * of start-up (exit watching, then recovery) and of the end. Paths are
 * paths.c's, exit and monitor watching watch.c's, recovery recover.c's. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "storage/storage.h"

void ctr_save_state(struct ctr_mgr *m, struct ctr *c)
{
	cleanup_err struct err err = ERR_INIT;
	if (db_ctr_put_state(m->db, &c->row, &err) < 0)
		log_error("cannot record container state", "id=%s error=%s", c->id,
			  log_q(err_str(&err)));
}

static int make_dirs(const struct ctr_config *cfg, struct err *err)
{
	const char *dirs[] = { "containers", "runtime", "s" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", cfg->runroot, dirs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return err_set(err, -errno, "mkdir '%s'", p);
	}
	/* Searchable by others: the init of a container in a user namespace
	 * (root only there) walks this path to its rootfs. What is inside
	 * stays private (each container's directory is 0700 unless it needs
	 * the same). */
	cleanup_free char *p = xasprintf("%s/containers", cfg->root);
	if ((mkdir(p, 0711) < 0 && errno != EEXIST) || chmod(p, 0711) < 0)
		return err_set(err, -errno, "mkdir '%s'", p);
	return 0;
}

static int mgr_init(struct ctr_mgr *m, const struct ctr_config *cfg, struct err *err)
{
	m->root = xstrdup(cfg->root);
	m->runroot = xstrdup(cfg->runroot);
	m->runtime = xstrdup(cfg->runtime);
	m->runtime_root = xasprintf("%s/runtime", cfg->runroot);
	m->ocimon = xstrdup(cfg->ocimon);
	m->cgroup_driver = xstrdup(cfg->cgroup_driver ? cfg->cgroup_driver : "cgroupfs");
	m->exec_fifo_start = cfg->exec_fifo_start;
	m->db = cfg->db;
	m->images = cfg->images;
	m->pods = cfg->pods;
	m->image_volumes = (int)cfg->image_volumes;
	ctr_index_init(&m->index);
	ctr_bus_init(&m->bus);
	int r = ctr_watch_init(m, err);
	if (r < 0)
		return r;
	m->containers_dir = xasprintf("%s/containers", cfg->root);
	if (stats_new(NULL, &m->stats, NULL) < 0)
		m->stats = NULL;
	r = oci_host_probe(&m->host, err);
	if (r < 0)
		return r;
	ctr_runtime_features_probe(m);
	if (cfg->storage) {
		m->storage = cfg->storage;
	} else {
		r = storage_new(cfg->root, &m->storage, err);
		if (r < 0)
			return r;
		m->own_storage = true;
	}
	r = make_dirs(cfg, err);
	if (r >= 0)
		ctr_userns_probe(m);
	return r;
}

int ctr_mgr_new(const struct ctr_config *cfg, struct ctr_mgr **ret, struct err *err)
{
	struct ctr_mgr *m = xzalloc(sizeof(*m));
	int r = mgr_init(m, cfg, err);
	if (r >= 0)
		r = ctr_recover(m, err);
	if (r < 0) {
		ctr_mgr_free(m);
		return err_wrap(err, "containers");
	}
	r = ctr_watch_start(m, err);
	if (r < 0) {
		ctr_mgr_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void ctr_mgr_set_image_volumes(struct ctr_mgr *m, enum oci_volumes_mode mode)
{
	__atomic_store_n(&m->image_volumes, (int)mode, __ATOMIC_RELAXED);
}

void ctr_mgr_free(struct ctr_mgr *m)
{
	if (!m)
		return;
	ctr_watch_stop(m);
	ctr_bus_close(&m->bus);
	ctr_bus_done(&m->bus);
	ctr_index_done(&m->index);
	ctr_watch_done(m);
	if (m->own_storage)
		storage_free(m->storage);
	stats_free(m->stats);
	free(m->containers_dir);
	free(m->root);
	free(m->runroot);
	free(m->runtime);
	free(m->runtime_root);
	free(m->ocimon);
	free(m->cgroup_driver);
	free(m);
}

void ctr_mgr_features(const struct ctr_mgr *m, struct ctr_features *ret)
{
	*ret = (struct ctr_features){ .recursive_read_only = m->host.rro,
				      .user_namespaces = m->userns };
}

uint64_t ctr_mgr_oom_total(const struct ctr_mgr *m)
{
	return __atomic_load_n(&m->oom_total, __ATOMIC_RELAXED);
}
