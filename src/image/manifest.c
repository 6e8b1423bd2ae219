/* OCI image index / manifest and Docker manifest list / schema 2 parsing. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "base/json.h"
#include "image/image_int.h"

#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

static const char schema1_msg[] =
    "Docker schema 1 manifests are not supported; push the image again with a current client";

int image_json_load(const char *what, const char *data, size_t len, json_t **ret, struct err *err)
{
	json_t *j = NULL;
	cleanup_err struct err e = ERR_INIT;
	if (js_load("line", data, len, SIZE_MAX, &j, &e) < 0)
		return err_msg(err, -EINVAL, "%s is not valid JSON: %s", what, err_str(&e));
	if (!json_is_object(j)) {
		json_decref(j);
		return err_msg(err, -EINVAL, "%s is not a JSON object", what);
	}
	*ret = j;
	return 0;
}

void image_descriptor_done(struct image_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	free(d->os);
	free(d->arch);
	free(d->variant);
	memset(d, 0, sizeof(*d));
}

static int descriptor_platform(const json_t *obj, const char *what, struct image_descriptor *d,
			       struct err *err)
{
	const json_t *p = json_object_get(obj, "platform");
	const char *os, *arch, *variant;
	int r;

	if (!p || json_is_null(p))
		return 0;
	if (!json_is_object(p))
		return err_msg(err, -EINVAL, "%s: 'platform' must be an object", what);
	if ((r = js_get_str(p, what, "os", NULL, &os, err)) < 0 ||
	    (r = js_get_str(p, what, "architecture", NULL, &arch, err)) < 0 ||
	    (r = js_get_str(p, what, "variant", NULL, &variant, err)) < 0)
		return r;
	d->os = os ? xstrdup(os) : NULL;
	d->arch = arch ? xstrdup(arch) : NULL;
	d->variant = variant && *variant ? xstrdup(variant) : NULL;
	return 0;
}

int image_descriptor_parse(const json_t *obj, bool platform, const char *what,
			   struct image_descriptor *ret, struct err *err)
{
	const char *mt, *digest;
	const json_t *size = json_object_get(obj, "size");
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(obj))
		return err_msg(err, -EINVAL, "%s is not an object", what);
	if ((r = js_get_str(obj, what, "mediaType", NULL, &mt, err)) < 0 ||
	    (r = js_get_str(obj, what, "digest", NULL, &digest, err)) < 0)
		return r;
	if (!digest)
		return err_msg(err, -EINVAL, "%s has no digest", what);
	if (!image_digest_valid(digest))
		return err_msg(
		    err, -EINVAL,
		    "%s: invalid digest '%.80s' (need sha256: and 64 lowercase hex digits)", what,
		    digest);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return err_msg(err, -EINVAL, "%s: 'size' must be a non-negative integer", what);
	ret->media_type = mt ? xstrdup(mt) : NULL;
	ret->digest = xstrdup(digest);
	ret->size = json_integer_value(size);
	if (platform) {
		r = descriptor_platform(obj, what, ret, err);
		if (r < 0) {
			image_descriptor_done(ret);
			return r;
		}
	}
	return 0;
}

void image_manifest_free(struct image_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_entries; i++)
		image_descriptor_done(&m->entries[i]);
	free(m->entries);
	image_descriptor_done(&m->config);
	for (size_t i = 0; i < m->n_layers; i++) {
		free(m->layers[i].media_type);
		free(m->layers[i].digest);
	}
	free(m->layers);
	free(m);
}

bool image_manifest_is_index(const struct image_manifest *m)
{
	return m->kind == IMAGE_OCI_INDEX || m->kind == IMAGE_DOCKER_LIST;
}

enum mt_class { MT_UNKNOWN = -1, MT_GENERIC = -2, MT_SCHEMA1 = -3 };

/* A manifest kind, or one of enum mt_class. `n` bytes of `mt` are looked at
 * (Content-Type parameters are cut off by the caller). */
static int classify(const char *mt, size_t n)
{
	static const struct {
		const char *mt;
		int kind;
	} table[] = {
		{ IMAGE_MT_OCI_INDEX, IMAGE_OCI_INDEX },
		{ IMAGE_MT_OCI_MANIFEST, IMAGE_OCI_MANIFEST },
		{ IMAGE_MT_DOCKER_LIST, IMAGE_DOCKER_LIST },
		{ IMAGE_MT_DOCKER_MANIFEST, IMAGE_DOCKER_MANIFEST },
		{ MT_DOCKER_SCHEMA1, MT_SCHEMA1 },
		{ MT_DOCKER_SCHEMA1_SIGNED, MT_SCHEMA1 },
		{ "application/json", MT_GENERIC },
		{ "text/plain", MT_GENERIC },
		{ "application/octet-stream", MT_GENERIC },
		{ "", MT_GENERIC },
	};
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (strlen(table[i].mt) == n && strncasecmp(table[i].mt, mt, n) == 0)
			return table[i].kind;
	return MT_UNKNOWN;
}

static int classify_content_type(const char *ct, size_t *ret_len)
{
	if (!ct) {
		*ret_len = 0;
		return MT_GENERIC;
	}
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	*ret_len = n;
	return classify(ct, n);
}

/* The kind of `doc`: its mediaType, else a specific Content-Type, else its
 * shape. Schema 1 is refused whichever way it shows. */
static int detect_kind(const json_t *doc, const char *ct, struct err *err)
{
	const char *mt;
	size_t ct_len;
	int ct_kind = classify_content_type(ct, &ct_len);
	int r = js_get_str(doc, "manifest", "mediaType", NULL, &mt, err);
	const json_t *sv = json_object_get(doc, "schemaVersion");

	if (r < 0)
		return r;
	if (json_is_integer(sv) && json_integer_value(sv) == 1)
		return err_msg(err, -EOPNOTSUPP, "%s", schema1_msg);
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return err_msg(err, -EINVAL, "manifest: 'schemaVersion' must be 2");
	int mt_kind = mt ? classify(mt, strlen(mt)) : MT_GENERIC;
	if (mt_kind == MT_SCHEMA1)
		return err_msg(err, -EOPNOTSUPP, "%s", schema1_msg);
	if (mt && mt_kind < 0)
		return err_msg(err, -EOPNOTSUPP,
			       "unsupported manifest media type '%.100s' (not a container image)",
			       mt);
	if (mt_kind >= 0 && ct_kind >= 0 && mt_kind != ct_kind)
		return err_msg(err, -EINVAL,
			       "Content-Type '%.*s' does not match the manifest's mediaType '%s'",
			       (int)ct_len, ct, mt);
	if (mt_kind >= 0)
		return mt_kind;
	if (ct_kind == MT_UNKNOWN)
		return err_msg(err, -EOPNOTSUPP,
			       "unsupported manifest media type '%.*s' (not a container image)",
			       (int)(ct_len > 100 ? 100 : ct_len), ct);
	if (ct_kind >= 0)
		return ct_kind;
	if (json_object_get(doc, "manifests"))
		return IMAGE_OCI_INDEX;
	if (json_object_get(doc, "config") || json_object_get(doc, "layers"))
		return IMAGE_OCI_MANIFEST;
	return err_msg(err, -EINVAL, "document is neither an image manifest nor an index");
}

static int parse_index(const json_t *doc, struct image_manifest *m, struct err *err)
{
	const json_t *arr = json_object_get(doc, "manifests");
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return err_msg(err, -EINVAL, "index: 'manifests' must be an array");
	if (json_array_size(arr) > IMAGE_INDEX_MAX)
		return err_msg(err, -EINVAL, "index lists more than %d manifests", IMAGE_INDEX_MAX);
	m->entries = xcalloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof(*m->entries));
	json_array_foreach(arr, i, e)
	{
		char what[48];
		snprintf(what, sizeof(what), "index entry %zu", i);
		int r = image_descriptor_parse(e, true, what, &m->entries[i], err);
		if (r < 0)
			return r;
		m->n_entries++;
	}
	return 0;
}

static int layer_compression(const char *mt, size_t i, enum image_compression *ret, struct err *err)
{
	static const struct {
		const char *mt;
		enum image_compression c;
	} table[] = {
		{ "application/vnd.oci.image.layer.v1.tar", IMAGE_COMPRESSION_NONE },
		{ "application/vnd.oci.image.layer.v1.tar+gzip", IMAGE_COMPRESSION_GZIP },
		{ "application/vnd.oci.image.layer.v1.tar+zstd", IMAGE_COMPRESSION_ZSTD },
		{ "application/vnd.docker.image.rootfs.diff.tar", IMAGE_COMPRESSION_NONE },
		{ "application/vnd.docker.image.rootfs.diff.tar.gzip", IMAGE_COMPRESSION_GZIP },
		{ "application/vnd.docker.image.rootfs.diff.tar.zstd", IMAGE_COMPRESSION_ZSTD },
	};
	if (!mt)
		return err_msg(err, -EINVAL, "layer %zu has no mediaType", i);
	for (size_t k = 0; k < ARRAY_SIZE(table); k++)
		if (strcmp(mt, table[k].mt) == 0) {
			*ret = table[k].c;
			return 0;
		}
	if (strstr(mt, "foreign") || strstr(mt, "nondistributable"))
		return err_msg(
		    err, -EOPNOTSUPP,
		    "layer %zu is a foreign (non-distributable) layer '%s', which ocid does not download (such layers belong to Windows images)",
		    i, mt);
	return err_msg(err, -EOPNOTSUPP, "layer %zu has unsupported media type '%.100s'", i, mt);
}

static int parse_layers(const json_t *arr, struct image_manifest *m, struct err *err)
{
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return err_msg(err, -EINVAL, "manifest: 'layers' must be an array");
	if (json_array_size(arr) > IMAGE_LAYERS_MAX)
		return err_msg(err, -EINVAL, "manifest has more than %d layers", IMAGE_LAYERS_MAX);
	m->layers = xcalloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof(*m->layers));
	json_array_foreach(arr, i, e)
	{
		struct image_descriptor d;
		char what[32];
		snprintf(what, sizeof(what), "layer %zu", i);
		int r = image_descriptor_parse(e, false, what, &d, err);
		if (r < 0)
			return r;
		struct image_layer *l = &m->layers[m->n_layers++];
		l->media_type = TAKE_PTR(d.media_type);
		l->digest = TAKE_PTR(d.digest);
		l->size = d.size;
		r = layer_compression(l->media_type, i, &l->compression, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_image_manifest(const json_t *doc, struct image_manifest *m, struct err *err)
{
	const char *cmt;
	int r = image_descriptor_parse(json_object_get(doc, "config"), false, "manifest config",
				       &m->config, err);
	if (r < 0)
		return r;
	cmt = m->config.media_type;
	if (!cmt)
		return err_msg(err, -EINVAL, "manifest config has no mediaType");
	if (strcmp(cmt, IMAGE_MT_OCI_CONFIG) != 0 && strcmp(cmt, IMAGE_MT_DOCKER_CONFIG) != 0)
		return err_msg(
		    err, -EOPNOTSUPP,
		    "not a container image: the manifest's config media type is '%.100s' (an artifact, not %s)",
		    cmt, IMAGE_MT_OCI_CONFIG);
	return parse_layers(json_object_get(doc, "layers"), m, err);
}

int image_manifest_parse(const char *data, size_t len, const char *content_type,
			 struct image_manifest **ret, struct err *err)
{
	cleanup(json_decref) json_t *doc = NULL;
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	size_t ct_len;
	int r;

	if (len > IMAGE_MANIFEST_MAX)
		return err_msg(err, -EFBIG, "manifest is %zu bytes, more than the limit of %u", len,
			       IMAGE_MANIFEST_MAX);
	if (classify_content_type(content_type, &ct_len) == MT_SCHEMA1)
		return err_msg(err, -EOPNOTSUPP, "%s", schema1_msg);
	r = image_json_load("manifest", data, len, &doc, err);
	if (r < 0)
		return r;
	r = detect_kind(doc, content_type, err);
	if (r < 0)
		return r;
	m = xnew(struct image_manifest);
	m->kind = (enum image_manifest_kind)r;
	if (image_manifest_is_index(m))
		r = parse_index(doc, m, err);
	else
		r = parse_image_manifest(doc, m, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}
