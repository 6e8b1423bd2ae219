/* Host cgroup-driver detection. */
#include "oci/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"

enum oci_cgroup_driver oci_cgroup_driver_decide(bool run_systemd_exists, const char *pid1_comm)
{
	if (!run_systemd_exists || !pid1_comm)
		return OCI_CGROUP_CGROUPFS;
	size_t n = strcspn(pid1_comm, "\n");
	return n == strlen("systemd") && strncmp(pid1_comm, "systemd", n) == 0
		   ? OCI_CGROUP_SYSTEMD
		   : OCI_CGROUP_CGROUPFS;
}

enum oci_cgroup_driver oci_cgroup_driver_detect(void)
{
	struct stat st;
	bool run = stat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
	char comm[64] = "";
	cleanup_close int fd = open("/proc/1/comm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, comm, sizeof(comm) - 1);
		comm[n > 0 ? n : 0] = '\0';
	}
	return oci_cgroup_driver_decide(run, comm);
}

const char *oci_cgroup_driver_name(enum oci_cgroup_driver d)
{
	return d == OCI_CGROUP_SYSTEMD ? "systemd" : "cgroupfs";
}

int oci_cgroups_path(enum oci_cgroup_driver d, const char *parent, const char *id, char **ret,
		     struct err *err)
{
	if (str_empty(id) || strpbrk(id, "/:") || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return err_msg(err, -EINVAL, "container id '%s' cannot name a cgroup",
			       id ? id : "");
	if (d == OCI_CGROUP_SYSTEMD) {
		const char *p = str_empty(parent) ? "system.slice" : parent;
		if (!str_has_suffix(p, ".slice") || strpbrk(p, "/:"))
			return err_msg(
			    err, -EINVAL,
			    "cgroup parent '%s' is not a systemd slice name (like kubepods-burstable.slice); is kubelet's cgroup driver cgroupfs while ocid uses systemd?",
			    p);
		*ret = xasprintf("%s:ocid:%s", p, id);
		return 0;
	}
	const char *p = str_empty(parent) ? "/ocid" : parent;
	cleanup_free char *clean = NULL;
	if (p[0] != '/' || fs_path_clean(p, &clean) < 0)
		return err_msg(
		    err, -EINVAL,
		    "cgroup parent '%s' is not an absolute cgroupfs path; is kubelet's cgroup driver systemd while ocid uses cgroupfs?",
		    p);
	*ret = xasprintf("%s/ocid-%s", strcmp(clean, "/") == 0 ? "" : clean, id);
	return 0;
}
