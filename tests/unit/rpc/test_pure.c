/* Unit tests for rpc's pure helpers: deframer, grpc-timeout, percent-encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "rpc/rpc.h"

static const uint8_t two_msgs[] = { 0, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0 };

/* Feed `len` bytes in pieces of `step`; count whole messages. */
static int feed_split(const uint8_t *in, size_t len, size_t step)
{
	struct rpc_deframer d;
	rpc_deframer_init(&d, 10);
	int msgs = 0;
	size_t i = 0;
	while (i < len) {
		size_t n = len - i < step ? len - i : step, used;
		int r = rpc_deframer_feed(&d, in + i, n, &used);
		assert_true(r >= 0);
		i += used;
		if (r == 1) {
			size_t l;
			uint8_t *m = rpc_deframer_take(&d, &l);
			assert_int_equal(l, msgs == 0 ? 3 : 0);
			free(m);
			msgs++;
		}
	}
	assert_true(rpc_deframer_idle(&d));
	rpc_deframer_done(&d);
	return msgs;
}

static void test_deframe_splits(void **state)
{
	for (size_t step = 1; step <= sizeof(two_msgs); step++)
		assert_int_equal(feed_split(two_msgs, sizeof(two_msgs), step), 2);
}

static void test_deframe_errors(void **state)
{
	struct rpc_deframer d;
	size_t used;
	const uint8_t comp[] = { 1, 0, 0, 0, 1, 'x' };
	rpc_deframer_init(&d, 10);
	assert_int_equal(rpc_deframer_feed(&d, comp, sizeof(comp), &used), -ENOTSUP);
	rpc_deframer_done(&d);
	const uint8_t big[] = { 0, 0, 0, 0, 11 };
	rpc_deframer_init(&d, 10);
	assert_int_equal(rpc_deframer_feed(&d, big, sizeof(big), &used), -EMSGSIZE);
	assert_int_equal(d.declared, 11);
	rpc_deframer_done(&d);
}

static void test_timeout(void **state)
{
	uint64_t ns;
	assert_int_equal(rpc_timeout_parse("1H", 2, &ns), 0);
	assert_true(ns == 3600ull * 1000000000ull);
	assert_int_equal(rpc_timeout_parse("2M", 2, &ns), 0);
	assert_true(ns == 120ull * 1000000000ull);
	assert_int_equal(rpc_timeout_parse("1S", 2, &ns), 0);
	assert_true(ns == 1000000000ull);
	assert_int_equal(rpc_timeout_parse("100m", 4, &ns), 0);
	assert_true(ns == 100000000ull);
	assert_int_equal(rpc_timeout_parse("5u", 2, &ns), 0);
	assert_true(ns == 5000ull);
	assert_int_equal(rpc_timeout_parse("20n", 3, &ns), 0);
	assert_true(ns == 20ull);
	assert_int_equal(rpc_timeout_parse("99999999H", 9, &ns), 0);
	assert_int_equal(rpc_timeout_parse("123456789S", 10, &ns), -EINVAL);
	assert_int_equal(rpc_timeout_parse("S", 1, &ns), -EINVAL);
	assert_int_equal(rpc_timeout_parse("1x", 2, &ns), -EINVAL);
	assert_int_equal(rpc_timeout_parse("-1S", 3, &ns), -EINVAL);
	assert_int_equal(rpc_timeout_parse("1 S", 3, &ns), -EINVAL);
}

static void test_pct(void **state)
{
	const char *in = "unknown method /a%b\n\xc3\xa9";
	char *e = rpc_pct_encode(in);
	assert_string_equal(e, "unknown method /a%25b%0A%C3%A9");
	char *d = rpc_pct_decode(e, strlen(e));
	assert_string_equal(d, in);
	free(e);
	free(d);
	d = rpc_pct_decode("%4%zz%", 6);
	assert_string_equal(d, "%4%zz%");
	free(d);
	assert_string_equal(rpc_code_name(RPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
	assert_string_equal(rpc_code_name(RPC_UNAUTHENTICATED), "UNAUTHENTICATED");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deframe_splits),
		cmocka_unit_test(test_deframe_errors),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_pct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
