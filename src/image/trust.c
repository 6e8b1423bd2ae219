/* What the policy decided when an image was pulled, kept beside the
 * store (<root>/trust/<config hex>.json) for ImageStatus verbose and for
 * the check at CreateContainer. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fs.h"
#include "base/json.h"
#include "image/policy_int.h"
#include "image/service_int.h"
#include "storage/storage.h"

#define TRUST_MAX (64u << 10)

static char *trust_path(struct image_service *svc, const char *id)
{
	const char *hex = str_has_prefix(id, "sha256:") ? id + 7 : id;
	return xasprintf("%s/trust/%s.json", storage_root(svc->st), hex);
}

int image_trust_save(struct image_service *svc, const char *id, const char *name,
		     const struct image_policy *pol, const struct image_ref *asked,
		     const char *info, struct err *err)
{
	const struct image_scope *s = image_policy_scope(pol, asked);
	cleanup_free char *label = image_scope_label(pol, s);
	const char *hex = str_has_prefix(id, "sha256:") ? id + 7 : id;
	cleanup_free char *file = xasprintf("%s.json", hex);
	json_t *reqs = json_array();
	for (size_t i = 0; i < s->n_reqs; i++)
		json_array_append_new(reqs, json_string(image_req_name(s->reqs[i].type)));
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s}", "pulledAs", name, "policy", pol->file,
			      "scope", label, "requirements", reqs, "acceptedBy",
			      info ? info : "insecureAcceptAnything");
	cleanup_free char *text = js_dump(o, 0);
	json_decref(o);
	cleanup_close int root = open(storage_root(svc->st), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return err_set(err, -errno, "open %s", storage_root(svc->st));
	cleanup_close int dir = fs_mkdir_p_at(root, "trust", 0700, err);
	if (dir < 0)
		return dir;
	return fs_write_file_atomic(dir, file, text, strlen(text), 0600, 0, err);
}

char *image_trust_load(struct image_service *svc, const char *id)
{
	cleanup_free char *path = trust_path(svc, id);
	cleanup_err struct err err = ERR_INIT;
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, path, TRUST_MAX, &text, &len, &err) < 0)
		return NULL;
	return text;
}

void image_trust_drop(struct image_service *svc, const char *id)
{
	cleanup_free char *path = trust_path(svc, id);
	(void)unlink(path); /* none for an image pulled before trust records */
}

/* Signature requirements of `s` that `record` (a trust record's
 * "requirements") did not hold: the policy got stricter since. */
static bool stricter(const struct image_scope *s, const json_t *record)
{
	for (size_t i = 0; i < s->n_reqs; i++) {
		enum image_req_type t = s->reqs[i].type;
		if (t != IMAGE_REQ_SIGNED_BY && t != IMAGE_REQ_SIGSTORE)
			continue;
		bool had = false;
		size_t k;
		json_t *e;
		json_array_foreach((json_t *)json_object_get(record, "requirements"), k, e) had =
		    had ||
		    (json_is_string(e) && strcmp(json_string_value(e), image_req_name(t)) == 0);
		if (!had)
			return true;
	}
	return false;
}

int image_trust_check(struct image_service *svc, const char *name,
		      const struct image_pull_opts *asked, struct err *err)
{
	cleanup(svc_settings_put) struct svc_settings *set = svc_settings_get(svc);
	struct image_pull_opts full = *asked;
	const struct image_pull_opts *o = &full;
	svc_settings_apply(set, &full);
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup(image_policy_free) struct image_policy *pol = NULL;
	cleanup_free char *id = NULL;
	int r = image_resolve(svc, name, o->registries_conf, &id, err);
	if (r < 0) {
		/* no such image: the create says so itself */
		err_done(err);
		return 0;
	}
	r = image_policy_load(o, &pol, err);
	if (r < 0)
		return r;
	if (image_ref_parse(name, &ref, err) < 0 || ref->short_name) {
		/* an id or a short name: the names the image was pulled as */
		err_done(err);
		return 0;
	}
	int need = image_policy_check(pol, ref, NULL, err);
	if (need < 0)
		return err_wrap(err, "image %s may not run any more", name);
	if (need == 0)
		return 0;
	const struct image_scope *s = image_policy_scope(pol, ref);
	cleanup_free char *label = image_scope_label(pol, s);
	cleanup_free char *text = image_trust_load(svc, id);
	cleanup(json_decref) json_t *rec = NULL;
	cleanup_err struct err e = ERR_INIT;
	if (text && js_load("trust record", text, strlen(text), SIZE_MAX, &rec, &e) < 0)
		return err_msg(err, -EACCES, "image %s: %s: pull it again", name, err_str(&e));
	if (rec && !stricter(s, rec))
		return 0;
	return err_msg(
	    err, -EACCES,
	    "image %s was pulled %s; policy %s now requires %s for scope %s: pull it again so its signatures are verified",
	    name,
	    rec ? "without the signatures the policy asks for now"
		: "before its signatures were checked",
	    pol->file, (need & IMAGE_NEED_GPG) ? "signedBy" : "sigstoreSigned", label);
}
