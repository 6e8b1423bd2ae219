/* CRI handlers: containers. Each converts the request into ctr/ structs,
 * makes one call on the container manager and converts the answer. The
 * CRI ContainerConfig is kept by the manager as the packed protobuf it
 * arrived as, so ContainerStatus can echo mounts, resources and metadata. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_int.h"
#include "cri/ctr_conv.h"
#include "cri/pod_conv.h"

#define RS "runtime.v1.RuntimeService"

static struct ctr_mgr *mgr(struct cri_ctx *ctx, struct err *err)
{
	if (!ctx->deps->ctrs)
		(void)err_msg(err, -ENOSYS, "the container manager is not running");
	return ctx->deps->ctrs;
}

static int create_container(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__CreateContainerRequest *req =
	    (const Runtime__V1__CreateContainerRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	if (req->config) {
		int q = cri_metadata_check(
		    "container", req->config->n_labels, (void *const *)req->config->labels,
		    req->config->n_annotations, (void *const *)req->config->annotations, err);
		if (q < 0)
			return q;
	}
	struct cri_ctr_conv conv;
	int r = cri_ctr_conv_create(req, &conv, err);
	if (r < 0)
		return r;
	conv.req.deadline_ns = rpc_call_deadline(ctx->call);
	char id[ID_LEN + 1];
	struct cri_conf *conf = cri_conf_get(ctx->deps);
	struct ctr_handler handler;
	r = cri_conf_for_create(ctx->deps, conf, &conv, &handler, err);
	if (r >= 0)
		r = cri_image_trust_check(ctx, conv.req.image, conv.req.pod_namespace, err);
	if (r >= 0)
		r = ctr_create(m, &conv.req, id, err);
	cri_conf_put(conf);
	cri_ctr_conv_done(&conv);
	if (r < 0)
		return r;
	Runtime__V1__CreateContainerResponse resp = RUNTIME__V1__CREATE_CONTAINER_RESPONSE__INIT;
	resp.container_id = id;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int start_container(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__StartContainerRequest *req =
	    (const Runtime__V1__StartContainerRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	int r = m ? ctr_start(m, req->container_id, rpc_call_deadline(ctx->call), err) : -ENOSYS;
	if (r < 0)
		return r;
	Runtime__V1__StartContainerResponse resp = RUNTIME__V1__START_CONTAINER_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int stop_container(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__StopContainerRequest *req =
	    (const Runtime__V1__StopContainerRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	int r = m ? ctr_stop(m, req->container_id, req->timeout, err) : -ENOSYS;
	if (r < 0)
		return r;
	Runtime__V1__StopContainerResponse resp = RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int remove_container(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__RemoveContainerRequest *req =
	    (const Runtime__V1__RemoveContainerRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	int r = m ? ctr_remove(m, req->container_id, err) : -ENOSYS;
	if (r < 0)
		return r;
	Runtime__V1__RemoveContainerResponse resp = RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int list_containers(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ListContainersRequest *req =
	    (const Runtime__V1__ListContainersRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	struct ctr_filter f = { 0 };
	struct oci_kv *labels = NULL;
	const Runtime__V1__ContainerFilter *rf = req->filter;
	if (rf) {
		f.id = rf->id;
		f.pod_id = rf->pod_sandbox_id;
		if (rf->state) {
			f.has_state = true;
			f.state = (enum ctr_state)rf->state->state;
		}
		labels = cri_kv_borrow(rf->n_label_selector, (void *const *)rf->label_selector);
		f.labels = labels;
		f.n_labels = rf->n_label_selector;
	}
	struct ctr_info **v = NULL;
	size_t n = 0;
	int r = ctr_list(m, &f, &v, &n, err);
	free(labels);
	if (r < 0)
		return r;
	struct cri_ctr_list out;
	cri_ctr_list_build(v, n, &out);
	Runtime__V1__ListContainersResponse resp = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
	resp.containers = out.items;
	resp.n_containers = out.n;
	cri_reply(ctx, &resp.base);
	cri_ctr_list_done(&out);
	ctr_info_list_free(v, n);
	return 0;
}

static int container_status(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ContainerStatusRequest *req =
	    (const Runtime__V1__ContainerStatusRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	cleanup(ctr_info_free) struct ctr_info *info = NULL;
	int r = ctr_status(m, req->container_id, &info, err);
	if (r < 0)
		return r;
	cleanup_free char *verbose = NULL;
	if (req->verbose)
		(void)ctr_verbose_info(m, info, &verbose, NULL);
	struct cri_ctr_status st;
	cri_ctr_status_build(info, verbose, &st);
	Runtime__V1__ContainerStatusResponse resp = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	resp.status = &st.status;
	resp.info = st.info;
	resp.n_info = st.n_info;
	cri_reply(ctx, &resp.base);
	cri_ctr_status_done(&st);
	return 0;
}

static int update_resources(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__UpdateContainerResourcesRequest *req =
	    (const Runtime__V1__UpdateContainerResourcesRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	if (!req->linux)
		return err_msg(err, -EINVAL, "no linux resources given");
	struct cri_ctr_update u;
	cri_ctr_update_build(req->linux, &u);
	int r = ctr_update_resources(m, req->container_id, &u.res, err);
	cri_ctr_update_done(&u);
	if (r < 0)
		return r;
	Runtime__V1__UpdateContainerResourcesResponse resp =
	    RUNTIME__V1__UPDATE_CONTAINER_RESOURCES_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int reopen_log(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ReopenContainerLogRequest *req =
	    (const Runtime__V1__ReopenContainerLogRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	int r = m ? ctr_reopen_log(m, req->container_id, err) : -ENOSYS;
	if (r < 0)
		return r;
	Runtime__V1__ReopenContainerLogResponse resp =
	    RUNTIME__V1__REOPEN_CONTAINER_LOG_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int exec_sync(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ExecSyncRequest *req = (const Runtime__V1__ExecSyncRequest *)reqm;
	struct ctr_mgr *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	char **cmd = xcalloc(req->n_cmd + 1, sizeof(*cmd));
	for (size_t i = 0; i < req->n_cmd; i++)
		cmd[i] = req->cmd[i];
	/* Never run past the caller's deadline, even with no exec timeout. */
	int64_t timeout = req->timeout;
	uint64_t deadline = rpc_call_deadline(ctx->call), now = ev_now_ns();
	if (deadline) {
		int64_t left =
		    deadline > now ? (int64_t)((deadline - now + 999999999) / 1000000000) : 1;
		if (timeout <= 0 || left < timeout)
			timeout = left;
	}
	struct ctr_exec_result res;
	int r = ctr_exec_sync(m, req->container_id, cmd, timeout, &res, err);
	free(cmd);
	if (r < 0)
		return r;
	/* ctr bounded the output (CTR_EXEC_OUTPUT_MAX) so that this reply
	 * stays below kubelet's 16 MiB message limit. */
	Runtime__V1__ExecSyncResponse resp = RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT;
	resp.stdout = (ProtobufCBinaryData){ res.out_len, (uint8_t *)res.out };
	resp.stderr = (ProtobufCBinaryData){ res.err_len, (uint8_t *)res.errout };
	resp.exit_code = res.exit_code;
	cri_reply(ctx, &resp.base);
	ctr_exec_result_done(&res);
	return 0;
}

static int send_event(struct cri_ctx *ctx, struct ctr_mgr *m, const struct ctr_event *e)
{
	cleanup(ctr_info_free) struct ctr_info *info = NULL;
	cleanup(pod_info_free) struct pod_info *pinfo = NULL;
	struct cri_ctr_status st = { 0 };
	struct cri_pod_status pst;
	bool have = ctr_status(m, e->id, &info, NULL) == 0;
	bool have_pod = ctx->deps->pods && pod_get(ctx->deps->pods, e->pod_id, &pinfo, NULL) == 0;
	Runtime__V1__PodSandboxStatus pod = RUNTIME__V1__POD_SANDBOX_STATUS__INIT;
	pod.id = (char *)e->pod_id;
	if (have_pod)
		cri_pod_conv_status(pinfo, &pst);
	Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
	ev.container_id = (char *)e->id;
	ev.container_event_type = (Runtime__V1__ContainerEventType)e->type;
	ev.created_at = e->time_ns;
	ev.pod_sandbox_status = have_pod ? &pst.st : &pod;
	Runtime__V1__ContainerStatus *statuses[1];
	if (have) {
		cri_ctr_status_build(info, NULL, &st);
		statuses[0] = &st.status;
		ev.containers_statuses = statuses;
		ev.n_containers_statuses = 1;
	}
	size_t len = protobuf_c_message_get_packed_size(&ev.base);
	uint8_t *buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(&ev.base, buf);
	if (have)
		cri_ctr_status_done(&st);
	if (have_pod)
		cri_pod_status_done(&pst);
	return rpc_call_send_take(ctx->call, buf, len);
}

/* A parked event stream (class RPC_STREAM): no worker waits for events;
 * the rpc loop watches the subscriber's eventfd and pumps on a short worker. */
struct event_stream {
	struct cri_deps *deps;
	struct ctr_mgr *m;
	struct ctr_sub *sub;
};

static bool events_pump(void *state, struct rpc_call *call)
{
	struct event_stream *es = state;
	struct cri_ctx ctx = { .deps = es->deps, .call = call, .replied = true };
	struct ctr_event e;
	int r, sent = 0;
	while ((r = ctr_events_next(es->sub, 0, &e)) == 1 &&
	       (sent = send_event(&ctx, es->m, &e)) >= 0)
		;
	if (sent == -ECANCELED)
		return false;
	if (r == -EPIPE || sent == -ENOBUFS) /* the client reads too slowly */
		rpc_call_finish(call, RPC_ABORTED, "container event stream overflowed");
	else if (r == -ESHUTDOWN)
		rpc_call_finish(call, RPC_UNAVAILABLE, "ocid is shutting down");
	else if (sent < 0)
		rpc_call_finish(call, RPC_INTERNAL, "container event: %s", strerror(-sent));
	else
		return true;
	return false;
}

static void events_done(void *state)
{
	struct event_stream *es = state;
	ctr_events_unsubscribe(es->sub);
	free(es);
}

static int get_events(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	struct ctr_mgr *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	struct ctr_sub *sub = ctr_events_subscribe(m);
	if (!sub)
		return err_set(err, -errno, "subscribe to container events");
	struct event_stream *es = xnew(struct event_stream);
	*es = (struct event_stream){ .deps = ctx->deps, .m = m, .sub = sub };
	ctx->replied = true;
	rpc_call_park(ctx->call, ctr_events_fd(sub), 0, events_pump, events_done, es);
	return 0;
}

const struct cri_impl cri_ctr_impls[] = {
	{ RS, "CreateContainer", create_container },
	{ RS, "StartContainer", start_container },
	{ RS, "StopContainer", stop_container },
	{ RS, "RemoveContainer", remove_container },
	{ RS, "ListContainers", list_containers },
	{ RS, "ContainerStatus", container_status },
	{ RS, "UpdateContainerResources", update_resources },
	{ RS, "ReopenContainerLog", reopen_log },
	{ RS, "ExecSync", exec_sync },
	{ RS, "GetContainerEvents", get_events },
	{ RS, "ContainerStats", cri_ctr_stats },
	{ RS, "ListContainerStats", cri_ctr_list_stats },
	{ RS, "PodSandboxStats", cri_pod_stats },
	{ RS, "ListPodSandboxStats", cri_pod_list_stats },
	{ RS, "ListMetricDescriptors", cri_metric_descriptors },
	{ RS, "ListPodSandboxMetrics", cri_pod_metrics },
	{ NULL, NULL, NULL },
};
