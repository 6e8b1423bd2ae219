/* image/ref.c: the reference grammar, normalisation, digests, formatting. */
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

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct ref_case {
	const char *in;
	/* expected on success (NULL full = must fail; then `why` is in the message) */
	const char *full;
	const char *domain;
	const char *path;
	bool short_name;
	const char *why;
};

#define OK(in, full, dom, path, sh)           \
	{                                     \
		in, full, dom, path, sh, NULL \
	}
#define BAD(in, why)                             \
	{                                        \
		in, NULL, NULL, NULL, false, why \
	}

static const struct ref_case cases[] = {
	/* normalisation */
	OK("busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox", true),
	OK("busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", true),
	OK("foo/bar", "docker.io/foo/bar:latest", "docker.io", "foo/bar", true),
	OK("foo/bar/baz", "docker.io/foo/bar/baz:latest", "docker.io", "foo/bar/baz", true),
	OK("library/busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox",
	   true),
	OK("docker.io/busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox",
	   false),
	OK("index.docker.io/busybox", "docker.io/library/busybox:latest", "docker.io",
	   "library/busybox", false),
	OK("index.docker.io/foo/bar:x", "docker.io/foo/bar:x", "docker.io", "foo/bar", false),
	OK("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "docker.io",
	   "library/busybox", false),
	/* domains */
	OK("localhost/foo", "localhost/foo:latest", "localhost", "foo", false),
	OK("localhost:5000/foo", "localhost:5000/foo:latest", "localhost:5000", "foo", false),
	OK("localhost:5000/foo/bar:1", "localhost:5000/foo/bar:1", "localhost:5000", "foo/bar",
	   false),
	OK("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9", "registry.k8s.io", "pause",
	   false),
	OK("quay.io/a/b/c:v1", "quay.io/a/b/c:v1", "quay.io", "a/b/c", false),
	OK("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000", "x", false),
	OK("[::1]:5000/foo", "[::1]:5000/foo:latest", "[::1]:5000", "foo", false),
	OK("[2001:db8::1]/foo:t", "[2001:db8::1]/foo:t", "[2001:db8::1]", "foo", false),
	OK("Example.COM/foo", "Example.COM/foo:latest", "Example.COM", "foo", false),
	OK("my-registry.example.com:443/ns/img", "my-registry.example.com:443/ns/img:latest",
	   "my-registry.example.com:443", "ns/img", false),
	OK("registry/foo", "docker.io/registry/foo:latest", "docker.io", "registry/foo", true),
	/* separators */
	OK("a.b/c_d", "a.b/c_d:latest", "a.b", "c_d", false),
	OK("a.b/c__d", "a.b/c__d:latest", "a.b", "c__d", false),
	OK("a.b/c---d", "a.b/c---d:latest", "a.b", "c---d", false),
	OK("a.b/c.d-e_f", "a.b/c.d-e_f:latest", "a.b", "c.d-e_f", false),
	/* tags and digests */
	OK("busybox:_x", "docker.io/library/busybox:_x", "docker.io", "library/busybox", true),
	OK("busybox:A.b-C_1", "docker.io/library/busybox:A.b-C_1", "docker.io", "library/busybox",
	   true),
	OK("busybox@sha256:" D64, "docker.io/library/busybox@sha256:" D64, "docker.io",
	   "library/busybox", true),
	OK("busybox:1@sha256:" D64, "docker.io/library/busybox:1@sha256:" D64, "docker.io",
	   "library/busybox", true),
	OK("localhost:5000/x@sha256:" D64, "localhost:5000/x@sha256:" D64, "localhost:5000", "x",
	   false),
	/* invalid */
	BAD("", "empty"),
	BAD("Busybox", "must be lowercase"),
	BAD("docker.io/Library/busybox", "must be lowercase"),
	BAD("quay.io/Foo", "must be lowercase"),
	BAD("busybox:", "empty tag"),
	BAD("busybox:-x", "invalid tag"),
	BAD("busybox:.x", "invalid tag"),
	BAD("busybox:a/b", "invalid"),
	BAD("busybox@", "invalid digest"),
	BAD("busybox@sha256:abc", "64 lowercase hex"),
	BAD("busybox@sha256:" D64 "0", "64 lowercase hex"),
	BAD("busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	    "64 lowercase hex"),
	BAD("busybox@sha512:" D64 D64, "unsupported digest algorithm"),
	BAD("busybox@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm"),
	BAD("busybox@:" D64, "invalid digest"),
	BAD("busybox@sha256:" D64 "@sha256:" D64, "digest"),
	BAD("foo//bar", "empty path component"),
	BAD("foo/", "empty path component"),
	BAD("/foo", ""),
	BAD("quay.io/", "empty path component"),
	BAD("a.b/-foo", "invalid repository name"),
	BAD("a.b/foo-", "invalid repository name"),
	BAD("a.b/foo..bar", "invalid repository name"),
	BAD("a.b/foo___bar", "invalid repository name"),
	BAD("a.b/foo$", "invalid character"),
	BAD("bus box", "invalid character"),
	BAD("busybox\n", "invalid character"),
	BAD("-a.b/foo", "invalid domain"),
	BAD("a..b/foo", "invalid domain"),
	BAD("a_b.c/foo", "invalid character '_' in domain"),
	BAD("localhost:/foo", "invalid port"),
	BAD("localhost:99999/foo", "port out of range"),
	BAD("localhost:0/foo", "port out of range"),
	BAD("localhost:5x/foo", "invalid port"),
	BAD("[::1/foo", "IPv6"),
	BAD("[zz::1]:5000/foo", "IPv6"),
	BAD("[::1]x/foo", "invalid domain"),
	BAD(D64, "image ID"),
};

static void test_table(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct ref_case *c = &cases[i];
		cleanup(image_ref_free) struct image_ref *ref = NULL;
		cleanup_err struct err err = ERR_INIT;
		int r = image_ref_parse(c->in, &ref, &err);
		if (!c->full) {
			if (r != -EINVAL || !strstr(err_str(&err), c->why))
				fail_msg("'%s': expected failure with '%s', got %d '%s'", c->in,
					 c->why, r, err_str(&err));
			continue;
		}
		if (r < 0)
			fail_msg("'%s': %s", c->in, err_str(&err));
		cleanup_free char *full = image_ref_string(ref, IMAGE_REF_FULL);
		if (strcmp(full, c->full) != 0 || strcmp(ref->domain, c->domain) != 0 ||
		    strcmp(ref->path, c->path) != 0 || ref->short_name != c->short_name)
			fail_msg("'%s': got %s domain=%s path=%s short=%d", c->in, full,
				 ref->domain, ref->path, ref->short_name);
		/* the full form parses back to itself */
		cleanup(image_ref_free) struct image_ref *again = NULL;
		assert_int_equal(image_ref_parse(full, &again, &err), 0);
		cleanup_free char *full2 = image_ref_string(again, IMAGE_REF_FULL);
		assert_string_equal(full, full2);
	}
}

static void test_name_length(void **state)
{
	char name[300];
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_err struct err err = ERR_INIT;

	memset(name, 'a', sizeof(name));
	memcpy(name, "a.io/", 5);
	name[255] = '\0';
	assert_int_equal(image_ref_parse(name, &ref, &err), 0);
	image_ref_free(TAKE_PTR(ref));
	name[255] = 'a';
	name[256] = '\0';
	assert_int_equal(image_ref_parse(name, &ref, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "longer than 255"));
	/* the limit applies to the normalised name: docker.io/library/ + 240 */
	memset(name, 'b', 240);
	name[240] = '\0';
	assert_int_equal(image_ref_parse(name, &ref, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "longer than 255"));
	name[237] = '\0';
	assert_int_equal(image_ref_parse(name, &ref, &err), 0);
	image_ref_free(TAKE_PTR(ref));
}

static void test_tag_length(void **state)
{
	char s[200] = "busybox:";
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_err struct err err = ERR_INIT;

	memset(s + 8, 't', 128);
	s[8 + 128] = '\0';
	assert_int_equal(image_ref_parse(s, &ref, &err), 0);
	image_ref_free(TAKE_PTR(ref));
	s[8 + 128] = 't';
	s[8 + 129] = '\0';
	assert_int_equal(image_ref_parse(s, &ref, &err), -EINVAL);
}

static void test_fields_and_forms(void **state)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(image_ref_parse("busybox", &ref, &err), 0);
	assert_true(ref->short_name);
	assert_true(ref->implicit_tag);
	assert_string_equal(ref->given, "busybox");
	assert_string_equal(ref->tag, "latest");
	assert_null(ref->digest);
	cleanup_free char *fam = image_ref_string(ref, IMAGE_REF_FAMILIAR);
	cleanup_free char *name = image_ref_string(ref, IMAGE_REF_NAME);
	assert_string_equal(fam, "busybox:latest");
	assert_string_equal(name, "docker.io/library/busybox");
	image_ref_free(TAKE_PTR(ref));

	assert_int_equal(image_ref_parse("busybox@sha256:" D64, &ref, &err), 0);
	assert_null(ref->tag);
	assert_false(ref->implicit_tag);
	assert_string_equal(ref->digest, "sha256:" D64);
	image_ref_free(TAKE_PTR(ref));

	assert_int_equal(image_ref_parse("docker.io/foo/bar:1", &ref, &err), 0);
	cleanup_free char *fam2 = image_ref_string(ref, IMAGE_REF_FAMILIAR);
	assert_string_equal(fam2, "foo/bar:1");
	struct image_ref *dup = image_ref_dup(ref);
	cleanup_free char *d = image_ref_string(dup, IMAGE_REF_FULL);
	assert_string_equal(d, "docker.io/foo/bar:1");
	image_ref_free(dup);
	image_ref_free(TAKE_PTR(ref));

	assert_int_equal(image_ref_parse("quay.io/library/x:1", &ref, &err), 0);
	cleanup_free char *fam3 = image_ref_string(ref, IMAGE_REF_FAMILIAR);
	assert_string_equal(fam3, "quay.io/library/x:1");
	image_ref_free(TAKE_PTR(ref));

	assert_int_equal(image_ref_from_parts("quay.io/a", NULL, "sha256:" D64, &ref, &err), 0);
	cleanup_free char *p = image_ref_string(ref, IMAGE_REF_FULL);
	assert_string_equal(p, "quay.io/a@sha256:" D64);
}

static void test_digest_valid(void **state)
{
	assert_true(image_digest_valid("sha256:" D64));
	assert_false(image_digest_valid(NULL));
	assert_false(image_digest_valid(""));
	assert_false(image_digest_valid("sha256:"));
	assert_false(image_digest_valid("sha256:" D64 "a"));
	assert_false(image_digest_valid("SHA256:" D64));
	assert_false(image_digest_valid(
	    "sha256:g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(image_digest_valid("sha512:" D64));
	assert_true(image_tag_valid("latest"));
	assert_false(image_tag_valid(""));
	assert_false(image_tag_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),	     cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_tag_length),   cmocka_unit_test(test_fields_and_forms),
		cmocka_unit_test(test_digest_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
