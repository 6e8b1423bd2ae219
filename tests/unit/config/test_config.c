/* config: defaults, merge order of file < drop-ins < flags, errors naming
 * file:line, unknown keys, and the config_to_toml round trip. */
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
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static char tmpdir[64];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/ocid-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *tpath(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void write_file(const char *name, const char *text)
{
	cleanup_free char *p = tpath(name);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Load with --config NAME --config-dir DIR plus extra flags. */
static int load(struct config *cfg, const char *conf, const char *dir, const char *const *extra,
		struct err *err)
{
	cleanup_free char *c = tpath(conf), *d = tpath(dir);
	char *argv[32] = { "--config", c, "--config-dir", d };
	int argc = 4;
	for (size_t i = 0; extra && extra[i]; i++)
		argv[argc++] = (char *)extra[i];
	config_init(cfg);
	return config_load(cfg, argc, argv, err);
}

static void test_defaults(void **state)
{
	struct config c;
	config_init(&c);
	assert_string_equal(c.config_file, "/etc/ocid/ocid.conf");
	assert_string_equal(c.config_dir, "/etc/ocid/ocid.conf.d");
	assert_string_equal(c.root, "/var/lib/ocid");
	assert_string_equal(c.runroot, "/run/ocid");
	assert_string_equal(c.listen, "/run/ocid/ocid.sock");
	assert_int_equal(c.log_level, LOG_INFO);
	assert_string_equal(c.runtime, "runc");
	assert_string_equal(c.cni_config_dir, "/etc/cni/net.d");
	assert_int_equal(strv_len(c.cni_plugin_dirs), 2);
	assert_string_equal(c.cni_plugin_dirs[0], "/opt/cni/bin");
	assert_string_equal(c.cni_plugin_dirs[1], "/usr/lib/cni");
	assert_string_equal(c.registries_conf, "/etc/containers/registries.conf");
	assert_string_equal(c.signature_policy, "/etc/containers/policy.json");
	assert_string_equal(c.stream_address, "127.0.0.1");
	assert_int_equal(c.stream_port, 0);
	assert_int_equal(c.pull_progress_timeout_s, 0);
	assert_int_equal(c.max_recv_msg_size, 16 << 20);
	assert_int_equal(c.max_send_msg_size, 80 << 20);
	assert_int_equal(c.workers, 16);
	assert_int_equal(c.shutdown_grace_s, 3);
	assert_false(c.enable_debug_rpc);
	config_done(&c);
	config_done(NULL);
}

static void test_merge_order(void **state)
{
	write_file("ocid.conf", "stream_port = 1111\npull_progress_timeout = 7\nworkers = 3\n"
				"log_level = \"warn\"\n");
	cleanup_free char *dd = tpath("conf.d");
	assert_int_equal(mkdir(dd, 0755), 0);
	write_file("conf.d/20-b.conf", "stream_port = 3333\n");
	write_file("conf.d/10-a.conf", "stream_port = 2222\npull_progress_timeout = \"8s\"\n");
	write_file("conf.d/ignored.txt", "stream_port = 9999\n");
	write_file("conf.d/.hidden.conf", "stream_port = 9998\n");

	struct config c;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(load(&c, "ocid.conf", "conf.d", NULL, &err), 0);
	assert_int_equal(c.stream_port, 3333);		/* 20-b after 10-a */
	assert_int_equal(c.pull_progress_timeout_s, 8); /* drop-in over file */
	assert_int_equal(c.workers, 3);			/* file over default */
	assert_int_equal(c.log_level, LOG_WARN);
	assert_int_equal(c.max_recv_msg_size, 16 << 20); /* default */
	config_done(&c);

	const char *flags[] = { "--stream-port", "4444", "--log-level=debug", "--workers=5", NULL };
	assert_int_equal(load(&c, "ocid.conf", "conf.d", flags, &err), 0);
	assert_int_equal(c.stream_port, 4444);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.workers, 5);
	assert_int_equal(c.pull_progress_timeout_s, 8);
	assert_int_equal(strv_len(c.flags), 8);

	/* SIGHUP: files change, flags stay on top */
	write_file("conf.d/30-c.conf",
		   "workers = 9\nstream_port = 5555\nshutdown_grace = \"1m\"\n");
	struct config fresh;
	assert_int_equal(config_reload(&c, &fresh, &err), 0);
	assert_int_equal(fresh.shutdown_grace_s, 60);
	assert_int_equal(fresh.workers, 5);
	assert_int_equal(fresh.stream_port, 4444);
	config_done(&fresh);
	config_done(&c);
}

static void test_missing_files_and_section(void **state)
{
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(load(&c, "none.conf", "none.d", NULL, &err), 0);
	assert_int_equal(c.workers, 16);
	config_done(&c);

	write_file("sec.conf", "[ocid]\nworkers = 7\ncni_plugin_dir = [\"/x\", \"/y\", \"/z\"]\n"
			       "max_send_msg_size = \"1MiB\"\nenable_debug_rpc = true\n");
	assert_int_equal(load(&c, "sec.conf", "none.d", NULL, &err), 0);
	assert_int_equal(c.workers, 7);
	assert_int_equal(strv_len(c.cni_plugin_dirs), 3);
	assert_int_equal(c.max_send_msg_size, 1 << 20);
	assert_true(c.enable_debug_rpc);
	config_done(&c);

	const char *flags[] = { "--cni-plugin-dir", "/p:/q", "--enable-debug-rpc=false", NULL };
	assert_int_equal(load(&c, "sec.conf", "none.d", flags, &err), 0);
	assert_int_equal(strv_len(c.cni_plugin_dirs), 2);
	assert_string_equal(c.cni_plugin_dirs[1], "/q");
	assert_false(c.enable_debug_rpc);
	config_done(&c);
}

static void expect_error(const char *conf_text, const char *const *flags, const char *want)
{
	if (conf_text)
		write_file("err.conf", conf_text);
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	int r = load(&c, conf_text ? "err.conf" : "none.conf", "none.d", flags, &err);
	cleanup_free char *full = xasprintf("%s/%s", tmpdir, want);
	if (r != -EINVAL || (strcmp(err_str(&err), want) != 0 && strcmp(err_str(&err), full) != 0))
		fail_msg("r=%d got \"%s\", want \"%s\"", r, err_str(&err), want);
	config_done(&c);
}

static void test_errors(void **state)
{
	expect_error("# ok\nlog_level = \"info\"\nroot = [unterminated\n", NULL,
		     "err.conf:3:9: invalid value 'unterminated'");
	expect_error(
	    "\nlog_level = \"chatty\"\n", NULL,
	    "err.conf:2:13: log_level: invalid log level 'chatty' (expected error, warn, info, debug or trace)");
	expect_error("stream_port = 70000\n", NULL,
		     "err.conf:1:15: stream_port: 70000 is out of range [0, 65535]");
	expect_error("workers = \"x\"\n", NULL,
		     "err.conf:1:11: workers: expected an integer, got string");
	expect_error("workers = 0\n", NULL, "err.conf:1:11: workers: 0 is out of range [1, 1024]");
	expect_error("stream_port = -1\n", NULL,
		     "err.conf:1:15: stream_port: expected a non-negative integer");
	expect_error("root = 5\n", NULL, "err.conf:1:8: root: expected a string, got integer");
	expect_error("root = \"\"\n", NULL, "err.conf:1:8: root: expected a non-empty string");
	expect_error("enable_debug_rpc = \"yes\"\n", NULL,
		     "err.conf:1:20: enable_debug_rpc: expected true or false, got string");
	expect_error(
	    "pull_progress_timeout = \"5 min\"\n", NULL,
	    "err.conf:1:25: pull_progress_timeout: invalid duration '5 min' (seconds, or e.g. \"30s\", \"5m\", \"1h\")");
	expect_error("cni_plugin_dir = [1]\n", NULL,
		     "err.conf:1:18: cni_plugin_dir: expected an array of non-empty strings");

	const char *unknown[] = { "--foo", NULL };
	expect_error(NULL, unknown, "unknown flag --foo");
	const char *unknown_eq[] = { "--foo=1", NULL };
	expect_error(NULL, unknown_eq, "unknown flag --foo");
	const char *novalue[] = { "--root", NULL };
	expect_error(NULL, novalue, "flag --root needs a value");
	const char *positional[] = { "extra", NULL };
	expect_error(NULL, positional, "unexpected argument 'extra'");
	const char *range[] = { "--stream-port=65536", NULL };
	expect_error(NULL, range, "flag --stream-port: 65536 is out of range [0, 65535]");
	const char *dur[] = { "--pull-progress-timeout", "10x", NULL };
	expect_error(
	    NULL, dur,
	    "flag --pull-progress-timeout: invalid duration '10x' (seconds, or e.g. \"30s\", \"5m\", \"1h\")");

	/* a drop-in error names the drop-in */
	cleanup_free char *dd = tpath("bad.d");
	assert_int_equal(mkdir(dd, 0755), 0);
	write_file("bad.d/10-x.conf", "stream_port = = 3\n");
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(load(&c, "none.conf", "bad.d", NULL, &err), -EINVAL);
	cleanup_free char *want = xasprintf("%s/bad.d/10-x.conf:1:15: expected a value", tmpdir);
	assert_string_equal(err_str(&err), want);
	config_done(&c);
}

static void test_unknown_key_warns(void **state)
{
	/* stderr goes to a file so the warning can be checked */
	cleanup_free char *logp = tpath("log");
	int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	int saved = dup(2);
	dup2(fd, 2);
	close(fd);
	write_file("unknown.conf", "# comment\n\nno_such_key_xyz = 1\n[weird]\nx = 1\n");
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	int r = load(&c, "unknown.conf", "none.d", NULL, &err);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(r, 0);
	config_done(&c);
	cleanup_free char *text = NULL;
	size_t len;
	assert_int_equal(fs_read_file(AT_FDCWD, logp, 1 << 20, &text, &len, NULL), 0);
	assert_non_null(strstr(text, "no_such_key_xyz"));
	cleanup_free char *at = xasprintf("%s/unknown.conf:3", tmpdir);
	assert_non_null(strstr(text, at));
	cleanup_free char *at2 = xasprintf("%s/unknown.conf:4", tmpdir);
	assert_non_null(strstr(text, at2));
}

static void test_toml_round_trip(void **state)
{
	write_file("rt.conf", "root = \"/var/lib/with \\\"quotes\\\" and \\\\ and \\t tab\"\n"
			      "listen = \"/run/sock\\u00e9\"\n"
			      "cni_plugin_dir = [\"/a b\", \"/c:d\"]\n"
			      "runtime = \"/opt/my runtime\"\n"
			      "stream_port = 10010\n"
			      "pull_progress_timeout = \"1h30m\"\n"
			      "max_recv_msg_size = \"2MiB\"\n"
			      "log_level = \"trace\"\n"
			      "enable_debug_rpc = true\n");
	struct config a, b;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(load(&a, "rt.conf", "none.d", NULL, &err), 0);
	assert_string_equal(a.root, "/var/lib/with \"quotes\" and \\ and \t tab");
	assert_int_equal(a.pull_progress_timeout_s, 5400);
	cleanup_free char *out = config_to_toml(&a);
	/* every key is printed with a comment line above it */
	assert_non_null(strstr(out, "\n# "));
	assert_non_null(strstr(out, "\nstream_port = 10010\n"));
	write_file("out.conf", out);
	assert_int_equal(load(&b, "out.conf", "none.d", NULL, &err), 0);
	cleanup_free char *out2 = config_to_toml(&b);
	assert_string_equal(a.root, b.root);
	assert_string_equal(a.listen, b.listen);
	assert_string_equal(a.runtime, b.runtime);
	assert_int_equal(strv_len(b.cni_plugin_dirs), 2);
	assert_string_equal(b.cni_plugin_dirs[1], "/c:d");
	assert_int_equal(a.stream_port, b.stream_port);
	assert_int_equal(a.pull_progress_timeout_s, b.pull_progress_timeout_s);
	assert_int_equal(a.max_recv_msg_size, b.max_recv_msg_size);
	assert_int_equal(a.log_level, b.log_level);
	assert_true(b.enable_debug_rpc);
	const char *p1 = strstr(out, "\nroot"), *p2 = strstr(out2, "\nroot");
	assert_non_null(p1);
	assert_non_null(p2);
	assert_string_equal(p1, p2);
	config_done(&a);
	config_done(&b);

	/* defaults round-trip too */
	struct config d, e;
	config_init(&d);
	config_init(&e);
	cleanup_free char *dt = config_to_toml(&d);
	assert_int_equal(config_load_text(&e, "d.conf", dt, strlen(dt), &err), 0);
	cleanup_free char *et = config_to_toml(&e);
	assert_string_equal(dt, et);
	config_done(&d);
	config_done(&e);
}

static void test_runtime_on_path(void **state)
{
	cleanup_free char *bin = tpath("bin");
	assert_int_equal(mkdir(bin, 0755), 0);
	write_file("bin/myrt", "#!/bin/sh\n");
	cleanup_free char *rt = tpath("bin/myrt");
	assert_int_equal(chmod(rt, 0755), 0);
	cleanup_free char *old = xstrdup(getenv("PATH") ? getenv("PATH") : "");
	cleanup_free char *np = xasprintf("/nonexistent:%s", bin);
	setenv("PATH", np, 1);
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	const char *f1[] = { "--runtime", "myrt", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", f1, &err), 0);
	assert_string_equal(c.runtime, rt);
	config_done(&c);
	const char *f2[] = { "--runtime", "not-there-rt", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", f2, &err), 0);
	assert_string_equal(c.runtime, "not-there-rt");
	config_done(&c);
	setenv("PATH", old, 1);
}

static void test_parse_helpers(void **state)
{
	uint64_t v;
	assert_int_equal(config_parse_duration("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(config_parse_duration("1h30m15s", &v), 0);
	assert_int_equal(v, 5415);
	assert_int_equal(config_parse_duration("2000ms", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(config_parse_duration("1500ms", &v), -EINVAL);
	assert_int_equal(config_parse_duration("", &v), -EINVAL);
	assert_int_equal(config_parse_duration("h", &v), -EINVAL);
	assert_int_equal(config_parse_duration("5d", &v), -EINVAL);
	assert_int_equal(config_parse_duration("99999999999999999999999", &v), -EINVAL);
	assert_int_equal(config_parse_size("16MiB", &v), 0);
	assert_int_equal(v, 16 << 20);
	assert_int_equal(config_parse_size("512K", &v), 0);
	assert_int_equal(v, 512 << 10);
	assert_int_equal(config_parse_size("7", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(config_parse_size("1X", &v), -EINVAL);
	assert_int_equal(config_parse_size("99999999999999T", &v), -EINVAL);
}

static void test_usage(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_usage(f);
	fclose(f);
	assert_non_null(strstr(buf, "--log-level"));
	assert_non_null(strstr(buf, "--cni-plugin-dir"));
	assert_non_null(strstr(buf, "--config-dir"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_merge_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_files_and_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key_warns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_toml_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_on_path, setup, teardown),
		cmocka_unit_test(test_parse_helpers),
		cmocka_unit_test(test_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
