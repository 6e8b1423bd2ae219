/* cni: real plugins from containernetworking-plugins (/usr/lib/cni) in
 * network namespaces pinned by proc. Each run uses its own bridge, subnet
 * and host-local state dir, and removes them at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "cni/cni.h"
#include "cni/cni_int.h"
#include "proc/proc.h"

static char tmp[64];
static char bridge[16];
static char subnet[64];
static char prefix[32];		/* "10.X.Y." */
static char ids[3][ID_LEN + 1]; /* container ids of this run */
static char *plugin_dirs[] = { "/usr/lib/cni", "/opt/cni/bin", NULL };

static char *tpath(const char *name)
{
	return xasprintf("%s/%s", tmp, name);
}

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

static int setup(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/ocid-cni-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	unsigned p = (unsigned)getpid();
	snprintf(bridge, sizeof(bridge), "ocut%x", p & 0xfffff);
	snprintf(prefix, sizeof(prefix), "10.%u.%u.", 200 + (p / 250) % 50, p % 250);
	snprintf(subnet, sizeof(subnet), "%s0/24", prefix);
	cleanup_free char *conf = tpath("net.d");
	assert_int_equal(mkdir(conf, 0755), 0);
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
		assert_int_equal(id_new(ids[i]), 0);
	return 0;
}

static int teardown(void **state)
{
	/* Whatever a failed test left: NAT rules naming our ids (and their
	 * chains), pinned namespaces, the bridge, the temp dir. */
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		cleanup_free char *ipt = xasprintf(
		    "for c in $(iptables -t nat -S | grep -- '%s' | grep -o 'CNI-[0-9a-f]*' | sort -u); do"
		    " iptables -t nat -S | grep -- \"-j $c\" | sed 's/^-A /-D /' |"
		    " while read -r l; do eval iptables -t nat $l; done;"
		    " iptables -t nat -F $c; iptables -t nat -X $c; done",
		    ids[i]);
		(void)sh(ipt, NULL);
	}
	/* The built-in network's masquerade chain of our subnet. */
	struct cni_masq m;
	cni_masq_rules(subnet, &m);
	const char *chain = m.jump_argv[strv_len(m.jump_argv) - 1];
	cleanup_free char *masq =
	    xasprintf("iptables -t nat -S POSTROUTING | grep -- '-j %s' | sed 's/^-A /-D /' |"
		      " while read -r l; do eval iptables -t nat $l; done;"
		      " iptables -t nat -F %s; iptables -t nat -X %s",
		      chain, chain, chain);
	(void)sh(masq, NULL);
	cni_masq_done(&m);
	cleanup_free char *cmd =
	    xasprintf("for m in $(grep -o '%s/[^ ]*' /proc/self/mountinfo); do umount -l $m; done;"
		      " ip link del %s 2>/dev/null; rm -rf %s",
		      tmp, bridge, tmp);
	(void)sh(cmd, NULL);
	return 0;
}

static struct cni *new_cni(void)
{
	cleanup_free char *conf = tpath("net.d");
	cleanup_free char *cache = tpath("cache");
	cleanup_free char *data = tpath("ipam");
	struct cni_opts o = {
		.conf_dir = conf,
		.plugin_dirs = plugin_dirs,
		.cache_dir = cache,
		.default_bridge = bridge,
		.default_subnet = subnet,
		.default_data_dir = data,
	};
	struct cni *c = NULL;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(cni_new(&o, &c, &err), 0);
	return c;
}

/* A TCP server in the netns: accepts one connection and writes "hi". */
static pid_t serve(const char *netns, int port)
{
	int ready[2];
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(1);
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0)
			_exit(2);
		(void)!write(ready[1], "r", 1);
		alarm(20);
		for (;;) {
			int c = accept(s, NULL, NULL);
			if (c < 0)
				_exit(3);
			(void)!write(c, "hi", 2);
			close(c);
		}
	}
	close(ready[1]);
	char ch;
	assert_int_equal(read(ready[0], &ch, 1), 1);
	close(ready[0]);
	return pid;
}

static void stop_server(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int dial(const char *ip, int port, char *buf, size_t n)
{
	for (int i = 0; i < 50; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		inet_pton(AF_INET, ip, &a.sin_addr);
		struct timeval tv = { 2, 0 };
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
			ssize_t r = read(s, buf, n - 1);
			close(s);
			if (r >= 0) {
				buf[r] = 0;
				return 0;
			}
		}
		close(s);
		usleep(100000);
	}
	return -1;
}

static size_t count_files(const char *dir)
{
	cleanup_free char *cmd =
	    xasprintf("ls -A %s 2>/dev/null | grep -c '^%s' || true", dir, prefix);
	cleanup_free char *out = NULL;
	sh(cmd, &out);
	return (size_t)atoi(out);
}

static void test_builtin_network(void **state)
{
	struct cni *c = new_cni();
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *name = NULL;
	assert_int_equal(cni_status(c, &name, &err), 0);
	assert_string_equal(name, CNI_DEFAULT_NETWORK);

	cleanup_free char *nsdir = tpath("pod1");
	assert_int_equal(proc_ns_pin(nsdir, PROC_NS_NET, NULL, &err), 0);
	cleanup_free char *netns = xasprintf("%s/net", nsdir);
	const char *id = ids[0];
	int hostport = 20000 + (int)(getpid() % 20000);
	struct cni_port ports[] = { { "tcp", hostport, 8080, "127.0.0.1" } };
	struct cni_attachment a = { .container_id = id,
				    .netns = netns,
				    .pod_name = "p1",
				    .pod_namespace = "default",
				    .pod_uid = "uid-1",
				    .ports = ports,
				    .n_ports = 1 };
	struct cni_result res;
	if (cni_add(c, &a, &res, &err) < 0)
		fail_msg("ADD: %s", err_str(&err));
	assert_string_equal(res.network, CNI_DEFAULT_NETWORK);
	assert_non_null(res.ips);
	assert_true(str_has_prefix(res.ips[0], prefix));
	assert_int_equal(count_files(tmp), 0);
	cleanup_free char *ipam = xasprintf("%s/ipam/%s", tmp, CNI_DEFAULT_NETWORK);
	assert_int_equal(count_files(ipam), 1);

	/* The address is on eth0 inside, and the host reaches a listener on
	 * it; the hostPort answers on 127.0.0.1. */
	cleanup_free char *cmd = xasprintf("nsenter --net=%s ip -o -4 addr show eth0", netns);
	cleanup_free char *out = NULL;
	assert_int_equal(sh(cmd, &out), 0);
	cleanup_free char *want = xasprintf("inet %s/24", res.ips[0]);
	assert_non_null(strstr(out, want));
	pid_t srv = serve(netns, 8080);
	char buf[16];
	assert_int_equal(dial(res.ips[0], 8080, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hi");
	assert_int_equal(dial("127.0.0.1", hostport, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hi");
	stop_server(srv);

	/* Masquerade is one chain for the subnet, jumped to once from
	 * POSTROUTING; no POSTROUTING rule names the pod (the bridge plugin's
	 * ipMasq makes one per pod). */
	struct cni_masq m;
	cni_masq_rules(subnet, &m);
	const char *chain = m.jump_argv[strv_len(m.jump_argv) - 1];
	cleanup_free char *rules = NULL;
	cleanup_free char *list = xasprintf("iptables -t nat -S %s", chain);
	assert_int_equal(sh(list, &rules), 0);
	cleanup_free char *want_acc = xasprintf("-A %s -d %s -j ACCEPT\n", chain, subnet);
	cleanup_free char *want_masq = xasprintf("-A %s ! -d 224.0.0.0/4 -j MASQUERADE\n", chain);
	assert_non_null(strstr(rules, want_acc));
	assert_non_null(strstr(rules, want_masq));
	cleanup_free char *jumps = NULL;
	cleanup_free char *count = xasprintf(
	    "iptables -t nat -S POSTROUTING | grep -c -- '-s %s .*-j %s$'", subnet, chain);
	assert_int_equal(sh(count, &jumps), 0);
	assert_string_equal(jumps, "1\n");
	cleanup_free char *byid = xasprintf("iptables -t nat -S POSTROUTING | grep -c %s", id);
	cleanup_free char *n_id = NULL;
	(void)sh(byid, &n_id);
	assert_string_equal(n_id, "0\n");
	cni_masq_done(&m);

	/* The cache lists what a DEL would undo (ocid wipe), and only that. */
	char **cached = NULL;
	cleanup_free char *stray = xasprintf("%s/cache/%s-net1.json", tmp, ids[1]);
	cleanup_free char *odd = xasprintf("%s/cache/-eth0.json", tmp);
	assert_int_equal(fs_write_file_atomic(AT_FDCWD, stray, "{}", 2, 0600, 0, &err), 0);
	assert_int_equal(fs_write_file_atomic(AT_FDCWD, odd, "{}", 2, 0600, 0, &err), 0);
	assert_int_equal(cni_cache_list(c, &cached), 1);
	assert_string_equal(cached[0], id);
	strv_free(cached);
	assert_int_equal(unlink(stray), 0);
	assert_int_equal(unlink(odd), 0);

	if (cni_check(c, &a, &err) < 0)
		fail_msg("CHECK: %s", err_str(&err));
	if (cni_del(c, &a, &err) < 0)
		fail_msg("DEL: %s", err_str(&err));
	assert_int_equal(cni_cache_list(c, &cached), 0);
	assert_null(cached);
	assert_int_equal(count_files(ipam), 0);
	cleanup_free char *cache = xasprintf("%s/cache/%s-eth0.json", tmp, id);
	assert_int_equal(access(cache, F_OK), -1);
	/* DEL again: nothing cached, still fine. */
	assert_int_equal(cni_del(c, &a, &err), 0);
	assert_int_equal(cni_check(c, &a, &err), -ENOENT);
	cni_result_done(&res);
	assert_int_equal(proc_ns_unpin(nsdir, PROC_NS_NET, &err), 0);
	cni_free(c);
}

/* A pod without host ports gets the built-in chain without portmap; a
 * cache cut short (a power loss: it is not flushed) is read as none and
 * DEL still releases the address through the current network. */
static void test_builtin_chain_per_pod(void **state)
{
	struct cni *c = new_cni();
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *nsdir = tpath("pod2");
	assert_int_equal(proc_ns_pin(nsdir, PROC_NS_NET, NULL, &err), 0);
	cleanup_free char *netns = xasprintf("%s/net", nsdir);
	const char *id = ids[1];
	struct cni_port ports[] = { { "tcp", 0, 8080, NULL } }; /* not published */
	struct cni_attachment a = { .container_id = id,
				    .netns = netns,
				    .pod_name = "p2",
				    .pod_namespace = "default",
				    .pod_uid = "uid-2",
				    .ports = ports,
				    .n_ports = 1 };
	struct cni_result res;
	if (cni_add(c, &a, &res, &err) < 0)
		fail_msg("ADD: %s", err_str(&err));
	cleanup_free char *cache = xasprintf("%s/cache/%s-eth0.json", tmp, id);
	cleanup_free char *text = NULL;
	size_t len = 0;
	assert_int_equal(fs_read_file(AT_FDCWD, cache, 1 << 20, &text, &len, &err), 0);
	assert_non_null(strstr(text, "\"bridge\""));
	assert_null(strstr(text, "portmap"));
	cleanup_free char *ipam = xasprintf("%s/ipam/%s", tmp, CNI_DEFAULT_NETWORK);
	assert_int_equal(count_files(ipam), 1);

	assert_int_equal(truncate(cache, 7), 0);
	if (cni_del(c, &a, &err) < 0)
		fail_msg("DEL: %s", err_str(&err));
	assert_int_equal(count_files(ipam), 0);
	assert_int_equal(access(cache, F_OK), -1);
	cni_result_done(&res);
	assert_int_equal(proc_ns_unpin(nsdir, PROC_NS_NET, &err), 0);
	cni_free(c);
}

static void write_conf(const char *name, const char *text)
{
	cleanup_free char *p = xasprintf("%s/net.d/%s", tmp, name);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *user_conflist(const char *netname, const char *sub)
{
	return xasprintf(
	    "{\"cniVersion\":\"0.4.0\",\"name\":\"%s\",\"plugins\":[{\"type\":\"bridge\","
	    "\"bridge\":\"%s\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\","
	    "\"dataDir\":\"%s/ipam\",\"ranges\":[[{\"subnet\":\"%s\"}]]}}]}",
	    netname, bridge, tmp, sub);
}

static void test_user_config_reload_and_vanish(void **state)
{
	struct cni *c = new_cni();
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *conf = user_conflist("usernet", subnet);
	write_conf("50-user.conflist", conf);
	write_conf("README", "not a config");
	cleanup_free char *name = NULL;
	assert_int_equal(cni_status(c, &name, &err), 0);
	assert_string_equal(name, "usernet");

	cleanup_free char *nsdir = tpath("pod2");
	assert_int_equal(proc_ns_pin(nsdir, PROC_NS_NET, NULL, &err), 0);
	cleanup_free char *netns = xasprintf("%s/net", nsdir);
	struct cni_attachment a = { .container_id = ids[1], .netns = netns, .pod_name = "p2" };
	struct cni_result res;
	if (cni_add(c, &a, &res, &err) < 0)
		fail_msg("ADD: %s", err_str(&err));
	assert_string_equal(res.network, "usernet");
	if (cni_check(c, &a, &err) < 0)
		fail_msg("CHECK: %s", err_str(&err));
	cleanup_free char *ipam = xasprintf("%s/ipam/usernet", tmp);
	assert_int_equal(count_files(ipam), 1);
	cni_result_done(&res);

	/* An earlier file that is not valid in its form (a list in a .conf)
	 * is skipped; a valid earlier one wins once it appears. */
	cleanup_free char *conf2 = user_conflist("earlier", subnet);
	write_conf("10-earlier.conf", conf2);
	free(name);
	name = NULL;
	int r = cni_status(c, &name, &err);
	assert_int_equal(r, 0);
	assert_string_equal(name, "usernet");
	cleanup_free char *single = xasprintf(
	    "{\"cniVersion\":\"1.0.0\",\"name\":\"single\",\"type\":\"bridge\",\"bridge\":\"%s\"}",
	    bridge);
	write_conf("05-single.conf", single);
	free(name);
	name = NULL;
	assert_int_equal(cni_status(c, &name, &err), 0);
	assert_string_equal(name, "single");

	/* The config vanishes: DEL still uses what ADD used. */
	cleanup_free char *rm = xasprintf("rm -f %s/net.d/*", tmp);
	sh(rm, NULL);
	if (cni_del(c, &a, &err) < 0)
		fail_msg("DEL: %s", err_str(&err));
	assert_int_equal(count_files(ipam), 0);
	assert_int_equal(proc_ns_unpin(nsdir, PROC_NS_NET, &err), 0);
	cni_free(c);
}

static void test_capabilities(void **state)
{
	/* runtimeConfig reaches a plugin that declares the capability: the
	 * bandwidth plugin shapes the host side of the pod's veth. */
	cleanup_err struct err err = ERR_INIT;
	struct cni *c = new_cni();
	cleanup_free char *conf =
	    xasprintf("{\"cniVersion\":\"1.0.0\",\"name\":\"bw\",\"plugins\":[{\"type\":\"bridge\","
		      "\"bridge\":\"%s\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s/ipam\","
		      "\"ranges\":[[{\"subnet\":\"%s\"}]]}},{\"type\":\"bandwidth\","
		      "\"capabilities\":{\"bandwidth\":true}}]}",
		      bridge, tmp, subnet);
	write_conf("10-bw.conflist", conf);
	cleanup_free char *nsdir = tpath("pod4");
	assert_int_equal(proc_ns_pin(nsdir, PROC_NS_NET, NULL, &err), 0);
	cleanup_free char *netns = xasprintf("%s/net", nsdir);
	struct cni_attachment a = { .container_id = ids[0],
				    .netns = netns,
				    .ingress_bps = 8000000 };
	struct cni_result res;
	if (cni_add(c, &a, &res, &err) < 0)
		fail_msg("ADD: %s", err_str(&err));
	json_t *r = json_loads(res.json, 0, NULL);
	const char *veth = json_string_value(
	    json_object_get(json_array_get(json_object_get(r, "interfaces"), 1), "name"));
	assert_non_null(veth);
	cleanup_free char *cmd = xasprintf("tc qdisc show dev %s", veth);
	cleanup_free char *out = NULL;
	assert_int_equal(sh(cmd, &out), 0);
	assert_non_null(strstr(out, "tbf"));
	assert_non_null(strstr(out, "rate 8Mbit"));
	json_decref(r);
	cni_result_done(&res);
	if (cni_del(c, &a, &err) < 0)
		fail_msg("DEL: %s", err_str(&err));
	assert_int_equal(proc_ns_unpin(nsdir, PROC_NS_NET, &err), 0);
	cleanup_free char *rm = xasprintf("rm -f %s/net.d/*", tmp);
	sh(rm, NULL);
	cni_free(c);
}

static void test_broken(void **state)
{
	cleanup_err struct err err = ERR_INIT;
	struct cni *c = new_cni();
	/* Not JSON: the status names the file. */
	write_conf("00-broken.conflist", "{\"cniVersion\":");
	assert_int_equal(cni_status(c, NULL, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "00-broken.conflist"));
	/* A plugin that fails in ADD: its message comes back, nothing leaks. */
	cleanup_free char *conf = user_conflist("badnet", "10.0.0.0/33");
	cleanup_free char *rm = xasprintf("rm -f %s/net.d/*", tmp);
	sh(rm, NULL);
	write_conf("00-bad.conflist", conf);
	cleanup_free char *nsdir = tpath("pod3");
	assert_int_equal(proc_ns_pin(nsdir, PROC_NS_NET, NULL, &err), 0);
	cleanup_free char *netns = xasprintf("%s/net", nsdir);
	struct cni_attachment a = { .container_id = ids[2], .netns = netns };
	struct cni_result res;
	assert_true(cni_add(c, &a, &res, &err) < 0);
	assert_non_null(strstr(err_str(&err), "network badnet: plugin bridge:"));
	cleanup_free char *cache = xasprintf("%s/cache/%s-eth0.json", tmp, ids[2]);
	assert_int_equal(access(cache, F_OK), -1);
	/* A missing plugin binary: status says which. */
	cleanup_free char *missing = xasprintf(
	    "{\"cniVersion\":\"1.0.0\",\"name\":\"m\",\"plugins\":[{\"type\":\"nosuchplugin\"}]}");
	sh(rm, NULL);
	write_conf("00-missing.conflist", missing);
	assert_int_equal(cni_status(c, NULL, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), "nosuchplugin"));
	assert_int_equal(proc_ns_unpin(nsdir, PROC_NS_NET, &err), 0);
	sh(rm, NULL);
	cni_free(c);
}

static void test_pod_cidr_check(void **state)
{
	static const char *const good[] = {
		"",	     "10.244.1.0/24", "10.0.0.0/8,fd00:10:244:1::/64",
		"0.0.0.0/0", "::/0",	      "fd00::/128"
	};
	static const char *const bad[] = { "10.1.2.3",	  "10.1.2.0/33",   "fd00::/129",
					   "x/8",	  "10.0.0.0/8,",   "10.0.0.0/",
					   "10.0.0.0/2a", "10.0.0.0/0008", " 10.0.0.0/8" };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_int_equal(cni_pod_cidr_check(good[i], NULL), 0);
	assert_int_equal(cni_pod_cidr_check(NULL, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cleanup_err struct err err = ERR_INIT;
		assert_int_equal(cni_pod_cidr_check(bad[i], &err), -EINVAL);
		assert_non_null(strstr(err_str(&err), "pod CIDR"));
	}
}

static void test_parse(void **state)
{
	cleanup_err struct err err = ERR_INIT;
	struct cni_net *n = NULL;
	const char *ok = "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"bridge\"}";
	assert_int_equal(cni_conf_parse("x", ok, strlen(ok), false, &n, &err), 0);
	assert_int_equal(json_array_size(n->plugins), 1);
	assert_null(json_object_get(json_array_get(n->plugins, 0), "name"));
	cni_net_free(n);
	const char *bad[] = {
		"{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"b\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"b\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"../x\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[]}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{}]}",
		"[]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		n = NULL;
		assert_int_equal(cni_conf_parse("x", bad[i], strlen(bad[i]), true, &n, &err),
				 -EINVAL);
		assert_null(n);
	}
	const char *res = "{\"ips\":[{\"address\":\"10.1.2.3/24\"},{\"address\":\"fd00::3/64\"}]}";
	char **ips = NULL;
	assert_int_equal(cni_result_ips(res, strlen(res), &ips, &err), 0);
	assert_string_equal(ips[0], "10.1.2.3");
	assert_string_equal(ips[1], "fd00::3");
	assert_null(ips[2]);
	strv_free(ips);
	cleanup_free char *def = cni_default_conflist("b0", "10.88.0.0/16", NULL);
	assert_int_equal(cni_conf_parse("d", def, strlen(def), true, &n, &err), 0);
	assert_string_equal(n->name, CNI_DEFAULT_NETWORK);
	assert_int_equal(json_array_size(n->plugins), 2);
	cni_net_free(n);
}

/* The masquerade's programs and rules, v4 and v6: the chain name is a
 * hash of the subnet (the same at every start), the jump checked first. */
static void test_masq_rules(void **state)
{
	struct cni_masq m;
	cni_masq_rules("10.88.0.0/16", &m);
	const char *chain = m.jump_argv[strv_len(m.jump_argv) - 1];
	assert_true(str_has_prefix(chain, "OCID-MASQ-"));
	assert_int_equal(strlen(chain), strlen("OCID-MASQ-") + 8);
	cleanup_free char *rargs = strv_join(m.restore_argv, " ");
	assert_string_equal(rargs, "iptables-restore -w 5 --noflush");
	cleanup_free char *want = xasprintf("*nat\n:%s - [0:0]\n-A %s -d 10.88.0.0/16 -j ACCEPT\n"
					    "-A %s ! -d 224.0.0.0/4 -j MASQUERADE\nCOMMIT\n",
					    chain, chain, chain);
	assert_string_equal(m.restore, want);
	cleanup_free char *jargs = strv_join(m.jump_argv, "|");
	cleanup_free char *wantj =
	    xasprintf("iptables|-w|5|-t|nat|-C|POSTROUTING|-s|10.88.0.0/16|-m|"
		      "comment|--comment|ocid built-in network 10.88.0.0/16|-j|%s",
		      chain);
	assert_string_equal(jargs, wantj);
	assert_string_equal(m.jump_argv[CNI_MASQ_JUMP_OP], "-C");
	struct cni_masq again;
	cni_masq_rules("10.88.0.0/16", &again);
	assert_string_equal(again.jump_argv[strv_len(again.jump_argv) - 1], chain);
	cni_masq_done(&again);
	struct cni_masq other;
	cni_masq_rules("10.89.0.0/16", &other);
	assert_string_not_equal(other.jump_argv[strv_len(other.jump_argv) - 1], chain);
	cni_masq_done(&other);
	cni_masq_done(&m);

	cni_masq_rules("fd00:88::/64", &m);
	assert_string_equal(m.restore_argv[0], "ip6tables-restore");
	assert_string_equal(m.jump_argv[0], "ip6tables");
	assert_non_null(strstr(m.restore, "! -d ff00::/8 -j MASQUERADE\n"));
	assert_non_null(strstr(m.restore, "-d fd00:88::/64 -j ACCEPT\n"));
	cni_masq_done(&m);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_pod_cidr_check),
		cmocka_unit_test(test_masq_rules),
		cmocka_unit_test(test_builtin_network),
		cmocka_unit_test(test_builtin_chain_per_pod),
		cmocka_unit_test(test_user_config_reload_and_vanish),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_broken),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
