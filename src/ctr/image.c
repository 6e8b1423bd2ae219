/* Resolving the image a CreateContainer names: a reference (as pulled) or
 * an image id or unique id prefix, to its id, config and layers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/ctr_int.h"
#include "db/image.h"

static int by_name(struct db *db, const char *name, char **ret)
{
	if (db_image_by_name(db, name, ret, NULL) == 0)
		return 0;
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	if (image_ref_parse(name, &ref, NULL) < 0)
		return -ENOENT;
	static const enum image_ref_form forms[] = { IMAGE_REF_FULL, IMAGE_REF_FAMILIAR };
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		cleanup_free char *s = image_ref_string(ref, forms[i]);
		if (db_image_by_name(db, s, ret, NULL) == 0)
			return 0;
	}
	return -ENOENT;
}

static int by_id(struct db *db, const char *name, char **ret, struct err *err)
{
	const char *hex = str_has_prefix(name, "sha256:") ? name + 7 : name;
	if (!id_prefix_valid(hex))
		return -ENOENT;
	const char *tries[2] = { NULL, hex };
	cleanup_free char *with = xasprintf("sha256:%s", hex);
	tries[0] = with;
	for (size_t t = 0; t < ARRAY_SIZE(tries); t++) {
		char **ids = NULL;
		int r = db_image_ids_by_prefix(db, tries[t], &ids, err);
		if (r < 0)
			return r;
		size_t n = strv_len(ids);
		if (n == 1)
			*ret = xstrdup(ids[0]);
		strv_free(ids);
		if (n == 1)
			return 0;
		if (n > 1)
			return err_msg(err, -ENOTUNIQ, "image id prefix %s matches %zu images",
				       name, n);
	}
	return -ENOENT;
}

/* The repo digest to report for an image named `name`: the one of the
 * same repository, else the first; NULL when the image has none (a copy). */
static char *pick_digest(char *const *digests, const char *name)
{
	if (!digests || !digests[0])
		return NULL;
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	if (image_ref_parse(name, &ref, NULL) == 0) {
		cleanup_free char *repo = image_ref_string(ref, IMAGE_REF_NAME);
		size_t n = strlen(repo);
		for (size_t i = 0; digests[i]; i++)
			if (strncmp(digests[i], repo, n) == 0 && digests[i][n] == '@')
				return xstrdup(digests[i]);
	}
	return xstrdup(digests[0]);
}

static int from_service(struct image_service *svc, const char *name, struct ctr_image *ret,
			struct err *err)
{
	cleanup(image_info_free) struct image_info *info = NULL;
	int r = image_status(svc, name, NULL, NULL, &info, err);
	if (r < 0)
		return r;
	ret->id = xstrdup(info->id);
	ret->repo_digest = pick_digest(info->digests, name);
	r = image_config_parse(info->config, strlen(info->config), &ret->config, err);
	if (r < 0) {
		ctr_image_done(ret);
		return err_wrap(err, "config of image %s", name);
	}
	ret->n_layers = strv_len(info->chain_ids);
	for (size_t i = ret->n_layers; i > 0; i--)
		strv_push(&ret->layers, info->chain_ids[i - 1]);
	if (!ret->n_layers) {
		ctr_image_done(ret);
		return err_msg(err, -EINVAL, "image %s has no layers", name);
	}
	return 0;
}

int ctr_image_resolve(struct db *db, struct image_service *svc, const char *name,
		      struct ctr_image *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	if (!name || !*name)
		return err_msg(err, -EINVAL, "no image given");
	if (svc)
		return from_service(svc, name, ret, err);
	char *id = NULL;
	int r = by_name(db, name, &id);
	if (r < 0) {
		r = by_id(db, name, &id, err);
		if (r == -ENOENT)
			return err_msg(err, -ENOENT, "image %s not found", name);
		if (r < 0)
			return r;
	}
	cleanup(db_image_free) struct db_image *img = NULL;
	r = db_image_get(db, id, &img, err);
	if (r < 0) {
		free(id);
		return err_wrap(err, "image %s", name);
	}
	ret->id = id;
	ret->repo_digest = pick_digest(img->digests, name);
	r = image_config_parse(img->config, strlen(img->config), &ret->config, err);
	if (r < 0) {
		ctr_image_done(ret);
		return err_wrap(err, "config of image %s", name);
	}
	for (size_t i = img->n_layers; i > 0; i--)
		strv_push(&ret->layers, img->layers[i - 1].chain_id);
	ret->n_layers = img->n_layers;
	if (!ret->n_layers) {
		ctr_image_done(ret);
		return err_msg(err, -EINVAL, "image %s has no layers", name);
	}
	return 0;
}

void ctr_image_done(struct ctr_image *i)
{
	free(i->id);
	free(i->repo_digest);
	image_config_free(i->config);
	strv_free(i->layers);
	memset(i, 0, sizeof(*i));
}
