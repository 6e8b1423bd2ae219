/* image_policy_verify: each signedBy / sigstoreSigned requirement of the
 * scope must be met by one signature whose key is the requirement's, whose
 * manifest digest is the pulled one and whose identity the requirement's
 * signedIdentity accepts. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "base/base.h"
#include "base/fs.h"
#include "image/policy_int.h"

#define KEY_FILE_MAX (1u << 20)
#define GPG_TYPE "atomic container signature"
#define COSIGN_TYPE "cosign container image signature"

void image_sigs_done(struct image_sigs *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].where);
		free(s->v[i].data);
		free(s->v[i].b64sig);
	}
	free(s->v);
	free(s->gpg_where);
	free(s->sigstore_where);
	*s = (struct image_sigs){ 0 };
}

/* The requirement's keys: its files read, or its keyData. */
struct keys {
	char **data;
	size_t *lens;
	size_t n;
};

static void keys_done(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->data[i]);
	free(k->data);
	free(k->lens);
}

static int keys_load(const struct image_req *q, struct keys *k, struct err *err)
{
	size_t n = q->key_paths ? strv_len(q->key_paths) : 1;
	k->data = xcalloc(n, sizeof(*k->data));
	k->lens = xcalloc(n, sizeof(*k->lens));
	if (!q->key_paths) {
		k->data[0] = xmemdup(q->key_data, q->key_data_len + 1);
		k->lens[0] = q->key_data_len;
		k->n = 1;
		return 0;
	}
	for (; k->n < n; k->n++) {
		int r = fs_read_file(AT_FDCWD, q->key_paths[k->n], KEY_FILE_MAX, &k->data[k->n],
				     &k->lens[k->n], err);
		if (r < 0)
			return err_wrap(err, "read key");
	}
	return 0;
}

static char *keys_what(const struct image_req *q)
{
	if (!q->key_paths)
		return xstrdup("keyData");
	cleanup_free char *j = strv_join(q->key_paths, ", ");
	return xasprintf("keys %s", j);
}

/* One signature: its payload's digest and identity. */
static int check_payload(const struct image_req *q, const struct image_ref *ref, const char *digest,
			 const char *data, size_t len, const char *type, struct err *err)
{
	struct image_sig_payload pl = { 0 };
	int r = image_sig_payload_parse(data, len, type, &pl, err);
	if (r < 0) {
		err_wrap(err, "malformed");
		err->code = -EACCES;
		return -EACCES;
	}
	if (strcmp(pl.digest, digest) != 0)
		r = err_msg(err, -EACCES,
			    "it signs manifest %s, not the pulled %s (digest mismatch)", pl.digest,
			    digest);
	else
		r = image_identity_match(&q->ident, ref, pl.docker_ref, err);
	image_sig_payload_done(&pl);
	return r;
}

static int verify_gpg(const struct image_req *q, const struct image_ref *ref, const char *digest,
		      const struct image_sigs *sigs, char **ret_fpr, struct err *err)
{
	struct keys k = { 0 };
	cleanup_free char *what = keys_what(q);
	int r = keys_load(q, &k, err);
	cleanup(image_gpg_free) struct image_gpg *g = NULL;
	if (r >= 0)
		r = image_gpg_new((const char *const *)k.data, k.lens, k.n, what, &g, err);
	keys_done(&k);
	if (r < 0)
		return r;
	cleanup_free char *last = NULL;
	for (size_t i = 0; i < sigs->n; i++) {
		const struct image_sig *s = &sigs->v[i];
		cleanup_free char *payload = NULL, *fpr = NULL;
		size_t len = 0;
		if (s->sigstore)
			continue;
		r = image_gpg_verify(g, s->data, s->len, &payload, &len, &fpr, err);
		if (r >= 0)
			r = check_payload(q, ref, digest, payload, len, GPG_TYPE, err);
		if (r >= 0) {
			*ret_fpr = TAKE_PTR(fpr);
			return 0;
		}
		free(last);
		last = xasprintf("%s: %s", s->where, err_str(err));
		err_done(err);
	}
	if (last)
		return err_msg(err, -EACCES, "no signature verifies (%s)", last);
	return err_msg(err, -EACCES, "no signature found at %s",
		       sigs->gpg_where ? sigs->gpg_where
				       : "any lookaside (registries.d names none for this image)");
}

static int verify_sigstore(const struct image_req *q, const struct image_ref *ref,
			   const char *digest, const struct image_sigs *sigs, char **ret_fpr,
			   struct err *err)
{
	struct keys k = { 0 };
	int r = keys_load(q, &k, err);
	if (r < 0) {
		keys_done(&k);
		return r;
	}
	cleanup_free char *last = NULL;
	for (size_t i = 0; i < sigs->n && r >= 0; i++) {
		const struct image_sig *s = &sigs->v[i];
		if (!s->sigstore)
			continue;
		cleanup_free char *fpr = NULL;
		int v = -EACCES;
		for (size_t j = 0; j < k.n && v < 0; j++) {
			err_done(err);
			v = image_sigstore_verify(k.data[j], k.lens[j], s->data, s->len, s->b64sig,
						  &fpr, err);
		}
		if (v >= 0)
			v = check_payload(q, ref, digest, s->data, s->len, COSIGN_TYPE, err);
		if (v >= 0) {
			*ret_fpr = TAKE_PTR(fpr);
			keys_done(&k);
			return 0;
		}
		free(last);
		last = xasprintf("%s: %s", s->where, err_str(err));
		err_done(err);
	}
	keys_done(&k);
	if (last)
		return err_msg(err, -EACCES, "no signature verifies (%s)", last);
	return err_msg(
	    err, -EACCES, "no signature found at %s",
	    sigs->sigstore_where
		? sigs->sigstore_where
		: "any sigstore attachment (registries.d does not turn them on for this image)");
}

int image_policy_verify(const struct image_policy *p, const struct image_ref *ref,
			const char *digest, const struct image_sigs *sigs, char **ret_info,
			struct err *err)
{
	const struct image_scope *s = image_policy_scope(p, ref);
	cleanup_free char *label = image_scope_label(p, s);
	cleanup(strv_free) char **info = NULL;
	for (size_t i = 0; i < s->n_reqs; i++) {
		const struct image_req *q = &s->reqs[i];
		cleanup_free char *fpr = NULL;
		int r = 0;
		switch (q->type) {
		case IMAGE_REQ_ACCEPT:
			strv_push_take(&info, xasprintf("scope %s: insecureAcceptAnything", label));
			continue;
		case IMAGE_REQ_REJECT:
			return err_msg(err, -EACCES, "image rejected by policy %s: scope %s",
				       p->file, label);
		case IMAGE_REQ_SIGNED_BY:
			r = verify_gpg(q, ref, digest, sigs, &fpr, err);
			break;
		case IMAGE_REQ_SIGSTORE:
			r = verify_sigstore(q, ref, digest, sigs, &fpr, err);
			break;
		}
		if (r < 0) {
			cleanup_free char *why = xstrdup(err_str(err));
			err_done(err);
			return err_msg(err, -EACCES, "policy %s: scope %s requires %s: %s", p->file,
				       label, image_req_name(q->type), why);
		}
		strv_push_take(&info, xasprintf("scope %s: %s by key %s", label,
						image_req_name(q->type), fpr));
	}
	if (ret_info)
		*ret_info = info ? strv_join(info, "; ") : NULL;
	return 0;
}
