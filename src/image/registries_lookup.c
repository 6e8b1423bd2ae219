/* registries.conf lookups: endpoints (mirrors, then the source) for a
 * reference, and candidates for a short name. */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "image/registries_int.h"

/* The host part of a domain (without ":port"; an [IPv6] keeps its brackets). */
static size_t host_len(const char *domain)
{
	if (domain[0] == '[') {
		const char *close = strchr(domain, ']');
		return close ? (size_t)(close - domain) + 1 : strlen(domain);
	}
	return strcspn(domain, ":");
}

/* How many leading bytes of `name` the registry `g` matches (0: no match). */
static size_t match_len(const struct reg_registry *g, const struct image_ref *ref, const char *name)
{
	if (g->wildcard) {
		const char *suffix = g->prefix + 1; /* ".example.com" */
		size_t hl = host_len(ref->domain), sl = strlen(suffix);
		if (hl > sl && strncmp(ref->domain + hl - sl, suffix, sl) == 0)
			return strlen(ref->domain);
		return 0;
	}
	size_t pl = strlen(g->prefix);
	if (strncmp(name, g->prefix, pl) == 0 && (name[pl] == '\0' || name[pl] == '/'))
		return pl;
	return 0;
}

/* The registry with the longest matching prefix; exact before wildcard. */
static const struct reg_registry *find_registry(const struct image_registries *r,
						const struct image_ref *ref, const char *name,
						size_t *ret_len)
{
	const struct reg_registry *best = NULL;
	size_t best_rank = 0;

	for (size_t i = 0; i < r->n_regs; i++) {
		const struct reg_registry *g = &r->regs[i];
		size_t len = match_len(g, ref, name);
		if (len == 0)
			continue;
		/* rank by prefix length; on a tie the exact prefix wins */
		size_t rank = strlen(g->prefix) * 2 + (g->wildcard ? 0 : 1);
		if (rank > best_rank) {
			best_rank = rank;
			best = g;
			*ret_len = len;
		}
	}
	return best;
}

static int add_endpoint(struct image_endpoint **eps, size_t *n, const char *location,
			const struct image_ref *ref, const char *name, size_t matched,
			bool insecure, bool mirror, struct err *err)
{
	cleanup_free char *rewritten = xasprintf("%s%s", location, name + matched);
	struct image_ref *nref = NULL;
	int r = image_ref_from_parts(rewritten, ref->implicit_tag ? NULL : ref->tag, ref->digest,
				     &nref, err);

	if (r < 0)
		return err_wrap(err, "registries.conf: rewriting to %s", location);
	*eps = xreallocarray(*eps, *n + 1, sizeof(**eps));
	(*eps)[*n] = (struct image_endpoint){ xstrdup(location), nref, insecure, mirror };
	(*n)++;
	return 0;
}

static bool mirror_used(const struct reg_registry *g, const struct reg_mirror *m, bool by_digest)
{
	if (g->digest_only && !by_digest)
		return false;
	switch (m->pull) {
	case IMAGE_PULL_FROM_MIRROR_DIGEST_ONLY:
		return by_digest;
	case IMAGE_PULL_FROM_MIRROR_TAG_ONLY:
		return !by_digest;
	case IMAGE_PULL_FROM_MIRROR_ALL:
		break;
	}
	return true;
}

void image_endpoints_free(struct image_endpoint *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++) {
		free(e[i].location);
		image_ref_free(e[i].ref);
	}
	free(e);
}

int image_registries_endpoints(const struct image_registries *r, const struct image_ref *ref,
			       struct image_endpoint **ret, size_t *ret_n, struct err *err)
{
	cleanup_free char *name = image_ref_string(ref, IMAGE_REF_NAME);
	struct image_endpoint *eps = NULL;
	size_t n = 0, matched = 0;
	const struct reg_registry *g = find_registry(r, ref, name, &matched);
	int rc = 0;

	if (g && g->blocked)
		return err_msg(err, -EACCES, "registry %s is blocked in registries.conf",
			       g->prefix);
	for (size_t i = 0; g && i < g->n_mirrors && rc == 0; i++)
		if (mirror_used(g, &g->mirrors[i], ref->digest != NULL))
			rc = add_endpoint(&eps, &n, g->mirrors[i].location, ref, name, matched,
					  g->mirrors[i].insecure, true, err);
	if (rc == 0 && g && g->location)
		rc = add_endpoint(&eps, &n, g->location, ref, name, matched, g->insecure, false,
				  err);
	else if (rc == 0) {
		eps = xreallocarray(eps, n + 1, sizeof(*eps));
		eps[n++] = (struct image_endpoint){ xstrdup(ref->domain), image_ref_dup(ref),
						    g && g->insecure, false };
	}
	if (rc < 0) {
		image_endpoints_free(eps, n);
		return rc;
	}
	*ret = eps;
	*ret_n = n;
	return 0;
}

static const char *find_alias(const struct image_registries *r, const char *name)
{
	for (size_t i = 0; i < r->n_aliases; i++)
		if (strcmp(r->aliases[i].name, name) == 0 && *r->aliases[i].value)
			return r->aliases[i].value;
	return NULL;
}

static void push_ref(struct image_ref ***v, size_t *n, struct image_ref *ref)
{
	cleanup_free char *s = image_ref_string(ref, IMAGE_REF_FULL);
	for (size_t i = 0; i < *n; i++) {
		cleanup_free char *o = image_ref_string((*v)[i], IMAGE_REF_FULL);
		if (strcmp(o, s) == 0) {
			image_ref_free(ref);
			return;
		}
	}
	*v = xreallocarray(*v, *n + 2, sizeof(**v));
	(*v)[(*n)++] = ref;
	(*v)[*n] = NULL;
}

/* The alias target with the tag/digest of `ref` (or the alias's own tag). */
static int alias_ref(const char *value, const struct image_ref *ref, struct image_ref **ret,
		     struct err *err)
{
	cleanup(image_ref_free) struct image_ref *a = NULL;
	int r = image_ref_parse(value, &a, err);
	if (r < 0)
		return r;
	cleanup_free char *name = image_ref_string(a, IMAGE_REF_NAME);
	const char *tag = ref->implicit_tag ? (a->implicit_tag ? NULL : a->tag) : ref->tag;
	return image_ref_from_parts(name, tag, ref->digest, ret, err);
}

int image_registries_resolve(const struct image_registries *r, const struct image_ref *ref,
			     struct image_ref ***ret, size_t *ret_n, struct err *err)
{
	struct image_ref **v = NULL, *c;
	const char *tag = ref->implicit_tag ? NULL : ref->tag;
	const char *alias = find_alias(r, ref->given);
	size_t n = 0;
	int rc = 0;

	if (!ref->short_name)
		return err_msg(err, -EINVAL, "'%s' is not a short name", ref->given);
	if (alias && (rc = alias_ref(alias, ref, &c, err)) == 0)
		push_ref(&v, &n, c);
	for (size_t i = 0; rc == 0 && r->search && r->search[i]; i++) {
		cleanup_free char *name = xasprintf("%s/%s", r->search[i], ref->given);
		rc = image_ref_from_parts(name, tag, ref->digest, &c, err);
		if (rc == 0)
			push_ref(&v, &n, c);
	}
	if (rc == 0 && n == 0)
		rc = err_msg(
		    err, -ENOENT,
		    "short name '%s' cannot be resolved: registries.conf has no alias for it and no unqualified-search-registries",
		    ref->given);
	if (rc < 0) {
		image_refs_free(v);
		return rc;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
