/* containers-registries.conf(5) v2: parsing and merging of files. Lookups
 * (endpoints, short names) are in registries_lookup.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "base/base.h"
#include "image/registries_int.h"

static void registry_done(struct reg_registry *g)
{
	free(g->prefix);
	free(g->location);
	for (size_t i = 0; i < g->n_mirrors; i++)
		free(g->mirrors[i].location);
	free(g->mirrors);
	memset(g, 0, sizeof(*g));
}

struct image_registries *image_registries_new(void)
{
	return xnew(struct image_registries);
}

void image_registries_free(struct image_registries *r)
{
	if (!r)
		return;
	strv_free(r->search);
	for (size_t i = 0; i < r->n_regs; i++)
		registry_done(&r->regs[i]);
	free(r->regs);
	for (size_t i = 0; i < r->n_aliases; i++) {
		free(r->aliases[i].name);
		free(r->aliases[i].value);
	}
	free(r->aliases);
	free(r);
}

static int type_error(const char *file, const struct toml *v, const char *key, const char *want,
		      struct err *err)
{
	return err_msg(err, -EINVAL, "%s:%u:%u: '%s' must be %s, not %s", file, toml_line(v),
		       toml_col(v), key, want, toml_type_name(toml_type(v)));
}

static int get_str(const char *file, const struct toml *t, const char *key, const char **ret,
		   struct err *err)
{
	const struct toml *v = toml_get(t, key);
	*ret = NULL;
	if (!v)
		return 0;
	if (toml_type(v) != TOML_STRING)
		return type_error(file, v, key, "a string", err);
	if (strlen(toml_string(v)) != toml_string_len(v))
		return err_msg(err, -EINVAL, "%s:%u:%u: '%s' contains a NUL character", file,
			       toml_line(v), toml_col(v), key);
	*ret = toml_string(v);
	return 0;
}

static int get_bool(const char *file, const struct toml *t, const char *key, bool *ret,
		    struct err *err)
{
	const struct toml *v = toml_get(t, key);
	*ret = false;
	if (!v)
		return 0;
	if (toml_type(v) != TOML_BOOL)
		return type_error(file, v, key, "a boolean", err);
	*ret = toml_bool(v);
	return 0;
}

/* "host[:port][/path]" whose first component is a registry host. */
static int check_location(const char *file, const char *what, const char *s, struct err *err)
{
	size_t dlen = strcspn(s, "/");
	int r;

	if (dlen == 0 || !image_is_domain_component(s, dlen))
		return err_msg(
		    err, -EINVAL,
		    "%s: %s '%.100s' must start with a registry host (containing '.' or ':', or localhost)",
		    file, what, s);
	r = image_domain_check(s, dlen, err);
	if (r == 0 && s[dlen])
		r = image_path_check(s + dlen + 1, err);
	if (r < 0)
		return err_wrap(err, "%s: %s '%.100s'", file, what, s);
	return 0;
}

static int check_prefix(const char *file, struct reg_registry *g, struct err *err)
{
	if (g->prefix[0] != '*')
		return check_location(file, "prefix", g->prefix, err);
	g->wildcard = true;
	if (g->prefix[1] != '.' || strchr(g->prefix, '/') || strchr(g->prefix + 1, '*') ||
	    image_domain_check(g->prefix + 2, strlen(g->prefix + 2), NULL) < 0)
		return err_msg(err, -EINVAL,
			       "%s: invalid wildcard prefix '%.100s' (expected \"*.domain\")", file,
			       g->prefix);
	if (g->location)
		return err_msg(err, -EINVAL,
			       "%s: registry with wildcard prefix '%.100s' cannot have a location",
			       file, g->prefix);
	return 0;
}

static int parse_pull_from(const char *file, const char *s, enum image_pull_from_mirror *ret,
			   struct err *err)
{
	if (!s || !*s || strcmp(s, "all") == 0)
		*ret = IMAGE_PULL_FROM_MIRROR_ALL;
	else if (strcmp(s, "digest-only") == 0)
		*ret = IMAGE_PULL_FROM_MIRROR_DIGEST_ONLY;
	else if (strcmp(s, "tag-only") == 0)
		*ret = IMAGE_PULL_FROM_MIRROR_TAG_ONLY;
	else
		return err_msg(
		    err, -EINVAL,
		    "%s: pull-from-mirror must be \"all\", \"digest-only\" or \"tag-only\", not '%.64s'",
		    file, s);
	return 0;
}

static int parse_mirror(const char *file, const struct toml *t, struct reg_mirror *m,
			struct err *err)
{
	const char *loc, *pull;
	int r;

	if (toml_type(t) != TOML_TABLE)
		return type_error(file, t, "registry.mirror", "an array of tables", err);
	if ((r = get_str(file, t, "location", &loc, err)) < 0 ||
	    (r = get_bool(file, t, "insecure", &m->insecure, err)) < 0 ||
	    (r = get_str(file, t, "pull-from-mirror", &pull, err)) < 0 ||
	    (r = parse_pull_from(file, pull, &m->pull, err)) < 0)
		return r;
	if (str_empty(loc))
		return err_msg(err, -EINVAL, "%s:%u:%u: a mirror needs a location", file,
			       toml_line(t), toml_col(t));
	r = check_location(file, "mirror location", loc, err);
	if (r < 0)
		return r;
	m->location = xstrdup(loc);
	return 0;
}

static int parse_mirrors(const char *file, const struct toml *t, struct reg_registry *g,
			 struct err *err)
{
	const struct toml *arr = toml_get(t, "mirror");
	int r;

	if (!arr)
		return 0;
	if (toml_type(arr) != TOML_ARRAY)
		return type_error(file, arr, "mirror", "an array of tables", err);
	g->mirrors = xcalloc(toml_len(arr) + 1, sizeof(*g->mirrors));
	for (size_t i = 0; i < toml_len(arr); i++) {
		r = parse_mirror(file, toml_at(arr, i), &g->mirrors[g->n_mirrors], err);
		if (r < 0)
			return r;
		g->n_mirrors++;
	}
	return 0;
}

static int parse_registry(const char *file, const struct toml *t, struct reg_registry *g,
			  struct err *err)
{
	const char *prefix, *loc;
	int r;

	if (toml_type(t) != TOML_TABLE)
		return type_error(file, t, "registry", "an array of tables", err);
	if ((r = get_str(file, t, "prefix", &prefix, err)) < 0 ||
	    (r = get_str(file, t, "location", &loc, err)) < 0 ||
	    (r = get_bool(file, t, "insecure", &g->insecure, err)) < 0 ||
	    (r = get_bool(file, t, "blocked", &g->blocked, err)) < 0 ||
	    (r = get_bool(file, t, "mirror-by-digest-only", &g->digest_only, err)) < 0)
		return r;
	if (str_empty(prefix))
		prefix = loc;
	if (str_empty(prefix))
		return err_msg(err, -EINVAL,
			       "%s:%u:%u: a [[registry]] needs a prefix or a location", file,
			       toml_line(t), toml_col(t));
	g->prefix = xstrdup(prefix);
	g->location = str_empty(loc) ? NULL : xstrdup(loc);
	if ((r = check_prefix(file, g, err)) < 0)
		return r;
	if (g->location && (r = check_location(file, "location", g->location, err)) < 0)
		return r;
	return parse_mirrors(file, t, g, err);
}

static int parse_registries(const char *file, const struct toml *root, struct image_registries *out,
			    struct err *err)
{
	const struct toml *arr = toml_get(root, "registry");
	int r;

	if (!arr)
		return 0;
	if (toml_type(arr) != TOML_ARRAY)
		return type_error(file, arr, "registry", "an array of tables", err);
	out->regs = xcalloc(toml_len(arr) + 1, sizeof(*out->regs));
	for (size_t i = 0; i < toml_len(arr); i++) {
		struct reg_registry *g = &out->regs[out->n_regs];
		r = parse_registry(file, toml_at(arr, i), g, err);
		out->n_regs++; /* counted even on error so that it is freed */
		if (r < 0)
			return r;
		for (size_t k = 0; k + 1 < out->n_regs; k++)
			if (strcmp(out->regs[k].prefix, g->prefix) == 0)
				return err_msg(err, -EINVAL, "%s: prefix '%.100s' is defined twice",
					       file, g->prefix);
	}
	return 0;
}

static int parse_search(const char *file, const struct toml *root, struct image_registries *out,
			struct err *err)
{
	const struct toml *arr = toml_get(root, "unqualified-search-registries");
	int r;

	if (!arr)
		return 0;
	if (toml_type(arr) != TOML_ARRAY)
		return type_error(file, arr, "unqualified-search-registries", "an array of strings",
				  err);
	out->search_set = true;
	for (size_t i = 0; i < toml_len(arr); i++) {
		const struct toml *v = toml_at(arr, i);
		const char *s = toml_string(v);
		if (toml_type(v) != TOML_STRING)
			return type_error(file, v, "unqualified-search-registries",
					  "an array of strings", err);
		if ((r = image_domain_check(s, strlen(s), err)) < 0)
			return err_wrap(err, "%s: unqualified-search-registries entry '%.100s'",
					file, s);
		if (!strv_contains(out->search, s))
			strv_push(&out->search, s);
	}
	return 0;
}

/* [aliases]: short name -> fully-qualified name ("" removes an alias). */
static int parse_alias(const char *file, const char *key, const char *value,
		       struct image_registries *out, struct err *err)
{
	cleanup(image_ref_free) struct image_ref *k = NULL, *v = NULL;
	int r;

	r = image_ref_parse(key, &k, err);
	if (r == 0 && (!k->short_name || !k->implicit_tag || strcmp(k->given, key) != 0))
		r = err_msg(err, -EINVAL, "alias must be a short name without tag or digest");
	if (r < 0)
		return err_wrap(err, "%s: alias '%.100s'", file, key);
	if (*value) {
		r = image_ref_parse(value, &v, err);
		if (r == 0 && (v->short_name || v->digest))
			r = err_msg(err, -EINVAL,
				    "the value must be a fully-qualified name without digest");
		if (r < 0)
			return err_wrap(err, "%s: alias '%.100s' = '%.100s'", file, key, value);
	}
	out->aliases = xreallocarray(out->aliases, out->n_aliases + 1, sizeof(*out->aliases));
	out->aliases[out->n_aliases].name = xstrdup(key);
	out->aliases[out->n_aliases].value = xstrdup(value);
	out->n_aliases++;
	return 0;
}

static int parse_aliases(const char *file, const struct toml *root, struct image_registries *out,
			 struct err *err)
{
	const struct toml *t = toml_get(root, "aliases");
	int r;

	if (!t)
		return 0;
	if (toml_type(t) != TOML_TABLE)
		return type_error(file, t, "aliases", "a table", err);
	for (size_t i = 0; i < toml_len(t); i++) {
		const char *key = toml_key_at(t, i);
		const char *value;
		if ((r = get_str(file, t, key, &value, err)) < 0 ||
		    (r = parse_alias(file, key, value, out, err)) < 0)
			return r;
	}
	return 0;
}

static void merge_registry(struct image_registries *r, struct reg_registry *g)
{
	for (size_t i = 0; i < r->n_regs; i++)
		if (strcmp(r->regs[i].prefix, g->prefix) == 0) {
			registry_done(&r->regs[i]);
			r->regs[i] = *g;
			return;
		}
	r->regs = xreallocarray(r->regs, r->n_regs + 1, sizeof(*r->regs));
	r->regs[r->n_regs++] = *g;
}

static void merge_alias(struct image_registries *r, struct reg_alias *a)
{
	for (size_t i = 0; i < r->n_aliases; i++)
		if (strcmp(r->aliases[i].name, a->name) == 0) {
			free(r->aliases[i].value);
			r->aliases[i].value = a->value;
			free(a->name);
			return;
		}
	r->aliases = xreallocarray(r->aliases, r->n_aliases + 1, sizeof(*r->aliases));
	r->aliases[r->n_aliases++] = *a;
}

/* Move everything from `src` (one file) into `r`; `src` is left empty. */
static void merge(struct image_registries *r, struct image_registries *src)
{
	if (src->search_set) {
		strv_free(r->search);
		r->search = TAKE_PTR(src->search);
		r->search_set = true;
	}
	for (size_t i = 0; i < src->n_regs; i++)
		merge_registry(r, &src->regs[i]);
	src->n_regs = 0;
	for (size_t i = 0; i < src->n_aliases; i++)
		merge_alias(r, &src->aliases[i]);
	src->n_aliases = 0;
}

int image_registries_add(struct image_registries *r, const char *name, const char *text, size_t len,
			 struct err *err)
{
	cleanup(toml_free) struct toml *root = NULL;
	cleanup(image_registries_free) struct image_registries *one = image_registries_new();
	int ret = toml_parse(name, text, len, &root, err);

	if (ret < 0)
		return ret;
	if (toml_get(root, "registries"))
		return err_msg(
		    err, -EINVAL,
		    "%s: the version 1 format ([registries.search] etc.) is not supported; use unqualified-search-registries and [[registry]] (containers-registries.conf(5))",
		    name);
	if ((ret = parse_search(name, root, one, err)) < 0 ||
	    (ret = parse_registries(name, root, one, err)) < 0 ||
	    (ret = parse_aliases(name, root, one, err)) < 0)
		return ret;
	merge(r, one);
	return 0;
}

/* Read and add one file; *found tells whether it existed. */
static int add_file(struct image_registries *r, const char *path, bool *found, struct err *err)
{
	cleanup_free char *text = NULL;
	size_t len;
	int ret = fs_read_file(AT_FDCWD, path, TOML_MAX_SIZE, &text, &len, err);

	if (ret == -ENOENT) {
		err_done(err);
		return 0;
	}
	if (ret < 0)
		return ret;
	*found = true;
	return image_registries_add(r, path, text, len, err);
}

static int dropin_names(const char *dir, char ***ret, struct err *err)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	*ret = NULL;
	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0
							   : err_set(err, -errno, "scan '%s'", dir);
	for (int i = 0; i < n; i++) {
		const char *d = ents[i]->d_name;
		if (d[0] != '.' && str_has_suffix(d, ".conf"))
			strv_push_take(ret, xasprintf("%s/%s", dir, d));
		free(ents[i]);
	}
	free(ents);
	return 0;
}

int image_registries_load(const char *path, const char *dropin_dir, struct image_registries **ret,
			  struct err *err)
{
	cleanup(image_registries_free) struct image_registries *r = image_registries_new();
	cleanup_free char *dflt = dropin_dir ? NULL : xasprintf("%s.d", path);
	cleanup(strv_free) char **files = NULL;
	bool found = false;
	int ret_code;

	if ((ret_code = add_file(r, path, &found, err)) < 0 ||
	    (ret_code = dropin_names(dropin_dir ? dropin_dir : dflt, &files, err)) < 0)
		return ret_code;
	for (size_t i = 0; files && files[i]; i++)
		if ((ret_code = add_file(r, files[i], &found, err)) < 0)
			return ret_code;
	if (!found) {
		strv_push(&r->search, IMAGE_DOCKER_DOMAIN);
		r->search_set = true;
	}
	*ret = TAKE_PTR(r);
	return 0;
}
