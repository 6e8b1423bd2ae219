/* Image configuration (the config blob) parsing. */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "base/json.h"
#include "image/image_int.h"

void image_config_free(struct image_config *c)
{
	if (!c)
		return;
	free(c->architecture);
	free(c->os);
	free(c->variant);
	free(c->created);
	free(c->user);
	strv_free(c->env);
	strv_free(c->entrypoint);
	strv_free(c->cmd);
	free(c->working_dir);
	strv_free(c->volumes);
	free(c->stop_signal);
	for (size_t i = 0; i < c->n_labels; i++) {
		free(c->labels[i].key);
		free(c->labels[i].value);
	}
	free(c->labels);
	strv_free(c->diff_ids);
	free(c);
}

static char *dup_nonempty(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

static int parse_top(const json_t *doc, struct image_config *c, struct err *err)
{
	const char *arch, *os, *variant, *created;
	int r;

	if ((r = js_get_str(doc, "image config", "architecture", NULL, &arch, err)) < 0 ||
	    (r = js_get_str(doc, "image config", "os", NULL, &os, err)) < 0 ||
	    (r = js_get_str(doc, "image config", "variant", NULL, &variant, err)) < 0 ||
	    (r = js_get_str(doc, "image config", "created", NULL, &created, err)) < 0)
		return r;
	c->architecture = dup_nonempty(arch);
	c->os = dup_nonempty(os);
	c->variant = dup_nonempty(variant);
	c->created = dup_nonempty(created);
	return 0;
}

static int parse_volumes(const json_t *cfg, struct image_config *c, struct err *err)
{
	const json_t *vols = json_object_get(cfg, "Volumes");
	const char *key;
	json_t *v;

	if (!vols || json_is_null(vols))
		return 0;
	if (!json_is_object(vols))
		return err_msg(err, -EINVAL, "image config: 'Volumes' must be an object");
	json_object_foreach((json_t *)vols, key, v) strv_push(&c->volumes, key);
	return 0;
}

static int parse_labels(const json_t *cfg, struct image_config *c, struct err *err)
{
	const json_t *labels = json_object_get(cfg, "Labels");
	const char *key;
	json_t *v;

	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_object(labels))
		return err_msg(err, -EINVAL, "image config: 'Labels' must be an object");
	c->labels = xcalloc(json_object_size(labels) + 1, sizeof(*c->labels));
	json_object_foreach((json_t *)labels, key, v)
	{
		if (!json_is_string(v))
			return err_msg(err, -EINVAL, "image config: label '%.100s' is not a string",
				       key);
		c->labels[c->n_labels].key = xstrdup(key);
		c->labels[c->n_labels].value = xstrdup(json_string_value(v));
		c->n_labels++;
	}
	return 0;
}

static int parse_run_config(const json_t *doc, struct image_config *c, struct err *err)
{
	const json_t *cfg = json_object_get(doc, "config");
	const char *what = "image config.config";
	const char *user = NULL, *wd = NULL, *sig = NULL;
	int r;

	if (cfg && !json_is_null(cfg) && !json_is_object(cfg))
		return err_msg(err, -EINVAL, "image config: 'config' must be an object");
	if (cfg && json_is_object(cfg)) {
		if ((r = js_get_str(cfg, what, "User", NULL, &user, err)) < 0 ||
		    (r = js_get_str(cfg, what, "WorkingDir", NULL, &wd, err)) < 0 ||
		    (r = js_get_str(cfg, what, "StopSignal", NULL, &sig, err)) < 0 ||
		    (r = js_get_strv(cfg, what, "Env", &c->env, err)) < 0 ||
		    (r = js_get_strv(cfg, what, "Entrypoint", &c->entrypoint, err)) < 0 ||
		    (r = js_get_strv(cfg, what, "Cmd", &c->cmd, err)) < 0 ||
		    (r = parse_volumes(cfg, c, err)) < 0 || (r = parse_labels(cfg, c, err)) < 0)
			return r;
	}
	c->user = xstrdup(user ? user : "");
	c->working_dir = dup_nonempty(wd);
	c->stop_signal = dup_nonempty(sig);
	return 0;
}

static int parse_rootfs(const json_t *doc, struct image_config *c, struct err *err)
{
	const json_t *rootfs = json_object_get(doc, "rootfs");
	const char *type;
	int r;

	if (!json_is_object(rootfs))
		return err_msg(err, -EINVAL, "image config has no 'rootfs' object");
	r = js_get_str(rootfs, "image config.rootfs", "type", NULL, &type, err);
	if (r < 0)
		return r;
	if (!type || strcmp(type, "layers") != 0)
		return err_msg(err, -EINVAL, "image config: rootfs type must be \"layers\"");
	if (!json_is_array(json_object_get(rootfs, "diff_ids")))
		return err_msg(err, -EINVAL, "image config: rootfs.diff_ids must be an array");
	r = js_get_strv(rootfs, "image config.rootfs", "diff_ids", &c->diff_ids, err);
	if (r < 0)
		return r;
	for (size_t i = 0; c->diff_ids[i]; i++) {
		if (!image_digest_valid(c->diff_ids[i]))
			return err_msg(
			    err, -EINVAL,
			    "image config: diff_id %zu '%.80s' is not a valid sha256 digest", i,
			    c->diff_ids[i]);
		c->n_diff_ids++;
	}
	if (c->n_diff_ids > IMAGE_LAYERS_MAX)
		return err_msg(err, -EINVAL, "image config has more than %d layers",
			       IMAGE_LAYERS_MAX);
	return 0;
}

int image_config_parse(const char *data, size_t len, struct image_config **ret, struct err *err)
{
	cleanup(json_decref) json_t *doc = NULL;
	cleanup(image_config_free) struct image_config *c = NULL;
	int r;

	if (len > IMAGE_CONFIG_MAX)
		return err_msg(err, -EFBIG, "image config is %zu bytes, more than the limit of %u",
			       len, IMAGE_CONFIG_MAX);
	r = image_json_load("image config", data, len, &doc, err);
	if (r < 0)
		return r;
	c = xnew(struct image_config);
	if ((r = parse_top(doc, c, err)) < 0 || (r = parse_run_config(doc, c, err)) < 0 ||
	    (r = parse_rootfs(doc, c, err)) < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

int image_config_check(const struct image_config *cfg, const struct image_manifest *m,
		       struct err *err)
{
	if (image_manifest_is_index(m))
		return err_msg(err, -EINVAL, "an index has no image config");
	if (cfg->n_diff_ids != m->n_layers)
		return err_msg(
		    err, -EINVAL,
		    "image config lists %zu layer diff_ids but the manifest has %zu layers",
		    cfg->n_diff_ids, m->n_layers);
	return 0;
}
