/* oci: OCI runtime-spec generation and runtime CLI calls. For now only the
 * host's cgroup driver detection. */
#pragma once

#include <stdbool.h>

enum oci_cgroup_driver { OCI_CGROUP_CGROUPFS, OCI_CGROUP_SYSTEMD };

/** The cgroup driver this host wants: systemd when systemd is PID 1
 *  (/run/systemd/system exists and /proc/1/comm is "systemd"), else
 *  cgroupfs. Never fails. */
enum oci_cgroup_driver oci_cgroup_driver_detect(void);

/** "systemd" or "cgroupfs". */
const char *oci_cgroup_driver_name(enum oci_cgroup_driver d);

/** Pure part of the detection, for tests: `run_systemd_exists` and the
 *  contents of /proc/1/comm (may end in '\n', may be NULL). */
enum oci_cgroup_driver oci_cgroup_driver_decide(bool run_systemd_exists, const char *pid1_comm);
