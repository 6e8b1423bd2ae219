/* Pods as the container manager sees them: from the pod manager. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/ctr_int.h"
#include "pod/pod.h"

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

static char *file_in(const char *dir, const char *name)
{
	return dir ? xasprintf("%s/%s", dir, name) : NULL;
}

void ctr_pod_done(struct ctr_pod *p)
{
	free(p->netns);
	free(p->ipcns);
	free(p->utsns);
	free(p->pidns);
	free(p->hostname_file);
	free(p->hosts);
	free(p->resolv_conf);
	free(p->shm);
	free(p->cgroup_parent);
	free(p->hostname);
	free(p->userns);
	memset(p, 0, sizeof(*p));
}

int ctr_pod_find(struct ctr_mgr *m, const char *pod_id, struct ctr_pod *ret, struct err *err)
{
	cleanup(pod_info_free) struct pod_info *p = NULL;
	int r = pod_get(m->pods, pod_id, &p, err);
	if (r == -ENOENT)
		return err_msg(err, -ENOENT, "pod sandbox %s not found", pod_id);
	if (r < 0)
		return r;
	if (p->state != POD_READY)
		return err_msg(err, -EINVAL, "pod sandbox %s is not ready", p->id);
	memcpy(ret->id, p->id, sizeof(ret->id));
	ret->netns = dup_or_null(p->netns_path);
	ret->ipcns = dup_or_null(p->ipcns_path);
	ret->utsns = dup_or_null(p->utsns_path);
	ret->pidns = dup_or_null(p->pidns_path);
	ret->shm = dup_or_null(p->shm_path);
	ret->hostname_file = file_in(p->dir, "hostname");
	ret->hosts = file_in(p->dir, "hosts");
	ret->resolv_conf = file_in(p->dir, "resolv.conf");
	ret->cgroup_parent = dup_or_null(p->cgroup_parent);
	ret->hostname = dup_or_null(p->hostname);
	if (p->userns_path && pod_config_userns(&p->cfg)) {
		ret->userns = xstrdup(p->userns_path);
		ret->uid_map = p->cfg.uid_maps[0];
		ret->gid_map = p->cfg.gid_maps[0];
	}
	return 0;
}
