/* Import: an OCI layout / oci-archive tar (index.json) or a `docker save`
 * tar (manifest.json). Every image of the archive is planned and checked
 * (manifests, configs, digests, sizes) before any layer is unpacked; layers
 * go through storage_layer_unpack in order; the image is recorded as a pull
 * records it. On failure, layers this import added are deleted again. */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "base/json.h"
#include "db/image.h"
#include "image/image_int.h"
#include "image/import_int.h"
#include "image/service_int.h"
#include "storage/storage.h"

#define MT_DOCKER_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"

/* One image to import. */
struct imp_image {
	char *top_digest; /* recorded as the manifest digest (and in repo digests) */
	bool repo_digests;
	char *manifest;
	struct image_manifest *m;
	char *config;
	size_t config_len;
	struct image_config *cfg;
	char **chains;
	char **layer_paths;
	char **names; /* "repo:tag" */
};

struct imp_run {
	struct image_service *svc;
	struct imp_archive ia;
	struct imp_image *imgs;
	size_t n;
	char **added; /* chain ids this import unpacked */
	image_import_progress_fn progress;
	void *opaque;
};

static void imp_image_done(struct imp_image *im)
{
	free(im->top_digest);
	free(im->manifest);
	image_manifest_free(im->m);
	free(im->config);
	image_config_free(im->cfg);
	strv_free(im->chains);
	strv_free(im->layer_paths);
	strv_free(im->names);
}

static struct imp_image *new_image(struct imp_run *run)
{
	run->imgs = xreallocarray(run->imgs, run->n + 1, sizeof(*run->imgs));
	run->imgs[run->n] = (struct imp_image){ 0 };
	return &run->imgs[run->n++];
}

static void emit(struct imp_run *run, json_t *o)
{
	if (run->progress) {
		cleanup_free char *s = js_dump(o, 0);
		run->progress(run->opaque, s);
	}
	json_decref(o);
}

static char *sha256_digest(const char *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char *s = xmalloc(7 + 64 + 1);
	(void)EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	memcpy(s, "sha256:", 7);
	for (unsigned i = 0; i < n; i++)
		snprintf(s + 7 + 2 * i, 3, "%02x", md[i]);
	return s;
}

static char *blob_path(const char *digest)
{
	return xasprintf("blobs/sha256/%s", digest + 7);
}

/* Read blob `digest` (declared `size`, -1 unknown) and check its digest. */
static int blob_read(struct imp_run *run, const char *digest, int64_t size, size_t max, char **ret,
		     size_t *ret_len, struct err *err)
{
	cleanup_free char *path = blob_path(digest);
	const struct imp_entry *e = imp_archive_find(&run->ia, path);
	if (!e)
		return err_msg(err, -EINVAL, "archive has no blob %s", digest);
	if (size >= 0 && e->size != size)
		return err_msg(err, -EINVAL, "blob %s: %lld bytes, descriptor says %lld", digest,
			       (long long)e->size, (long long)size);
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r = imp_entry_read(&run->ia, path, max, &buf, &len, err);
	if (r < 0)
		return r;
	cleanup_free char *got = sha256_digest(buf, len);
	if (strcmp(got, digest) != 0)
		return err_msg(err, -EINVAL, "blob %s: digest mismatch (content is %s)", digest,
			       got);
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* "repo:tag" of reference `s`; NULL (0) when it names no tag. */
static int norm_name(const char *s, char **ret, struct err *err)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	int r = image_ref_parse(s, &ref, err);
	if (r < 0)
		return err_wrap(err, "image name '%s'", s);
	*ret = NULL;
	if (ref->tag) {
		cleanup_free char *name = image_ref_string(ref, IMAGE_REF_NAME);
		*ret = xasprintf("%s:%s", name, ref->tag);
	}
	return 0;
}

static int add_name(struct imp_image *im, const char *s, struct err *err)
{
	char *n = NULL;
	int r = norm_name(s, &n, err);
	if (r >= 0 && n && !strv_contains(im->names, n))
		strv_push(&im->names, n);
	free(n);
	return r;
}

/* Config, chain ids; the layers' paths default to OCI blob paths. */
static int load_config(struct imp_run *run, struct imp_image *im, struct err *err)
{
	int r = image_config_parse(im->config, im->config_len, &im->cfg, err);
	if (r >= 0)
		r = image_config_check(im->cfg, im->m, err);
	const char *parent = NULL;
	for (size_t i = 0; r >= 0 && i < im->m->n_layers; i++) {
		char *chain = NULL;
		r = storage_chain_id(parent, im->cfg->diff_ids[i], &chain, err);
		if (r >= 0) {
			strv_push_take(&im->chains, chain);
			parent = chain;
		}
	}
	if (r < 0)
		return err_wrap(err, "config %s", im->m->config.digest);
	if (!im->layer_paths)
		for (size_t i = 0; i < im->m->n_layers; i++)
			strv_push_take(&im->layer_paths, blob_path(im->m->layers[i].digest));
	for (size_t i = 0; i < im->m->n_layers; i++) {
		const struct imp_entry *e = imp_archive_find(&run->ia, im->layer_paths[i]);
		if (!e)
			return err_msg(err, -EINVAL, "archive has no layer '%s'",
				       im->layer_paths[i]);
		if (im->m->layers[i].size != e->size)
			return err_msg(err, -EINVAL, "layer '%s': %lld bytes, manifest says %lld",
				       im->layer_paths[i], (long long)e->size,
				       (long long)im->m->layers[i].size);
	}
	return 0;
}

/* ------------------------------------------------------------ OCI -- */

static bool platform_ok(const struct image_descriptor *d)
{
	struct image_platform want = IMAGE_PLATFORM_DEFAULT;
	return (!d->os || strcmp(d->os, want.os) == 0) &&
	       (!d->arch || strcmp(d->arch, want.arch) == 0 || strcmp(d->arch, "x86_64") == 0);
}

/* The name an index.json entry carries: containerd's full name, else the
 * OCI ref.name when it is a full reference (a bare "latest" names no repo). */
static const char *entry_name(const json_t *idx, size_t i)
{
	const json_t *ann =
	    json_object_get(json_array_get(json_object_get(idx, "manifests"), i), "annotations");
	const char *full = json_string_value(json_object_get(ann, "io.containerd.image.name"));
	if (full)
		return full;
	const char *ref =
	    json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
	return ref && strpbrk(ref, "/:") ? ref : NULL;
}

static int oci_manifest(struct imp_run *run, const struct image_descriptor *d, const char *name,
			struct err *err)
{
	cleanup_free char *top = NULL;
	size_t len = 0;
	int r = blob_read(run, d->digest, d->size, IMAGE_MANIFEST_MAX, &top, &len, err);
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	if (r >= 0)
		r = image_manifest_parse(top, len, d->media_type, &m, err);
	if (r < 0)
		return err_wrap(err, "manifest %s", d->digest);
	struct imp_image *im = new_image(run);
	im->top_digest = xstrdup(d->digest);
	im->repo_digests = true;
	if (image_manifest_is_index(m)) {
		const struct image_descriptor *sel = NULL;
		struct image_platform want = IMAGE_PLATFORM_DEFAULT;
		r = image_manifest_select(m, &want, &sel, err);
		if (r >= 0)
			r = blob_read(run, sel->digest, sel->size, IMAGE_MANIFEST_MAX,
				      &im->manifest, &len, err);
		if (r >= 0)
			r = image_manifest_parse(im->manifest, len, sel->media_type, &im->m, err);
		if (r >= 0 && image_manifest_is_index(im->m))
			r = err_msg(err, -EOPNOTSUPP, "index %s points at another index",
				    sel->digest);
		if (r < 0)
			return err_wrap(err, "index %s", d->digest);
	} else {
		im->manifest = TAKE_PTR(top);
		im->m = TAKE_PTR(m);
	}
	r = blob_read(run, im->m->config.digest, im->m->config.size, IMAGE_CONFIG_MAX, &im->config,
		      &im->config_len, err);
	if (r >= 0)
		r = load_config(run, im, err);
	if (r >= 0 && name)
		r = add_name(im, name, err);
	return r;
}

static int oci_plan(struct imp_run *run, struct err *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = imp_entry_read(&run->ia, "index.json", IMAGE_MANIFEST_MAX, &text, &len, err);
	cleanup(image_manifest_free) struct image_manifest *idx = NULL;
	cleanup(json_decref) json_t *doc = NULL;
	if (r >= 0)
		r = image_manifest_parse(text, len, IMAGE_MT_OCI_INDEX, &idx, err);
	if (r >= 0 && !image_manifest_is_index(idx))
		r = err_msg(err, -EINVAL, "index.json is not an image index");
	if (r >= 0)
		r = image_json_load("index.json", text, len, &doc, err);
	if (r < 0)
		return err_wrap(err, "index.json");
	size_t n_json = json_array_size(json_object_get(doc, "manifests"));
	for (size_t i = 0; i < idx->n_entries; i++) {
		const struct image_descriptor *d = &idx->entries[i];
		if (!platform_ok(d))
			continue;
		const char *name = n_json == idx->n_entries ? entry_name(doc, i) : NULL;
		r = oci_manifest(run, d, name, err);
		if (r < 0)
			return r;
	}
	if (run->n == 0)
		return err_msg(err, -ENOENT, "index.json lists no image for linux/amd64");
	return 0;
}

/* --------------------------------------------------------- docker -- */

/* The hex a docker-save file name promises: "<hex>.json", "blobs/sha256/<hex>". */
static const char *named_hex(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strspn(base, "0123456789abcdef");
	if (n != 64 || (base[64] && strcmp(base + 64, ".json") != 0))
		return NULL;
	return base;
}

/* A schema 2 manifest for what docker save wrote (it keeps none). */
static char *docker_manifest_text(struct imp_run *run, const struct image_docker_save *s,
				  const char *config_digest, size_t config_len,
				  const struct image_config *cfg)
{
	json_t *layers = json_array();
	for (size_t i = 0; i < s->n_layers; i++) {
		const struct imp_entry *e = imp_archive_find(&run->ia, s->layers[i]);
		const char *hex =
		    str_has_prefix(s->layers[i], "blobs/sha256/") ? named_hex(s->layers[i]) : NULL;
		cleanup_free char *dg = hex ? xasprintf("sha256:%.64s", hex) : NULL;
		json_array_append_new(layers,
				      json_pack("{s:s, s:I, s:s}", "mediaType", MT_DOCKER_LAYER_TAR,
						"size", (json_int_t)(e ? e->size : 0), "digest",
						dg ? dg : cfg->diff_ids[i]));
	}
	json_t *m =
	    json_pack("{s:i, s:s, s:{s:s, s:I, s:s}, s:o}", "schemaVersion", 2, "mediaType",
		      IMAGE_MT_DOCKER_MANIFEST, "config", "mediaType", IMAGE_MT_DOCKER_CONFIG,
		      "size", (json_int_t)config_len, "digest", config_digest, "layers", layers);
	char *text = js_dump(m, 0);
	json_decref(m);
	return text;
}

static int docker_image(struct imp_run *run, const struct image_docker_save *s, struct err *err)
{
	struct imp_image *im = new_image(run);
	int r = imp_entry_read(&run->ia, s->config, IMAGE_CONFIG_MAX, &im->config, &im->config_len,
			       err);
	if (r < 0)
		return r;
	cleanup_free char *id = sha256_digest(im->config, im->config_len);
	const char *hex = named_hex(s->config);
	if (hex && strncmp(hex, id + 7, 64) != 0)
		return err_msg(err, -EINVAL, "config '%s': digest mismatch (content is %s)",
			       s->config, id);
	cleanup(image_config_free) struct image_config *cfg = NULL;
	r = image_config_parse(im->config, im->config_len, &cfg, err);
	if (r < 0)
		return err_wrap(err, "config '%s'", s->config);
	if (cfg->n_diff_ids != s->n_layers)
		return err_msg(err, -EINVAL, "config '%s' has %zu diff_ids for %zu layers",
			       s->config, cfg->n_diff_ids, s->n_layers);
	for (size_t i = 0; i < s->n_layers; i++)
		if (!imp_archive_find(&run->ia, s->layers[i]))
			return err_msg(err, -EINVAL, "archive has no layer '%s'", s->layers[i]);
	im->manifest = docker_manifest_text(run, s, id, im->config_len, cfg);
	r = image_manifest_parse(im->manifest, strlen(im->manifest), IMAGE_MT_DOCKER_MANIFEST,
				 &im->m, err);
	if (r < 0)
		return r;
	im->top_digest = sha256_digest(im->manifest, strlen(im->manifest));
	for (size_t i = 0; i < s->n_layers; i++)
		strv_push(&im->layer_paths, s->layers[i]);
	r = load_config(run, im, err);
	for (size_t i = 0; r >= 0 && s->repo_tags && s->repo_tags[i]; i++)
		r = add_name(im, s->repo_tags[i], err);
	return r;
}

static int docker_plan(struct imp_run *run, struct err *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = imp_entry_read(&run->ia, "manifest.json", IMAGE_MANIFEST_MAX, &text, &len, err);
	struct image_docker_save *v = NULL;
	size_t n = 0;
	if (r >= 0)
		r = image_docker_save_parse(text, len, &v, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = docker_image(run, &v[i], err);
	image_docker_save_free(v, n);
	return r;
}

/* --------------------------------------------------------- layers -- */

#define PROGRESS_EVERY (16u << 20) /* bytes between progress lines of one layer */

/* A layer being read: progress lines as its bytes go by. */
struct layer_reader {
	struct imp_run *run;
	struct archive *a;
	const struct image_layer *l;
	uint64_t done, next;
};

static ssize_t layer_read(void *opaque, void *buf, size_t len)
{
	struct layer_reader *lr = opaque;
	ssize_t n = imp_entry_read_fn(lr->a, buf, len);
	if (n > 0)
		lr->done += (uint64_t)n;
	if (n > 0 && lr->done >= lr->next) {
		lr->next = lr->done + PROGRESS_EVERY;
		emit(lr->run, json_pack("{s:s, s:s, s:I, s:I, s:s}", "status", "layer", "digest",
					lr->l->digest, "size", (json_int_t)lr->l->size, "done",
					(json_int_t)lr->done, "state", "unpacking"));
	}
	return n;
}

static int unpack_layer(struct imp_run *run, const struct imp_image *im, size_t i, struct err *err)
{
	const struct image_layer *l = &im->m->layers[i];
	struct archive *a = NULL;
	int r = imp_entry_open(&run->ia, im->layer_paths[i], &a, err);
	if (r < 0)
		return r;
	struct storage_layer_opts so = {
		.parent_chain_id = i ? im->chains[i - 1] : NULL,
		.digest = l->digest,
		.diff_id = im->cfg->diff_ids[i],
		.size = l->size,
	};
	cleanup_free char *chain = NULL;
	struct layer_reader lr = { run, a, l, 0, PROGRESS_EVERY };
	r = storage_layer_unpack(run->svc->st, &so, layer_read, &lr, &chain, err);
	archive_read_free(a);
	return r;
}

static int do_layers(struct imp_run *run, const struct imp_image *im, struct err *err)
{
	for (size_t i = 0; i < im->m->n_layers; i++) {
		const struct image_layer *l = &im->m->layers[i];
		const char *chain = im->chains[i];
		emit(run, json_pack("{s:s, s:s, s:I, s:s}", "status", "layer", "digest", l->digest,
				    "size", (json_int_t)l->size, "state", "unpacking"));
		int present = svc_claim(run->svc, chain);
		int r = 0;
		if (!present) {
			r = unpack_layer(run, im, i, err);
			if (r >= 0)
				strv_push(&run->added, chain);
			svc_release(run->svc, chain);
		}
		if (r < 0)
			return err_wrap(err, "layer '%s'", im->layer_paths[i]);
		emit(run,
		     json_pack("{s:s, s:s, s:I, s:s}", "status", "layer", "digest", l->digest,
			       "size", (json_int_t)l->size, "state", present ? "exists" : "done"));
	}
	return 0;
}

static int record(struct imp_run *run, const struct imp_image *im, struct err *err)
{
	struct db_image img = {
		.id = im->m->config.digest,
		.manifest_digest = im->top_digest,
		.config = im->config,
		.manifest = im->manifest,
		.size = (int64_t)im->config_len,
		.n_layers = im->m->n_layers,
		.tags = im->names,
	};
	img.layers = xcalloc(img.n_layers ? img.n_layers : 1, sizeof(*img.layers));
	for (size_t i = 0; i < img.n_layers; i++) {
		const struct image_layer *l = &im->m->layers[i];
		img.layers[i] =
		    (struct db_layer){ im->chains[i], im->cfg->diff_ids[i], l->digest, l->size };
		img.size += l->size;
	}
	char **digests = NULL;
	for (size_t i = 0; im->repo_digests && im->names && im->names[i]; i++) {
		cleanup_free char *repo =
		    xstrndup(im->names[i], strrchr(im->names[i], ':') - im->names[i]);
		char *d = xasprintf("%s@%s", repo, im->top_digest);
		if (!strv_contains(digests, d))
			strv_push(&digests, d);
		free(d);
	}
	img.digests = digests;
	int r = db_image_put(run->svc->db, &img, err);
	strv_free(digests);
	free(img.layers);
	return r < 0 ? err_wrap(err, "record image") : 0;
}

/* Delete the layers this import added, unless a pull pinned them since. */
static void undo_layers(struct imp_run *run)
{
	struct image_service *svc = run->svc;
	pthread_mutex_lock(&svc->lock);
	for (size_t i = 0; run->added && run->added[i]; i++) {
		struct err e = ERR_INIT;
		if (!strv_contains(svc->pins, run->added[i]))
			(void)storage_layer_delete(svc->st, run->added[i], &e);
		err_done(&e);
	}
	pthread_mutex_unlock(&svc->lock);
}

static int import_all(struct imp_run *run, struct err *err)
{
	int r = 0;
	for (size_t k = 0; r >= 0 && k < run->n; k++)
		r = do_layers(run, &run->imgs[k], err);
	for (size_t k = 0; r >= 0 && k < run->n; k++)
		r = record(run, &run->imgs[k], err);
	return r;
}

int image_import_spool(struct image_service *svc, int *ret_fd, struct err *err)
{
	cleanup_free char *dir = xasprintf("%s/tmp", storage_root(svc->st));
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, -errno, "create a spool file in '%s'", dir);
	*ret_fd = fd;
	return 0;
}

/* One record per image id: the names of a later entry with the same config
 * join the first (recording an image twice would drop the first's names). */
static void merge_same(struct imp_run *run)
{
	for (size_t j = 0; j < run->n; j++)
		for (size_t k = j + 1; k < run->n;) {
			struct imp_image *a = &run->imgs[j], *b = &run->imgs[k];
			if (strcmp(a->m->config.digest, b->m->config.digest) != 0) {
				k++;
				continue;
			}
			for (size_t i = 0; b->names && b->names[i]; i++)
				if (!strv_contains(a->names, b->names[i]))
					strv_push(&a->names, b->names[i]);
			imp_image_done(b);
			memmove(b, b + 1, (run->n - k - 1) * sizeof(*b));
			run->n--;
		}
}

static int plan(struct imp_run *run, int fd, const char *tag, struct err *err)
{
	int r = imp_archive_scan(fd, &run->ia, err);
	if (r < 0)
		return r;
	if (imp_archive_find(&run->ia, "index.json"))
		r = oci_plan(run, err);
	else if (imp_archive_find(&run->ia, "manifest.json"))
		r = docker_plan(run, err);
	else
		r = err_msg(
		    err, -EINVAL,
		    "neither index.json (OCI layout) nor manifest.json (docker save) in the archive");
	if (r >= 0)
		merge_same(run);
	if (r >= 0 && tag)
		r = add_name(&run->imgs[0], tag, err);
	return r;
}

int image_import_fd(struct image_service *svc, int fd, const char *tag,
		    image_import_progress_fn progress, void *opaque, struct image_imported **ret,
		    size_t *ret_n, struct err *err)
{
	struct imp_run run = { .svc = svc, .ia.fd = -1, .progress = progress, .opaque = opaque };
	int r = plan(&run, fd, tag, err);
	char **pins = NULL;
	for (size_t k = 0; r >= 0 && k < run.n; k++)
		for (size_t i = 0; run.imgs[k].chains && run.imgs[k].chains[i]; i++)
			strv_push(&pins, run.imgs[k].chains[i]);
	if (r >= 0) {
		emit(&run,
		     json_pack("{s:s, s:I}", "status", "verified", "images", (json_int_t)run.n));
		svc_pin(svc, pins);
		r = import_all(&run, err);
		svc_unpin(svc, pins);
		if (r < 0)
			undo_layers(&run);
	}
	strv_free(pins);
	if (r >= 0) {
		*ret = xcalloc(run.n, sizeof(**ret));
		*ret_n = run.n;
		for (size_t k = 0; k < run.n; k++) {
			(*ret)[k].id = xstrdup(run.imgs[k].m->config.digest);
			(*ret)[k].tags = TAKE_PTR(run.imgs[k].names);
		}
	}
	for (size_t k = 0; k < run.n; k++)
		imp_image_done(&run.imgs[k]);
	free(run.imgs);
	strv_free(run.added);
	imp_archive_done(&run.ia);
	return r;
}

void image_imported_free(struct image_imported *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		strv_free(v[i].tags);
	}
	free(v);
}
