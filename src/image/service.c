/* The image service: shared pulls, layer claims and pins, progress. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <jansson.h>

#include "base/base.h"
#include "base/json.h"
#include "db/ctr.h"
#include "db/image.h"
#include "image/image_int.h"
#include "image/service_int.h"
#include "storage/storage.h"

/* Layers no recorded image uses: left by a pull that was killed between
 * unpacking and recording. Deleted at start-up, before any pull runs. */
static int drop_orphans(struct storage *st, struct db *db, struct err *err)
{
	cleanup(strv_free) char **present = NULL;
	cleanup(strv_free) char **known = NULL;
	cleanup(strv_free) char **in_use = NULL;
	int r = storage_layer_list(st, &present, err);
	if (r >= 0)
		r = db_layer_list(db, &known, err);
	if (r >= 0)
		r = db_ctr_layers_in_use(db, &in_use, err);
	for (size_t i = 0; r >= 0 && present && present[i]; i++)
		if (!strv_contains(known, present[i]) && !strv_contains(in_use, present[i]))
			r = storage_layer_delete(st, present[i], err);
	return r;
}

int image_service_new(struct storage *st, struct db *db, struct image_service **ret,
		      struct err *err)
{
	/* Thread-safe since curl 7.84; called once at start-up anyway. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_msg(err, -ENOMEM, "cannot initialise libcurl");
	int r = storage_tmp_clean(st, err);
	if (r >= 0)
		r = drop_orphans(st, db, err);
	if (r < 0)
		return r;
	struct image_service *svc = xnew(struct image_service);
	svc->st = st;
	svc->db = db;
	svc->tokens = image_token_cache_new();
	pthread_mutex_init(&svc->lock, NULL);
	pthread_cond_init(&svc->cond, NULL);
	svc_settings_init(svc);
	*ret = svc;
	return 0;
}

void image_service_free(struct image_service *svc)
{
	if (!svc)
		return;
	image_token_cache_free(svc->tokens);
	strv_free(svc->busy);
	strv_free(svc->pins);
	svc_settings_put(svc->settings);
	pthread_cond_destroy(&svc->cond);
	pthread_mutex_destroy(&svc->lock);
	free(svc);
}

void strv_remove_one(char **v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0) {
			free(v[i]);
			for (; v[i]; i++)
				v[i] = v[i + 1];
			return;
		}
}

void svc_pin(struct image_service *svc, char *const *chains)
{
	pthread_mutex_lock(&svc->lock);
	for (size_t i = 0; chains && chains[i]; i++)
		strv_push(&svc->pins, chains[i]);
	pthread_mutex_unlock(&svc->lock);
}

void svc_unpin(struct image_service *svc, char *const *chains)
{
	pthread_mutex_lock(&svc->lock);
	for (size_t i = 0; chains && chains[i]; i++)
		strv_remove_one(svc->pins, chains[i]);
	pthread_mutex_unlock(&svc->lock);
}

int svc_claim(struct image_service *svc, const char *chain)
{
	pthread_mutex_lock(&svc->lock);
	while (strv_contains(svc->busy, chain))
		pthread_cond_wait(&svc->cond, &svc->lock);
	int present = storage_layer_exists(svc->st, chain) == 1;
	if (!present)
		strv_push(&svc->busy, chain);
	pthread_mutex_unlock(&svc->lock);
	return present;
}

void svc_release(struct image_service *svc, const char *chain)
{
	pthread_mutex_lock(&svc->lock);
	strv_remove_one(svc->busy, chain);
	pthread_cond_broadcast(&svc->cond);
	pthread_mutex_unlock(&svc->lock);
}

static void pull_free(struct pull *p)
{
	for (size_t i = 0; i < p->n_layers; i++)
		free(p->layers[i].digest);
	free(p->layers);
	free(p->callers);
	free(p->key);
	free(p->msg);
	free(p->id);
	free(p);
}

/* Join the pull of `key` in flight, or start one (*ret_owner). */
static struct pull *pull_join(struct image_service *svc, const char *key,
			      const struct pull_caller *me, bool *ret_owner)
{
	pthread_mutex_lock(&svc->lock);
	struct pull *p = svc->pulls;
	while (p && (p->finished || strcmp(p->key, key) != 0))
		p = p->next;
	*ret_owner = !p;
	if (!p) {
		p = xnew(struct pull);
		p->svc = svc;
		p->key = xstrdup(key);
		p->next = svc->pulls;
		svc->pulls = p;
	}
	p->waiters++;
	p->callers = xreallocarray(p->callers, p->n_callers + 1, sizeof(*p->callers));
	p->callers[p->n_callers++] = *me;
	pthread_mutex_unlock(&svc->lock);
	return p;
}

bool pull_cancelled(void *opaque)
{
	struct pull *p = opaque;
	pthread_mutex_lock(&p->svc->lock);
	bool all = p->n_callers > 0;
	for (size_t i = 0; i < p->n_callers && all; i++)
		all = p->callers[i].fn && p->callers[i].fn(p->callers[i].opaque);
	pthread_mutex_unlock(&p->svc->lock);
	return all;
}

/* Forget caller `me` of `p` (under svc->lock). */
static void pull_forget_locked(struct pull *p, const struct pull_caller *me)
{
	for (size_t i = 0; i < p->n_callers; i++)
		if (p->callers[i].fn == me->fn && p->callers[i].opaque == me->opaque) {
			p->callers[i] = p->callers[--p->n_callers];
			return;
		}
}

/* Drop one reference under svc->lock; the last one unlinks and frees. */
static void pull_leave_locked(struct image_service *svc, struct pull *p)
{
	if (--p->waiters > 0)
		return;
	for (struct pull **pp = &svc->pulls; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	pull_free(p);
}

/* The key under which callers share a pull: the full name and a digest of
 * the credentials, so only callers with the same credentials share. */
static char *pull_key(const struct image_ref *ref, const struct image_pull_opts *o)
{
	cleanup_free char *full = image_ref_string(ref, IMAGE_REF_FULL);
	const struct image_creds *c = o->creds;
	cleanup_free char *secret = NULL;
	if (c && !image_creds_empty(c))
		secret = xasprintf("%s\n%s\n%s\n%s\n%s", c->username ? c->username : "",
				   c->password ? c->password : "",
				   c->identity_token ? c->identity_token : "",
				   c->registry_token ? c->registry_token : "",
				   o->creds_server ? o->creds_server : "");
	unsigned char md[32];
	unsigned int mdlen = 0;
	(void)EVP_Digest(secret ? secret : "", secret ? strlen(secret) : 0, md, &mdlen,
			 EVP_sha256(), NULL);
	if (secret)
		explicit_bzero(secret, strlen(secret));
	/* pods of namespaces with policies of their own do not share a pull;
	 * those under the global policy do (a namespace's file that appears
	 * while a shared pull runs applies from the next pull on) */
	bool ns = false;
	if (!str_empty(o->policy_dir) && !str_empty(o->pod_namespace) &&
	    image_namespace_valid(o->pod_namespace)) {
		cleanup_free char *own = xasprintf("%s/%s.json", o->policy_dir, o->pod_namespace);
		ns = access(own, F_OK) == 0 || errno != ENOENT;
	}
	return xasprintf("%s %02x%02x%02x%02x%02x%02x%02x%02x%s%s", full, md[0], md[1], md[2],
			 md[3], md[4], md[5], md[6], md[7], ns ? " ns=" : "",
			 ns ? o->pod_namespace : "");
}

/* Wait (under svc->lock) until `p` finishes; false when `me` was cancelled
 * first. The cancellation is polled: the rpc layer has no callback for it. */
static bool pull_wait_locked(struct image_service *svc, struct pull *p,
			     const struct pull_caller *me)
{
	while (!p->finished) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&svc->cond, &svc->lock, &ts);
		if (!p->finished && me->fn && me->fn(me->opaque))
			return false;
	}
	return true;
}

/* A full disk is named: the filesystem of the root, and its room. */
static void name_full_disk(struct image_service *svc, struct err *e)
{
	const char *root = storage_root(svc->st);
	struct statvfs v;
	if (statvfs(root, &v) < 0) {
		(void)err_wrap(e, "no space left on the filesystem of %s", root);
		return;
	}
	uint64_t bsize = v.f_frsize ? v.f_frsize : v.f_bsize;
	(void)err_wrap(e, "no space left on the filesystem of %s (%llu MiB free of %llu MiB)", root,
		       (unsigned long long)(v.f_bavail * bsize >> 20),
		       (unsigned long long)(v.f_blocks * bsize >> 20));
}

/* Run the pull as its owner and publish the outcome to every waiter. */
static void pull_own(struct image_service *svc, struct pull *p, const char *name,
		     const struct image_pull_opts *o)
{
	char *id = NULL;
	struct err e = ERR_INIT;
	int r = pull_run(svc, p, name, o, &id, &e);
	if (r == -ENOSPC || r == -EDQUOT)
		name_full_disk(svc, &e);
	pthread_mutex_lock(&svc->lock);
	p->rc = r;
	p->id = id;
	p->msg = e.msg ? xstrdup(e.msg) : NULL;
	p->finished = true;
	pthread_cond_broadcast(&svc->cond);
	pthread_mutex_unlock(&svc->lock);
	err_done(&e);
}

int image_pull(struct image_service *svc, const char *name, const struct image_pull_opts *asked,
	       char **ret_id, struct err *err)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	int r = image_ref_parse(name, &ref, err);
	if (r < 0)
		return r;
	cleanup(svc_settings_put) struct svc_settings *set = svc_settings_get(svc);
	struct image_pull_opts full = *asked;
	const struct image_pull_opts *o = &full;
	svc_settings_apply(set, &full);
	cleanup_free char *key = pull_key(ref, o);
	bool owner;
	struct pull_caller me = { o->cancelled, o->cancel_opaque };
	struct pull *p = pull_join(svc, key, &me, &owner);
	if (owner)
		pull_own(svc, p, name, o);
	pthread_mutex_lock(&svc->lock);
	bool done = pull_wait_locked(svc, p, &me);
	pull_forget_locked(p, &me);
	r = done ? p->rc : -ECANCELED;
	if (!done)
		err_msg(err, r, "cancelled while waiting for a shared pull");
	else if (r >= 0)
		*ret_id = xstrdup(p->id);
	else
		err_msg(err, r, "%s", p->msg ? p->msg : "pull failed");
	pull_leave_locked(svc, p);
	pthread_mutex_unlock(&svc->lock);
	return r;
}

static const char *const state_names[] = {
	[LS_WAITING] = "waiting", [LS_DOWNLOADING] = "downloading", [LS_DONE] = "done",
	[LS_EXISTS] = "exists",	  [LS_FAILED] = "failed",
};

char *image_pull_progress_json(struct image_service *svc)
{
	json_t *all = json_array();
	pthread_mutex_lock(&svc->lock);
	for (struct pull *p = svc->pulls; p; p = p->next) {
		if (p->finished)
			continue;
		json_t *layers = json_array();
		for (size_t i = 0; i < p->n_layers; i++) {
			const struct layer_progress *l = &p->layers[i];
			uint64_t done = __atomic_load_n(&l->done, __ATOMIC_RELAXED);
			json_array_append_new(
			    layers, json_pack("{s:s, s:I, s:I, s:s}", "digest", l->digest, "size",
					      (json_int_t)l->size, "done", (json_int_t)done,
					      "state", state_names[l->state]));
		}
		json_array_append_new(all, json_pack("{s:s#, s:o}", "name", p->key,
						     (int)strcspn(p->key, " "), "layers", layers));
	}
	pthread_mutex_unlock(&svc->lock);
	char *s = js_dump(all, 0);
	json_decref(all);
	return s;
}

int image_fs_info(struct image_service *svc, struct image_fs_info *ret, struct err *err)
{
	struct storage_usage u = { 0 };
	int r = storage_usage(svc->st, &u, err);
	if (r < 0)
		return r;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ret->mountpoint = xasprintf("%s/layers", storage_root(svc->st));
	ret->bytes = u.bytes;
	ret->inodes = u.inodes;
	ret->timestamp_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return 0;
}

void image_fs_info_done(struct image_fs_info *f)
{
	free(f->mountpoint);
	f->mountpoint = NULL;
}
