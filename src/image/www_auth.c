/* WWW-Authenticate parsing (RFC 7235 challenges, RFC 9110 quoted-strings). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "image/image_int.h"

struct wa_parser {
	const char *s;
	const char *p;
	struct err *err;
};

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_t68char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~+/", c));
}

static void skip_ows(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

static int wa_fail(struct wa_parser *w, const char *what)
{
	return err_msg(w->err, -EINVAL, "invalid WWW-Authenticate header: %s at offset %zu", what,
		       (size_t)(w->p - w->s));
}

static size_t token_len(const char *p)
{
	size_t n = 0;
	while (is_tchar(p[n]))
		n++;
	return n;
}

/* quoted-string at w->p (the opening quote); the unescaped value in *ret. */
static int quoted(struct wa_parser *w, char **ret)
{
	const char *p = w->p + 1;
	size_t cap = strlen(p) + 1, n = 0;
	cleanup_free char *out = xmalloc(cap);

	for (;; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c == '\\') {
			c = (unsigned char)*++p;
			if (c == '\0' || (c < ' ' && c != '\t') || c == 0x7f) {
				w->p = p;
				return wa_fail(w, "bad escape in quoted-string");
			}
		} else if (c == '\0') {
			w->p = p;
			return wa_fail(w, "unterminated quoted-string");
		} else if ((c < ' ' && c != '\t') || c == 0x7f) {
			w->p = p;
			return wa_fail(w, "control character in quoted-string");
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	w->p = p + 1;
	*ret = TAKE_PTR(out);
	return 0;
}

static char **param_slot(struct image_auth_challenge *c, const char *name, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
		{ "realm", offsetof(struct image_auth_challenge, realm) },
		{ "service", offsetof(struct image_auth_challenge, service) },
		{ "scope", offsetof(struct image_auth_challenge, scope) },
		{ "error", offsetof(struct image_auth_challenge, error) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strlen(known[i].name) == n && strncasecmp(known[i].name, name, n) == 0)
			return (char **)((char *)c + known[i].off);
	return NULL;
}

/* name BWS "=" BWS (token / quoted-string), w->p at the name. */
static int param(struct wa_parser *w, struct image_auth_challenge *c)
{
	const char *name = w->p;
	size_t n = token_len(name);
	cleanup_free char *value = NULL;
	int r;

	w->p += n;
	skip_ows(&w->p);
	w->p++; /* '=', checked by the caller */
	skip_ows(&w->p);
	if (*w->p == '"') {
		r = quoted(w, &value);
		if (r < 0)
			return r;
	} else {
		size_t vn = token_len(w->p);
		if (vn == 0)
			return wa_fail(w, "parameter without a value");
		value = xstrndup(w->p, vn);
		w->p += vn;
	}
	char **slot = param_slot(c, name, n);
	if (slot && *slot)
		return wa_fail(w, "duplicate parameter");
	if (slot)
		*slot = TAKE_PTR(value);
	return 0;
}

/* Is the token at p the name of an auth-param (followed by BWS "=" value)? */
static bool at_param(const char *p)
{
	size_t n = token_len(p);
	if (n == 0)
		return false;
	p += n;
	skip_ows(&p);
	if (*p != '=')
		return false;
	p++;
	skip_ows(&p);
	return *p == '"' || is_tchar(*p);
}

static void set_scheme(struct image_auth_challenge *c, const char *s, size_t n)
{
	c->scheme_name = xstrndup(s, n);
	if (strcasecmp(c->scheme_name, "basic") == 0)
		c->scheme = IMAGE_AUTH_BASIC;
	else if (strcasecmp(c->scheme_name, "bearer") == 0)
		c->scheme = IMAGE_AUTH_BEARER;
	else
		c->scheme = IMAGE_AUTH_OTHER;
}

/* One challenge at w->p (a scheme token); stops before the next scheme. */
static int challenge(struct wa_parser *w, struct image_auth_challenge *c)
{
	size_t n = token_len(w->p);
	bool first = true;
	int r;

	if (n == 0)
		return wa_fail(w, "expected an authentication scheme");
	set_scheme(c, w->p, n);
	w->p += n;
	if (*w->p && *w->p != ' ' && *w->p != '\t' && *w->p != ',')
		return wa_fail(w, "unexpected character after the scheme");
	for (;;) {
		skip_ows(&w->p);
		if (!*w->p)
			return 0;
		if (*w->p == ',') {
			w->p++;
			first = false;
			continue;
		}
		if (at_param(w->p)) {
			r = param(w, c);
			if (r < 0)
				return r;
		} else if (first && is_t68char(*w->p)) {
			/* token68 credentials: not used by registries, skipped */
			while (is_t68char(*w->p))
				w->p++;
			while (*w->p == '=')
				w->p++;
		} else if (!first && token_len(w->p) > 0) {
			return 0; /* the next challenge's scheme */
		} else {
			return wa_fail(w, "expected a parameter");
		}
		first = false;
		skip_ows(&w->p);
		if (*w->p && *w->p != ',')
			return wa_fail(w, "expected ',' between parameters");
	}
}

void image_www_auth_free(struct image_auth_challenge *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].scheme_name);
		free(c[i].realm);
		free(c[i].service);
		free(c[i].scope);
		free(c[i].error);
	}
	free(c);
}

int image_www_auth_parse(const char *header, struct image_auth_challenge **ret, size_t *ret_n,
			 struct err *err)
{
	struct wa_parser w = { header, header, err };
	struct image_auth_challenge *cs = NULL;
	size_t n = 0;
	int r = 0;

	if (!header)
		return err_msg(err, -EINVAL, "empty WWW-Authenticate header");
	if (strlen(header) > IMAGE_WWW_AUTH_MAX)
		return err_msg(err, -EFBIG, "WWW-Authenticate header longer than %d bytes",
			       IMAGE_WWW_AUTH_MAX);
	for (;;) {
		while (*w.p == ' ' || *w.p == '\t' || *w.p == ',')
			w.p++;
		if (!*w.p)
			break;
		if (n == IMAGE_WWW_AUTH_CHALLENGES_MAX) {
			r = err_msg(err, -EFBIG,
				    "WWW-Authenticate header has more than %d challenges",
				    IMAGE_WWW_AUTH_CHALLENGES_MAX);
			break;
		}
		cs = xreallocarray(cs, n + 1, sizeof(*cs));
		memset(&cs[n], 0, sizeof(*cs));
		n++;
		r = challenge(&w, &cs[n - 1]);
		if (r < 0)
			break;
	}
	if (r == 0 && n == 0)
		r = err_msg(err, -EINVAL, "empty WWW-Authenticate header");
	if (r < 0) {
		image_www_auth_free(cs, n);
		return r;
	}
	*ret = cs;
	*ret_n = n;
	return 0;
}
