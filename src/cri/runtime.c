/* RuntimeService handlers: Version, Status, RuntimeConfig. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_int.h"

#define CRI_API_VERSION "v1"

static int version(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err)
{
	Runtime__V1__VersionResponse resp = RUNTIME__V1__VERSION_RESPONSE__INIT;
	resp.version = "0.1.0";
	resp.runtime_name = "ocid";
	resp.runtime_version = OCID_VERSION;
	resp.runtime_api_version = CRI_API_VERSION;
	cri_reply(ctx, &resp.base);
	return 0;
}

static int status(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__StatusRequest *req = (const Runtime__V1__StatusRequest *)reqm;
	Runtime__V1__RuntimeCondition runtime = RUNTIME__V1__RUNTIME_CONDITION__INIT;
	runtime.type = "RuntimeReady";
	runtime.status = true;
	Runtime__V1__RuntimeCondition network = RUNTIME__V1__RUNTIME_CONDITION__INIT;
	network.type = "NetworkReady";
	cleanup_err struct err net_err = ERR_INIT;
	network.status = ctx->deps->pods && pod_network_status(ctx->deps->pods, &net_err) >= 0;
	if (!network.status) {
		network.reason = "NetworkPluginNotReady";
		network.message =
		    ctx->deps->pods ? (char *)err_str(&net_err) : "the pod manager is not running";
	}
	Runtime__V1__RuntimeCondition *conds[] = { &runtime, &network };
	Runtime__V1__RuntimeStatus st = RUNTIME__V1__RUNTIME_STATUS__INIT;
	st.conditions = conds;
	st.n_conditions = ARRAY_SIZE(conds);
	Runtime__V1__StatusResponse resp = RUNTIME__V1__STATUS_RESPONSE__INIT;
	resp.status = &st;

	/* The default handler ("") and each handler pods can run under, as
	 * CRI-O and containerd list them; all run the one runtime whose
	 * features were probed at start. */
	struct ctr_features f = { 0 };
	if (ctx->deps->ctrs)
		ctr_mgr_features(ctx->deps->ctrs, &f);
	Runtime__V1__RuntimeHandlerFeatures hf = RUNTIME__V1__RUNTIME_HANDLER_FEATURES__INIT;
	hf.recursive_read_only_mounts = f.recursive_read_only;
	hf.user_namespaces = f.user_namespaces;
	pthread_rwlock_rdlock(ctx->deps->cfg_lock);
	const struct config *cfg = ctx->deps->cfg;
	size_t n = 1;
	for (size_t i = 0; i < cfg->n_runtimes; i++)
		n += cri_handler_runnable(cfg, &cfg->runtimes[i]);
	Runtime__V1__RuntimeHandler *hs = xcalloc(n, sizeof(*hs));
	Runtime__V1__RuntimeHandler **handlers = xcalloc(n, sizeof(*handlers));
	char **names = xcalloc(n, sizeof(*names));
	for (size_t i = 0, j = 1; i < cfg->n_runtimes; i++)
		if (cri_handler_runnable(cfg, &cfg->runtimes[i]))
			names[j++] = xstrdup(cfg->runtimes[i].name);
	pthread_rwlock_unlock(ctx->deps->cfg_lock);
	for (size_t i = 0; i < n; i++) {
		runtime__v1__runtime_handler__init(&hs[i]);
		hs[i].name = names[i] ? names[i] : "";
		hs[i].features = &hf;
		handlers[i] = &hs[i];
	}
	resp.runtime_handlers = handlers;
	resp.n_runtime_handlers = n;
	/* Merge and Strict, and ContainerStatus.user: what the spec gives the
	 * process (oci_user_resolve), the same for every runtime. */
	Runtime__V1__RuntimeFeatures features = RUNTIME__V1__RUNTIME_FEATURES__INIT;
	features.supplemental_groups_policy = true;
	resp.features = &features;

	Runtime__V1__StatusResponse__InfoEntry e_version =
	    RUNTIME__V1__STATUS_RESPONSE__INFO_ENTRY__INIT;
	Runtime__V1__StatusResponse__InfoEntry e_config =
	    RUNTIME__V1__STATUS_RESPONSE__INFO_ENTRY__INIT;
	Runtime__V1__StatusResponse__InfoEntry *info[2];
	cleanup_free char *cfg_json = NULL;
	if (req->verbose) {
		e_version.key = "version";
		e_version.value = "\"" OCID_VERSION "\"";
		info[resp.n_info++] = &e_version;
		pthread_rwlock_rdlock(ctx->deps->cfg_lock);
		if (ctx->deps->config_json)
			cfg_json = ctx->deps->config_json(ctx->deps->cfg);
		pthread_rwlock_unlock(ctx->deps->cfg_lock);
		if (cfg_json) {
			e_config.key = "config";
			e_config.value = cfg_json;
			info[resp.n_info++] = &e_config;
		}
		resp.info = info;
	}
	cri_reply(ctx, &resp.base);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(handlers);
	free(hs);
	return 0;
}

bool cri_handler_runnable(const struct config *cfg, const struct config_runtime *rt)
{
	(void)cfg;
	return !rt->privileged_without_host_devices;
}

static int runtime_config(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err)
{
	Runtime__V1__LinuxRuntimeConfiguration linux_cfg =
	    RUNTIME__V1__LINUX_RUNTIME_CONFIGURATION__INIT;
	linux_cfg.cgroup_driver = strcmp(ctx->deps->cgroup_driver, "systemd") == 0
				      ? RUNTIME__V1__CGROUP_DRIVER__SYSTEMD
				      : RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
	Runtime__V1__RuntimeConfigResponse resp = RUNTIME__V1__RUNTIME_CONFIG_RESPONSE__INIT;
	resp.linux = &linux_cfg;
	cri_reply(ctx, &resp.base);
	return 0;
}

const struct cri_impl cri_runtime_impls[] = {
	{ "runtime.v1.RuntimeService", "Version", version },
	{ "runtime.v1.RuntimeService", "Status", status },
	{ "runtime.v1.RuntimeService", "RuntimeConfig", runtime_config },
	{ NULL, NULL, NULL },
};
