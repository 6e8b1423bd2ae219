/* Image queries: name resolution, list, status, removal. */
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "base/base.h"
#include "base/json.h"
#include "db/ctr.h"
#include "db/image.h"
#include "image/policy_int.h"
#include "image/service_int.h"
#include "storage/storage.h"

static bool all_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* An id or a unique id prefix: 1 found (*ret), 0 not an id, <0 error.
 * 64 hex digits are an id even when no image has it (-ENOENT): they
 * cannot be a repository name. */
static int resolve_id(struct image_service *svc, const char *name, char **ret, struct err *err)
{
	const char *hex = str_has_prefix(name, "sha256:") ? name + 7 : name;
	size_t len = strlen(hex);
	if (!all_hex(hex) || len > 64)
		return 0;
	cleanup_free char *prefix = xasprintf("sha256:%s", hex);
	char **ids = NULL;
	int r = db_image_ids_by_prefix(svc->db, prefix, &ids, err);
	if (r < 0)
		return r;
	size_t n = strv_len(ids);
	if (n == 1)
		*ret = xstrdup(ids[0]);
	strv_free(ids);
	if (n > 1)
		return err_msg(err, -ENOTUNIQ, "image id prefix '%s' is ambiguous (%zu images)",
			       name, n);
	if (n == 0 && len == 64)
		return err_msg(err, -ENOENT, "image %s not found", name);
	return n == 1;
}

static int lookup_ref(struct image_service *svc, const struct image_ref *ref, char **ret,
		      struct err *err)
{
	cleanup_free char *name = image_ref_string(ref, IMAGE_REF_NAME);
	cleanup_free char *key = ref->digest ? xasprintf("%s@%s", name, ref->digest)
					     : xasprintf("%s:%s", name, ref->tag);
	int r = db_image_by_name(svc->db, key, ret, err);
	if (r == -ENOENT && ref->digest) {
		/* repo@<config digest> names the image too */
		err_done(err);
		cleanup(db_image_free) struct db_image *img = NULL;
		r = db_image_get(svc->db, ref->digest, &img, err);
		if (r >= 0)
			*ret = xstrdup(img->id);
	}
	return r;
}

int image_resolve(struct image_service *svc, const char *name, const char *registries_conf,
		  char **ret, struct err *err)
{
	if (str_empty(name))
		return err_msg(err, -EINVAL, "no image name given");
	int r = resolve_id(svc, name, ret, err);
	if (r != 0)
		return r < 0 ? r : 0;
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	r = image_ref_parse(name, &ref, err);
	if (r < 0)
		return r;
	r = lookup_ref(svc, ref, ret, err);
	if (r != -ENOENT || !ref->short_name)
		return r;
	/* A short name may have been pulled through a search registry. */
	err_done(err);
	cleanup(svc_settings_put) struct svc_settings *set = svc_settings_get(svc);
	if (!registries_conf)
		registries_conf = set->registries_conf;
	cleanup(image_registries_free) struct image_registries *regs = NULL;
	struct image_ref **cands = NULL;
	size_t n = 0;
	r = image_registries_load(registries_conf ? registries_conf : IMAGE_REGISTRIES_CONF, NULL,
				  &regs, err);
	if (r >= 0)
		r = image_registries_resolve(regs, ref, &cands, &n, err);
	if (r < 0) {
		err_done(err);
		return err_msg(err, -ENOENT, "image %s not found", name);
	}
	r = -ENOENT;
	for (size_t i = 0; i < n && r == -ENOENT; i++) {
		err_done(err);
		r = lookup_ref(svc, cands[i], ret, err);
	}
	image_refs_free(cands);
	if (r == -ENOENT) {
		err_done(err);
		return err_msg(err, -ENOENT, "image %s not found", name);
	}
	return r;
}

static bool pinned(char *const *patterns, const struct db_image *img)
{
	for (size_t p = 0; patterns && patterns[p]; p++) {
		if (strcmp(patterns[p], img->id) == 0)
			return true;
		for (size_t i = 0; img->tags && img->tags[i]; i++)
			if (fnmatch(patterns[p], img->tags[i], 0) == 0)
				return true;
		for (size_t i = 0; img->digests && img->digests[i]; i++)
			if (fnmatch(patterns[p], img->digests[i], 0) == 0)
				return true;
	}
	return false;
}

static void fill_user(struct image_info *info, const char *config)
{
	cleanup(image_config_free) struct image_config *c = NULL;
	if (image_config_parse(config, strlen(config), &c, NULL) < 0)
		return;
	struct image_user u;
	if (image_user_parse(c->user, &u, NULL) < 0)
		return;
	if (u.username)
		info->username = xstrdup(u.username);
	else if (u.has_uid) {
		info->has_uid = true;
		info->uid = u.uid;
	}
	image_user_done(&u);
}

static struct image_info *info_from(const struct db_image *img, char *const *pins)
{
	struct image_info *info = xnew(struct image_info);
	info->id = xstrdup(img->id);
	for (size_t i = 0; img->tags && img->tags[i]; i++)
		strv_push(&info->tags, img->tags[i]);
	for (size_t i = 0; img->digests && img->digests[i]; i++)
		strv_push(&info->digests, img->digests[i]);
	info->size = img->size > 0 ? (uint64_t)img->size : 0;
	info->pinned = pinned(pins, img);
	info->manifest_digest = xstrdup(img->manifest_digest);
	info->config = xstrdup(img->config);
	info->layer_sizes = xcalloc(img->n_layers ? img->n_layers : 1, sizeof(int64_t));
	for (size_t i = 0; i < img->n_layers; i++) {
		strv_push(&info->chain_ids, img->layers[i].chain_id);
		strv_push(&info->layer_digests, img->layers[i].digest);
		info->layer_sizes[i] = img->layers[i].size;
	}
	fill_user(info, img->config);
	return info;
}

int image_list(struct image_service *svc, const char *filter, const char *registries_conf,
	       char *const *pins, struct image_info ***ret, size_t *ret_n, struct err *err)
{
	*ret = NULL;
	*ret_n = 0;
	cleanup(svc_settings_put) struct svc_settings *set = svc_settings_get(svc);
	if (!pins)
		pins = set->pinned;
	if (!str_empty(filter)) {
		struct image_info *one = NULL;
		int r = image_status(svc, filter, registries_conf, pins, &one, err);
		if (r == -ENOENT || r == -EINVAL || r == -ENOTUNIQ) {
			err_done(err);
			return 0;
		}
		if (r < 0)
			return r;
		*ret = xnew(struct image_info *);
		(*ret)[0] = one;
		*ret_n = 1;
		return 0;
	}
	struct db_image **v = NULL;
	size_t n = 0;
	int r = db_image_list(svc->db, &v, &n, err);
	if (r < 0)
		return r;
	*ret = xcalloc(n ? n : 1, sizeof(**ret));
	for (size_t i = 0; i < n; i++) {
		(*ret)[i] = info_from(v[i], pins);
		db_image_free(v[i]);
	}
	free(v);
	*ret_n = n;
	return 0;
}

int image_status(struct image_service *svc, const char *name, const char *registries_conf,
		 char *const *pins, struct image_info **ret, struct err *err)
{
	cleanup_free char *id = NULL;
	int r = image_resolve(svc, name, registries_conf, &id, err);
	if (r < 0)
		return r;
	cleanup(db_image_free) struct db_image *img = NULL;
	r = db_image_get(svc->db, id, &img, err);
	if (r < 0)
		return r;
	cleanup(svc_settings_put) struct svc_settings *set = svc_settings_get(svc);
	*ret = info_from(img, pins ? pins : set->pinned);
	(*ret)->trust = image_trust_load(svc, id);
	return 0;
}

int image_remove(struct image_service *svc, const char *name, const char *registries_conf,
		 struct err *err)
{
	if (str_empty(name))
		return err_msg(err, -EINVAL, "no image name given");
	cleanup_free char *id = NULL;
	int r = image_resolve(svc, name, registries_conf, &id, err);
	/* Idempotent, as the CRI asks: an unknown image and a string that is
	 * no reference at all (-EINVAL) name nothing to remove. An ambiguous
	 * prefix (-ENOTUNIQ) names something and stays an error. */
	if (r == -ENOENT || r == -EINVAL) {
		err_done(err);
		return 0;
	}
	if (r < 0)
		return r;
	/* Under the lock so a pull cannot pin a layer between the database
	 * saying it is unused and its files going. */
	pthread_mutex_lock(&svc->lock);
	char **unused = NULL, **in_use = NULL;
	r = db_ctr_layers_in_use(svc->db, &in_use, err);
	if (r >= 0)
		r = db_image_delete(svc->db, id, &unused, err);
	/* A layer under a container's rootfs stays until that container is
	 * gone; start-up drops it then (drop_orphans). */
	for (size_t i = 0; r >= 0 && unused && unused[i]; i++)
		if (!strv_contains(svc->pins, unused[i]) && !strv_contains(in_use, unused[i]))
			r = storage_layer_delete(svc->st, unused[i], err);
	pthread_mutex_unlock(&svc->lock);
	strv_free(unused);
	strv_free(in_use);
	if (r >= 0)
		image_trust_drop(svc, id);
	return r < 0 ? err_wrap(err, "remove image %s", id) : 0;
}

int image_info_json(const struct image_info *info, char **ret, struct err *err)
{
	json_t *cfg = NULL, *trust = NULL;
	cleanup_err struct err e = ERR_INIT;
	int r =
	    js_load("stored image config", info->config, strlen(info->config), SIZE_MAX, &cfg, &e);
	if (r >= 0 && info->trust)
		r = js_load("stored trust record", info->trust, strlen(info->trust), SIZE_MAX,
			    &trust, &e);
	if (r < 0) {
		json_decref(cfg);
		/* a pull wrote them as JSON: the database is damaged, not the call */
		return err_msg(err, -EIO, "image %s: %s", info->id, err_str(&e));
	}
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(info->id));
	json_object_set_new(o, "configDigest", json_string(info->id));
	json_object_set_new(o, "manifestDigest", json_string(info->manifest_digest));
	json_object_set_new(o, "size", json_integer((json_int_t)info->size));
	json_t *layers = json_array();
	for (size_t i = 0; info->chain_ids && info->chain_ids[i]; i++)
		json_array_append_new(
		    layers, json_pack("{s:s, s:s, s:I}", "digest", info->layer_digests[i],
				      "chainID", info->chain_ids[i], "size",
				      (json_int_t)(info->layer_sizes ? info->layer_sizes[i] : 0)));
	json_object_set_new(o, "layers", layers);
	cleanup(image_config_free) struct image_config *c = NULL;
	if (image_config_parse(info->config, strlen(info->config), &c, NULL) >= 0) {
		json_t *plat = json_object();
		json_object_set_new(plat, "os", json_string(c->os ? c->os : ""));
		json_object_set_new(plat, "architecture",
				    json_string(c->architecture ? c->architecture : ""));
		if (c->variant)
			json_object_set_new(plat, "variant", json_string(c->variant));
		json_object_set_new(o, "platform", plat);
	}
	json_object_set_new(o, "imageSpec", cfg);
	if (trust)
		json_object_set_new(o, "trust", trust);
	*ret = js_dump(o, 0);
	json_decref(o);
	return 0;
}

void image_info_free(struct image_info *i)
{
	if (!i)
		return;
	free(i->id);
	strv_free(i->tags);
	strv_free(i->digests);
	free(i->username);
	free(i->manifest_digest);
	free(i->config);
	strv_free(i->chain_ids);
	strv_free(i->layer_digests);
	free(i->layer_sizes);
	free(i->trust);
	free(i);
}

void image_infos_free(struct image_info **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		image_info_free(v[i]);
	free(v);
}
