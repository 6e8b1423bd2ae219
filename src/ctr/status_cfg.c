/* What ContainerStatus reports of a container's config, as the JSON ctr
 * stores in its row (db containers.config):
 *   {"mounts": [{"container_path", "host_path", "readonly", "selinux_relabel",
 *                "recursive_read_only", "propagation": "private" |
 *                "host_to_container" | "bidirectional", "uid_mappings",
 *                "gid_mappings": [{"container_id", "host_id", "length"}],
 *                "image", "image_sub_path"}],
 *    "resources": {"cpu_period", "cpu_quota", "cpu_shares",
 *                  "memory_limit_in_bytes", "memory_swap_limit_in_bytes",
 *                  "oom_score_adj", "pids_limit", "cpuset_cpus",
 *                  "cpuset_mems", "hugepages": [{"page_size", "limit"}],
 *                  "unified": {"file": "value"}}}
 * "resources" is absent when none were given. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "ctr/ctr.h"

#define STATUS_CFG_MAX (16u << 20)

static const char *const propagations[] = { "private", "host_to_container", "bidirectional" };

static json_t *idmaps_json(const struct oci_idmap *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I,s:I,s:I}", "container_id",
						   (json_int_t)v[i].container_id, "host_id",
						   (json_int_t)v[i].host_id, "length",
						   (json_int_t)v[i].length));
	return a;
}

static json_t *mount_json(const struct ctr_status_mount *m)
{
	unsigned p = (unsigned)m->propagation;
	json_t *o =
	    json_pack("{s:s,s:s,s:b,s:b,s:b,s:s}", "container_path",
		      m->container_path ? m->container_path : "", "host_path",
		      m->host_path ? m->host_path : "", "readonly", m->readonly, "selinux_relabel",
		      m->selinux_relabel, "recursive_read_only", m->recursive_read_only,
		      "propagation", p < ARRAY_SIZE(propagations) ? propagations[p] : "private");
	if (m->n_uids)
		json_object_set_new(o, "uid_mappings", idmaps_json(m->uids, m->n_uids));
	if (m->n_gids)
		json_object_set_new(o, "gid_mappings", idmaps_json(m->gids, m->n_gids));
	if (m->image)
		json_object_set_new(o, "image", json_string(m->image));
	if (m->image_sub_path)
		json_object_set_new(o, "image_sub_path", json_string(m->image_sub_path));
	return o;
}

static json_t *resources_json(const struct oci_resources *r)
{
	json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s}", "cpu_period",
			      (json_int_t)r->cpu_period, "cpu_quota", (json_int_t)r->cpu_quota,
			      "cpu_shares", (json_int_t)r->cpu_shares, "memory_limit_in_bytes",
			      (json_int_t)r->memory_limit_in_bytes, "memory_swap_limit_in_bytes",
			      (json_int_t)r->memory_swap_limit_in_bytes, "oom_score_adj",
			      (json_int_t)r->oom_score_adj, "pids_limit", (json_int_t)r->pids_limit,
			      "cpuset_cpus", r->cpuset_cpus ? r->cpuset_cpus : "", "cpuset_mems",
			      r->cpuset_mems ? r->cpuset_mems : "");
	json_t *hp = json_array();
	for (size_t i = 0; i < r->n_hugepages; i++)
		json_array_append_new(
		    hp, json_pack("{s:s,s:I}", "page_size",
				  r->hugepages[i].page_size ? r->hugepages[i].page_size : "",
				  "limit", (json_int_t)r->hugepages[i].limit));
	json_object_set_new(o, "hugepages", hp);
	json_t *u = json_object();
	for (size_t i = 0; i < r->n_unified; i++)
		if (r->unified[i].key)
			json_object_set_new(
			    u, r->unified[i].key,
			    json_string(r->unified[i].value ? r->unified[i].value : ""));
	json_object_set_new(o, "unified", u);
	return o;
}

char *ctr_status_cfg_to_json(const struct ctr_status_cfg *c)
{
	json_t *o = json_object();
	json_t *mounts = json_array();
	for (size_t i = 0; i < c->n_mounts; i++)
		json_array_append_new(mounts, mount_json(&c->mounts[i]));
	json_object_set_new(o, "mounts", mounts);
	if (c->has_resources)
		json_object_set_new(o, "resources", resources_json(&c->resources));
	char *s = js_dump(o, JS_DUMP_SORTED);
	json_decref(o);
	return s;
}

/* An optional string member, copied (NULL when missing). */
static int get_strdup(const json_t *o, const char *path, const char *key, char **ret,
		      struct err *err)
{
	const char *v = NULL;
	int r = js_get_str(o, path, key, NULL, &v, err);
	if (r >= 0 && v)
		*ret = xstrdup(v);
	return r;
}

static int parse_u32(const json_t *o, const char *path, const char *key, uint32_t *ret,
		     struct err *err)
{
	uint64_t v = 0;
	int r = js_get_uint(o, path, key, 0, &v, err);
	if (r >= 0 && v > UINT32_MAX)
		r = err_msg(err, -EINVAL, "%s.%s: %llu is out of range", path, key,
			    (unsigned long long)v);
	if (r >= 0)
		*ret = (uint32_t)v;
	return r;
}

static int parse_idmaps(const json_t *m, const char *path, const char *key, struct oci_idmap **ret,
			size_t *ret_n, struct err *err)
{
	const json_t *a = NULL;
	int r = js_get(m, path, key, JSON_ARRAY, false, &a, err);
	if (r < 0 || !a)
		return r;
	cleanup_free char *apath = js_path_key(path, key);
	*ret = xcalloc(json_array_size(a) + 1, sizeof(**ret));
	*ret_n = json_array_size(a);
	for (size_t i = 0; r >= 0 && i < json_array_size(a); i++) {
		cleanup_free char *p = js_path_index(apath, i);
		const json_t *e = json_array_get(a, i);
		struct oci_idmap *d = &(*ret)[i];
		r = parse_u32(e, p, "container_id", &d->container_id, err);
		if (r >= 0)
			r = parse_u32(e, p, "host_id", &d->host_id, err);
		if (r >= 0)
			r = parse_u32(e, p, "length", &d->length, err);
		if (r >= 0 && !json_is_object(e))
			r = err_msg(err, -EINVAL, "%s: expected object", p);
	}
	return r;
}

static int parse_propagation(const json_t *m, const char *path, enum oci_propagation *ret,
			     struct err *err)
{
	const char *p = NULL;
	int r = js_get_str(m, path, "propagation", "private", &p, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(propagations); i++)
		if (strcmp(p, propagations[i]) == 0) {
			*ret = (enum oci_propagation)i;
			return 0;
		}
	return err_msg(err, -EINVAL, "%s.propagation: unknown '%s'", path, p);
}

static int parse_mount(const json_t *m, const char *path, struct ctr_status_mount *ret,
		       struct err *err)
{
	if (!json_is_object(m))
		return err_msg(err, -EINVAL, "%s: expected object", path);
	int r = get_strdup(m, path, "container_path", &ret->container_path, err);
	if (r >= 0)
		r = get_strdup(m, path, "host_path", &ret->host_path, err);
	if (r >= 0)
		r = js_get_bool(m, path, "readonly", false, &ret->readonly, err);
	if (r >= 0)
		r = js_get_bool(m, path, "selinux_relabel", false, &ret->selinux_relabel, err);
	if (r >= 0)
		r = js_get_bool(m, path, "recursive_read_only", false, &ret->recursive_read_only,
				err);
	if (r >= 0)
		r = parse_propagation(m, path, &ret->propagation, err);
	if (r >= 0)
		r = parse_idmaps(m, path, "uid_mappings", &ret->uids, &ret->n_uids, err);
	if (r >= 0)
		r = parse_idmaps(m, path, "gid_mappings", &ret->gids, &ret->n_gids, err);
	if (r >= 0)
		r = get_strdup(m, path, "image", &ret->image, err);
	if (r >= 0)
		r = get_strdup(m, path, "image_sub_path", &ret->image_sub_path, err);
	return r;
}

static int parse_hugepages(const json_t *o, struct oci_resources *res, struct err *err)
{
	const json_t *a = NULL;
	int r = js_get(o, "resources", "hugepages", JSON_ARRAY, false, &a, err);
	if (r < 0 || !a)
		return r;
	struct oci_hugepage_limit *hp = xcalloc(json_array_size(a) + 1, sizeof(*hp));
	res->hugepages = hp;
	for (size_t i = 0; r >= 0 && i < json_array_size(a); i++) {
		cleanup_free char *p = js_path_index("resources.hugepages", i);
		const json_t *e = json_array_get(a, i);
		const char *size = NULL;
		r = js_get_str(e, p, "page_size", "", &size, err);
		if (r >= 0)
			r = js_get_uint(e, p, "limit", 0, &hp[i].limit, err);
		if (r >= 0 && !json_is_object(e))
			r = err_msg(err, -EINVAL, "%s: expected object", p);
		if (r >= 0) {
			hp[i].page_size = xstrdup(size);
			res->n_hugepages = i + 1;
		}
	}
	return r;
}

static int parse_unified(const json_t *o, struct oci_resources *res, struct err *err)
{
	const json_t *u = NULL;
	int r = js_get(o, "resources", "unified", JSON_OBJECT, false, &u, err);
	if (r < 0 || !u)
		return r;
	struct oci_kv *kv = xcalloc(json_object_size(u) + 1, sizeof(*kv));
	res->unified = kv;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)u, k, v)
	{
		const char *s = NULL;
		r = js_get_str(u, "resources.unified", k, "", &s, err);
		if (r < 0)
			return r;
		kv[res->n_unified++] = (struct oci_kv){ xstrdup(k), xstrdup(s) };
	}
	return 0;
}

static int parse_resources(const json_t *o, struct oci_resources *res, struct err *err)
{
	static const char *const keys[] = { "cpu_period",
					    "cpu_quota",
					    "cpu_shares",
					    "memory_limit_in_bytes",
					    "memory_swap_limit_in_bytes",
					    "oom_score_adj",
					    "pids_limit" };
	int64_t *const fields[] = { &res->cpu_period,
				    &res->cpu_quota,
				    &res->cpu_shares,
				    &res->memory_limit_in_bytes,
				    &res->memory_swap_limit_in_bytes,
				    &res->oom_score_adj,
				    &res->pids_limit };
	int r = 0;
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(keys); i++)
		r = js_get_int(o, "resources", keys[i], 0, fields[i], err);
	const char *cpus = NULL, *mems = NULL;
	if (r >= 0)
		r = js_get_str(o, "resources", "cpuset_cpus", "", &cpus, err);
	if (r >= 0)
		r = js_get_str(o, "resources", "cpuset_mems", "", &mems, err);
	if (r < 0)
		return r;
	res->cpuset_cpus = xstrdup(cpus);
	res->cpuset_mems = xstrdup(mems);
	r = parse_hugepages(o, res, err);
	if (r >= 0)
		r = parse_unified(o, res, err);
	return r;
}

static int parse_doc(const json_t *o, struct ctr_status_cfg *ret, struct err *err)
{
	const json_t *mounts = NULL, *res = NULL;
	int r = js_get(o, "", "mounts", JSON_ARRAY, false, &mounts, err);
	if (r >= 0)
		r = js_get(o, "", "resources", JSON_OBJECT, false, &res, err);
	if (r < 0)
		return r;
	size_t n = mounts ? json_array_size(mounts) : 0;
	ret->mounts = xcalloc(n + 1, sizeof(*ret->mounts));
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *p = js_path_index("mounts", i);
		ret->n_mounts = i + 1;
		r = parse_mount(json_array_get(mounts, i), p, &ret->mounts[i], err);
		if (r < 0)
			return r;
	}
	if (!res)
		return 0;
	ret->has_resources = true;
	return parse_resources(res, &ret->resources, err);
}

int ctr_status_cfg_parse(const char *text, size_t len, struct ctr_status_cfg *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	json_t *o = NULL;
	int r = js_load("container status config", text, len, STATUS_CFG_MAX, &o, err);
	if (r < 0)
		return r;
	if (!json_is_object(o))
		r = err_msg(err, -EINVAL, "container status config: expected a JSON object");
	else
		r = parse_doc(o, ret, err);
	json_decref(o);
	return r;
}

void ctr_status_cfg_done(struct ctr_status_cfg *c)
{
	for (size_t i = 0; c->mounts && i < c->n_mounts; i++) {
		struct ctr_status_mount *m = &c->mounts[i];
		free(m->container_path);
		free(m->host_path);
		free(m->uids);
		free(m->gids);
		free(m->image);
		free(m->image_sub_path);
	}
	free(c->mounts);
	struct oci_resources *r = &c->resources;
	free((char *)r->cpuset_cpus);
	free((char *)r->cpuset_mems);
	for (size_t i = 0; r->hugepages && i < r->n_hugepages; i++)
		free((char *)r->hugepages[i].page_size);
	free((void *)r->hugepages);
	for (size_t i = 0; r->unified && i < r->n_unified; i++) {
		free((char *)r->unified[i].key);
		free((char *)r->unified[i].value);
	}
	free((void *)r->unified);
	memset(c, 0, sizeof(*c));
}
