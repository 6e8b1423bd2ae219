/* Spec building from plain structs: kubelet's args rules, env merge,
 * capabilities, oom_score_adj floor, rlimits, resources, namespaces,
 * mounts (validation, host dirs, propagation, recursive read-only),
 * working dir, seccomp, the runtime's features document. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

static char tmp[64];
static char root[96];

static const struct oci_host host = {
	.cap_bounding = 0x1fffeffffff, /* everything but CAP_SYS_RESOURCE (24) */
	.cap_effective = 0x1fffeffffff,
	.oom_score_adj_min = -500,
	.nofile_hard = 20000,
	.cgroup2 = false,
	.swap_accounting = true,
};

static int setup(void **state)
{
	strcpy(tmp, "/tmp/ocid-spec-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(root, sizeof(root), "%s/root", tmp);
	return mkdir(root, 0755);
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static char *joined(char *const *v)
{
	return v ? strv_join(v, " ") : xstrdup("");
}

static void test_args_rules(void **state)
{
	char *ep[] = { "/ep", "-x", NULL }, *cmd[] = { "img-cmd", NULL };
	char *ccmd[] = { "/cri", NULL }, *cargs[] = { "a1", "a2", NULL };
	static const struct {
		bool ep, cmd, ccmd, cargs;
		const char *want;
	} cases[] = {
		{ true, true, false, false, "/ep -x img-cmd" }, /* nothing from CRI: image */
		{ true, true, true, false, "/cri" },		/* command: image Cmd ignored */
		{ true, true, true, true, "/cri a1 a2" },	/* command + args */
		{ true, true, false, true, "/ep -x a1 a2" },	/* only args: image Entrypoint */
		{ false, true, false, false, "img-cmd" },
		{ false, true, false, true, "a1 a2" },
		{ true, false, false, false, "/ep -x" },
		{ false, false, true, true, "/cri a1 a2" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char **out = NULL;
		struct err err = ERR_INIT;
		assert_int_equal(oci_args_compose(cases[i].ep ? ep : NULL,
						  cases[i].cmd ? cmd : NULL,
						  cases[i].ccmd ? ccmd : NULL,
						  cases[i].cargs ? cargs : NULL, &out, &err),
				 0);
		char *j = joined(out);
		assert_string_equal(j, cases[i].want);
		free(j);
		strv_free(out);
	}
	char **out = NULL;
	struct err err = ERR_INIT;
	char *empty[] = { NULL };
	assert_int_equal(oci_args_compose(NULL, empty, NULL, NULL, &out, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "no command"));
	err_done(&err);
}

static void test_env_merge(void **state)
{
	char *img[] = { "PATH=/img/bin", "A=1", "B=2", "NOVAL", NULL };
	char *cri[] = { "B=cri", "C=3", "A=", NULL };
	char **e = oci_env_merge(img, cri);
	char *j = joined(e);
	assert_string_equal(j, "PATH=/img/bin A= B=cri NOVAL C=3");
	free(j);
	strv_free(e);
	e = oci_env_merge(NULL, NULL);
	assert_int_equal(strv_len(e), 1);
	assert_string_equal(e[0], "PATH=" OCI_DEFAULT_PATH);
	strv_free(e);
	char *cri2[] = { "PATH=/cri", NULL };
	e = oci_env_merge(img, cri2);
	assert_string_equal(e[0], "PATH=/cri");
	strv_free(e);
}

static uint64_t bit(int c)
{
	return UINT64_C(1) << c;
}

static void test_caps(void **state)
{
	struct err err = ERR_INIT;
	uint64_t m;
	struct oci_ctr_config c = { 0 };
	assert_int_equal(oci_caps_compute(&c, ~UINT64_C(0), &m, &err), 0);
	assert_int_equal(__builtin_popcountll(m), 9);
	assert_true(m & bit(oci_cap_from_name("NET_BIND_SERVICE")));
	assert_false(m & bit(oci_cap_from_name("NET_RAW")));

	char *add[] = { "NET_ADMIN", "cap_sys_resource", NULL }, *drop[] = { "CAP_CHOWN", NULL };
	c.cap_add = add;
	c.cap_drop = drop;
	assert_int_equal(oci_caps_compute(&c, host.cap_bounding, &m, &err), 0);
	assert_true(m & bit(12));
	assert_false(m & bit(24)); /* not in the host bounding set */
	assert_false(m & bit(0));

	char *all[] = { "ALL", NULL }, *kill[] = { "KILL", NULL };
	struct oci_ctr_config d = { .cap_drop = all, .cap_add = kill };
	assert_int_equal(oci_caps_compute(&d, host.cap_bounding, &m, &err), 0);
	assert_int_equal(m, bit(5));
	struct oci_ctr_config a = { .cap_add = all, .cap_drop = kill };
	assert_int_equal(oci_caps_compute(&a, host.cap_bounding, &m, &err), 0);
	assert_int_equal(m, host.cap_bounding & ~bit(5));
	struct oci_ctr_config p = { .privileged = true };
	assert_int_equal(oci_caps_compute(&p, host.cap_bounding, &m, &err), 0);
	assert_int_equal(m, host.cap_bounding);

	char *bogus[] = { "NET_WIZARD", NULL };
	struct oci_ctr_config b = { .cap_add = bogus };
	assert_int_equal(oci_caps_compute(&b, host.cap_bounding, &m, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "NET_WIZARD"));
	assert_string_equal(oci_cap_name(0), "CAP_CHOWN");
	assert_null(oci_cap_name(63));
	err_done(&err);
}

static char *cmd_true[] = { "/bin/true", NULL };

/* A zeroed oci_ns is POD (as in CRI) and needs a path: tests that do not
 * care get a namespace of the container's own. */
static void default_ns(struct oci_ns *n)
{
	if (n->mode == OCI_NS_POD && !n->path)
		n->mode = OCI_NS_CONTAINER;
}

/* Build a spec for `c` (rootfs, command, namespaces filled in when unset). */
static json_t *build(struct oci_ctr_config *c, const struct oci_host *h, int want, struct err *err)
{
	if (!c->rootfs)
		c->rootfs = root;
	default_ns(&c->ns.pid);
	default_ns(&c->ns.net);
	default_ns(&c->ns.ipc);
	default_ns(&c->ns.uts);
	if (!c->command && !c->image.cmd)
		c->command = cmd_true;
	json_t *spec = NULL;
	int r = oci_spec_build(c, h ? h : &host, &spec, err);
	if (r != want)
		fail_msg("oci_spec_build: %d (%s), want %d", r, err_str(err), want);
	return spec;
}

static void test_process_bounds(void **state)
{
	struct err err = ERR_INIT;
	struct oci_ctr_config c = { .resources.oom_score_adj = -999,
				    .hostname = "h1",
				    .tty = true };
	json_t *s = build(&c, NULL, 0, &err);
	json_t *p = json_object_get(s, "process");
	assert_int_equal(json_integer_value(json_object_get(p, "oomScoreAdj")), -500);
	json_t *rl = json_array_get(json_object_get(p, "rlimits"), 0);
	assert_string_equal(json_string_value(json_object_get(rl, "type")), "RLIMIT_NOFILE");
	assert_int_equal(json_integer_value(json_object_get(rl, "hard")), 20000);
	assert_true(json_is_true(json_object_get(p, "terminal")));
	char *env = js_dump(json_object_get(p, "env"), 0);
	assert_non_null(strstr(env, "\"HOME=/\""));
	assert_non_null(strstr(env, "\"HOSTNAME=h1\""));
	assert_non_null(strstr(env, "\"TERM=xterm\""));
	free(env);
	assert_string_equal(json_string_value(json_object_get(s, "hostname")), "h1");
	json_decref(s);

	c.resources.oom_score_adj = 1000;
	struct oci_host h2 = host;
	h2.nofile_hard = UINT64_MAX;
	s = build(&c, &h2, 0, &err);
	p = json_object_get(s, "process");
	assert_int_equal(json_integer_value(json_object_get(p, "oomScoreAdj")), 1000);
	rl = json_array_get(json_object_get(p, "rlimits"), 0);
	assert_int_equal(json_integer_value(json_object_get(rl, "soft")), OCI_NOFILE_DEFAULT);
	json_decref(s);
}

static void test_resources(void **state)
{
	struct err err = ERR_INIT;
	struct oci_hugepage_limit hp[] = { { "2MB", 4194304 } };
	struct oci_ctr_config c = {
		.cgroups_path = "/kubepods/pod1/ctr1",
		.resources = { .cpu_period = 100000,
			       .cpu_quota = 50000,
			       .cpu_shares = 512,
			       .memory_limit_in_bytes = 1 << 26,
			       .cpuset_cpus = "0-1",
			       .cpuset_mems = "0",
			       .hugepages = hp,
			       .n_hugepages = 1,
			       .pids_limit = 100 },
	};
	json_t *s = build(&c, NULL, 0, &err);
	char *j = js_dump(json_object_get(s, "linux"), JS_DUMP_SORTED);
	assert_non_null(strstr(j, "\"cgroupsPath\":\"/kubepods/pod1/ctr1\""));
	assert_non_null(strstr(
	    j,
	    "\"cpu\":{\"cpus\":\"0-1\",\"mems\":\"0\",\"period\":100000,\"quota\":50000,\"shares\":512}"));
	assert_non_null(strstr(j, "\"memory\":{\"limit\":67108864,\"swap\":67108864}"));
	assert_non_null(strstr(j, "\"pids\":{\"limit\":100}"));
	assert_non_null(strstr(j, "\"hugepageLimits\":[{\"limit\":4194304,\"pageSize\":\"2MB\"}]"));
	assert_non_null(strstr(j, "{\"access\":\"rwm\",\"allow\":false}"));
	free(j);
	json_decref(s);

	/* no swap accounting: no swap key; explicit swap kept */
	struct oci_host h2 = host;
	h2.swap_accounting = false;
	s = build(&c, &h2, 0, &err);
	assert_null(json_object_get(
	    json_object_get(json_object_get(json_object_get(s, "linux"), "resources"), "memory"),
	    "swap"));
	json_decref(s);
	c.resources.memory_swap_limit_in_bytes = 1 << 27;
	s = build(&c, NULL, 0, &err);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(json_object_get(s, "linux"), "resources"),
				"memory"),
		"swap")),
	    1 << 27);
	json_decref(s);
	c.resources.memory_swap_limit_in_bytes = 1 << 20;
	(void)build(&c, NULL, -EINVAL, &err);
	assert_non_null(strstr(err_str(&err), "memory_swap_limit_in_bytes"));
	c.resources.memory_swap_limit_in_bytes = 0;

	struct oci_kv un[] = { { "memory.high", "1000000" } };
	c.resources.unified = un;
	c.resources.n_unified = 1;
	(void)build(&c, NULL, -EINVAL, &err);
	assert_non_null(strstr(err_str(&err), "cgroup v2"));
	struct oci_host h3 = host;
	h3.cgroup2 = true;
	s = build(&c, &h3, 0, &err);
	j = js_dump(json_object_get(s, "linux"), JS_DUMP_SORTED);
	assert_non_null(strstr(j, "\"unified\":{\"memory.high\":\"1000000\"}"));
	free(j);
	json_decref(s);
	err_done(&err);
}

static void test_namespaces(void **state)
{
	struct err err = ERR_INIT;
	struct oci_ctr_config c = {
		.ns = { .pid = { OCI_NS_CONTAINER, NULL },
			.net = { OCI_NS_POD, "/run/ocid/pods/p/ns/net" },
			.ipc = { OCI_NS_POD, "/run/ocid/pods/p/ns/ipc" },
			.uts = { OCI_NS_POD, "/run/ocid/pods/p/ns/uts" } },
	};
	json_t *s = build(&c, NULL, 0, &err);
	char *j = js_dump(json_object_get(json_object_get(s, "linux"), "namespaces"), 0);
	assert_string_equal(j, "[{\"type\":\"mount\"},{\"type\":\"pid\"},"
			       "{\"type\":\"network\",\"path\":\"/run/ocid/pods/p/ns/net\"},"
			       "{\"type\":\"ipc\",\"path\":\"/run/ocid/pods/p/ns/ipc\"},"
			       "{\"type\":\"uts\",\"path\":\"/run/ocid/pods/p/ns/uts\"}]");
	free(j);
	json_decref(s);

	struct oci_ctr_config h = {
		.hostname = "node",
		.ns = { .pid = { OCI_NS_NODE, NULL },
			.net = { OCI_NS_NODE, NULL },
			.ipc = { OCI_NS_NODE, NULL },
			.uts = { OCI_NS_NODE, NULL } },
	};
	s = build(&h, NULL, 0, &err);
	j = js_dump(json_object_get(json_object_get(s, "linux"), "namespaces"), 0);
	assert_string_equal(j, "[{\"type\":\"mount\"}]");
	assert_null(json_object_get(s, "hostname")); /* runc refuses it without a UTS ns */
	free(j);
	json_decref(s);

	struct oci_ctr_config t = { .ns = { .pid = { OCI_NS_TARGET, "/proc/1/ns/pid" } } };
	s = build(&t, NULL, 0, &err);
	j = js_dump(json_object_get(json_object_get(s, "linux"), "namespaces"), 0);
	assert_non_null(strstr(j, "{\"type\":\"pid\",\"path\":\"/proc/1/ns/pid\"}"));
	free(j);
	json_decref(s);

	struct oci_ctr_config bad = { .rootfs = root, .command = cmd_true };
	assert_int_equal(oci_spec_build(&bad, &host, &s, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "pid namespace mode POD"));
	err_done(&err);
}

/* A pod user namespace: joined first, its maps in the spec, and what is
 * made in the rootfs owned by the mapped ids. */
static void test_user_namespace(void **state)
{
	struct err err = ERR_INIT;
	struct oci_ctr_config c = {
		.ns = { .pid = { OCI_NS_CONTAINER, NULL },
			.net = { OCI_NS_POD, "/run/ocid/pods/p/ns/net" },
			.user = { "/run/ocid/pods/p/ns/user",
				  { 0, 200000, 65536 },
				  { 0, 300000, 65536 } } },
		.working_dir = "/made/by/uns",
		.has_run_as_user = true,
		.run_as_user = 7,
	};
	json_t *s = build(&c, NULL, 0, &err);
	json_t *l = json_object_get(s, "linux");
	char *j = js_dump(json_object_get(l, "namespaces"), 0);
	assert_true(str_has_prefix(j,
				   "[{\"type\":\"mount\"},"
				   "{\"type\":\"user\",\"path\":\"/run/ocid/pods/p/ns/user\"},"));
	free(j);
	j = js_dump(json_object_get(l, "uidMappings"), JS_DUMP_SORTED);
	assert_string_equal(j, "[{\"containerID\":0,\"hostID\":200000,\"size\":65536}]");
	free(j);
	j = js_dump(json_object_get(l, "gidMappings"), JS_DUMP_SORTED);
	assert_string_equal(j, "[{\"containerID\":0,\"hostID\":300000,\"size\":65536}]");
	free(j);
	json_decref(s);
	char wd[160];
	snprintf(wd, sizeof(wd), "%s/made/by/uns", root);
	struct stat st;
	assert_int_equal(stat(wd, &st), 0);
	assert_int_equal(st.st_uid, 200007);
	assert_int_equal(st.st_gid, 300000); /* uid 7 has no passwd entry: gid 0 */

	struct oci_idmap m = { 10, 5000, 100 };
	assert_int_equal(oci_idmap_to_host(&m, 10), 5000);
	assert_int_equal(oci_idmap_to_host(&m, 109), 5099);
	assert_int_equal(oci_idmap_to_host(&m, 110), 65534);
	assert_int_equal(oci_idmap_to_host(&m, 9), 65534);
}

static json_t *find_mount(json_t *spec, const char *dest)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(spec, "mounts"), i, m)
	{
		if (strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0)
			return m;
	}
	return NULL;
}

static bool mount_has_opt(json_t *m, const char *opt)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(m, "options"), i, o)
	{
		if (strcmp(json_string_value(o), opt) == 0)
			return true;
	}
	return false;
}

static void test_mounts(void **state)
{
	struct err err = ERR_INIT;
	char src[128], deep[160];
	snprintf(src, sizeof(src), "%s/hostdir", tmp);
	snprintf(deep, sizeof(deep), "%s/missing/a/b", tmp);
	assert_int_equal(mkdir(src, 0755), 0);
	struct oci_mount m[] = {
		{ "/data/sub", src, false, OCI_PROPAGATION_PRIVATE, false },
		{ "/data//", src, true, OCI_PROPAGATION_PRIVATE, false },
		{ "/new", deep, false, OCI_PROPAGATION_PRIVATE, false },
		{ "/etc/hosts", src, false, OCI_PROPAGATION_PRIVATE, false },
	};
	char *vols[] = { "/vol/one", "/data", NULL };
	struct oci_ctr_config c = { .mounts = m,
				    .n_mounts = 4,
				    .image.volumes = vols,
				    .pod_files = { .hosts = "/etc/hosts",
						   .resolv_conf = "/etc/resolv.conf",
						   .shm = "/dev/shm" } };
	json_t *s = build(&c, NULL, 0, &err);
	struct stat st;
	assert_int_equal(stat(deep, &st), 0); /* missing host path created */
	assert_true(S_ISDIR(st.st_mode));
	json_t *d = find_mount(s, "/data");
	assert_non_null(d);
	assert_true(mount_has_opt(d, "ro") && mount_has_opt(d, "rbind") &&
		    mount_has_opt(d, "rprivate"));
	assert_false(mount_has_opt(find_mount(s, "/data/sub"), "ro"));
	/* sorted by depth: /data before /data/sub */
	size_t i, i_data = 0, i_sub = 0;
	json_t *x;
	json_array_foreach(json_object_get(s, "mounts"), i, x)
	{
		const char *dst = json_string_value(json_object_get(x, "destination"));
		if (strcmp(dst, "/data") == 0)
			i_data = i;
		if (strcmp(dst, "/data/sub") == 0)
			i_sub = i;
	}
	assert_true(i_data < i_sub);
	/* the CRI /etc/hosts wins over the pod's */
	assert_string_equal(
	    json_string_value(json_object_get(find_mount(s, "/etc/hosts"), "source")), src);
	assert_string_equal(json_string_value(json_object_get(find_mount(s, "/dev/shm"), "source")),
			    "/dev/shm");
	assert_non_null(find_mount(s, "/etc/resolv.conf"));
	assert_true(mount_has_opt(find_mount(s, "/sys"), "ro"));
	assert_non_null(find_mount(s, "/proc"));
	assert_non_null(find_mount(s, "/dev/pts"));
	assert_non_null(find_mount(s, "/dev/mqueue"));
	/* image VOLUME /vol/one made in the rootfs; /data is a CRI mount */
	char vol[160];
	snprintf(vol, sizeof(vol), "%s/vol/one", root);
	assert_int_equal(stat(vol, &st), 0);
	snprintf(vol, sizeof(vol), "%s/data", root);
	assert_int_equal(stat(vol, &st), -1);
	json_decref(s);

	struct oci_mount rel[] = { { "relative/path", src, false, 0, false } };
	struct oci_ctr_config r = { .mounts = rel, .n_mounts = 1 };
	(void)build(&r, NULL, -EINVAL, &err);
	assert_non_null(strstr(err_str(&err), "'relative/path' is relative"));
	/* a refused request creates nothing: the missing source stays missing */
	char never[160];
	snprintf(never, sizeof(never), "%s/never", tmp);
	struct oci_mount mixed[] = { { "/ok", never, false, 0, false },
				     { "rel", src, false, 0, false } };
	struct oci_ctr_config mx = { .mounts = mixed, .n_mounts = 2, .working_dir = "/never-wd" };
	(void)build(&mx, NULL, -EINVAL, &err);
	assert_int_equal(stat(never, &st), -1);
	snprintf(never, sizeof(never), "%s/never-wd", root);
	assert_int_equal(stat(never, &st), -1);
	struct oci_mount dup[] = { { "/a", src, false, 0, false }, { "/a/", src, true, 0, false } };
	struct oci_ctr_config du = { .mounts = dup, .n_mounts = 2 };
	(void)build(&du, NULL, -EINVAL, &err);
	assert_non_null(strstr(err_str(&err), "duplicate"));
	struct oci_mount dotdot[] = { { "/a/../../etc", src, false, 0, false } };
	struct oci_ctr_config dd = { .mounts = dotdot, .n_mounts = 1 };
	(void)build(&dd, NULL, -EINVAL, &err);
	err_done(&err);
}

/* recursive_read_only: "rro" next to "ro" where the host can; refused
 * without readonly, with a propagation other than PRIVATE, or on a host
 * without it; nothing is created by a refused request. */
static void test_mounts_rro(void **state)
{
	struct err err = ERR_INIT;
	char src[128], missing[160];
	snprintf(src, sizeof(src), "%s/rro-src", tmp);
	snprintf(missing, sizeof(missing), "%s/rro-missing", tmp);
	assert_int_equal(mkdir(src, 0755), 0);
	struct oci_host h = host;
	h.mount_setattr = h.rro = true;

	struct oci_mount ok[] = { { "/r", src, true, OCI_PROPAGATION_PRIVATE, true },
				  { "/n", src, true, OCI_PROPAGATION_PRIVATE, false } };
	struct oci_ctr_config c = { .mounts = ok, .n_mounts = 2 };
	json_t *s = build(&c, &h, 0, &err);
	assert_true(mount_has_opt(find_mount(s, "/r"), "rro") &&
		    mount_has_opt(find_mount(s, "/r"), "ro") &&
		    mount_has_opt(find_mount(s, "/r"), "rprivate"));
	assert_false(mount_has_opt(find_mount(s, "/n"), "rro"));
	assert_true(mount_has_opt(find_mount(s, "/n"), "ro"));
	json_decref(s);

	static const struct {
		bool readonly;
		enum oci_propagation p;
		bool host_rro, host_setattr;
		const char *msg;
	} bad[] = {
		{ false, OCI_PROPAGATION_PRIVATE, true, true, "needs readonly" },
		{ true, OCI_PROPAGATION_HOST_TO_CONTAINER, true, true, "not HOST_TO_CONTAINER" },
		{ true, OCI_PROPAGATION_BIDIRECTIONAL, true, true, "not BIDIRECTIONAL" },
		{ true, OCI_PROPAGATION_PRIVATE, false, true, "no 'rro' mount option" },
		{ true, OCI_PROPAGATION_PRIVATE, false, false, "no mount_setattr" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct oci_mount m[] = { { "/ok", missing, false, 0, false },
					 { "/r", src, bad[i].readonly, bad[i].p, true } };
		struct oci_ctr_config b = { .mounts = m, .n_mounts = 2 };
		h.rro = bad[i].host_rro;
		h.mount_setattr = bad[i].host_setattr;
		(void)build(&b, &h, -EINVAL, &err);
		if (!strstr(err_str(&err), bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err_str(&err), bad[i].msg);
		err_done(&err);
		struct stat st;
		assert_int_equal(stat(missing, &st), -1);
	}
}

static void test_runtime_features(void **state)
{
	struct err err = ERR_INIT;
	struct oci_runtime_features f;
	static const char runc[] =
	    "{\"ociVersionMin\":\"1.0.0\",\"mountOptions\":[\"ro\",\"rro\",\"rbind\"],"
	    "\"linux\":{\"namespaces\":[\"mount\",\"user\"],"
	    "\"mountExtensions\":{\"idmap\":{\"enabled\":true}}}}";
	assert_int_equal(oci_runtime_features_parse(runc, strlen(runc), &f, &err), 0);
	assert_true(f.rro && f.userns && f.idmap);
	static const char old[] = "{\"mountOptions\":[\"ro\",\"rbind\"],\"linux\":{}}";
	assert_int_equal(oci_runtime_features_parse(old, strlen(old), &f, &err), 0);
	assert_false(f.rro || f.userns || f.idmap);
	static const char odd[] = "{\"mountOptions\":\"rro\",\"linux\":[1]}";
	assert_int_equal(oci_runtime_features_parse(odd, strlen(odd), &f, &err), 0);
	assert_false(f.rro || f.userns || f.idmap);
	static const char typed[] = "{\"linux\":{\"mountExtensions\":{\"idmap\":{\"enabled\":1}},"
				    "\"namespaces\":[1,\"user\"]}}";
	assert_int_equal(oci_runtime_features_parse(typed, strlen(typed), &f, &err), 0);
	assert_true(f.userns);
	assert_false(f.rro || f.idmap);
	assert_int_equal(oci_runtime_features_parse("[]", 2, &f, &err), -EINVAL);
	assert_string_equal(err_str(&err), "runtime features: not a JSON object");
	err_done(&err);
	/* What is wrong with what the program printed: where, and why. */
	assert_int_equal(oci_runtime_features_parse("nope", 4, &f, &err), -EINVAL);
	if (!strstr(err_str(&err), "runtime features:1:") ||
	    !strstr(err_str(&err), "invalid token"))
		fail_msg("%s", err_str(&err));
	err_done(&err);
	static const char cut[] = "{\"mountOptions\":[\"rro\",\n\"ro\"";
	assert_int_equal(oci_runtime_features_parse(cut, strlen(cut), &f, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "runtime features:2:"));
	assert_false(f.rro);
	err_done(&err);
	static const char dup[] = "{\"linux\":{},\"linux\":{}}";
	assert_int_equal(oci_runtime_features_parse(dup, strlen(dup), &f, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "duplicate object key"));
	err_done(&err);
	/* Bounded: what proc_run keeps of the output (1 MiB). */
	size_t n = (1u << 20) + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	assert_int_equal(oci_runtime_features_parse(big, n, &f, &err), -EFBIG);
	assert_string_equal(err_str(&err), "runtime features: larger than 1048576 bytes");
	err_done(&err);
	free(big);
}

static const char mountinfo[] = "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
				"27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
				"40 27 0:40 / /mnt/s rw shared:7 master:3 - tmpfs t rw\n"
				"41 27 0:41 / /mnt/sl rw master:3 - tmpfs t rw\n"
				"42 27 0:42 / /mnt/p rw - tmpfs t rw\n"
				"+43 27 0:43 / /mnt/x rw shared:9 - tmpfs t rw\n"
				" 44 27 0:44 / /mnt/y rw shared:9 - tmpfs t rw\n"
				"garbage\n";

static void test_mountinfo(void **state)
{
	assert_int_equal(oci_mountinfo_propagation(mountinfo, 27), 2);
	assert_int_equal(oci_mountinfo_propagation(mountinfo, 40), 2);
	assert_int_equal(oci_mountinfo_propagation(mountinfo, 41), 1);
	assert_int_equal(oci_mountinfo_propagation(mountinfo, 42), 0);
	/* strtoull read "+43" and " 44" as ids: not ids */
	assert_int_equal(oci_mountinfo_propagation(mountinfo, 43), -ENOENT);
	assert_int_equal(oci_mountinfo_propagation(mountinfo, 44), -ENOENT);
	assert_int_equal(oci_mountinfo_propagation("", 1), -ENOENT);
}

/* Real host-side checks on tmpfs mounts made in a private mount namespace. */
static void test_propagation_checks(void **state)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail_msg("unshare/mount: %s (tests run as root)", strerror(errno));
	char p[128];
	snprintf(p, sizeof(p), "%s/prop", tmp);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(mount("tmpfs", p, "tmpfs", 0, NULL), 0);
	struct err err = ERR_INIT;
	assert_int_equal(oci_mount_check_propagation(p, OCI_PROPAGATION_PRIVATE, &err), 0);
	assert_int_equal(oci_mount_check_propagation(p, OCI_PROPAGATION_BIDIRECTIONAL, &err),
			 -EINVAL);
	assert_non_null(strstr(err_str(&err), "not shared"));
	assert_int_equal(oci_mount_check_propagation(p, OCI_PROPAGATION_HOST_TO_CONTAINER, &err),
			 -EINVAL);
	assert_non_null(strstr(err_str(&err), "private"));

	/* a spec asking for rshared on a private mount fails the same way */
	struct oci_mount m[] = { { "/shared", p, false, OCI_PROPAGATION_BIDIRECTIONAL, false } };
	struct oci_ctr_config c = { .mounts = m, .n_mounts = 1 };
	(void)build(&c, NULL, -EINVAL, &err);

	assert_int_equal(mount(NULL, p, NULL, MS_SHARED, NULL), 0);
	assert_int_equal(oci_mount_check_propagation(p, OCI_PROPAGATION_BIDIRECTIONAL, &err), 0);
	assert_int_equal(oci_mount_check_propagation(p, OCI_PROPAGATION_HOST_TO_CONTAINER, &err),
			 0);
	json_t *s = build(&c, NULL, 0, &err);
	assert_true(mount_has_opt(find_mount(s, "/shared"), "rshared"));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(s, "linux"), "rootfsPropagation")),
	    "rshared");
	json_decref(s);

	char q[160];
	snprintf(q, sizeof(q), "%s/prop2", tmp);
	assert_int_equal(mkdir(q, 0755), 0);
	assert_int_equal(mount("tmpfs", q, "tmpfs", 0, NULL), 0);
	assert_int_equal(mount(NULL, q, NULL, MS_SHARED, NULL), 0);
	char q2[160];
	snprintf(q2, sizeof(q2), "%s/prop3", tmp);
	assert_int_equal(mkdir(q2, 0755), 0);
	assert_int_equal(mount(q, q2, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mount(NULL, q2, NULL, MS_SLAVE, NULL), 0);
	assert_int_equal(oci_mount_check_propagation(q2, OCI_PROPAGATION_HOST_TO_CONTAINER, &err),
			 0);
	assert_int_equal(oci_mount_check_propagation(q2, OCI_PROPAGATION_BIDIRECTIONAL, &err),
			 -EINVAL);
	(void)umount2(q2, MNT_DETACH);
	(void)umount2(q, MNT_DETACH);
	(void)umount2(p, MNT_DETACH);
	err_done(&err);
}

static void test_working_dir(void **state)
{
	struct err err = ERR_INIT;
	/* rootfs symlink /wd -> /../../.. must stay inside the rootfs */
	char l[160], p[200];
	snprintf(l, sizeof(l), "%s/wd", root);
	assert_int_equal(symlink("/../../../../../..", l), 0);
	struct oci_ctr_config c = { .working_dir = "/wd/made/here",
				    .run_as_username = NULL,
				    .has_run_as_user = true,
				    .run_as_user = 1234 };
	json_t *s = build(&c, NULL, 0, &err);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(s, "process"), "cwd")),
	    "/wd/made/here");
	json_decref(s);
	snprintf(p, sizeof(p), "%s/made/here", root);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(stat("/made/here", &st), -1);

	struct oci_ctr_config img = { .image.working_dir = "rel/dir" };
	s = build(&img, NULL, 0, &err);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(s, "process"), "cwd")), "/rel/dir");
	json_decref(s);

	snprintf(p, sizeof(p), "%s/file", root);
	FILE *f = fopen(p, "we");
	fclose(f);
	struct oci_ctr_config nd = { .working_dir = "/file/sub" };
	(void)build(&nd, NULL, -ENOTDIR, &err);
	assert_non_null(strstr(err_str(&err), "not a directory"));
	err_done(&err);
}

static void test_privileged_and_paths(void **state)
{
	struct err err = ERR_INIT;
	struct oci_ctr_config c = { .seccomp = { OCI_SECCOMP_RUNTIME_DEFAULT, NULL } };
	json_t *s = build(&c, NULL, 0, &err);
	json_t *l = json_object_get(s, "linux");
	assert_true(json_array_size(json_object_get(l, "maskedPaths")) >= 5);
	assert_true(json_array_size(json_object_get(l, "readonlyPaths")) >= 4);
	char *sc = js_dump(json_object_get(l, "seccomp"), 0);
	assert_non_null(strstr(sc, "\"kexec_load\""));
	assert_non_null(strstr(sc, "\"mount\""));
	free(sc);
	json_decref(s);

	char *none[] = { NULL }, *one[] = { "/proc/x", NULL };
	struct oci_ctr_config e = { .masked_paths = none,
				    .readonly_paths = one,
				    .seccomp = { OCI_SECCOMP_UNCONFINED, NULL } };
	s = build(&e, NULL, 0, &err);
	l = json_object_get(s, "linux");
	assert_int_equal(json_array_size(json_object_get(l, "maskedPaths")), 0);
	assert_int_equal(json_array_size(json_object_get(l, "readonlyPaths")), 1);
	assert_null(json_object_get(l, "seccomp"));
	json_decref(s);

	struct oci_ctr_config p = { .privileged = true,
				    .seccomp = { OCI_SECCOMP_RUNTIME_DEFAULT, NULL } };
	s = build(&p, NULL, 0, &err);
	l = json_object_get(s, "linux");
	assert_int_equal(json_array_size(json_object_get(l, "maskedPaths")), 0);
	assert_null(json_object_get(l, "seccomp"));
	assert_false(mount_has_opt(find_mount(s, "/sys"), "ro"));
	char *dev = js_dump(json_object_get(l, "devices"), 0);
	assert_non_null(strstr(dev, "\"/dev/null\""));
	free(dev);
	json_decref(s);

	struct oci_device d[] = { { "/dev/mynull", "/dev/null", "rw" } };
	struct oci_ctr_config dv = { .devices = d, .n_devices = 1 };
	s = build(&dv, NULL, 0, &err);
	dev = js_dump(json_object_get(s, "linux"), JS_DUMP_SORTED);
	assert_non_null(
	    strstr(dev, "\"major\":1,\"minor\":3,\"path\":\"/dev/mynull\",\"type\":\"c\""));
	assert_non_null(strstr(
	    dev, "{\"access\":\"rw\",\"allow\":true,\"major\":1,\"minor\":3,\"type\":\"c\"}"));
	free(dev);
	json_decref(s);
	struct oci_device bad[] = { { "/dev/x", "/etc/hostname", "rw" } };
	struct oci_ctr_config bd = { .devices = bad, .n_devices = 1 };
	(void)build(&bd, NULL, -EINVAL, &err);
	err_done(&err);
}

static void test_seccomp_localhost(void **state)
{
	struct err err = ERR_INIT;
	char p[128];
	snprintf(p, sizeof(p), "%s/profile.json", tmp);
	FILE *f = fopen(p, "we");
	fputs(
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\","
	    "\"subArchitectures\":[\"SCMP_ARCH_X86\"]}],\"syscalls\":["
	    "{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
	    "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
	    "{\"name\":\"ptrace\",\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"caps\":[\"CAP_CHOWN\"]}}]}",
	    f);
	fclose(f);
	struct oci_ctr_config c = { .seccomp = { OCI_SECCOMP_LOCALHOST, p } };
	json_t *s = build(&c, NULL, 0, &err);
	char *j = js_dump(json_object_get(json_object_get(s, "linux"), "seccomp"), 0);
	assert_non_null(strstr(j, "\"read\""));
	assert_null(strstr(j, "\"mount\""));  /* needs CAP_SYS_ADMIN */
	assert_null(strstr(j, "\"ptrace\"")); /* excluded: has CAP_CHOWN */
#ifdef __x86_64__
	assert_non_null(strstr(j, "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"]"));
#endif
	free(j);
	json_decref(s);
	struct oci_ctr_config rel = { .seccomp = { OCI_SECCOMP_LOCALHOST, "profile.json" } };
	(void)build(&rel, NULL, -EINVAL, &err);
	assert_non_null(strstr(err_str(&err), "absolute"));
	struct oci_ctr_config miss = { .seccomp = { OCI_SECCOMP_LOCALHOST, "/nonexistent.json" } };
	(void)build(&miss, NULL, -ENOENT, &err);
	err_done(&err);
}

static void test_signal(void **state)
{
	static const struct {
		const char *s;
		int want;
	} cases[] = {
		{ NULL, SIGTERM },	{ "", SIGTERM },
		{ "SIGTERM", SIGTERM }, { "term", SIGTERM },
		{ "15", 15 },		{ "SIGKILL", SIGKILL },
		{ "sigquit", SIGQUIT }, { "SIGWINCH", SIGWINCH },
		{ "SIGRTMIN", 0 },	{ "SIGRTMIN+3", 3 },
		{ "RTMAX-1", -1 },	{ "SIGFOO", -EINVAL },
		{ "0", -EINVAL },	{ "999", -EINVAL },
		{ "-9", -EINVAL },	{ "SIGRTMIN+99", -EINVAL },
		{ "RTMAX+1", -EINVAL }, { "SIG", -EINVAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct err err = ERR_INIT;
		int want = cases[i].want;
		if (cases[i].s && strstr(cases[i].s, "RTMIN") && want >= 0)
			want += SIGRTMIN;
		else if (cases[i].s && strstr(cases[i].s, "RTMAX") && want < 0 && want != -EINVAL)
			want = SIGRTMAX + want;
		int r = oci_signal_parse(cases[i].s, &err);
		if (r != want)
			fail_msg("'%s': %d, want %d", cases[i].s ? cases[i].s : "(null)", r, want);
		err_done(&err);
	}
	/* What images (STOPSIGNAL) and CRI (the Signal enum's names) write,
	 * with glibc's SIGRTMIN of 34, as runc and containerd count. */
	assert_int_equal(SIGRTMIN, 34);
	static const struct {
		const char *s;
		int want;
	} abs[] = {
		{ "SIGRTMIN+3", 37 },	     { "RTMIN+3", 37 },	       { "37", 37 },
		{ "SIGRTMINPLUS3", 37 },     { "sigrtminplus15", 49 }, { "SIGRTMAXMINUS14", 50 },
		{ "SIGRTMAXMINUS1", 63 },    { "SIGRTMAX", 64 },       { "SIGCLD", SIGCHLD },
		{ "SIGRTMINPLUS", -EINVAL }, { "RTMIN-3", -EINVAL },   { "RTMAXPLUS1", -EINVAL },
		{ " 15", -EINVAL },	     { "+15", -EINVAL },       { "15 ", -EINVAL },
		{ "65", -EINVAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(abs); i++) {
		int r = oci_signal_parse(abs[i].s, NULL);
		if (r != abs[i].want)
			fail_msg("'%s': %d, want %d", abs[i].s, r, abs[i].want);
	}
	/* Names read back. */
	char buf[OCI_SIGNAL_NAME_MAX];
	assert_string_equal(oci_signal_name(SIGTERM, buf), "SIGTERM");
	assert_string_equal(oci_signal_name(SIGABRT, buf), "SIGABRT");
	assert_string_equal(oci_signal_name(37, buf), "SIGRTMIN+3");
	assert_string_equal(oci_signal_name(34, buf), "SIGRTMIN");
	assert_string_equal(oci_signal_name(50, buf), "SIGRTMAX-14");
	assert_string_equal(oci_signal_name(64, buf), "SIGRTMAX");
	assert_string_equal(oci_signal_name(0, buf), "0");
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		if (oci_signal_parse(oci_signal_name(sig, buf), NULL) != sig)
			fail_msg("%d: '%s' does not read back", sig, buf);
	}
}

static void test_sysctls_annotations_ro(void **state)
{
	struct err err = ERR_INIT;
	struct oci_kv sc[] = { { "net.ipv4.ip_forward", "1" } };
	struct oci_kv an[] = { { "io.kubernetes.pod.name", "p" } };
	struct oci_ctr_config c = { .sysctls = sc,
				    .n_sysctls = 1,
				    .annotations = an,
				    .n_annotations = 1,
				    .readonly_rootfs = true,
				    .pod_files = { .resolv_conf = "/etc/resolv.conf" } };
	json_t *s = build(&c, NULL, 0, &err);
	char *j = js_dump(s, JS_DUMP_SORTED);
	assert_non_null(strstr(j, "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}"));
	assert_non_null(strstr(j, "\"annotations\":{\"io.kubernetes.pod.name\":\"p\"}"));
	assert_non_null(strstr(j, "\"root\":{\"path\":"));
	assert_non_null(strstr(j, "\"readonly\":true"));
	free(j);
	assert_true(mount_has_opt(find_mount(s, "/etc/resolv.conf"), "ro"));
	json_decref(s);
	struct oci_kv bad[] = { { "", "1" } };
	struct oci_ctr_config b = { .sysctls = bad, .n_sysctls = 1 };
	(void)build(&b, NULL, -EINVAL, &err);
	struct oci_ctr_config rel = { .rootfs = "relative/root" };
	(void)build(&rel, NULL, -EINVAL, &err);
	assert_non_null(strstr(err_str(&err), "absolute"));
	err_done(&err);
}

static void test_cgroups_path(void **state)
{
	struct err err = ERR_INIT;
	char *p = NULL;
	assert_int_equal(
	    oci_cgroups_path(OCI_CGROUP_SYSTEMD, "kubepods-pod1.slice", "abc", &p, &err), 0);
	assert_string_equal(p, "kubepods-pod1.slice:ocid:abc");
	free(p);
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_SYSTEMD, NULL, "abc", &p, &err), 0);
	assert_string_equal(p, "system.slice:ocid:abc");
	free(p);
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_CGROUPFS, "/kubepods/pod1/", "abc", &p, &err),
			 0);
	assert_string_equal(p, "/kubepods/pod1/ocid-abc");
	free(p);
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_CGROUPFS, "", "abc", &p, &err), 0);
	assert_string_equal(p, "/ocid/ocid-abc");
	free(p);
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_SYSTEMD, "/kubepods", "abc", &p, &err),
			 -EINVAL);
	assert_non_null(strstr(err_str(&err), "cgroup driver"));
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_CGROUPFS, "kubepods.slice", "abc", &p, &err),
			 -EINVAL);
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_CGROUPFS, "/a/../b", "abc", &p, &err),
			 -EINVAL);
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_CGROUPFS, "/a", "x/y", &p, &err), -EINVAL);
	assert_int_equal(oci_cgroups_path(OCI_CGROUP_CGROUPFS, "/a", "..", &p, &err), -EINVAL);
	err_done(&err);
}

static void test_resources_update(void **state)
{
	struct err err = ERR_INIT;
	struct oci_resources r = { .cpu_quota = 20000,
				   .cpu_period = 100000,
				   .memory_limit_in_bytes = 1 << 25 };
	json_t *o = NULL;
	assert_int_equal(oci_resources_build(&r, &host, &o, &err), 0);
	char *j = js_dump(o, JS_DUMP_SORTED);
	assert_string_equal(j, "{\"cpu\":{\"period\":100000,\"quota\":20000},"
			       "\"memory\":{\"limit\":33554432,\"swap\":33554432}}");
	free(j);
	json_decref(o);
	r.memory_limit_in_bytes = -5;
	assert_int_equal(oci_resources_build(&r, &host, &o, &err), -EINVAL);
	err_done(&err);
}

static void test_host_probe(void **state)
{
	struct oci_host h;
	struct err err = ERR_INIT;
	assert_int_equal(oci_host_probe(&h, &err), 0);
	assert_true(h.cap_bounding & 1); /* tests run as root */
	assert_true(h.nofile_hard > 0);
	assert_true(h.oom_score_adj_min >= -1000 && h.oom_score_adj_min <= 1000);
	assert_true(h.mount_setattr); /* this kernel is 5.12 or later */
	assert_false(h.rro);	      /* left to the caller that knows the runtime */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_rules),
		cmocka_unit_test(test_env_merge),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_process_bounds),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_user_namespace),
		cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_mounts_rro),
		cmocka_unit_test(test_runtime_features),
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_working_dir),
		cmocka_unit_test(test_privileged_and_paths),
		cmocka_unit_test(test_seccomp_localhost),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_sysctls_annotations_ro),
		cmocka_unit_test(test_cgroups_path),
		cmocka_unit_test(test_resources_update),
		cmocka_unit_test(test_host_probe),
		cmocka_unit_test(test_propagation_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
