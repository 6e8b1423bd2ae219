/* Container stats: cgroup readings (with the cpu rate kept per container by
 * the stats handle) and the writable layer's usage (cached). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/ctr_int.h"

/* Walking a writable layer is not free: kubelet asks every few seconds. */
#define FS_USAGE_MAX_AGE_NS (10ull * 1000000000ull)

static void sample(struct ctr_mgr *m, struct ctr_stats *s)
{
	const struct ctr_info *i = s->info;
	if (!m->stats)
		return;
	if (i->state == CTR_RUNNING && *i->cgroups_path) {
		cleanup_free char *path = NULL;
		if (stats_cgroup_path(i->cgroups_path, &path, NULL) == 0)
			s->has_cgroup =
			    stats_cgroup_sample(m->stats, i->id, path, &s->cg, NULL) == 0;
	}
	if (*i->upper_dir)
		s->has_fs = stats_fs_usage_cached(m->stats, i->id, i->upper_dir,
						  FS_USAGE_MAX_AGE_NS, &s->fs, NULL) == 0;
}

int ctr_stats_list(struct ctr_mgr *m, const struct ctr_filter *f, struct ctr_stats **ret,
		   size_t *ret_n, struct err *err)
{
	struct ctr_info **v = NULL;
	size_t n = 0;
	int r = ctr_list(m, f, &v, &n, err);
	if (r < 0)
		return r;
	struct ctr_stats *out = xcalloc(n ? n : 1, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		out[i].info = v[i];
		sample(m, &out[i]);
	}
	free(v);
	*ret = out;
	*ret_n = n;
	return 0;
}

int ctr_stats_get(struct ctr_mgr *m, const char *id, struct ctr_stats *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	int r = ctr_status(m, id, &ret->info, err);
	if (r < 0)
		return r;
	sample(m, ret);
	return 0;
}

const char *ctr_fs_mountpoint(const struct ctr_mgr *m)
{
	return m->containers_dir;
}

int ctr_fs_usage(struct ctr_mgr *m, struct stats_fs_usage *ret, struct err *err)
{
	/* The cache key is no container id (those are 64 hex digits). */
	if (m->stats)
		return stats_fs_usage_cached(m->stats, "containers", m->containers_dir,
					     FS_USAGE_MAX_AGE_NS, ret, err);
	return stats_fs_usage(m->containers_dir, 0, ret, err);
}

void ctr_stats_free(struct ctr_stats *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ctr_info_free(v[i].info);
	free(v);
}

int ctr_pod_stats_get(struct ctr_mgr *m, const char *pod_id, const char *cgroup, const char *netns,
		      struct ctr_pod_stats *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	struct ctr_filter f = { .pod_id = pod_id };
	int r = ctr_stats_list(m, &f, &ret->ctrs, &ret->n_ctrs, err);
	if (r < 0)
		return r;
	/* ctr_list matches pod ids by prefix: keep this pod's only. */
	size_t k = 0;
	for (size_t i = 0; i < ret->n_ctrs; i++) {
		if (strcmp(ret->ctrs[i].info->pod_id, pod_id) == 0)
			ret->ctrs[k++] = ret->ctrs[i];
		else
			ctr_info_free(ret->ctrs[i].info);
	}
	ret->n_ctrs = k;
	char *path = NULL;
	if (m->stats && cgroup && *cgroup && stats_cgroup_path(cgroup, &path, NULL) == 0)
		ret->has_cgroup = stats_cgroup_sample(m->stats, pod_id, path, &ret->cg, NULL) == 0;
	free(path);
	if (netns && *netns)
		ret->has_net = stats_net_read(netns, &ret->net, NULL) == 0;
	return 0;
}

void ctr_pod_stats_done(struct ctr_pod_stats *s)
{
	if (!s)
		return;
	ctr_stats_free(s->ctrs, s->n_ctrs);
	if (s->has_net)
		stats_net_done(&s->net);
	memset(s, 0, sizeof(*s));
}
