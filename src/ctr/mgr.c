/* The manager: start-up (load, reconcile, roll back half-done creates),
 * exit watching with inotify, state persistence. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "mon/mon.h"
#include "storage/storage.h"

struct watch {
	int wd;
	char id[ID_LEN + 1];
};

char *ctr_path_run(const struct ctr_mgr *m, const char *id, const char *name)
{
	return name ? xasprintf("%s/containers/%s/%s", m->runroot, id, name)
		    : xasprintf("%s/containers/%s", m->runroot, id);
}

char *ctr_path_root(const struct ctr_mgr *m, const char *id, const char *name)
{
	return name ? xasprintf("%s/containers/%s/%s", m->root, id, name)
		    : xasprintf("%s/containers/%s", m->root, id);
}

char *ctr_path_sock(const struct ctr_mgr *m, const char *id, const char *name)
{
	char *p = ctr_path_run(m, id, name);
	struct sockaddr_un sa;
	if (strlen(p) < sizeof(sa.sun_path))
		return p;
	free(p);
	/* Deep run roots (tests) do not fit a sockaddr_un: a short name. */
	return xasprintf("%s/s/%.16s.%s", m->runroot, id, name);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ctr_save_state(struct ctr_mgr *m, struct ctr *c)
{
	cleanup_err struct err err = ERR_INIT;
	if (db_ctr_put_state(m->db, &c->row, &err) < 0)
		log_error("cannot record container state", "id=%s error=%s", c->id,
			  log_q(err_str(&err)));
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* Caller holds c->st. */
static void apply_exit(struct ctr *c, const struct mon_exit *e)
{
	c->row.state = CTR_EXITED;
	c->row.exit_code = e->exit_code;
	c->row.finished_ns = e->finished_ns ? e->finished_ns : now_ns();
	if (e->oom)
		set_str(&c->row.reason, "OOMKilled");
	else if (e->exit_code == 0)
		set_str(&c->row.reason, "Completed");
	else
		set_str(&c->row.reason, "Error");
	pthread_cond_broadcast(&c->changed);
}

int ctr_exit_check(struct ctr_mgr *m, struct ctr *c)
{
	cleanup_free char *path = ctr_path_run(m, c->id, "exit");
	struct mon_exit e;
	cleanup_err struct err err = ERR_INIT;
	int r = mon_read_exit(path, &e, &err);
	if (r < 0)
		return 0;
	pthread_mutex_lock(&c->st);
	bool changed = c->row.state != CTR_EXITED && !c->removed;
	if (changed) {
		apply_exit(c, &e);
		ctr_save_state(m, c);
	}
	pthread_mutex_unlock(&c->st);
	if (changed) {
		log_info("container exited", "id=%s exit_code=%d oom=%d", c->id, e.exit_code,
			 (int)e.oom);
		ctr_bus_publish(&m->bus, CTR_EVENT_STOPPED, c->id, c->row.pod_id);
	}
	return 1;
}

int ctr_watch_add(struct ctr_mgr *m, const char *id, struct err *err)
{
	cleanup_free char *dir = ctr_path_run(m, id, NULL);
	int wd = inotify_add_watch(m->inotify_fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
	if (wd < 0)
		return err_set(err, -errno, "watch '%s'", dir);
	pthread_mutex_lock(&m->watch_lock);
	m->watches = xrealloc(m->watches, (m->n_watches + 1) * sizeof(*m->watches));
	m->watches[m->n_watches].wd = wd;
	snprintf(m->watches[m->n_watches].id, ID_LEN + 1, "%s", id);
	m->n_watches++;
	pthread_mutex_unlock(&m->watch_lock);
	return 0;
}

void ctr_watch_remove(struct ctr_mgr *m, const char *id)
{
	pthread_mutex_lock(&m->watch_lock);
	for (size_t i = 0; i < m->n_watches; i++) {
		if (strcmp(m->watches[i].id, id) != 0)
			continue;
		(void)inotify_rm_watch(m->inotify_fd, m->watches[i].wd);
		m->watches[i] = m->watches[--m->n_watches];
		break;
	}
	pthread_mutex_unlock(&m->watch_lock);
}

static void on_exit_file(struct ctr_mgr *m, int wd)
{
	char id[ID_LEN + 1] = "";
	pthread_mutex_lock(&m->watch_lock);
	for (size_t i = 0; i < m->n_watches; i++)
		if (m->watches[i].wd == wd)
			memcpy(id, m->watches[i].id, sizeof(id));
	pthread_mutex_unlock(&m->watch_lock);
	if (!*id)
		return;
	struct ctr *c = NULL;
	if (ctr_index_get(&m->index, id, &c, NULL) < 0)
		return;
	(void)ctr_exit_check(m, c);
	ctr_unref(c);
}

/* Events were lost: look at every container's exit file. */
static void check_all(struct ctr_mgr *m)
{
	size_t n = 0;
	struct ctr **all = ctr_index_all(&m->index, &n);
	for (size_t i = 0; i < n; i++)
		if (all[i]->visible)
			(void)ctr_exit_check(m, all[i]);
	ctr_refs_free(all, n);
}

static void *watcher_main(void *data)
{
	struct ctr_mgr *m = data;
	_Alignas(struct inotify_event) char buf[16384];
	for (;;) {
		struct pollfd p[2] = { { m->inotify_fd, POLLIN, 0 }, { m->stop_fd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		ssize_t n = read(m->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)q;
			if (ev->mask & IN_Q_OVERFLOW)
				check_all(m);
			else if (ev->len && strcmp(ev->name, "exit") == 0)
				on_exit_file(m, ev->wd);
			q += sizeof(*ev) + ev->len;
		}
	}
	return NULL;
}

bool ctr_pid_is(pid_t pid, const char *id)
{
	if (pid <= 0)
		return false;
	/* A zombie has exited (its monitor died before reaping it); only its
	 * exit status is left, and /proc still shows its cgroup. */
	cleanup_free char *stat_path = xasprintf("/proc/%d/stat", (int)pid);
	cleanup_free char *stat = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, stat_path, 4096, &stat, &len, NULL) < 0)
		return false;
	const char *state = strrchr(stat, ')'); /* after "pid (comm)" */
	if (!state || state[1] != ' ' || state[2] == 'Z' || state[2] == 'X')
		return false;
	cleanup_free char *path = xasprintf("/proc/%d/cgroup", (int)pid);
	char *text = NULL;
	if (fs_read_file(AT_FDCWD, path, 1 << 16, &text, &len, NULL) < 0)
		return false;
	bool yes = strstr(text, id) != NULL;
	free(text);
	return yes;
}

/* A container whose row says it runs: pick up an exit that happened while
 * we were away; a monitor that is gone without an exit file means the
 * container is lost (host reboot, monitor killed). */
static void reconcile(struct ctr_mgr *m, struct ctr *c)
{
	cleanup_err struct err err = ERR_INIT;
	if (c->row.state == CTR_EXITED)
		return;
	if (ctr_watch_add(m, c->id, &err) < 0)
		log_warn("cannot watch container", "id=%s error=%s", c->id, log_q(err_str(&err)));
	if (ctr_exit_check(m, c))
		return;
	if (ctr_pid_is(c->row.pid, c->id))
		return;
	pthread_mutex_lock(&c->st);
	struct mon_exit e = { .exit_code = 255, .finished_ns = now_ns() };
	apply_exit(c, &e);
	set_str(&c->row.message, "the container's process and monitor are gone");
	ctr_save_state(m, c);
	pthread_mutex_unlock(&c->st);
}

/* A row written by a create that never learnt its container's pid (ocid
 * died in between): undo it; its directories go with the orphans. */
static void rollback_row(struct ctr_mgr *m, struct db_ctr *row)
{
	log_info("rolling back a half-done container create", "id=%s", row->id);
	char *args[] = { "delete", "--force", row->id, NULL };
	(void)ctr_runtime_run(m, args, NULL, 0, NULL);
	cleanup_err struct err err = ERR_INIT;
	if (db_ctr_delete(m->db, row->id, &err) < 0)
		log_error("cannot delete container record", "id=%s error=%s", row->id,
			  log_q(err_str(&err)));
	db_ctr_free(row);
}

static void load_one(struct ctr_mgr *m, struct db_ctr *row)
{
	if (row->state == CTR_CREATED && row->pid <= 0) {
		rollback_row(m, row);
		return;
	}
	struct ctr *c = ctr_new(row->id);
	free(c->row.id);
	c->row = *row;
	free(row);
	ctr_kv_parse(c->row.labels, &c->labels, &c->n_labels);
	ctr_kv_parse(c->row.annotations, &c->annotations, &c->n_annotations);
	json_t *extra = json_loads(c->row.extra, 0, NULL);
	json_int_t sig = json_integer_value(json_object_get(extra, "stop_signal"));
	c->stop_signal = sig > 0 ? (int)sig : SIGTERM;
	const char *cg = json_string_value(json_object_get(extra, "cgroups_path"));
	c->cgroups_path = xstrdup(cg ? cg : "");
	const char *rd = json_string_value(json_object_get(extra, "repo_digest"));
	c->repo_digest = rd ? xstrdup(rd) : NULL; /* none from before it was kept */
	c->user = json_incref(json_object_get(extra, "user"));
	c->tty = json_is_true(json_object_get(extra, "tty"));
	c->stdin_once = json_is_true(json_object_get(extra, "stdin_once"));
	json_decref(extra);
	c->upper_dir = ctr_path_root(m, c->id, "upper");
	c->attach_path = ctr_path_sock(m, c->id, "attach");
	c->ctl_path = ctr_path_sock(m, c->id, "ctl");
	c->visible = true;
	cleanup_err struct err err = ERR_INIT;
	if (ctr_index_add(&m->index, c, &err) < 0)
		log_error("cannot load container", "id=%s error=%s", c->id, log_q(err_str(&err)));
	else
		reconcile(m, c);
	ctr_unref(c);
}

/* Directories of containers that have no row: a create that never
 * finished. */
static void rollback_orphans(struct ctr_mgr *m, const char *base)
{
	cleanup_free char *dir = xasprintf("%s/containers", base);
	DIR *d = opendir(dir);
	if (!d)
		return;
	char **orphans = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!id_valid(de->d_name))
			continue;
		struct ctr *c = NULL;
		if (ctr_index_get(&m->index, de->d_name, &c, NULL) == 0)
			ctr_unref(c);
		else
			strv_push(&orphans, de->d_name);
	}
	closedir(d);
	for (size_t i = 0; orphans && orphans[i]; i++) {
		log_info("rolling back a half-done container create", "id=%s", orphans[i]);
		ctr_cleanup_dirs(m, orphans[i]);
	}
	strv_free(orphans);
}

static char *find_ocimon(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		const char *dir = dirname(self);
		const char *cand[] = { "ocimon", "../ocimon/ocimon", "../libexec/ocid/ocimon" };
		for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
			char *p = xasprintf("%s/%s", dir, cand[i]);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return xstrdup("/usr/libexec/ocid/ocimon");
}

static int mgr_init(struct ctr_mgr *m, const struct ctr_config *cfg, struct err *err)
{
	m->root = xstrdup(cfg->root);
	m->runroot = xstrdup(cfg->runroot);
	m->runtime = xstrdup(cfg->runtime);
	m->runtime_root = xasprintf("%s/runtime", cfg->runroot);
	m->ocimon = cfg->ocimon ? xstrdup(cfg->ocimon) : find_ocimon();
	m->cgroup_driver = xstrdup(cfg->cgroup_driver ? cfg->cgroup_driver : "cgroupfs");
	m->exec_fifo_start = cfg->exec_fifo_start;
	m->db = cfg->db;
	m->images = cfg->images;
	m->pod_lookup = cfg->pod_lookup;
	m->pod_lookup_data = cfg->pod_lookup_data;
	m->inotify_fd = m->stop_fd = -1;
	ctr_index_init(&m->index);
	ctr_bus_init(&m->bus);
	pthread_mutex_init(&m->watch_lock, NULL);
	m->containers_dir = xasprintf("%s/containers", cfg->root);
	if (stats_new(NULL, &m->stats, NULL) < 0)
		m->stats = NULL;
	int r = oci_host_probe(&m->host, err);
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
	const char *dirs[] = { "containers", "runtime", "s" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", cfg->runroot, dirs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return err_set(err, -errno, "mkdir '%s'", p);
	}
	cleanup_free char *p = xasprintf("%s/containers", cfg->root);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return err_set(err, -errno, "mkdir '%s'", p);
	m->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (m->inotify_fd < 0)
		return err_set(err, -errno, "inotify_init1");
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (m->stop_fd < 0)
		return err_set(err, -errno, "eventfd");
	return 0;
}

int ctr_mgr_new(const struct ctr_config *cfg, struct ctr_mgr **ret, struct err *err)
{
	struct ctr_mgr *m = xzalloc(sizeof(*m));
	int r = mgr_init(m, cfg, err);
	struct db_ctr **rows = NULL;
	size_t n = 0;
	if (r >= 0)
		r = db_ctr_list(m->db, &rows, &n, err);
	if (r < 0) {
		ctr_mgr_free(m);
		return err_wrap(err, "containers");
	}
	for (size_t i = 0; i < n; i++)
		load_one(m, rows[i]);
	free(rows);
	rollback_orphans(m, m->root);
	rollback_orphans(m, m->runroot);
	if (pthread_create(&m->watcher, NULL, watcher_main, m) != 0) {
		ctr_mgr_free(m);
		return err_msg(err, -EAGAIN, "cannot start the container exit watcher");
	}
	m->watcher_started = true;
	*ret = m;
	return 0;
}

void ctr_mgr_free(struct ctr_mgr *m)
{
	if (!m)
		return;
	if (m->watcher_started) {
		uint64_t one = 1;
		(void)!write(m->stop_fd, &one, sizeof(one));
		pthread_join(m->watcher, NULL);
	}
	ctr_bus_close(&m->bus);
	ctr_bus_done(&m->bus);
	ctr_index_done(&m->index);
	if (m->inotify_fd >= 0)
		close(m->inotify_fd);
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	free(m->watches);
	pthread_mutex_destroy(&m->watch_lock);
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
	*ret = (struct ctr_features){ .recursive_read_only = m->host.rro };
}

int ctr_layers_in_use(struct ctr_mgr *m, char ***ret, struct err *err)
{
	return db_ctr_layers_in_use(m->db, ret, err);
}
