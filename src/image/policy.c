/* containers-policy.json(5): the `default` and `transports.docker` scopes,
 * their requirements and signedIdentity rules. Verification is in
 * policy_verify.c. */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "image/policy_int.h"

static const char *const req_names[] = {
	[IMAGE_REQ_ACCEPT] = "insecureAcceptAnything",
	[IMAGE_REQ_REJECT] = "reject",
	[IMAGE_REQ_SIGNED_BY] = "signedBy",
	[IMAGE_REQ_SIGSTORE] = "sigstoreSigned",
};

static const char *const ident_names[] = {
	[IDENT_MATCH_REPO_DIGEST_OR_EXACT] = "matchRepoDigestOrExact",
	[IDENT_MATCH_REPOSITORY] = "matchRepository",
	[IDENT_MATCH_EXACT] = "matchExact",
	[IDENT_EXACT_REFERENCE] = "exactReference",
	[IDENT_EXACT_REPOSITORY] = "exactRepository",
	[IDENT_REMAP] = "remapIdentity",
};

bool image_namespace_valid(const char *ns)
{
	size_t n = strlen(ns);
	if (n == 0 || n > 63 || ns[0] == '-' || ns[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(ns[i] >= 'a' && ns[i] <= 'z') && !(ns[i] >= '0' && ns[i] <= '9') &&
		    ns[i] != '-')
			return false;
	return true;
}

const char *image_req_name(enum image_req_type t)
{
	return req_names[t];
}

const char *image_ident_name(enum image_ident_type t)
{
	return ident_names[t];
}

static void req_done(struct image_req *q)
{
	strv_free(q->key_paths);
	free(q->key_data);
	free(q->ident.ref);
	free(q->ident.prefix);
	free(q->ident.signed_prefix);
}

static void scope_done(struct image_scope *s)
{
	free(s->name);
	for (size_t i = 0; i < s->n_reqs; i++)
		req_done(&s->reqs[i]);
	free(s->reqs);
}

void image_policy_free(struct image_policy *p)
{
	if (!p)
		return;
	free(p->file);
	scope_done(&p->def);
	for (size_t i = 0; i < p->n_docker; i++)
		scope_done(&p->docker[i]);
	free(p->docker);
	free(p);
}

/* Every member of `o` must be one of `keys` (NULL-terminated): a typo in a
 * policy must not silently weaken it. */
static int only_keys(const json_t *o, const char *const *keys, const char *what, struct err *err)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		size_t i;
		for (i = 0; keys[i]; i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (!keys[i])
			return err_msg(err, -EINVAL, "%s: unknown field \"%.64s\"", what, k);
	}
	return 0;
}

static int get_str(const json_t *o, const char *key, const char *what, char **ret, struct err *err)
{
	const json_t *v = json_object_get(o, key);
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return err_msg(err, -EINVAL, "%s: \"%s\" must be a non-empty string", what, key);
	*ret = xstrdup(json_string_value(v));
	return 1;
}

/* A name a signedIdentity compares against: parsed (no short names: the
 * policy must say which registry it means). */
static int check_ref(const char *s, bool want_tag_or_digest, bool want_bare, const char *what,
		     struct err *err)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	int r = image_ref_parse(s, &ref, err);
	if (r < 0)
		return err_wrap(err, "%s", what);
	if (want_tag_or_digest && ref->implicit_tag)
		return err_msg(err, -EINVAL, "%s: '%.200s' needs a tag or a digest", what, s);
	if (want_bare && (!ref->implicit_tag || ref->digest))
		return err_msg(err, -EINVAL, "%s: '%.200s' must be a repository only", what, s);
	return 0;
}

/* A prefix of remapIdentity: host[:port] or host[:port]/path, no tag. */
static int check_prefix(const char *s, const char *what, struct err *err)
{
	if (strchr(s, '@') || strchr(s, '*'))
		return err_msg(err, -EINVAL, "%s: invalid prefix '%.200s'", what, s);
	if (!strchr(s, '/')) {
		if (image_domain_check(s, strlen(s), err) < 0 ||
		    (!strchr(s, '.') && !strchr(s, ':') && strcmp(s, "localhost") != 0))
			return err_msg(err, -EINVAL, "%s: prefix '%.200s' must be a registry host",
				       what, s);
		return 0;
	}
	return check_ref(s, false, true, what, err);
}

static int parse_ident(const json_t *o, const char *what, struct image_identity *id,
		       struct err *err)
{
	static const char *const none[] = { "type", NULL };
	static const char *const ref[] = { "type", "dockerReference", NULL };
	static const char *const repo[] = { "type", "dockerRepository", NULL };
	static const char *const remap[] = { "type", "prefix", "signedPrefix", NULL };
	id->type = IDENT_MATCH_REPO_DIGEST_OR_EXACT;
	if (!o)
		return 0;
	const char *type = json_string_value(json_object_get(o, "type"));
	if (!json_is_object(o) || !type)
		return err_msg(err, -EINVAL, "%s: signedIdentity needs a \"type\"", what);
	size_t t;
	for (t = 0; t < ARRAY_SIZE(ident_names); t++)
		if (strcmp(type, ident_names[t]) == 0)
			break;
	if (t == ARRAY_SIZE(ident_names))
		return err_msg(err, -EINVAL, "%s: unknown signedIdentity type '%.64s'", what, type);
	id->type = (enum image_ident_type)t;
	int r;
	switch (id->type) {
	case IDENT_EXACT_REFERENCE:
		if ((r = only_keys(o, ref, what, err)) < 0)
			return r;
		if (get_str(o, "dockerReference", what, &id->ref, err) <= 0)
			return err_msg(err, -EINVAL, "%s: exactReference needs \"dockerReference\"",
				       what);
		return check_ref(id->ref, true, false, what, err);
	case IDENT_EXACT_REPOSITORY:
		if ((r = only_keys(o, repo, what, err)) < 0)
			return r;
		if (get_str(o, "dockerRepository", what, &id->ref, err) <= 0)
			return err_msg(err, -EINVAL,
				       "%s: exactRepository needs \"dockerRepository\"", what);
		return check_ref(id->ref, false, true, what, err);
	case IDENT_REMAP:
		if ((r = only_keys(o, remap, what, err)) < 0)
			return r;
		if (get_str(o, "prefix", what, &id->prefix, err) <= 0 ||
		    get_str(o, "signedPrefix", what, &id->signed_prefix, err) <= 0)
			return err_msg(err, -EINVAL,
				       "%s: remapIdentity needs \"prefix\" and \"signedPrefix\"",
				       what);
		if ((r = check_prefix(id->prefix, what, err)) < 0)
			return r;
		return check_prefix(id->signed_prefix, what, err);
	default:
		return only_keys(o, none, what, err);
	}
}

/* keyPath, keyPaths or keyData: exactly one. */
static int parse_keys(const json_t *o, const char *what, struct image_req *q, struct err *err)
{
	cleanup_free char *one = NULL;
	int n = 0, r;
	if ((r = get_str(o, "keyPath", what, &one, err)) < 0)
		return r;
	if (r > 0) {
		strv_push(&q->key_paths, one);
		n++;
	}
	const json_t *paths = json_object_get(o, "keyPaths");
	if (paths) {
		size_t i;
		json_t *e;
		if (!json_is_array(paths) || json_array_size(paths) == 0)
			return err_msg(err, -EINVAL, "%s: \"keyPaths\" must be a non-empty array",
				       what);
		json_array_foreach((json_t *)paths, i, e)
		{
			if (!json_is_string(e) || json_string_value(e)[0] != '/')
				return err_msg(err, -EINVAL,
					       "%s: \"keyPaths\" must hold absolute paths", what);
			strv_push(&q->key_paths, json_string_value(e));
		}
		n++;
	}
	if (q->key_paths && q->key_paths[0][0] != '/')
		return err_msg(err, -EINVAL, "%s: \"keyPath\" must be an absolute path", what);
	cleanup_free char *data = NULL;
	if ((r = get_str(o, "keyData", what, &data, err)) < 0)
		return r;
	if (r > 0) {
		if (image_b64_decode(data, &q->key_data, &q->key_data_len) < 0)
			return err_msg(err, -EINVAL, "%s: \"keyData\" is not base64", what);
		n++;
	}
	if (n != 1)
		return err_msg(
		    err, -EINVAL,
		    "%s: exactly one of \"keyPath\", \"keyPaths\" and \"keyData\" is needed", what);
	return 0;
}

static int parse_signed(const json_t *e, enum image_req_type t, const char *what,
			struct image_req *q, struct err *err)
{
	static const char *const gpg[] = { "type",    "keyType",	"keyPath", "keyPaths",
					   "keyData", "signedIdentity", NULL };
	static const char *const sigstore[] = { "type",	   "keyPath",	     "keyPaths",
						"keyData", "signedIdentity", NULL };
	static const char *const keyless[] = { "fulcio", "rekorPublicKeyPath",
					       "rekorPublicKeyPaths", "rekorPublicKeyData", NULL };
	int r;
	if (t == IMAGE_REQ_SIGSTORE)
		for (size_t i = 0; keyless[i]; i++)
			if (json_object_get(e, keyless[i]))
				return err_msg(
				    err, -EINVAL,
				    "%s: \"%s\" (Fulcio/Rekor keyless signing) is not supported by ocid; use \"keyPath\", \"keyPaths\" or \"keyData\" with the signer's public key",
				    what, keyless[i]);
	if ((r = only_keys(e, t == IMAGE_REQ_SIGNED_BY ? gpg : sigstore, what, err)) < 0)
		return r;
	if (t == IMAGE_REQ_SIGNED_BY) {
		const char *kt = json_string_value(json_object_get(e, "keyType"));
		if (!kt || strcmp(kt, "GPGKeys") != 0)
			return err_msg(
			    err, -EINVAL,
			    "%s: signedBy needs \"keyType\": \"GPGKeys\" (the only key type)",
			    what);
	}
	if ((r = parse_keys(e, what, q, err)) < 0)
		return r;
	return parse_ident(json_object_get(e, "signedIdentity"), what, &q->ident, err);
}

/* All requirements must hold. */
static int parse_reqs(const char *file, const char *scope, const json_t *arr, struct image_scope *s,
		      struct err *err)
{
	size_t i;
	json_t *e;

	s->name = xstrdup(scope);
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return err_msg(err, -EINVAL,
			       "policy %s: scope '%s' must be a non-empty array of requirements",
			       file, scope);
	s->reqs = xcalloc(json_array_size(arr), sizeof(*s->reqs));
	json_array_foreach(arr, i, e)
	{
		static const char *const bare[] = { "type", NULL };
		const char *type = json_string_value(json_object_get(e, "type"));
		cleanup_free char *what =
		    xasprintf("policy %s: requirement %zu of scope '%s'", file, i, scope);
		struct image_req *q = &s->reqs[s->n_reqs++];
		size_t k;
		int r;
		if (!json_is_object(e) || !type)
			return err_msg(err, -EINVAL, "%s has no \"type\"", what);
		for (k = 0; k < ARRAY_SIZE(req_names); k++)
			if (strcmp(type, req_names[k]) == 0)
				break;
		if (k == ARRAY_SIZE(req_names))
			return err_msg(err, -EINVAL,
				       "policy %s: unknown requirement type '%.64s' in scope '%s'",
				       file, type, scope);
		q->type = (enum image_req_type)k;
		if (q->type == IMAGE_REQ_SIGNED_BY || q->type == IMAGE_REQ_SIGSTORE)
			r = parse_signed(e, q->type, what, q, err);
		else
			r = only_keys(e, bare, what, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_scope_name(const char *file, const char *key, struct err *err)
{
	const char *star = strchr(key, '*');
	if (!star)
		return 0;
	if (star != key || key[1] != '.' || !key[2] || strchr(key + 1, '*') || strchr(key, '/'))
		return err_msg(err, -EINVAL,
			       "policy %s: invalid wildcard scope '%.100s' (only \"*.domain\")",
			       file, key);
	return 0;
}

static int parse_docker(const char *file, const json_t *transports, struct image_policy *p,
			struct err *err)
{
	const json_t *docker;
	const char *key;
	json_t *v;
	int r;

	if (!transports || json_is_null(transports))
		return 0;
	if (!json_is_object(transports))
		return err_msg(err, -EINVAL, "policy %s: 'transports' must be an object", file);
	docker = json_object_get(transports, "docker");
	if (!docker)
		return 0;
	if (!json_is_object(docker))
		return err_msg(err, -EINVAL, "policy %s: 'transports.docker' must be an object",
			       file);
	p->docker = xcalloc(json_object_size(docker) + 1, sizeof(*p->docker));
	json_object_foreach((json_t *)docker, key, v)
	{
		if ((r = check_scope_name(file, key, err)) < 0)
			return r;
		r = parse_reqs(file, key, v, &p->docker[p->n_docker++], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int image_policy_parse(const char *name, const char *text, size_t len, struct image_policy **ret,
		       struct err *err)
{
	cleanup(image_policy_free) struct image_policy *p = xnew(struct image_policy);
	cleanup(json_decref) json_t *doc = NULL;
	int r;

	p->file = xstrdup(text ? (name ? name : "policy.json") : "(built-in default)");
	if (!text) {
		p->def.name = xstrdup("default");
		p->def.reqs = xnew(struct image_req);
		p->def.n_reqs = 1;
		*ret = TAKE_PTR(p);
		return 0;
	}
	if (len > IMAGE_POLICY_MAX)
		return err_msg(err, -EFBIG, "policy %s is larger than %u bytes", p->file,
			       IMAGE_POLICY_MAX);
	r = image_json_load(p->file, text, len, &doc, err);
	if (r < 0)
		return r;
	if (!json_object_get(doc, "default"))
		return err_msg(err, -EINVAL, "policy %s has no \"default\" requirements", p->file);
	if ((r = parse_reqs(p->file, "default", json_object_get(doc, "default"), &p->def, err)) <
		0 ||
	    (r = parse_docker(p->file, json_object_get(doc, "transports"), p, err)) < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

static const struct image_scope *find_scope(const struct image_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_docker; i++)
		if (strcmp(p->docker[i].name, name) == 0)
			return &p->docker[i];
	return NULL;
}

/* Wildcards "*.b.c" then "*.c" for host "a.b.c" (port ignored). */
static const struct image_scope *find_wildcard(const struct image_policy *p, const char *domain)
{
	cleanup_free char *host = xstrdup(domain);
	char *colon = host[0] == '[' ? NULL : strchr(host, ':');
	if (colon)
		*colon = '\0';
	for (char *dot = strchr(host, '.'); dot; dot = strchr(dot + 1, '.')) {
		cleanup_free char *w = xasprintf("*%s", dot);
		const struct image_scope *s = find_scope(p, w);
		if (s)
			return s;
	}
	return NULL;
}

const struct image_scope *image_policy_scope(const struct image_policy *p,
					     const struct image_ref *ref)
{
	cleanup_free char *name = image_ref_string(ref, IMAGE_REF_NAME);
	const struct image_scope *s;

	if (ref->tag && !ref->implicit_tag) {
		cleanup_free char *full = xasprintf("%s:%s", name, ref->tag);
		if ((s = find_scope(p, full)))
			return s;
	}
	if (ref->digest) {
		cleanup_free char *full = xasprintf("%s@%s", name, ref->digest);
		if ((s = find_scope(p, full)))
			return s;
	}
	/* the repository, then each parent namespace down to the host */
	size_t dlen = strlen(ref->domain);
	for (;;) {
		if ((s = find_scope(p, name)))
			return s;
		char *slash = strrchr(name, '/');
		if (!slash || (size_t)(slash - name) < dlen)
			break;
		*slash = '\0';
	}
	if ((s = find_wildcard(p, ref->domain)) || (s = find_scope(p, "")))
		return s;
	return &p->def;
}

char *image_scope_label(const struct image_policy *p, const struct image_scope *s)
{
	return s == &p->def ? xstrdup("default") : xasprintf("\"%s\"", s->name);
}

int image_policy_check(const struct image_policy *p, const struct image_ref *ref,
		       const char **ret_scope, struct err *err)
{
	const struct image_scope *s = image_policy_scope(p, ref);
	int need = 0;

	if (ret_scope)
		*ret_scope = s->name;
	for (size_t i = 0; i < s->n_reqs; i++) {
		if (s->reqs[i].type == IMAGE_REQ_REJECT) {
			cleanup_free char *label = image_scope_label(p, s);
			return err_msg(err, -EACCES, "image rejected by policy %s: scope %s",
				       p->file, label);
		}
		if (s->reqs[i].type == IMAGE_REQ_SIGNED_BY)
			need |= IMAGE_NEED_GPG;
		if (s->reqs[i].type == IMAGE_REQ_SIGSTORE)
			need |= IMAGE_NEED_SIGSTORE;
	}
	return need;
}
