/* image/manifest.c, platform.c, config.c, user.c: manifests, indexes,
 * platform selection, refusals, image configs and the User field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "image/image.h"

#define H(c) \
#c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c
#define HEX(c) H(c) H(c)
#define DG(c) "sha256:" HEX(c)

static int parse(const char *doc, const char *ct, struct image_manifest **m, struct err *err)
{
	return image_manifest_parse(doc, strlen(doc), ct, m, err);
}

static void expect_fail(const char *doc, const char *ct, int code, const char *why)
{
	struct image_manifest *m = NULL;
	cleanup_err struct err err = ERR_INIT;
	int r = parse(doc, ct, &m, &err);
	if (r != code || !strstr(err_str(&err), why))
		fail_msg("expected %d '%s', got %d '%s' for %s", code, why, r, err_str(&err), doc);
	assert_null(m);
}

#define ENTRY(os, arch, variant, c)                                                         \
	"{\"mediaType\":\"" IMAGE_MT_OCI_MANIFEST                                           \
	"\",\"digest\":\"" DG(c) "\",\"size\":100,"                                         \
				 "\"platform\":{\"os\":\"" os "\",\"architecture\":\"" arch \
				 "\"" variant "}}"

static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_OCI_INDEX
    "\",\"manifests\":[" ENTRY("linux", "arm", ",\"variant\":\"v6\"", 1) "," ENTRY(
	"linux", "arm", ",\"variant\":\"v7\"",
	2) "," ENTRY("linux", "arm64", ",\"variant\":\"v8\"",
		     3) "," ENTRY("linux", "amd64", "",
				  4) "," ENTRY("unknown", "unknown", "",
					       5) "," ENTRY("windows", "amd64", "",
							    6) "," ENTRY("linux", "s390x", "",
									 7) "]}";

static const struct image_descriptor *select_for(const struct image_manifest *m, const char *os,
						 const char *arch, const char *variant)
{
	const struct image_descriptor *d = NULL;
	cleanup_err struct err err = ERR_INIT;
	struct image_platform p = { os, arch, variant };
	int r = image_manifest_select(m, &p, &d, &err);
	return r == 0 ? d : NULL;
}

static void test_index_select(void **state)
{
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	cleanup_err struct err err = ERR_INIT;
	const struct image_descriptor *d;

	assert_int_equal(parse(oci_index, "application/vnd.oci.image.index.v1+json", &m, &err), 0);
	assert_int_equal(m->kind, IMAGE_OCI_INDEX);
	assert_true(image_manifest_is_index(m));
	assert_int_equal(m->n_entries, 7);

	struct image_platform def = IMAGE_PLATFORM_DEFAULT;
	assert_int_equal(image_manifest_select(m, &def, &d, &err), 0);
	assert_string_equal(d->digest, DG(4));
	assert_string_equal(select_for(m, "linux", "x86_64", NULL)->digest, DG(4));
	assert_string_equal(select_for(m, "linux", "arm64", NULL)->digest, DG(3));
	assert_string_equal(select_for(m, "linux", "aarch64", NULL)->digest, DG(3));
	assert_string_equal(select_for(m, "linux", "arm64", "v8")->digest, DG(3));
	assert_string_equal(select_for(m, "linux", "arm", NULL)->digest, DG(2));
	assert_string_equal(select_for(m, "linux", "arm", "v7")->digest, DG(2));
	assert_string_equal(select_for(m, "linux", "arm", "v6")->digest, DG(1));
	assert_null(select_for(m, "linux", "arm", "v5"));
	assert_string_equal(select_for(m, "windows", "amd64", NULL)->digest, DG(6));
	assert_null(select_for(m, "linux", "ppc64le", NULL));

	struct image_platform ppc = { "linux", "ppc64le", NULL };
	assert_int_equal(image_manifest_select(m, &ppc, &d, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), "linux/ppc64le"));
	assert_non_null(strstr(err_str(&err), "linux/arm64/v8"));
}

static void test_docker_list(void **state)
{
	static const char doc[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_DOCKER_LIST
	    "\",\"manifests\":[{\"mediaType\":\"" IMAGE_MT_DOCKER_MANIFEST "\",\"digest\":\"" DG(
		a) "\",\"size\":528,\"platform\":{\"architecture\":\"arm64\","
		   "\"os\":\"linux\"}},{\"mediaType\":\"" IMAGE_MT_DOCKER_MANIFEST
		   "\",\"digest\":\"" DG(
		       b) "\",\"size\":528,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	cleanup_err struct err err = ERR_INIT;

	/* Content-Type with parameters and the document agree */
	assert_int_equal(parse(doc, IMAGE_MT_DOCKER_LIST "; charset=utf-8", &m, &err), 0);
	assert_int_equal(m->kind, IMAGE_DOCKER_LIST);
	assert_string_equal(select_for(m, "linux", "amd64", NULL)->digest, DG(b));
	assert_string_equal(select_for(m, "linux", "arm64", "v8")->digest, DG(a));
	assert_null(select_for(m, "linux", "arm", NULL));
	/* a manifest is not an index */
	const struct image_descriptor *d;
	image_manifest_free(TAKE_PTR(m));
	static const char single[] =
	    "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" DG(c) "\",\"size\":1}]}";
	assert_int_equal(parse(single, NULL, &m, &err), 0);
	assert_int_equal(m->kind, IMAGE_OCI_INDEX);
	struct image_platform def = IMAGE_PLATFORM_DEFAULT;
	assert_int_equal(image_manifest_select(m, &def, &d, &err), 0);
	assert_string_equal(d->digest, DG(c));
}

#define LAYER(mt, c, size) "{\"mediaType\":\"" mt "\",\"digest\":\"" DG(c) "\",\"size\":" #size "}"

static void test_oci_manifest(void **state)
{
	static const char doc[] =
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" IMAGE_MT_OCI_CONFIG
	    "\",\"digest\":\"" DG(0) "\",\"size\":1500},\"layers\":[" LAYER(
		"application/vnd.oci.image.layer.v1.tar+gzip", 1,
		10) "," LAYER("application/vnd.oci.image.layer.v1.tar+zstd", 2,
			      20) "," LAYER("application/vnd.oci.image.layer.v1.tar", 3,
					    0) "],\"annotations\":{\"a\":\"b\"}}";
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	cleanup_err struct err err = ERR_INIT;

	/* no mediaType, generic Content-Type: recognised by shape */
	assert_int_equal(parse(doc, "application/json", &m, &err), 0);
	assert_int_equal(m->kind, IMAGE_OCI_MANIFEST);
	assert_false(image_manifest_is_index(m));
	assert_string_equal(m->config.digest, DG(0));
	assert_int_equal(m->config.size, 1500);
	assert_int_equal(m->n_layers, 3);
	assert_int_equal(m->layers[0].compression, IMAGE_COMPRESSION_GZIP);
	assert_int_equal(m->layers[1].compression, IMAGE_COMPRESSION_ZSTD);
	assert_int_equal(m->layers[2].compression, IMAGE_COMPRESSION_NONE);
	assert_int_equal(m->layers[1].size, 20);
	assert_string_equal(m->layers[2].digest, DG(3));
	const struct image_descriptor *d;
	struct image_platform def = IMAGE_PLATFORM_DEFAULT;
	assert_int_equal(image_manifest_select(m, &def, &d, &err), -EINVAL);
	image_manifest_free(TAKE_PTR(m));
	/* the Content-Type alone also decides */
	assert_int_equal(parse(doc, IMAGE_MT_OCI_MANIFEST, &m, &err), 0);
	assert_int_equal(m->kind, IMAGE_OCI_MANIFEST);
}

static const char docker_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_DOCKER_MANIFEST
    "\",\"config\":{\"mediaType\":\"" IMAGE_MT_DOCKER_CONFIG
    "\",\"digest\":\"" DG(e) "\",\"size\":7},\"layers\":[" LAYER(
	"application/vnd.docker.image.rootfs.diff.tar.gzip", f, 99) "]}";

static void test_docker_manifest(void **state)
{
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(parse(docker_manifest, NULL, &m, &err), 0);
	assert_int_equal(m->kind, IMAGE_DOCKER_MANIFEST);
	assert_int_equal(m->n_layers, 1);
	assert_int_equal(m->layers[0].compression, IMAGE_COMPRESSION_GZIP);
	assert_string_equal(m->config.media_type, IMAGE_MT_DOCKER_CONFIG);
	/* a contradicting Content-Type */
	expect_fail(docker_manifest, IMAGE_MT_OCI_INDEX, -EINVAL, "does not match");
}

static void test_refusals(void **state)
{
	expect_fail("{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", NULL, -EOPNOTSUPP,
		    "Docker schema 1 manifests are not supported");
	expect_fail("{}", "application/vnd.docker.distribution.manifest.v1+prettyjws", -EOPNOTSUPP,
		    "schema 1");
	expect_fail(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v1+json\"}",
	    NULL, -EOPNOTSUPP, "schema 1");
	/* an artifact (helm chart) */
	expect_fail(
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\","
	    "\"digest\":\"" DG(1) "\",\"size\":1},\"layers\":[]}",
	    NULL, -EOPNOTSUPP, "not a container image");
	expect_fail("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.example+json\"}", NULL,
		    -EOPNOTSUPP, "unsupported manifest media type");
	expect_fail("{\"schemaVersion\":2}", "application/vnd.example+json", -EOPNOTSUPP,
		    "unsupported manifest media type");
	/* foreign and unknown layers */
	expect_fail("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" IMAGE_MT_DOCKER_CONFIG
		    "\",\"digest\":\"" DG(1) "\",\"size\":1},\"layers\":[" LAYER(
			"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", 2, 3) "]}",
		    NULL, -EOPNOTSUPP, "foreign");
	expect_fail(
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" IMAGE_MT_OCI_CONFIG
	    "\",\"digest\":\"" DG(1) "\",\"size\":1},\"layers\":[" LAYER("text/html", 2, 3) "]}",
	    NULL, -EOPNOTSUPP, "unsupported media type");
	/* malformed */
	expect_fail("", NULL, -EINVAL, "not valid JSON");
	expect_fail("[]", NULL, -EINVAL, "not a JSON object");
	expect_fail("{\"schemaVersion\":2,\"schemaVersion\":2}", NULL, -EINVAL, "not valid JSON");
	expect_fail("{\"schemaVersion\":3,\"manifests\":[]}", NULL, -EINVAL, "schemaVersion");
	expect_fail("{\"schemaVersion\":2,\"foo\":1}", NULL, -EINVAL, "neither");
	expect_fail("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:abc\",\"size\":1}]}",
		    NULL, -EINVAL, "invalid digest");
	expect_fail("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" DG(1) "\",\"size\":-1}]}",
		    NULL, -EINVAL, "non-negative");
	expect_fail("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" DG(1) "\"}]}", NULL,
		    -EINVAL, "size");
	expect_fail("{\"schemaVersion\":2,\"manifests\":{}}", NULL, -EINVAL, "must be an array");
	expect_fail(
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DG(1) "\",\"size\":1},\"layers\":[]}",
	    NULL, -EINVAL, "no mediaType");
	expect_fail("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" IMAGE_MT_OCI_CONFIG
		    "\",\"digest\":\"" DG(1) "\",\"size\":1}}",
		    NULL, -EINVAL, "'layers' must be an array");
	expect_fail("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" IMAGE_MT_OCI_CONFIG
		    "\",\"digest\":\"" DG(1) "\",\"size\":1},\"layers\":[{\"digest\":\"" DG(
			2) "\",\"size\":1}]}",
		    NULL, -EINVAL, "no mediaType");
}

static void test_size_bound(void **state)
{
	size_t n = IMAGE_MANIFEST_MAX + 1;
	cleanup_free char *big = xmalloc(n);
	struct image_manifest *m = NULL;
	cleanup_err struct err err = ERR_INIT;
	memset(big, ' ', n);
	assert_int_equal(image_manifest_parse(big, n, NULL, &m, &err), -EFBIG);
	struct image_config *c = NULL;
	assert_int_equal(image_config_parse(big, IMAGE_CONFIG_MAX + 1, &c, &err), -EFBIG);
}

static const char config_doc[] =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
    "\"config\":{\"User\":\"1003:1004\",\"Env\":[\"PATH=/bin\",\"A=b\"],\"Entrypoint\":[\"/bin/sh\","
    "\"-c\"],\"Cmd\":[\"echo hi\"],\"WorkingDir\":\"/srv\",\"Volumes\":{\"/data\":{},\"/logs\":{}},"
    "\"StopSignal\":\"SIGQUIT\",\"Labels\":{\"k\":\"v\",\"x\":\"\"}},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DG(a) "\"]},\"history\":[]}";

static void test_config(void **state)
{
	cleanup(image_config_free) struct image_config *c = NULL;
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(image_config_parse(config_doc, strlen(config_doc), &c, &err), 0);
	assert_string_equal(c->architecture, "amd64");
	assert_string_equal(c->os, "linux");
	assert_string_equal(c->created, "2024-01-01T00:00:00Z");
	assert_string_equal(c->user, "1003:1004");
	assert_int_equal(strv_len(c->env), 2);
	assert_string_equal(c->env[1], "A=b");
	assert_string_equal(c->entrypoint[0], "/bin/sh");
	assert_string_equal(c->cmd[0], "echo hi");
	assert_string_equal(c->working_dir, "/srv");
	assert_int_equal(strv_len(c->volumes), 2);
	assert_true(strv_contains(c->volumes, "/logs"));
	assert_string_equal(c->stop_signal, "SIGQUIT");
	assert_int_equal(c->n_labels, 2);
	assert_int_equal(c->n_diff_ids, 1);
	assert_string_equal(c->diff_ids[0], DG(a));

	assert_int_equal(parse(docker_manifest, NULL, &m, &err), 0);
	assert_int_equal(image_config_check(c, m, &err), 0);
	image_manifest_free(TAKE_PTR(m));
	assert_int_equal(parse(oci_index, NULL, &m, &err), 0);
	assert_int_equal(image_config_check(c, m, &err), -EINVAL);
}

static void config_fail(const char *doc, const char *why)
{
	struct image_config *c = NULL;
	cleanup_err struct err err = ERR_INIT;
	int r = image_config_parse(doc, strlen(doc), &c, &err);
	if (r != -EINVAL || !strstr(err_str(&err), why))
		fail_msg("expected '%s', got %d '%s' for %s", why, r, err_str(&err), doc);
}

static void test_config_minimal_and_bad(void **state)
{
	static const char minimal[] = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	cleanup(image_config_free) struct image_config *c = NULL;
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(image_config_parse(minimal, strlen(minimal), &c, &err), 0);
	assert_string_equal(c->user, "");
	assert_null(c->env);
	assert_null(c->working_dir);
	assert_int_equal(c->n_diff_ids, 0);
	assert_int_equal(parse(docker_manifest, NULL, &m, &err), 0);
	assert_int_equal(image_config_check(c, m, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "0 layer diff_ids but the manifest has 1"));

	config_fail("{}", "no 'rootfs'");
	config_fail("{\"rootfs\":{\"type\":\"x\",\"diff_ids\":[]}}", "rootfs type");
	config_fail("{\"rootfs\":{\"type\":\"layers\"}}", "diff_ids must be an array");
	config_fail("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:x\"]}}",
		    "not a valid sha256");
	config_fail("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[1]}}",
		    "diff_ids[0]: expected string, got integer");
	config_fail(
	    "{\"config\":{\"Env\":\"A=b\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	    "image config.config.Env: expected array, got string");
	config_fail("{\"config\":{\"User\":5},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		    "image config.config.User: expected string, got integer");
	config_fail(
	    "{\"config\":{\"Labels\":{\"a\":1}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	    "label 'a'");
	config_fail("{\"config\":[],\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		    "'config' must be an object");
}

static void test_user(void **state)
{
	struct image_user u;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(image_user_parse("1003:1004", &u, &err), 0);
	assert_true(u.has_uid && u.has_gid);
	assert_int_equal(u.uid, 1003);
	assert_int_equal(u.gid, 1004);
	assert_null(u.username);
	image_user_done(&u);

	assert_int_equal(image_user_parse("www-data:1004", &u, &err), 0);
	assert_false(u.has_uid);
	assert_string_equal(u.username, "www-data");
	assert_true(u.has_gid);
	assert_int_equal(u.gid, 1004);
	image_user_done(&u);

	assert_int_equal(image_user_parse("nobody:nogroup", &u, &err), 0);
	assert_string_equal(u.username, "nobody");
	assert_string_equal(u.groupname, "nogroup");
	image_user_done(&u);

	assert_int_equal(image_user_parse("0", &u, &err), 0);
	assert_true(u.has_uid);
	assert_int_equal(u.uid, 0);
	assert_false(u.has_gid);
	image_user_done(&u);

	assert_int_equal(image_user_parse("", &u, &err), 0);
	assert_false(u.has_uid || u.has_gid || u.username || u.groupname);
	assert_int_equal(image_user_parse(NULL, &u, &err), 0);

	assert_int_equal(image_user_parse("4294967294", &u, &err), 0);
	assert_int_equal(u.uid, 4294967294u);
	assert_int_equal(image_user_parse("4294967295", &u, &err), -EINVAL);
	assert_int_equal(image_user_parse("99999999999", &u, &err), -EINVAL);
	assert_int_equal(image_user_parse(":5", &u, &err), -EINVAL);
	assert_int_equal(image_user_parse("5:", &u, &err), -EINVAL);
	assert_int_equal(image_user_parse("a:b:c", &u, &err), -EINVAL);
	assert_int_equal(image_user_parse("1:4294967295", &u, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_select), cmocka_unit_test(test_docker_list),
		cmocka_unit_test(test_oci_manifest), cmocka_unit_test(test_docker_manifest),
		cmocka_unit_test(test_refusals),     cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_config),	     cmocka_unit_test(test_config_minimal_and_bad),
		cmocka_unit_test(test_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
