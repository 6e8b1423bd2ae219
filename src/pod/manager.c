/* The sandbox index: load from the database, lookups, snapshots, list. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/json.h"
#include "cni/cni.h"
#include "db/pod.h"
#include "pod/pod_int.h"
#include "proc/proc.h"

/* The node's pod CIDR in the database's meta table. */
#define POD_CIDR_KEY "pod_cidr"

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void pod_info_free(struct pod_info *p)
{
	if (!p)
		return;
	free(p->reserved_name);
	pod_config_done(&p->cfg);
	strv_free(p->ips);
	free(p->dir);
	free(p->netns_path);
	free(p->ipcns_path);
	free(p->utsns_path);
	free(p->pidns_path);
	free(p->userns_path);
	free(p->cgroup_parent);
	free(p->network_name);
	free(p->hostname);
	free(p->shm_path);
	free(p);
}

void pod_info_list_free(struct pod_info **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pod_info_free(v[i]);
	free(v);
}

struct pod_info *pod_info_dup(const struct pod_info *s)
{
	struct pod_info *d = xnew(struct pod_info);
	memcpy(d->id, s->id, sizeof(d->id));
	d->reserved_name = dup_or_null(s->reserved_name);
	pod_config_copy(&d->cfg, &s->cfg);
	d->state = s->state;
	d->created_ns = s->created_ns;
	for (size_t i = 0; s->ips && s->ips[i]; i++)
		strv_push(&d->ips, s->ips[i]);
	d->dir = dup_or_null(s->dir);
	d->netns_path = dup_or_null(s->netns_path);
	d->ipcns_path = dup_or_null(s->ipcns_path);
	d->utsns_path = dup_or_null(s->utsns_path);
	d->pidns_path = dup_or_null(s->pidns_path);
	d->userns_path = dup_or_null(s->userns_path);
	d->pause_pid = s->pause_pid;
	d->cgroup_parent = dup_or_null(s->cgroup_parent);
	d->network_name = dup_or_null(s->network_name);
	d->hostname = dup_or_null(s->hostname);
	d->shm_path = dup_or_null(s->shm_path);
	return d;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static json_t *status_json(const struct pod *p)
{
	const struct pod_info *i = &p->info;
	json_t *o = json_object();
	json_t *ips = json_array();
	for (size_t k = 0; i->ips && i->ips[k]; k++)
		json_array_append_new(ips, json_string(i->ips[k]));
	json_object_set_new(o, "ips", ips);
	set_str(o, "dir", i->dir);
	set_str(o, "netns", i->netns_path);
	set_str(o, "ipcns", i->ipcns_path);
	set_str(o, "utsns", i->utsns_path);
	set_str(o, "pidns", i->pidns_path);
	set_str(o, "userns", i->userns_path);
	json_object_set_new(o, "pause_pid", json_integer(i->pause_pid));
	set_str(o, "cgroup", i->cgroup_parent);
	set_str(o, "network", i->network_name);
	set_str(o, "hostname", i->hostname);
	set_str(o, "shm", i->shm_path);
	json_object_set_new(o, "cni_pending", json_boolean(p->cni_pending));
	return o;
}

char *pod_status_to_json(const struct pod *p)
{
	json_t *o = status_json(p);
	char *s = js_dump(o, JS_DUMP_SORTED);
	json_decref(o);
	return s;
}

static int get_dup(const json_t *o, const char *key, char **ret, struct err *err)
{
	const char *s = NULL;
	int r = js_get_str(o, "status", key, NULL, &s, err);
	free(*ret);
	*ret = dup_or_null(s);
	return r;
}

int pod_status_from_json(struct pod *p, const char *text, struct err *err)
{
	json_t *o = NULL;
	int r = js_load("pod status", text, strlen(text), 1 << 20, &o, err);
	if (r < 0)
		return r;
	struct pod_info *i = &p->info;
	const json_t *ips = NULL;
	r = js_get(o, "status", "ips", JSON_ARRAY, false, &ips, err);
	size_t k;
	json_t *v;
	json_array_foreach(ips, k, v)
	{
		if (json_is_string(v))
			strv_push(&i->ips, json_string_value(v));
	}
	struct {
		const char *key;
		char **dst;
	} strs[] = {
		{ "dir", &i->dir },
		{ "netns", &i->netns_path },
		{ "ipcns", &i->ipcns_path },
		{ "utsns", &i->utsns_path },
		{ "pidns", &i->pidns_path },
		{ "userns", &i->userns_path },
		{ "cgroup", &i->cgroup_parent },
		{ "network", &i->network_name },
		{ "hostname", &i->hostname },
		{ "shm", &i->shm_path },
	};
	for (size_t n = 0; r >= 0 && n < ARRAY_SIZE(strs); n++)
		r = get_dup(o, strs[n].key, strs[n].dst, err);
	int64_t pid = 0;
	if (r >= 0)
		r = js_get_int(o, "status", "pause_pid", 0, &pid, err);
	if (r >= 0)
		r = js_get_bool(o, "status", "cni_pending", false, &p->cni_pending, err);
	i->pause_pid = (pid_t)pid;
	json_decref(o);
	return r;
}

int pod_save(struct pod_manager *m, struct pod *p, struct err *err)
{
	cleanup_free char *cfg = pod_config_to_json(&p->info.cfg);
	cleanup_free char *st = pod_status_to_json(p);
	struct db_pod row = { .id = p->info.id,
			      .name = p->info.reserved_name,
			      .created_ns = p->info.created_ns,
			      .state = p->info.state,
			      .config = cfg,
			      .status = st };
	return db_pod_put(m->db, &row, err);
}

static void pod_free(struct pod *p)
{
	if (!p)
		return;
	struct pod_info *i = &p->info;
	free(i->reserved_name);
	pod_config_done(&i->cfg);
	strv_free(i->ips);
	free(i->dir);
	free(i->netns_path);
	free(i->ipcns_path);
	free(i->utsns_path);
	free(i->pidns_path);
	free(i->userns_path);
	free(i->cgroup_parent);
	free(i->network_name);
	free(i->hostname);
	free(i->shm_path);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct pod *pod_alloc(void)
{
	struct pod *p = xnew(struct pod);
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

/* A pod whose runtime is gone (reboot, or its pause died) is NOTREADY. */
static bool still_alive(const struct pod_info *i)
{
	const char *ns[] = { i->netns_path, i->ipcns_path, i->utsns_path, i->pidns_path,
			     i->userns_path };
	for (size_t k = 0; k < ARRAY_SIZE(ns); k++)
		if (ns[k] && !proc_ns_is_pinned(ns[k]))
			return false;
	if (i->pause_pid > 0 && kill(i->pause_pid, 0) < 0)
		return false;
	struct stat st;
	return i->dir && stat(i->dir, &st) == 0;
}

static int load_one(struct pod_manager *m, const struct db_pod *row, struct err *err)
{
	struct pod *p = pod_alloc();
	int r = pod_config_from_json(row->config, &p->info.cfg, err);
	if (r >= 0)
		r = pod_status_from_json(p, row->status, err);
	if (r < 0) {
		pod_free(p);
		return err_wrap(err, "pod %s", row->id);
	}
	snprintf(p->info.id, sizeof(p->info.id), "%s", row->id);
	p->info.reserved_name = xstrdup(row->name);
	p->info.created_ns = row->created_ns;
	p->info.state = row->state == POD_READY ? POD_READY : POD_NOTREADY;
	if (p->info.state == POD_READY && !still_alive(&p->info)) {
		p->info.state = POD_NOTREADY;
		cleanup_err struct err e = ERR_INIT;
		if (pod_save(m, p, &e) < 0)
			log_warn("cannot record pod state", "pod=%s error=%s", row->id,
				 log_q(err_str(&e)));
	}
	p->refs = 1;
	m->pods = xreallocarray(m->pods, m->n + 1, sizeof(*m->pods));
	m->pods[m->n++] = p;
	(void)id_set_add(&m->ids, p->info.id);
	return 0;
}

int pod_manager_new(const struct pod_manager_opts *o, struct pod_manager **ret, struct err *err)
{
	struct pod_manager *m = xnew(struct pod_manager);
	pthread_mutex_init(&m->lock, NULL);
	m->root = xstrdup(o->root);
	m->runroot = xstrdup(o->runroot);
	m->cgroup_parent = dup_or_null(o->cgroup_parent);
	m->cgroup_driver = xstrdup(o->cgroup_driver ? o->cgroup_driver : "cgroupfs");
	m->pause_path = dup_or_null(o->pause_path);
	m->stop_ctrs = o->stop_ctrs;
	m->remove_ctrs = o->remove_ctrs;
	m->ctrs_data = o->ctrs_data;
	m->shm_size = o->shm_size ? o->shm_size : (uint64_t)64 << 20;
	m->db = o->db;
	m->cni = o->cni;
	if (db_meta_get(m->db, POD_CIDR_KEY, &m->pod_cidr, NULL) < 0)
		m->pod_cidr = NULL;
	struct db_pod **rows = NULL;
	size_t n = 0;
	int r = db_pod_list(m->db, &rows, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = load_one(m, rows[i], err);
	for (size_t i = 0; i < n; i++)
		db_pod_free(rows[i]);
	free(rows);
	if (r < 0) {
		pod_manager_free(m);
		return r;
	}
	pod_reap_orphans(m);
	*ret = m;
	return 0;
}

void pod_manager_free(struct pod_manager *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		pod_free(m->pods[i]);
	free(m->pods);
	id_set_done(&m->ids);
	free(m->root);
	free(m->runroot);
	free(m->cgroup_parent);
	free(m->cgroup_driver);
	free(m->pause_path);
	free(m->pod_cidr);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Called with m->lock held. */
static struct pod *find_locked(struct pod_manager *m, const char *id, struct err *err)
{
	const char *full = NULL;
	int r = id_set_lookup(&m->ids, id, &full, err);
	if (r < 0) {
		if (r == -ENOENT || r == -EINVAL)
			err_msg(err, -ENOENT, "pod sandbox '%s' not found", id);
		return NULL;
	}
	for (size_t i = 0; i < m->n; i++)
		if (!m->pods[i]->creating && strcmp(m->pods[i]->info.id, full) == 0)
			return m->pods[i];
	err_msg(err, -ENOENT, "pod sandbox '%s' not found", id);
	return NULL;
}

int pod_find_ref(struct pod_manager *m, const char *id, struct pod **ret, struct err *err)
{
	if (str_empty(id))
		return err_msg(err, -EINVAL, "pod sandbox id is empty");
	cleanup_err struct err e = ERR_INIT;
	pthread_mutex_lock(&m->lock);
	struct pod *p = find_locked(m, id, &e);
	if (p)
		p->refs++;
	pthread_mutex_unlock(&m->lock);
	if (!p) {
		int code = e.code ? e.code : -ENOENT;
		if (err)
			err_move(err, &e);
		return code;
	}
	*ret = p;
	return 0;
}

void pod_unref(struct pod_manager *m, struct pod *p)
{
	pthread_mutex_lock(&m->lock);
	bool last = --p->refs == 0;
	pthread_mutex_unlock(&m->lock);
	if (last)
		pod_free(p);
}

int pod_index_add(struct pod_manager *m, struct pod *p, struct err *err)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->pods[i]->info.reserved_name, p->info.reserved_name) == 0) {
			int r = err_msg(err, -EEXIST, "pod sandbox name '%s' is reserved by %s",
					p->info.reserved_name, m->pods[i]->info.id);
			pthread_mutex_unlock(&m->lock);
			return r;
		}
	}
	p->refs = 1;
	p->creating = true;
	m->pods = xreallocarray(m->pods, m->n + 1, sizeof(*m->pods));
	m->pods[m->n++] = p;
	(void)id_set_add(&m->ids, p->info.id);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void pod_index_remove(struct pod_manager *m, struct pod *p)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		if (m->pods[i] == p) {
			memmove(&m->pods[i], &m->pods[i + 1], (m->n - i - 1) * sizeof(*m->pods));
			m->n--;
			(void)id_set_remove(&m->ids, p->info.id);
			p->removed = true;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	pod_unref(m, p); /* the index's reference */
}

void pod_index_publish(struct pod_manager *m, struct pod *p)
{
	pthread_mutex_lock(&m->lock);
	p->creating = false;
	pthread_mutex_unlock(&m->lock);
}

int pod_get(struct pod_manager *m, const char *id, struct pod_info **ret, struct err *err)
{
	struct pod *p = NULL;
	int r = pod_find_ref(m, id, &p, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	*ret = pod_info_dup(&p->info);
	pthread_mutex_unlock(&p->lock);
	pod_unref(m, p);
	return 0;
}

static bool matches(const struct pod_info *i, const struct pod_filter *f)
{
	if (!f)
		return true;
	if (f->id && !str_has_prefix(i->id, f->id))
		return false;
	if (f->state >= 0 && (int)i->state != f->state)
		return false;
	for (size_t k = 0; k < f->n_labels; k++) {
		bool found = false;
		for (size_t l = 0; l < i->cfg.n_labels && !found; l++)
			found = strcmp(i->cfg.labels[l].key, f->labels[k].key) == 0 &&
				strcmp(i->cfg.labels[l].value, f->labels[k].value) == 0;
		if (!found)
			return false;
	}
	return true;
}

int pod_list(struct pod_manager *m, const struct pod_filter *f, struct pod_info ***ret,
	     size_t *ret_n, struct err *err)
{
	/* Take references under the index lock, then copy each pod under its
	 * own lock (the lock order is always index, then pod, never both). */
	pthread_mutex_lock(&m->lock);
	size_t n = 0;
	struct pod **refs = m->n ? xcalloc(m->n, sizeof(*refs)) : NULL;
	for (size_t i = 0; i < m->n; i++) {
		if (m->pods[i]->creating)
			continue;
		m->pods[i]->refs++;
		refs[n++] = m->pods[i];
	}
	pthread_mutex_unlock(&m->lock);
	struct pod_info **v = NULL;
	size_t nv = 0;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&refs[i]->lock);
		if (!refs[i]->removed && matches(&refs[i]->info, f)) {
			v = xreallocarray(v, nv + 1, sizeof(*v));
			v[nv++] = pod_info_dup(&refs[i]->info);
		}
		pthread_mutex_unlock(&refs[i]->lock);
		pod_unref(m, refs[i]);
	}
	free(refs);
	*ret = v;
	*ret_n = nv;
	return 0;
}

int pod_manager_set_pod_cidr(struct pod_manager *m, const char *cidr, struct err *err)
{
	int r = cni_pod_cidr_check(cidr, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&m->lock);
	r = db_meta_set(m->db, POD_CIDR_KEY, str_empty(cidr) ? NULL : cidr, err);
	if (r >= 0) {
		free(m->pod_cidr);
		m->pod_cidr = str_empty(cidr) ? NULL : xstrdup(cidr);
	}
	pthread_mutex_unlock(&m->lock);
	return r < 0 ? err_wrap(err, "record pod CIDR") : 0;
}

char *pod_manager_pod_cidr(struct pod_manager *m)
{
	pthread_mutex_lock(&m->lock);
	char *s = dup_or_null(m->pod_cidr);
	pthread_mutex_unlock(&m->lock);
	return s;
}

int pod_network_status(struct pod_manager *m, struct err *err)
{
	if (!m->cni)
		return err_msg(err, -ENOENT, "no CNI network configured");
	return cni_status(m->cni, NULL, err);
}

char *pod_info_verbose_json(const struct pod_info *i)
{
	json_t *o = json_object();
	cleanup_free char *text = pod_config_to_json(&i->cfg);
	cleanup_err struct err err = ERR_INIT;
	json_t *cfg = NULL;
	if (js_load("pod config", text, strlen(text), SIZE_MAX, &cfg, &err) < 0)
		/* What pod_config_to_json wrote does not parse: say so where the
		 * config would be rather than drop it silently. */
		json_object_set_new(o, "config_error", json_string(err_str(&err)));
	json_object_set_new(o, "config", cfg ? cfg : json_null());
	struct pod tmp = { .info = *i };
	json_object_set_new(o, "runtime", status_json(&tmp));
	json_object_set_new(o, "id", json_string(i->id));
	json_object_set_new(o, "name", json_string(i->reserved_name ? i->reserved_name : ""));
	char *s = js_dump(o, JS_DUMP_SORTED);
	json_decref(o);
	return s;
}

void pod_steps_start(struct pod_steps *s)
{
	s->len = 0;
	s->text[0] = '\0';
	s->last_ns = log_enabled(LOG_DEBUG) ? mono_ns() : 0;
}

void pod_steps_mark(struct pod_steps *s, const char *name)
{
	if (!s || !s->last_ns)
		return;
	uint64_t now = mono_ns();
	int n = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%s%s_us=%llu",
			 s->len ? " " : "", name, (unsigned long long)(now - s->last_ns) / 1000);
	if (n > 0 && (size_t)n < sizeof(s->text) - s->len)
		s->len += (size_t)n;
	s->last_ns = now;
}

void pod_steps_log(const struct pod_steps *s, const char *msg, const char *id)
{
	if (s->last_ns)
		log_debug(msg, "id=%s %s", id, s->text);
}
