/* Registry credentials: containers-auth.json(5) / docker config.json
 * lookup, the base64 "user:password" form, and the bearer-token cache. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "base/json.h"
#include "base/fs.h"
#include "image/image_int.h"

void image_creds_done(struct image_creds *c)
{
	if (!c)
		return;
	/* Secrets: wipe before freeing. */
	char *const f[] = { c->password, c->identity_token, c->registry_token };
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (f[i])
			explicit_bzero(f[i], strlen(f[i]));
	free(c->username);
	free(c->password);
	free(c->identity_token);
	free(c->registry_token);
	*c = (struct image_creds){ 0 };
}

bool image_creds_empty(const struct image_creds *c)
{
	return str_empty(c->username) && str_empty(c->password) && str_empty(c->identity_token) &&
	       str_empty(c->registry_token);
}

int image_creds_decode(const char *b64, struct image_creds *ret, struct err *err)
{
	size_t n = strlen(b64);
	if (n == 0 || n > 8192 || n % 4)
		return err_msg(err, -EINVAL, "credentials: \"auth\" is not valid base64");
	cleanup_free unsigned char *out = xmalloc(n / 4 * 3 + 1);
	int m = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
	if (m < 0)
		return err_msg(err, -EINVAL, "credentials: \"auth\" is not valid base64");
	/* EVP_DecodeBlock counts padding as zero bytes; padding is at most
	 * two '=' at the very end. */
	size_t pad = (b64[n - 1] == '=') + (b64[n - 1] == '=' && b64[n - 2] == '=');
	if (memchr(b64, '=', n - pad) || (size_t)m < pad) {
		explicit_bzero(out, (size_t)(m > 0 ? m : 0));
		return err_msg(err, -EINVAL, "credentials: \"auth\" is not valid base64");
	}
	m -= (int)pad;
	out[m] = '\0';
	char *colon = strchr((char *)out, ':');
	if (!colon || colon == (char *)out || memchr(out, '\0', (size_t)m)) {
		explicit_bzero(out, (size_t)m);
		return err_msg(err, -EINVAL, "credentials: \"auth\" is not \"user:password\"");
	}
	*colon = '\0';
	ret->username = xstrdup((char *)out);
	ret->password = xstrdup(colon + 1);
	explicit_bzero(out, (size_t)m);
	return 0;
}

/* An auths key as people write it: "https://host/v1/", "host", "host/ns/repo". */
static char *key_normalise(const char *k)
{
	if (str_has_prefix(k, "https://"))
		k += 8;
	else if (str_has_prefix(k, "http://"))
		k += 7;
	char *s = xstrdup(k);
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	if (n > 3 && (str_has_suffix(s, "/v1") || str_has_suffix(s, "/v2")))
		s[n - 3] = '\0';
	if (strcmp(s, "index.docker.io") == 0 || strcmp(s, "registry-1.docker.io") == 0) {
		free(s);
		s = xstrdup(IMAGE_DOCKER_DOMAIN);
	}
	return s;
}

/* How specifically `key` names `want` ("host/path"): its length when it is
 * want itself or a parent namespace of it (or the host), else -1. */
static long key_match(const char *key, const char *want)
{
	size_t n = strlen(key);
	if (strncmp(key, want, n) != 0 || (want[n] != '\0' && want[n] != '/'))
		return -1;
	return (long)n;
}

static int entry_creds(const json_t *e, const char *what, struct image_creds *ret, struct err *err)
{
	const char *auth = NULL, *idt = NULL;
	int r = js_get_str(e, what, "auth", NULL, &auth, err);
	if (r >= 0)
		r = js_get_str(e, what, "identitytoken", NULL, &idt, err);
	if (r < 0)
		return r;
	if (!str_empty(auth)) {
		r = image_creds_decode(auth, ret, err);
		if (r < 0)
			return err_wrap(err, "%s", what);
	}
	if (!str_empty(idt))
		ret->identity_token = xstrdup(idt);
	return 0;
}

int image_authfile_find(const char *name, const char *text, size_t len, const char *registry,
			const char *path, struct image_creds *ret, struct err *err)
{
	if (len > IMAGE_AUTHFILE_MAX)
		return err_msg(err, -EFBIG, "%s is larger than %u bytes", name, IMAGE_AUTHFILE_MAX);
	cleanup(json_decref) json_t *doc = NULL;
	int r = image_json_load(name, text, len, &doc, err);
	if (r < 0)
		return r;
	const json_t *auths = json_object_get(doc, "auths");
	if (!auths || json_is_null(auths))
		return 0;
	if (!json_is_object(auths))
		return err_msg(err, -EINVAL, "%s: \"auths\" is not an object", name);
	cleanup_free char *want = xasprintf("%s/%s", registry, path ? path : "");
	if (!path)
		want[strlen(want) - 1] = '\0';
	const char *key, *best = NULL;
	long best_len = -1;
	json_t *v;
	json_object_foreach((json_t *)auths, key, v)
	{
		cleanup_free char *k = key_normalise(key);
		long m = key_match(k, want);
		if (m > best_len) {
			best_len = m;
			best = key;
		}
	}
	if (!best)
		return 0;
	const json_t *e = json_object_get(auths, best);
	if (!json_is_object(e))
		return err_msg(err, -EINVAL, "%s: auths.\"%s\" is not an object", name, best);
	cleanup_free char *what = xasprintf("%s: auths.\"%s\"", name, best);
	struct image_creds c = { 0 };
	r = entry_creds(e, what, &c, err);
	if (r < 0 || image_creds_empty(&c)) {
		image_creds_done(&c);
		return r;
	}
	*ret = c;
	return 1;
}

int image_authfile_lookup(char *const *paths, const char *registry, const char *path,
			  struct image_creds *ret, struct err *err)
{
	for (size_t i = 0; paths && paths[i]; i++) {
		cleanup_free char *text = NULL;
		size_t len = 0;
		int r = fs_read_file(AT_FDCWD, paths[i], IMAGE_AUTHFILE_MAX, &text, &len, err);
		if (r == -ENOENT || r == -ENOTDIR) {
			err_done(err);
			continue;
		}
		if (r < 0)
			return r;
		r = image_authfile_find(paths[i], text, len, registry, path, ret, err);
		explicit_bzero(text, len);
		if (r != 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------ token cache -- */

struct token {
	char *key;
	char *token;
	int64_t expires; /* unix seconds */
};

struct image_token_cache {
	pthread_mutex_t lock;
	struct token *v;
	size_t n;
};

struct image_token_cache *image_token_cache_new(void)
{
	struct image_token_cache *c = xnew(struct image_token_cache);
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void token_drop(struct token *t)
{
	explicit_bzero(t->token, strlen(t->token));
	free(t->token);
	free(t->key);
}

void image_token_cache_free(struct image_token_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		token_drop(&c->v[i]);
	free(c->v);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

char *image_token_cache_get(struct image_token_cache *c, const char *key, int64_t now)
{
	char *out = NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].key, key) != 0)
			continue;
		if (c->v[i].expires > now) {
			out = xstrdup(c->v[i].token);
		} else {
			token_drop(&c->v[i]);
			c->v[i] = c->v[--c->n];
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}

void image_token_cache_put(struct image_token_cache *c, const char *key, const char *token,
			   int64_t expires)
{
	pthread_mutex_lock(&c->lock);
	size_t i = 0;
	while (i < c->n && strcmp(c->v[i].key, key) != 0)
		i++;
	if (i == c->n) {
		if (c->n >= IMAGE_TOKEN_CACHE_MAX) {
			/* full: replace the entry that expires first */
			i = 0;
			for (size_t j = 1; j < c->n; j++)
				if (c->v[j].expires < c->v[i].expires)
					i = j;
			token_drop(&c->v[i]);
		} else {
			c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
			c->n++;
		}
	} else {
		token_drop(&c->v[i]);
	}
	c->v[i] = (struct token){ xstrdup(key), xstrdup(token), expires };
	pthread_mutex_unlock(&c->lock);
}

bool image_token_valid(const char *t)
{
	if (str_empty(t) || strlen(t) > IMAGE_TOKEN_MAX)
		return false;
	for (; *t; t++)
		if (*t < 0x21 || *t > 0x7e)
			return false;
	return true;
}

int image_token_parse(const char *data, size_t len, int64_t now, char **ret_token,
		      int64_t *ret_expires, struct err *err)
{
	cleanup(json_decref) json_t *doc = NULL;
	int r = image_json_load("token response", data, len, &doc, err);
	if (r < 0)
		return r;
	const char *tok = NULL, *access = NULL;
	if ((r = js_get_str(doc, "token response", "token", NULL, &tok, err)) < 0 ||
	    (r = js_get_str(doc, "token response", "access_token", NULL, &access, err)) < 0)
		return r;
	if (str_empty(tok))
		tok = access;
	if (str_empty(tok))
		return err_msg(err, -EINVAL, "token response has no token");
	if (!image_token_valid(tok))
		return err_msg(err, -EINVAL,
			       "token response: the token has characters a header cannot carry");
	const json_t *e = json_object_get(doc, "expires_in");
	int64_t expires_in = 60; /* the distribution spec's default */
	if (json_is_integer(e) && json_integer_value(e) > 0)
		expires_in = json_integer_value(e);
	if (expires_in > 86400 * 365)
		expires_in = 86400 * 365;
	/* Refresh a little early so a token never expires mid-request. */
	*ret_expires = now + (expires_in > 20 ? expires_in - 10 : expires_in / 2);
	*ret_token = xstrdup(tok);
	return 0;
}
