/* The docker reference grammar and its normalisation (see image.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "image/image_int.h"

/* Longest input looked at: a full name, a tag and a long digest. */
#define REF_INPUT_MAX 1024

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool image_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0)
		return false;
	d += 7;
	for (size_t i = 0; i < 64; i++)
		if (!is_lower_hex(d[i]))
			return false;
	return d[64] == '\0';
}

bool image_tag_valid(const char *tag)
{
	size_t n = tag ? strlen(tag) : 0;
	if (n == 0 || n > IMAGE_TAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = tag[i];
		if (is_alnum(c) || c == '_')
			continue;
		if (i > 0 && (c == '.' || c == '-'))
			continue;
		return false;
	}
	return true;
}

/* algorithm ":" hex, algorithm = [a-z0-9]+([+._-][a-z0-9]+)*, hex >= 32. */
static int check_digest(const char *d, struct err *err)
{
	const char *colon = strchr(d, ':');
	if (!colon || colon == d)
		return err_msg(err, -EINVAL, "invalid digest '%s': expected algorithm:hex", d);
	for (const char *p = d; p < colon; p++) {
		bool sep = *p == '+' || *p == '.' || *p == '_' || *p == '-';
		if (sep && p > d && p + 1 < colon && is_lower_alnum(p[-1]) && is_lower_alnum(p[1]))
			continue;
		if (!is_lower_alnum(*p))
			return err_msg(err, -EINVAL, "invalid digest algorithm in '%s'", d);
	}
	size_t alg_len = (size_t)(colon - d);
	if (alg_len != 6 || strncmp(d, "sha256", 6) != 0)
		return err_msg(err, -EINVAL, "unsupported digest algorithm '%.*s' (only sha256)",
			       (int)alg_len, d);
	if (!image_digest_valid(d))
		return err_msg(err, -EINVAL,
			       "invalid digest '%s': sha256 needs exactly 64 lowercase hex digits",
			       d);
	return 0;
}

/* host = domain-name | IPv4 | "[" IPv6 "]", then optionally ":" port. */
int image_domain_check(const char *dom, size_t n, struct err *err)
{
	size_t host_end = n;
	if (dom[0] == '[') {
		const char *close = memchr(dom, ']', n);
		char addr[INET6_ADDRSTRLEN + 1];
		struct in6_addr a6;
		size_t alen = close ? (size_t)(close - dom - 1) : 0;
		if (!close || alen == 0 || alen >= sizeof(addr))
			return err_msg(err, -EINVAL, "invalid IPv6 address in domain '%.*s'",
				       (int)n, dom);
		memcpy(addr, dom + 1, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) != 1)
			return err_msg(err, -EINVAL, "invalid IPv6 address in domain '%.*s'",
				       (int)n, dom);
		host_end = (size_t)(close - dom) + 1;
		if (host_end < n && dom[host_end] != ':')
			return err_msg(err, -EINVAL, "invalid domain '%.*s'", (int)n, dom);
	} else {
		const char *colon = memchr(dom, ':', n);
		if (colon)
			host_end = (size_t)(colon - dom);
		size_t start = 0;
		for (size_t i = 0; i <= host_end; i++) {
			if (i < host_end && dom[i] != '.') {
				if (!is_alnum(dom[i]) && dom[i] != '-')
					return err_msg(err, -EINVAL,
						       "invalid character '%c' in domain '%.*s'",
						       dom[i], (int)n, dom);
				continue;
			}
			/* a component ends at i: non-empty, no '-' at either end */
			if (i == start || dom[start] == '-' || dom[i - 1] == '-')
				return err_msg(err, -EINVAL, "invalid domain '%.*s'", (int)n, dom);
			start = i + 1;
		}
	}
	if (host_end == n)
		return 0;
	/* port */
	const char *port = dom + host_end + 1;
	size_t plen = n - host_end - 1;
	unsigned long v = 0;
	if (plen == 0 || plen > 5)
		return err_msg(err, -EINVAL, "invalid port in domain '%.*s'", (int)n, dom);
	for (size_t i = 0; i < plen; i++) {
		if (port[i] < '0' || port[i] > '9')
			return err_msg(err, -EINVAL, "invalid port in domain '%.*s'", (int)n, dom);
		v = v * 10 + (unsigned long)(port[i] - '0');
	}
	if (v == 0 || v > 65535)
		return err_msg(err, -EINVAL, "port out of range in domain '%.*s'", (int)n, dom);
	return 0;
}

/* path = component ("/" component)*, component = [a-z0-9]+ (sep [a-z0-9]+)*,
 * sep = "." | "_" | "__" | "-"+ */
int image_path_check(const char *path, struct err *err)
{
	const char *p = path;
	for (const char *q = path; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			return err_msg(err, -EINVAL, "repository name must be lowercase: '%s'",
				       path);
	for (;;) {
		if (!is_lower_alnum(*p))
			return err_msg(err, -EINVAL,
				       *p == '/' || !*p ? "empty path component in '%s'"
							: "invalid repository name '%s'",
				       path);
		while (is_lower_alnum(*p))
			p++;
		if (*p == '\0')
			return 0;
		if (*p == '/') {
			p++;
			continue;
		}
		if (*p == '.')
			p++;
		else if (*p == '_')
			p += p[1] == '_' ? 2 : 1;
		else if (*p == '-')
			while (*p == '-')
				p++;
		else
			return err_msg(err, -EINVAL,
				       "invalid character '%c' in repository name '%s'", *p, path);
		if (!is_lower_alnum(*p))
			return err_msg(err, -EINVAL, "invalid repository name '%s'", path);
	}
}

bool image_is_domain_component(const char *name, size_t n)
{
	if (n == 9 && strncmp(name, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '.' || name[i] == ':' || (name[i] >= 'A' && name[i] <= 'Z'))
			return true;
	return false;
}

static bool all_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

/* Split the name part into domain and path, validate, normalise. */
static int parse_name(const char *name, struct image_ref *ref, struct err *err)
{
	size_t n = strlen(name);
	const char *slash = strchr(name, '/');
	int r;

	if (n == 0)
		return err_msg(err, -EINVAL, "reference has no repository name");
	if (slash && image_is_domain_component(name, (size_t)(slash - name))) {
		size_t dlen = (size_t)(slash - name);
		r = image_domain_check(name, dlen, err);
		if (r < 0)
			return r;
		ref->domain = xstrndup(name, dlen);
		ref->path = xstrdup(slash + 1);
	} else {
		ref->short_name = true;
		ref->domain = xstrdup(IMAGE_DOCKER_DOMAIN);
		ref->path = xstrdup(name);
	}
	r = image_path_check(ref->path, err);
	if (r < 0)
		return r;
	if (ref->short_name && strlen(ref->path) == 64 && all_lower_hex(ref->path, 64))
		return err_msg(
		    err, -EINVAL,
		    "invalid repository name '%s': a 64-character hex string is an image ID, not a name",
		    ref->path);
	if (strcmp(ref->domain, "index.docker.io") == 0) {
		free(ref->domain);
		ref->domain = xstrdup(IMAGE_DOCKER_DOMAIN);
	}
	if (strcmp(ref->domain, IMAGE_DOCKER_DOMAIN) == 0 && !strchr(ref->path, '/')) {
		char *p = xasprintf("library/%s", ref->path);
		free(ref->path);
		ref->path = p;
	}
	/* the limit applies to the normalised name, which is what gets stored */
	if (strlen(ref->domain) + 1 + strlen(ref->path) > IMAGE_NAME_MAX)
		return err_msg(err, -EINVAL, "repository name longer than %d characters",
			       IMAGE_NAME_MAX);
	ref->given = xstrdup(name);
	return 0;
}

static int check_chars(const char *s, struct err *err)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return err_msg(err, -EINVAL, "invalid character (0x%02x) in reference", *p);
	return 0;
}

int image_ref_parse(const char *s, struct image_ref **ret, struct err *err)
{
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup_free char *name = NULL;
	int r;

	if (str_empty(s))
		return err_msg(err, -EINVAL, "image reference is empty");
	if (strlen(s) > REF_INPUT_MAX)
		return err_msg(err, -EINVAL, "image reference longer than %d characters",
			       REF_INPUT_MAX);
	r = check_chars(s, err);
	if (r < 0)
		return r;

	ref = xnew(struct image_ref);
	const char *at = strchr(s, '@');
	name = at ? xstrndup(s, (size_t)(at - s)) : xstrdup(s);
	if (at) {
		r = check_digest(at + 1, err);
		if (r < 0)
			return err_wrap(err, "invalid reference '%s'", s);
		ref->digest = xstrdup(at + 1);
	}
	char *slash = strrchr(name, '/');
	char *colon = strrchr(name, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		if (!image_tag_valid(colon + 1))
			return err_msg(
			    err, -EINVAL,
			    colon[1]
				? "invalid tag '%s' in reference '%s': tags match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
				: "empty tag%s in reference '%s'",
			    colon + 1, s);
		ref->tag = xstrdup(colon + 1);
	}
	r = parse_name(name, ref, err);
	if (r < 0)
		return err_wrap(err, "invalid reference '%s'", s);
	if (!ref->tag && !ref->digest) {
		ref->tag = xstrdup("latest");
		ref->implicit_tag = true;
	}
	*ret = TAKE_PTR(ref);
	return 0;
}

int image_ref_from_parts(const char *name, const char *tag, const char *digest,
			 struct image_ref **ret, struct err *err)
{
	cleanup_free char *s = xasprintf("%s%s%s%s%s", name, tag ? ":" : "", tag ? tag : "",
					 digest ? "@" : "", digest ? digest : "");
	return image_ref_parse(s, ret, err);
}

static char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct image_ref *image_ref_dup(const struct image_ref *ref)
{
	struct image_ref *c = xnew(struct image_ref);
	c->domain = xstrdup(ref->domain);
	c->path = xstrdup(ref->path);
	c->tag = xstrdup_or_null(ref->tag);
	c->digest = xstrdup_or_null(ref->digest);
	c->given = xstrdup_or_null(ref->given);
	c->short_name = ref->short_name;
	c->implicit_tag = ref->implicit_tag;
	return c;
}

char *image_ref_string(const struct image_ref *ref, enum image_ref_form form)
{
	const char *domain = ref->domain, *path = ref->path;
	const char *tag = form == IMAGE_REF_NAME ? NULL : ref->tag;
	const char *digest = form == IMAGE_REF_NAME ? NULL : ref->digest;

	if (form == IMAGE_REF_FAMILIAR && strcmp(domain, IMAGE_DOCKER_DOMAIN) == 0) {
		domain = NULL;
		if (str_has_prefix(path, "library/") && !strchr(path + 8, '/'))
			path += 8;
	}
	return xasprintf("%s%s%s%s%s%s%s", domain ? domain : "", domain ? "/" : "", path,
			 tag ? ":" : "", tag ? tag : "", digest ? "@" : "", digest ? digest : "");
}

void image_ref_free(struct image_ref *ref)
{
	if (!ref)
		return;
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	free(ref->given);
	free(ref);
}

void image_refs_free(struct image_ref **refs)
{
	if (!refs)
		return;
	for (size_t i = 0; refs[i]; i++)
		image_ref_free(refs[i]);
	free(refs);
}
