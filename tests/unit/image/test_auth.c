/* Credentials: auth.json lookup, base64 "user:password", token cache and
 * token responses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "image/image_int.h"

/* base64("alice:s3cret") and base64("bob:pw:with:colons") */
#define ALICE "YWxpY2U6czNjcmV0"
#define BOB "Ym9iOnB3OndpdGg6Y29sb25z"

static int find(const char *text, const char *reg, const char *path, struct image_creds *c)
{
	struct err err = ERR_INIT;
	int r = image_authfile_find("auth.json", text, strlen(text), reg, path, c, &err);
	err_done(&err);
	return r;
}

static void test_decode(void **state)
{
	struct image_creds c = { 0 };
	struct err err = ERR_INIT;
	assert_int_equal(image_creds_decode(ALICE, &c, &err), 0);
	assert_string_equal(c.username, "alice");
	assert_string_equal(c.password, "s3cret");
	image_creds_done(&c);
	assert_int_equal(image_creds_decode(BOB, &c, &err), 0);
	assert_string_equal(c.username, "bob");
	assert_string_equal(c.password, "pw:with:colons");
	image_creds_done(&c);
	/* no colon, bad base64, empty user */
	assert_int_equal(image_creds_decode("YWxpY2U=", &c, &err), -EINVAL);
	assert_null(strstr(err_str(&err), "alice"));
	assert_int_equal(image_creds_decode("!!!!", &c, &err), -EINVAL);
	assert_int_equal(image_creds_decode("OnB3", &c, &err), -EINVAL); /* ":pw" */
	assert_int_equal(image_creds_decode("", &c, &err), -EINVAL);
	/* padding only at the end, at most two (found by fuzzing) */
	assert_int_equal(image_creds_decode("Y2U6========", &c, &err), -EINVAL);
	assert_int_equal(image_creds_decode("YQ==YTpi", &c, &err), -EINVAL);
	assert_int_equal(image_creds_decode("YTpiYw==", &c, &err), 0);
	assert_string_equal(c.password, "bc");
	image_creds_done(&c);
	assert_true(image_creds_empty(&c));
	err_done(&err);
}

static void test_find_specific(void **state)
{
	const char *t = "{\"auths\": {"
			"\"localhost:5000\": {\"auth\": \"" ALICE "\"},"
			"\"localhost:5000/team\": {\"auth\": \"" BOB "\"},"
			"\"https://index.docker.io/v1/\": {\"auth\": \"" BOB "\"},"
			"\"quay.io\": {\"identitytoken\": \"idt\"}}}";
	struct image_creds c = { 0 };
	assert_int_equal(find(t, "localhost:5000", "other/app", &c), 1);
	assert_string_equal(c.username, "alice");
	image_creds_done(&c);
	assert_int_equal(find(t, "localhost:5000", "team/app", &c), 1);
	assert_string_equal(c.username, "bob");
	image_creds_done(&c);
	/* "team" is not a parent of "teammates" */
	assert_int_equal(find(t, "localhost:5000", "teammates/app", &c), 1);
	assert_string_equal(c.username, "alice");
	image_creds_done(&c);
	assert_int_equal(find(t, "docker.io", "library/busybox", &c), 1);
	assert_string_equal(c.username, "bob");
	image_creds_done(&c);
	assert_int_equal(find(t, "quay.io", "x/y", &c), 1);
	assert_null(c.username);
	assert_string_equal(c.identity_token, "idt");
	image_creds_done(&c);
	/* another port is another registry */
	assert_int_equal(find(t, "localhost:5001", "x", &c), 0);
	assert_int_equal(find(t, "localhost", "x", &c), 0);
	assert_int_equal(find(t, "localhost:5000", NULL, &c), 1);
	assert_string_equal(c.username, "alice");
	image_creds_done(&c);
}

static void test_find_errors(void **state)
{
	struct image_creds c = { 0 };
	assert_int_equal(find("{}", "a.io", "x", &c), 0);
	assert_int_equal(find("{\"auths\": null}", "a.io", "x", &c), 0);
	assert_int_equal(find("{\"auths\": []}", "a.io", "x", &c), -EINVAL);
	assert_int_equal(find("{\"auths\": {\"a.io\": 3}}", "a.io", "x", &c), -EINVAL);
	assert_int_equal(find("{\"auths\": {\"a.io\": {\"auth\": 3}}}", "a.io", "x", &c), -EINVAL);
	assert_int_equal(find("{\"auths\": {\"a.io\": {\"auth\": \"@@\"}}}", "a.io", "x", &c),
			 -EINVAL);
	assert_int_equal(find("not json", "a.io", "x", &c), -EINVAL);
	/* an entry with nothing usable is no entry */
	assert_int_equal(find("{\"auths\": {\"a.io\": {}}}", "a.io", "x", &c), 0);
	assert_true(image_creds_empty(&c));
}

static void test_lookup_files(void **state)
{
	char dir[] = "/tmp/ocid-test-auth-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *a = xasprintf("%s/auth.json", dir), *b = xasprintf("%s/config.json", dir);
	char *missing = xasprintf("%s/missing.json", dir);
	FILE *f = fopen(a, "w");
	fputs("{\"auths\": {\"one.io\": {\"auth\": \"" ALICE "\"}}}", f);
	fclose(f);
	f = fopen(b, "w");
	fputs("{\"auths\": {\"two.io\": {\"auth\": \"" BOB "\"}, \"one.io\": {\"auth\": \"" BOB
	      "\"}}}",
	      f);
	fclose(f);
	char *paths[] = { missing, a, b, NULL };
	struct image_creds c = { 0 };
	struct err err = ERR_INIT;
	assert_int_equal(image_authfile_lookup(paths, "one.io", "x", &c, &err), 1);
	assert_string_equal(c.username, "alice");
	image_creds_done(&c);
	assert_int_equal(image_authfile_lookup(paths, "two.io", "x", &c, &err), 1);
	assert_string_equal(c.username, "bob");
	image_creds_done(&c);
	assert_int_equal(image_authfile_lookup(paths, "three.io", "x", &c, &err), 0);
	unlink(a);
	unlink(b);
	rmdir(dir);
	free(a);
	free(b);
	free(missing);
	err_done(&err);
}

static void test_token_cache(void **state)
{
	struct image_token_cache *c = image_token_cache_new();
	assert_null(image_token_cache_get(c, "k", 100));
	image_token_cache_put(c, "k", "tok1", 200);
	char *t = image_token_cache_get(c, "k", 100);
	assert_string_equal(t, "tok1");
	free(t);
	assert_null(image_token_cache_get(c, "other", 100));
	/* expired at 200: gone, and dropped */
	assert_null(image_token_cache_get(c, "k", 200));
	assert_null(image_token_cache_get(c, "k", 100));
	image_token_cache_put(c, "k", "tok2", 300);
	image_token_cache_put(c, "k", "tok3", 400);
	t = image_token_cache_get(c, "k", 350);
	assert_string_equal(t, "tok3");
	free(t);
	/* bounded: when full, the entry expiring first goes */
	for (int i = 0; i < IMAGE_TOKEN_CACHE_MAX + 50; i++) {
		char key[32];
		snprintf(key, sizeof(key), "key%d", i);
		image_token_cache_put(c, key, "x", 1000 + i);
	}
	t = image_token_cache_get(c, "key299", 10);
	assert_string_equal(t, "x");
	free(t);
	assert_null(image_token_cache_get(c, "key0", 10));
	t = image_token_cache_get(c, "k", 350);
	assert_null(t);
	image_token_cache_free(c);
}

static void test_token_parse(void **state)
{
	struct err err = ERR_INIT;
	char *tok = NULL;
	int64_t exp = 0;
	const char *a = "{\"token\": \"abc\", \"expires_in\": 300}";
	assert_int_equal(image_token_parse(a, strlen(a), 1000, &tok, &exp, &err), 0);
	assert_string_equal(tok, "abc");
	assert_true(exp > 1000 && exp <= 1300);
	free(tok);
	const char *b = "{\"access_token\": \"xyz\"}";
	assert_int_equal(image_token_parse(b, strlen(b), 1000, &tok, &exp, &err), 0);
	assert_string_equal(tok, "xyz");
	assert_true(exp > 1000 && exp <= 1060);
	free(tok);
	const char *c = "{\"expires_in\": 5}";
	assert_int_equal(image_token_parse(c, strlen(c), 0, &tok, &exp, &err), -EINVAL);
	/* a token must fit in a header: no spaces, no CR/LF */
	const char *e = "{\"token\": \"a\\r\\nX-Evil: 1\"}";
	assert_int_equal(image_token_parse(e, strlen(e), 0, &tok, &exp, &err), -EINVAL);
	const char *f = "{\"token\": \"a b\"}";
	assert_int_equal(image_token_parse(f, strlen(f), 0, &tok, &exp, &err), -EINVAL);
	assert_true(image_token_valid("eyJhbGciOi.x-y_z~+/="));
	assert_false(image_token_valid(""));
	const char *d = "{\"token\": 5}";
	assert_int_equal(image_token_parse(d, strlen(d), 0, &tok, &exp, &err), -EINVAL);
	err_done(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),	    cmocka_unit_test(test_find_specific),
		cmocka_unit_test(test_find_errors), cmocka_unit_test(test_lookup_files),
		cmocka_unit_test(test_token_cache), cmocka_unit_test(test_token_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
