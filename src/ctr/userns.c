/* Can pods have user namespaces here? Probed once at start, so Status
 * reports the feature exactly when it works. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "proc/proc.h"
#include "storage/storage.h"

/* The probe's own namespace: any range without host id 0 does. */
#define PROBE_HOST_ID 1000000u
#define PROBE_LENGTH 65536u

/* Every directory from / down to `path` has o+x: the root of a user
 * namespace is "others" to a directory owned by the host's root. */
static int searchable(const char *path, struct err *err)
{
	cleanup_free char *p = xstrdup(path);
	for (;;) {
		struct stat st;
		const char *dir = *p ? p : "/";
		if (stat(dir, &st) < 0)
			return err_set(err, -errno, "stat '%s'", dir);
		if (!(st.st_mode & S_IXOTH))
			return err_msg(
			    err, -EACCES,
			    "'%s' is not searchable by others (mode %04o): the root of a pod's user namespace could not reach its files",
			    dir, (unsigned)(st.st_mode & 07777));
		if (!*p)
			return 0;
		char *slash = strrchr(p, '/');
		if (!slash)
			return err_msg(err, -EINVAL, "'%s' is not an absolute path", path);
		*slash = '\0';
	}
}

static int probe(struct ctr_mgr *m, struct err *err)
{
	if (!m->features.userns)
		return err_msg(err, -EOPNOTSUPP,
			       "the OCI runtime does not list user namespaces in its features");
	if (!m->host.mount_setattr)
		return err_msg(err, -EOPNOTSUPP, "the kernel has no mount_setattr (5.12 or later)");
	/* <runroot>/pods/<id> are made 0711 with the pods. */
	cleanup_free char *ctrs = xasprintf("%s/containers", m->root);
	int r = searchable(ctrs, err);
	if (r >= 0)
		r = searchable(m->runroot, err);
	if (r < 0)
		return r;
	struct proc_idmap map = { 0, PROBE_HOST_ID, PROBE_LENGTH };
	int fd = proc_userns_new(&map, &map, err);
	if (fd < 0)
		return fd;
	r = storage_idmap_probe(m->storage, fd, PROBE_HOST_ID, err);
	close(fd);
	return r;
}

void ctr_userns_probe(struct ctr_mgr *m)
{
	cleanup_err struct err err = ERR_INIT;
	m->userns = probe(m, &err) >= 0;
	if (m->userns)
		log_info("pods may have user namespaces", "runtime=%s", m->runtime);
	else
		log_info("pods cannot have user namespaces here", "reason=%s",
			 log_q(err_str(&err)));
}
