/* CRI <-> ctr conversions for the container handlers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/ctr_conv.h"

#define KV_COPY(dst, src, n)                                                             \
	do {                                                                             \
		(dst) = xcalloc((n) + 1, sizeof(*(dst)));                                \
		for (size_t i_ = 0; i_ < (n); i_++)                                      \
			(dst)[i_] = (struct oci_kv){ (src)[i_]->key, (src)[i_]->value }; \
	} while (0)

static char **strv_of(char **v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = v[i];
	return out;
}

void cri_ctr_resources(const Runtime__V1__LinuxContainerResources *r, struct oci_resources *ret,
		       struct oci_kv **ret_unified, struct oci_hugepage_limit **ret_hp)
{
	memset(ret, 0, sizeof(*ret));
	*ret_unified = NULL;
	*ret_hp = NULL;
	if (!r)
		return;
	ret->cpu_period = r->cpu_period;
	ret->cpu_quota = r->cpu_quota;
	ret->cpu_shares = r->cpu_shares;
	ret->memory_limit_in_bytes = r->memory_limit_in_bytes;
	ret->memory_swap_limit_in_bytes = r->memory_swap_limit_in_bytes;
	ret->oom_score_adj = r->oom_score_adj;
	ret->cpuset_cpus = r->cpuset_cpus;
	ret->cpuset_mems = r->cpuset_mems;
	KV_COPY(*ret_unified, r->unified, r->n_unified);
	ret->unified = *ret_unified;
	ret->n_unified = r->n_unified;
	*ret_hp = xcalloc(r->n_hugepage_limits + 1, sizeof(**ret_hp));
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		(*ret_hp)[i] = (struct oci_hugepage_limit){ r->hugepage_limits[i]->page_size,
							    r->hugepage_limits[i]->limit };
	ret->hugepages = *ret_hp;
	ret->n_hugepages = r->n_hugepage_limits;
}

static void conv_security(const Runtime__V1__LinuxContainerSecurityContext *sc,
			  const Runtime__V1__PodSandboxConfig *pod, struct cri_ctr_conv *c)
{
	struct oci_ctr_config *s = &c->req.spec;
	const Runtime__V1__NamespaceOption *ns = sc ? sc->namespace_options : NULL;
	if (!ns && pod && pod->linux && pod->linux->security_context)
		ns = pod->linux->security_context->namespace_options;
	s->ns.net.mode = ns ? (enum oci_ns_mode)ns->network : OCI_NS_POD;
	s->ns.ipc.mode = ns ? (enum oci_ns_mode)ns->ipc : OCI_NS_POD;
	s->ns.pid.mode = ns ? (enum oci_ns_mode)ns->pid : OCI_NS_CONTAINER;
	s->ns.uts.mode = OCI_NS_POD;
	if (!sc)
		return;
	s->privileged = sc->privileged;
	s->no_new_privs = sc->no_new_privs;
	s->readonly_rootfs = sc->readonly_rootfs;
	s->has_run_as_user = sc->run_as_user != NULL;
	s->run_as_user = sc->run_as_user ? sc->run_as_user->value : 0;
	s->has_run_as_group = sc->run_as_group != NULL;
	s->run_as_group = sc->run_as_group ? sc->run_as_group->value : 0;
	s->run_as_username = sc->run_as_username;
	s->supplemental_groups = sc->supplemental_groups;
	s->n_supplemental_groups = sc->n_supplemental_groups;
	s->groups_policy = (enum oci_groups_policy)sc->supplemental_groups_policy;
	if (sc->capabilities) {
		c->cap_add = strv_of(sc->capabilities->add_capabilities,
				     sc->capabilities->n_add_capabilities);
		c->cap_drop = strv_of(sc->capabilities->drop_capabilities,
				      sc->capabilities->n_drop_capabilities);
		s->cap_add = c->cap_add;
		s->cap_drop = c->cap_drop;
	}
	if (sc->n_masked_paths) {
		c->masked = strv_of(sc->masked_paths, sc->n_masked_paths);
		s->masked_paths = c->masked;
	}
	if (sc->n_readonly_paths) {
		c->ro_paths = strv_of(sc->readonly_paths, sc->n_readonly_paths);
		s->readonly_paths = c->ro_paths;
	}
}

/* The seccomp profile: the `seccomp` field, else the deprecated
 * seccomp_profile_path ("unconfined", "runtime/default", "docker/default",
 * "localhost/<host path>"). Neither set means unconfined, as kubelet's
 * default and the CRI validation suite have it. */
static int conv_seccomp(const Runtime__V1__LinuxContainerSecurityContext *sc,
			struct oci_seccomp *ret, struct err *err)
{
	ret->kind = OCI_SECCOMP_UNCONFINED;
	if (!sc)
		return 0;
	if (sc->seccomp) {
		ret->kind = (enum oci_seccomp_kind)sc->seccomp->profile_type;
		ret->localhost_path = sc->seccomp->localhost_ref;
		return 0;
	}
	/* Still sent by older clients (critest 1.26 among them). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	const char *p = sc->seccomp_profile_path;
#pragma GCC diagnostic pop
	if (!p || !*p || strcmp(p, "unconfined") == 0)
		return 0;
	if (strcmp(p, "runtime/default") == 0 || strcmp(p, "docker/default") == 0) {
		ret->kind = OCI_SECCOMP_RUNTIME_DEFAULT;
		return 0;
	}
	if (str_has_prefix(p, "localhost/")) {
		ret->kind = OCI_SECCOMP_LOCALHOST;
		ret->localhost_path = p + strlen("localhost/");
		return 0;
	}
	return err_msg(err, -EINVAL,
		       "seccomp profile path '%s' must be unconfined, runtime/default, "
		       "docker/default or localhost/<absolute path>",
		       p);
}

static void idmaps_of(Runtime__V1__IDMapping **v, size_t n, struct oci_idmap *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (struct oci_idmap){ v[i]->container_id, v[i]->host_id, v[i]->length };
}

/* Image volumes and idmapped mounts: what ctr prepares before the spec. */
static void conv_mount_extras(const Runtime__V1__ContainerConfig *cfg, struct cri_ctr_conv *c)
{
	size_t n_maps = 0;
	bool any = false;
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		const Runtime__V1__Mount *mt = cfg->mounts[i];
		n_maps += mt->n_uidmappings + mt->n_gidmappings;
		any = any || n_maps || (mt->image && !str_empty(mt->image->image)) ||
		      !str_empty(mt->image_sub_path);
	}
	if (!any)
		return;
	c->extras = xcalloc(cfg->n_mounts + 1, sizeof(*c->extras));
	c->idmaps = xcalloc(n_maps + 1, sizeof(*c->idmaps));
	struct oci_idmap *next = c->idmaps;
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		const Runtime__V1__Mount *mt = cfg->mounts[i];
		struct ctr_mount_extra *x = &c->extras[i];
		x->image = mt->image ? mt->image->image : NULL;
		x->image_sub_path = mt->image_sub_path;
		x->n_uids = mt->n_uidmappings;
		x->uids = next;
		idmaps_of(mt->uidmappings, mt->n_uidmappings, next);
		next += mt->n_uidmappings;
		x->n_gids = mt->n_gidmappings;
		x->gids = next;
		idmaps_of(mt->gidmappings, mt->n_gidmappings, next);
		next += mt->n_gidmappings;
	}
	c->req.mount_extras = c->extras;
}

static void idmaps_of(Runtime__V1__IDMapping **v, size_t n, struct oci_idmap *out);

void cri_status_cfg_of(const Runtime__V1__ContainerConfig *cfg, struct cri_status_cfg *ret)
{
	memset(ret, 0, sizeof(*ret));
	size_t n_maps = 0;
	for (size_t i = 0; i < cfg->n_mounts; i++)
		n_maps += cfg->mounts[i]->n_uidmappings + cfg->mounts[i]->n_gidmappings;
	ret->cfg.mounts = xcalloc(cfg->n_mounts + 1, sizeof(*ret->cfg.mounts));
	ret->cfg.n_mounts = cfg->n_mounts;
	ret->idmaps = xcalloc(n_maps + 1, sizeof(*ret->idmaps));
	struct oci_idmap *next = ret->idmaps;
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		const Runtime__V1__Mount *mt = cfg->mounts[i];
		struct ctr_status_mount *x = &ret->cfg.mounts[i];
		x->container_path = mt->container_path;
		x->host_path = mt->host_path;
		x->readonly = mt->readonly;
		x->selinux_relabel = mt->selinux_relabel;
		x->recursive_read_only = mt->recursive_read_only;
		x->propagation = (enum oci_propagation)mt->propagation;
		x->image = mt->image && !str_empty(mt->image->image) ? mt->image->image : NULL;
		x->image_sub_path = str_empty(mt->image_sub_path) ? NULL : mt->image_sub_path;
		x->uids = next;
		x->n_uids = mt->n_uidmappings;
		idmaps_of(mt->uidmappings, mt->n_uidmappings, next);
		next += mt->n_uidmappings;
		x->gids = next;
		x->n_gids = mt->n_gidmappings;
		idmaps_of(mt->gidmappings, mt->n_gidmappings, next);
		next += mt->n_gidmappings;
	}
	const Runtime__V1__LinuxContainerResources *r = cfg->linux ? cfg->linux->resources : NULL;
	ret->cfg.has_resources = r != NULL;
	cri_ctr_resources(r, &ret->cfg.resources, &ret->unified, &ret->hp);
}

void cri_status_cfg_done(struct cri_status_cfg *s)
{
	free(s->cfg.mounts);
	free(s->idmaps);
	free(s->unified);
	free(s->hp);
	memset(s, 0, sizeof(*s));
}

/* The empty record, logged: what a container whose stored CRI config
 * cannot be read keeps (its row, no mounts or resources reported). */
static char *legacy_empty(const char *ctr_id, size_t len, const char *why)
{
	log_warn(
	    "a container's stored CRI config cannot be converted: its status reports no mounts or resources",
	    "id=%s bytes=%zu error=%s", ctr_id, len, log_q(why));
	struct ctr_status_cfg empty = { 0 };
	return ctr_status_cfg_to_json(&empty);
}

char *cri_ctr_legacy_record(const char *ctr_id, const uint8_t *blob, size_t len)
{
	Runtime__V1__ContainerConfig *msg = runtime__v1__container_config__unpack(NULL, len, blob);
	if (!msg)
		return legacy_empty(ctr_id, len, "it does not decode as a CRI ContainerConfig");
	struct cri_status_cfg s;
	cri_status_cfg_of(msg, &s);
	char *out = ctr_status_cfg_to_json(&s.cfg);
	cri_status_cfg_done(&s);
	runtime__v1__container_config__free_unpacked(msg, NULL);
	/* What ctr would refuse to read back (values CreateContainer never
	 * let through) is no record either. */
	struct ctr_status_cfg back;
	cleanup_err struct err err = ERR_INIT;
	int r = ctr_status_cfg_parse(out, strlen(out), &back, &err);
	ctr_status_cfg_done(&back);
	if (r < 0) {
		free(out);
		return legacy_empty(ctr_id, len, err_str(&err));
	}
	return out;
}

static void conv_lists(const Runtime__V1__ContainerConfig *cfg, struct cri_ctr_conv *c)
{
	struct oci_ctr_config *s = &c->req.spec;
	c->envs = xcalloc(cfg->n_envs + 1, sizeof(*c->envs));
	for (size_t i = 0; i < cfg->n_envs; i++)
		c->envs[i] =
		    xasprintf("%s=%.*s", cfg->envs[i]->key ? cfg->envs[i]->key : "",
			      (int)cfg->envs[i]->value.len, (char *)cfg->envs[i]->value.data);
	s->envs = c->envs;
	c->mounts = xcalloc(cfg->n_mounts + 1, sizeof(*c->mounts));
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		const Runtime__V1__Mount *mt = cfg->mounts[i];
		c->mounts[i] = (struct oci_mount){ mt->container_path, mt->host_path, mt->readonly,
						   (enum oci_propagation)mt->propagation,
						   mt->recursive_read_only };
	}
	s->mounts = c->mounts;
	s->n_mounts = cfg->n_mounts;
	conv_mount_extras(cfg, c);
	c->devices = xcalloc(cfg->n_devices + 1, sizeof(*c->devices));
	for (size_t i = 0; i < cfg->n_devices; i++)
		c->devices[i] =
		    (struct oci_device){ cfg->devices[i]->container_path,
					 cfg->devices[i]->host_path, cfg->devices[i]->permissions };
	s->devices = c->devices;
	s->n_devices = cfg->n_devices;
	for (size_t i = 0; i < cfg->n_cdi_devices; i++)
		if (cfg->cdi_devices[i] && !str_empty(cfg->cdi_devices[i]->name))
			strv_push(&c->cdi_devices, cfg->cdi_devices[i]->name);
	s->cdi_devices = c->cdi_devices;
	KV_COPY(c->labels, cfg->labels, cfg->n_labels);
	c->req.labels = c->labels;
	c->req.n_labels = cfg->n_labels;
	KV_COPY(c->annotations, cfg->annotations, cfg->n_annotations);
	c->req.annotations = c->annotations;
	c->req.n_annotations = cfg->n_annotations;
}

static void conv_pod(const Runtime__V1__PodSandboxConfig *pod, struct cri_ctr_conv *c)
{
	if (!pod)
		return;
	if (pod->metadata) {
		c->req.pod_name = pod->metadata->name;
		c->req.pod_namespace = pod->metadata->namespace_;
		c->req.pod_uid = pod->metadata->uid;
	}
	c->req.log_dir = pod->log_directory;
	c->req.spec.hostname = pod->hostname;
	if (pod->linux) {
		c->req.cgroup_parent = pod->linux->cgroup_parent;
		KV_COPY(c->sysctls, pod->linux->sysctls, pod->linux->n_sysctls);
		c->req.spec.sysctls = c->sysctls;
		c->req.spec.n_sysctls = pod->linux->n_sysctls;
	}
}

int cri_ctr_conv_create(const Runtime__V1__CreateContainerRequest *req, struct cri_ctr_conv *c,
			struct err *err)
{
	memset(c, 0, sizeof(*c));
	const Runtime__V1__ContainerConfig *cfg = req->config;
	if (!cfg || !cfg->metadata || !cfg->metadata->name || !*cfg->metadata->name)
		return err_msg(err, -EINVAL, "container config metadata name is required");
	if (!cfg->image || !cfg->image->image || !*cfg->image->image)
		return err_msg(err, -EINVAL, "container config image is required");
	if (!req->pod_sandbox_id || !*req->pod_sandbox_id)
		return err_msg(err, -EINVAL, "pod sandbox id is required");
	c->req.pod_id = req->pod_sandbox_id;
	c->req.name = cfg->metadata->name;
	c->req.attempt = cfg->metadata->attempt;
	c->req.image = cfg->image->image;
	c->req.log_path = cfg->log_path;
	if (cfg->stop_signal != RUNTIME__V1__SIGNAL__RUNTIME_DEFAULT) {
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		    &runtime__v1__signal__descriptor, cfg->stop_signal);
		c->req.stop_signal = v ? v->name : NULL;
	}
	struct oci_ctr_config *s = &c->req.spec;
	s->command = cfg->n_command ? strv_of(cfg->command, cfg->n_command) : NULL;
	s->args = cfg->n_args ? strv_of(cfg->args, cfg->n_args) : NULL;
	s->working_dir = cfg->working_dir;
	s->tty = cfg->tty;
	s->stdin = cfg->stdin;
	s->stdin_once = cfg->stdin && cfg->stdin_once;
	conv_lists(cfg, c);
	conv_pod(req->sandbox_config, c);
	conv_security(cfg->linux ? cfg->linux->security_context : NULL, req->sandbox_config, c);
	int r = conv_seccomp(cfg->linux ? cfg->linux->security_context : NULL, &s->seccomp, err);
	if (r < 0) {
		cri_ctr_conv_done(c);
		return r;
	}
	cri_ctr_resources(cfg->linux ? cfg->linux->resources : NULL, &s->resources, &c->unified,
			  &c->hugepages);
	cri_status_cfg_of(cfg, &c->status);
	c->req.status_cfg = &c->status.cfg;
	return 0;
}

void cri_ctr_conv_done(struct cri_ctr_conv *c)
{
	free((void *)c->req.spec.command);
	free((void *)c->req.spec.args);
	free(c->labels);
	free(c->annotations);
	free(c->sysctls);
	free(c->unified);
	strv_free(c->envs);
	free(c->cap_add);
	free(c->cap_drop);
	free(c->masked);
	free(c->ro_paths);
	free(c->mounts);
	free(c->extras);
	free(c->idmaps);
	free(c->devices);
	strv_free(c->cdi_devices);
	free(c->hugepages);
	cri_status_cfg_done(&c->status);
	memset(c, 0, sizeof(*c));
}
