/* The stats handle: the host layout plus what is kept per id between calls
 * (the cpu sample an interval starts from, the last directory walk). One
 * mutex guards the table; no I/O happens while it is held. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "base/base.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

#define N_BUCKETS 1024
#define DEFAULT_MIN_INTERVAL_NS UINT64_C(1000000000)

struct entry {
	struct entry *next;
	char *id;
	/* cpu: the interval starts at (base_ts, base_usage) */
	bool has_base, has_rate;
	uint64_t base_ts, base_usage, rate;
	/* fs: the last walk of fs_path */
	char *fs_path;
	struct stats_fs_usage fs;
};

struct stats {
	struct stats_layout layout;
	pthread_mutex_t lock;
	uint64_t min_interval_ns;
	uint64_t forgets; /* stats_forget calls so far: a walk racing one is not kept */
	struct entry *buckets[N_BUCKETS];
};

struct stats *stats_new_take(struct stats_layout *l)
{
	struct stats *s = xnew(struct stats);
	s->layout = *l;
	*l = (struct stats_layout){ 0 };
	s->min_interval_ns = DEFAULT_MIN_INTERVAL_NS;
	(void)pthread_mutex_init(&s->lock, NULL);
	return s;
}

int stats_new(const char *root, struct stats **ret, struct err *err)
{
	struct stats_layout l;
	int r = stats_layout_detect(root, &l, err);
	if (r < 0)
		return r;
	*ret = stats_new_take(&l);
	return 0;
}

static void entry_free(struct entry *e)
{
	free(e->id);
	free(e->fs_path);
	free(e);
}

void stats_free(struct stats *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < N_BUCKETS; i++) {
		while (s->buckets[i]) {
			struct entry *e = s->buckets[i];
			s->buckets[i] = e->next;
			entry_free(e);
		}
	}
	(void)pthread_mutex_destroy(&s->lock);
	stats_layout_done(&s->layout);
	free(s);
}

const struct stats_layout *stats_get_layout(const struct stats *s)
{
	return &s->layout;
}

void stats_set_min_interval(struct stats *s, uint64_t ns)
{
	(void)pthread_mutex_lock(&s->lock);
	s->min_interval_ns = ns;
	(void)pthread_mutex_unlock(&s->lock);
}

static struct entry **bucket_of(struct stats *s, const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = id; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &s->buckets[h % N_BUCKETS];
}

/* Called with the lock held. */
static struct entry *entry_get(struct stats *s, const char *id, bool create)
{
	struct entry **b = bucket_of(s, id);
	for (struct entry *e = *b; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	if (!create)
		return NULL;
	struct entry *e = xnew(struct entry);
	e->id = xstrdup(id);
	e->next = *b;
	*b = e;
	return e;
}

void stats_forget(struct stats *s, const char *id)
{
	(void)pthread_mutex_lock(&s->lock);
	s->forgets++;
	for (struct entry **p = bucket_of(s, id); *p; p = &(*p)->next) {
		if (strcmp((*p)->id, id) == 0) {
			struct entry *e = *p;
			*p = e->next;
			entry_free(e);
			break;
		}
	}
	(void)pthread_mutex_unlock(&s->lock);
}

/* Called with the lock held. */
static int cpu_rate_locked(struct stats *s, struct entry *e, uint64_t ts, uint64_t usage,
			   uint64_t *ret)
{
	if (!e->has_base || usage < e->base_usage || ts < e->base_ts) {
		/* first sample, or the counter went back (a new cgroup under this id) */
		e->has_base = true;
		e->has_rate = false;
		e->base_ts = ts;
		e->base_usage = usage;
		return 0;
	}
	uint64_t dt = ts - e->base_ts;
	if (dt == 0 || dt < s->min_interval_ns) {
		*ret = e->rate;
		return e->has_rate ? 1 : 0;
	}
	unsigned __int128 rate = (unsigned __int128)(usage - e->base_usage) * 1000000000u / dt;
	e->rate = rate > UINT64_MAX ? UINT64_MAX : (uint64_t)rate;
	e->has_rate = true;
	e->base_ts = ts;
	e->base_usage = usage;
	*ret = e->rate;
	return 1;
}

int stats_cpu_rate(struct stats *s, const char *id, uint64_t ts_ns, uint64_t usage_ns,
		   uint64_t *ret_nano_cores)
{
	uint64_t rate = 0;
	(void)pthread_mutex_lock(&s->lock);
	int r = cpu_rate_locked(s, entry_get(s, id, true), ts_ns, usage_ns, &rate);
	(void)pthread_mutex_unlock(&s->lock);
	*ret_nano_cores = r > 0 ? rate : 0;
	return r;
}

int stats_cgroup_sample(struct stats *s, const char *id, const char *path, struct stats_cgroup *ret,
			struct err *err)
{
	int r = stats_cgroup_read(&s->layout, path, ret, err);
	if (r < 0)
		return r;
	if (ret->has_cpu)
		ret->cpu.has_nano_cores =
		    stats_cpu_rate(s, id, ret->timestamp_ns, ret->cpu.usage_ns,
				   &ret->cpu.usage_nano_cores) > 0;
	return 0;
}

int stats_fs_usage_cached(struct stats *s, const char *id, const char *path, uint64_t max_age_ns,
			  struct stats_fs_usage *ret, struct err *err)
{
	uint64_t now = (uint64_t)wall_ns();
	bool hit = false;
	(void)pthread_mutex_lock(&s->lock);
	uint64_t forgets = s->forgets;
	struct entry *e = entry_get(s, id, false);
	if (e && e->fs_path && strcmp(e->fs_path, path) == 0 && now >= e->fs.timestamp_ns &&
	    now - e->fs.timestamp_ns < max_age_ns) {
		*ret = e->fs;
		hit = true;
	}
	(void)pthread_mutex_unlock(&s->lock);
	if (hit)
		return 0;
	/* Walk without the lock: it may take a while on a big layer. */
	int r = stats_fs_usage(path, 0, ret, err);
	if (r < 0)
		return r;
	(void)pthread_mutex_lock(&s->lock);
	/* A forget during the walk may have been for this id (a removed
	 * container): keep the result only where that cannot resurrect it. */
	e = entry_get(s, id, s->forgets == forgets);
	if (e) {
		if (!e->fs_path || strcmp(e->fs_path, path) != 0) {
			free(e->fs_path);
			e->fs_path = xstrdup(path);
		}
		e->fs = *ret;
	}
	(void)pthread_mutex_unlock(&s->lock);
	return 0;
}
