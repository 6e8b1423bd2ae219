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
	assert_int_equal(strv_len(c.hooks_dirs), 2);
	assert_string_equal(c.hooks_dirs[0], "/usr/share/containers/oci/hooks.d");
	assert_string_equal(c.hooks_dirs[1], "/etc/containers/oci/hooks.d");
	assert_int_equal(strv_len(c.cdi_spec_dirs), 2);
	assert_string_equal(c.cdi_spec_dirs[0], "/etc/cdi");
	assert_string_equal(c.cdi_spec_dirs[1], "/var/run/cdi");
	assert_string_equal(c.metrics_address, "127.0.0.1");
	assert_int_equal(c.metrics_port, 0);
	assert_string_equal(c.metrics_socket, "");
	assert_int_equal(c.pull_progress_timeout_s, 0);
	assert_int_equal(c.max_recv_msg_size, 16 << 20);
	assert_int_equal(c.max_send_msg_size, 80 << 20);
	assert_int_equal(c.workers, 16);
	assert_int_equal(c.shutdown_grace_ms, 3000);
	assert_true(c.layer_sync);
	assert_int_equal(strv_len(c.pinned_images), 0);
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
	assert_int_equal(fresh.shutdown_grace_ms, 60000);
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
	expect_error("metrics_port = 65536\n", NULL,
		     "err.conf:1:16: metrics_port: 65536 is out of range [0, 65535]");
	expect_error("metrics_socket = \"rel/m.sock\"\n", NULL,
		     "err.conf:1:18: metrics_socket: 'rel/m.sock' is not an absolute path");
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
	    "err.conf:1:25: pull_progress_timeout: invalid duration '5 min' (seconds, or e.g. \"30s\", \"5m\", \"1h\", \"500ms\")");
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
	    "flag --pull-progress-timeout: invalid duration '10x' (seconds, or e.g. \"30s\", \"5m\", \"1h\", \"500ms\")");

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
	assert_int_equal(config_parse_duration_ms("90", &v), 0);
	assert_int_equal(v, 90000);
	assert_int_equal(config_parse_duration_ms("1h30m15s", &v), 0);
	assert_int_equal(v, 5415000);
	assert_int_equal(config_parse_duration_ms("2000ms", &v), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(config_parse_duration_ms("1s500ms", &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(config_parse_duration_ms("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(config_parse_duration_ms("", &v), -EINVAL);
	assert_int_equal(config_parse_duration_ms("h", &v), -EINVAL);
	assert_int_equal(config_parse_duration_ms("5d", &v), -EINVAL);
	assert_int_equal(config_parse_duration_ms("99999999999999999999999", &v), -EINVAL);
	assert_int_equal(config_parse_duration_ms("99999999999999999", &v), -EINVAL);
	assert_int_equal(config_parse_size("16MiB", &v), 0);
	assert_int_equal(v, 16 << 20);
	assert_int_equal(config_parse_size("512K", &v), 0);
	assert_int_equal(v, 512 << 10);
	assert_int_equal(config_parse_size("7", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(config_parse_size("1X", &v), -EINVAL);
	assert_int_equal(config_parse_size("99999999999999T", &v), -EINVAL);
}

/* Image references hold colons: pinned_images splits at commas only (issue 18). */
static void test_pinned_images_lists(void **state)
{
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	const char *f1[] = { "--pinned-images", "127.0.0.1:5000/pause:3.9", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", f1, &err), 0);
	assert_int_equal(strv_len(c.pinned_images), 1);
	assert_string_equal(c.pinned_images[0], "127.0.0.1:5000/pause:3.9");
	config_done(&c);

	const char *f2[] = { "--pinned-images", "registry.k8s.io/pause:3.9, a/b:*",
			     "--pinned-images=127.0.0.1:5000/x@sha256:ab", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", f2, &err), 0);
	assert_int_equal(strv_len(c.pinned_images), 3);
	assert_string_equal(c.pinned_images[0], "registry.k8s.io/pause:3.9");
	assert_string_equal(c.pinned_images[1], "a/b:*");
	assert_string_equal(c.pinned_images[2], "127.0.0.1:5000/x@sha256:ab");
	config_done(&c);

	/* TOML: an array, or one comma-separated string; a flag replaces them */
	write_file("pin.conf", "pinned_images = [\"127.0.0.1:5000/pause:3.9\", \"x:1\"]\n");
	assert_int_equal(load(&c, "pin.conf", "none.d", NULL, &err), 0);
	assert_int_equal(strv_len(c.pinned_images), 2);
	assert_string_equal(c.pinned_images[0], "127.0.0.1:5000/pause:3.9");
	config_done(&c);
	write_file("pin.conf",
		   "pinned_images = \"registry.k8s.io/pause:3.9,127.0.0.1:5000/p:1\"\n");
	assert_int_equal(load(&c, "pin.conf", "none.d", NULL, &err), 0);
	assert_int_equal(strv_len(c.pinned_images), 2);
	assert_string_equal(c.pinned_images[0], "registry.k8s.io/pause:3.9");
	assert_string_equal(c.pinned_images[1], "127.0.0.1:5000/p:1");
	cleanup_free char *toml = config_to_toml(&c);
	assert_non_null(strstr(
	    toml, "\npinned_images = [\"registry.k8s.io/pause:3.9\", \"127.0.0.1:5000/p:1\"]\n"));
	config_done(&c);
	assert_int_equal(load(&c, "pin.conf", "none.d", f1, &err), 0);
	assert_int_equal(strv_len(c.pinned_images), 1);
	config_done(&c);
}

/* Each bad value is refused where it is set, naming the key (issue 18). */
static void test_values_checked(void **state)
{
	static const char *const bad[][2] = {
		{ "--cni-default-subnet", "banana" },
		{ "--cni-default-subnet", "10.88.0.0" },
		{ "--cni-default-subnet", "10.88.0.0/33" },
		{ "--cni-default-subnet", "10.88.0.300/16" },
		{ "--cgroup-parent", "relative/x" },
		{ "--cgroup-parent", "/a/../b" },
		{ "--root", "relroot" },
		{ "--runroot", "./run" },
		{ "--listen", "ocid.sock" },
		{ "--cni-config-dir", "net.d" },
		{ "--cni-plugin-dir", "lib/cni" },
		{ "--registries-conf", "registries.conf" },
		{ "--signature-policy", "policy.json" },
		{ "--global-auth-file", "auth.json" },
		{ "--runtime", "bin/runc" },
		{ "--pause-binary", "./ocid-pause" },
		{ "--cni-default-bridge", "a-name-far-too-long" },
		{ "--cni-default-bridge", "br/0" },
		{ "--stream-address", "localhost:1" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct config c;
		cleanup_err struct err err = ERR_INIT;
		const char *f[] = { bad[i][0], bad[i][1], NULL };
		int r = load(&c, "none.conf", "none.d", f, &err);
		cleanup_free char *want = xasprintf("flag %s: ", bad[i][0]);
		if (r != -EINVAL || !str_has_prefix(err_str(&err), want) ||
		    !strstr(err_str(&err), bad[i][1]))
			fail_msg("%s %s: r=%d \"%s\"", bad[i][0], bad[i][1], r, err_str(&err));
		config_done(&c);
	}
	expect_error("root = \"relroot\"\n", NULL,
		     "err.conf:1:8: root: 'relroot' is not an absolute path");
	expect_error(
	    "[ocid]\ncni_default_subnet = \"banana\"\n", NULL,
	    "err.conf:2:22: cni_default_subnet: 'banana' is not a subnet in CIDR notation (e.g. 10.88.0.0/16)");
	expect_error("cni_plugin_dir = [\"/ok\", \"rel\"]\n", NULL,
		     "err.conf:1:18: cni_plugin_dir: 'rel' is not an absolute path");

	static const char *const good[][2] = {
		{ "--cni-default-subnet", "10.89.0.0/24" },
		{ "--cni-default-subnet", "fd00:88::/64" },
		{ "--cgroup-parent", "/kubepods/burstable" },
		{ "--cgroup-parent", "kubepods-burstable.slice" },
		{ "--runtime", "crun" },
		{ "--runtime", "/usr/sbin/runc" },
		{ "--stream-address", "::1" },
		{ "--cni-default-bridge", "cni0" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct config c;
		cleanup_err struct err err = ERR_INIT;
		const char *f[] = { good[i][0], good[i][1], NULL };
		if (load(&c, "none.conf", "none.d", f, &err) < 0)
			fail_msg("%s %s: \"%s\"", good[i][0], good[i][1], err_str(&err));
		config_done(&c);
	}
}

/* "500ms" is a duration too (issue 18); second keys round up. */
static void test_durations_ms(void **state)
{
	struct config c, d;
	cleanup_err struct err err = ERR_INIT;
	const char *f[] = { "--shutdown-grace", "500ms", "--pull-progress-timeout=1500ms", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", f, &err), 0);
	assert_int_equal(c.shutdown_grace_ms, 500);
	assert_int_equal(c.pull_progress_timeout_s, 2);
	cleanup_free char *toml = config_to_toml(&c);
	assert_non_null(strstr(toml, "\nshutdown_grace = \"500ms\"\n"));
	config_init(&d);
	assert_int_equal(config_load_text(&d, "rt.conf", toml, strlen(toml), &err), 0);
	assert_int_equal(d.shutdown_grace_ms, 500);
	config_done(&d);
	config_done(&c);
	write_file("d.conf", "shutdown_grace = 7\n");
	assert_int_equal(load(&c, "d.conf", "none.d", NULL, &err), 0);
	assert_int_equal(c.shutdown_grace_ms, 7000);
	config_done(&c);
	const char *big[] = { "--shutdown-grace", "2h", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", big, &err), -EINVAL);
	config_done(&c);
}

/* Booleans take "--flag value" as well as "--flag=value" and "--flag" (issue 18). */
static void test_bool_flag_forms(void **state)
{
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	const char *f1[] = { "--layer-sync", "false", "--exec-fifo-start", "0", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", f1, &err), 0);
	assert_false(c.layer_sync);
	assert_false(c.exec_fifo_start);
	config_done(&c);
	const char *f2[] = { "--layer-sync=false", "--enable-debug-rpc", "--workers", "3", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", f2, &err), 0);
	assert_false(c.layer_sync);
	assert_true(c.enable_debug_rpc);
	assert_int_equal(c.workers, 3);
	config_done(&c);
	const char *f3[] = { "--layer-sync", "false", "--enable-debug-rpc", NULL };
	assert_int_equal(load(&c, "none.conf", "none.d", f3, &err), 0);
	assert_true(c.enable_debug_rpc);
	config_done(&c);
	const char *bad[] = { "--layer-sync", "banana", NULL };
	expect_error(NULL, bad, "flag --layer-sync: expected true or false");
}

/* One key at the top level and under [ocid]; a --config-dir that is a file. */
static void test_ambiguous_sources(void **state)
{
	expect_error(
	    "workers = 3\n\n[ocid]\nworkers = 4\n", NULL,
	    "err.conf:4:11: workers is set both at the top level (line 1) and under [ocid]; keep one");
	write_file("file.d", "workers = 3\n");
	struct config c;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(load(&c, "none.conf", "file.d", NULL, &err), -EINVAL);
	cleanup_free char *want =
	    xasprintf("config directory '%s/file.d' is not a directory", tmpdir);
	assert_string_equal(err_str(&err), want);
	config_done(&c);
}

static void test_key_copy(void **state)
{
	struct config a, b;
	cleanup_err struct err err = ERR_INIT;
	const char *f[] = { "--cgroup-parent",	"/x",	 "--shm-size",	       "1MiB",
			    "--cni-plugin-dir", "/a:/b", "--layer-sync=false", NULL };
	assert_int_equal(load(&a, "none.conf", "none.d", f, &err), 0);
	config_init(&b);
	static const char *const names[] = { "cgroup_parent", "shm_size", "cni_plugin_dir",
					     "layer_sync" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		cleanup_free char *va = config_key_value(&a, names[i]);
		cleanup_free char *vb = config_key_value(&b, names[i]);
		assert_string_not_equal(va, vb);
		config_key_copy(&b, &a, names[i]);
		cleanup_free char *vc = config_key_value(&b, names[i]);
		assert_string_equal(va, vc);
	}
	assert_null(config_key_value(&a, "no_such_key"));
	config_done(&a);
	config_done(&b);
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
		cmocka_unit_test_setup_teardown(test_pinned_images_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durations_ms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bool_flag_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_copy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
