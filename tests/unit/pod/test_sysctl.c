/* pod: sysctl validation (a table of good and hostile cases), the pod
 * files' text, and the config's JSON round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "pod/pod.h"

#define NET POD_SYSCTL_NET
#define IPC POD_SYSCTL_IPC

static const struct {
	const char *name, *value;
	unsigned owned;
	const char *path; /* NULL: must be refused */
	const char *msg;  /* substring of the refusal */
} cases[] = {
	{ "net.ipv4.ip_forward", "1", NET | IPC, "/proc/sys/net/ipv4/ip_forward", NULL },
	{ "net.ipv4.ip_local_port_range", "1024 65000", NET,
	  "/proc/sys/net/ipv4/ip_local_port_range", NULL },
	{ "net.ipv4.ping_group_range", "0\t2147483647", NET, "/proc/sys/net/ipv4/ping_group_range",
	  NULL },
	{ "kernel.sem", "250 32000 32 128", IPC, "/proc/sys/kernel/sem", NULL },
	{ "kernel.shmmax", "68719476736", IPC, "/proc/sys/kernel/shmmax", NULL },
	{ "kernel.shm_rmid_forced", "1", IPC, "/proc/sys/kernel/shm_rmid_forced", NULL },
	{ "kernel.msgmnb", "65536", IPC, "/proc/sys/kernel/msgmnb", NULL },
	{ "fs.mqueue.msg_max", "20", IPC, "/proc/sys/fs/mqueue/msg_max", NULL },
	{ "net/ipv4/conf/eth0.100/forwarding", "1", NET,
	  "/proc/sys/net/ipv4/conf/eth0.100/forwarding", NULL },
	{ "net.core.somaxconn", "1024", NET, "/proc/sys/net/core/somaxconn", NULL },
	/* CVE-2022-0811: a second assignment chained into the value. */
	{ "kernel.shm_rmid_forced", "1+kernel.core_pattern=|/tmp/x", IPC, NULL,
	  "forbidden character" },
	{ "kernel.shm_rmid_forced", "1 kernel.core_pattern=|/tmp/x", IPC, NULL,
	  "forbidden character" },
	{ "net.ipv4.ip_forward", "1\nkernel.core_pattern=|/x", NET, NULL, "forbidden character" },
	{ "net.ipv4.ip_forward", "1\r", NET, NULL, "forbidden character" },
	{ "net.ipv4.ip_forward", "1\x1b", NET, NULL, "forbidden character" },
	{ "net.ipv4.ip_forward", "1\x7f", NET, NULL, "forbidden character" },
	{ "net.ipv4.ip_forward", "\xc3\xa9", NET, NULL, "forbidden character" },
	{ "net.ipv4.ip_forward", "", NET, NULL, "empty" },
	{ "net.ipv4.ip_forward=1", "1", NET, NULL, "invalid character" },
	{ "net.ipv4.ip_forward+kernel.core_pattern", "1", NET, NULL, "invalid character" },
	/* Not namespaced, or not in the set. */
	{ "kernel.core_pattern", "|/bin/sh", NET | IPC, NULL, "not namespaced" },
	{ "kernel/core_pattern", "|/bin/sh", NET | IPC, NULL, "not namespaced" },
	{ "vm.overcommit_memory", "1", NET | IPC, NULL, "not namespaced" },
	{ "kernel.sema", "1", NET | IPC, NULL, "not namespaced" },
	{ "kernel.sem.x", "1", NET | IPC, NULL, "not namespaced" },
	{ "kernel.shm", "1", NET | IPC, NULL, "not namespaced" },
	{ "kernel.shm.x", "1", NET | IPC, NULL, "not namespaced" },
	{ "kernel/shmmax.x", "1", NET | IPC, NULL, "not namespaced" },
	{ "fs.mqueue", "1", NET | IPC, NULL, "not namespaced" },
	{ "fs.mqueue.a.b", "1", NET | IPC, NULL, "not namespaced" },
	{ "kernel.hostname", "x", NET | IPC, NULL, "not namespaced" },
	/* Path tricks. */
	{ "net/ipv4/../../kernel/core_pattern", "x", NET | IPC, NULL, "'.' or '..'" },
	{ "net/../kernel/core_pattern", "x", NET | IPC, NULL, "'.' or '..'" },
	{ "net/./ipv4/ip_forward", "1", NET, NULL, "'.' or '..'" },
	{ "net/ipv4/conf/..eth0/forwarding", "1", NET, NULL, "'..'" },
	{ "net.ipv4..ip_forward", "1", NET, NULL, "empty name segment" },
	{ "/net/ipv4/ip_forward", "1", NET, NULL, "empty name segment" },
	{ "net.ipv4.ip_forward.", "1", NET, NULL, "empty name segment" },
	{ "net//ipv4", "1", NET, NULL, "empty name segment" },
	{ "", "1", NET, NULL, "empty" },
	{ "Net.ipv4.ip_forward", "1", NET, NULL, "invalid character" },
	{ "net.ipv4.ip forward", "1", NET, NULL, "invalid character" },
	{ "net.ipv4.ip_forward\n", "1", NET, NULL, "invalid character" },
	{ "net.ipv4.*", "1", NET, NULL, "invalid character" },
	/* A namespace the pod shares with the host. */
	{ "net.ipv4.ip_forward", "1", IPC, NULL, "network namespace" },
	{ "kernel.shmmax", "1", NET, NULL, "IPC namespace" },
	{ "fs.mqueue.msg_max", "1", 0, NULL, "IPC namespace" },
};

static void test_table(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_err struct err err = ERR_INIT;
		cleanup_free char *path = NULL;
		unsigned ns = 0;
		int r = pod_sysctl_check(cases[i].name, cases[i].value, cases[i].owned, &path, &ns,
					 &err);
		if (cases[i].path) {
			if (r < 0)
				fail_msg("case %zu '%s': %s", i, cases[i].name, err_str(&err));
			assert_string_equal(path, cases[i].path);
			assert_true(ns & cases[i].owned);
		} else {
			if (r != -EINVAL)
				fail_msg("case %zu '%s'='%s' was accepted", i, cases[i].name,
					 cases[i].value);
			if (!strstr(err_str(&err), cases[i].msg))
				fail_msg("case %zu: message '%s' lacks '%s'", i, err_str(&err),
					 cases[i].msg);
			assert_null(path);
		}
	}
}

static void test_long(void **state)
{
	char name[POD_SYSCTL_NAME_MAX + 10];
	memset(name, 'a', sizeof(name) - 1);
	memcpy(name, "net.", 4);
	name[sizeof(name) - 1] = 0;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(pod_sysctl_check(name, "1", NET, NULL, NULL, &err), -EINVAL);
	char value[POD_SYSCTL_VALUE_MAX + 2];
	memset(value, '1', sizeof(value) - 1);
	value[sizeof(value) - 1] = 0;
	assert_int_equal(pod_sysctl_check("net.core.somaxconn", value, NET, NULL, NULL, &err),
			 -EINVAL);
	assert_int_equal(pod_sysctl_check(NULL, "1", NET, NULL, NULL, &err), -EINVAL);
}

static void test_resolv(void **state)
{
	char *servers[] = { "10.0.0.10", "fd00::10", NULL };
	char *searches[] = { "ns.svc.cluster.local", "svc.cluster.local", NULL };
	char *options[] = { "ndots:5", "edns0", NULL };
	struct pod_dns d = { servers, searches, options };
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *s = NULL;
	assert_int_equal(pod_resolv_render(&d, &s, &err), 0);
	assert_string_equal(s, "nameserver 10.0.0.10\nnameserver fd00::10\n"
			       "search ns.svc.cluster.local svc.cluster.local\n"
			       "options ndots:5 edns0\n");
	struct pod_dns only = { servers, NULL, NULL };
	cleanup_free char *s2 = NULL;
	assert_int_equal(pod_resolv_render(&only, &s2, &err), 0);
	assert_string_equal(s2, "nameserver 10.0.0.10\nnameserver fd00::10\n");
	struct pod_dns empty = { 0 };
	cleanup_free char *s3 = NULL;
	assert_int_equal(pod_resolv_render(&empty, &s3, &err), 0);
	assert_string_equal(s3, "");

	char *bad1[] = { "1.1.1.1\nnameserver 6.6.6.6", NULL };
	char *bad2[] = { "a b", NULL };
	char *bad3[] = { "", NULL };
	char *const *bads[] = { bad1, bad2, bad3 };
	for (size_t i = 0; i < ARRAY_SIZE(bads); i++) {
		struct pod_dns b = { (char **)bads[i], NULL, NULL };
		char *out = NULL;
		assert_int_equal(pod_resolv_render(&b, &out, &err), -EINVAL);
		assert_null(out);
		struct pod_dns o = { NULL, NULL, (char **)bads[i] };
		assert_int_equal(pod_resolv_render(&o, &out, &err), -EINVAL);
	}
}

static void test_hosts_hostname(void **state)
{
	char *ips[] = { "10.88.0.5", "fd00::5", NULL };
	cleanup_free char *h = pod_hosts_render("web-1", ips);
	assert_string_equal(h, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			       "10.88.0.5\tweb-1\nfd00::5\tweb-1\n");
	cleanup_free char *h2 = pod_hosts_render("web-1", NULL);
	assert_string_equal(h2,
			    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(pod_hostname_check("web-1.example", &err), 0);
	assert_int_equal(pod_hostname_check("", &err), -EINVAL);
	assert_int_equal(pod_hostname_check("a\nb", &err), -EINVAL);
	assert_int_equal(pod_hostname_check("a/b", &err), -EINVAL);
	char long_name[70];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[69] = 0;
	assert_int_equal(pod_hostname_check(long_name, &err), -EINVAL);
}

static void test_config_json(void **state)
{
	struct pod_kv labels[] = { { "app", "web" }, { "tier", "front" } };
	struct pod_kv sysctls[] = { { "net.core.somaxconn", "1024" } };
	struct pod_port ports[] = { { POD_PROTO_UDP, 53, 5353, "127.0.0.1" },
				    { POD_PROTO_TCP, 80, 0, NULL } };
	char *servers[] = { "1.1.1.1", NULL };
	struct oci_idmap uids = { 0, 65536, 65536 }, gids = { 0, 131072, 65536 };
	struct pod_config c = {
		.name = "web",
		.namespace = "default",
		.uid = "u-1",
		.attempt = 2,
		.hostname = "web-host",
		.has_dns = true,
		.dns = { servers, NULL, NULL },
		.ports = ports,
		.n_ports = 2,
		.labels = labels,
		.n_labels = 2,
		.sysctls = sysctls,
		.n_sysctls = 1,
		.ns_network = POD_NS_NODE,
		.ns_pid = POD_NS_POD,
		.runtime_handler = "runc",
		.has_userns = true,
		.ns_user = POD_NS_POD,
		.uid_maps = &uids,
		.n_uid_maps = 1,
		.gid_maps = &gids,
		.n_gid_maps = 1,
	};
	cleanup_free char *j = pod_config_to_json(&c);
	struct pod_config back;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(pod_config_from_json(j, &back, &err), 0);
	cleanup_free char *j2 = pod_config_to_json(&back);
	assert_string_equal(j, j2);
	assert_int_equal(back.attempt, 2);
	assert_int_equal(back.ports[0].host_port, 5353);
	assert_string_equal(back.ports[0].host_ip, "127.0.0.1");
	assert_int_equal(back.ns_network, POD_NS_NODE);
	assert_true(pod_config_userns(&back));
	assert_int_equal(back.n_gid_maps, 1);
	assert_int_equal(back.gid_maps[0].host_id, 131072);
	assert_int_equal(back.uid_maps[0].length, 65536);
	cleanup_free char *rn = pod_config_reserved_name(&back);
	assert_string_equal(rn, "k8s_web_default_u-1_2");
	struct pod_config cp;
	pod_config_copy(&cp, &back);
	pod_config_done(&back);
	cleanup_free char *j3 = pod_config_to_json(&cp);
	assert_string_equal(j, j3);
	/* No userns_options, or mode NODE: the host's, nothing recorded. */
	cp.has_userns = false;
	cleanup_free char *j4 = pod_config_to_json(&cp);
	assert_null(strstr(j4, "userns"));
	assert_int_equal(pod_config_from_json(j4, &back, &err), 0);
	assert_false(back.has_userns || pod_config_userns(&back));
	pod_config_done(&back);
	assert_int_equal(pod_config_from_json(
			     "{\"userns\":{\"mode\":0,\"uids\":[[0,1]],\"gids\":[]}}", &back, &err),
			 -EINVAL);
	assert_int_equal(pod_config_from_json("[1]", &back, &err), -EINVAL);
	assert_int_equal(pod_config_from_json("{\"labels\":{\"a\":1}}", &back, &err), -EINVAL);
	pod_config_done(&cp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),	    cmocka_unit_test(test_long),
		cmocka_unit_test(test_resolv),	    cmocka_unit_test(test_hosts_hostname),
		cmocka_unit_test(test_config_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
