/* image/registries*.c: registries.conf v2 parsing, drop-in merge, endpoint
 * order, prefix matching, blocked registries and short-name candidates. */
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

#include "base/base.h"
#include "image/image_int.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char conf[] = "unqualified-search-registries = [\"quay.io\", \"docker.io\"]\n"
			   "[[registry]]\n"
			   "prefix = \"docker.io\"\n"
			   "[[registry.mirror]]\n"
			   "location = \"mirror.local:5000/dockerhub\"\n"
			   "insecure = true\n"
			   "[[registry.mirror]]\n"
			   "location = \"digest.mirror.io\"\n"
			   "pull-from-mirror = \"digest-only\"\n"
			   "[[registry.mirror]]\n"
			   "location = \"tag.mirror.io\"\n"
			   "pull-from-mirror = \"tag-only\"\n"
			   "[[registry]]\n"
			   "prefix = \"docker.io/library/busybox\"\n"
			   "location = \"localhost:5001/bb\"\n"
			   "insecure = true\n"
			   "[[registry]]\n"
			   "prefix = \"registry.k8s.io\"\n"
			   "mirror-by-digest-only = true\n"
			   "[[registry.mirror]]\n"
			   "location = \"127.0.0.1:5000\"\n"
			   "[[registry]]\n"
			   "prefix = \"*.example.com\"\n"
			   "insecure = true\n"
			   "[[registry.mirror]]\n"
			   "location = \"wild.mirror:1/x\"\n"
			   "[[registry]]\n"
			   "prefix = \"a.example.com\"\n"
			   "[[registry]]\n"
			   "location = \"evil.io\"\n"
			   "blocked = true\n"
			   "[aliases]\n"
			   "\"pause\" = \"registry.k8s.io/pause\"\n"
			   "\"myapp\" = \"quay.io/team/app:stable\"\n";

static struct image_registries *load(void)
{
	struct image_registries *r = image_registries_new();
	cleanup_err struct err err = ERR_INIT;
	if (image_registries_add(r, "registries.conf", conf, strlen(conf), &err) < 0)
		fail_msg("%s", err_str(&err));
	return r;
}

/* "loc|ref|i|m;..." for each endpoint of `ref_s` */
static char *endpoints(const struct image_registries *r, const char *ref_s, int *rc, char **msg)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_err struct err err = ERR_INIT;
	struct image_endpoint *e = NULL;
	size_t n = 0;
	assert_int_equal(image_ref_parse(ref_s, &ref, &err), 0);
	*rc = image_registries_endpoints(r, ref, &e, &n, &err);
	if (msg)
		*msg = xstrdup(err_str(&err));
	char **v = NULL;
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *s = image_ref_string(e[i].ref, IMAGE_REF_FULL);
		strv_push_take(
		    &v, xasprintf("%s|%s|%d|%d", e[i].location, s, e[i].insecure, e[i].mirror));
	}
	image_endpoints_free(e, n);
	char *out = v ? strv_join(v, ";") : xstrdup("");
	strv_free(v);
	return out;
}

static void expect_eps(const struct image_registries *r, const char *ref, const char *want)
{
	int rc;
	cleanup_free char *msg = NULL;
	cleanup_free char *got = endpoints(r, ref, &rc, &msg);
	if (rc != 0 || strcmp(got, want) != 0)
		fail_msg("%s:\n got  %s (%d %s)\n want %s", ref, got, rc, msg, want);
}

static void test_endpoints(void **state)
{
	cleanup(image_registries_free) struct image_registries *r = load();

	/* tag pull: all + tag-only mirrors in order, then the source */
	expect_eps(r, "docker.io/foo/bar:1",
		   "mirror.local:5000/dockerhub|mirror.local:5000/dockerhub/foo/bar:1|1|1;"
		   "tag.mirror.io|tag.mirror.io/foo/bar:1|0|1;"
		   "docker.io|docker.io/foo/bar:1|0|0");
	/* digest pull: all + digest-only */
	expect_eps(
	    r, "alpine@sha256:" D64,
	    "mirror.local:5000/dockerhub|mirror.local:5000/dockerhub/library/alpine@sha256:" D64
	    "|1|1;"
	    "digest.mirror.io|digest.mirror.io/library/alpine@sha256:" D64 "|0|1;"
	    "docker.io|docker.io/library/alpine@sha256:" D64 "|0|0");
	/* longest prefix wins: busybox has its own location, no mirrors */
	expect_eps(r, "busybox:1.36", "localhost:5001/bb|localhost:5001/bb:1.36|1|0");
	/* prefix matches whole components only */
	expect_eps(
	    r, "docker.io/library/busyboxer",
	    "mirror.local:5000/dockerhub|mirror.local:5000/dockerhub/library/busyboxer:latest|1|1;"
	    "tag.mirror.io|tag.mirror.io/library/busyboxer:latest|0|1;"
	    "docker.io|docker.io/library/busyboxer:latest|0|0");
	/* mirror-by-digest-only */
	expect_eps(r, "registry.k8s.io/pause:3.9", "registry.k8s.io|registry.k8s.io/pause:3.9|0|0");
	expect_eps(r, "registry.k8s.io/pause:3.9@sha256:" D64,
		   "127.0.0.1:5000|127.0.0.1:5000/pause:3.9@sha256:" D64 "|0|1;"
		   "registry.k8s.io|registry.k8s.io/pause:3.9@sha256:" D64 "|0|0");
	/* wildcard, and an exact prefix beating it */
	expect_eps(
	    r, "b.example.com/x/y:2",
	    "wild.mirror:1/x|wild.mirror:1/x/x/y:2|0|1;b.example.com|b.example.com/x/y:2|1|0");
	expect_eps(r, "a.example.com/x", "a.example.com|a.example.com/x:latest|0|0");
	expect_eps(r, "example.com/x", "example.com|example.com/x:latest|0|0");
	/* no matching registry */
	expect_eps(r, "[::1]:5000/x", "[::1]:5000|[::1]:5000/x:latest|0|0");

	int rc;
	cleanup_free char *msg = NULL;
	cleanup_free char *got = endpoints(r, "evil.io/x", &rc, &msg);
	assert_int_equal(rc, -EACCES);
	assert_string_equal(got, "");
	assert_string_equal(msg, "registry evil.io is blocked in registries.conf");
}

static char *candidates(const struct image_registries *r, const char *ref_s, int *rc)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_err struct err err = ERR_INIT;
	struct image_ref **v = NULL;
	size_t n = 0;
	assert_int_equal(image_ref_parse(ref_s, &ref, &err), 0);
	*rc = image_registries_resolve(r, ref, &v, &n, &err);
	char **s = NULL;
	for (size_t i = 0; i < n; i++)
		strv_push_take(&s, image_ref_string(v[i], IMAGE_REF_FULL));
	image_refs_free(v);
	char *out = s ? strv_join(s, ";") : xstrdup(err_str(&err));
	strv_free(s);
	return out;
}

static void expect_cands(const struct image_registries *r, const char *ref, const char *want)
{
	int rc;
	cleanup_free char *got = candidates(r, ref, &rc);
	if (rc < 0 || strcmp(got, want) != 0)
		fail_msg("%s:\n got  %s (%d)\n want %s", ref, got, rc, want);
}

static void test_short_names(void **state)
{
	cleanup(image_registries_free) struct image_registries *r = load();
	cleanup(image_registries_free) struct image_registries *empty = image_registries_new();

	expect_cands(r, "busybox", "quay.io/busybox:latest;docker.io/library/busybox:latest");
	expect_cands(r, "foo/bar:2", "quay.io/foo/bar:2;docker.io/foo/bar:2");
	expect_cands(r, "busybox@sha256:" D64,
		     "quay.io/busybox@sha256:" D64 ";docker.io/library/busybox@sha256:" D64);
	expect_cands(r, "pause:3.9",
		     "registry.k8s.io/pause:3.9;quay.io/pause:3.9;docker.io/library/pause:3.9");
	expect_cands(r, "myapp",
		     "quay.io/team/app:stable;quay.io/myapp:latest;"
		     "docker.io/library/myapp:latest");
	expect_cands(r, "myapp:1", "quay.io/team/app:1;quay.io/myapp:1;docker.io/library/myapp:1");

	int rc;
	cleanup_free char *e = candidates(empty, "busybox", &rc);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(e, "no unqualified-search-registries"));
	cleanup_free char *q = candidates(r, "quay.io/x", &rc);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(q, "'quay.io/x' is not a short name");
}

static void test_dropins(void **state)
{
	char dir[] = "/tmp/ocid-registries-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cleanup_free char *main_path = xasprintf("%s/registries.conf", dir);
	cleanup_free char *d = xasprintf("%s/registries.conf.d", dir);
	cleanup_free char *f1 = xasprintf("%s/10-a.conf", d);
	cleanup_free char *f2 = xasprintf("%s/20-b.conf", d);
	cleanup_free char *ign = xasprintf("%s/30-c.txt", d);
	FILE *f;

	assert_non_null(f = fopen(main_path, "w"));
	fputs(conf, f);
	fclose(f);
	assert_int_equal(mkdir(d, 0755), 0);
	assert_non_null(f = fopen(f1, "w"));
	fputs("[[registry]]\nprefix = \"docker.io\"\nlocation = \"dockerhub.local\"\n"
	      "[aliases]\n\"myapp\" = \"\"\n",
	      f);
	fclose(f);
	assert_non_null(f = fopen(f2, "w"));
	fputs("unqualified-search-registries = [\"ghcr.io\"]\n[[registry]]\nprefix = \"evil.io\"\n",
	      f);
	fclose(f);
	assert_non_null(f = fopen(ign, "w"));
	fputs("this is not toml", f);
	fclose(f);

	cleanup(image_registries_free) struct image_registries *r = NULL;
	cleanup_err struct err err = ERR_INIT;
	if (image_registries_load(main_path, NULL, &r, &err) < 0)
		fail_msg("%s", err_str(&err));
	/* docker.io replaced: no mirrors any more, a new location */
	expect_eps(r, "foo/bar", "dockerhub.local|dockerhub.local/foo/bar:latest|0|0");
	/* evil.io no longer blocked */
	expect_eps(r, "evil.io/x", "evil.io|evil.io/x:latest|0|0");
	/* search list replaced, alias removed, other alias kept */
	expect_cands(r, "myapp", "ghcr.io/myapp:latest");
	expect_cands(r, "pause", "registry.k8s.io/pause:latest;ghcr.io/pause:latest");
	/* an explicit drop-in dir that does not exist, and a missing main file */
	cleanup(image_registries_free) struct image_registries *none = NULL;
	cleanup_free char *missing = xasprintf("%s/nope.conf", dir);
	assert_int_equal(image_registries_load(missing, "/nonexistent.d", &none, &err), 0);
	expect_cands(none, "busybox", "docker.io/library/busybox:latest");

	/* a broken drop-in names its file */
	assert_non_null(f = fopen(f2, "w"));
	fputs("[[registry]]\nprefix = 5\n", f);
	fclose(f);
	cleanup(image_registries_free) struct image_registries *bad = NULL;
	assert_int_equal(image_registries_load(main_path, NULL, &bad, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "20-b.conf"));

	cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void add_fail(const char *text, const char *why)
{
	cleanup(image_registries_free) struct image_registries *r = load();
	cleanup_err struct err err = ERR_INIT;
	int rc = image_registries_add(r, "x.conf", text, strlen(text), &err);
	if (rc != -EINVAL || !strstr(err_str(&err), why))
		fail_msg("expected '%s', got %d '%s' for %s", why, rc, err_str(&err), text);
	/* unchanged on error */
	expect_eps(r, "busybox", "localhost:5001/bb|localhost:5001/bb:latest|1|0");
}

static void test_invalid(void **state)
{
	add_fail("unqualified-search-registries = \"docker.io\"\n", "must be an array");
	add_fail("unqualified-search-registries = [\"bad host!\"]\n", "unqualified-search");
	add_fail("[[registry]]\ninsecure = true\n", "needs a prefix or a location");
	add_fail("[[registry]]\nprefix = \"foo\"\n", "must start with a registry host");
	add_fail("[[registry]]\nprefix = \"a.io/UPPER\"\n", "lowercase");
	add_fail("[[registry]]\nprefix = \"*.a.io\"\nlocation = \"b.io\"\n",
		 "cannot have a location");
	add_fail("[[registry]]\nprefix = \"*a.io\"\n", "invalid wildcard");
	add_fail("[[registry]]\nprefix = \"a.io\"\n[[registry]]\nprefix = \"a.io\"\n",
		 "defined twice");
	add_fail("[[registry]]\nprefix = \"a.io\"\ninsecure = \"yes\"\n", "must be a boolean");
	add_fail("[[registry]]\nprefix = \"a.io\"\n[[registry.mirror]]\ninsecure = true\n",
		 "needs a location");
	add_fail("[[registry]]\nprefix = \"a.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\n"
		 "pull-from-mirror = \"sometimes\"\n",
		 "pull-from-mirror");
	add_fail("[aliases]\n\"quay.io/x\" = \"quay.io/y\"\n", "short name");
	add_fail("[aliases]\n\"x:1\" = \"quay.io/y\"\n", "short name");
	add_fail("[aliases]\n\"x\" = \"y\"\n", "fully-qualified");
	add_fail("[aliases]\n\"x\" = \"quay.io/y@sha256:" D64 "\"\n", "fully-qualified");
	add_fail("[aliases]\n\"x\" = 1\n", "must be a string");
	add_fail("[registries.search]\nregistries = [\"docker.io\"]\n", "version 1 format");
	add_fail("a = \n", "x.conf:1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_short_names),
		cmocka_unit_test(test_dropins),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
