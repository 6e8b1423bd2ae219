/* Where a pull's signatures come from: a lookaside store (a directory or
 * a web server, containers-registries.d(5)) for simple signatures, the
 * registry's "sha256-<hex>.sig" tag for sigstore attachments. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "base/base.h"
#include "base/fs.h"
#include "image/http_int.h"
#include "image/policy_int.h"

#define COSIGN_ANNOTATION "dev.cosignproject.cosign/signature"

static void add(struct image_sigs *s, bool sigstore, char *where, char *data, size_t len,
		char *b64sig)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = (struct image_sig){ sigstore, where, data, len, b64sig };
}

/* One lookaside signature: 1 found, 0 there is none, < 0 failure. */
static int lookaside_get(const char *url, char **ret, size_t *ret_len, struct err *err)
{
	if (str_has_prefix(url, "file://")) {
		int r = fs_read_file(AT_FDCWD, url + 7, IMAGE_SIG_MAX, ret, ret_len, err);
		if (r == -ENOENT) {
			err_done(err);
			return 0;
		}
		return r < 0 ? r : 1;
	}
	struct image_http_opts ho = { .tls_verify = true };
	cleanup(image_http_free) struct image_http *h = NULL;
	int r = image_http_start(url, &ho, &h, err);
	if (r >= 0)
		r = image_http_wait_headers(h, err);
	if (r < 0)
		return err_wrap(err, "lookaside %s", url);
	if (h->status == 404)
		return 0;
	if (h->status != 200)
		return err_msg(err, h->status >= 500 ? -EREMOTEIO : -EPROTO,
			       "lookaside %s answered HTTP %ld", url, h->status);
	r = image_http_read_all(h, IMAGE_SIG_MAX, ret, ret_len, err);
	return r < 0 ? err_wrap(err, "lookaside %s", url) : 1;
}

static int fetch_lookaside(const char *base, const struct image_ref *asked, const char *digest,
			   struct image_sigs *s, struct err *err)
{
	cleanup_free char *dir = xasprintf("%s/%s@sha256=%s", base, asked->path, digest + 7);
	s->gpg_where = xasprintf("%s/signature-1", dir);
	for (int i = 1; i <= IMAGE_SIGS_MAX; i++) {
		char *url = xasprintf("%s/signature-%d", dir, i), *data = NULL;
		size_t len = 0;
		int r = lookaside_get(url, &data, &len, err);
		if (r <= 0) {
			free(url);
			return r;
		}
		add(s, false, url, data, len, NULL);
	}
	return 0;
}

static int fetch_sigstore(struct image_registry *reg, const char *repo, const char *digest,
			  struct image_sigs *s, struct err *err)
{
	cleanup_free char *tag = xasprintf("sha256-%s.sig", digest + 7);
	s->sigstore_where = xasprintf("%s:%s", repo, tag);
	struct image_fetched m = { 0 };
	int r = image_registry_get_manifest(reg, repo, tag, &m, err);
	if (r == -ENOENT) {
		err_done(err);
		return 0;
	}
	if (r < 0)
		return r;
	cleanup(json_decref) json_t *doc = NULL;
	r = image_json_load("sigstore attachment manifest", m.data, m.len, &doc, err);
	image_fetched_done(&m);
	if (r < 0)
		return err_wrap(err, "%s", s->sigstore_where);
	const json_t *layers = json_object_get(doc, "layers");
	size_t i;
	json_t *l;
	json_array_foreach((json_t *)layers, i, l)
	{
		const char *d = json_string_value(json_object_get(l, "digest"));
		const char *sig = json_string_value(
		    json_object_get(json_object_get(l, "annotations"), COSIGN_ANNOTATION));
		if (i >= IMAGE_SIGS_MAX)
			break;
		if (!d || !sig || !image_digest_valid(d))
			continue; /* not a signature: the policy says if one is missing */
		struct image_fetched b = { 0 };
		r = image_registry_get_blob(reg, repo, d, IMAGE_SIG_MAX, &b, err);
		if (r < 0)
			return err_wrap(err, "%s", s->sigstore_where);
		add(s, true, xasprintf("%s layer %zu", s->sigstore_where, i), b.data, b.len,
		    xstrdup(sig));
		b.data = NULL;
		image_fetched_done(&b);
	}
	return 0;
}

int image_sigs_fetch(const struct image_registries_d *rd, const struct image_ref *asked,
		     struct image_registry *reg, const char *repo, const char *digest, int need,
		     struct image_sigs *ret, struct err *err)
{
	const char *lookaside = NULL;
	bool sigstore = false;
	int r = 0;
	image_registries_d_lookup(rd, asked, &lookaside, &sigstore);
	if ((need & IMAGE_NEED_GPG) && lookaside)
		r = fetch_lookaside(lookaside, asked, digest, ret, err);
	if (r >= 0 && (need & IMAGE_NEED_SIGSTORE) && sigstore)
		r = fetch_sigstore(reg, repo, digest, ret, err);
	return r < 0 ? err_wrap(err, "signatures") : 0;
}
