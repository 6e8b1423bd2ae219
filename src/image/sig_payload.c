/* Signature payloads (the atomic container signature of simple signing,
 * cosign's container image signature) and signedIdentity matching. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "image/policy_int.h"

int image_b64_decode(const char *s, char **ret, size_t *ret_len)
{
	size_t n = strlen(s);
	cleanup_free char *padded = NULL;
	if (n % 4) {
		if (n % 4 == 1)
			return -EINVAL;
		padded = xasprintf("%s%s", s, n % 4 == 2 ? "==" : "=");
		s = padded;
		n = strlen(s);
	}
	for (size_t i = 0; i < n; i++)
		if (!(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '+' && s[i] != '/' &&
		    !(s[i] == '=' && i + 2 >= n))
			return -EINVAL;
	if (n > (size_t)INT32_MAX)
		return -EINVAL;
	cleanup_free char *out = xmalloc(n / 4 * 3 + 1);
	int m = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	if (m < 0)
		return -EINVAL;
	/* EVP_DecodeBlock counts the bytes of the padding too */
	if (n >= 1 && s[n - 1] == '=')
		m--;
	if (n >= 2 && s[n - 2] == '=')
		m--;
	out[m] = '\0';
	*ret_len = (size_t)m;
	*ret = TAKE_PTR(out);
	return 0;
}

void image_sig_payload_done(struct image_sig_payload *p)
{
	free(p->docker_ref);
	free(p->digest);
	*p = (struct image_sig_payload){ 0 };
}

/* `o` is an object of exactly the one member `key`, a string. */
static const char *sole_str(const json_t *o, const char *key)
{
	if (!json_is_object(o) || json_object_size(o) != 1)
		return NULL;
	return json_string_value(json_object_get(o, key));
}

int image_sig_payload_parse(const char *data, size_t len, const char *type,
			    struct image_sig_payload *ret, struct err *err)
{
	cleanup(json_decref) json_t *doc = NULL;
	if (len > IMAGE_SIG_MAX)
		return err_msg(err, -EFBIG, "signature payload is larger than %u bytes",
			       IMAGE_SIG_MAX);
	int r = image_json_load("signature payload", data, len, &doc, err);
	if (r < 0)
		return r;
	const json_t *crit = json_object_get(doc, "critical");
	const json_t *opt = json_object_get(doc, "optional");
	if (!json_is_object(doc) || !json_is_object(crit) ||
	    (opt && !json_is_object(opt) && !json_is_null(opt)))
		return err_msg(err, -EINVAL, "signature payload: no \"critical\" object");
	const char *t = json_string_value(json_object_get(crit, "type"));
	const char *ref = sole_str(json_object_get(crit, "identity"), "docker-reference");
	const char *dig = sole_str(json_object_get(crit, "image"), "docker-manifest-digest");
	if (json_object_size(crit) != 3 || !t || !ref || !dig)
		return err_msg(
		    err, -EINVAL,
		    "signature payload: \"critical\" must hold exactly type, identity.docker-reference and image.docker-manifest-digest");
	if (strcmp(t, type) != 0)
		return err_msg(err, -EINVAL, "signature payload: type '%.64s' is not '%s'", t,
			       type);
	if (!image_digest_valid(dig))
		return err_msg(err, -EINVAL, "signature payload: invalid manifest digest '%.80s'",
			       dig);
	ret->docker_ref = xstrdup(ref);
	ret->digest = xstrdup(dig);
	return 0;
}

/* name:tag, name@digest or name:tag@digest; a name alone is name:latest
 * on both sides, as the image puller normalises it. */
static char *full_of(const struct image_ref *r)
{
	return image_ref_string(r, IMAGE_REF_FULL);
}

static bool same_name(const struct image_ref *a, const struct image_ref *b)
{
	return strcmp(a->domain, b->domain) == 0 && strcmp(a->path, b->path) == 0;
}

static bool repo_digest_or_exact(const struct image_ref *img, const struct image_ref *sig)
{
	if (img->digest)
		return same_name(img, sig);
	cleanup_free char *a = full_of(img), *b = full_of(sig);
	return strcmp(a, b) == 0;
}

/* `name` with `prefix` replaced by `to`, when prefix is the whole name or
 * ends at a '/' of it; NULL otherwise. */
static char *remap(const char *name, const char *prefix, const char *to)
{
	size_t n = strlen(prefix);
	if (strncmp(name, prefix, n) != 0 || (name[n] != '\0' && name[n] != '/'))
		return NULL;
	return xasprintf("%s%s", to, name + n);
}

/* A prefix as names are normalised (docker.io/library/...); a host alone
 * stays as it is. NULL when it is not valid. */
static char *norm_prefix(const char *s)
{
	cleanup(image_ref_free) struct image_ref *r = NULL;
	cleanup_err struct err err = ERR_INIT;
	if (!strchr(s, '/'))
		return xstrdup(s);
	if (image_ref_parse(s, &r, &err) < 0)
		return NULL;
	return image_ref_string(r, IMAGE_REF_NAME);
}

static bool matches(const struct image_identity *id, const struct image_ref *img,
		    const struct image_ref *sig, struct err *err)
{
	cleanup(image_ref_free) struct image_ref *want = NULL;
	cleanup_free char *a = NULL, *b = NULL;
	switch (id->type) {
	case IDENT_MATCH_REPO_DIGEST_OR_EXACT:
		return repo_digest_or_exact(img, sig);
	case IDENT_MATCH_REPOSITORY:
		return same_name(img, sig);
	case IDENT_MATCH_EXACT:
		a = full_of(img);
		b = full_of(sig);
		return strcmp(a, b) == 0;
	case IDENT_EXACT_REFERENCE:
		if (image_ref_parse(id->ref, &want, err) < 0)
			return false;
		a = full_of(want);
		b = full_of(sig);
		return strcmp(a, b) == 0;
	case IDENT_EXACT_REPOSITORY:
		if (image_ref_parse(id->ref, &want, err) < 0)
			return false;
		return same_name(want, sig);
	case IDENT_REMAP: {
		cleanup_free char *name = image_ref_string(img, IMAGE_REF_NAME);
		cleanup_free char *pn = norm_prefix(id->prefix);
		cleanup_free char *spn = norm_prefix(id->signed_prefix);
		cleanup_free char *mapped = pn && spn ? remap(name, pn, spn) : NULL;
		if (!mapped)
			return repo_digest_or_exact(img, sig);
		if (image_ref_from_parts(mapped, img->tag, img->digest, &want, err) < 0)
			return false;
		return repo_digest_or_exact(want, sig);
	}
	}
	return false;
}

int image_identity_match(const struct image_identity *id, const struct image_ref *image,
			 const char *signed_ref, struct err *err)
{
	cleanup(image_ref_free) struct image_ref *sig = NULL;
	cleanup_err struct err perr = ERR_INIT;
	if (image_ref_parse(signed_ref, &sig, &perr) < 0)
		return err_msg(err, -EACCES,
			       "the signed identity '%.200s' is not a valid reference", signed_ref);
	if (matches(id, image, sig, &perr))
		return 0;
	cleanup_free char *img = full_of(image);
	const char *want = img;
	cleanup_free char *rule = NULL;
	if (id->type == IDENT_EXACT_REFERENCE || id->type == IDENT_EXACT_REPOSITORY)
		want = id->ref;
	if (id->type == IDENT_REMAP)
		rule = xasprintf(" (signedIdentity remapIdentity %s -> %s)", id->prefix,
				 id->signed_prefix);
	else
		rule = xasprintf(" (signedIdentity %s)", image_ident_name(id->type));
	return err_msg(err, -EACCES, "identity '%.200s' does not match '%.200s'%s", signed_ref,
		       want, rule);
}
