/* CRI <-> pod/ conversions for the pod sandbox handlers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/pod_conv.h"

/* Every protobuf-c map entry has the same layout: base, key, value. */
struct map_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};

static struct pod_kv *kv_borrow(size_t n, void *const *entries)
{
	if (!n)
		return NULL;
	struct pod_kv *v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const struct map_entry *e = entries[i];
		v[i].key = e->key;
		v[i].value = e->value;
	}
	return v;
}

static char **strv_borrow(size_t n, char **v)
{
	/* protobuf-c repeated strings are not NULL-terminated. */
	char **out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = v[i];
	return out;
}

static struct oci_idmap *idmaps_of(Runtime__V1__IDMapping *const *v, size_t n)
{
	struct oci_idmap *out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = (struct oci_idmap){ v[i]->container_id, v[i]->host_id, v[i]->length };
	return out;
}

/* userns_options as given; pod_run checks the mode and the mappings. */
static void conv_userns(const Runtime__V1__UserNamespace *u, struct pod_config *pc)
{
	if (!u)
		return;
	pc->has_userns = true;
	pc->ns_user = (enum pod_ns_mode)u->mode;
	pc->uid_maps = idmaps_of(u->uids, u->n_uids);
	pc->n_uid_maps = u->n_uids;
	pc->gid_maps = idmaps_of(u->gids, u->n_gids);
	pc->n_gid_maps = u->n_gids;
}

int cri_pod_conv_config(const Runtime__V1__PodSandboxConfig *c, const char *handler,
			struct cri_pod_conv *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	struct pod_config *pc = &ret->cfg;
	if (!c || !c->metadata)
		return err_msg(err, -EINVAL, "pod sandbox config and its metadata are required");
	pc->name = c->metadata->name;
	pc->namespace = c->metadata->namespace_;
	pc->uid = c->metadata->uid;
	pc->attempt = c->metadata->attempt;
	pc->hostname = c->hostname;
	pc->log_directory = c->log_directory;
	pc->runtime_handler = (char *)handler;
	if (c->dns_config) {
		pc->has_dns = true;
		pc->dns.servers = strv_borrow(c->dns_config->n_servers, c->dns_config->servers);
		pc->dns.searches = strv_borrow(c->dns_config->n_searches, c->dns_config->searches);
		pc->dns.options = strv_borrow(c->dns_config->n_options, c->dns_config->options);
	}
	if (c->n_port_mappings)
		pc->ports = xcalloc(c->n_port_mappings, sizeof(*pc->ports));
	for (size_t i = 0; i < c->n_port_mappings; i++) {
		const Runtime__V1__PortMapping *p = c->port_mappings[i];
		pc->ports[i] = (struct pod_port){ (enum pod_proto)p->protocol, p->container_port,
						  p->host_port, p->host_ip };
	}
	pc->n_ports = c->n_port_mappings;
	pc->labels = kv_borrow(c->n_labels, (void *const *)c->labels);
	pc->n_labels = c->n_labels;
	pc->annotations = kv_borrow(c->n_annotations, (void *const *)c->annotations);
	pc->n_annotations = c->n_annotations;
	pc->ns_pid = POD_NS_CONTAINER;
	const Runtime__V1__LinuxPodSandboxConfig *l = c->linux;
	if (l) {
		pc->cgroup_parent = l->cgroup_parent;
		pc->sysctls = kv_borrow(l->n_sysctls, (void *const *)l->sysctls);
		pc->n_sysctls = l->n_sysctls;
		const Runtime__V1__LinuxSandboxSecurityContext *sc = l->security_context;
		if (sc) {
			pc->privileged = sc->privileged;
			if (sc->namespace_options) {
				pc->ns_network = (enum pod_ns_mode)sc->namespace_options->network;
				pc->ns_pid = (enum pod_ns_mode)sc->namespace_options->pid;
				pc->ns_ipc = (enum pod_ns_mode)sc->namespace_options->ipc;
				conv_userns(sc->namespace_options->userns_options, pc);
			}
		}
	}
	return 0;
}

void cri_pod_conv_done(struct cri_pod_conv *c)
{
	struct pod_config *pc = &c->cfg;
	free(pc->dns.servers);
	free(pc->dns.searches);
	free(pc->dns.options);
	free(pc->ports);
	free(pc->labels);
	free(pc->annotations);
	free(pc->sysctls);
	free(pc->uid_maps);
	free(pc->gid_maps);
	memset(c, 0, sizeof(*c));
}

/* Map entries pointing into `kv`; entries and pointers in one block. */
static void **entries_new(const struct pod_kv *kv, size_t n, const ProtobufCMessageDescriptor *desc)
{
	if (!n)
		return NULL;
	void **ptrs = xcalloc(n, sizeof(*ptrs) + sizeof(struct map_entry));
	struct map_entry *e = (struct map_entry *)(ptrs + n);
	for (size_t i = 0; i < n; i++) {
		protobuf_c_message_init(desc, &e[i]);
		e[i].key = kv[i].key;
		e[i].value = kv[i].value;
		ptrs[i] = &e[i];
	}
	return ptrs;
}

void cri_pod_conv_metadata(const struct pod_info *i, Runtime__V1__PodSandboxMetadata *md)
{
	runtime__v1__pod_sandbox_metadata__init(md);
	md->name = i->cfg.name;
	md->namespace_ = i->cfg.namespace;
	md->uid = i->cfg.uid;
	md->attempt = i->cfg.attempt;
}

void cri_pod_conv_item(const struct pod_info *i, struct cri_pod_item *it)
{
	runtime__v1__pod_sandbox__init(&it->pod);
	cri_pod_conv_metadata(i, &it->md);
	it->pod.id = (char *)i->id;
	it->pod.metadata = &it->md;
	it->pod.state = i->state == POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
					      : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
	it->pod.created_at = i->created_ns;
	it->pod.n_labels = i->cfg.n_labels;
	it->pod.labels = (Runtime__V1__PodSandbox__LabelsEntry **)entries_new(
	    i->cfg.labels, i->cfg.n_labels, &runtime__v1__pod_sandbox__labels_entry__descriptor);
	it->pod.n_annotations = i->cfg.n_annotations;
	it->pod.annotations = (Runtime__V1__PodSandbox__AnnotationsEntry **)entries_new(
	    i->cfg.annotations, i->cfg.n_annotations,
	    &runtime__v1__pod_sandbox__annotations_entry__descriptor);
	it->pod.runtime_handler = i->cfg.runtime_handler ? i->cfg.runtime_handler : "";
}

void cri_pod_item_done(struct cri_pod_item *it)
{
	free(it->pod.labels);
	free(it->pod.annotations);
}

void cri_pod_conv_status(const struct pod_info *i, struct cri_pod_status *s)
{
	memset(s, 0, sizeof(*s));
	runtime__v1__pod_sandbox_status__init(&s->st);
	runtime__v1__pod_sandbox_network_status__init(&s->net);
	runtime__v1__linux_pod_sandbox_status__init(&s->lx);
	runtime__v1__namespace__init(&s->ns);
	runtime__v1__namespace_option__init(&s->nsopt);
	cri_pod_conv_metadata(i, &s->md);
	s->st.id = (char *)i->id;
	s->st.metadata = &s->md;
	s->st.state = i->state == POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
					    : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
	s->st.created_at = i->created_ns;
	size_t nips = strv_len(i->ips);
	s->net.ip = nips ? i->ips[0] : "";
	if (nips > 1) {
		s->extra = xcalloc(nips - 1, sizeof(*s->extra) + sizeof(*s->extra_ptrs));
		s->extra_ptrs = (Runtime__V1__PodIP **)(s->extra + nips - 1);
		for (size_t k = 1; k < nips; k++) {
			runtime__v1__pod_ip__init(&s->extra[k - 1]);
			s->extra[k - 1].ip = i->ips[k];
			s->extra_ptrs[k - 1] = &s->extra[k - 1];
		}
		s->net.n_additional_ips = nips - 1;
		s->net.additional_ips = s->extra_ptrs;
	}
	s->st.network = &s->net;
	s->nsopt.network = (Runtime__V1__NamespaceMode)i->cfg.ns_network;
	s->nsopt.pid = (Runtime__V1__NamespaceMode)i->cfg.ns_pid;
	s->nsopt.ipc = (Runtime__V1__NamespaceMode)i->cfg.ns_ipc;
	s->ns.options = &s->nsopt;
	s->lx.namespaces = &s->ns;
	s->st.linux = &s->lx;
	s->st.n_labels = i->cfg.n_labels;
	s->st.labels = (Runtime__V1__PodSandboxStatus__LabelsEntry **)entries_new(
	    i->cfg.labels, i->cfg.n_labels,
	    &runtime__v1__pod_sandbox_status__labels_entry__descriptor);
	s->st.n_annotations = i->cfg.n_annotations;
	s->st.annotations = (Runtime__V1__PodSandboxStatus__AnnotationsEntry **)entries_new(
	    i->cfg.annotations, i->cfg.n_annotations,
	    &runtime__v1__pod_sandbox_status__annotations_entry__descriptor);
	s->st.runtime_handler = i->cfg.runtime_handler ? i->cfg.runtime_handler : "";
}

void cri_pod_status_done(struct cri_pod_status *s)
{
	free(s->extra);
	free(s->st.labels);
	free(s->st.annotations);
}

void cri_pod_conv_resources(const Runtime__V1__LinuxContainerResources *r,
			    struct pod_resources *ret)
{
	*ret = (struct pod_resources){ .cpu_period = r->cpu_period,
				       .cpu_quota = r->cpu_quota,
				       .cpu_shares = r->cpu_shares,
				       .memory_limit_in_bytes = r->memory_limit_in_bytes };
}
