/* Where a container's files are: its run directory (spec, exit file,
 * sockets) under the run root, its rootfs directories under the root. */
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "ctr/ctr_int.h"

char *ctr_path_run(const struct ctr_mgr *m, const char *id, const char *name)
{
	return name ? xasprintf("%s/containers/%s/%s", m->runroot, id, name)
		    : xasprintf("%s/containers/%s", m->runroot, id);
}

char *ctr_path_root(const struct ctr_mgr *m, const char *id, const char *name)
{
	return name ? xasprintf("%s/containers/%s/%s", m->root, id, name)
		    : xasprintf("%s/containers/%s", m->root, id);
}

char *ctr_path_sock(const struct ctr_mgr *m, const char *id, const char *name)
{
	char *p = ctr_path_run(m, id, name);
	struct sockaddr_un sa;
	if (strlen(p) < sizeof(sa.sun_path))
		return p;
	free(p);
	/* Deep run roots (tests) do not fit a sockaddr_un: a short name. */
	return xasprintf("%s/s/%.16s.%s", m->runroot, id, name);
}
