/* pod: the sandbox manager with a real database, real namespaces (user
 * namespaces too), real CNI plugins on a bridge and subnet of this test's
 * own, and ocid-pause. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "cni/cni.h"
#include "db/db.h"
#include "pod/pod.h"
#include "proc/proc.h"

static char tmp[64], bridge[16], subnet[64], prefix[32], cgparent[64];
static char *plugin_dirs[2];

struct env {
	struct db *db;
	struct cni *cni;
	struct pod_manager *m;
};

static int sh(const char *cmd, char **out)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	char *env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct proc_opts o = { .argv = argv, .env = env, .timeout_ms = 20000 };
	struct proc_result res;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(proc_run(&o, &res, &err), 0);
	int st = res.status;
	if (out)
		*out = TAKE_PTR(res.out);
	proc_result_done(&res);
	return st;
}

static char *sh_out(const char *cmd)
{
	char *out = NULL;
	int st = sh(cmd, &out);
	if (st != 0)
		fail_msg("'%s' exited %d", cmd, st);
	return out;
}

static void open_env(struct env *e)
{
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *root = xasprintf("%s/root", tmp);
	cleanup_free char *run = xasprintf("%s/run", tmp);
	cleanup_free char *conf = xasprintf("%s/net.d", tmp);
	cleanup_free char *cache = xasprintf("%s/root/cni/cache", tmp);
	cleanup_free char *ipam = xasprintf("%s/root/cni/networks", tmp);
	mkdir(root, 0700);
	mkdir(run, 0700);
	assert_int_equal(db_open(root, &e->db, &err), 0);
	struct cni_opts co = { .conf_dir = conf,
			       .plugin_dirs = plugin_dirs,
			       .cache_dir = cache,
			       .default_bridge = bridge,
			       .default_subnet = subnet,
			       .default_data_dir = ipam };
	assert_int_equal(cni_new(&co, &e->cni, &err), 0);
	struct pod_manager_opts o = { .root = root,
				      .runroot = run,
				      .cgroup_parent = cgparent,
				      .cgroup_driver = "cgroupfs",
				      .pause_path = getenv("OCID_PAUSE"),
				      .db = e->db,
				      .cni = e->cni };
	if (pod_manager_new(&o, &e->m, &err) < 0)
		fail_msg("manager: %s", err_str(&err));
}

static void close_env(struct env *e)
{
	pod_manager_free(e->m);
	cni_free(e->cni);
	db_close(e->db);
}

static int setup(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/ocid-pod-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	unsigned p = (unsigned)getpid();
	snprintf(bridge, sizeof(bridge), "ocup%x", p & 0xfffff);
	snprintf(prefix, sizeof(prefix), "10.%u.%u.", 150 + (p / 250) % 50, p % 250);
	snprintf(subnet, sizeof(subnet), "%s0/24", prefix);
	snprintf(cgparent, sizeof(cgparent), "/ocid-test-%u", p);
	/* A private copy of the plugins, so one can be removed mid-test. */
	plugin_dirs[0] = xasprintf("%s/plugins", tmp);
	cleanup_free char *cp =
	    xasprintf("mkdir -p %s/net.d %s && cp /usr/lib/cni/bridge /usr/lib/cni/host-local "
		      "/usr/lib/cni/portmap %s/",
		      tmp, plugin_dirs[0], plugin_dirs[0]);
	assert_int_equal(sh(cp, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	/* NAT rules of our subnet (a simulated reboot leaves them, as a real
	 * one would not; the built-in network's masquerade chain), mounts, the
	 * bridge, cgroups, the temp dir. */
	cleanup_free char *ipt =
	    xasprintf("for c in $(iptables -t nat -S POSTROUTING | grep -- '-s %s' |"
		      " grep -o 'CNI-[0-9a-f]*\\|OCID-MASQ-[0-9a-f]*' | sort -u); do"
		      " iptables -t nat -S POSTROUTING | grep -- \"-j $c\" | sed 's/^-A /-D /' |"
		      " while read -r l; do eval iptables -t nat $l; done;"
		      " iptables -t nat -F $c; iptables -t nat -X $c; done",
		      prefix);
	(void)sh(ipt, NULL);
	cleanup_free char *cmd = xasprintf(
	    "for m in $(grep -o '%s/[^ ]*' /proc/self/mountinfo | sort -r); do umount -l $m; done;"
	    " ip link del %s 2>/dev/null;"
	    " for d in $(grep -E ' cgroup2? ' /proc/self/mountinfo | cut -d' ' -f5); do"
	    "   find $d%s -depth -type d -exec rmdir {} \\; 2>/dev/null; done;"
	    " rm -rf %s",
	    tmp, bridge, cgparent, tmp);
	(void)sh(cmd, NULL);
	free(plugin_dirs[0]);
	return 0;
}

static void base_config(struct pod_config *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->name = (char *)name;
	c->namespace = "default";
	c->uid = "uid-1";
	c->ns_pid = POD_NS_CONTAINER;
}

static char *read_text(const char *dir, const char *name)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	char *text = NULL;
	size_t len;
	cleanup_err struct err err = ERR_INIT;
	if (fs_read_file(AT_FDCWD, p, 1 << 20, &text, &len, &err) < 0)
		fail_msg("%s", err_str(&err));
	return text;
}

static size_t count_pod_dirs(void)
{
	cleanup_free char *cmd = xasprintf("ls %s/run/pods 2>/dev/null | wc -l", tmp);
	cleanup_free char *out = sh_out(cmd);
	return (size_t)atoi(out);
}

static void test_full_pod(void **state)
{
	struct env e;
	open_env(&e);
	cleanup_err struct err err = ERR_INIT;
	struct pod_config c;
	base_config(&c, "web");
	c.hostname = "web-0";
	c.ns_pid = POD_NS_POD;
	cleanup_free char *logdir = xasprintf("%s/logs/default_web_uid-1", tmp);
	c.log_directory = logdir;
	char *servers[] = { "10.96.0.10", NULL };
	char *searches[] = { "default.svc.cluster.local", "svc.cluster.local", NULL };
	char *options[] = { "ndots:5", NULL };
	c.has_dns = true;
	c.dns = (struct pod_dns){ servers, searches, options };
	struct pod_kv sysctls[] = { { "net.ipv4.ip_local_port_range", "2000 3000" },
				    { "kernel.shmmni", "1234" } };
	c.sysctls = sysctls;
	c.n_sysctls = 2;
	struct pod_kv labels[] = { { "app", "web" } };
	c.labels = labels;
	c.n_labels = 1;
	cleanup_free char *id = NULL;
	if (pod_run(e.m, &c, &id, &err) < 0)
		fail_msg("run: %s", err_str(&err));

	cleanup(pod_info_free) struct pod_info *i = NULL;
	assert_int_equal(pod_get(e.m, id, &i, &err), 0);
	assert_int_equal(i->state, POD_READY);
	struct stat ls;
	assert_int_equal(stat(logdir, &ls), 0);
	assert_true(S_ISDIR(ls.st_mode));
	assert_non_null(i->ips);
	assert_true(str_has_prefix(i->ips[0], prefix));
	assert_string_equal(i->reserved_name, "k8s_web_default_uid-1_0");
	assert_true(proc_ns_is_pinned(i->netns_path));
	assert_true(proc_ns_is_pinned(i->pidns_path));

	cleanup_free char *hn = read_text(i->dir, "hostname");
	assert_string_equal(hn, "web-0\n");
	cleanup_free char *resolv = read_text(i->dir, "resolv.conf");
	assert_string_equal(resolv, "nameserver 10.96.0.10\n"
				    "search default.svc.cluster.local svc.cluster.local\n"
				    "options ndots:5\n");
	cleanup_free char *hosts = read_text(i->dir, "hosts");
	cleanup_free char *want_hosts = xasprintf(
	    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\tweb-0\n",
	    i->ips[0]);
	assert_string_equal(hosts, want_hosts);
	struct statfs sf;
	assert_int_equal(statfs(i->shm_path, &sf), 0);
	assert_int_equal(sf.f_type, TMPFS_MAGIC);

	/* Inside: hostname, sysctls, ocid-pause as PID 1. */
	cleanup_free char *cmd = xasprintf("nsenter --uts=%s hostname", i->utsns_path);
	cleanup_free char *o1 = sh_out(cmd);
	assert_string_equal(o1, "web-0\n");
	free(cmd);
	cmd =
	    xasprintf("nsenter --net=%s cat /proc/sys/net/ipv4/ip_local_port_range", i->netns_path);
	cleanup_free char *o2 = sh_out(cmd);
	assert_string_equal(o2, "2000\t3000\n");
	free(cmd);
	cmd = xasprintf("nsenter --ipc=%s cat /proc/sys/kernel/shmmni", i->ipcns_path);
	cleanup_free char *o3 = sh_out(cmd);
	assert_string_equal(o3, "1234\n");
	free(cmd);
	cmd = xasprintf("grep NSpid /proc/%d/status", (int)i->pause_pid);
	cleanup_free char *o4 = sh_out(cmd);
	assert_non_null(strstr(o4, "\t1\n"));
	free(cmd);
	cmd = xasprintf("cat /sys/fs/cgroup/pids%s/cgroup.procs", i->cgroup_parent);
	cleanup_free char *o5 = sh_out(cmd);
	cleanup_free char *pidline = xasprintf("%d\n", (int)i->pause_pid);
	assert_string_equal(o5, pidline);

	/* The same metadata again: ALREADY_EXISTS naming the holder. */
	char *id2 = NULL;
	assert_int_equal(pod_run(e.m, &c, &id2, &err), -EEXIST);
	assert_non_null(strstr(err_str(&err), id));

	/* List filters. */
	struct pod_info **v = NULL;
	size_t n = 0;
	struct oci_kv sel[] = { { "app", "web" } };
	struct pod_filter f = { .state = POD_READY, .labels = sel, .n_labels = 1 };
	assert_int_equal(pod_list(e.m, &f, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	pod_info_list_free(v, n);
	struct oci_kv sel2[] = { { "app", "db" } };
	f.labels = sel2;
	assert_int_equal(pod_list(e.m, &f, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	pod_info_list_free(v, n);
	char pfx[7];
	memcpy(pfx, id, 6);
	pfx[6] = 0;
	struct pod_filter fid = { .id = pfx, .state = -1 };
	assert_int_equal(pod_list(e.m, &fid, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	pod_info_list_free(v, n);

	/* Restart: the pod is still READY with the same IP. */
	cleanup_free char *ip = xstrdup(i->ips[0]);
	close_env(&e);
	open_env(&e);
	cleanup(pod_info_free) struct pod_info *j = NULL;
	assert_int_equal(pod_get(e.m, pfx, &j, &err), 0);
	assert_int_equal(j->state, POD_READY);
	assert_string_equal(j->ips[0], ip);

	/* Stop twice, then remove twice: everything goes. */
	pid_t pause = j->pause_pid;
	assert_int_equal(pod_stop(e.m, id, &err), 0);
	assert_int_equal(pod_stop(e.m, id, &err), 0);
	cleanup(pod_info_free) struct pod_info *k = NULL;
	assert_int_equal(pod_get(e.m, id, &k, &err), 0);
	assert_int_equal(k->state, POD_NOTREADY);
	assert_false(proc_ns_is_pinned(j->netns_path));
	assert_int_equal(kill(pause, 0), -1);
	cleanup_free char *ipam = xasprintf("ls %s/root/cni/networks/%s | grep -c '^%s' || true",
					    tmp, CNI_DEFAULT_NETWORK, prefix);
	cleanup_free char *o6 = sh_out(ipam);
	assert_string_equal(o6, "0\n");
	assert_int_equal(pod_remove(e.m, id, &err), 0);
	assert_int_equal(pod_remove(e.m, id, &err), 0);
	assert_int_equal(pod_get(e.m, id, NULL, &err), -ENOENT);
	assert_int_equal(count_pod_dirs(), 0);
	free(cmd);
	cmd = xasprintf("test -e /sys/fs/cgroup/pids%s", j->cgroup_parent);
	assert_int_not_equal(sh(cmd, NULL), 0);
	close_env(&e);
}

static void test_host_network(void **state)
{
	struct env e;
	open_env(&e);
	cleanup_err struct err err = ERR_INIT;
	struct pod_config c;
	base_config(&c, "hostnet");
	c.ns_network = POD_NS_NODE;
	c.ns_ipc = POD_NS_NODE;
	c.hostname = "ignored";
	cleanup_free char *id = NULL;
	if (pod_run(e.m, &c, &id, &err) < 0)
		fail_msg("run: %s", err_str(&err));
	cleanup(pod_info_free) struct pod_info *i = NULL;
	assert_int_equal(pod_get(e.m, id, &i, &err), 0);
	assert_null(i->netns_path);
	assert_null(i->ipcns_path);
	assert_null(i->shm_path);
	assert_null(i->ips);
	char host[256] = "";
	gethostname(host, sizeof(host));
	assert_string_equal(i->hostname, host);
	cleanup_free char *hosts = read_text(i->dir, "hosts");
	cleanup_free char *etc = read_text("/etc", "hosts");
	assert_string_equal(hosts, etc);
	/* A net sysctl on the host network is refused, naming it. */
	struct pod_kv bad[] = { { "net.ipv4.ip_forward", "1" } };
	struct pod_config c2;
	base_config(&c2, "hostnet2");
	c2.ns_network = POD_NS_NODE;
	c2.sysctls = bad;
	c2.n_sysctls = 1;
	char *id2 = NULL;
	assert_int_equal(pod_run(e.m, &c2, &id2, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "net.ipv4.ip_forward"));
	assert_int_equal(pod_remove(e.m, id, &err), 0);
	assert_int_equal(count_pod_dirs(), 0);
	close_env(&e);
}

static void test_failures(void **state)
{
	struct env e;
	open_env(&e);
	cleanup_err struct err err = ERR_INIT;
	struct pod_config c;
	char *id = NULL;
	/* Validation. */
	base_config(&c, "");
	assert_int_equal(pod_run(e.m, &c, &id, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "metadata.name"));
	base_config(&c, "x");
	struct pod_kv cve[] = { { "kernel.shm_rmid_forced", "1+kernel.core_pattern=|/tmp/x" } };
	c.sysctls = cve;
	c.n_sysctls = 1;
	assert_int_equal(pod_run(e.m, &c, &id, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "kernel.shm_rmid_forced"));
	base_config(&c, "x");
	struct pod_port badport[] = { { POD_PROTO_TCP, 80, 8080, "127.0.0.1\n" } };
	c.ports = badport;
	c.n_ports = 1;
	assert_int_equal(pod_run(e.m, &c, &id, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "host_ip"));
	base_config(&c, "x");
	c.log_directory = "/var/log/../../etc";
	assert_int_equal(pod_run(e.m, &c, &id, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "log_directory"));
	assert_int_equal(count_pod_dirs(), 0);

	/* A CNI ADD that fails: the plugin's message, nothing left. */
	cleanup_free char *bad = xasprintf(
	    "echo '{\"cniVersion\":\"1.0.0\",\"name\":\"badnet\",\"plugins\":[{\"type\":\"bridge\","
	    "\"bridge\":\"%s\",\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.0.0.0/33\"}]]}}]}'"
	    " > %s/net.d/10-bad.conflist",
	    bridge, tmp);
	assert_int_equal(sh(bad, NULL), 0);
	base_config(&c, "cnifail");
	assert_true(pod_run(e.m, &c, &id, &err) < 0);
	assert_non_null(strstr(err_str(&err), "plugin bridge"));
	assert_int_equal(count_pod_dirs(), 0);
	cleanup_free char *mnts = xasprintf("grep -c '%s/run' /proc/self/mountinfo || true", tmp);
	cleanup_free char *o = sh_out(mnts);
	assert_string_equal(o, "0\n");
	cleanup_free char *rm = xasprintf("rm -f %s/net.d/*", tmp);
	assert_int_equal(sh(rm, NULL), 0);

	/* The plugin binary vanishes before stop: stop and remove succeed. */
	base_config(&c, "noplugin");
	cleanup_free char *id3 = NULL;
	if (pod_run(e.m, &c, &id3, &err) < 0)
		fail_msg("run: %s", err_str(&err));
	cleanup(pod_info_free) struct pod_info *i3 = NULL;
	assert_int_equal(pod_get(e.m, id3, &i3, &err), 0);
	cleanup_free char *mv =
	    xasprintf("mv %s/bridge %s/bridge.away", plugin_dirs[0], plugin_dirs[0]);
	assert_int_equal(sh(mv, NULL), 0);
	assert_int_equal(pod_stop(e.m, id3, &err), 0);
	assert_int_equal(pod_network_status(e.m, &err), -ENOENT);
	cleanup_free char *back =
	    xasprintf("mv %s/bridge.away %s/bridge", plugin_dirs[0], plugin_dirs[0]);
	assert_int_equal(sh(back, NULL), 0);
	/* The DEL owed is retried by remove and now succeeds. */
	cleanup_free char *lease =
	    xasprintf("%s/root/cni/networks/%s/%s", tmp, CNI_DEFAULT_NETWORK, i3->ips[0]);
	assert_int_equal(access(lease, F_OK), 0);
	assert_int_equal(pod_remove(e.m, id3, &err), 0);
	cleanup_free char *cache = xasprintf("ls %s/root/cni/cache | wc -l", tmp);
	cleanup_free char *o2 = sh_out(cache);
	assert_string_equal(o2, "0\n");
	/* The retry ran the whole chain: host-local gave the address back. */
	assert_int_equal(access(lease, F_OK), -1);
	assert_int_equal(pod_remove(e.m, "0123456789abcdef", &err), 0);
	close_env(&e);
}

static void test_reboot(void **state)
{
	struct env e;
	open_env(&e);
	cleanup_err struct err err = ERR_INIT;
	struct pod_config c;
	base_config(&c, "reboot");
	cleanup_free char *id = NULL;
	if (pod_run(e.m, &c, &id, &err) < 0)
		fail_msg("run: %s", err_str(&err));
	cleanup(pod_info_free) struct pod_info *i = NULL;
	assert_int_equal(pod_get(e.m, id, &i, &err), 0);
	close_env(&e);
	/* What a reboot does to the runroot: mounts gone, files gone. */
	cleanup_free char *cmd = xasprintf(
	    "for m in $(grep -o '%s/[^ ]*' /proc/self/mountinfo | sort -r); do umount -l $m; done;"
	    " rm -rf %s",
	    i->dir, i->dir);
	assert_int_equal(sh(cmd, NULL), 0);
	open_env(&e);
	cleanup(pod_info_free) struct pod_info *j = NULL;
	assert_int_equal(pod_get(e.m, id, &j, &err), 0);
	assert_int_equal(j->state, POD_NOTREADY);
	assert_int_equal(pod_stop(e.m, id, &err), 0);
	assert_int_equal(pod_remove(e.m, id, &err), 0);
	cleanup_free char *ipam = xasprintf("ls %s/root/cni/networks/%s | grep -c '^%s' || true",
					    tmp, CNI_DEFAULT_NETWORK, prefix);
	cleanup_free char *o = sh_out(ipam);
	assert_string_equal(o, "0\n");
	close_env(&e);
}

static void test_orphan_reaped(void **state)
{
	/* What a crash inside RunPodSandbox leaves: a pod directory with
	 * pinned namespaces and a CNI attachment, but no record. */
	cleanup_err struct err err = ERR_INIT;
	char id[ID_LEN + 1];
	assert_int_equal(id_new(id), 0);
	cleanup_free char *dir = xasprintf("%s/run/pods/%s", tmp, id);
	cleanup_free char *mk = xasprintf("mkdir -p %s", dir);
	assert_int_equal(sh(mk, NULL), 0);
	cleanup_free char *nsdir = xasprintf("%s/ns", dir);
	assert_int_equal(proc_ns_pin(nsdir, PROC_NS_NET | PROC_NS_IPC, NULL, &err), 0);
	struct env e;
	open_env(&e);
	close_env(&e);
	assert_int_equal(count_pod_dirs(), 0);
	cleanup_free char *mnts = xasprintf("grep -c '%s' /proc/self/mountinfo || true", id);
	cleanup_free char *o = sh_out(mnts);
	assert_string_equal(o, "0\n");
}

/* The pod's user namespace owns its network namespace. */
static bool owned_by(const char *ns_path, const char *userns_path)
{
	cleanup_close int fd = open(ns_path, O_RDONLY | O_CLOEXEC);
	cleanup_close int owner = fd < 0 ? -1 : ioctl(fd, NS_GET_USERNS);
	struct stat a, b;
	return owner >= 0 && fstat(owner, &a) == 0 && stat(userns_path, &b) == 0 &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static void test_userns(void **state)
{
	struct env e;
	open_env(&e);
	cleanup_err struct err err = ERR_INIT;
	struct pod_config c;
	struct oci_idmap one = { 0, 300000, 65536 };
	struct oci_idmap two[] = { { 0, 300000, 65536 }, { 65536, 400000, 10 } };
	struct oci_idmap not0 = { 1, 300000, 65536 }, root = { 0, 0, 65536 };
	struct oci_idmap big = { 0, 4294967000u, 65536 }, empty = { 0, 300000, 0 };
	static const struct {
		enum pod_ns_mode mode, net;
		int maps; /* 0 none, 1 one, 2 two, 3 not0, 4 root, 5 big, 6 empty */
		const char *msg;
	} bad[] = {
		{ POD_NS_CONTAINER, POD_NS_POD, 0, "mode CONTAINER is not supported" },
		{ POD_NS_TARGET, POD_NS_POD, 0, "mode TARGET is not supported" },
		{ POD_NS_POD, POD_NS_POD, 0, "exactly one uid and one gid mapping, not 0 and 0" },
		{ POD_NS_POD, POD_NS_POD, 2, "exactly one uid and one gid mapping, not 2 and 2" },
		{ POD_NS_POD, POD_NS_POD, 3, "must start at container id 0, not 1" },
		{ POD_NS_POD, POD_NS_POD, 4, "overlaps the host's root" },
		{ POD_NS_POD, POD_NS_POD, 5, "out of range" },
		{ POD_NS_POD, POD_NS_POD, 6, "has length 0" },
		{ POD_NS_POD, POD_NS_NODE, 1, "cannot use the host's network" },
		{ POD_NS_NODE, POD_NS_POD, 1, "takes no mappings" },
	};
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		base_config(&c, "uns-bad");
		c.has_userns = true;
		c.ns_user = bad[k].mode;
		c.ns_network = bad[k].net;
		const struct oci_idmap *maps[] = { NULL, &one, two, &not0, &root, &big, &empty };
		c.uid_maps = c.gid_maps = (struct oci_idmap *)maps[bad[k].maps];
		c.n_uid_maps = c.n_gid_maps = bad[k].maps == 0 ? 0 : bad[k].maps == 2 ? 2 : 1;
		char *id = NULL;
		int r = pod_run(e.m, &c, &id, &err);
		if (r != -EINVAL || !strstr(err_str(&err), bad[k].msg))
			fail_msg("case %zu: %d '%s', not '%s'", k, r, err_str(&err), bad[k].msg);
		err_done(&err);
	}
	assert_int_equal(count_pod_dirs(), 0);

	/* Mode POD: a pinned user namespace that owns the network namespace
	 * and the shared PID namespace of ocid-pause. */
	base_config(&c, "uns");
	c.has_userns = true;
	c.ns_user = POD_NS_POD;
	c.ns_pid = POD_NS_POD;
	c.uid_maps = c.gid_maps = &one;
	c.n_uid_maps = c.n_gid_maps = 1;
	cleanup_free char *id = NULL;
	if (pod_run(e.m, &c, &id, &err) < 0)
		fail_msg("run: %s", err_str(&err));
	cleanup(pod_info_free) struct pod_info *i = NULL;
	assert_int_equal(pod_get(e.m, id, &i, &err), 0);
	assert_non_null(i->userns_path);
	assert_true(proc_ns_is_pinned(i->userns_path));
	assert_true(owned_by(i->netns_path, i->userns_path));
	assert_true(owned_by(i->ipcns_path, i->userns_path));
	assert_true(owned_by(i->pidns_path, i->userns_path));
	cleanup_free char *mapcmd = xasprintf("cat /proc/%d/uid_map /proc/%d/gid_map",
					      (int)i->pause_pid, (int)i->pause_pid);
	cleanup_free char *maps = sh_out(mapcmd);
	assert_non_null(strstr(maps, "0     300000      65536"));
	/* Recorded: a new manager sees the same pod, still ready. */
	close_env(&e);
	open_env(&e);
	cleanup(pod_info_free) struct pod_info *j = NULL;
	assert_int_equal(pod_get(e.m, id, &j, &err), 0);
	assert_int_equal(j->state, POD_READY);
	assert_string_equal(j->userns_path, i->userns_path);
	assert_true(pod_config_userns(&j->cfg));
	assert_int_equal(j->cfg.uid_maps[0].host_id, 300000);
	assert_int_equal(pod_stop(e.m, id, &err), 0);
	assert_false(proc_ns_is_pinned(i->userns_path));
	assert_int_equal(pod_remove(e.m, id, &err), 0);

	/* Mode NODE: the host's, nothing pinned for it. */
	base_config(&c, "uns-node");
	c.has_userns = true;
	c.ns_user = POD_NS_NODE;
	cleanup_free char *id2 = NULL;
	if (pod_run(e.m, &c, &id2, &err) < 0)
		fail_msg("run: %s", err_str(&err));
	cleanup(pod_info_free) struct pod_info *n = NULL;
	assert_int_equal(pod_get(e.m, id2, &n, &err), 0);
	assert_null(n->userns_path);
	assert_int_equal(pod_remove(e.m, id2, &err), 0);
	close_env(&e);
}

/* What UpdatePodSandboxResources records survives the database's JSON;
 * a damaged record is refused, not guessed at. */
static void test_resources_json(void **state)
{
	struct pod_config c = { .name = "n", .namespace = "ns", .uid = "u" };
	c.has_resources = true;
	c.resources = (struct pod_resources){ 100000, 50000, 512, 256 << 20 };
	c.has_overhead = true;
	c.overhead = (struct pod_resources){ 0, -1, 10, 1 << 20 };
	cleanup_free char *text = pod_config_to_json(&c);
	struct pod_config back;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(pod_config_from_json(text, &back, &err), 0);
	assert_true(back.has_resources && back.has_overhead);
	assert_memory_equal(&back.resources, &c.resources, sizeof(c.resources));
	assert_memory_equal(&back.overhead, &c.overhead, sizeof(c.overhead));
	pod_config_done(&back);

	struct pod_config none = { .name = "n", .namespace = "ns", .uid = "u" };
	cleanup_free char *t2 = pod_config_to_json(&none);
	assert_null(strstr(t2, "resources"));
	assert_int_equal(pod_config_from_json(t2, &back, &err), 0);
	assert_false(back.has_resources || back.has_overhead);
	pod_config_done(&back);

	const char *bad[] = { "{\"name\":\"n\",\"resources\":\"x\"}",
			      "{\"name\":\"n\",\"overhead\":{\"cpu_shares\":\"2\"}}" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err_done(&err);
		assert_int_equal(pod_config_from_json(bad[i], &back, &err), -EINVAL);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_pod),       cmocka_unit_test(test_host_network),
		cmocka_unit_test(test_failures),       cmocka_unit_test(test_reboot),
		cmocka_unit_test(test_orphan_reaped),  cmocka_unit_test(test_userns),
		cmocka_unit_test(test_resources_json),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
