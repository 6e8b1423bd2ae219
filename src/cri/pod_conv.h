/* cri: conversions between CRI pod sandbox messages and pod/ structs. */
#pragma once

#include "cri/cri_int.h"
#include "pod/pod.h"

/* A pod_config whose strings borrow from the request; only the arrays
 * made here are owned (freed by cri_pod_conv_done). */
struct cri_pod_conv {
	struct pod_config cfg;
};

/** Fill ret from a RunPodSandbox config. -EINVAL when the config or its
 *  metadata is missing (the domain validates the rest). */
int cri_pod_conv_config(const Runtime__V1__PodSandboxConfig *c, const char *handler,
			struct cri_pod_conv *ret, struct err *err);
void cri_pod_conv_done(struct cri_pod_conv *c);

/** A pod_resources from CRI's LinuxContainerResources (the fields a pod
 *  cgroup takes; the others are not a pod's). */
void cri_pod_conv_resources(const Runtime__V1__LinuxContainerResources *r,
			    struct pod_resources *ret);

void cri_pod_conv_metadata(const struct pod_info *i, Runtime__V1__PodSandboxMetadata *md);

/* A ListPodSandbox item borrowing from a pod_info. */
struct cri_pod_item {
	Runtime__V1__PodSandbox pod;
	Runtime__V1__PodSandboxMetadata md;
};
void cri_pod_conv_item(const struct pod_info *i, struct cri_pod_item *it);
void cri_pod_item_done(struct cri_pod_item *it);

/* A PodSandboxStatus borrowing from a pod_info. */
struct cri_pod_status {
	Runtime__V1__PodSandboxStatus st;
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__PodSandboxNetworkStatus net;
	Runtime__V1__LinuxPodSandboxStatus lx;
	Runtime__V1__Namespace ns;
	Runtime__V1__NamespaceOption nsopt;
	Runtime__V1__PodIP *extra;
	Runtime__V1__PodIP **extra_ptrs;
};
void cri_pod_conv_status(const struct pod_info *i, struct cri_pod_status *s);
void cri_pod_status_done(struct cri_pod_status *s);
