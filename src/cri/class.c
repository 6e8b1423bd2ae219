/* The concurrency class of every CRI method (DESIGN section 3): which pool
 * of the rpc server its calls run on.
 *
 *   short      answers from memory or a few small reads (an index, cgroup
 *              files), in milliseconds: the short pool (`workers`). Kubelet
 *              calls these every second (PLEG, status, stats); they never
 *              queue behind a call of another class.
 *   long       may take seconds to minutes: it runs the OCI runtime, talks to
 *              a monitor, waits out a stop's grace period, runs CNI plugins
 *              or writes much to disk: the long pool (`long_workers`).
 *   pull       a long call that downloads (PullImage): a pool of its own of
 *              `max_concurrent_pulls` threads (kubelet's maxParallelImagePulls
 *              on the runtime's side); pulls beyond it wait in that pool's
 *              queue on no thread.
 *   streaming  server streams (GetContainerEvents, the Stream* lists): set
 *              up on the short pool, then parked (rpc_call_park): fed from
 *              the event bus through the loop thread, holding no worker
 *              while they wait.
 *
 * Every method of both services has a line here: a method added to
 * api.proto without one fails the unit test cri-cri (every route has a
 * class) and, should that be skipped, runs as long, never delaying short
 * calls. The HTTP routes on the same socket get their class where they are
 * registered (httpapi: /info, /config, /images/pulls short; /images/import
 * long; /images/pulls/watch streaming). Unimplemented methods answer at
 * once whatever their class. */
#include <errno.h>
#include <string.h>

#include "cri/cri_int.h"

#define RS "runtime.v1.RuntimeService"
#define IS "runtime.v1.ImageService"

static const struct {
	const char *service, *method;
	enum rpc_class cls;
} classes[] = {
	/* RuntimeService */
	{ RS, "Version", RPC_SHORT },
	{ RS, "RunPodSandbox", RPC_LONG },
	{ RS, "StopPodSandbox", RPC_LONG },
	{ RS, "RemovePodSandbox", RPC_LONG },
	{ RS, "PodSandboxStatus", RPC_SHORT },
	{ RS, "ListPodSandbox", RPC_SHORT },
	{ RS, "StreamPodSandboxes", RPC_STREAM },
	{ RS, "CreateContainer", RPC_LONG },
	{ RS, "StartContainer", RPC_LONG },
	{ RS, "StopContainer", RPC_LONG },
	{ RS, "RemoveContainer", RPC_LONG },
	{ RS, "ListContainers", RPC_SHORT },
	{ RS, "StreamContainers", RPC_STREAM },
	{ RS, "ContainerStatus", RPC_SHORT },
	{ RS, "UpdateContainerResources", RPC_LONG },
	{ RS, "ReopenContainerLog", RPC_LONG },
	{ RS, "ExecSync", RPC_LONG },
	/* Exec, Attach, PortForward answer a URL; the session runs on the
	 * streaming server's threads. */
	{ RS, "Exec", RPC_SHORT },
	{ RS, "Attach", RPC_SHORT },
	{ RS, "PortForward", RPC_SHORT },
	{ RS, "ContainerStats", RPC_SHORT },
	{ RS, "ListContainerStats", RPC_SHORT },
	{ RS, "StreamContainerStats", RPC_STREAM },
	{ RS, "PodSandboxStats", RPC_SHORT },
	{ RS, "ListPodSandboxStats", RPC_SHORT },
	{ RS, "StreamPodSandboxStats", RPC_STREAM },
	{ RS, "UpdateRuntimeConfig", RPC_SHORT },
	{ RS, "Status", RPC_SHORT },
	{ RS, "CheckpointContainer", RPC_LONG },
	{ RS, "GetContainerEvents", RPC_STREAM },
	{ RS, "ListMetricDescriptors", RPC_SHORT },
	{ RS, "ListPodSandboxMetrics", RPC_SHORT },
	{ RS, "StreamPodSandboxMetrics", RPC_STREAM },
	{ RS, "RuntimeConfig", RPC_SHORT },
	{ RS, "UpdatePodSandboxResources", RPC_LONG },
	/* ImageService */
	{ IS, "ListImages", RPC_SHORT },
	{ IS, "StreamImages", RPC_STREAM },
	{ IS, "ImageStatus", RPC_SHORT },
	{ IS, "PullImage", RPC_PULL },
	{ IS, "RemoveImage", RPC_LONG },
	{ IS, "ImageFsInfo", RPC_SHORT },
	/* ocid's own (enable_debug_rpc) */
	{ "ocid.debug.Debug", "Sleep", RPC_LONG },
};

int cri_method_class(const char *service, const char *method, enum rpc_class *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(classes); i++) {
		if (strcmp(classes[i].service, service) == 0 &&
		    strcmp(classes[i].method, method) == 0) {
			*ret = classes[i].cls;
			return 0;
		}
	}
	*ret = RPC_LONG;
	return -ENOENT;
}

const char *cri_class_name(enum rpc_class cls)
{
	switch (cls) {
	case RPC_SHORT:
		return "short";
	case RPC_LONG:
		return "long";
	case RPC_PULL:
		return "pull";
	case RPC_STREAM:
		return "streaming";
	}
	return "?";
}
