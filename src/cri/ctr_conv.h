/* Conversions between CRI container messages and ctr/ structs. Each
 * builder owns what it allocates; the _done call frees it. */
#pragma once

#include "cri/cri_int.h"
#include "ctr/ctr.h"

/* What ContainerStatus will report of a CRI ContainerConfig (its strings
 * borrowed from that config; the arrays here owned). */
struct cri_status_cfg {
	struct ctr_status_cfg cfg;
	struct oci_idmap *idmaps; /* what the mounts' uids and gids point to */
	struct oci_kv *unified;
	struct oci_hugepage_limit *hp;
};
/** Fill `ret` from `cfg`; free with cri_status_cfg_done. */
void cri_status_cfg_of(const Runtime__V1__ContainerConfig *cfg, struct cri_status_cfg *ret);
void cri_status_cfg_done(struct cri_status_cfg *s);

struct cri_ctr_conv {
	struct ctr_create_req req;
	struct oci_kv *labels, *annotations, *sysctls, *unified;
	char **envs;
	char **cap_add, **cap_drop, **masked, **ro_paths;
	bool masked_set, ro_set;
	struct oci_mount *mounts;
	struct ctr_mount_extra *extras; /* NULL when no mount has an image or mappings */
	struct oci_idmap *idmaps;	/* what the extras point to */
	struct oci_device *devices;
	char **cdi_devices; /* CDIDevices names */
	struct oci_hugepage_limit *hugepages;
	struct cri_status_cfg status;
};

/** Validate and convert a CreateContainer request. -EINVAL naming the
 *  missing field. Free with cri_ctr_conv_done (also after failure). */
int cri_ctr_conv_create(const Runtime__V1__CreateContainerRequest *req, struct cri_ctr_conv *ret,
			struct err *err);
void cri_ctr_conv_done(struct cri_ctr_conv *c);

/* Resources of a CRI LinuxContainerResources (pointers borrow from it). */
void cri_ctr_resources(const Runtime__V1__LinuxContainerResources *r, struct oci_resources *ret,
		       struct oci_kv **ret_unified, struct oci_hugepage_limit **ret_hp);

/** CRI's Signal for signal number `sig` (SIGRTMIN+3 is SIGRTMINPLUS3);
 *  RUNTIME_DEFAULT for a number the enum has no name for. */
Runtime__V1__Signal cri_signal_from_number(int sig);

struct cri_ctr_list {
	Runtime__V1__Container **items;
	size_t n;
};
void cri_ctr_list_build(struct ctr_info *const *v, size_t n, struct cri_ctr_list *ret);
void cri_ctr_list_done(struct cri_ctr_list *l);

struct cri_ctr_status {
	Runtime__V1__ContainerStatus status;
	Runtime__V1__ContainerMetadata md;
	Runtime__V1__ImageSpec image;
	Runtime__V1__ContainerResources res;
	Runtime__V1__ContainerUser user;
	Runtime__V1__LinuxContainerUser linux_user;
	Runtime__V1__LinuxContainerResources lres;
	Runtime__V1__Mount **mounts;
	Runtime__V1__HugepageLimit **hp;
	Runtime__V1__LinuxContainerResources__UnifiedEntry **unified;
	Runtime__V1__ContainerStatusResponse__InfoEntry **info;
	size_t n_info;
};
/** Build a status from `i` (its cfg included); `verbose_json` (may be
 *  NULL) becomes info["info"]. */
void cri_ctr_status_build(const struct ctr_info *i, const char *verbose_json,
			  struct cri_ctr_status *ret);
void cri_ctr_status_done(struct cri_ctr_status *s);

struct cri_ctr_update {
	struct oci_resources res;
	struct oci_kv *unified;
	struct oci_hugepage_limit *hp;
};
/** What UpdateContainerResources hands ctr_update_resources of `r`. */
void cri_ctr_update_build(const Runtime__V1__LinuxContainerResources *r,
			  struct cri_ctr_update *ret);
void cri_ctr_update_done(struct cri_ctr_update *u);

/* ctr_stats.c: the stats handlers (listed in cri_ctr_impls). */
int cri_ctr_stats(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err);
int cri_ctr_list_stats(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err);
/** One ContainerStats message for `st` (free with cri_ctr_stats_msg_free). */
Runtime__V1__ContainerStats *cri_ctr_stats_msg_new(const struct ctr_stats *st,
						   const char *mountpoint);
void cri_ctr_stats_msg_free(Runtime__V1__ContainerStats *s);

/* pod_stats.c: PodSandboxStats, ListPodSandboxStats. */
int cri_pod_stats(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err);
int cri_pod_list_stats(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err);

/* metrics.c: ListMetricDescriptors, ListPodSandboxMetrics. */
int cri_metric_descriptors(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err);
int cri_pod_metrics(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err);
