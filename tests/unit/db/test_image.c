/* db/image: images with names and layers; tags moving; deletion returns
 * the layers nobody uses any more. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/image.h"

#define D(c)                                                                                      \
	"sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	    c c c c c c c c c c c c c c c c c c c c c c c c

static char *root;
static struct db *db;

static int setup(void **state)
{
	root = xstrdup("/tmp/ocid-test-dbimg-XXXXXX");
	assert_non_null(mkdtemp(root));
	struct err err = ERR_INIT;
	assert_int_equal(db_open(root, &db, &err), 0);
	return 0;
}

static int teardown(void **state)
{
	db_close(db);
	char *cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(root);
	return 0;
}

static void put(const char *id, const char *tag, const char *const *chains, size_t n)
{
	struct db_layer layers[4];
	for (size_t i = 0; i < n; i++)
		layers[i] = (struct db_layer){ (char *)chains[i], (char *)chains[i],
					       (char *)chains[i], 100 };
	char *tags[] = { (char *)tag, NULL };
	char *dg = xasprintf("r@%s", id);
	char *digests[] = { dg, NULL };
	struct db_image img = { .id = (char *)id,
				.manifest_digest = (char *)id,
				.size = 5,
				.config = "{}",
				.manifest = "{}",
				.tags = tags,
				.digests = digests,
				.layers = layers,
				.n_layers = n };
	struct err err = ERR_INIT;
	assert_int_equal(db_image_put(db, &img, &err), 0);
	free(dg);
}

static void test_put_get_list(void **state)
{
	const char *l[] = { D("1"), D("2") };
	put(D("a"), "r:1", l, 2);
	put(D("a"), "r:2", l, 2); /* same image, another tag */
	struct err err = ERR_INIT;
	struct db_image *img = NULL;
	assert_int_equal(db_image_get(db, D("a"), &img, &err), 0);
	assert_int_equal(strv_len(img->tags), 2);
	assert_string_equal(img->tags[0], "r:1");
	assert_int_equal(img->n_layers, 2);
	assert_string_equal(img->layers[1].chain_id, D("2"));
	assert_int_equal(img->layers[0].size, 100);
	db_image_free(img);
	assert_int_equal(db_image_get(db, D("b"), &img, &err), -ENOENT);
	char *id = NULL;
	assert_int_equal(db_image_by_name(db, "r:2", &id, &err), 0);
	assert_string_equal(id, D("a"));
	free(id);
	assert_int_equal(db_image_by_name(db, "r:3", &id, &err), -ENOENT);
	/* a tag moves to the newer image; the old image keeps its other tag */
	const char *l2[] = { D("1"), D("3") };
	put(D("b"), "r:2", l2, 2);
	struct db_image **v = NULL;
	size_t n = 0;
	assert_int_equal(db_image_list(db, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(strv_len(v[i]->tags), 1);
		assert_string_equal(v[i]->tags[0], strcmp(v[i]->id, D("a")) ? "r:2" : "r:1");
		db_image_free(v[i]);
	}
	free(v);
	char **ids = NULL;
	assert_int_equal(db_image_ids_by_prefix(db, "sha256:", &ids, &err), 0);
	assert_int_equal(strv_len(ids), 2);
	strv_free(ids);
	assert_int_equal(db_image_ids_by_prefix(db, "sha256:aa", &ids, &err), 0);
	assert_int_equal(strv_len(ids), 1);
	strv_free(ids);
	assert_int_equal(db_image_ids_by_prefix(db, "sha256:%", &ids, &err), 0);
	assert_int_equal(strv_len(ids), 0);
	strv_free(ids);
	err_done(&err);
}

static void test_delete_returns_unused_layers(void **state)
{
	struct err err = ERR_INIT;
	char **unused = NULL;
	/* a uses 1,2; b uses 1,3: deleting a frees only 2 */
	assert_int_equal(db_image_delete(db, D("a"), &unused, &err), 0);
	assert_int_equal(strv_len(unused), 1);
	assert_string_equal(unused[0], D("2"));
	strv_free(unused);
	char *id = NULL;
	assert_int_equal(db_image_by_name(db, "r:1", &id, &err), -ENOENT);
	assert_int_equal(db_image_delete(db, D("a"), &unused, &err), 0);
	assert_null(unused);
	assert_int_equal(db_image_delete(db, D("b"), &unused, &err), 0);
	assert_int_equal(strv_len(unused), 2);
	strv_free(unused);
	char **layers = NULL;
	assert_int_equal(db_layer_list(db, &layers, &err), 0);
	assert_int_equal(strv_len(layers), 0);
	strv_free(layers);
	err_done(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_list),
		cmocka_unit_test(test_delete_returns_unused_layers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
