/* The service's settings: one snapshot, replaced whole on a reload. */
#include <stdlib.h>

#include "base/base.h"
#include "image/service_int.h"

static char *dup_or_null(const char *s)
{
	return str_empty(s) ? NULL : xstrdup(s);
}

static struct svc_settings *settings_new(const struct image_settings *s)
{
	struct svc_settings *n = xnew(struct svc_settings);
	n->refs = 1;
	n->registries_conf = dup_or_null(s->registries_conf);
	n->policy = dup_or_null(s->policy);
	n->policy_dir = dup_or_null(s->policy_dir);
	n->registries_d = dup_or_null(s->registries_d);
	if (!str_empty(s->auth_file))
		strv_push(&n->auth_files, s->auth_file);
	strv_push(&n->auth_files, IMAGE_DOCKER_AUTH_FILE);
	for (size_t i = 0; s->pinned && s->pinned[i]; i++)
		strv_push(&n->pinned, s->pinned[i]);
	n->max_parallel = s->max_parallel;
	n->progress_timeout_s = s->progress_timeout_s;
	return n;
}

void svc_settings_put(struct svc_settings *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(s->registries_conf);
	free(s->policy);
	free(s->policy_dir);
	free(s->registries_d);
	strv_free(s->auth_files);
	strv_free(s->pinned);
	free(s);
}

void svc_settings_init(struct image_service *svc)
{
	svc->settings = settings_new(&(struct image_settings){ 0 });
}

void image_service_configure(struct image_service *svc, const struct image_settings *s)
{
	struct svc_settings *n = settings_new(s);
	pthread_mutex_lock(&svc->lock);
	struct svc_settings *old = svc->settings;
	svc->settings = n;
	pthread_mutex_unlock(&svc->lock);
	svc_settings_put(old);
}

struct svc_settings *svc_settings_get(struct image_service *svc)
{
	pthread_mutex_lock(&svc->lock);
	struct svc_settings *s = svc->settings;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&svc->lock);
	return s;
}

void svc_settings_apply(const struct svc_settings *s, struct image_pull_opts *o)
{
	if (!o->registries_conf)
		o->registries_conf = s->registries_conf;
	if (!o->policy)
		o->policy = s->policy;
	if (!o->policy_dir)
		o->policy_dir = s->policy_dir;
	if (!o->registries_d)
		o->registries_d = s->registries_d;
	if (!o->auth_files)
		o->auth_files = s->auth_files;
	if (!o->max_parallel)
		o->max_parallel = s->max_parallel;
	if (!o->progress_timeout_s)
		o->progress_timeout_s = s->progress_timeout_s;
}
