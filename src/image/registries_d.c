/* containers-registries.d(5): YAML files naming, per docker scope, the
 * lookaside store of simple signatures and whether sigstore attachments are
 * used. The YAML is read into a JSON tree first (js_load_yaml). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/fs.h"
#include "image/image_int.h"

struct ns {
	char *scope; /* NULL for default-docker */
	char *lookaside;
	int sigstore; /* -1 unset, 0, 1 */
	char *file;   /* where it was defined, for messages */
};

struct image_registries_d {
	struct ns *v;
	size_t n;
	bool has_default;
};

struct image_registries_d *image_registries_d_new(void)
{
	return xnew(struct image_registries_d);
}

void image_registries_d_free(struct image_registries_d *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].scope);
		free(d->v[i].lookaside);
		free(d->v[i].file);
	}
	free(d->v);
	free(d);
}

/* ------------------------------------------------------ the schema -- */

static int parse_url(const char *what, const char *u, char **ret, struct err *err)
{
	if (!(str_has_prefix(u, "file:///") || str_has_prefix(u, "http://") ||
	      str_has_prefix(u, "https://")) ||
	    strlen(u) > 4096)
		return err_msg(err, -EINVAL,
			       "%s: lookaside '%.200s' must be a file:///, http:// or https:// URL",
			       what, u);
	free(*ret);
	*ret = xstrdup(u);
	/* "base/" and "base" name the same store */
	size_t n = strlen(*ret);
	while (n > 8 && (*ret)[n - 1] == '/')
		(*ret)[--n] = '\0';
	return 0;
}

static int parse_ns(const char *file, const char *scope, const json_t *o, struct ns *ns,
		    struct err *err)
{
	cleanup_free char *what = scope ? xasprintf("%s: docker: %s", file, scope)
					: xasprintf("%s: default-docker", file);
	ns->sigstore = -1;
	ns->scope = scope ? xstrdup(scope) : NULL;
	ns->file = xstrdup(file);
	if (json_is_null(o))
		return 0;
	if (!json_is_object(o))
		return err_msg(err, -EINVAL, "%s: must be a mapping", what);
	static const char *const urls[] = { "lookaside", "sigstore" };
	for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
		const json_t *v = json_object_get(o, urls[i]);
		if (!v)
			continue;
		if (!json_is_string(v))
			return err_msg(err, -EINVAL, "%s: %s must be a URL", what, urls[i]);
		if (ns->lookaside)
			return err_msg(err, -EINVAL, "%s: lookaside and sigstore both given", what);
		int r = parse_url(what, json_string_value(v), &ns->lookaside, err);
		if (r < 0)
			return r;
	}
	const json_t *b = json_object_get(o, "use-sigstore-attachments");
	if (b) {
		const char *s = json_string_value(b);
		if (s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")))
			ns->sigstore = 1;
		else if (s && (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")))
			ns->sigstore = 0;
		else
			return err_msg(err, -EINVAL,
				       "%s: use-sigstore-attachments must be true or false", what);
	}
	return 0;
}

static int check_scope(const char *file, const char *scope, struct err *err)
{
	cleanup_err struct err perr = ERR_INIT;
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	const char *name = scope[0] == '*' && scope[1] == '.' ? scope + 2 : scope;
	bool ok;
	if (!strchr(name, '/')) /* host[:port] */
		ok = !strchr(name, '*') && image_domain_check(name, strlen(name), &perr) >= 0;
	else
		ok = scope == name && !strchr(scope, '@') &&
		     image_ref_parse(name, &ref, &perr) >= 0 && ref->implicit_tag;
	if (!ok)
		return err_msg(err, -EINVAL, "%s: invalid docker scope '%.200s'", file, scope);
	return 0;
}

static struct ns *find(const struct image_registries_d *d, const char *scope)
{
	for (size_t i = 0; i < d->n; i++)
		if ((!scope && !d->v[i].scope) ||
		    (scope && d->v[i].scope && strcmp(scope, d->v[i].scope) == 0))
			return &d->v[i];
	return NULL;
}

static int add_ns(struct image_registries_d *d, const char *file, const char *scope,
		  const json_t *o, struct err *err)
{
	const struct ns *old = find(d, scope);
	if (old)
		return err_msg(err, -EINVAL, "%s: %s is configured in %s already", file,
			       scope ? scope : "default-docker", old->file);
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n] = (struct ns){ 0 };
	int r = parse_ns(file, scope, o, &d->v[d->n], err);
	d->n++; /* freed with the rest even when half-parsed */
	return r;
}

int image_registries_d_add(struct image_registries_d *d, const char *name, const char *text,
			   size_t len, struct err *err)
{
	cleanup(json_decref) json_t *doc = NULL;
	if (len > IMAGE_REGISTRIES_D_MAX)
		return err_msg(err, -EFBIG, "%s is larger than %u bytes", name,
			       IMAGE_REGISTRIES_D_MAX);
	int r = js_load_yaml(name, text, len, 0, &doc, err);
	if (r < 0)
		return r;
	if (json_is_null(doc) || (json_is_string(doc) && json_string_length(doc) == 0))
		return 0; /* nothing in it */
	if (!json_is_object(doc))
		return err_msg(err, -EINVAL, "%s: the document must be a mapping", name);
	const json_t *def = json_object_get(doc, "default-docker");
	if (def && (r = add_ns(d, name, NULL, def, err)) < 0)
		return r;
	const json_t *docker = json_object_get(doc, "docker");
	if (!docker || json_is_null(docker))
		return 0;
	if (!json_is_object(docker))
		return err_msg(err, -EINVAL, "%s: docker: must be a mapping of scopes", name);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)docker, k, v)
	{
		if ((r = check_scope(name, k, err)) < 0 || (r = add_ns(d, name, k, v, err)) < 0)
			return r;
	}
	return 0;
}

static int is_yaml(const struct dirent *de)
{
	return de->d_name[0] != '.' && str_has_suffix(de->d_name, ".yaml");
}

int image_registries_d_load(const char *dir, struct image_registries_d **ret, struct err *err)
{
	cleanup(image_registries_d_free) struct image_registries_d *d = image_registries_d_new();
	struct dirent **names = NULL;
	int n = scandir(dir, &names, is_yaml, alphasort);
	if (n < 0 && errno != ENOENT)
		return err_set(err, -errno, "read registries.d %s", dir);
	int r = 0;
	for (int i = 0; i < n; i++) {
		cleanup_free char *path = xasprintf("%s/%s", dir, names[i]->d_name);
		cleanup_free char *text = NULL;
		size_t len = 0;
		if (r >= 0)
			r = fs_read_file(AT_FDCWD, path, IMAGE_REGISTRIES_D_MAX, &text, &len, err);
		if (r >= 0)
			r = image_registries_d_add(d, path, text, len, err);
		free(names[i]);
	}
	free(names);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(d);
	return 0;
}

/* The entries of `ref` from the most specific: repository, namespaces,
 * host, wildcards; the first that sets a field gives it. */
void image_registries_d_lookup(const struct image_registries_d *d, const struct image_ref *ref,
			       const char **ret_lookaside, bool *ret_sigstore)
{
	cleanup_free char *name = image_ref_string(ref, IMAGE_REF_NAME);
	cleanup(strv_free) char **keys = NULL;
	size_t dlen = strlen(ref->domain);
	for (;;) {
		strv_push(&keys, name);
		char *slash = strrchr(name, '/');
		if (!slash || (size_t)(slash - name) < dlen)
			break;
		*slash = '\0';
	}
	cleanup_free char *host = xstrdup(ref->domain);
	char *colon = host[0] == '[' ? NULL : strchr(host, ':');
	if (colon)
		*colon = '\0';
	for (char *dot = strchr(host, '.'); dot; dot = strchr(dot + 1, '.'))
		strv_push_take(&keys, xasprintf("*%s", dot));
	const char *lookaside = NULL;
	int sigstore = -1;
	for (size_t i = 0; keys[i] && (!lookaside || sigstore < 0); i++) {
		const struct ns *e = find(d, keys[i]);
		if (e && !lookaside)
			lookaside = e->lookaside;
		if (e && sigstore < 0)
			sigstore = e->sigstore;
	}
	const struct ns *def = find(d, NULL);
	if (def && !lookaside)
		lookaside = def->lookaside;
	if (def && sigstore < 0)
		sigstore = def->sigstore;
	*ret_lookaside = lookaside;
	*ret_sigstore = sigstore > 0;
}
