/* base/str: the checked integer parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"

static void test_to_u64(void **state)
{
	uint64_t v = 7;
	assert_int_equal(str_to_u64("0", 10, UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(str_to_u64("18446744073709551615", 10, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(str_to_u64("18446744073709551616", 10, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(str_to_u64("99999999999999999999999", 10, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(str_to_u64("000001ffffffffff", 16, UINT64_MAX, &v), 0);
	assert_true(v == 0x1ffffffffffULL);
	assert_int_equal(str_to_u64("ffffffffffffffff", 16, UINT64_MAX, &v), 0);
	assert_int_equal(str_to_u64("1ffffffffffffffff", 16, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(str_to_u64("600", 10, 599, &v), -ERANGE);
	v = 7;
	/* what atoi and strtoul let through */
	const char *bad[] = { "", " 1", "1 ", "+1", "-1", "1x", "0x10", "1\n", "abc", "1.5" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (str_to_u64(bad[i], 10, UINT64_MAX, &v) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(str_to_u64(NULL, 10, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(str_to_u64("g", 16, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(str_to_u64("1", 8, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_to_i64(void **state)
{
	int64_t v = 7;
	assert_int_equal(str_to_i64("-1000", -1000, 1000, &v), 0);
	assert_int_equal(v, -1000);
	assert_int_equal(str_to_i64("-1001", -1000, 1000, &v), -ERANGE);
	assert_int_equal(str_to_i64("1001", -1000, 1000, &v), -ERANGE);
	assert_int_equal(str_to_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(str_to_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(str_to_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(str_to_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
	const char *bad[] = { "", "-", "--1", "+1", " 1", "1 ", "1\n", "0x1", "-a" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (str_to_i64(bad[i], INT64_MIN, INT64_MAX, &v) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(str_to_i64(NULL, 0, 1, &v), -EINVAL);
	assert_true(v == INT64_MIN);
}

static void test_strv_copy(void **state)
{
	(void)state;
	char *src[] = { "a", "b", NULL };
	cleanup(strv_free) char **c = strv_copy(src);
	assert_int_equal(strv_len(c), 2);
	assert_string_equal(c[0], "a");
	assert_string_equal(c[1], "b");
	assert_ptr_not_equal(c[0], src[0]);
	cleanup(strv_free) char **e = strv_copy(NULL);
	assert_non_null(e);
	assert_null(e[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_u64),
		cmocka_unit_test(test_to_i64),
		cmocka_unit_test(test_strv_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
