/* Import archives built here with libarchive: OCI layout and docker save,
 * then hostile variants, each refused whole with nothing left on disk. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "base/base.h"
#include "base/fs.h"
#include "db/image.h"
#include "image/image.h"
#include "storage/storage.h"

static char *root;
static struct db *db;
static struct storage *st;
static struct image_service *svc;

/* ---- building archives ---- */

struct buf {
	char *p;
	size_t len;
};

static la_ssize_t buf_write(struct archive *a, void *opaque, const void *p, size_t n)
{
	struct buf *b = opaque;
	b->p = xrealloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return (la_ssize_t)n;
}

struct tarb {
	struct archive *a;
	struct buf out;
};

static void tar_begin(struct tarb *t)
{
	memset(t, 0, sizeof(*t));
	t->a = archive_write_new();
	archive_write_set_format_pax_restricted(t->a);
	archive_write_set_bytes_in_last_block(t->a, 1);
	assert_int_equal(archive_write_open(t->a, &t->out, NULL, buf_write, NULL), ARCHIVE_OK);
}

static void tar_entry(struct tarb *t, const char *name, mode_t type, const void *data, size_t n,
		      const char *link)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)n : 0);
	if (link)
		archive_entry_set_symlink(e, link);
	assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
	if (type == AE_IFREG && n)
		assert_int_equal(archive_write_data(t->a, data, n), (la_ssize_t)n);
	archive_entry_free(e);
}

static void tar_file(struct tarb *t, const char *name, const void *data, size_t n)
{
	tar_entry(t, name, AE_IFREG, data, n, NULL);
}

static struct buf tar_end(struct tarb *t)
{
	assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
	return t->out;
}

static char *sha(const void *p, size_t n)
{
	unsigned char md[32];
	unsigned k = 0;
	EVP_Digest(p, n, md, &k, EVP_sha256(), NULL);
	char *s = xmalloc(72);
	strcpy(s, "sha256:");
	for (unsigned i = 0; i < k; i++)
		sprintf(s + 7 + 2 * i, "%02x", md[i]);
	return s;
}

/* A layer: a tar with one file (or a hostile entry). */
static struct buf layer(const char *name, const char *content)
{
	struct tarb t;
	tar_begin(&t);
	tar_file(&t, name, content, strlen(content));
	return tar_end(&t);
}

/* The pieces of a test image. */
struct img {
	struct buf layers[2];
	size_t n;
	char *config, *manifest, *index;
	char *config_digest, *manifest_digest, *layer_digest[2];
};

static void img_make(struct img *im, size_t n, const char *hostile, const char *name)
{
	memset(im, 0, sizeof(*im));
	im->n = n;
	char *diffs = xstrdup(""), *descs = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *file = xasprintf("file%zu", i);
		im->layers[i] = layer(i == n - 1 && hostile ? hostile : file, "content\n");
		im->layer_digest[i] = sha(im->layers[i].p, im->layers[i].len);
		char *d = xasprintf("%s%s\"%s\"", diffs, i ? "," : "", im->layer_digest[i]);
		char *e = xasprintf("%s%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
				    "\"digest\":\"%s\",\"size\":%zu}",
				    descs, i ? "," : "", im->layer_digest[i], im->layers[i].len);
		free(diffs);
		free(descs);
		free(file);
		diffs = d;
		descs = e;
	}
	im->config = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
			       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
			       diffs);
	im->config_digest = sha(im->config, strlen(im->config));
	im->manifest = xasprintf(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":%zu},\"layers\":[%s]}",
	    im->config_digest, strlen(im->config), descs);
	im->manifest_digest = sha(im->manifest, strlen(im->manifest));
	char *ann = name ? xasprintf(",\"annotations\":{\"org.opencontainers.image.ref.name\":"
				     "\"%s\"}",
				     name)
			 : xstrdup("");
	im->index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
			      "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
			      "\"size\":%zu%s}]}",
			      im->manifest_digest, strlen(im->manifest), ann);
	free(ann);
	free(diffs);
	free(descs);
}

static void img_free(struct img *im)
{
	for (size_t i = 0; i < im->n; i++) {
		free(im->layers[i].p);
		free(im->layer_digest[i]);
	}
	free(im->config);
	free(im->manifest);
	free(im->index);
	free(im->config_digest);
	free(im->manifest_digest);
}

static void blob(struct tarb *t, const char *digest, const void *p, size_t n)
{
	char *name = xasprintf("blobs/sha256/%s", digest + 7);
	tar_file(t, name, p, n);
	free(name);
}

static void oci_add(struct tarb *t, const struct img *im)
{
	tar_file(t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	tar_file(t, "index.json", im->index, strlen(im->index));
	blob(t, im->manifest_digest, im->manifest, strlen(im->manifest));
	blob(t, im->config_digest, im->config, strlen(im->config));
	for (size_t i = 0; i < im->n; i++)
		blob(t, im->layer_digest[i], im->layers[i].p, im->layers[i].len);
}

/* ---- running an import ---- */

static int import_buf(const struct buf *b, const char *tag, struct image_imported **ret,
		      size_t *ret_n, struct err *err)
{
	int fd = -1;
	assert_int_equal(image_import_spool(svc, &fd, err), 0);
	assert_int_equal(fs_write_all(fd, b->p, b->len), 0);
	int r = image_import_fd(svc, fd, tag, NULL, NULL, ret, ret_n, err);
	close(fd);
	return r;
}

static size_t count_dir(const char *sub)
{
	char *p = xasprintf("%s/%s", root, sub);
	DIR *d = opendir(p);
	size_t n = 0;
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "l"))
			n++;
	closedir(d);
	free(p);
	return n;
}

static size_t count_images(void)
{
	struct db_image **v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;
	assert_int_equal(db_image_list(db, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		db_image_free(v[i]);
	free(v);
	return n;
}

static void clean_all(void)
{
	struct db_image **v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;
	assert_int_equal(db_image_list(db, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(image_remove(svc, v[i]->id, NULL, &err), 0);
		db_image_free(v[i]);
	}
	free(v);
	assert_int_equal(count_dir("layers"), 0);
}

/* Refused, with a message containing `want`, nothing recorded or left. */
static void expect_refused(const struct buf *b, const char *want)
{
	struct image_imported *v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;
	int r = import_buf(b, NULL, &v, &n, &err);
	if (r >= 0 || !err.msg || !strstr(err.msg, want))
		fail_msg("expected refusal with '%s', got %d '%s'", want, r,
			 err.msg ? err.msg : "");
	assert_int_equal(count_images(), 0);
	assert_int_equal(count_dir("layers"), 0);
	assert_int_equal(count_dir("tmp"), 0);
	err_done(&err);
}

/* ---- tests ---- */

static void test_oci_ok(void **state)
{
	struct img im;
	img_make(&im, 2, NULL, "example.com/app:1");
	struct tarb t;
	tar_begin(&t);
	tar_entry(&t, "blobs", AE_IFDIR, NULL, 0, NULL);
	oci_add(&t, &im);
	struct buf b = tar_end(&t);
	struct image_imported *v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;
	assert_int_equal(import_buf(&b, "other", &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, im.config_digest);
	assert_string_equal(v[0].tags[0], "example.com/app:1");
	assert_string_equal(v[0].tags[1], "docker.io/library/other:latest");
	assert_null(v[0].tags[2]);
	struct db_image *rec = NULL;
	assert_int_equal(db_image_get(db, im.config_digest, &rec, &err), 0);
	assert_string_equal(rec->manifest_digest, im.manifest_digest);
	assert_int_equal(rec->n_layers, 2);
	char *want = xasprintf("example.com/app@%s", im.manifest_digest);
	assert_true(strv_contains(rec->digests, want));
	free(want);
	assert_int_equal(storage_layer_exists(st, im.layer_digest[0]), 1);
	db_image_free(rec);
	image_imported_free(v, n);
	assert_int_equal(count_dir("tmp"), 0);
	clean_all();
	free(b.p);
	img_free(&im);
}

static struct buf docker_archive(const struct img *im, const char *manifest_json)
{
	struct tarb t;
	tar_begin(&t);
	char *cfg = xasprintf("%s.json", im->config_digest + 7);
	tar_file(&t, cfg, im->config, strlen(im->config));
	tar_file(&t, "aaaa/layer.tar", im->layers[0].p, im->layers[0].len);
	char *m = manifest_json ? xstrdup(manifest_json)
				: xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"busybox:saved\"],"
					    "\"Layers\":[\"./aaaa/layer.tar\"]}]",
					    cfg);
	tar_file(&t, "manifest.json", m, strlen(m));
	free(m);
	free(cfg);
	return tar_end(&t);
}

static void test_docker_ok(void **state)
{
	struct img im;
	img_make(&im, 1, NULL, NULL);
	struct buf b = docker_archive(&im, NULL);
	struct image_imported *v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;
	assert_int_equal(import_buf(&b, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, im.config_digest);
	assert_string_equal(v[0].tags[0], "docker.io/library/busybox:saved");
	image_imported_free(v, n);
	clean_all();
	free(b.p);
	img_free(&im);
}

static void test_unnamed(void **state)
{
	struct img im;
	img_make(&im, 1, NULL, "latest"); /* a bare ref.name names no repository */
	struct tarb t;
	tar_begin(&t);
	oci_add(&t, &im);
	struct buf b = tar_end(&t);
	struct image_imported *v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;
	assert_int_equal(import_buf(&b, NULL, &v, &n, &err), 0);
	assert_null(v[0].tags);
	image_imported_free(v, n);
	clean_all();
	free(b.p);
	img_free(&im);
}

/* An OCI archive of `im` with `extra` entries first. */
static struct buf oci_with(const struct img *im, void (*extra)(struct tarb *))
{
	struct tarb t;
	tar_begin(&t);
	if (extra)
		extra(&t);
	oci_add(&t, im);
	return tar_end(&t);
}

static void add_dotdot(struct tarb *t)
{
	tar_file(t, "../escape", "x", 1);
}
static void add_abs(struct tarb *t)
{
	tar_file(t, "/etc/escape", "x", 1);
}
static void add_symlink(struct tarb *t)
{
	tar_entry(t, "blobs/sha256/link", AE_IFLNK, NULL, 0, "/etc/passwd");
}
static void add_dup(struct tarb *t)
{
	tar_file(t, "index.json", "{}", 2);
}

static void test_hostile(void **state)
{
	struct img im;
	img_make(&im, 2, NULL, "example.com/h:1");
	struct buf b;

	b = oci_with(&im, add_dotdot);
	expect_refused(&b, "'../escape' refused");
	free(b.p);
	b = oci_with(&im, add_abs);
	expect_refused(&b, "refused");
	free(b.p);
	b = oci_with(&im, add_symlink);
	expect_refused(&b, "only files and directories");
	free(b.p);
	b = oci_with(&im, add_dup);
	expect_refused(&b, "appears twice");
	free(b.p);

	/* A layer whose bytes differ from its digest (same size). */
	im.layers[1].p[im.layers[1].len / 3] ^= 1;
	b = oci_with(&im, NULL);
	expect_refused(&b, "digest");
	free(b.p);
	im.layers[1].p[im.layers[1].len / 3] ^= 1;

	/* A layer longer than its descriptor says. */
	im.layers[1].p = xrealloc(im.layers[1].p, im.layers[1].len + 512);
	memset(im.layers[1].p + im.layers[1].len, 0, 512);
	im.layers[1].len += 512;
	b = oci_with(&im, NULL);
	expect_refused(&b, "bytes, manifest says");
	free(b.p);
	im.layers[1].len -= 512;

	/* A tampered config. */
	im.config[strlen(im.config) - 1] = ' ';
	b = oci_with(&im, NULL);
	expect_refused(&b, "digest mismatch");
	free(b.p);
	img_free(&im);

	/* The second layer is hostile: the first, already unpacked, goes too. */
	img_make(&im, 2, "../../etc/evil", "example.com/h:2");
	b = oci_with(&im, NULL);
	expect_refused(&b, "layer");
	free(b.p);

	/* docker save: a layer path leaving the archive; a config not matching its name. */
	b = docker_archive(&im, "[{\"Config\":\"x.json\",\"Layers\":[\"../../etc/shadow\"]}]");
	expect_refused(&b, "refused");
	free(b.p);
	char *m = xasprintf("[{\"Config\":\"%064d.json\",\"Layers\":[\"aaaa/layer.tar\"]}]", 0);
	b = docker_archive(&im, m);
	expect_refused(&b, "archive has no file");
	free(b.p);
	free(m);
	img_free(&im);

	struct tarb t;
	tar_begin(&t);
	tar_file(&t, "hello", "x", 1);
	b = tar_end(&t);
	expect_refused(&b, "neither index.json");
	free(b.p);
	b = (struct buf){ xstrdup("not a tar archive at all, not even close......"), 46 };
	expect_refused(&b, "archive");
	free(b.p);
}

static void test_docker_parse(void **state)
{
	struct image_docker_save *v = NULL;
	size_t n = 0;
	struct err err = ERR_INIT;
	const char *ok = "[{\"Config\":\"./c.json\",\"RepoTags\":[\"a:1\",\"b\"],"
			 "\"Layers\":[\"l1/layer.tar\",\"l2//layer.tar\"]}]";
	assert_int_equal(image_docker_save_parse(ok, strlen(ok), &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].config, "c.json");
	assert_string_equal(v[0].layers[1], "l2/layer.tar");
	assert_int_equal(v[0].n_layers, 2);
	assert_string_equal(v[0].repo_tags[1], "b");
	image_docker_save_free(v, n);

	static const char *const bad[] = {
		"{}",
		"[]",
		"[1]",
		"[{}]",
		"[{\"Config\":5}]",
		"[{\"Config\":\"/abs.json\"}]",
		"[{\"Config\":\"c\",\"Layers\":[\"a/../../x\"]}]",
		"[{\"Config\":\"c\",\"Layers\":[1]}]",
		"[{\"Config\":\"c\",\"RepoTags\":\"x\"}]",
		"[{\"Config\":\".\"}]",
		"[{\"Config\":\"c\",\"Config\":\"d\"}]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = NULL;
		int r = image_docker_save_parse(bad[i], strlen(bad[i]), &v, &n, &err);
		if (r != -EINVAL)
			fail_msg("'%s': %d", bad[i], r);
		assert_null(v);
		err_done(&err);
	}
}

static int setup(void **state)
{
	root = xstrdup("/tmp/ocid-test-import-XXXXXX");
	assert_non_null(mkdtemp(root));
	struct err err = ERR_INIT;
	assert_int_equal(db_open(root, &db, &err), 0);
	assert_int_equal(storage_new(root, &st, &err), 0);
	assert_int_equal(image_service_new(st, db, &svc, &err), 0);
	return 0;
}

static int teardown(void **state)
{
	struct err err = ERR_INIT;
	image_service_free(svc);
	storage_free(st);
	db_close(db);
	(void)fs_rm_rf_at(AT_FDCWD, root, &err);
	err_done(&err);
	free(root);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_parse), cmocka_unit_test(test_oci_ok),
		cmocka_unit_test(test_docker_ok),    cmocka_unit_test(test_unnamed),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
