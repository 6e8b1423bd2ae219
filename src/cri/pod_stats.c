/* CRI handlers: PodSandboxStats and ListPodSandboxStats (the pod manager
 * names the pods; the container manager reads their usage). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/ctr_conv.h"
#include "pod/pod.h"

struct pod_msg {
	Runtime__V1__PodSandboxStats s;
	Runtime__V1__PodSandboxAttributes attr;
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__LinuxPodSandboxStats lx;
	Runtime__V1__CpuUsage cpu;
	Runtime__V1__MemoryUsage mem;
	Runtime__V1__ProcessUsage proc;
	Runtime__V1__NetworkUsage net;
	Runtime__V1__NetworkInterfaceUsage *ifs;
	Runtime__V1__NetworkInterfaceUsage **ifp;
	Runtime__V1__UInt64Value v[9];
	Runtime__V1__UInt64Value *iv; /* 4 per interface */
	Runtime__V1__PodSandboxAttributes__LabelsEntry *labels;
	Runtime__V1__PodSandboxAttributes__LabelsEntry **labelp;
	Runtime__V1__PodSandboxAttributes__AnnotationsEntry *annos;
	Runtime__V1__PodSandboxAttributes__AnnotationsEntry **annop;
	Runtime__V1__ContainerStats **ctrs;
	size_t n_ctrs;
	struct ctr_pod_stats st; /* the messages point into it */
};

static Runtime__V1__UInt64Value *val(Runtime__V1__UInt64Value *v, uint64_t x)
{
	*v = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
	v->value = x;
	return v;
}

static void fill_attr(struct pod_msg *m, const struct pod_info *p)
{
	const struct pod_config *c = &p->cfg;
	m->attr = (Runtime__V1__PodSandboxAttributes)RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__INIT;
	m->md = (Runtime__V1__PodSandboxMetadata)RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	m->md.name = c->name;
	m->md.uid = c->uid;
	m->md.namespace_ = c->namespace;
	m->md.attempt = c->attempt;
	m->attr.id = (char *)p->id;
	m->attr.metadata = &m->md;
	m->labels = xcalloc(c->n_labels + 1, sizeof(*m->labels));
	m->labelp = xcalloc(c->n_labels + 1, sizeof(*m->labelp));
	for (size_t i = 0; i < c->n_labels; i++) {
		m->labels[i] = (Runtime__V1__PodSandboxAttributes__LabelsEntry)
		    RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__LABELS_ENTRY__INIT;
		m->labels[i].key = c->labels[i].key;
		m->labels[i].value = c->labels[i].value;
		m->labelp[i] = &m->labels[i];
	}
	m->annos = xcalloc(c->n_annotations + 1, sizeof(*m->annos));
	m->annop = xcalloc(c->n_annotations + 1, sizeof(*m->annop));
	for (size_t i = 0; i < c->n_annotations; i++) {
		m->annos[i] = (Runtime__V1__PodSandboxAttributes__AnnotationsEntry)
		    RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__ANNOTATIONS_ENTRY__INIT;
		m->annos[i].key = c->annotations[i].key;
		m->annos[i].value = c->annotations[i].value;
		m->annop[i] = &m->annos[i];
	}
	m->attr.labels = m->labelp;
	m->attr.n_labels = c->n_labels;
	m->attr.annotations = m->annop;
	m->attr.n_annotations = c->n_annotations;
}

static void fill_cgroup(struct pod_msg *m, const struct stats_cgroup *cg)
{
	if (cg->has_cpu) {
		m->cpu = (Runtime__V1__CpuUsage)RUNTIME__V1__CPU_USAGE__INIT;
		m->cpu.timestamp = (int64_t)cg->timestamp_ns;
		m->cpu.usage_core_nano_seconds = val(&m->v[0], cg->cpu.usage_ns);
		if (cg->cpu.has_nano_cores)
			m->cpu.usage_nano_cores = val(&m->v[1], cg->cpu.usage_nano_cores);
		m->lx.cpu = &m->cpu;
	}
	if (cg->has_memory) {
		m->mem = (Runtime__V1__MemoryUsage)RUNTIME__V1__MEMORY_USAGE__INIT;
		m->mem.timestamp = (int64_t)cg->timestamp_ns;
		m->mem.working_set_bytes = val(&m->v[2], cg->memory.working_set_bytes);
		m->mem.available_bytes = val(&m->v[3], cg->memory.available_bytes);
		m->mem.usage_bytes = val(&m->v[4], cg->memory.usage_bytes);
		m->mem.rss_bytes = val(&m->v[5], cg->memory.rss_bytes);
		m->mem.page_faults = val(&m->v[6], cg->memory.page_faults);
		m->mem.major_page_faults = val(&m->v[7], cg->memory.major_page_faults);
		m->lx.memory = &m->mem;
	}
	if (cg->has_pids) {
		m->proc = (Runtime__V1__ProcessUsage)RUNTIME__V1__PROCESS_USAGE__INIT;
		m->proc.timestamp = (int64_t)cg->timestamp_ns;
		m->proc.process_count = val(&m->v[8], cg->pids.current);
		m->lx.process = &m->proc;
	}
}

static void fill_net(struct pod_msg *m, const struct stats_net *n)
{
	m->net = (Runtime__V1__NetworkUsage)RUNTIME__V1__NETWORK_USAGE__INIT;
	m->net.timestamp = (int64_t)n->timestamp_ns;
	m->ifs = xcalloc(n->n_ifaces + 1, sizeof(*m->ifs));
	m->ifp = xcalloc(n->n_ifaces + 1, sizeof(*m->ifp));
	m->iv = xcalloc(4 * n->n_ifaces + 1, sizeof(*m->iv));
	for (size_t i = 0; i < n->n_ifaces; i++) {
		const struct stats_net_iface *f = &n->ifaces[i];
		Runtime__V1__NetworkInterfaceUsage *u = &m->ifs[i];
		*u = (Runtime__V1__NetworkInterfaceUsage)RUNTIME__V1__NETWORK_INTERFACE_USAGE__INIT;
		u->name = (char *)f->name;
		u->rx_bytes = val(&m->iv[4 * i], f->rx_bytes);
		u->rx_errors = val(&m->iv[4 * i + 1], f->rx_errors);
		u->tx_bytes = val(&m->iv[4 * i + 2], f->tx_bytes);
		u->tx_errors = val(&m->iv[4 * i + 3], f->tx_errors);
		m->ifp[i] = u;
		if (!m->net.default_interface || strcmp(f->name, "eth0") == 0)
			m->net.default_interface = u;
	}
	m->net.interfaces = m->ifp;
	m->net.n_interfaces = n->n_ifaces;
	m->lx.network = &m->net;
}

static struct pod_msg *build(const struct pod_info *p, struct pod_msg *m, const char *mountpoint)
{
	const struct ctr_pod_stats *st = &m->st;
	m->s = (Runtime__V1__PodSandboxStats)RUNTIME__V1__POD_SANDBOX_STATS__INIT;
	m->lx = (Runtime__V1__LinuxPodSandboxStats)RUNTIME__V1__LINUX_POD_SANDBOX_STATS__INIT;
	fill_attr(m, p);
	m->s.attributes = &m->attr;
	m->s.linux = &m->lx;
	if (st->has_cgroup)
		fill_cgroup(m, &st->cg);
	if (st->has_net)
		fill_net(m, &st->net);
	m->ctrs = xcalloc(st->n_ctrs + 1, sizeof(*m->ctrs));
	for (size_t i = 0; i < st->n_ctrs; i++)
		m->ctrs[i] = cri_ctr_stats_msg_new(&st->ctrs[i], mountpoint);
	m->n_ctrs = st->n_ctrs;
	m->lx.containers = m->ctrs;
	m->lx.n_containers = st->n_ctrs;
	return m;
}

static void pod_msg_free(struct pod_msg *m)
{
	for (size_t i = 0; i < m->n_ctrs; i++)
		cri_ctr_stats_msg_free(m->ctrs[i]);
	free(m->ctrs);
	free(m->ifs);
	free(m->ifp);
	free(m->iv);
	free(m->labels);
	free(m->labelp);
	free(m->annos);
	free(m->annop);
	ctr_pod_stats_done(&m->st);
	free(m);
}

/* Stats of `p` as a message (the pod's stats are read here). */
static struct pod_msg *pod_stats(struct ctr_mgr *mg, const struct pod_info *p, struct err *err)
{
	struct pod_msg *m = xzalloc(sizeof(*m));
	if (ctr_pod_stats_get(mg, p->id, p->cgroup_parent, p->netns_path, &m->st, err) < 0) {
		free(m);
		return NULL;
	}
	return build(p, m, ctr_fs_mountpoint(mg));
}

int cri_pod_stats(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__PodSandboxStatsRequest *req =
	    (const Runtime__V1__PodSandboxStatsRequest *)reqm;
	if (!ctx->deps->ctrs || !ctx->deps->pods)
		return err_msg(err, -ENOSYS, "the pod and container managers are not running");
	cleanup(pod_info_free) struct pod_info *p = NULL;
	int r = pod_get(ctx->deps->pods, req->pod_sandbox_id, &p, err);
	if (r < 0)
		return r;
	struct pod_msg *m = pod_stats(ctx->deps->ctrs, p, err);
	if (!m)
		return err->code < 0 ? err->code : -EIO;
	Runtime__V1__PodSandboxStatsResponse resp = RUNTIME__V1__POD_SANDBOX_STATS_RESPONSE__INIT;
	resp.stats = &m->s;
	cri_reply(ctx, &resp.base);
	pod_msg_free(m);
	return 0;
}

int cri_pod_list_stats(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ListPodSandboxStatsRequest *req =
	    (const Runtime__V1__ListPodSandboxStatsRequest *)reqm;
	if (!ctx->deps->ctrs || !ctx->deps->pods)
		return err_msg(err, -ENOSYS, "the pod and container managers are not running");
	struct pod_filter f = { .state = -1 };
	struct oci_kv *labels = NULL;
	if (req->filter) {
		f.id = req->filter->id;
		labels = cri_kv_borrow(req->filter->n_label_selector,
				       (void *const *)req->filter->label_selector);
		f.labels = labels;
		f.n_labels = req->filter->n_label_selector;
	}
	struct pod_info **pods = NULL;
	size_t n = 0;
	int r = pod_list(ctx->deps->pods, &f, &pods, &n, err);
	free(labels);
	if (r < 0)
		return r;
	struct pod_msg **msgs = xcalloc(n + 1, sizeof(*msgs));
	Runtime__V1__PodSandboxStats **items = xcalloc(n + 1, sizeof(*items));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		msgs[k] = pod_stats(ctx->deps->ctrs, pods[i], NULL);
		if (msgs[k]) {
			items[k] = &msgs[k]->s;
			k++;
		}
	}
	Runtime__V1__ListPodSandboxStatsResponse resp =
	    RUNTIME__V1__LIST_POD_SANDBOX_STATS_RESPONSE__INIT;
	resp.stats = items;
	resp.n_stats = k;
	cri_reply(ctx, &resp.base);
	for (size_t i = 0; i < k; i++)
		pod_msg_free(msgs[i]);
	free(msgs);
	free(items);
	pod_info_list_free(pods, n);
	return 0;
}
