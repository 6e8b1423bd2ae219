/* image/www_auth.c: WWW-Authenticate challenges as registries send them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "image/image_int.h"

struct wa {
	struct image_auth_challenge *c;
	size_t n;
};

static int parse(const char *h, struct wa *w)
{
	cleanup_err struct err err = ERR_INIT;
	w->c = NULL;
	w->n = 0;
	return image_www_auth_parse(h, &w->c, &w->n, &err);
}

static void test_bearer(void **state)
{
	struct wa w;
	assert_int_equal(
	    parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		  "scope=\"repository:library/busybox:pull\"",
		  &w),
	    0);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.c[0].scheme, IMAGE_AUTH_BEARER);
	assert_string_equal(w.c[0].scheme_name, "Bearer");
	assert_string_equal(w.c[0].realm, "https://auth.docker.io/token");
	assert_string_equal(w.c[0].service, "registry.docker.io");
	assert_string_equal(w.c[0].scope, "repository:library/busybox:pull");
	assert_null(w.c[0].error);
	image_www_auth_free(w.c, w.n);
}

static void test_basic_and_case(void **state)
{
	struct wa w;
	assert_int_equal(parse("basic REALM=\"Registry Realm\"", &w), 0);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.c[0].scheme, IMAGE_AUTH_BASIC);
	assert_string_equal(w.c[0].realm, "Registry Realm");
	image_www_auth_free(w.c, w.n);

	assert_int_equal(parse("BEARER realm=token_server , service = reg", &w), 0);
	assert_int_equal(w.c[0].scheme, IMAGE_AUTH_BEARER);
	assert_string_equal(w.c[0].realm, "token_server");
	assert_string_equal(w.c[0].service, "reg");
	image_www_auth_free(w.c, w.n);
}

static void test_multiple(void **state)
{
	struct wa w;
	assert_int_equal(parse("Negotiate, Basic realm=\"a, b\", Bearer realm=\"https://x/t\","
			       "error=\"insufficient_scope\",scope=\"repository:a:pull,push\"",
			       &w),
			 0);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.c[0].scheme, IMAGE_AUTH_OTHER);
	assert_string_equal(w.c[0].scheme_name, "Negotiate");
	assert_int_equal(w.c[1].scheme, IMAGE_AUTH_BASIC);
	assert_string_equal(w.c[1].realm, "a, b");
	assert_int_equal(w.c[2].scheme, IMAGE_AUTH_BEARER);
	assert_string_equal(w.c[2].error, "insufficient_scope");
	assert_string_equal(w.c[2].scope, "repository:a:pull,push");
	image_www_auth_free(w.c, w.n);

	/* token68 then another challenge; unknown params skipped */
	assert_int_equal(parse("Negotiate abc+/def==, Bearer foo=bar, realm=r", &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.c[1].realm, "r");
	image_www_auth_free(w.c, w.n);
}

static void test_escapes(void **state)
{
	struct wa w;
	assert_int_equal(parse("Bearer realm=\"a\\\"b\\\\c\\d\"", &w), 0);
	assert_string_equal(w.c[0].realm, "a\"b\\cd");
	image_www_auth_free(w.c, w.n);
	assert_int_equal(parse("Bearer realm=\"\"", &w), 0);
	assert_string_equal(w.c[0].realm, "");
	image_www_auth_free(w.c, w.n);
}

static void test_junk(void **state)
{
	static const char *bad[] = {
		"",
		"   ",
		",,,",
		"Bearer realm=\"unterminated",
		"Bearer realm=\"x\" service=\"y\"",
		"Bearer service=x, realm=",
		"Bearer realm=http://x/t",
		"Bearer realm=\"a\", realm=\"b\"",
		"Bearer realm=\"a\\",
		"Bearer realm=\"a\tb\x01\"",
		"\"Bearer\"",
		"Bearer =x",
		"Bea(rer realm=x",
		"Bearer realm=x;y",
	};
	struct wa w;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = parse(bad[i], &w);
		if (r != -EINVAL)
			fail_msg("'%s' gave %d", bad[i], r);
	}
	assert_int_equal(parse(NULL, &w), -EINVAL);

	char big[IMAGE_WWW_AUTH_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &w), -EFBIG);

	char many[1024] = "";
	for (int i = 0; i < IMAGE_WWW_AUTH_CHALLENGES_MAX + 1; i++)
		strcat(many, "Basic realm=x, ");
	assert_int_equal(parse(many, &w), -EFBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bearer),	 cmocka_unit_test(test_basic_and_case),
		cmocka_unit_test(test_multiple), cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_junk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
