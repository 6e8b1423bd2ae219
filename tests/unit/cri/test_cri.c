#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api.pb-c.h"
#include "cri/cri.h"

static void test_errno_map(void **state)
{
	static const struct {
		int e;
		enum rpc_code c;
	} cases[] = {
		{ 0, RPC_OK },
		{ 5, RPC_OK },
		{ -ENOENT, RPC_NOT_FOUND },
		{ -EEXIST, RPC_ALREADY_EXISTS },
		{ -EINVAL, RPC_INVALID_ARGUMENT },
		{ -ETIMEDOUT, RPC_DEADLINE_EXCEEDED },
		{ -EPERM, RPC_PERMISSION_DENIED },
		{ -EACCES, RPC_PERMISSION_DENIED },
		{ -ENOSPC, RPC_RESOURCE_EXHAUSTED },
		{ -EDQUOT, RPC_RESOURCE_EXHAUSTED },
		{ -EBUSY, RPC_FAILED_PRECONDITION },
		{ -ECANCELED, RPC_CANCELLED },
		{ -ENOSYS, RPC_UNIMPLEMENTED },
		{ -EOPNOTSUPP, RPC_UNIMPLEMENTED },
		{ -ECONNREFUSED, RPC_UNAVAILABLE },
		{ -EHOSTUNREACH, RPC_UNAVAILABLE },
		{ -ENOTUNIQ, RPC_INVALID_ARGUMENT },
		{ -ENAMETOOLONG, RPC_INVALID_ARGUMENT },
		{ -EFBIG, RPC_RESOURCE_EXHAUSTED },
		{ -EBADMSG, RPC_DATA_LOSS },
		{ -EIO, RPC_INTERNAL },
		{ -ENOMEM, RPC_INTERNAL },
		{ -EPROTO, RPC_FAILED_PRECONDITION },
		{ -EREMOTEIO, RPC_UNAVAILABLE },
		{ -EAGAIN, RPC_RESOURCE_EXHAUSTED },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(cri_errno_to_code(cases[i].e), cases[i].c);
}

static bool routed(const char *svc, const char *method, bool *impl)
{
	char want[256];
	snprintf(want, sizeof(want), "/%s/%s", svc, method);
	for (size_t i = 0; i < cri_route_count(); i++) {
		const char *p = cri_route_path(i, impl);
		if (p && strcmp(p, want) == 0)
			return true;
	}
	return false;
}

static void test_every_method_routed(void **state)
{
	const ProtobufCServiceDescriptor *svcs[] = {
		&runtime__v1__runtime_service__descriptor,
		&runtime__v1__image_service__descriptor,
	};
	size_t total = 0;
	for (size_t s = 0; s < 2; s++) {
		for (unsigned i = 0; i < svcs[s]->n_methods; i++) {
			bool impl = false;
			assert_true(routed(svcs[s]->name, svcs[s]->methods[i].name, &impl));
			total++;
		}
	}
	assert_int_equal(cri_route_count(), total);
	assert_true(total >= 40);
	assert_null(cri_route_path(total, NULL));

	bool impl = false;
	assert_true(routed("runtime.v1.RuntimeService", "Version", &impl));
	assert_true(impl);
	assert_true(routed("runtime.v1.RuntimeService", "Status", &impl));
	assert_true(impl);
	assert_true(routed("runtime.v1.RuntimeService", "RuntimeConfig", &impl));
	assert_true(impl);
	assert_false(routed("runtime.v1.RuntimeService", "NoSuchMethod", &impl));
	/* KEP-5825's lists (streamlist.c). */
	const char *streams[] = { "StreamPodSandboxes", "StreamContainers", "StreamContainerStats",
				  "StreamPodSandboxStats", "StreamPodSandboxMetrics" };
	for (size_t i = 0; i < ARRAY_SIZE(streams); i++) {
		assert_true(routed("runtime.v1.RuntimeService", streams[i], &impl));
		assert_true(impl);
	}
	assert_true(routed("runtime.v1.ImageService", "StreamImages", &impl));
	assert_true(impl);
}

static enum rpc_class class_of(const char *svc, const char *method)
{
	enum rpc_class cls;
	assert_int_equal(cri_method_class(svc, method, &cls), 0);
	return cls;
}

/* A method added to api.proto must be given a concurrency class in
 * src/cri/class.c: this fails until it is. */
static void test_every_method_has_a_class(void **state)
{
	const ProtobufCServiceDescriptor *svcs[] = {
		&runtime__v1__runtime_service__descriptor,
		&runtime__v1__image_service__descriptor,
	};
	for (size_t s = 0; s < 2; s++) {
		for (unsigned i = 0; i < svcs[s]->n_methods; i++) {
			const ProtobufCMethodDescriptor *m = &svcs[s]->methods[i];
			enum rpc_class cls;
			if (cri_method_class(svcs[s]->name, m->name, &cls) < 0)
				fail_msg("%s/%s has no concurrency class in src/cri/class.c",
					 svcs[s]->name, m->name);
			/* Server streams are streaming, and only they. */
			bool streams = strncmp(m->name, "Stream", 6) == 0 ||
				       strcmp(m->name, "GetContainerEvents") == 0;
			if (streams != (cls == RPC_STREAM))
				fail_msg("%s/%s: class %s", svcs[s]->name, m->name,
					 cri_class_name(cls));
		}
	}
	enum rpc_class cls;
	assert_int_equal(cri_method_class("runtime.v1.RuntimeService", "NoSuchMethod", &cls),
			 -ENOENT);
	assert_int_equal(cls, RPC_LONG); /* a forgotten method never delays short calls */
	const char *rs = "runtime.v1.RuntimeService", *is = "runtime.v1.ImageService";
	const char *shorts[] = { "Version",
				 "Status",
				 "ListPodSandbox",
				 "ListContainers",
				 "PodSandboxStatus",
				 "ContainerStatus",
				 "ContainerStats",
				 "ListContainerStats",
				 "ListPodSandboxStats",
				 "ListPodSandboxMetrics" };
	for (size_t i = 0; i < ARRAY_SIZE(shorts); i++)
		assert_int_equal(class_of(rs, shorts[i]), RPC_SHORT);
	const char *longs[] = { "RunPodSandbox",   "StopPodSandbox", "RemovePodSandbox",
				"CreateContainer", "StartContainer", "StopContainer",
				"RemoveContainer", "ExecSync" };
	for (size_t i = 0; i < ARRAY_SIZE(longs); i++)
		assert_int_equal(class_of(rs, longs[i]), RPC_LONG);
	assert_int_equal(class_of(is, "ListImages"), RPC_SHORT);
	assert_int_equal(class_of(is, "ImageStatus"), RPC_SHORT);
	assert_int_equal(class_of(is, "ImageFsInfo"), RPC_SHORT);
	assert_int_equal(class_of(is, "PullImage"), RPC_PULL);
	assert_int_equal(class_of(is, "RemoveImage"), RPC_LONG);
	assert_int_equal(class_of("ocid.debug.Debug", "Sleep"), RPC_LONG);
	assert_string_equal(cri_class_name(RPC_STREAM), "streaming");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_map),
		cmocka_unit_test(test_every_method_routed),
		cmocka_unit_test(test_every_method_has_a_class),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
