/* Platform selection from an OCI index or a Docker manifest list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "image/image_int.h"

/* The GOARCH spelling of common kernel/distribution names. */
static const char *norm_arch(const char *a, const char **variant)
{
	static const struct {
		const char *from, *to, *variant;
	} table[] = {
		{ "x86_64", "amd64", NULL },  { "x86-64", "amd64", NULL },
		{ "aarch64", "arm64", NULL }, { "armhf", "arm", "v7" },
		{ "armel", "arm", "v6" },     { "i386", "386", NULL },
		{ "i686", "386", NULL },
	};
	for (size_t i = 0; a && i < ARRAY_SIZE(table); i++)
		if (strcmp(a, table[i].from) == 0) {
			if (table[i].variant && !*variant)
				*variant = table[i].variant;
			return table[i].to;
		}
	return a;
}

/* "v7" -> 7; -1 for anything else. */
static int variant_num(const char *v)
{
	if (!v || v[0] != 'v' || v[1] < '0' || v[1] > '9' || (v[2] && v[2] != '.'))
		return -1;
	return v[1] - '0';
}

static bool entry_is_manifest(const struct image_descriptor *d)
{
	return !d->media_type || strcmp(d->media_type, IMAGE_MT_OCI_MANIFEST) == 0 ||
	       strcmp(d->media_type, IMAGE_MT_DOCKER_MANIFEST) == 0 ||
	       strcmp(d->media_type, IMAGE_MT_OCI_INDEX) == 0 ||
	       strcmp(d->media_type, IMAGE_MT_DOCKER_LIST) == 0;
}

/* How well entry `d` fits: < 0 not at all, higher is better. */
static int score(const struct image_descriptor *d, const char *os, const char *arch,
		 const char *variant)
{
	const char *dv = d->variant;
	const char *darch = norm_arch(d->arch, &dv);

	if (!d->os || !darch || strcmp(d->os, os) != 0 || strcmp(darch, arch) != 0)
		return -1;
	if (strcmp(arch, "arm64") == 0) {
		/* "" and "v8" are the same; later variants run v8 code too */
		int want = variant ? variant_num(variant) : 8, have = dv ? variant_num(dv) : 8;
		return have < 0 || have > want ? -1 : 1 + have;
	}
	if (strcmp(arch, "arm") == 0) {
		/* an armv7 machine runs v6 and v5 code: the highest not above wins */
		int want = variant ? variant_num(variant) : 7, have = dv ? variant_num(dv) : 7;
		return have < 0 || have > want ? -1 : 1 + have;
	}
	if (!variant)
		return dv ? 1 : 2;
	if (dv && strcmp(dv, variant) == 0)
		return 3;
	return dv ? -1 : 1;
}

static char *list_platforms(const struct image_manifest *m)
{
	char **v = NULL;
	for (size_t i = 0; i < m->n_entries && i < 16; i++) {
		const struct image_descriptor *d = &m->entries[i];
		strv_push_take(&v,
			       xasprintf("%s/%s%s%s", d->os ? d->os : "?", d->arch ? d->arch : "?",
					 d->variant ? "/" : "", d->variant ? d->variant : ""));
	}
	char *s = v ? strv_join(v, ", ") : xstrdup("nothing");
	strv_free(v);
	return s;
}

int image_manifest_select(const struct image_manifest *m, const struct image_platform *want,
			  const struct image_descriptor **ret, struct err *err)
{
	const char *variant = want->variant && *want->variant ? want->variant : NULL;
	const char *arch = norm_arch(want->arch, &variant);
	const struct image_descriptor *best = NULL, *no_platform = NULL;
	size_t n_no_platform = 0;
	int best_score = -1;

	if (!image_manifest_is_index(m))
		return err_msg(err, -EINVAL, "not an index: there is no platform to select");
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct image_descriptor *d = &m->entries[i];
		if (!entry_is_manifest(d))
			continue;
		if (!d->os && !d->arch) {
			no_platform = d;
			n_no_platform++;
			continue;
		}
		int s = score(d, want->os, arch, variant);
		if (s > best_score) {
			best_score = s;
			best = d;
		}
	}
	/* A single entry that names no platform is taken as "the" image. */
	if (!best && n_no_platform == 1)
		best = no_platform;
	if (!best) {
		cleanup_free char *have = list_platforms(m);
		return err_msg(
		    err, -ENOENT, "no image for platform %s/%s%s%s in the index (it has: %s)",
		    want->os, want->arch, variant ? "/" : "", variant ? variant : "", have);
	}
	*ret = best;
	return 0;
}
