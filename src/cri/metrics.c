/* CRI handlers: ListMetricDescriptors and ListPodSandboxMetrics, cAdvisor
 * style names over the same readings as the stats RPCs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/ctr_conv.h"
#include "pod/pod.h"

enum {
	M_CPU,
	M_MEM_USAGE,
	M_MEM_WS,
	M_MEM_RSS,
	M_RX,
	M_TX,
	M_COUNT,
};

static const struct {
	const char *name, *help;
	Runtime__V1__MetricType type;
	bool net;
} descs[M_COUNT] = {
	[M_CPU] = { "container_cpu_usage_seconds_total",
		    "Cumulative cpu time consumed in nanoseconds",
		    RUNTIME__V1__METRIC_TYPE__COUNTER, false },
	[M_MEM_USAGE] = { "container_memory_usage_bytes", "Current memory usage in bytes",
			  RUNTIME__V1__METRIC_TYPE__GAUGE, false },
	[M_MEM_WS] = { "container_memory_working_set_bytes", "Current working set in bytes",
		       RUNTIME__V1__METRIC_TYPE__GAUGE, false },
	[M_MEM_RSS] = { "container_memory_rss", "Size of RSS in bytes",
			RUNTIME__V1__METRIC_TYPE__GAUGE, false },
	[M_RX] = { "container_network_receive_bytes_total", "Cumulative count of bytes received",
		   RUNTIME__V1__METRIC_TYPE__COUNTER, true },
	[M_TX] = { "container_network_transmit_bytes_total",
		   "Cumulative count of bytes transmitted", RUNTIME__V1__METRIC_TYPE__COUNTER,
		   true },
};

static char *const ctr_keys[] = { "container", "id" };
static char *const net_keys[] = { "interface" };

int cri_metric_descriptors(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	Runtime__V1__MetricDescriptor d[M_COUNT];
	Runtime__V1__MetricDescriptor *dp[M_COUNT];
	for (size_t i = 0; i < M_COUNT; i++) {
		d[i] = (Runtime__V1__MetricDescriptor)RUNTIME__V1__METRIC_DESCRIPTOR__INIT;
		d[i].name = (char *)descs[i].name;
		d[i].help = (char *)descs[i].help;
		d[i].label_keys = descs[i].net ? (char **)net_keys : (char **)ctr_keys;
		d[i].n_label_keys = descs[i].net ? ARRAY_SIZE(net_keys) : ARRAY_SIZE(ctr_keys);
		dp[i] = &d[i];
	}
	Runtime__V1__ListMetricDescriptorsResponse resp =
	    RUNTIME__V1__LIST_METRIC_DESCRIPTORS_RESPONSE__INIT;
	resp.descriptors = dp;
	resp.n_descriptors = M_COUNT;
	cri_reply(ctx, &resp.base);
	return 0;
}

/* Every allocation of one response, freed together. */
struct arena {
	void **p;
	size_t n;
};

static void *alloc(struct arena *a, size_t size)
{
	a->p = xrealloc(a->p, (a->n + 1) * sizeof(*a->p));
	return a->p[a->n++] = xzalloc(size);
}

static void arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
}

static Runtime__V1__Metric *metric(struct arena *a, int which, uint64_t ts, uint64_t v, char *l0,
				   char *l1)
{
	Runtime__V1__Metric *m = alloc(a, sizeof(*m));
	*m = (Runtime__V1__Metric)RUNTIME__V1__METRIC__INIT;
	m->name = (char *)descs[which].name;
	m->timestamp = (int64_t)ts;
	m->metric_type = descs[which].type;
	m->label_values = alloc(a, 2 * sizeof(char *));
	m->label_values[m->n_label_values++] = l0;
	if (l1)
		m->label_values[m->n_label_values++] = l1;
	m->value = alloc(a, sizeof(*m->value));
	*m->value = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
	m->value->value = v;
	return m;
}

static Runtime__V1__ContainerMetrics *ctr_metrics(struct arena *a, const struct ctr_stats *s)
{
	Runtime__V1__ContainerMetrics *cm = alloc(a, sizeof(*cm));
	*cm = (Runtime__V1__ContainerMetrics)RUNTIME__V1__CONTAINER_METRICS__INIT;
	cm->container_id = (char *)s->info->id;
	cm->metrics = alloc(a, 4 * sizeof(*cm->metrics));
	const struct stats_cgroup *cg = &s->cg;
	char *name = s->info->ctr_name, *id = (char *)s->info->id;
	if (s->has_cgroup && cg->has_cpu)
		cm->metrics[cm->n_metrics++] =
		    metric(a, M_CPU, cg->timestamp_ns, cg->cpu.usage_ns, name, id);
	if (s->has_cgroup && cg->has_memory) {
		const struct stats_memory *m = &cg->memory;
		cm->metrics[cm->n_metrics++] =
		    metric(a, M_MEM_USAGE, cg->timestamp_ns, m->usage_bytes, name, id);
		cm->metrics[cm->n_metrics++] =
		    metric(a, M_MEM_WS, cg->timestamp_ns, m->working_set_bytes, name, id);
		cm->metrics[cm->n_metrics++] =
		    metric(a, M_MEM_RSS, cg->timestamp_ns, m->rss_bytes, name, id);
	}
	return cm;
}

static Runtime__V1__PodSandboxMetrics *pod_metrics(struct arena *a, const struct pod_info *p,
						   const struct ctr_pod_stats *st)
{
	Runtime__V1__PodSandboxMetrics *pm = alloc(a, sizeof(*pm));
	*pm = (Runtime__V1__PodSandboxMetrics)RUNTIME__V1__POD_SANDBOX_METRICS__INIT;
	pm->pod_sandbox_id = (char *)p->id;
	size_t nif = st->has_net ? st->net.n_ifaces : 0;
	pm->metrics = alloc(a, (2 * nif + 1) * sizeof(*pm->metrics));
	for (size_t i = 0; i < nif; i++) {
		const struct stats_net_iface *f = &st->net.ifaces[i];
		pm->metrics[pm->n_metrics++] =
		    metric(a, M_RX, st->net.timestamp_ns, f->rx_bytes, (char *)f->name, NULL);
		pm->metrics[pm->n_metrics++] =
		    metric(a, M_TX, st->net.timestamp_ns, f->tx_bytes, (char *)f->name, NULL);
	}
	pm->container_metrics = alloc(a, (st->n_ctrs + 1) * sizeof(*pm->container_metrics));
	for (size_t i = 0; i < st->n_ctrs; i++)
		pm->container_metrics[pm->n_container_metrics++] = ctr_metrics(a, &st->ctrs[i]);
	return pm;
}

int cri_pod_metrics(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	if (!ctx->deps->ctrs || !ctx->deps->pods)
		return err_msg(err, -ENOSYS, "the pod and container managers are not running");
	struct pod_filter f = { .state = -1 };
	struct pod_info **pods = NULL;
	size_t n = 0;
	int r = pod_list(ctx->deps->pods, &f, &pods, &n, err);
	if (r < 0)
		return r;
	struct arena a = { 0 };
	struct ctr_pod_stats *st = xcalloc(n + 1, sizeof(*st));
	Runtime__V1__PodSandboxMetrics **items = alloc(&a, (n + 1) * sizeof(*items));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (ctr_pod_stats_get(ctx->deps->ctrs, pods[i]->id, pods[i]->cgroup_parent,
				      pods[i]->netns_path, &st[i], NULL) == 0)
			items[k++] = pod_metrics(&a, pods[i], &st[i]);
	}
	Runtime__V1__ListPodSandboxMetricsResponse resp =
	    RUNTIME__V1__LIST_POD_SANDBOX_METRICS_RESPONSE__INIT;
	resp.pod_metrics = items;
	resp.n_pod_metrics = k;
	cri_reply(ctx, &resp.base);
	arena_free(&a);
	for (size_t i = 0; i < n; i++)
		ctr_pod_stats_done(&st[i]);
	free(st);
	pod_info_list_free(pods, n);
	return 0;
}
