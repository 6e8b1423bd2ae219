/* A pull: candidates and endpoints, policy, manifest, config, layers
 * (several streamed at once, committed in order), one transaction. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "base/fs.h"
#include "db/image.h"
#include "image/policy_int.h"
#include "image/service_int.h"
#include "storage/storage.h"

#define DEFAULT_PARALLEL 6
#define LAYER_RETRIES 2

/* What one endpoint attempt fetched before the layers. */
struct fetched_image {
	struct image_fetched top;      /* what the reference named (maybe an index) */
	struct image_fetched manifest; /* the image manifest */
	struct image_fetched config;
	struct image_manifest *m;
	struct image_config *cfg;
	char **chains;
};

static void fetched_image_done(struct fetched_image *f)
{
	image_fetched_done(&f->top);
	image_fetched_done(&f->manifest);
	image_fetched_done(&f->config);
	image_manifest_free(f->m);
	image_config_free(f->cfg);
	strv_free(f->chains);
}

static int read_policy(const char *path, struct image_policy **ret, struct err *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, path, IMAGE_POLICY_MAX, &text, &len, err);
	if (r < 0)
		return r;
	return image_policy_parse(path, text, len, ret, err);
}

/* The pod namespace's own policy (signature_policy_dir/<ns>.json) when
 * there is one, else the global file, else the built-in default. */
int image_policy_load(const struct image_pull_opts *o, struct image_policy **ret, struct err *err)
{
	if (!str_empty(o->policy_dir) && !str_empty(o->pod_namespace)) {
		if (!image_namespace_valid(o->pod_namespace))
			return err_msg(err, -EINVAL, "invalid pod namespace '%.80s'",
				       o->pod_namespace);
		cleanup_free char *path = xasprintf("%s/%s.json", o->policy_dir, o->pod_namespace);
		int r = read_policy(path, ret, err);
		if (r != -ENOENT)
			return r;
		err_done(err);
	}
	const char *path = o->policy ? o->policy : IMAGE_POLICY_PATH;
	int r = read_policy(path, ret, err);
	if (r == -ENOENT) {
		err_done(err);
		return image_policy_parse(path, NULL, 0, ret, err);
	}
	return r;
}

/* What the policy asks of a pull, settled before its endpoints are tried. */
struct trust {
	const struct image_policy *pol;
	const struct image_registries_d *rd;
	int need; /* IMAGE_NEED_*: 0 when no signature is required */
};

/* Signatures are checked against the name asked for, also when a mirror
 * serves the bytes, before anything but manifests is fetched. */
static int verify(const struct trust *t, const struct image_ref *asked, struct image_registry *reg,
		  const char *repo, const char *digest, char **ret_info, struct err *err)
{
	if (!t->need)
		return 0;
	struct image_sigs sigs = { 0 };
	int r = image_sigs_fetch(t->rd, asked, reg, repo, digest, t->need, &sigs, err);
	if (r >= 0)
		r = image_policy_verify(t->pol, asked, digest, &sigs, ret_info, err);
	image_sigs_done(&sigs);
	return r;
}

static int fetch_manifest(struct image_registry *reg, const struct image_ref *ref,
			  const struct image_platform *plat, struct fetched_image *f,
			  struct err *err)
{
	const char *reference = ref->digest ? ref->digest : ref->tag;
	int r = image_registry_get_manifest(reg, ref->path, reference, &f->top, err);
	if (r < 0)
		return r;
	cleanup(image_manifest_free) struct image_manifest *top = NULL;
	r = image_manifest_parse(f->top.data, f->top.len, f->top.content_type, &top, err);
	if (r < 0)
		return r;
	if (!image_manifest_is_index(top)) {
		f->m = TAKE_PTR(top);
		f->manifest = f->top;
		f->manifest.data = xmemdup(f->top.data, f->top.len + 1);
		f->manifest.content_type =
		    f->top.content_type ? xstrdup(f->top.content_type) : NULL;
		return 0;
	}
	const struct image_descriptor *d = NULL;
	r = image_manifest_select(top, plat, &d, err);
	if (r < 0)
		return r;
	r = image_registry_get_manifest(reg, ref->path, d->digest, &f->manifest, err);
	if (r < 0)
		return r;
	r = image_manifest_parse(f->manifest.data, f->manifest.len, f->manifest.content_type, &f->m,
				 err);
	if (r >= 0 && image_manifest_is_index(f->m))
		r = err_msg(err, -EOPNOTSUPP, "index %s points at another index", d->digest);
	return r;
}

static int fetch_config(struct image_registry *reg, const struct image_ref *ref,
			struct fetched_image *f, struct err *err)
{
	int r = image_registry_get_blob(reg, ref->path, f->m->config.digest, IMAGE_CONFIG_MAX,
					&f->config, err);
	if (r >= 0)
		r = image_config_parse(f->config.data, f->config.len, &f->cfg, err);
	if (r >= 0)
		r = image_config_check(f->cfg, f->m, err);
	const char *parent = NULL;
	for (size_t i = 0; r >= 0 && i < f->m->n_layers; i++) {
		char *chain = NULL;
		r = storage_chain_id(parent, f->cfg->diff_ids[i], &chain, err);
		if (r >= 0) {
			strv_push_take(&f->chains, chain);
			parent = chain;
		}
	}
	return r < 0 ? err_wrap(err, "config %s", f->m->config.digest) : 0;
}

/* ----------------------------------------------------------- layers -- */

struct layers_run {
	struct image_service *svc;
	struct pull *p;
	struct image_registry *reg;
	const char *repo;
	const struct fetched_image *f;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t next;	 /* next layer to start */
	bool *committed; /* layer i is in the store */
	char **added;	 /* chain ids this pull put into the store */
	bool failed;
	int rc;
	struct err err; /* the first failure */
};

struct commit_wait {
	struct layers_run *run;
	size_t idx;
};

static void set_state(struct layers_run *run, size_t i, enum layer_state s)
{
	pthread_mutex_lock(&run->svc->lock);
	run->p->layers[i].state = s;
	pthread_mutex_unlock(&run->svc->lock);
}

/* Layers are committed in order: layer i waits for layer i-1. */
static int wait_parent(void *opaque, struct err *err)
{
	struct commit_wait *w = opaque;
	struct layers_run *run = w->run;
	pthread_mutex_lock(&run->lock);
	while (w->idx > 0 && !run->committed[w->idx - 1] && !run->failed)
		pthread_cond_wait(&run->cond, &run->lock);
	bool failed = run->failed;
	pthread_mutex_unlock(&run->lock);
	return failed ? err_msg(err, -ECANCELED, "an earlier layer failed") : 0;
}

static int unpack_layer(struct layers_run *run, size_t i, bool *ret_net, struct err *err)
{
	const struct image_layer *l = &run->f->m->layers[i];
	struct layer_progress *lp = &run->p->layers[i];
	struct image_blob *b = NULL;
	int r = image_registry_open_blob(run->reg, run->repo, l->digest, &lp->done, &b, err);
	if (r < 0)
		return err_wrap(err, "layer %s", l->digest);
	set_state(run, i, LS_DOWNLOADING);
	struct commit_wait w = { run, i };
	struct storage_layer_opts so = {
		.parent_chain_id = i ? run->f->chains[i - 1] : NULL,
		.digest = l->digest,
		.diff_id = run->f->cfg->diff_ids[i],
		.size = l->size,
		.before_commit = wait_parent,
		.before_commit_opaque = &w,
	};
	cleanup_free char *chain = NULL;
	r = storage_layer_unpack(run->svc->st, &so, image_blob_read, b, &chain, err);
	/* A read error is reported by the unpacker as a short stream; the
	 * network's own message says more. */
	const char *msg = NULL;
	int berr = image_blob_error(b, &msg);
	*ret_net = r < 0 && berr < 0;
	if (*ret_net)
		r = err_msg(err, berr, "layer %s: %s", l->digest, msg);
	image_blob_close(b);
	return r;
}

static int do_layer(struct layers_run *run, size_t i, struct err *err)
{
	const char *chain = run->f->chains[i];
	int present = svc_claim(run->svc, chain);
	int r = 0;
	/* A body cut short by the network is fetched again (the unpacker
	 * left nothing behind); corrupt content is not. */
	for (int attempt = 0; !present; attempt++) {
		bool net = false;
		r = unpack_layer(run, i, &net, err);
		if (r >= 0 || !net || (r != -EIO && r != -EREMOTEIO) || attempt >= LAYER_RETRIES) {
			svc_release(run->svc, chain);
			break;
		}
		err_done(err);
		__atomic_store_n(&run->p->layers[i].done, 0, __ATOMIC_RELAXED);
		struct timespec ts = { 0, 200000000L << attempt };
		nanosleep(&ts, NULL);
	}
	set_state(run, i, r < 0 ? LS_FAILED : present ? LS_EXISTS : LS_DONE);
	if (r >= 0 && present)
		__atomic_fetch_add(&run->svc->layers_reused, 1, __ATOMIC_RELAXED);
	else if (r >= 0)
		__atomic_fetch_add(&run->svc->bytes_pulled,
				   __atomic_load_n(&run->p->layers[i].done, __ATOMIC_RELAXED),
				   __ATOMIC_RELAXED);
	if (r >= 0 && !present) {
		pthread_mutex_lock(&run->lock);
		strv_push(&run->added, chain);
		pthread_mutex_unlock(&run->lock);
	}
	return r;
}

static void *layer_worker(void *opaque)
{
	struct layers_run *run = opaque;
	for (;;) {
		pthread_mutex_lock(&run->lock);
		size_t i = run->next;
		bool stop = run->failed || i >= run->f->m->n_layers;
		if (!stop)
			run->next++;
		pthread_mutex_unlock(&run->lock);
		if (stop)
			return NULL;
		struct err e = ERR_INIT;
		int r = do_layer(run, i, &e);
		pthread_mutex_lock(&run->lock);
		if (r < 0 && !run->failed) {
			run->failed = true;
			run->rc = r;
			err_move(&run->err, &e);
		}
		if (r >= 0)
			run->committed[i] = true;
		pthread_cond_broadcast(&run->cond);
		pthread_mutex_unlock(&run->lock);
		err_done(&e);
	}
}

static int run_layers(struct image_service *svc, struct pull *p, struct image_registry *reg,
		      const char *repo, const struct fetched_image *f, unsigned parallel,
		      char ***ret_added, struct err *err)
{
	size_t n = f->m->n_layers;
	struct layers_run run = { .svc = svc, .p = p, .reg = reg, .repo = repo, .f = f };
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.cond, NULL);
	run.committed = xcalloc(n ? n : 1, sizeof(bool));
	size_t nt = parallel < n ? parallel : n;
	pthread_t *t = xcalloc(nt ? nt : 1, sizeof(*t));
	size_t started = 0;
	for (; started < nt; started++)
		if (pthread_create(&t[started], NULL, layer_worker, &run) != 0)
			break;
	if (started == 0 && n)
		layer_worker(&run); /* no thread could start: do it here */
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	free(run.committed);
	*ret_added = run.added;
	pthread_cond_destroy(&run.cond);
	pthread_mutex_destroy(&run.lock);
	if (run.failed)
		return err_move(err, &run.err);
	return 0;
}

/* A failed pull takes back the layers it added that nothing else uses: no
 * recorded image, no pull in flight (call after unpinning). */
static void drop_added(struct image_service *svc, char **added)
{
	if (!added)
		return;
	char **known = NULL;
	if (db_layer_list(svc->db, &known, NULL) < 0)
		return; /* unsure what is in use: keep them, a later pull reuses them */
	pthread_mutex_lock(&svc->lock);
	for (size_t i = 0; added[i]; i++)
		if (!strv_contains(known, added[i]) && !strv_contains(svc->pins, added[i]) &&
		    !strv_contains(svc->busy, added[i]))
			(void)storage_layer_delete(svc->st, added[i], NULL);
	pthread_mutex_unlock(&svc->lock);
	strv_free(known);
}

static void set_layers(struct image_service *svc, struct pull *p, const struct fetched_image *f)
{
	pthread_mutex_lock(&svc->lock);
	p->layers = xcalloc(f->m->n_layers ? f->m->n_layers : 1, sizeof(*p->layers));
	for (size_t i = 0; i < f->m->n_layers; i++) {
		p->layers[i].digest = xstrdup(f->m->layers[i].digest);
		p->layers[i].size = f->m->layers[i].size;
	}
	p->n_layers = f->m->n_layers;
	pthread_mutex_unlock(&svc->lock);
}

static int record(struct image_service *svc, const struct image_ref *asked,
		  const struct fetched_image *f, char **ret_id, struct err *err)
{
	struct db_image img = {
		.id = f->m->config.digest,
		.manifest_digest = (char *)f->top.digest,
		.config = f->config.data,
		.manifest = f->manifest.data,
		.size = (int64_t)f->config.len,
		.n_layers = f->m->n_layers,
	};
	img.layers = xcalloc(img.n_layers ? img.n_layers : 1, sizeof(*img.layers));
	for (size_t i = 0; i < img.n_layers; i++) {
		img.layers[i] = (struct db_layer){ f->chains[i], f->cfg->diff_ids[i],
						   f->m->layers[i].digest, f->m->layers[i].size };
		img.size += f->m->layers[i].size;
	}
	cleanup_free char *name = image_ref_string(asked, IMAGE_REF_NAME);
	char *tags[2] = { 0 }, *digests[2] = { 0 };
	if (asked->tag)
		tags[0] = xasprintf("%s:%s", name, asked->tag);
	digests[0] = xasprintf("%s@%s", name, f->top.digest);
	img.tags = tags;
	img.digests = digests;
	int r = db_image_put(svc->db, &img, err);
	free(tags[0]);
	free(digests[0]);
	free(img.layers);
	if (r < 0)
		return err_wrap(err, "record image");
	*ret_id = xstrdup(f->m->config.digest);
	return 0;
}

/* Which credentials go to endpoint `ep`: the CRI's when they are for its
 * registry, else the auth files'. Never the CRI's to a mirror elsewhere. */
static int endpoint_creds(const struct image_ref *asked, const struct image_endpoint *ep,
			  const struct image_pull_opts *o, struct image_creds *ret, struct err *err)
{
	const char *dom = ep->ref->domain;
	bool cri = o->creds && !image_creds_empty(o->creds);
	if (cri && !str_empty(o->creds_server)) {
		const char *s = o->creds_server;
		if (str_has_prefix(s, "https://"))
			s += 8;
		else if (str_has_prefix(s, "http://"))
			s += 7;
		cri = strncmp(s, dom, strlen(dom)) == 0 &&
		      (s[strlen(dom)] == '\0' || s[strlen(dom)] == '/');
	} else if (cri) {
		cri = strcmp(asked->domain, dom) == 0;
	}
	if (cri) {
		ret->username = o->creds->username ? xstrdup(o->creds->username) : NULL;
		ret->password = o->creds->password ? xstrdup(o->creds->password) : NULL;
		ret->registry_token =
		    o->creds->registry_token ? xstrdup(o->creds->registry_token) : NULL;
		ret->identity_token =
		    o->creds->identity_token ? xstrdup(o->creds->identity_token) : NULL;
		return 0;
	}
	int r = image_authfile_lookup(o->auth_files, dom, ep->ref->path, ret, err);
	return r < 0 ? r : 0;
}

static int pull_endpoint(struct image_service *svc, struct pull *p, const struct image_ref *asked,
			 const struct image_endpoint *ep, const struct image_pull_opts *o,
			 const struct trust *t, char **ret_id, struct err *err)
{
	struct image_creds creds = { 0 };
	int r = endpoint_creds(asked, ep, o, &creds, err);
	if (r < 0)
		return r;
	struct image_registry_opts ro = {
		.domain = ep->ref->domain,
		.insecure = ep->insecure,
		.certs_dir = o->certs_dir,
		.creds = &creds,
		.tokens = svc->tokens,
		.progress_timeout_s = o->progress_timeout_s,
		.cancelled = pull_cancelled,
		.cancel_opaque = p,
	};
	cleanup(image_registry_free) struct image_registry *reg = NULL;
	r = image_registry_new(&ro, &reg, err);
	image_creds_done(&creds);
	if (r < 0)
		return r;
	struct image_platform plat = o->platform.os ? o->platform : IMAGE_PLATFORM_DEFAULT;
	struct fetched_image f = { 0 };
	cleanup_free char *info = NULL;
	r = fetch_manifest(reg, ep->ref, &plat, &f, err);
	if (r >= 0)
		r = verify(t, asked, reg, ep->ref->path, f.top.digest, &info, err);
	if (r >= 0)
		r = fetch_config(reg, ep->ref, &f, err);
	if (r >= 0) {
		set_layers(svc, p, &f);
		svc_pin(svc, f.chains);
		char **added = NULL;
		r = run_layers(svc, p, reg, ep->ref->path, &f,
			       o->max_parallel ? o->max_parallel : DEFAULT_PARALLEL, &added, err);
		if (r >= 0)
			r = record(svc, asked, &f, ret_id, err);
		if (r >= 0) {
			cleanup_free char *name = image_ref_string(asked, IMAGE_REF_FULL);
			/* the image is in: a record that cannot be written only
			 * costs ImageStatus its trust line and CreateContainer
			 * a re-check that errs on the safe side */
			cleanup_err struct err terr = ERR_INIT;
			(void)image_trust_save(svc, *ret_id, name, t->pol, asked, info, &terr);
		}
		svc_unpin(svc, f.chains);
		if (r < 0)
			drop_added(svc, added);
		strv_free(added);
	}
	fetched_image_done(&f);
	return r;
}

/* A source that could not be reached gave no answer about the image. */
static bool unreachable(int r)
{
	return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH || r == -ETIMEDOUT;
}

/* The last endpoint's error `r` (in err), with what the earlier ones
 * answered; NOT_FOUND (-ENOENT) when every source that answered said the
 * image is unknown, so that a typo on an air-gapped node (mirror: 404,
 * upstream: no DNS) does not read as a network outage. */
static int endpoints_failed(int r, char *const *tried, bool any_unknown, bool only_unknown,
			    struct err *err)
{
	if (!tried)
		return r;
	cleanup_free char *last = xstrdup(err_str(err));
	cleanup_free char *others = strv_join(tried, "; ");
	err_done(err);
	return err_msg(err, any_unknown && only_unknown ? -ENOENT : r,
		       "%s (mirrors also failed: [%s])", last, others);
}

/* Try the endpoints of one candidate: mirrors in order, then the source. */
static int pull_candidate(struct image_service *svc, struct pull *p,
			  const struct image_registries *regs, const struct image_policy *pol,
			  const struct image_registries_d *rd, const struct image_ref *asked,
			  const struct image_pull_opts *o, char **ret_id, struct err *err)
{
	int r = image_policy_check(pol, asked, NULL, err);
	if (r < 0)
		return r;
	struct trust t = { pol, rd, r };
	struct image_endpoint *eps = NULL;
	size_t n = 0;
	r = image_registries_endpoints(regs, asked, &eps, &n, err);
	if (r < 0)
		return r;
	cleanup(strv_free) char **tried = NULL; /* "location: answer" of each failed one */
	bool any_unknown = false, only_unknown = true;
	for (size_t i = 0; i < n; i++) {
		err_done(err);
		r = pull_endpoint(svc, p, asked, &eps[i], o, &t, ret_id, err);
		if (r >= 0 || r == -ECANCELED)
			break;
		any_unknown = any_unknown || r == -ENOENT;
		only_unknown = only_unknown && (r == -ENOENT || unreachable(r));
		if (i + 1 < n)
			strv_push_take(&tried, xasprintf("%s: %s", eps[i].location, err_str(err)));
		else if (eps[i].mirror)
			(void)err_wrap(err, "mirror %s", eps[i].location);
	}
	image_endpoints_free(eps, n);
	if (r >= 0 || r == -ECANCELED)
		return r;
	return endpoints_failed(r, tried, any_unknown, only_unknown, err);
}

int pull_run(struct image_service *svc, struct pull *p, const char *name,
	     const struct image_pull_opts *o, char **ret_id, struct err *err)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	int r = image_ref_parse(name, &ref, err);
	if (r < 0)
		return r;
	cleanup(image_registries_free) struct image_registries *regs = NULL;
	r = image_registries_load(o->registries_conf ? o->registries_conf : IMAGE_REGISTRIES_CONF,
				  NULL, &regs, err);
	if (r < 0)
		return r;
	cleanup(image_policy_free) struct image_policy *pol = NULL;
	r = image_policy_load(o, &pol, err);
	if (r < 0)
		return r;
	cleanup(image_registries_d_free) struct image_registries_d *rd = NULL;
	r = image_registries_d_load(o->registries_d ? o->registries_d : IMAGE_REGISTRIES_D, &rd,
				    err);
	if (r < 0)
		return r;
	if (!ref->short_name)
		return pull_candidate(svc, p, regs, pol, rd, ref, o, ret_id, err);
	struct image_ref **cands = NULL;
	size_t n = 0;
	r = image_registries_resolve(regs, ref, &cands, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		err_done(err);
		r = pull_candidate(svc, p, regs, pol, rd, cands[i], o, ret_id, err);
		if (r >= 0 || r == -ECANCELED)
			break;
	}
	image_refs_free(cands);
	return r;
}

void image_service_counters(struct image_service *svc, uint64_t *ret_bytes, uint64_t *ret_reused)
{
	*ret_bytes = __atomic_load_n(&svc->bytes_pulled, __ATOMIC_RELAXED);
	*ret_reused = __atomic_load_n(&svc->layers_reused, __ATOMIC_RELAXED);
}
