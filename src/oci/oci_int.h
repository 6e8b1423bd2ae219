/* oci: declarations shared by the files of the module only. */
#pragma once

#include <jansson.h>

#include "base/err.h"
#include "oci/oci.h"

/* The spec's "process" object for `c` with the resolved user and cwd. */
int oci_process_build(const struct oci_ctr_config *c, const struct oci_host *h,
		      const struct oci_user *u, const char *cwd, json_t **ret, struct err *err);

/* The spec's "mounts" array (CRI mounts checked, host dirs created, image
 * VOLUMEs made under rootfd) and linux.rootfsPropagation (NULL = unset). */
int oci_mounts_build(const struct oci_ctr_config *c, const struct oci_host *h, int rootfd,
		     const struct oci_user *u, json_t **ret, const char **ret_rootfs_propagation,
		     struct err *err);

/* The spec's "linux" object: namespaces, cgroupsPath, resources, devices,
 * masked/readonly paths, sysctls, seccomp. */
int oci_linux_build(const struct oci_ctr_config *c, const struct oci_host *h, uint64_t caps,
		    json_t **ret, struct err *err);

/* linux.seccomp for `s` (NULL *ret when unconfined). */
int oci_seccomp_build(const struct oci_seccomp *s, uint64_t caps, json_t **ret, struct err *err);
