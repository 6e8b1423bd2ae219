/* The in-memory container index: ids (unique-prefix lookup), reserved
 * names, references, filters and snapshots. No I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "ctr/ctr_int.h"

const char *ctr_state_name(enum ctr_state s)
{
	switch (s) {
	case CTR_CREATED:
		return "CREATED";
	case CTR_RUNNING:
		return "RUNNING";
	case CTR_EXITED:
		return "EXITED";
	default:
		return "UNKNOWN";
	}
}

bool ctr_state_can(enum ctr_state from, enum ctr_state to)
{
	switch (from) {
	case CTR_CREATED:
		return to == CTR_RUNNING || to == CTR_EXITED;
	case CTR_RUNNING:
		return to == CTR_EXITED;
	case CTR_EXITED:
		return false;
	default:
		return true;
	}
}

char *ctr_name_make(const char *name, const char *pod, const char *ns, const char *uid,
		    uint32_t attempt)
{
	return xasprintf("k8s_%s_%s_%s_%s_%u", name ? name : "", pod ? pod : "", ns ? ns : "",
			 uid ? uid : "", attempt);
}

void ctr_index_init(struct ctr_index *x)
{
	memset(x, 0, sizeof(*x));
	pthread_rwlock_init(&x->lock, NULL);
}

void ctr_index_done(struct ctr_index *x)
{
	for (size_t i = 0; i < x->n; i++)
		ctr_unref(x->v[i]);
	free(x->v);
	id_set_done(&x->ids);
	pthread_rwlock_destroy(&x->lock);
}

struct ctr *ctr_new(const char *id)
{
	struct ctr *c = xzalloc(sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->row.id = xstrdup(id);
	c->refs = 1;
	c->stop_signal = 15;
	pthread_mutex_init(&c->op, NULL);
	pthread_mutex_init(&c->st, NULL);
	pthread_cond_init(&c->changed, NULL);
	return c;
}

static void ctr_free(struct ctr *c)
{
	free(c->row.id);
	free(c->row.pod_id);
	free(c->row.name);
	free(c->row.ctr_name);
	free(c->row.image_ref);
	free(c->row.image_id);
	free(c->row.reason);
	free(c->row.message);
	free(c->row.log_path);
	free(c->row.labels);
	free(c->row.annotations);
	free(c->row.config);
	free(c->row.spec_path);
	free(c->row.extra);
	strv_free(c->row.layers);
	ctr_kv_free(c->labels, c->n_labels);
	ctr_kv_free(c->annotations, c->n_annotations);
	free(c->repo_digest);
	free(c->cgroups_path);
	free(c->upper_dir);
	free(c->attach_path);
	free(c->ctl_path);
	json_decref(c->user);
	ctr_rt_free(c->rt);
	pthread_mutex_destroy(&c->op);
	pthread_mutex_destroy(&c->st);
	pthread_cond_destroy(&c->changed);
	free(c);
}

/* References are counted with atomics so ctr_unref needs no index lock. */
void ctr_ref(struct ctr *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

void ctr_unref(struct ctr *c)
{
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		ctr_free(c);
}

int ctr_index_add(struct ctr_index *x, struct ctr *c, struct err *err)
{
	pthread_rwlock_wrlock(&x->lock);
	int r = 0;
	for (size_t i = 0; i < x->n; i++) {
		if (strcmp(x->v[i]->row.name, c->row.name) == 0) {
			r = err_msg(err, -EEXIST, "container name %s is reserved for container %s",
				    c->row.name, x->v[i]->id);
			goto out;
		}
	}
	r = id_set_add(&x->ids, c->id);
	if (r < 0) {
		r = err_msg(err, r, "container id %s: %s", c->id,
			    r == -EEXIST ? "already in use" : "invalid");
		goto out;
	}
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->v = xrealloc(x->v, x->cap * sizeof(*x->v));
	}
	ctr_ref(c);
	x->v[x->n++] = c;
out:
	pthread_rwlock_unlock(&x->lock);
	return r;
}

void ctr_index_remove(struct ctr_index *x, struct ctr *c)
{
	pthread_rwlock_wrlock(&x->lock);
	for (size_t i = 0; i < x->n; i++) {
		if (x->v[i] != c)
			continue;
		memmove(&x->v[i], &x->v[i + 1], (x->n - i - 1) * sizeof(*x->v));
		x->n--;
		(void)id_set_remove(&x->ids, c->id);
		ctr_unref(c);
		break;
	}
	pthread_rwlock_unlock(&x->lock);
}

int ctr_index_get(struct ctr_index *x, const char *id, struct ctr **ret, struct err *err)
{
	if (!id || !*id)
		return err_msg(err, -EINVAL, "container id is empty");
	pthread_rwlock_rdlock(&x->lock);
	const char *full = NULL;
	int r = id_set_lookup(&x->ids, id, &full, err);
	/* A string that is not hex (critest's UUIDs, "../x") names nothing:
	 * not found, like an unknown id; it never reaches a path. */
	if (r == -ENOENT || r == -EINVAL)
		r = err_msg(err, -ENOENT, "container %s not found", id);
	else if (r == -ENOTUNIQ)
		r = err_wrap(err, "container %s", id);
	if (r >= 0) {
		r = err_msg(err, -ENOENT, "container %s not found", id);
		for (size_t i = 0; i < x->n; i++) {
			if (strcmp(x->v[i]->id, full) == 0 && x->v[i]->visible) {
				err_done(err);
				ctr_ref(x->v[i]);
				*ret = x->v[i];
				r = 0;
				break;
			}
		}
	}
	pthread_rwlock_unlock(&x->lock);
	return r;
}

struct ctr **ctr_index_all(struct ctr_index *x, size_t *ret_n)
{
	pthread_rwlock_rdlock(&x->lock);
	struct ctr **v = xcalloc(x->n ? x->n : 1, sizeof(*v));
	for (size_t i = 0; i < x->n; i++) {
		ctr_ref(x->v[i]);
		v[i] = x->v[i];
	}
	*ret_n = x->n;
	pthread_rwlock_unlock(&x->lock);
	return v;
}

void ctr_refs_free(struct ctr **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ctr_unref(v[i]);
	free(v);
}

static const char *kv_get(const struct ctr_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

bool ctr_matches(const struct ctr *c, const struct ctr_filter *f)
{
	if (!c->visible || c->removed)
		return false;
	if (!f)
		return true;
	if (f->id && *f->id && !str_has_prefix(c->id, f->id))
		return false;
	if (f->pod_id && *f->pod_id && !str_has_prefix(c->row.pod_id, f->pod_id))
		return false;
	if (f->has_state && (enum ctr_state)c->row.state != f->state)
		return false;
	for (size_t i = 0; i < f->n_labels; i++) {
		const char *v = kv_get(c->labels, c->n_labels, f->labels[i].key);
		if (!v || strcmp(v, f->labels[i].value ? f->labels[i].value : "") != 0)
			return false;
	}
	return true;
}

static struct ctr_kv *kv_dup(const struct ctr_kv *kv, size_t n)
{
	struct ctr_kv *out = xcalloc(n ? n : 1, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		out[i].key = xstrdup(kv[i].key);
		out[i].value = xstrdup(kv[i].value);
	}
	return out;
}

struct ctr_info *ctr_snapshot(const struct ctr *c, bool with_config)
{
	struct ctr_info *i = xzalloc(sizeof(*i));
	const struct db_ctr *r = &c->row;
	memcpy(i->id, c->id, sizeof(i->id));
	i->pod_id = xstrdup(r->pod_id);
	i->name = xstrdup(r->name);
	i->ctr_name = xstrdup(r->ctr_name);
	i->attempt = r->attempt;
	i->image_ref = xstrdup(r->image_ref);
	i->image_id = xstrdup(r->image_id);
	i->repo_digest = c->repo_digest ? xstrdup(c->repo_digest) : NULL;
	i->state = (enum ctr_state)r->state;
	i->created_ns = r->created_ns;
	i->started_ns = r->started_ns;
	i->finished_ns = r->finished_ns;
	i->exit_code = r->exit_code;
	i->reason = xstrdup(r->reason ? r->reason : "");
	i->message = xstrdup(r->message ? r->message : "");
	i->pid = r->pid;
	i->stop_signal = c->stop_signal;
	i->log_path = xstrdup(r->log_path ? r->log_path : "");
	i->labels = kv_dup(c->labels, c->n_labels);
	i->n_labels = c->n_labels;
	i->annotations = kv_dup(c->annotations, c->n_annotations);
	i->n_annotations = c->n_annotations;
	i->spec_path = xstrdup(r->spec_path ? r->spec_path : "");
	i->cgroups_path = xstrdup(c->cgroups_path ? c->cgroups_path : "");
	i->upper_dir = xstrdup(c->upper_dir ? c->upper_dir : "");
	i->attach_path = xstrdup(c->attach_path ? c->attach_path : "");
	i->ctl_path = xstrdup(c->ctl_path ? c->ctl_path : "");
	i->tty = c->tty;
	i->stdin_once = c->stdin_once;
	if (json_is_object(c->user)) {
		i->has_user = true;
		i->uid = json_integer_value(json_object_get(c->user, "uid"));
		i->gid = json_integer_value(json_object_get(c->user, "gid"));
		const json_t *g = json_object_get(c->user, "additionalGids");
		i->n_groups = json_is_array(g) ? json_array_size(g) : 0;
		i->groups = xcalloc(i->n_groups + 1, sizeof(*i->groups));
		for (size_t k = 0; k < i->n_groups; k++)
			i->groups[k] = json_integer_value(json_array_get(g, k));
	}
	return i;
}

void ctr_kv_free(struct ctr_kv *kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void ctr_info_free(struct ctr_info *i)
{
	if (!i)
		return;
	free(i->pod_id);
	free(i->name);
	free(i->ctr_name);
	free(i->image_ref);
	free(i->image_id);
	free(i->repo_digest);
	free(i->reason);
	free(i->message);
	free(i->log_path);
	ctr_kv_free(i->labels, i->n_labels);
	ctr_kv_free(i->annotations, i->n_annotations);
	ctr_status_cfg_done(&i->cfg);
	free(i->spec_path);
	free(i->cgroups_path);
	free(i->upper_dir);
	free(i->attach_path);
	free(i->ctl_path);
	free(i->groups);
	free(i);
}

void ctr_info_list_free(struct ctr_info **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ctr_info_free(v[i]);
	free(v);
}

void ctr_kv_parse(const char *text, struct ctr_kv **ret, size_t *ret_n)
{
	json_t *o = NULL;
	cleanup_err struct err err = ERR_INIT;
	/* The text is ctr_kv_json's, from the database: one that does not
	 * parse is a damaged row, read as no entries but said. */
	if (text && js_load("labels", text, strlen(text), SIZE_MAX, &o, &err) < 0)
		log_warn("a container's labels or annotations do not parse; read as none",
			 "error=%s", log_q(err_str(&err)));
	size_t n = json_is_object(o) ? json_object_size(o) : 0;
	struct ctr_kv *kv = xcalloc(n ? n : 1, sizeof(*kv));
	size_t k = 0;
	const char *key;
	json_t *v;
	if (n) {
		json_object_foreach(o, key, v)
		{
			if (!json_is_string(v))
				continue;
			kv[k].key = xstrdup(key);
			kv[k].value = xstrdup(json_string_value(v));
			k++;
		}
	}
	json_decref(o);
	*ret = kv;
	*ret_n = k;
}

char *ctr_kv_json(const struct oci_kv *kv, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, kv[i].key, json_string(kv[i].value ? kv[i].value : ""));
	char *s = js_dump(o, JS_DUMP_SORTED);
	json_decref(o);
	return s;
}
