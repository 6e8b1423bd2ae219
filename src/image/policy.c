/* containers-policy.json(5): the `default` and `transports.docker` scopes. */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "image/image_int.h"

enum decision { DECIDE_ACCEPT, DECIDE_SIGNATURE, DECIDE_REJECT };

struct scope {
	char *name;
	enum decision decision;
	const char *req_type; /* the requirement that decided (static string) */
};

struct image_policy {
	char *file;
	struct scope def;
	struct scope *docker;
	size_t n_docker;
};

static const struct {
	const char *type;
	enum decision d;
} req_types[] = {
	{ "insecureAcceptAnything", DECIDE_ACCEPT },
	{ "reject", DECIDE_REJECT },
	{ "signedBy", DECIDE_SIGNATURE },
	{ "sigstoreSigned", DECIDE_SIGNATURE },
	{ "signedBaseLayer", DECIDE_SIGNATURE },
};

void image_policy_free(struct image_policy *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->def.name);
	for (size_t i = 0; i < p->n_docker; i++)
		free(p->docker[i].name);
	free(p->docker);
	free(p);
}

/* All requirements must hold: a reject wins, then a signature requirement. */
static int parse_reqs(const char *file, const char *scope, const json_t *arr, struct scope *s,
		      struct err *err)
{
	size_t i;
	json_t *e;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return err_msg(err, -EINVAL,
			       "policy %s: scope '%s' must be a non-empty array of requirements",
			       file, scope);
	s->decision = DECIDE_ACCEPT;
	s->req_type = req_types[0].type;
	json_array_foreach(arr, i, e)
	{
		const char *type = json_string_value(json_object_get(e, "type"));
		size_t k;
		if (!json_is_object(e) || !type)
			return err_msg(err, -EINVAL,
				       "policy %s: requirement %zu of scope '%s' has no \"type\"",
				       file, i, scope);
		for (k = 0; k < ARRAY_SIZE(req_types); k++)
			if (strcmp(type, req_types[k].type) == 0)
				break;
		if (k == ARRAY_SIZE(req_types))
			return err_msg(err, -EINVAL,
				       "policy %s: unknown requirement type '%.64s' in scope '%s'",
				       file, type, scope);
		if (req_types[k].d > s->decision) {
			s->decision = req_types[k].d;
			s->req_type = req_types[k].type;
		}
	}
	s->name = xstrdup(scope);
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
		if ((r = check_scope_name(file, key, err)) < 0 ||
		    (r = parse_reqs(file, key, v, &p->docker[p->n_docker], err)) < 0)
			return r;
		p->n_docker++;
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
		p->def.decision = DECIDE_ACCEPT;
		p->def.req_type = req_types[0].type;
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

static const struct scope *find_scope(const struct image_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_docker; i++)
		if (strcmp(p->docker[i].name, name) == 0)
			return &p->docker[i];
	return NULL;
}

/* Wildcards "*.b.c" then "*.c" for host "a.b.c" (port ignored). */
static const struct scope *find_wildcard(const struct image_policy *p, const char *domain)
{
	cleanup_free char *host = xstrdup(domain);
	char *colon = host[0] == '[' ? NULL : strchr(host, ':');
	if (colon)
		*colon = '\0';
	for (char *dot = strchr(host, '.'); dot; dot = strchr(dot + 1, '.')) {
		cleanup_free char *w = xasprintf("*%s", dot);
		const struct scope *s = find_scope(p, w);
		if (s)
			return s;
	}
	return NULL;
}

static const struct scope *lookup(const struct image_policy *p, const struct image_ref *ref)
{
	cleanup_free char *name = image_ref_string(ref, IMAGE_REF_NAME);
	const struct scope *s;

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

int image_policy_check(const struct image_policy *p, const struct image_ref *ref,
		       const char **ret_scope, struct err *err)
{
	const struct scope *s = lookup(p, ref);

	if (ret_scope)
		*ret_scope = s->name;
	switch (s->decision) {
	case DECIDE_ACCEPT:
		return 0;
	case DECIDE_REJECT:
		return err_msg(err, -EACCES, "image rejected by policy %s: scope %s%s%s", p->file,
			       s == &p->def ? "" : "\"", s->name, s == &p->def ? "" : "\"");
	case DECIDE_SIGNATURE:
		break;
	}
	return err_msg(
	    err, -EACCES,
	    "signature verification is not available yet in this ocid; policy %s requires %s for %s%s%s",
	    p->file, s->req_type, s == &p->def ? "" : "scope \"", s->name,
	    s == &p->def ? "" : "\"");
}
