/* A generated config.json run by the real runc on a busybox-static rootfs:
 * the process's output shows the user, groups, cwd, env, hostname, mounts,
 * cgroup limits and capabilities the spec asked for. */
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

#include "base/base.h"
#include "oci/oci.h"

static char tmp[64];
static char bundle[128], rootfs[160], state_root[128], hostdir[128];
static char id[64];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = xvasprintf(fmt, ap);
	va_end(ap);
	int r = system(cmd);
	free(cmd);
	return r;
}

static int setup(void **state)
{
	strcpy(tmp, "/tmp/ocid-runc-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(bundle, sizeof(bundle), "%s/bundle", tmp);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle);
	snprintf(state_root, sizeof(state_root), "%s/state", tmp);
	snprintf(hostdir, sizeof(hostdir), "%s/host", tmp);
	snprintf(id, sizeof(id), "ocid-oci-test-%d", (int)getpid());
	if (sh("mkdir -p %s/bin %s/etc %s %s && cp /bin/busybox %s/bin/busybox", rootfs, rootfs,
	       state_root, hostdir, rootfs) != 0)
		return -1;
	if (sh("for a in sh id pwd echo cat hostname touch grep ls unshare true sleep; do ln -s busybox %s/bin/$a; done",
	       rootfs) != 0)
		return -1;
	char p[256];
	snprintf(p, sizeof(p), "%s/etc/passwd", rootfs);
	put(p, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n");
	snprintf(p, sizeof(p), "%s/etc/group", rootfs);
	put(p, "root:x:0:\napp:x:1001:\nvideo:x:44:app\n");
	snprintf(p, sizeof(p), "%s/hello", hostdir);
	put(p, "from-the-host\n");
	return 0;
}

static int teardown(void **state)
{
	(void)sh("runc --root %s delete -f %s >/dev/null 2>&1", state_root, id);
	return sh("rm -rf '%s'", tmp) == 0 ? 0 : -1;
}

/* Write the spec, `runc run` it, return its stdout+stderr (malloc'd). */
static char *run(json_t *spec)
{
	char cfg[192];
	snprintf(cfg, sizeof(cfg), "%s/config.json", bundle);
	assert_int_equal(json_dump_file(spec, cfg, JSON_INDENT(2)), 0);
	char *cmd =
	    xasprintf("cd %s && runc --root %s run %s 2>&1 </dev/null", bundle, state_root, id);
	FILE *f = popen(cmd, "re");
	free(cmd);
	assert_non_null(f);
	size_t cap = 1 << 16, n = 0, r;
	char *out = xmalloc(cap);
	while (n < cap - 1 && (r = fread(out + n, 1, cap - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	int st = pclose(f);
	(void)sh("runc --root %s delete -f %s >/dev/null 2>&1", state_root, id);
	if (st != 0)
		fail_msg("runc run failed (%d):\n%s", st, out);
	return out;
}

static void expect(const char *out, const char *needle)
{
	if (strstr(out, needle))
		return;
	/* print_error + fail: gcc's -Wformat-overflow misreads fail_msg here */
	print_error("'%s' not in the container's output:\n", needle);
	print_error("%s\n", out);
	fail();
}

static void test_runc_run(void **state)
{
	struct oci_host h;
	struct err err = ERR_INIT;
	assert_int_equal(oci_host_probe(&h, &err), 0);

	char *cmd[] = {
		"/bin/sh", "-c",
		"id; pwd; echo FOO=$FOO; echo PATH=$PATH; echo HOME=$HOME; hostname; "
		"cat /data/hello; touch /data/x 2>/dev/null || echo ro-ok; "
		"cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
		"grep CapBnd /proc/self/status; echo oom=$(cat /proc/self/oom_score_adj)",
		NULL
	};
	char *env[] = { "FOO=bar", NULL };
	char *img_env[] = { "FOO=image", NULL };
	struct oci_mount m[] = { { "/data", hostdir, true, OCI_PROPAGATION_PRIVATE, false } };
	char cg[96];
	snprintf(cg, sizeof(cg), "/ocid-oci-test-%d", (int)getpid());
	struct oci_ctr_config c = {
		.rootfs = rootfs,
		.image = { .env = img_env, .user = "app", .working_dir = "/work/dir" },
		.command = cmd,
		.envs = env,
		.mounts = m,
		.n_mounts = 1,
		.hostname = "ocid-test-host",
		.ns = { .pid = { OCI_NS_CONTAINER, NULL },
			.net = { OCI_NS_CONTAINER, NULL },
			.ipc = { OCI_NS_CONTAINER, NULL },
			.uts = { OCI_NS_CONTAINER, NULL } },
		.cgroups_path = cg,
		.resources = { .pids_limit = 42,
			       .memory_limit_in_bytes = 64 << 20,
			       .cpu_shares = 256,
			       .oom_score_adj = 500 },
		.seccomp = { OCI_SECCOMP_RUNTIME_DEFAULT, NULL },
		.no_new_privs = true,
	};
	json_t *spec = NULL;
	if (oci_spec_build(&c, &h, &spec, &err) < 0)
		fail_msg("oci_spec_build: %s", err_str(&err));
	char *out = run(spec);
	json_decref(spec);
	expect(out, "uid=1000(app) gid=1001(app) groups=44(video),1001(app)");
	expect(out, "\n/work/dir\n");
	expect(out, "FOO=bar\n");
	expect(out, "PATH=" OCI_DEFAULT_PATH "\n");
	expect(out, "HOME=/home/app\n");
	expect(out, "ocid-test-host\n");
	expect(out, "from-the-host\n");
	expect(out, "ro-ok\n");
	expect(out, "\n42\n");
	/* non-root: the bounding set is the default 9 capabilities */
	expect(out, "CapBnd:\t00000000000005fb\n");
	expect(out, "oom=500\n");
	free(out);
}

/* Privileged: the bounding set is the host's, masked paths are gone. */
static void test_runc_privileged(void **state)
{
	struct oci_host h;
	struct err err = ERR_INIT;
	assert_int_equal(oci_host_probe(&h, &err), 0);
	char *cmd[] = { "/bin/sh", "-c",
			"grep CapBnd /proc/self/status; ls /dev/null >/dev/null && echo dev-ok",
			NULL };
	struct oci_ctr_config c = {
		.rootfs = rootfs,
		.command = cmd,
		.privileged = true,
		.ns = { .pid = { OCI_NS_CONTAINER, NULL },
			.net = { OCI_NS_NODE, NULL },
			.ipc = { OCI_NS_CONTAINER, NULL },
			.uts = { OCI_NS_CONTAINER, NULL } },
	};
	json_t *spec = NULL;
	if (oci_spec_build(&c, &h, &spec, &err) < 0)
		fail_msg("oci_spec_build: %s", err_str(&err));
	char *out = run(spec);
	json_decref(spec);
	char want[64];
	snprintf(want, sizeof(want), "CapBnd:\t%016llx\n", (unsigned long long)h.cap_bounding);
	expect(out, want);
	expect(out, "dev-ok\n");
	free(out);
}

/* RuntimeDefault seccomp refuses unshare (no CAP_SYS_ADMIN); creating a
 * user namespace needs no capability, so unconfined it works. */
static void test_runc_seccomp(void **state)
{
	struct oci_host h;
	struct err err = ERR_INIT;
	assert_int_equal(oci_host_probe(&h, &err), 0);
	char *cmd[] = { "/bin/sh", "-c",
			"unshare -U true && echo unshare-ok || echo unshare-denied", NULL };
	enum oci_seccomp_kind kinds[] = { OCI_SECCOMP_UNCONFINED, OCI_SECCOMP_RUNTIME_DEFAULT };
	const char *want[] = { "unshare-ok\n", "unshare-denied\n" };
	for (size_t i = 0; i < 2; i++) {
		struct oci_ctr_config c = {
			.rootfs = rootfs,
			.command = cmd,
			.ns = { .pid = { OCI_NS_CONTAINER, NULL },
				.net = { OCI_NS_CONTAINER, NULL },
				.ipc = { OCI_NS_CONTAINER, NULL },
				.uts = { OCI_NS_CONTAINER, NULL } },
			.seccomp = { kinds[i], NULL },
		};
		json_t *spec = NULL;
		if (oci_spec_build(&c, &h, &spec, &err) < 0)
			fail_msg("oci_spec_build: %s", err_str(&err));
		char *out = run(spec);
		json_decref(spec);
		expect(out, want[i]);
		free(out);
	}
}

/* `runc update --resources` with oci_resources_build, seen in the cgroup
 * files of a running container placed by oci_cgroups_path. */
static void test_runc_update(void **state)
{
	struct oci_host h;
	struct err err = ERR_INIT;
	assert_int_equal(oci_host_probe(&h, &err), 0);
	char *cg = NULL;
	char parent[64];
	snprintf(parent, sizeof(parent), "/ocid-oci-test-%d", (int)getpid());
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_CGROUPFS, parent, "upd", &cg, &err), 0);
	char *cmd[] = { "/bin/sh", "-c", "sleep 100", NULL };
	struct oci_ctr_config c = {
		.rootfs = rootfs,
		.command = cmd,
		.ns = { .pid = { OCI_NS_CONTAINER, NULL },
			.net = { OCI_NS_CONTAINER, NULL },
			.ipc = { OCI_NS_CONTAINER, NULL },
			.uts = { OCI_NS_CONTAINER, NULL } },
		.cgroups_path = cg,
		.resources = { .pids_limit = 10 },
	};
	json_t *spec = NULL;
	if (oci_spec_build(&c, &h, &spec, &err) < 0)
		fail_msg("oci_spec_build: %s", err_str(&err));
	char cfg[192];
	snprintf(cfg, sizeof(cfg), "%s/config.json", bundle);
	assert_int_equal(json_dump_file(spec, cfg, 0), 0);
	json_decref(spec);
	assert_int_equal(sh("cd %s && runc --root %s run -d %s </dev/null >/dev/null 2>&1", bundle,
			    state_root, id),
			 0);

	struct oci_resources res = { .pids_limit = 77, .cpu_shares = 300 };
	json_t *rj = NULL;
	assert_int_equal(oci_resources_build(&res, &h, &rj, &err), 0);
	char rf[192];
	snprintf(rf, sizeof(rf), "%s/resources.json", tmp);
	assert_int_equal(json_dump_file(rj, rf, 0), 0);
	json_decref(rj);
	int r = sh("runc --root %s update --resources %s %s", state_root, rf, id);
	char *pids = h.cgroup2 ? xasprintf("/sys/fs/cgroup%s/pids.max", cg)
			       : xasprintf("/sys/fs/cgroup/pids%s/pids.max", cg);
	char *shares = h.cgroup2 ? NULL : xasprintf("/sys/fs/cgroup/cpu%s/cpu.shares", cg);
	char *got = NULL, *got_shares = NULL;
	size_t len;
	int rp = fs_read_file(AT_FDCWD, pids, 64, &got, &len, &err);
	int rs = shares ? fs_read_file(AT_FDCWD, shares, 64, &got_shares, &len, &err) : 0;
	(void)sh("runc --root %s delete -f %s >/dev/null 2>&1", state_root, id);
	(void)sh("rmdir /sys/fs/cgroup/*%s 2>/dev/null", parent);
	assert_int_equal(r, 0);
	assert_int_equal(rp, 0);
	assert_string_equal(got, "77\n");
	if (shares) {
		assert_int_equal(rs, 0);
		assert_string_equal(got_shares, "300\n");
	}
	free(got);
	free(got_shares);
	free(pids);
	free(shares);
	free(cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runc_run),
		cmocka_unit_test(test_runc_privileged),
		cmocka_unit_test(test_runc_update),
		cmocka_unit_test(test_runc_seccomp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
