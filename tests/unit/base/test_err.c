/* base/err: the error contract's helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"

static void test_set_wrap(void **state)
{
	cleanup_err struct err err = ERR_INIT;
	assert_string_equal(err_str(&err), "unknown error");
	assert_int_equal(err_set(&err, -ENOENT, "open '%s'", "x"), -ENOENT);
	assert_string_equal(err_str(&err), "open 'x': No such file or directory");
	assert_int_equal(err_wrap(&err, "pull %s", "y"), -ENOENT);
	assert_string_equal(err_str(&err), "pull y: open 'x': No such file or directory");
	assert_int_equal(err_msg(NULL, -EINVAL, "nowhere"), -EINVAL);
}

static void test_move(void **state)
{
	cleanup_err struct err dst = ERR_INIT;
	cleanup_err struct err src = ERR_INIT;
	(void)err_msg(&dst, -EIO, "old");
	(void)err_msg(&src, -EEXIST, "new");
	assert_int_equal(err_move(&dst, &src), -EEXIST);
	assert_string_equal(err_str(&dst), "new");
	assert_null(src.msg);
	assert_int_equal(src.code, 0);

	/* A caller may pass no err at all: the code still comes back. */
	(void)err_msg(&src, -EBUSY, "dropped");
	assert_int_equal(err_move(NULL, &src), -EBUSY);
	assert_null(src.msg);
	assert_int_equal(src.code, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_wrap),
		cmocka_unit_test(test_move),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
