/* cri: what the CRI calls take from the configuration, given by ocid at
 * start and on each reload (cri_configure): the oci-hooks and CDI
 * directories and the runtime handlers pods may name. A call takes a
 * reference to the copy in effect when it began and keeps it to its end;
 * a reload swaps in a new copy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_int.h"
#include "cri/ctr_conv.h"

/* A handler with the strings it points to. */
struct handler_own {
	struct cri_handler pub;
	char *name, *path, *root;
	char **args, **env, **allowed;
};

struct cri_conf {
	int refs; /* atomic */
	char **hooks_dirs, **cdi_dirs;
	char *default_handler;
	struct handler_own *handlers;
	size_t n_handlers;
};

static void handler_copy(struct handler_own *o, const struct cri_handler *h)
{
	o->name = xstrdup(h->h.name ? h->h.name : "");
	o->path = xstrdup(h->h.path ? h->h.path : "");
	o->root = xstrdup(h->h.root ? h->h.root : "");
	o->args = strv_copy(h->h.args);
	o->env = strv_copy(h->h.monitor_env);
	o->allowed = strv_copy(h->allowed_annotations);
	o->pub = *h;
	o->pub.h.name = o->name;
	o->pub.h.path = o->path;
	o->pub.h.root = o->root;
	o->pub.h.args = o->args;
	o->pub.h.monitor_env = o->env;
	o->pub.allowed_annotations = o->allowed;
}

void cri_conf_put(struct cri_conf *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	strv_free(c->hooks_dirs);
	strv_free(c->cdi_dirs);
	free(c->default_handler);
	for (size_t i = 0; i < c->n_handlers; i++) {
		struct handler_own *o = &c->handlers[i];
		free(o->name);
		free(o->path);
		free(o->root);
		strv_free(o->args);
		strv_free(o->env);
		strv_free(o->allowed);
	}
	free(c->handlers);
	free(c);
}

void cri_configure(struct cri_deps *deps, const struct cri_settings *s)
{
	struct cri_conf *c = xzalloc(sizeof(*c));
	c->refs = 1;
	c->hooks_dirs = strv_copy(s->hooks_dirs);
	c->cdi_dirs = strv_copy(s->cdi_dirs);
	c->default_handler = xstrdup(s->default_handler ? s->default_handler : "");
	c->handlers = xcalloc(s->n_handlers ? s->n_handlers : 1, sizeof(*c->handlers));
	c->n_handlers = s->n_handlers;
	for (size_t i = 0; i < s->n_handlers; i++)
		handler_copy(&c->handlers[i], &s->handlers[i]);
	pthread_rwlock_wrlock(deps->cfg_lock);
	struct cri_conf *old = deps->conf;
	deps->conf = c;
	pthread_rwlock_unlock(deps->cfg_lock);
	cri_conf_put(old);
}

void cri_deps_done(struct cri_deps *deps)
{
	cri_conf_put(deps->conf);
	deps->conf = NULL;
}

struct cri_conf *cri_conf_get(struct cri_deps *deps)
{
	pthread_rwlock_rdlock(deps->cfg_lock);
	struct cri_conf *c = deps->conf;
	if (c)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	pthread_rwlock_unlock(deps->cfg_lock);
	return c;
}

char *const *cri_conf_hooks_dirs(const struct cri_conf *c)
{
	return c ? c->hooks_dirs : NULL;
}

char *const *cri_conf_cdi_dirs(const struct cri_conf *c)
{
	return c ? c->cdi_dirs : NULL;
}

size_t cri_conf_n_handlers(const struct cri_conf *c)
{
	return c ? c->n_handlers : 0;
}

const struct cri_handler *cri_conf_handler_at(const struct cri_conf *c, size_t i)
{
	return c && i < c->n_handlers ? &c->handlers[i].pub : NULL;
}

static char *names(const struct cri_conf *c)
{
	char *s = xstrdup("");
	for (size_t i = 0; c && i < c->n_handlers; i++) {
		char *n = xasprintf("%s%s'%s'", s, i ? ", " : "", c->handlers[i].name);
		free(s);
		s = n;
	}
	return s;
}

int cri_conf_handler(const struct cri_conf *c, const char *name, const struct cri_handler **ret,
		     struct err *err)
{
	*ret = NULL;
	const char *want = str_empty(name) ? (c ? c->default_handler : "") : name;
	for (size_t i = 0; c && i < c->n_handlers; i++)
		if (strcmp(c->handlers[i].name, want) == 0) {
			*ret = &c->handlers[i].pub;
			return 0;
		}
	/* No handlers at all (a config never loaded): the manager's runtime. */
	if (str_empty(name) && cri_conf_n_handlers(c) == 0)
		return 0;
	cleanup_free char *all = names(c);
	return err_msg(err, -EINVAL, "unknown runtime handler '%s' (this node has %s)", name, all);
}

/* Annotations that make something happen: ocid's CDI devices, and what
 * runtimes read from their spec (crun's run.oci.*, gVisor's dev.gvisor.*,
 * Kata's io.katacontainers.*: a handler, a mount, a hypervisor's path).
 * One of these reaches a container only where its handler allows it. */
static const char *const acting[] = {
	"cdi.k8s.io/",
	"run.oci.",
	"dev.gvisor.",
	"io.katacontainers.",
};

static bool allowed(const struct cri_handler *h, const char *key)
{
	bool acts = false;
	for (size_t i = 0; i < ARRAY_SIZE(acting); i++)
		acts |= str_has_prefix(key, acting[i]);
	if (!acts)
		return true;
	for (size_t i = 0; h && h->allowed_annotations && h->allowed_annotations[i]; i++)
		if (str_has_prefix(key, h->allowed_annotations[i]))
			return true;
	/* No handler (a config never loaded): CDI as the default list has it. */
	return !h && str_has_prefix(key, "cdi.k8s.io/");
}

size_t cri_handler_annotations_filter(const struct cri_handler *h, struct oci_kv *kv, size_t n)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (kv[i].key && allowed(h, kv[i].key))
			kv[kept++] = kv[i];
	return kept;
}

/* The pod's handler (NULL: the manager's runtime). An unknown pod is the
 * create's to report. */
static int pod_handler(struct cri_deps *deps, const struct cri_conf *conf, const char *pod_id,
		       const struct cri_handler **ret, struct err *err)
{
	*ret = NULL;
	cleanup(pod_info_free) struct pod_info *p = NULL;
	if (!deps->pods || pod_get(deps->pods, pod_id, &p, NULL) < 0)
		return 0;
	if (cri_conf_handler(conf, p->cfg.runtime_handler, ret, err) < 0)
		return err_msg(err, -EINVAL,
			       "the pod's runtime handler '%s' is no longer configured",
			       p->cfg.runtime_handler);
	return 0;
}

int cri_conf_for_create(struct cri_deps *deps, const struct cri_conf *conf, struct cri_ctr_conv *c,
			struct ctr_handler *handler, struct err *err)
{
	c->req.spec.hooks_dirs = cri_conf_hooks_dirs(conf);
	c->req.spec.cdi_dirs = cri_conf_cdi_dirs(conf);
	const struct cri_handler *h = NULL;
	int r = pod_handler(deps, conf, c->req.pod_id, &h, err);
	if (r < 0)
		return r;
	if (h) {
		*handler = h->h;
		handler->recursive_read_only = h->features.recursive_read_only;
		c->req.handler = handler;
	}
	c->req.n_annotations =
	    cri_handler_annotations_filter(h, c->annotations, c->req.n_annotations);
	/* A privileged container of such a handler (a VM's, say) gets only
	 * the default devices, as with CRI-O and containerd. */
	c->req.spec.no_host_devices = h && h->privileged_without_host_devices;
	return 0;
}
