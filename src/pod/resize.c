/* UpdatePodSandboxResources: in-place pod resize. */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "pod/pod_int.h"

static int check(const char *what, const struct pod_resources *r, struct err *err)
{
	if (!r)
		return 0;
	if (r->cpu_period && (r->cpu_period < 1000 || r->cpu_period > 1000000))
		return err_msg(err, -EINVAL, "%s.cpu_period %lld: must be 1000 to 1000000 (us)",
			       what, (long long)r->cpu_period);
	if (r->cpu_quota < -1 || (r->cpu_quota > 0 && r->cpu_quota < 1000))
		return err_msg(
		    err, -EINVAL,
		    "%s.cpu_quota %lld: must be -1 (unlimited), 0 (unset) or at least 1000 (us)",
		    what, (long long)r->cpu_quota);
	if (r->cpu_shares < 0 || r->cpu_shares > 262144)
		return err_msg(err, -EINVAL, "%s.cpu_shares %lld: must be 0 to 262144", what,
			       (long long)r->cpu_shares);
	if (r->memory_limit_in_bytes < 0)
		return err_msg(err, -EINVAL, "%s.memory_limit_in_bytes %lld: must not be negative",
			       what, (long long)r->memory_limit_in_bytes);
	return 0;
}

static int64_t plus(int64_t a, int64_t b)
{
	return b > 0 && a <= INT64_MAX - b ? a + b : a;
}

/* The pod cgroup's limits: the containers' sum plus the overhead. */
static void limits_of(const struct pod_config *c, struct pod_cgroup_limits *l)
{
	const struct pod_resources *r = &c->resources, *o = &c->overhead;
	bool ovh = c->has_overhead;
	*l = (struct pod_cgroup_limits){ .memory = -1, .quota = -1 };
	if (r->memory_limit_in_bytes > 0)
		l->memory = plus(r->memory_limit_in_bytes, ovh ? o->memory_limit_in_bytes : 0);
	if (r->cpu_shares > 0)
		l->shares = plus(r->cpu_shares, ovh ? o->cpu_shares : 0);
	l->period = r->cpu_period;
	if (r->cpu_quota > 0)
		l->quota = plus(r->cpu_quota, ovh ? o->cpu_quota : 0);
}

int pod_update_resources(struct pod_manager *m, const char *id,
			 const struct pod_resources *overhead,
			 const struct pod_resources *resources, struct err *err)
{
	int r = check("overhead", overhead, err);
	if (r >= 0)
		r = check("resources", resources, err);
	if (r < 0)
		return r;
	struct pod *p = NULL;
	r = pod_find_ref(m, id, &p, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	struct pod_config *c = &p->info.cfg;
	if (overhead) {
		c->has_overhead = true;
		c->overhead = *overhead;
	}
	if (resources) {
		c->has_resources = true;
		c->resources = *resources;
	}
	r = p->removed ? 0 : pod_save(m, p, err);
	/* Only a cgroup ocid made (cgroupfs driver: <parent>/ocid-pod-<id>)
	 * is ocid's to change; with systemd the values are recorded. */
	if (r >= 0 && c->has_resources && p->info.cgroup_parent &&
	    strcmp(m->cgroup_driver, "systemd") != 0) {
		struct pod_cgroup_limits l;
		limits_of(c, &l);
		r = pod_cgroup_set_limits(p->info.cgroup_parent, &l, err);
		if (r < 0)
			err_wrap(err, "resize pod %s", p->info.id);
	}
	pthread_mutex_unlock(&p->lock);
	pod_unref(m, p);
	return r;
}
