/* CRI handlers: ContainerStats and ListContainerStats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/ctr_conv.h"

/* One ContainerStats and everything it points to, in one allocation. */
struct stats_msg {
	Runtime__V1__ContainerStats s;
	Runtime__V1__ContainerAttributes attr;
	Runtime__V1__ContainerMetadata md;
	Runtime__V1__CpuUsage cpu;
	Runtime__V1__MemoryUsage mem;
	Runtime__V1__FilesystemUsage fs;
	Runtime__V1__FilesystemIdentifier fs_id;
	Runtime__V1__UInt64Value v[9];
	Runtime__V1__ContainerAttributes__LabelsEntry **labels;
	Runtime__V1__ContainerAttributes__AnnotationsEntry **annotations;
	size_t n_labels, n_annotations;
};

static Runtime__V1__UInt64Value *u64(struct stats_msg *m, size_t i, uint64_t v)
{
	m->v[i] = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
	m->v[i].value = v;
	return &m->v[i];
}

static void fill_attr(struct stats_msg *m, const struct ctr_info *i)
{
	m->attr = (Runtime__V1__ContainerAttributes)RUNTIME__V1__CONTAINER_ATTRIBUTES__INIT;
	m->md = (Runtime__V1__ContainerMetadata)RUNTIME__V1__CONTAINER_METADATA__INIT;
	m->md.name = i->ctr_name;
	m->md.attempt = i->attempt;
	m->attr.id = (char *)i->id;
	m->attr.metadata = &m->md;
	m->labels = xcalloc(i->n_labels + 1, sizeof(*m->labels));
	for (size_t k = 0; k < i->n_labels; k++) {
		m->labels[k] = xmalloc(sizeof(**m->labels));
		*m->labels[k] = (Runtime__V1__ContainerAttributes__LabelsEntry)
		    RUNTIME__V1__CONTAINER_ATTRIBUTES__LABELS_ENTRY__INIT;
		m->labels[k]->key = i->labels[k].key;
		m->labels[k]->value = i->labels[k].value;
	}
	m->annotations = xcalloc(i->n_annotations + 1, sizeof(*m->annotations));
	for (size_t k = 0; k < i->n_annotations; k++) {
		m->annotations[k] = xmalloc(sizeof(**m->annotations));
		*m->annotations[k] = (Runtime__V1__ContainerAttributes__AnnotationsEntry)
		    RUNTIME__V1__CONTAINER_ATTRIBUTES__ANNOTATIONS_ENTRY__INIT;
		m->annotations[k]->key = i->annotations[k].key;
		m->annotations[k]->value = i->annotations[k].value;
	}
	m->attr.labels = m->labels;
	m->attr.n_labels = m->n_labels = i->n_labels;
	m->attr.annotations = m->annotations;
	m->attr.n_annotations = m->n_annotations = i->n_annotations;
}

static void fill_cgroup(struct stats_msg *m, const struct stats_cgroup *cg)
{
	if (cg->has_cpu) {
		m->cpu = (Runtime__V1__CpuUsage)RUNTIME__V1__CPU_USAGE__INIT;
		m->cpu.timestamp = (int64_t)cg->timestamp_ns;
		m->cpu.usage_core_nano_seconds = u64(m, 0, cg->cpu.usage_ns);
		if (cg->cpu.has_nano_cores)
			m->cpu.usage_nano_cores = u64(m, 1, cg->cpu.usage_nano_cores);
		m->s.cpu = &m->cpu;
	}
	if (cg->has_memory) {
		const struct stats_memory *mm = &cg->memory;
		m->mem = (Runtime__V1__MemoryUsage)RUNTIME__V1__MEMORY_USAGE__INIT;
		m->mem.timestamp = (int64_t)cg->timestamp_ns;
		m->mem.working_set_bytes = u64(m, 2, mm->working_set_bytes);
		m->mem.available_bytes = u64(m, 3, mm->available_bytes);
		m->mem.usage_bytes = u64(m, 4, mm->usage_bytes);
		m->mem.rss_bytes = u64(m, 5, mm->rss_bytes);
		m->mem.page_faults = u64(m, 6, mm->page_faults);
		m->mem.major_page_faults = u64(m, 7, mm->major_page_faults);
		m->s.memory = &m->mem;
	}
}

static struct stats_msg *build(const struct ctr_stats *st, const char *mountpoint)

{
	struct stats_msg *m = xzalloc(sizeof(*m));
	m->s = (Runtime__V1__ContainerStats)RUNTIME__V1__CONTAINER_STATS__INIT;
	fill_attr(m, st->info);
	m->s.attributes = &m->attr;
	if (st->has_cgroup)
		fill_cgroup(m, &st->cg);
	if (st->has_fs) {
		m->fs = (Runtime__V1__FilesystemUsage)RUNTIME__V1__FILESYSTEM_USAGE__INIT;
		m->fs_id =
		    (Runtime__V1__FilesystemIdentifier)RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT;
		m->fs_id.mountpoint = (char *)mountpoint;
		m->fs.timestamp = (int64_t)st->fs.timestamp_ns;
		m->fs.fs_id = &m->fs_id;
		m->fs.used_bytes = u64(m, 8, st->fs.bytes);
		m->fs.inodes_used = (Runtime__V1__UInt64Value *)xzalloc(sizeof(*m->fs.inodes_used));
		*m->fs.inodes_used = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
		m->fs.inodes_used->value = st->fs.inodes;
		m->s.writable_layer = &m->fs;
	}
	return m;
}

Runtime__V1__ContainerStats *cri_ctr_stats_msg_new(const struct ctr_stats *st,
						   const char *mountpoint)
{
	return &build(st, mountpoint)->s;
}

static void msg_free(struct stats_msg *m);

void cri_ctr_stats_msg_free(Runtime__V1__ContainerStats *s)
{
	/* s is the first member of its stats_msg. */
	if (s)
		msg_free((struct stats_msg *)s);
}

static void msg_free(struct stats_msg *m)
{
	for (size_t k = 0; k < m->n_labels; k++)
		free(m->labels[k]);
	for (size_t k = 0; k < m->n_annotations; k++)
		free(m->annotations[k]);
	free(m->labels);
	free(m->annotations);
	if (m->s.writable_layer)
		free(m->fs.inodes_used);
	free(m);
}

int cri_ctr_stats(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ContainerStatsRequest *req =
	    (const Runtime__V1__ContainerStatsRequest *)reqm;
	struct ctr_mgr *mg = ctx->deps->ctrs;
	if (!mg)
		return err_msg(err, -ENOSYS, "the container manager is not running");
	struct ctr_stats st;
	int r = ctr_stats_get(mg, req->container_id, &st, err);
	if (r < 0)
		return r;
	struct stats_msg *m = build(&st, ctr_fs_mountpoint(mg));
	Runtime__V1__ContainerStatsResponse resp = RUNTIME__V1__CONTAINER_STATS_RESPONSE__INIT;
	resp.stats = &m->s;
	cri_reply(ctx, &resp.base);
	msg_free(m);
	ctr_info_free(st.info);
	return 0;
}

int cri_ctr_list_stats(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ListContainerStatsRequest *req =
	    (const Runtime__V1__ListContainerStatsRequest *)reqm;
	struct ctr_mgr *mg = ctx->deps->ctrs;
	if (!mg)
		return err_msg(err, -ENOSYS, "the container manager is not running");
	struct ctr_filter f = { 0 };
	struct oci_kv *labels = NULL;
	const Runtime__V1__ContainerStatsFilter *rf = req->filter;
	if (rf) {
		f.id = rf->id;
		f.pod_id = rf->pod_sandbox_id;
		labels = cri_kv_borrow(rf->n_label_selector, (void *const *)rf->label_selector);
		f.labels = labels;
		f.n_labels = rf->n_label_selector;
	}
	struct ctr_stats *v = NULL;
	size_t n = 0;
	int r = ctr_stats_list(mg, &f, &v, &n, err);
	free(labels);
	if (r < 0)
		return r;
	struct stats_msg **msgs = xcalloc(n + 1, sizeof(*msgs));
	Runtime__V1__ContainerStats **items = xcalloc(n + 1, sizeof(*items));
	for (size_t i = 0; i < n; i++) {
		msgs[i] = build(&v[i], ctr_fs_mountpoint(mg));
		items[i] = &msgs[i]->s;
	}
	Runtime__V1__ListContainerStatsResponse resp =
	    RUNTIME__V1__LIST_CONTAINER_STATS_RESPONSE__INIT;
	resp.stats = items;
	resp.n_stats = n;
	cri_reply(ctx, &resp.base);
	for (size_t i = 0; i < n; i++)
		msg_free(msgs[i]);
	free(msgs);
	free(items);
	ctr_stats_free(v, n);
	return 0;
}
