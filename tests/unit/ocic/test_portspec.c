/* The [LOCAL:]REMOTE operands of ocic pod port-forward (portspec.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "portspec.h"

static void ok(const char *s, unsigned local, unsigned remote)
{
	struct ocic_portspec p = { 1, 1 };

	assert_int_equal(ocic_portspec_parse(s, &p), 0);
	assert_int_equal(p.local, local);
	assert_int_equal(p.remote, remote);
}

static void test_good(void **state)
{
	(void)state;
	ok("8080", 8080, 8080); /* kubectl: the same port locally */
	ok("5000:80", 5000, 80);
	ok(":80", 0, 80); /* a free port */
	ok("0:80", 0, 80);
	ok("65535:1", 65535, 1);
	ok("00080", 80, 80);
}

static void test_bad(void **state)
{
	const char *bad[] = { "",      "0",	  ":",	  "80:",  "80:0",    "x",     "8o",
			      "65536", "1:65536", "-1",	  "+80",  " 80",     "80 ",   "1:2:3",
			      "::80",  "123456",  "0x50", "80:x", "99999:1", "1:080a" };
	struct ocic_portspec p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ocic_portspec_parse(bad[i], &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
