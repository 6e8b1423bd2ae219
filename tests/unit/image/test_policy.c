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
#include "image/policy_int.h"

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
	expect(p, "quay.io/signed/img", IMAGE_NEED_GPG, "quay.io/signed");
	expect(p, "ghcr.io/a/b", IMAGE_NEED_SIGSTORE, "ghcr.io");
	expect(p, "a.example.com/x", 0, "*.example.com");
	expect(p, "a.example.com:5000/x", 0, "*.example.com");
	expect(p, "c.b.example.com/x", -EACCES, "*.b.example.com");
	expect(p, "example.com/x", -EACCES, "default");
	expect(p, "localhost:5000/a/b", 0, "localhost:5000");
	expect(p, "localhost:5001/a/b", -EACCES, "default");
	expect(p, "docker.io/foo/x@sha256:" D64, 0, "docker.io/foo/x@sha256:" D64);

	cleanup_free char *m1 = NULL;
	check(p, "busybox:1.36", NULL, &m1);
	assert_string_equal(m1, "image rejected by policy /etc/containers/policy.json: scope "
				"\"docker.io/library/busybox:1.36\"");
}

static void test_empty_scope_and_default(void **state)
{
	static const char doc[] =
	    "{\"default\":[{\"type\":\"insecureAcceptAnything\"}],\"transports\":{\"docker\":"
	    "{\"\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyData\":\"AAAA\"}],\"docker.io\":[{\"type\":\"insecureAcceptAnything\"}]}}}";
	cleanup(image_policy_free) struct image_policy *p = NULL;
	cleanup(image_policy_free) struct image_policy *dflt = NULL;
	cleanup(image_policy_free) struct image_policy *plain = NULL;
	cleanup_err struct err err = ERR_INIT;

	assert_int_equal(image_policy_parse("p.json", doc, strlen(doc), &p, &err), 0);
	expect(p, "quay.io/x", IMAGE_NEED_GPG, "");
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
#define SCOPED(req) "{\"default\":[" req "]}"
	parse_fail(SCOPED("{\"type\":\"signedBy\",\"keyPath\":\"/k\"}"),
		   "\"keyType\": \"GPGKeys\"");
	parse_fail(SCOPED("{\"type\":\"signedBy\",\"keyType\":\"X509\",\"keyPath\":\"/k\"}"),
		   "\"keyType\": \"GPGKeys\"");
	parse_fail(SCOPED("{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\"}"), "exactly one of");
	parse_fail(SCOPED("{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
			  "\"keyData\":\"AAAA\"}"),
		   "exactly one of");
	parse_fail(SCOPED("{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"k\"}"),
		   "absolute path");
	parse_fail(SCOPED("{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyData\":\"!!\"}"),
		   "not base64");
	parse_fail(SCOPED("{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
			  "\"keyPth\":\"/k\"}"),
		   "unknown field \"keyPth\"");
	parse_fail(SCOPED("{\"type\":\"reject\",\"keyPath\":\"/k\"}"), "unknown field");
	parse_fail(SCOPED("{\"type\":\"sigstoreSigned\",\"fulcio\":{}}"), "not supported by ocid");
	parse_fail(SCOPED("{\"type\":\"sigstoreSigned\",\"keyPath\":\"/k\",\"signedIdentity\":"
			  "{\"type\":\"matchAll\"}}"),
		   "unknown signedIdentity type 'matchAll'");
	parse_fail(SCOPED("{\"type\":\"sigstoreSigned\",\"keyPath\":\"/k\",\"signedIdentity\":"
			  "{\"type\":\"exactReference\",\"dockerReference\":\"quay.io/a/b\"}}"),
		   "needs a tag or a digest");
	parse_fail(SCOPED("{\"type\":\"sigstoreSigned\",\"keyPath\":\"/k\",\"signedIdentity\":"
			  "{\"type\":\"exactRepository\",\"dockerRepository\":\"quay.io/a/b:1\"}}"),
		   "repository only");
	parse_fail(SCOPED("{\"type\":\"sigstoreSigned\",\"keyPath\":\"/k\",\"signedIdentity\":"
			  "{\"type\":\"remapIdentity\",\"prefix\":\"quay.io/a\"}}"),
		   "needs \"prefix\" and \"signedPrefix\"");
	parse_fail(SCOPED("{\"type\":\"sigstoreSigned\",\"keyPath\":\"/k\",\"signedIdentity\":"
			  "{\"type\":\"matchExact\",\"dockerReference\":\"a.io/b:1\"}}"),
		   "unknown field");
}

static void ident(enum image_ident_type t, const char *arg1, const char *arg2, const char *image,
		  const char *signed_ref, bool ok)
{
	struct image_identity id = { t, (char *)arg1, (char *)arg1, (char *)arg2 };
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_err struct err err = ERR_INIT;
	if (t != IDENT_REMAP)
		id.prefix = id.signed_prefix = NULL;
	else
		id.ref = NULL;
	assert_int_equal(image_ref_parse(image, &ref, &err), 0);
	int r = image_identity_match(&id, ref, signed_ref, &err);
	if ((r == 0) != ok)
		fail_msg("%s %s vs %s: got %d '%s'", image_ident_name(t), image, signed_ref, r,
			 err_str(&err));
	if (!ok)
		assert_non_null(strstr(err_str(&err), "does not match")
				    ?: strstr(err_str(&err), "not a valid"));
}

static void test_identities(void **state)
{
	ident(IDENT_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "quay.io/a/b:1", "quay.io/a/b:1", true);
	ident(IDENT_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "quay.io/a/b:1", "quay.io/a/b:2",
	      false);
	ident(IDENT_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "quay.io/a/b@sha256:" D64,
	      "quay.io/a/b:7", true);
	ident(IDENT_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "busybox",
	      "docker.io/library/busybox:latest", true);
	ident(IDENT_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "quay.io/a/b:1", "quay.io/a/c:1",
	      false);
	ident(IDENT_MATCH_REPOSITORY, NULL, NULL, "quay.io/a/b:1", "quay.io/a/b:2", true);
	ident(IDENT_MATCH_REPOSITORY, NULL, NULL, "quay.io/a/b:1", "quay.io/a/bb:1", false);
	ident(IDENT_MATCH_EXACT, NULL, NULL, "quay.io/a/b@sha256:" D64, "quay.io/a/b:1", false);
	ident(IDENT_MATCH_EXACT, NULL, NULL, "quay.io/a/b:1", "quay.io/a/b:1", true);
	ident(IDENT_EXACT_REFERENCE, "quay.io/x/y:3", NULL, "quay.io/a/b:1", "quay.io/x/y:3", true);
	ident(IDENT_EXACT_REFERENCE, "quay.io/x/y:3", NULL, "quay.io/a/b:1", "quay.io/a/b:1",
	      false);
	ident(IDENT_EXACT_REPOSITORY, "quay.io/x/y", NULL, "quay.io/a/b:1", "quay.io/x/y:9", true);
	ident(IDENT_EXACT_REPOSITORY, "quay.io/x/y", NULL, "quay.io/a/b:1", "quay.io/x/z:9", false);
	ident(IDENT_REMAP, "mirror.io/up", "quay.io/org", "mirror.io/up/app:1", "quay.io/org/app:1",
	      true);
	ident(IDENT_REMAP, "mirror.io/up", "quay.io/org", "mirror.io/up/app:1",
	      "mirror.io/up/app:1", false);
	ident(IDENT_REMAP, "mirror.io/up", "quay.io/org", "mirror.io/upx/app:1",
	      "mirror.io/upx/app:1", true);
	ident(IDENT_MATCH_REPOSITORY, NULL, NULL, "quay.io/a/b:1", "Not A Ref", false);
	ident(IDENT_REMAP, "localhost:5000", "quay.io", "localhost:5000/a/b:1", "quay.io/a/b:1",
	      true);
}

static void payload(const char *doc, const char *why)
{
	struct image_sig_payload p = { 0 };
	cleanup_err struct err err = ERR_INIT;
	int r = image_sig_payload_parse(doc, strlen(doc), "atomic container signature", &p, &err);
	if (!why) {
		assert_int_equal(r, 0);
		assert_string_equal(p.docker_ref, "quay.io/a/b:1");
		assert_string_equal(p.digest, "sha256:" D64);
		image_sig_payload_done(&p);
		return;
	}
	if (r != -EINVAL || !strstr(err_str(&err), why))
		fail_msg("expected '%s', got %d '%s' for %s", why, r, err_str(&err), doc);
}

static void test_payload(void **state)
{
#define CRIT(x) "{\"critical\":{" x "},\"optional\":{\"creator\":\"t\"}}"
#define GOOD_ID "\"identity\":{\"docker-reference\":\"quay.io/a/b:1\"}"
#define GOOD_IMG "\"image\":{\"docker-manifest-digest\":\"sha256:" D64 "\"}"
	payload(CRIT("\"type\":\"atomic container signature\"," GOOD_ID "," GOOD_IMG), NULL);
	payload(CRIT("\"type\":\"cosign container image signature\"," GOOD_ID "," GOOD_IMG),
		"is not 'atomic");
	payload(CRIT("\"type\":\"atomic container signature\"," GOOD_ID), "must hold exactly");
	payload(CRIT("\"type\":\"atomic container signature\"," GOOD_ID "," GOOD_IMG ",\"x\":1"),
		"must hold exactly");
	payload(CRIT("\"type\":\"atomic container signature\"," GOOD_ID
		     ",\"image\":{\"docker-manifest-digest\":\"sha256:12\"}"),
		"invalid manifest digest");
	payload("[]", "JSON object");
	payload("{\"critical\":1}", "no \"critical\"");
	payload("{", "not valid JSON");
}

static void rd_fail(const char *doc, const char *why)
{
	cleanup(image_registries_d_free) struct image_registries_d *d = image_registries_d_new();
	cleanup_err struct err err = ERR_INIT;
	int r = image_registries_d_add(d, "x.yaml", doc, strlen(doc), &err);
	if (r != -EINVAL || !strstr(err_str(&err), why))
		fail_msg("expected '%s', got %d '%s' for %s", why, r, err_str(&err), doc);
}

static void rd_expect(const struct image_registries_d *d, const char *name, const char *want,
		      bool sigstore)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_err struct err err = ERR_INIT;
	const char *got = NULL;
	bool ss = false;
	assert_int_equal(image_ref_parse(name, &ref, &err), 0);
	image_registries_d_lookup(d, ref, &got, &ss);
	if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0) || ss != sigstore)
		fail_msg("%s: expected %s %d, got %s %d", name, want, sigstore, got, ss);
}

static void test_registries_d(void **state)
{
	static const char a[] = "default-docker:\n  lookaside: https://sigs.example.com/\n"
				"docker:\n  quay.io/org:\n    lookaside: file:///var/sigs\n"
				"  quay.io/org/app:\n    use-sigstore-attachments: true\n"
				"  '*.corp.test':\n    sigstore: http://127.0.0.1:9/s\n";
	static const char b[] = "docker:\n  localhost:5000:\n    use-sigstore-attachments: false\n";
	cleanup(image_registries_d_free) struct image_registries_d *d = image_registries_d_new();
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(image_registries_d_add(d, "a.yaml", a, strlen(a), &err), 0);
	assert_int_equal(image_registries_d_add(d, "b.yaml", b, strlen(b), &err), 0);
	rd_expect(d, "quay.io/org/app:1", "file:///var/sigs", true);
	rd_expect(d, "quay.io/org/other", "file:///var/sigs", false);
	rd_expect(d, "quay.io/else", "https://sigs.example.com", false);
	rd_expect(d, "reg.corp.test:5000/x", "http://127.0.0.1:9/s", false);
	rd_expect(d, "localhost:5000/x", "https://sigs.example.com", false);
	assert_int_equal(image_registries_d_add(d, "c.yaml", b, strlen(b), &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "configured in b.yaml already"));

	cleanup(image_registries_d_free) struct image_registries_d *empty =
	    image_registries_d_new();
	assert_int_equal(image_registries_d_add(empty, "e.yaml", "", 0, &err), 0);
	rd_expect(empty, "quay.io/a", NULL, false);

	rd_fail("docker: [1]", "mapping of scopes");
	rd_fail("default-docker:\n  lookaside: ftp://x\n", "must be a file:///");
	rd_fail("default-docker:\n  use-sigstore-attachments: maybe\n", "true or false");
	rd_fail("docker:\n  'quay.io/a:1':\n    lookaside: file:///x\n", "invalid docker scope");
	rd_fail("a: &x 1\nb: *x\n", "aliases");
	rd_fail("a: [1\n", "line");
	rd_fail("a: 1\na: 2\n", "given twice");
	rd_fail("default-docker:\n  lookaside: file:///a\n  sigstore: file:///b\n", "both given");
}

static void test_b64(void **state)
{
	char *out = NULL;
	size_t n = 0;
	assert_int_equal(image_b64_decode("aGVsbG8", &out, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	assert_int_equal(image_b64_decode("aGVsbG8=", &out, &n), 0);
	assert_int_equal(n, 5);
	free(out);
	assert_int_equal(image_b64_decode("a", &out, &n), -EINVAL);
	assert_int_equal(image_b64_decode("a=bc", &out, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes),	cmocka_unit_test(test_empty_scope_and_default),
		cmocka_unit_test(test_invalid), cmocka_unit_test(test_identities),
		cmocka_unit_test(test_payload), cmocka_unit_test(test_registries_d),
		cmocka_unit_test(test_b64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
