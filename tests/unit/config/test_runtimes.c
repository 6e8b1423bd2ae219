/* config: the [runtimes.<name>] handler table -- defaults, the implied
 * handler of `runtime`, default_runtime, bad values, drop-in replacement and
 * the config_to_toml round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

/* Load `text` as the one config file (no drop-ins). */
static int load_text(struct config *cfg, const char *text, struct err *err)
{
	char path[] = "/tmp/ocid-rt-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char *argv[] = { "--config", path, "--config-dir", "/nonexistent-ocid-dir" };
	config_init(cfg);
	int r = config_load(cfg, 4, argv, err);
	unlink(path);
	return r;
}

static void test_implied(void **state)
{
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(
	    load_text(&c, "runtime = \"/usr/bin/myrt\"\nexec_fifo_start = false\n", &err), 0);
	assert_int_equal(c.n_runtimes, 1);
	assert_string_equal(c.runtimes[0].name, "myrt");
	assert_string_equal(c.runtimes[0].path, "/usr/bin/myrt");
	assert_false(c.runtimes[0].exec_fifo_start);
	assert_true(c.runtimes[0].implied);
	assert_string_equal(c.default_runtime, "myrt");
	assert_ptr_equal(config_runtime_find(&c, ""), &c.runtimes[0]);
	assert_ptr_equal(config_runtime_find(&c, "myrt"), &c.runtimes[0]);
	assert_null(config_runtime_find(&c, "runsc"));
	config_done(&c);
}

static void test_table(void **state)
{
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	const char *text = "runtime = \"/usr/bin/runc\"\n"
			   "[runtimes.runc]\npath = \"/usr/bin/runc\"\nexec_fifo_start = true\n"
			   "[runtimes.runsc]\npath = \"/usr/bin/runsc\"\nroot = \"/run/runsc\"\n"
			   "type = \"oci\"\nargs = [\"--ignore-cgroups\", \"--network=host\"]\n"
			   "monitor_env = [\"A=b\"]\nallowed_annotations = [\"dev.gvisor.\"]\n"
			   "privileged_without_host_devices = true\nno_pivot_root = true\n";
	assert_int_equal(load_text(&c, text, &err), 0);
	assert_int_equal(c.n_runtimes, 2);
	assert_string_equal(c.default_runtime, "runc");
	const struct config_runtime *rt = config_runtime_find(&c, "runsc");
	assert_non_null(rt);
	assert_string_equal(rt->path, "/usr/bin/runsc");
	assert_string_equal(rt->root, "/run/runsc");
	assert_int_equal(strv_len(rt->args), 2);
	assert_string_equal(rt->args[1], "--network=host");
	assert_string_equal(rt->monitor_env[0], "A=b");
	assert_string_equal(rt->allowed_annotations[0], "dev.gvisor.");
	assert_true(rt->privileged_without_host_devices && rt->no_pivot_root);
	assert_false(rt->exec_fifo_start || rt->implied);
	assert_true(config_runtime_find(&c, "")->exec_fifo_start);
	cleanup_free char *names = config_runtime_names(&c);
	assert_string_equal(names, "'runc', 'runsc'");

	/* The printed config reads back to the same handlers. */
	cleanup_free char *a = config_to_toml(&c);
	assert_non_null(strstr(a, "[runtimes.runsc]\n"));
	struct config again;
	assert_int_equal(load_text(&again, a, &err), 0);
	cleanup_free char *b = config_to_toml(&again);
	/* (the --config comment names each its own temporary file) */
	assert_string_equal(strstr(a, "\n# Runtime handlers"), strstr(b, "\n# Runtime handlers"));
	config_done(&again);
	config_done(&c);
}

static void test_default_runtime(void **state)
{
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(load_text(&c,
				   "default_runtime = \"crun\"\n[runtimes.runc]\n[runtimes.crun]\n"
				   "path = \"/usr/bin/crun\"\n",
				   &err),
			 0);
	assert_string_equal(config_runtime_find(&c, NULL)->name, "crun");
	/* The container manager's runtime and start follow the default handler. */
	assert_string_equal(c.runtime, "/usr/bin/crun");
	assert_false(c.exec_fifo_start);
	/* A handler without path runs the program of its name. */
	assert_non_null(strstr(config_runtime_find(&c, "runc")->path, "runc"));
	/* ... and allows CDI's annotations only. */
	char **allowed = config_runtime_find(&c, "runc")->allowed_annotations;
	assert_string_equal(allowed[0], "cdi.k8s.io/");
	assert_null(allowed[1]);
	config_done(&c);

	/* A default handler's args and root are its containers'. */
	assert_int_equal(load_text(&c, "[runtimes.runsc]\nargs = [\"--x\"]\nroot = \"/r\"\n", &err),
			 0);
	config_done(&c);
	/* privileged_without_host_devices is applied per container, also
	 * for the default handler. */
	assert_int_equal(
	    load_text(&c, "[runtimes.runsc]\nprivileged_without_host_devices = true\n", &err), 0);
	assert_true(config_runtime_find(&c, NULL)->privileged_without_host_devices);
	config_done(&c);
	err_done(&err);

	assert_int_equal(load_text(&c, "default_runtime = \"kata\"\n[runtimes.runc]\n", &err),
			 -EINVAL);
	assert_string_equal(err_str(&err),
			    "default_runtime 'kata' is not a configured handler ('runc')");
	config_done(&c);
}

static void test_bad_values(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "[runtimes.runsc]\ntype = \"vm\"\n",
		  "runtimes.runsc.type: 'vm' is not supported" },
		{ "[runtimes.runsc]\nargs = \"--x\"\n", "runtimes.runsc.args: expected an array" },
		{ "[runtimes.runsc]\nargs = [1]\n", "runtimes.runsc.args: expected a string" },
		{ "[runtimes.runsc]\nroot = \"rel\"\n", "runtimes.runsc.root:" },
		{ "[runtimes.runsc]\nno_pivot_root = 1\n", "expected true or false" },
		{ "[runtimes.runsc]\nmonitor_env = [\"NOEQ\"]\n", "'NOEQ' is not NAME=VALUE" },
		{ "[runtimes.Bad_Name]\n", "'Bad_Name' is not a handler name" },
		{ "runtimes = 3\n", "runtimes: expected a table" },
		{ "[runtimes]\nx = 3\n", "runtimes: expected a table" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct config c;
		cleanup_err struct err err = ERR_INIT;
		assert_int_equal(load_text(&c, cases[i].text, &err), -EINVAL);
		if (!strstr(err_str(&err), cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err_str(&err), cases[i].msg);
		assert_non_null(strstr(err_str(&err), "/tmp/ocid-rt-")); /* FILE:LINE:COL */
		config_done(&c);
	}
}

/* A later file's [runtimes.x] replaces x whole; other handlers stay. */
static void test_replace(void **state)
{
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	config_init(&c);
	const char *a = "[runtimes.runsc]\nargs = [\"--a\"]\n[runtimes.runc]\n";
	const char *b = "[runtimes.runsc]\nno_pivot_root = true\n";
	assert_int_equal(config_load_text(&c, "a.conf", a, strlen(a), &err), 0);
	assert_int_equal(config_load_text(&c, "b.conf", b, strlen(b), &err), 0);
	assert_int_equal(c.n_runtimes, 2);
	const struct config_runtime *rt = config_runtime_find(&c, "runsc");
	assert_int_equal(strv_len(rt->args), 0);
	assert_true(rt->no_pivot_root);
	config_done(&c);
}

int main(void)
{
	log_level_set(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_implied),		cmocka_unit_test(test_table),
		cmocka_unit_test(test_default_runtime), cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
