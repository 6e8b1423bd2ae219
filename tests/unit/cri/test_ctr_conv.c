/* CRI container messages <-> ctr structs: validation, namespace modes,
 * envs, mounts, labels, pod context, resources, status round trip. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cri/ctr_conv.h"

struct fixture {
	Runtime__V1__CreateContainerRequest req;
	Runtime__V1__ContainerConfig cfg;
	Runtime__V1__ContainerMetadata md;
	Runtime__V1__ImageSpec img;
	Runtime__V1__KeyValue env;
	Runtime__V1__KeyValue *envp[1];
	Runtime__V1__Mount mount;
	Runtime__V1__Mount *mountp[1];
	Runtime__V1__ContainerConfig__LabelsEntry label;
	Runtime__V1__ContainerConfig__LabelsEntry *labelp[1];
	Runtime__V1__PodSandboxConfig pod;
	Runtime__V1__PodSandboxMetadata pmd;
	Runtime__V1__LinuxPodSandboxConfig plinux;
	Runtime__V1__LinuxSandboxSecurityContext psc;
	Runtime__V1__NamespaceOption pns;
	Runtime__V1__LinuxContainerConfig linux;
	Runtime__V1__LinuxContainerResources res;
	char *cmd[2];
};

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->req = (Runtime__V1__CreateContainerRequest)RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	f->cfg = (Runtime__V1__ContainerConfig)RUNTIME__V1__CONTAINER_CONFIG__INIT;
	f->md = (Runtime__V1__ContainerMetadata)RUNTIME__V1__CONTAINER_METADATA__INIT;
	f->img = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
	f->env = (Runtime__V1__KeyValue)RUNTIME__V1__KEY_VALUE__INIT;
	f->mount = (Runtime__V1__Mount)RUNTIME__V1__MOUNT__INIT;
	f->label = (Runtime__V1__ContainerConfig__LabelsEntry)
	    RUNTIME__V1__CONTAINER_CONFIG__LABELS_ENTRY__INIT;
	f->pod = (Runtime__V1__PodSandboxConfig)RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	f->pmd = (Runtime__V1__PodSandboxMetadata)RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	f->plinux = (Runtime__V1__LinuxPodSandboxConfig)RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	/* Its INIT macro names a deprecated field (seccomp_profile_path):
	 * clang warns where the macro is used, the generated init does not. */
	runtime__v1__linux_sandbox_security_context__init(&f->psc);
	f->pns = (Runtime__V1__NamespaceOption)RUNTIME__V1__NAMESPACE_OPTION__INIT;
	f->linux = (Runtime__V1__LinuxContainerConfig)RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	f->res = (Runtime__V1__LinuxContainerResources)RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	f->md.name = "web";
	f->md.attempt = 2;
	f->img.image = "busybox";
	f->env.key = "A";
	f->env.value = (ProtobufCBinaryData){ 1, (uint8_t *)"1" };
	f->envp[0] = &f->env;
	f->mount.container_path = "/data";
	f->mount.host_path = "/srv";
	f->mount.readonly = true;
	f->mount.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
	f->mountp[0] = &f->mount;
	f->label.key = "app";
	f->label.value = "x";
	f->labelp[0] = &f->label;
	f->cmd[0] = "/bin/sh";
	f->cfg.metadata = &f->md;
	f->cfg.image = &f->img;
	f->cfg.command = f->cmd;
	f->cfg.n_command = 1;
	f->cfg.envs = f->envp;
	f->cfg.n_envs = 1;
	f->cfg.mounts = f->mountp;
	f->cfg.n_mounts = 1;
	f->cfg.labels = f->labelp;
	f->cfg.n_labels = 1;
	f->cfg.log_path = "web.log";
	f->res.memory_limit_in_bytes = 1 << 20;
	f->res.cpu_shares = 512;
	f->linux.resources = &f->res;
	f->cfg.linux = &f->linux;
	f->pmd.name = "pod";
	f->pmd.namespace_ = "ns";
	f->pmd.uid = "uid";
	f->pns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	f->pns.pid = RUNTIME__V1__NAMESPACE_MODE__POD;
	f->psc.namespace_options = &f->pns;
	f->plinux.security_context = &f->psc;
	f->plinux.cgroup_parent = "/kubepods/pod1";
	f->pod.metadata = &f->pmd;
	f->pod.linux = &f->plinux;
	f->pod.log_directory = "/var/log/pods/x";
	f->pod.hostname = "host1";
	f->req.pod_sandbox_id = "abc";
	f->req.config = &f->cfg;
	f->req.sandbox_config = &f->pod;
}

static void test_create_conv(void **state)
{
	struct fixture f;
	setup(&f);
	struct cri_ctr_conv c;
	struct err err = ERR_INIT;
	assert_int_equal(cri_ctr_conv_create(&f.req, &c, &err), 0);
	assert_string_equal(c.req.name, "web");
	assert_int_equal(c.req.attempt, 2);
	assert_string_equal(c.req.image, "busybox");
	assert_string_equal(c.req.pod_id, "abc");
	assert_string_equal(c.req.pod_name, "pod");
	assert_string_equal(c.req.pod_namespace, "ns");
	assert_string_equal(c.req.pod_uid, "uid");
	assert_string_equal(c.req.log_dir, "/var/log/pods/x");
	assert_string_equal(c.req.log_path, "web.log");
	assert_string_equal(c.req.cgroup_parent, "/kubepods/pod1");
	assert_string_equal(c.req.spec.hostname, "host1");
	assert_string_equal(c.req.spec.command[0], "/bin/sh");
	assert_null(c.req.spec.command[1]);
	assert_null(c.req.spec.args);
	assert_string_equal(c.req.spec.envs[0], "A=1");
	assert_int_equal(c.req.spec.n_mounts, 1);
	assert_string_equal(c.req.spec.mounts[0].container_path, "/data");
	assert_true(c.req.spec.mounts[0].readonly);
	assert_int_equal(c.req.spec.mounts[0].propagation, OCI_PROPAGATION_HOST_TO_CONTAINER);
	assert_int_equal(c.req.n_labels, 1);
	assert_string_equal(c.req.labels[0].key, "app");
	/* No container security context: the pod's namespace options. */
	assert_int_equal(c.req.spec.ns.net.mode, OCI_NS_NODE);
	assert_int_equal(c.req.spec.ns.pid.mode, OCI_NS_POD);
	assert_int_equal(c.req.spec.resources.memory_limit_in_bytes, 1 << 20);
	assert_int_equal(c.req.spec.resources.cpu_shares, 512);
	/* What ContainerStatus will report: the mounts as asked, the resources. */
	const struct ctr_status_cfg *sc = c.req.status_cfg;
	assert_non_null(sc);
	assert_int_equal(sc->n_mounts, 1);
	assert_string_equal(sc->mounts[0].container_path, "/data");
	assert_true(sc->mounts[0].readonly);
	assert_int_equal(sc->mounts[0].propagation, OCI_PROPAGATION_HOST_TO_CONTAINER);
	assert_null(sc->mounts[0].image);
	assert_true(sc->has_resources);
	assert_int_equal(sc->resources.memory_limit_in_bytes, 1 << 20);
	cri_ctr_conv_done(&c);
}

static void test_create_invalid(void **state)
{
	struct fixture f;
	struct cri_ctr_conv c;
	struct err err = ERR_INIT;
	setup(&f);
	f.md.name = "";
	assert_int_equal(cri_ctr_conv_create(&f.req, &c, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "name"));
	err_done(&err);
	cri_ctr_conv_done(&c);
	setup(&f);
	f.img.image = NULL;
	assert_int_equal(cri_ctr_conv_create(&f.req, &c, &err), -EINVAL);
	err_done(&err);
	cri_ctr_conv_done(&c);
	setup(&f);
	f.req.config = NULL;
	assert_int_equal(cri_ctr_conv_create(&f.req, &c, &err), -EINVAL);
	err_done(&err);
	cri_ctr_conv_done(&c);
	setup(&f);
	f.req.pod_sandbox_id = "";
	assert_int_equal(cri_ctr_conv_create(&f.req, &c, &err), -EINVAL);
	err_done(&err);
	cri_ctr_conv_done(&c);
}

/* The status from ctr's cfg (what a container created now has). */
static void test_status_from_cfg(void **state)
{
	struct fixture f;
	setup(&f);
	Runtime__V1__IDMapping map = RUNTIME__V1__IDMAPPING__INIT;
	map.host_id = 100000;
	map.length = 65536;
	Runtime__V1__IDMapping *maps[] = { &map };
	f.mount.uidmappings = maps;
	f.mount.n_uidmappings = 1;
	f.mount.selinux_relabel = true;
	struct cri_ctr_conv c;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(cri_ctr_conv_create(&f.req, &c, &err), 0);
	/* As ctr stores and reads it back. */
	cleanup_free char *text = ctr_status_cfg_to_json(c.req.status_cfg);
	cri_ctr_conv_done(&c);
	struct ctr_info i = { .ctr_name = "web", .image_ref = "busybox", .image_id = "sha256:1" };
	memset(i.id, 'a', ID_LEN);
	assert_int_equal(ctr_status_cfg_parse(text, strlen(text), &i.cfg, &err), 0);
	struct cri_ctr_status st;
	cri_ctr_status_build(&i, NULL, &st);
	assert_int_equal(st.status.n_mounts, 1);
	const Runtime__V1__Mount *m = st.status.mounts[0];
	assert_string_equal(m->host_path, "/srv");
	assert_string_equal(m->container_path, "/data");
	assert_true(m->readonly);
	assert_true(m->selinux_relabel);
	assert_int_equal(m->propagation,
			 RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER);
	assert_int_equal(m->n_uidmappings, 1);
	assert_int_equal(m->uidmappings[0]->host_id, 100000);
	assert_int_equal(st.status.resources->linux->memory_limit_in_bytes, 1 << 20);
	assert_int_equal(st.status.resources->linux->cpu_shares, 512);
	/* It packs and unpacks as a client sees it. */
	size_t n = protobuf_c_message_get_packed_size(&st.status.base);
	uint8_t *buf = xmalloc(n);
	protobuf_c_message_pack(&st.status.base, buf);
	Runtime__V1__ContainerStatus *back = runtime__v1__container_status__unpack(NULL, n, buf);
	assert_non_null(back);
	assert_string_equal(back->mounts[0]->host_path, "/srv");
	runtime__v1__container_status__free_unpacked(back, NULL);
	free(buf);
	cri_ctr_status_done(&st);
	/* An update hands ctr the resources. */
	Runtime__V1__LinuxContainerResources nr = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	nr.memory_limit_in_bytes = 2 << 20;
	struct cri_ctr_update u;
	cri_ctr_update_build(&nr, &u);
	assert_int_equal(u.res.memory_limit_in_bytes, 2 << 20);
	cri_ctr_update_done(&u);
	ctr_status_cfg_done(&i.cfg);
}

/* A schema 4 row's CRI config bytes become ctr's record (what the
 * database upgrade stores): the mounts and resources as CreateContainer
 * asked, so the status reports them as before. */
static void test_legacy_record(void **state)
{
	struct fixture f;
	setup(&f);
	size_t len = protobuf_c_message_get_packed_size(&f.cfg.base);
	cleanup_free uint8_t *buf = xmalloc(len);
	protobuf_c_message_pack(&f.cfg.base, buf);
	cleanup_free char *text = cri_ctr_legacy_record("c1", buf, len);
	struct ctr_info i = { .ctr_name = "web", .image_ref = "busybox", .image_id = "sha256:1" };
	memset(i.id, 'a', ID_LEN);
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(ctr_status_cfg_parse(text, strlen(text), &i.cfg, &err), 0);
	assert_int_equal(i.cfg.n_mounts, 1);
	assert_string_equal(i.cfg.mounts[0].host_path, "/srv");
	assert_string_equal(i.cfg.mounts[0].container_path, "/data");
	assert_true(i.cfg.mounts[0].readonly);
	assert_int_equal(i.cfg.mounts[0].propagation, OCI_PROPAGATION_HOST_TO_CONTAINER);
	assert_true(i.cfg.has_resources);
	assert_int_equal(i.cfg.resources.memory_limit_in_bytes, 1 << 20);
	assert_int_equal(i.cfg.resources.cpu_shares, 512);
	struct cri_ctr_status st;
	cri_ctr_status_build(&i, NULL, &st);
	assert_int_equal(st.status.n_mounts, 1);
	assert_string_equal(st.status.mounts[0]->host_path, "/srv");
	assert_int_equal(st.status.resources->linux->memory_limit_in_bytes, 1 << 20);
	cri_ctr_status_done(&st);
	ctr_status_cfg_done(&i.cfg);
	/* The same bytes, the same record. */
	cleanup_free char *again = cri_ctr_legacy_record("c1", buf, len);
	assert_string_equal(again, text);
	/* No bytes: a config with nothing set. */
	cleanup_free char *none = cri_ctr_legacy_record("c2", (const uint8_t *)"", 0);
	assert_int_equal(ctr_status_cfg_parse(none, strlen(none), &i.cfg, &err), 0);
	assert_int_equal(i.cfg.n_mounts, 0);
	ctr_status_cfg_done(&i.cfg);
}

/* Bytes that do not decode (a length past the end, a bad wire type) give
 * an empty record: the container keeps its row, its status no mounts. */
static void test_legacy_record_undecodable(void **state)
{
	static const uint8_t truncated[] = { 0x0a, 0x05, 'a', 'b' };
	static const uint8_t wire7[] = { 0xff, 0xff, 0xff };
	const struct {
		const uint8_t *b;
		size_t n;
	} bad[] = { { truncated, sizeof(truncated) }, { wire7, sizeof(wire7) } };
	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		cleanup_free char *text = cri_ctr_legacy_record("c3", bad[k].b, bad[k].n);
		assert_non_null(text);
		struct ctr_status_cfg c;
		cleanup_err struct err err = ERR_INIT;
		assert_int_equal(ctr_status_cfg_parse(text, strlen(text), &c, &err), 0);
		assert_int_equal(c.n_mounts, 0);
		assert_false(c.has_resources);
		ctr_status_cfg_done(&c);
	}
	/* Decodes, but holds what ctr would not read back (a hugepage limit
	 * past int64, which CreateContainer never lets through): empty too. */
	struct fixture f;
	setup(&f);
	Runtime__V1__HugepageLimit hp = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
	hp.page_size = "2MB";
	hp.limit = UINT64_MAX;
	Runtime__V1__HugepageLimit *hps[] = { &hp };
	f.res.hugepage_limits = hps;
	f.res.n_hugepage_limits = 1;
	size_t len = protobuf_c_message_get_packed_size(&f.cfg.base);
	cleanup_free uint8_t *buf = xmalloc(len);
	protobuf_c_message_pack(&f.cfg.base, buf);
	cleanup_free char *text = cri_ctr_legacy_record("c4", buf, len);
	struct ctr_status_cfg c;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(ctr_status_cfg_parse(text, strlen(text), &c, &err), 0);
	assert_int_equal(c.n_mounts, 0);
	assert_false(c.has_resources);
	ctr_status_cfg_done(&c);
}

/* Every name of CRI's Signal enum means a signal to oci_signal_parse (what
 * CreateContainer's stop_signal becomes), and the status names it back. */
static void test_signal_enum(void **state)
{
	const ProtobufCEnumDescriptor *d = &runtime__v1__signal__descriptor;
	for (unsigned i = 0; i < d->n_values; i++) {
		const ProtobufCEnumValue *v = &d->values[i];
		if (v->value == RUNTIME__V1__SIGNAL__RUNTIME_DEFAULT)
			continue;
		int sig = oci_signal_parse(v->name, NULL);
		if (sig <= 0)
			fail_msg("%s: %d", v->name, sig);
		Runtime__V1__Signal back = cri_signal_from_number(sig);
		const ProtobufCEnumValue *bv = protobuf_c_enum_descriptor_get_value(d, back);
		/* aliases (SIGCLD, SIGIOT, SIGPOLL) come back as the main name */
		if (!bv || oci_signal_parse(bv->name, NULL) != sig)
			fail_msg("%s (%d) came back as %d", v->name, sig, (int)back);
	}
	assert_int_equal(oci_signal_parse("SIGRTMINPLUS3", NULL), 37);
	assert_int_equal(cri_signal_from_number(37), RUNTIME__V1__SIGNAL__SIGRTMINPLUS3);
	assert_int_equal(cri_signal_from_number(SIGRTMAX - 1), RUNTIME__V1__SIGNAL__SIGRTMAXMINUS1);
	assert_int_equal(cri_signal_from_number(SIGTERM), RUNTIME__V1__SIGNAL__SIGTERM);
	assert_int_equal(cri_signal_from_number(0), RUNTIME__V1__SIGNAL__RUNTIME_DEFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_conv),
		cmocka_unit_test(test_create_invalid),
		cmocka_unit_test(test_status_from_cfg),
		cmocka_unit_test(test_legacy_record),
		cmocka_unit_test(test_legacy_record_undecodable),
		cmocka_unit_test(test_signal_enum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
