/* The image service without a registry: images recorded straight in the
 * database, then resolved, listed, pinned, removed; progress JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "db/image.h"
#include "image/image_int.h"
#include "storage/storage.h"

#define HEX64(c)                                                                                  \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	    c c c c c c c c c c c c c c c c c c c
#define D(c) "sha256:" HEX64(c)

static char *root;
static struct db *db;
static struct storage *st;
static struct image_service *svc;

static void put(const char *id, const char *user, char **tags)
{
	struct db_layer l = { D("1"), D("1"), D("1"), 10 };
	char *cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\","
			      "\"config\":{\"User\":\"%s\"},"
			      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
			      user, D("1"));
	struct db_image img = { .id = (char *)id,
				.manifest_digest = D("9"),
				.size = 42,
				.config = cfg,
				.manifest = "{}",
				.tags = tags,
				.layers = &l,
				.n_layers = 1 };
	struct err err = ERR_INIT;
	assert_int_equal(db_image_put(db, &img, &err), 0);
	free(cfg);
}

/* "sha256:<prefix>000...": a valid id starting with `prefix`. */
static const char *id_with(const char *prefix)
{
	static char buf[2][72];
	static int k;
	char *b = buf[k++ % 2];
	memcpy(b, D("0"), 72);
	memcpy(b + 7, prefix, strlen(prefix));
	return b;
}

static int setup(void **state)
{
	root = xstrdup("/tmp/ocid-test-imgsvc-XXXXXX");
	assert_non_null(mkdtemp(root));
	struct err err = ERR_INIT;
	assert_int_equal(db_open(root, &db, &err), 0);
	assert_int_equal(storage_new(root, &st, &err), 0);
	/* a leftover of an interrupted pull */
	char *junk = xasprintf("%s/tmp/junk", root);
	assert_int_equal(mkdir(junk, 0700), 0);
	assert_int_equal(image_service_new(st, db, &svc, &err), 0);
	struct stat sb;
	assert_int_equal(stat(junk, &sb), -1);
	free(junk);
	char *t1[] = { "reg.io/app:1", "reg.io/app:latest", NULL };
	char *t2[] = { "reg.io/pause:3.9", NULL };
	char *t3[] = { "docker.io/library/busybox:latest", NULL };
	put(id_with("ab"), "1003:1004", t1);
	put(id_with("ac"), "www-data:1004", t2);
	put(D("e"), "", t3);
	return 0;
}

static int teardown(void **state)
{
	image_service_free(svc);
	storage_free(st);
	db_close(db);
	char *cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(root);
	return 0;
}

static void test_resolve(void **state)
{
	struct err err = ERR_INIT;
	char *id = NULL;
	assert_int_equal(image_resolve(svc, "reg.io/app:1", "/nonexistent", &id, &err), 0);
	assert_true(str_has_prefix(id, "sha256:ab"));
	free(id);
	/* unique prefix with and without sha256:, ambiguous prefix */
	assert_int_equal(image_resolve(svc, "ac00", "/nonexistent", &id, &err), 0);
	assert_true(str_has_prefix(id, "sha256:ac"));
	free(id);
	assert_int_equal(image_resolve(svc, "sha256:ab0", "/nonexistent", &id, &err), 0);
	free(id);
	assert_int_equal(image_resolve(svc, "a", "/nonexistent", &id, &err), -ENOTUNIQ);
	assert_non_null(strstr(err_str(&err), "ambiguous"));
	/* 64 hex digits are an id, never a name: unknown, not a bad name */
	char zeros[65];
	memset(zeros, '0', 64);
	zeros[64] = 0;
	assert_int_equal(image_resolve(svc, zeros, "/nonexistent", &id, &err), -ENOENT);
	/* short names normalise; implicit :latest */
	assert_int_equal(image_resolve(svc, "busybox", "/nonexistent", &id, &err), 0);
	assert_string_equal(id, D("e"));
	free(id);
	assert_int_equal(image_resolve(svc, "reg.io/app", "/nonexistent", &id, &err), 0);
	free(id);
	assert_int_equal(image_resolve(svc, "reg.io/app:2", "/nonexistent", &id, &err), -ENOENT);
	assert_int_equal(image_resolve(svc, "Bad/Name", "/nonexistent", &id, &err), -EINVAL);
	assert_int_equal(image_resolve(svc, "", "/nonexistent", &id, &err), -EINVAL);
	/* a hex name that is no id prefix is a name */
	assert_int_equal(image_resolve(svc, "fff", "/nonexistent", &id, &err), -ENOENT);
	err_done(&err);
}

static void test_list_users_pinned(void **state)
{
	struct err err = ERR_INIT;
	struct image_info **v = NULL;
	size_t n = 0;
	char *pins[] = { "reg.io/pause*", D("e"), NULL };
	assert_int_equal(image_list(svc, NULL, "/nonexistent", pins, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (str_has_prefix(v[i]->id, "sha256:ab")) {
			assert_true(v[i]->has_uid);
			assert_int_equal(v[i]->uid, 1003);
			assert_null(v[i]->username);
			assert_false(v[i]->pinned);
			assert_int_equal(strv_len(v[i]->tags), 2);
			assert_int_equal(v[i]->size, 42);
		} else if (str_has_prefix(v[i]->id, "sha256:ac")) {
			assert_false(v[i]->has_uid);
			assert_string_equal(v[i]->username, "www-data");
			assert_true(v[i]->pinned);
		} else {
			assert_false(v[i]->has_uid);
			assert_null(v[i]->username);
			assert_true(v[i]->pinned);
		}
	}
	image_infos_free(v, n);
	assert_int_equal(image_list(svc, "reg.io/app:latest", NULL, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	char *json = NULL;
	assert_int_equal(image_info_json(v[0], &json, &err), 0);
	assert_non_null(strstr(json, "\"architecture\":\"amd64\""));
	assert_non_null(strstr(json, "\"manifestDigest\":\"" D("9") "\""));
	free(json);
	image_infos_free(v, n);
	assert_int_equal(image_list(svc, "reg.io/nothing:1", NULL, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	free(v);
	err_done(&err);
}

static void test_remove_and_progress(void **state)
{
	struct err err = ERR_INIT;
	char *json = image_pull_progress_json(svc);
	assert_string_equal(json, "[]");
	free(json);
	assert_int_equal(image_remove(svc, "reg.io/app:latest", NULL, &err), 0);
	char *id = NULL;
	assert_int_equal(image_resolve(svc, "reg.io/app:1", NULL, &id, &err), -ENOENT);
	/* idempotent */
	assert_int_equal(image_remove(svc, "reg.io/app:latest", NULL, &err), 0);
	/* what names nothing is removed: no reference at all, an unknown id */
	assert_int_equal(image_remove(svc, "Bad/Name", NULL, &err), 0);
	assert_int_equal(image_remove(svc, "../../etc", NULL, &err), 0);
	char unknown[72];
	snprintf(unknown, sizeof(unknown), "sha256:%064d", 0);
	assert_int_equal(image_remove(svc, unknown, NULL, &err), 0);
	assert_int_equal(image_remove(svc, "", NULL, &err), -EINVAL);
	err_done(&err);
	struct image_fs_info fi = { 0 };
	assert_int_equal(image_fs_info(svc, &fi, &err), 0);
	assert_true(str_has_suffix(fi.mountpoint, "/layers"));
	assert_true(fi.inodes >= 1);
	image_fs_info_done(&fi);
	err_done(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_list_users_pinned),
		cmocka_unit_test(test_remove_and_progress),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
