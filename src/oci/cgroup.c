/* Host cgroup-driver detection. */
#include "oci/oci.h"

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
