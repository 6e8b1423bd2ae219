/* Exit file: format/parse round trip, atomic write + read, and every
 * kind of malformed content. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "mon/mon.h"

static char tmp[64];

static int setup(void **state)
{
	strcpy(tmp, "/tmp/ocid-mon-exit-XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trip(void **state)
{
	const struct mon_exit cases[] = {
		{ 0, 0, false, 0 },
		{ 3, 0, false, 1795379475145634774 },
		{ 137, 9, true, INT64_MAX },
		{ 255, 0, false, 1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[MON_EXIT_MAX_SIZE];
		int n = mon_exit_format(&cases[i], buf, sizeof(buf));
		assert_true(n > 0);
		struct mon_exit e;
		struct err err = ERR_INIT;
		assert_int_equal(mon_exit_parse(buf, (size_t)n, &e, &err), 0);
		assert_int_equal(e.exit_code, cases[i].exit_code);
		assert_int_equal(e.signal, cases[i].signal);
		assert_int_equal(e.oom, cases[i].oom);
		assert_true(e.finished_ns == cases[i].finished_ns);
		/* Every proper prefix is malformed. */
		for (int k = 0; k < n; k++)
			assert_int_equal(mon_exit_parse(buf, (size_t)k, &e, NULL), -EBADMSG);
	}
	char small[20];
	assert_int_equal(mon_exit_format(&cases[1], small, sizeof(small)), -ENOBUFS);
}

static void test_write_read(void **state)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/exit", tmp);
	struct err err = ERR_INIT;
	struct mon_exit e = { 137, 9, true, 1795379475145634774 }, got;
	assert_int_equal(mon_read_exit(path, &got, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), path));
	err_done(&err);
	assert_int_equal(mon_exit_write(path, &e, &err), 0);
	assert_int_equal(mon_read_exit(path, &got, &err), 0);
	assert_int_equal(got.exit_code, 137);
	assert_true(got.oom);
	e.exit_code = 1;
	e.signal = 0;
	assert_int_equal(mon_exit_write(path, &e, &err), 0); /* replaces */
	assert_int_equal(mon_read_exit(path, &got, &err), 0);
	assert_int_equal(got.exit_code, 1);
	assert_int_equal(got.signal, 0);
	/* No temporary file is left beside it. */
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) = 1", tmp);
	assert_int_equal(system(cmd), 0);
	/* Too large a file is refused without reading it all. */
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 1000; i++)
		fputs("exit_code 1\n", f);
	fclose(f);
	assert_int_equal(mon_read_exit(path, &got, &err), -EBADMSG);
	err_done(&err);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"ocimon-exit 2\nexit_code 0\nsignal 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code 256\nsignal 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code -1\nsignal 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code 0\nsignal 65\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code 0\nsignal 0\noom 2\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code 0\nsignal 0\noom 0\nfinished_ns -1\n",
		"ocimon-exit 1\nexit_code 0\nsignal 0\noom 0\nfinished_ns 99999999999999999999\n",
		"ocimon-exit 1\nexit_code 0\nsignal 0\noom 0\nfinished_ns 1",
		"ocimon-exit 1\nexit_code 0\nsignal 0\noom 0\nfinished_ns 1\nextra 1\n",
		"ocimon-exit 1\nsignal 0\nexit_code 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code  0\nsignal 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code 0x1\nsignal 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code \nsignal 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_codes 0\nsignal 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\r\nexit_code 0\nsignal 0\noom 0\nfinished_ns 1\n",
		"ocimon-exit 1\nexit_code 0\nsignal 0\noom 0\nfinished_ns +1\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct mon_exit e;
		struct err err = ERR_INIT;
		assert_int_equal(mon_exit_parse(bad[i], strlen(bad[i]), &e, &err), -EBADMSG);
		assert_non_null(strstr(err_str(&err), "exit file"));
		err_done(&err);
	}
	/* An embedded NUL is not a digit. */
	const char nul[] = "ocimon-exit 1\nexit_code 0\0\nsignal 0\noom 0\nfinished_ns 1\n";
	struct mon_exit e;
	assert_int_equal(mon_exit_parse(nul, sizeof(nul) - 1, &e, NULL), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
