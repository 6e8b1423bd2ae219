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

/* Status's runtime_handlers: the default handler ("") and each handler, as CRI-O and containerd list them, each with what
 * its program can do. */
struct handler_list {
	struct cri_conf *conf; /* the names point into it */
	Runtime__V1__RuntimeHandler *hs, **ptrs;
	Runtime__V1__RuntimeHandlerFeatures *fs;
	size_t n;
};

static void handler_list_build(struct cri_ctx *ctx, struct handler_list *l)
{
	struct cri_conf *conf = cri_conf_get(ctx->deps);
	const struct cri_handler *dflt = NULL;
	(void)cri_conf_handler(conf, "", &dflt, NULL);
	size_t n = 1 + cri_conf_n_handlers(conf);
	*l = (struct handler_list){ .conf = conf, .n = n };
	l->hs = xcalloc(n, sizeof(*l->hs));
	l->ptrs = xcalloc(n, sizeof(*l->ptrs));
	l->fs = xcalloc(n, sizeof(*l->fs));
	for (size_t j = 0; j < n; j++) {
		const struct cri_handler *h = j == 0 ? dflt : cri_conf_handler_at(conf, j - 1);
		struct ctr_features f = { 0 };
		if (h)
			f = h->features;
		else if (ctx->deps->ctrs)
			ctr_mgr_features(ctx->deps->ctrs, &f);
		runtime__v1__runtime_handler_features__init(&l->fs[j]);
		l->fs[j].recursive_read_only_mounts = f.recursive_read_only;
		l->fs[j].user_namespaces = f.user_namespaces;
		runtime__v1__runtime_handler__init(&l->hs[j]);
		l->hs[j].name = (char *)(j > 0 && h ? h->h.name : "");
		l->hs[j].features = &l->fs[j];
		l->ptrs[j] = &l->hs[j];
	}
}

static void handler_list_done(struct handler_list *l)
{
	cri_conf_put(l->conf);
	free(l->fs);
	free(l->ptrs);
	free(l->hs);
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

	struct handler_list hl;
	handler_list_build(ctx, &hl);
	resp.runtime_handlers = hl.ptrs;
	resp.n_runtime_handlers = hl.n;
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
	handler_list_done(&hl);
	return 0;
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
