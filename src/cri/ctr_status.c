/* ctr -> CRI: Container (list), ContainerStatus, and the stored config
 * with updated resources. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri/ctr_conv.h"

/* Every CRI map entry type is {base, key, value}: one builder per type. */
#define KV_ENTRIES(type, init, kv, n)                      \
	({                                                 \
		type **v_ = xcalloc((n) + 1, sizeof(*v_)); \
		for (size_t i_ = 0; i_ < (n); i_++) {      \
			v_[i_] = xmalloc(sizeof(type));    \
			*v_[i_] = (type)init;              \
			v_[i_]->key = (kv)[i_].key;        \
			v_[i_]->value = (kv)[i_].value;    \
		}                                          \
		v_;                                        \
	})

static void entries_free(void **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

Runtime__V1__Signal cri_signal_from_number(int sig)
{
	char buf[OCI_SIGNAL_NAME_MAX], name[OCI_SIGNAL_NAME_MAX + 8];
	const char *n = oci_signal_name(sig, buf);
	/* "SIGRTMIN+3" is SIGRTMINPLUS3 in the enum, "SIGRTMAX-2" SIGRTMAXMINUS2. */
	size_t k = strcspn(n, "+-");
	snprintf(name, sizeof(name), "%.*s%s%s", (int)k, n,
		 n[k] == '+'   ? "PLUS"
		 : n[k] == '-' ? "MINUS"
			       : "",
		 n[k] ? n + k + 1 : "");
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value_by_name(&runtime__v1__signal__descriptor, name);
	return v ? (Runtime__V1__Signal)v->value : RUNTIME__V1__SIGNAL__RUNTIME_DEFAULT;
}

void cri_ctr_list_build(struct ctr_info *const *v, size_t n, struct cri_ctr_list *ret)
{
	ret->n = n;
	ret->items = xcalloc(n + 1, sizeof(*ret->items));
	for (size_t k = 0; k < n; k++) {
		const struct ctr_info *i = v[k];
		Runtime__V1__Container *c = xmalloc(sizeof(*c));
		*c = (Runtime__V1__Container)RUNTIME__V1__CONTAINER__INIT;
		c->id = (char *)i->id;
		c->pod_sandbox_id = i->pod_id;
		Runtime__V1__ContainerMetadata *md = xmalloc(sizeof(*md));
		*md = (Runtime__V1__ContainerMetadata)RUNTIME__V1__CONTAINER_METADATA__INIT;
		md->name = i->ctr_name;
		md->attempt = i->attempt;
		c->metadata = md;
		Runtime__V1__ImageSpec *img = xmalloc(sizeof(*img));
		*img = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
		img->image = i->image_ref;
		c->image = img;
		c->image_ref = i->repo_digest ? i->repo_digest : i->image_id;
		c->state = (Runtime__V1__ContainerState)i->state;
		c->created_at = i->created_ns;
		c->labels =
		    KV_ENTRIES(Runtime__V1__Container__LabelsEntry,
			       RUNTIME__V1__CONTAINER__LABELS_ENTRY__INIT, i->labels, i->n_labels);
		c->n_labels = i->n_labels;
		c->annotations = KV_ENTRIES(Runtime__V1__Container__AnnotationsEntry,
					    RUNTIME__V1__CONTAINER__ANNOTATIONS_ENTRY__INIT,
					    i->annotations, i->n_annotations);
		c->n_annotations = i->n_annotations;
		ret->items[k] = c;
	}
}

void cri_ctr_list_done(struct cri_ctr_list *l)
{
	for (size_t k = 0; k < l->n; k++) {
		Runtime__V1__Container *c = l->items[k];
		free(c->metadata);
		free(c->image);
		entries_free((void **)c->labels, c->n_labels);
		entries_free((void **)c->annotations, c->n_annotations);
		free(c);
	}
	free(l->items);
}

void cri_ctr_status_build(const struct ctr_info *i, const char *verbose_json,
			  struct cri_ctr_status *ret)
{
	memset(ret, 0, sizeof(*ret));
	Runtime__V1__ContainerStatus *s = &ret->status;
	*s = (Runtime__V1__ContainerStatus)RUNTIME__V1__CONTAINER_STATUS__INIT;
	ret->md = (Runtime__V1__ContainerMetadata)RUNTIME__V1__CONTAINER_METADATA__INIT;
	ret->md.name = i->ctr_name;
	ret->md.attempt = i->attempt;
	ret->image = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
	ret->image.image = i->image_ref;
	s->id = (char *)i->id;
	s->metadata = &ret->md;
	s->state = (Runtime__V1__ContainerState)i->state;
	s->created_at = i->created_ns;
	s->started_at = i->started_ns;
	s->finished_at = i->finished_ns;
	s->exit_code = i->exit_code;
	s->image = &ret->image;
	/* The repo digest, as containerd and CRI-O report it: kubelet shows
	 * it as the pod's imageID. An image without one: its id. */
	s->image_ref = i->repo_digest ? i->repo_digest : i->image_id;
	s->image_id = i->image_id;
	s->reason = i->reason;
	s->message = i->message;
	s->log_path = i->log_path;
	s->stop_signal = cri_signal_from_number(i->stop_signal);
	s->labels =
	    KV_ENTRIES(Runtime__V1__ContainerStatus__LabelsEntry,
		       RUNTIME__V1__CONTAINER_STATUS__LABELS_ENTRY__INIT, i->labels, i->n_labels);
	s->n_labels = i->n_labels;
	s->annotations = KV_ENTRIES(Runtime__V1__ContainerStatus__AnnotationsEntry,
				    RUNTIME__V1__CONTAINER_STATUS__ANNOTATIONS_ENTRY__INIT,
				    i->annotations, i->n_annotations);
	s->n_annotations = i->n_annotations;
	if (i->cri_config)
		ret->cfg =
		    runtime__v1__container_config__unpack(NULL, i->cri_config_len, i->cri_config);
	if (ret->cfg) {
		s->mounts = ret->cfg->mounts;
		s->n_mounts = ret->cfg->n_mounts;
		if (ret->cfg->linux && ret->cfg->linux->resources) {
			ret->res =
			    (Runtime__V1__ContainerResources)RUNTIME__V1__CONTAINER_RESOURCES__INIT;
			ret->res.linux = ret->cfg->linux->resources;
			s->resources = &ret->res;
		}
	}
	if (i->has_user) {
		ret->user = (Runtime__V1__ContainerUser)RUNTIME__V1__CONTAINER_USER__INIT;
		ret->linux_user =
		    (Runtime__V1__LinuxContainerUser)RUNTIME__V1__LINUX_CONTAINER_USER__INIT;
		ret->linux_user.uid = i->uid;
		ret->linux_user.gid = i->gid;
		ret->linux_user.supplemental_groups = i->groups;
		ret->linux_user.n_supplemental_groups = i->n_groups;
		ret->user.linux = &ret->linux_user;
		s->user = &ret->user;
	}
	if (verbose_json) {
		ret->info = xcalloc(2, sizeof(*ret->info));
		ret->info[0] = xmalloc(sizeof(**ret->info));
		*ret->info[0] = (Runtime__V1__ContainerStatusResponse__InfoEntry)
		    RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT;
		ret->info[0]->key = "info";
		ret->info[0]->value = (char *)verbose_json;
		ret->n_info = 1;
	}
}

void cri_ctr_status_done(struct cri_ctr_status *s)
{
	entries_free((void **)s->status.labels, s->status.n_labels);
	entries_free((void **)s->status.annotations, s->status.n_annotations);
	entries_free((void **)s->info, s->n_info);
	if (s->cfg)
		runtime__v1__container_config__free_unpacked(s->cfg, NULL);
	memset(s, 0, sizeof(*s));
}

void cri_ctr_update_build(const struct ctr_info *i, const Runtime__V1__LinuxContainerResources *r,
			  struct cri_ctr_update *ret)
{
	memset(ret, 0, sizeof(*ret));
	cri_ctr_resources(r, &ret->res, &ret->unified, &ret->hp);
	if (!i->cri_config)
		return;
	Runtime__V1__ContainerConfig *cfg =
	    runtime__v1__container_config__unpack(NULL, i->cri_config_len, i->cri_config);
	if (!cfg)
		return;
	Runtime__V1__LinuxContainerConfig lc = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	Runtime__V1__LinuxContainerConfig *saved = cfg->linux;
	if (saved) {
		lc = *saved;
	}
	lc.resources = (Runtime__V1__LinuxContainerResources *)r;
	cfg->linux = &lc;
	ret->cfg_len = protobuf_c_message_get_packed_size(&cfg->base);
	ret->cfg = xmalloc(ret->cfg_len ? ret->cfg_len : 1);
	protobuf_c_message_pack(&cfg->base, ret->cfg);
	cfg->linux = saved;
	runtime__v1__container_config__free_unpacked(cfg, NULL);
}

void cri_ctr_update_done(struct cri_ctr_update *u)
{
	free(u->unified);
	free(u->hp);
	free(u->cfg);
	memset(u, 0, sizeof(*u));
}
