/* image/policy.c: containers-policy.json scopes and requirement types. */
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

static const char policy[] =
    "{\"default\":[{\"type\":\"reject\"}],"
    " \"transports\":{"
    "  \"docker\":{"
    "   \"docker.io/library/busybox:1.36\":[{\"type\":\"reject\"}],"
    "   \"docker.io/library/busybox\":[{\"type\":\"insecureAcceptAnything\"}],"
    "   \"docker.io/library\":[{\"type\":\"reject\"}],"
    "   \"docker.io\":[{\"type\":\"insecureAcceptAnything\"}],"
    "   \"quay.io/signed\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\"}],"
    "   \"ghcr.io\":[{\"type\":\"insecureAcceptAnything\"},{\"type\":\"sigstoreSigned\",\"keyPath\":\"/k\"}],"
    "   \"*.example.com\":[{\"type\":\"insecureAcceptAnything\"}],"
    "   \"*.b.example.com\":[{\"type\":\"reject\"}],"
    "   \"localhost:5000\":[{\"type\":\"insecureAcceptAnything\"}],"
    "   \"docker.io/foo/x@sha256:" D64 "\":[{\"type\":\"insecureAcceptAnything\"}]"
    "  },"
    "  \"docker-daemon\":{\"\":[{\"type\":\"insecureAcceptAnything\"}]}"
    " }}";

static int check(const struct image_policy *p, const char *ref_s, const char **scope, char **msg)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(image_ref_parse(ref_s, &ref, &err), 0);
	int r = image_policy_check(p, ref, scope, &err);
	if (msg)
		*msg = xstrdup(err_str(&err));
	return r;
}

static void expect(const struct image_policy *p, const char *ref, int code, const char *scope)
{
	const char *got = NULL;
	cleanup_free char *msg = NULL;
	int r = check(p, ref, &got, &msg);
	if (r != code || strcmp(got, scope) != 0)
		fail_msg("%s: expected %d via '%s', got %d via '%s' (%s)", ref, code, scope, r, got,
			 msg);
}

static void test_scopes(void **state)
{
	cleanup(image_policy_free) struct image_policy *p = NULL;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(
	    image_policy_parse("/etc/containers/policy.json", policy, strlen(policy), &p, &err), 0);
	expect(p, "busybox", 0, "docker.io/library/busybox");
	expect(p, "busybox:1.35", 0, "docker.io/library/busybox");
	expect(p, "busybox:1.36", -EACCES, "docker.io/library/busybox:1.36");
	expect(p, "alpine", -EACCES, "docker.io/library");
	expect(p, "foo/bar", 0, "docker.io");
	expect(p, "quay.io/other", -EACCES, "default");
	expect(p, "quay.io/signed/img", -EACCES, "quay.io/signed");
	expect(p, "ghcr.io/a/b", -EACCES, "ghcr.io");
	expect(p, "a.example.com/x", 0, "*.example.com");
	expect(p, "a.example.com:5000/x", 0, "*.example.com");
	expect(p, "c.b.example.com/x", -EACCES, "*.b.example.com");
	expect(p, "example.com/x", -EACCES, "default");
	expect(p, "localhost:5000/a/b", 0, "localhost:5000");
	expect(p, "localhost:5001/a/b", -EACCES, "default");
	expect(p, "docker.io/foo/x@sha256:" D64, 0, "docker.io/foo/x@sha256:" D64);

	cleanup_free char *m1 = NULL, *m2 = NULL, *m3 = NULL;
	check(p, "busybox:1.36", NULL, &m1);
	assert_string_equal(m1, "image rejected by policy /etc/containers/policy.json: scope "
				"\"docker.io/library/busybox:1.36\"");
	check(p, "quay.io/signed/img", NULL, &m2);
	assert_string_equal(m2, "signature verification is not available yet in this ocid; policy "
				"/etc/containers/policy.json requires signedBy for scope "
				"\"quay.io/signed\"");
	check(p, "ghcr.io/a", NULL, &m3);
	assert_non_null(strstr(m3, "requires sigstoreSigned"));
}

static void test_empty_scope_and_default(void **state)
{
	static const char doc[] =
	    "{\"default\":[{\"type\":\"insecureAcceptAnything\"}],\"transports\":{\"docker\":"
	    "{\"\":[{\"type\":\"signedBy\"}],\"docker.io\":[{\"type\":\"insecureAcceptAnything\"}]}}}";
	cleanup(image_policy_free) struct image_policy *p = NULL;
	cleanup(image_policy_free) struct image_policy *dflt = NULL;
	cleanup(image_policy_free) struct image_policy *plain = NULL;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(image_policy_parse("p.json", doc, strlen(doc), &p, &err), 0);
	expect(p, "quay.io/x", -EACCES, "");
	expect(p, "busybox", 0, "docker.io");

	assert_int_equal(image_policy_parse("/nonexistent", NULL, 0, &dflt, &err), 0);
	expect(dflt, "quay.io/x", 0, "default");

	static const char rej[] = "{\"default\":[{\"type\":\"reject\"}]}";
	assert_int_equal(image_policy_parse("p.json", rej, strlen(rej), &plain, &err), 0);
	cleanup_free char *m = NULL;
	assert_int_equal(check(plain, "busybox", NULL, &m), -EACCES);
	assert_string_equal(m, "image rejected by policy p.json: scope default");
}

static void parse_fail(const char *doc, const char *why)
{
	struct image_policy *p = NULL;
	cleanup_err struct err err = ERR_INIT;
	int r = image_policy_parse("p.json", doc, strlen(doc), &p, &err);
	if (r != -EINVAL || !strstr(err_str(&err), why))
		fail_msg("expected '%s', got %d '%s' for %s", why, r, err_str(&err), doc);
	assert_null(p);
}

static void test_invalid(void **state)
{
	parse_fail("", "not valid JSON");
	parse_fail("{}", "no \"default\"");
	parse_fail("{\"default\":[]}", "non-empty array");
	parse_fail("{\"default\":{}}", "non-empty array");
	parse_fail("{\"default\":[{\"type\":\"trustMe\"}]}", "unknown requirement type 'trustMe'");
	parse_fail("{\"default\":[{}]}", "has no \"type\"");
	parse_fail("{\"default\":[1]}", "has no \"type\"");
	parse_fail("{\"default\":[{\"type\":\"reject\"}],\"transports\":[]}", "'transports'");
	parse_fail("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":[]}}",
		   "'transports.docker'");
	parse_fail(
	    "{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"a.io\":[]}}}",
	    "scope 'a.io'");
	parse_fail("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"a.*.io\":"
		   "[{\"type\":\"reject\"}]}}}",
		   "invalid wildcard");
	parse_fail("{\"default\":[{\"type\":\"reject\"}],\"default\":[{\"type\":\"reject\"}]}",
		   "not valid JSON");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_empty_scope_and_default),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
