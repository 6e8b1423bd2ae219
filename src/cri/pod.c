/* CRI handlers: pod sandboxes (RunPodSandbox, StopPodSandbox,
 * RemovePodSandbox, PodSandboxStatus, ListPodSandbox,
 * UpdatePodSandboxResources) and UpdateRuntimeConfig. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_int.h"
#include "cri/pod_conv.h"

#define RS "runtime.v1.RuntimeService"

static struct pod_manager *mgr(struct cri_ctx *ctx, struct err *err)
{
	if (!ctx->deps->pods)
		(void)err_msg(err, -ENOSYS, "the pod manager is not running");
	return ctx->deps->pods;
}

/* The handler the pod asks for ("" = the default) must be one pods can run
 * under; a pod in its own user namespace only where that handler reports
 * the feature. */
static int handler_check(struct cri_ctx *ctx, const char *name, const struct pod_config *c,
			 struct err *err)
{
	struct cri_conf *conf = cri_conf_get(ctx->deps);
	const struct cri_handler *h = NULL;
	int r = cri_conf_handler(conf, name, &h, err);
	struct ctr_features f = { 0 };
	if (h)
		f = h->features;
	else if (ctx->deps->ctrs)
		ctr_mgr_features(ctx->deps->ctrs, &f);
	if (r >= 0 && pod_config_userns(c) && !f.user_namespaces)
		r = err_msg(err, -EINVAL,
			    "user namespaces (userns_options mode POD) are not supported on this "
			    "node%s%s%s: the log of ocid's start says why",
			    h ? " (runtime handler '" : "", h ? h->h.name : "", h ? "')" : "");
	cri_conf_put(conf);
	return r;
}

static int run_pod_sandbox(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__RunPodSandboxRequest *req =
	    (const Runtime__V1__RunPodSandboxRequest *)reqm;
	struct pod_manager *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	int r = 0;
	if (req->config)
		r = cri_metadata_check(
		    "pod sandbox", req->config->n_labels, (void *const *)req->config->labels,
		    req->config->n_annotations, (void *const *)req->config->annotations, err);
	if (r < 0)
		return r;
	struct cri_pod_conv conv;
	r = cri_pod_conv_config(req->config, req->runtime_handler, &conv, err);
	cleanup_free char *id = NULL;
	if (r >= 0)
		r = handler_check(ctx, req->runtime_handler, &conv.cfg, err);
	if (r >= 0)
		r = pod_run_until(m, &conv.cfg, rpc_call_deadline(ctx->call), &id, err);
	cri_pod_conv_done(&conv);
	if (r < 0)
		return r;
	Runtime__V1__RunPodSandboxResponse resp = RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT;
	resp.pod_sandbox_id = id;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int stop_pod_sandbox(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__StopPodSandboxRequest *req =
	    (const Runtime__V1__StopPodSandboxRequest *)reqm;
	struct pod_manager *m = mgr(ctx, err);
	int r = m ? pod_stop(m, req->pod_sandbox_id, err) : -ENOSYS;
	if (r < 0)
		return r;
	Runtime__V1__StopPodSandboxResponse resp = RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int remove_pod_sandbox(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__RemovePodSandboxRequest *req =
	    (const Runtime__V1__RemovePodSandboxRequest *)reqm;
	struct pod_manager *m = mgr(ctx, err);
	int r = m ? pod_remove(m, req->pod_sandbox_id, err) : -ENOSYS;
	if (r < 0)
		return r;
	Runtime__V1__RemovePodSandboxResponse resp = RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int pod_sandbox_status(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__PodSandboxStatusRequest *req =
	    (const Runtime__V1__PodSandboxStatusRequest *)reqm;
	struct pod_manager *m = mgr(ctx, err);
	cleanup(pod_info_free) struct pod_info *i = NULL;
	int r = m ? pod_get(m, req->pod_sandbox_id, &i, err) : -ENOSYS;
	if (r < 0)
		return r;
	struct cri_pod_status st;
	cri_pod_conv_status(i, &st);
	Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
	resp.status = &st.st;
	Runtime__V1__PodSandboxStatusResponse__InfoEntry info =
	    RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INFO_ENTRY__INIT;
	Runtime__V1__PodSandboxStatusResponse__InfoEntry *infos[] = { &info };
	cleanup_free char *verbose = req->verbose ? pod_info_verbose_json(i) : NULL;
	if (verbose) {
		info.key = "info";
		info.value = verbose;
		resp.info = infos;
		resp.n_info = 1;
	}
	cri_reply(ctx, &resp.base);
	cri_pod_status_done(&st);
	return 0;
}

static int list_pod_sandbox(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ListPodSandboxRequest *req =
	    (const Runtime__V1__ListPodSandboxRequest *)reqm;
	struct pod_manager *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	struct pod_filter f = { .state = -1 };
	cleanup_free struct oci_kv *sel = NULL;
	const Runtime__V1__PodSandboxFilter *rf = req->filter;
	if (rf) {
		f.id = str_empty(rf->id) ? NULL : rf->id;
		f.state = rf->state ? (int)rf->state->state : -1;
		sel = cri_kv_borrow(rf->n_label_selector, (void *const *)rf->label_selector);
		f.labels = sel;
		f.n_labels = rf->n_label_selector;
	}
	struct pod_info **v = NULL;
	size_t n = 0;
	int r = pod_list(m, &f, &v, &n, err);
	if (r < 0)
		return r;
	struct cri_pod_item *items = n ? xcalloc(n, sizeof(*items)) : NULL;
	Runtime__V1__PodSandbox **ptrs = n ? xcalloc(n, sizeof(*ptrs)) : NULL;
	for (size_t k = 0; k < n; k++) {
		cri_pod_conv_item(v[k], &items[k]);
		ptrs[k] = &items[k].pod;
	}
	Runtime__V1__ListPodSandboxResponse resp = RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT;
	resp.items = ptrs;
	resp.n_items = n;
	cri_reply(ctx, &resp.base);
	for (size_t k = 0; k < n; k++)
		cri_pod_item_done(&items[k]);
	free(items);
	free(ptrs);
	pod_info_list_free(v, n);
	return 0;
}

static int update_runtime_config(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__UpdateRuntimeConfigRequest *req =
	    (const Runtime__V1__UpdateRuntimeConfigRequest *)reqm;
	struct pod_manager *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	const Runtime__V1__RuntimeConfig *rc = req->runtime_config;
	if (rc && rc->network_config) {
		int r = pod_manager_set_pod_cidr(m, rc->network_config->pod_cidr, err);
		if (r < 0)
			return r;
	}
	Runtime__V1__UpdateRuntimeConfigResponse resp =
	    RUNTIME__V1__UPDATE_RUNTIME_CONFIG_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int update_pod_sandbox_resources(struct cri_ctx *ctx, const ProtobufCMessage *reqm,
					struct err *err)
{
	const Runtime__V1__UpdatePodSandboxResourcesRequest *req =
	    (const Runtime__V1__UpdatePodSandboxResourcesRequest *)reqm;
	struct pod_manager *m = mgr(ctx, err);
	if (!m)
		return -ENOSYS;
	struct pod_resources ovh, res;
	if (req->overhead)
		cri_pod_conv_resources(req->overhead, &ovh);
	if (req->resources)
		cri_pod_conv_resources(req->resources, &res);
	int r = pod_update_resources(m, req->pod_sandbox_id, req->overhead ? &ovh : NULL,
				     req->resources ? &res : NULL, err);
	if (r < 0)
		return r;
	Runtime__V1__UpdatePodSandboxResourcesResponse resp =
	    RUNTIME__V1__UPDATE_POD_SANDBOX_RESOURCES_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

const struct cri_impl cri_pod_impls[] = {
	{ RS, "RunPodSandbox", run_pod_sandbox },
	{ RS, "StopPodSandbox", stop_pod_sandbox },
	{ RS, "RemovePodSandbox", remove_pod_sandbox },
	{ RS, "PodSandboxStatus", pod_sandbox_status },
	{ RS, "ListPodSandbox", list_pod_sandbox },
	{ RS, "UpdateRuntimeConfig", update_runtime_config },
	{ RS, "UpdatePodSandboxResources", update_pod_sandbox_resources },
	{ NULL, NULL, NULL },
};
