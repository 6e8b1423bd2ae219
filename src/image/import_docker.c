/* The manifest.json of a `docker save` archive:
 *   [{"Config": "<hex>.json", "RepoTags": ["busybox:latest"],
 *     "Layers": ["<hex>/layer.tar", ...]}, ...]
 * Paths are checked and cleaned here so that nothing later sees a path
 * that leaves the archive. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "base/base.h"
#include "base/json.h"
#include "image/image_int.h"
#include "storage/storage.h"

static void save_image_done(struct image_docker_save *s)
{
	free(s->config);
	strv_free(s->repo_tags);
	strv_free(s->layers);
}

void image_docker_save_free(struct image_docker_save *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		save_image_done(&v[i]);
	free(v);
}

/* A path inside the archive, cleaned; refused when it could leave it. */
static int clean_path(const char *s, const char *what, char **ret, struct err *err)
{
	char buf[PATH_MAX];
	const char *reason = NULL;
	int r = storage_tar_path_clean(s, strlen(s), buf, sizeof(buf), &reason);
	if (r < 0)
		return err_msg(err, -EINVAL, "%s: path '%s' refused: %s", what, s,
			       reason ? reason : "too long");
	if (!buf[0])
		return err_msg(err, -EINVAL, "%s: empty path", what);
	*ret = xstrdup(buf);
	return 0;
}

static int parse_one(const json_t *o, size_t i, struct image_docker_save *ret, struct err *err)
{
	cleanup_free char *what = xasprintf("manifest.json[%zu]", i);
	if (!json_is_object(o))
		return err_msg(err, -EINVAL, "%s: expected an object", what);
	const char *config = NULL;
	int r = js_get_str(o, what, "Config", NULL, &config, err);
	if (r < 0)
		return r;
	if (!config)
		return err_msg(err, -EINVAL, "%s: missing Config", what);
	r = clean_path(config, what, &ret->config, err);
	if (r < 0)
		return r;
	r = js_get_strv(o, what, "RepoTags", &ret->repo_tags, err);
	if (r < 0)
		return r;
	char **layers = NULL;
	r = js_get_strv(o, what, "Layers", &layers, err);
	if (r < 0)
		return r;
	size_t n = 0;
	for (; layers && layers[n]; n++) {
		char *clean = NULL;
		if (n >= IMAGE_LAYERS_MAX) {
			strv_free(layers);
			return err_msg(err, -EFBIG, "%s: more than %d layers", what,
				       IMAGE_LAYERS_MAX);
		}
		r = clean_path(layers[n], what, &clean, err);
		if (r < 0) {
			strv_free(layers);
			return r;
		}
		free(layers[n]);
		layers[n] = clean;
	}
	ret->layers = layers;
	ret->n_layers = n;
	return 0;
}

int image_docker_save_parse(const char *data, size_t len, struct image_docker_save **ret,
			    size_t *ret_n, struct err *err)
{
	if (len > IMAGE_MANIFEST_MAX)
		return err_msg(err, -EFBIG, "manifest.json: larger than %u bytes",
			       IMAGE_MANIFEST_MAX);
	cleanup(json_decref) json_t *root = NULL;
	int r = js_load("manifest.json", data, len, IMAGE_MANIFEST_MAX, &root, err);
	if (r < 0)
		return r;
	if (!json_is_array(root) || json_array_size(root) == 0)
		return err_msg(err, -EINVAL, "manifest.json: expected a non-empty array");
	size_t n = json_array_size(root);
	if (n > IMAGE_INDEX_MAX)
		return err_msg(err, -EFBIG, "manifest.json: more than %d images", IMAGE_INDEX_MAX);
	struct image_docker_save *v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		r = parse_one(json_array_get(root, i), i, &v[i], err);
		if (r < 0) {
			image_docker_save_free(v, n);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
