/* The registry client (distribution API v2): scheme and TLS choice,
 * Basic and bearer-token authentication, redirects that never carry
 * credentials to another host, retries of transient failures, and the
 * three requests a pull needs (manifest, small blob, streamed blob). */
#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "base/base.h"
#include "base/json.h"
#include "image/http_int.h"
#include "image/image_int.h"

#define MAX_REDIRECTS 5
#define RETRIES 3

struct image_registry {
	struct image_registry_opts o;
	char *host;   /* what we connect to (docker.io -> registry-1.docker.io) */
	char *scheme; /* "https" or "http" once known */
	/* how the last failed attempt failed (settles the scheme; the first
	 * attempt runs on one thread, before layers are fetched in parallel) */
	bool last_plain, last_untrusted;
	char **ca_files;
	char *client_cert, *client_key;
	char *basic;	      /* "Authorization: Basic <b64>" or NULL */
	char who[72];	      /* digest of the credentials: tokens are cached per asker */
	char *registry_token; /* a bearer token given as is, or NULL */
	char *identity_token; /* an OAuth2 refresh token, or NULL */
	/* The Authorization that last worked, sent up front next time for the
	 * same scope (saves a 401 round trip per request). Layer downloads
	 * share the client across threads: guarded by `lock`. */
	pthread_mutex_t lock;
	char *last_auth, *last_scope;
	/* Requests of one pull reuse connections and TLS sessions. */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *opaque)
{
	struct image_registry *r = opaque;
	pthread_mutex_lock(&r->share_locks[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *opaque)
{
	struct image_registry *r = opaque;
	pthread_mutex_unlock(&r->share_locks[d]);
}

static void share_init(struct image_registry *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(r->share_locks); i++)
		pthread_mutex_init(&r->share_locks[i], NULL);
	r->share = curl_share_init();
	if (!r->share)
		return; /* no sharing: every request connects anew */
	curl_share_setopt(r->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(r->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(r->share, CURLSHOPT_USERDATA, r);
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void load_certs_dir(struct image_registry *r)
{
	const char *base = r->o.certs_dir ? r->o.certs_dir : IMAGE_CERTS_DIR;
	cleanup_free char *dir = xasprintf("%s/%s", base, r->o.domain);
	cleanup(strv_free) char **names = NULL;
	if (fs_list_dir(dir, &names) < 0)
		return;
	for (size_t i = 0; names[i]; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		if (str_has_suffix(names[i], ".crt"))
			strv_push_take(&r->ca_files, p);
		else if (strcmp(names[i], "client.cert") == 0)
			free(r->client_cert), r->client_cert = p;
		else if (strcmp(names[i], "client.key") == 0)
			free(r->client_key), r->client_key = p;
		else
			free(p);
	}
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static void digest_of(const char *data, size_t len, char out[72])
{
	unsigned char md[32];
	unsigned int n = 0;
	(void)EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

int image_registry_new(const struct image_registry_opts *o, struct image_registry **ret,
		       struct err *err)
{
	if (str_empty(o->domain))
		return err_msg(err, -EINVAL, "registry: no host");
	const struct image_creds *cc = o->creds;
	if (cc && ((!str_empty(cc->registry_token) && !image_token_valid(cc->registry_token)) ||
		   (!str_empty(cc->identity_token) && !image_token_valid(cc->identity_token))))
		return err_msg(err, -EINVAL,
			       "registry %s: the token given has characters a header cannot carry",
			       o->domain);
	struct image_registry *r = xnew(struct image_registry);
	r->o = *o;
	r->o.domain = xstrdup(o->domain);
	r->o.creds = NULL; /* borrowed for this call only */
	r->host = xstrdup(strcmp(o->domain, IMAGE_DOCKER_DOMAIN) == 0 ? "registry-1.docker.io"
								      : o->domain);
	load_certs_dir(r);
	pthread_mutex_init(&r->lock, NULL);
	share_init(r);
	const struct image_creds *c = o->creds;
	if (c && !str_empty(c->username)) {
		cleanup_free char *up =
		    xasprintf("%s:%s", c->username, c->password ? c->password : "");
		cleanup_free char *enc = b64(up);
		r->basic = xasprintf("Authorization: Basic %s", enc);
		explicit_bzero(up, strlen(up));
		explicit_bzero(enc, strlen(enc));
	}
	if (c && !str_empty(c->registry_token))
		r->registry_token = xstrdup(c->registry_token);
	if (c && !str_empty(c->identity_token))
		r->identity_token = xstrdup(c->identity_token);
	/* Tokens one set of credentials got must not serve another (or an
	 * anonymous caller): the cache key holds a digest of them. */
	cleanup_free char *all = xasprintf("%s\n%s", r->basic ? r->basic : "",
					   r->identity_token ? r->identity_token : "");
	digest_of(all, strlen(all), r->who);
	explicit_bzero(all, strlen(all));
	*ret = r;
	return 0;
}

void image_registry_free(struct image_registry *r)
{
	if (!r)
		return;
	free((char *)r->o.domain);
	free(r->last_scope);
	pthread_mutex_destroy(&r->lock);
	if (r->share)
		curl_share_cleanup(r->share);
	for (size_t i = 0; i < ARRAY_SIZE(r->share_locks); i++)
		pthread_mutex_destroy(&r->share_locks[i]);
	free(r->host);
	free(r->scheme);
	strv_free(r->ca_files);
	free(r->client_cert);
	free(r->client_key);
	char *const secrets[] = { r->basic, r->registry_token, r->identity_token, r->last_auth };
	for (size_t i = 0; i < ARRAY_SIZE(secrets); i++) {
		if (secrets[i])
			explicit_bzero(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
	}
	free(r);
}

/* "scheme://host[:port]" of a URL, lowercased, for same-origin checks. */
static char *origin_of(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return xstrdup("");
	p += 3;
	size_t n = strcspn(p, "/?#");
	char *o = xstrndup(url, (size_t)(p - url) + n);
	for (char *q = o; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return o;
}

struct req {
	const char *accept;
	const char *scope; /* "repository:x:pull" */
	char *auth;	   /* "Authorization: ..." in use, or NULL */
	bool auth_tried;   /* a challenge was answered already */
};

/* Token key: realm, service, scope and who asked. */
static char *token_key(const struct image_registry *r, const struct image_auth_challenge *c,
		       const char *scope)
{
	return xasprintf("%s|%s|%s|%s", c->realm ? c->realm : "", c->service ? c->service : "",
			 scope, r->who);
}

/* The token request for challenge c: a GET of *ret_url, or with an
 * identity token (OAuth2: the refresh token traded for an access token) a
 * POST of *ret_form (NULL for a GET). */
static void token_request(const struct image_registry *r, const struct image_auth_challenge *c,
			  const char *scope, char **ret_url, char **ret_form)
{
	CURL *esc = curl_easy_init();
	char *svc = c->service ? curl_easy_escape(esc, c->service, 0) : NULL;
	char *sc = curl_easy_escape(esc, scope, 0);
	*ret_form = NULL;
	if (r->identity_token) {
		char *rt = curl_easy_escape(esc, r->identity_token, 0);
		*ret_url = xstrdup(c->realm);
		*ret_form = xasprintf("grant_type=refresh_token&client_id=ocid&service=%s&scope=%s"
				      "&refresh_token=%s",
				      svc ? svc : "", sc, rt);
		explicit_bzero(rt, strlen(rt));
		curl_free(rt);
	} else {
		*ret_url = xasprintf("%s%sservice=%s&scope=%s", c->realm,
				     strchr(c->realm, '?') ? "&" : "?", svc ? svc : "", sc);
	}
	curl_free(svc);
	curl_free(sc);
	curl_easy_cleanup(esc);
}

/* Ask the token server of challenge c: the token and its expiry. */
static int token_exchange(struct image_registry *r, const struct image_auth_challenge *c,
			  const char *url, const char *form, char **ret, int64_t *ret_expires,
			  struct err *err)
{
	char *hdrs[] = { r->identity_token ? NULL : r->basic, NULL };
	/* A token server on the registry's own host trusts the same CAs. */
	cleanup_free char *realm_origin = origin_of(c->realm);
	cleanup_free char *reg_origin = xasprintf("https://%s", r->host);
	for (char *p = reg_origin; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	bool same = strcmp(realm_origin, reg_origin) == 0;
	struct image_http_opts ho = { .headers = hdrs,
				      .tls_verify = !r->o.insecure,
				      .ca_files = same ? r->ca_files : NULL,
				      .client_cert = same ? r->client_cert : NULL,
				      .client_key = same ? r->client_key : NULL,
				      .cancelled = r->o.cancelled,
				      .cancel_opaque = r->o.cancel_opaque,
				      .post = form };
	cleanup(image_http_free) struct image_http *h = NULL;
	cleanup_free char *body = NULL;
	size_t len = 0;
	int rc = image_http_start(url, &ho, &h, err);
	if (rc >= 0)
		rc = image_http_wait_headers(h, err);
	if (rc >= 0 && (h->status == 401 || h->status == 403))
		return err_msg(err, -EACCES,
			       "registry %s: authentication failed (token server answered %ld)%s",
			       r->o.domain, h->status,
			       r->basic ? "; check the credentials" : "; credentials are needed");
	if (rc >= 0 && h->status != 200)
		rc = err_msg(err, h->status >= 500 ? -EREMOTEIO : -EPROTO,
			     "token server answered HTTP %ld", h->status);
	if (rc >= 0)
		rc = image_http_read_all(h, 1u << 20, &body, &len, err);
	if (rc >= 0)
		rc = image_token_parse(body, len, now_s(), ret, ret_expires, err);
	if (rc < 0)
		return err_wrap(err, "registry %s: get token", r->o.domain);
	return 0;
}

static int fetch_token(struct image_registry *r, const struct image_auth_challenge *c,
		       const char *scope, char **ret, struct err *err)
{
	if (str_empty(c->realm))
		return err_msg(err, -EPROTO, "registry %s: bearer challenge without a realm",
			       r->o.domain);
	if (!str_has_prefix(c->realm, "https://") &&
	    !(r->o.insecure && str_has_prefix(c->realm, "http://")))
		return err_msg(
		    err, -EPROTO,
		    "registry %s: token realm '%s' is not https (mark the registry insecure to allow it)",
		    r->o.domain, c->realm);
	cleanup_free char *key = token_key(r, c, scope);
	char *cached = r->o.tokens ? image_token_cache_get(r->o.tokens, key, now_s()) : NULL;
	if (cached) {
		*ret = cached;
		return 0;
	}
	cleanup_free char *url = NULL;
	cleanup_free char *form = NULL;
	token_request(r, c, scope, &url, &form);
	int64_t expires = 0;
	int rc = token_exchange(r, c, url, form, ret, &expires, err);
	if (rc < 0)
		return rc;
	if (r->o.tokens)
		image_token_cache_put(r->o.tokens, key, *ret, expires);
	return 0;
}

/* Answer a 401 challenge: set q->auth. 0 when there is something to retry
 * with, -EACCES when not. */
static int answer_challenge(struct image_registry *r, struct image_http *h, struct req *q,
			    struct err *err)
{
	struct image_auth_challenge *c = NULL;
	size_t n = 0;
	if (!h->www_auth || image_www_auth_parse(h->www_auth, &c, &n, NULL) < 0)
		return err_msg(err, -EACCES, "registry %s: unauthorized (no usable challenge)",
			       r->o.domain);
	int rc = -EACCES;
	for (size_t i = 0; i < n && rc == -EACCES; i++) {
		if (c[i].scheme == IMAGE_AUTH_BEARER && r->registry_token) {
			free(q->auth);
			q->auth = xasprintf("Authorization: Bearer %s", r->registry_token);
			rc = 0;
		} else if (c[i].scheme == IMAGE_AUTH_BEARER) {
			cleanup_free char *tok = NULL;
			rc = fetch_token(r, &c[i], q->scope, &tok, err);
			if (rc >= 0) {
				free(q->auth);
				q->auth = xasprintf("Authorization: Bearer %s", tok);
				explicit_bzero(tok, strlen(tok));
			}
		} else if (c[i].scheme == IMAGE_AUTH_BASIC && r->basic) {
			free(q->auth);
			q->auth = xstrdup(r->basic);
			rc = 0;
		}
	}
	image_www_auth_free(c, n);
	if (rc == -EACCES && (!err || !err->msg))
		err_msg(err, -EACCES, "registry %s: authentication required%s", r->o.domain,
			r->basic ? "" : " (no credentials for it)");
	return rc;
}

static bool transient(int rc, long status)
{
	if (rc < 0)
		return rc == -EREMOTEIO || rc == -ETIMEDOUT;
	return status == 429 || status == 502 || status == 503 || status == 504;
}

static void backoff(int attempt)
{
	struct timespec ts = { 0, (long)(100000000L << attempt) }; /* 0.1, 0.2, 0.4 s */
	nanosleep(&ts, NULL);
}

/* One attempt: follow redirects; stop at the final response's headers. */
static int attempt(struct image_registry *r, const char *path, struct req *q, bool head,
		   struct image_http **ret, struct err *err)
{
	cleanup_free char *url = xasprintf("%s://%s/v2/%s", r->scheme, r->host, path);
	cleanup_free char *home = origin_of(url);
	for (int hops = 0;; hops++) {
		cleanup_free char *acc = q->accept ? xasprintf("Accept: %s", q->accept) : NULL;
		cleanup_free char *here = origin_of(url);
		/* Credentials only ever go to the registry's own origin. */
		bool same = strcmp(here, home) == 0;
		char *hdrs[3] = { 0 };
		size_t nh = 0;
		if (acc)
			hdrs[nh++] = acc;
		if (same && q->auth)
			hdrs[nh++] = q->auth;
		struct image_http_opts ho = {
			.headers = hdrs,
			.tls_verify = !r->o.insecure,
			.ca_files = same ? r->ca_files : NULL,
			.client_cert = same ? r->client_cert : NULL,
			.client_key = same ? r->client_key : NULL,
			.progress_timeout_ms = r->o.progress_timeout_s * 1000,
			.cancelled = r->o.cancelled,
			.cancel_opaque = r->o.cancel_opaque,
			.head = head,
			.share = r->share,
		};
		struct image_http *h = NULL;
		int rc = image_http_start(url, &ho, &h, err);
		if (rc >= 0)
			rc = image_http_wait_headers(h, err);
		if (rc < 0) {
			r->last_plain = h && h->plain_http;
			r->last_untrusted = h && h->untrusted;
			image_http_free(h);
			return rc;
		}
		bool redirect = h->status == 301 || h->status == 302 || h->status == 303 ||
				h->status == 307 || h->status == 308;
		if (!redirect || !h->location) {
			*ret = h;
			return 0;
		}
		if (hops >= MAX_REDIRECTS) {
			image_http_free(h);
			return err_msg(err, -EREMOTEIO, "too many redirects");
		}
		char *next = NULL;
		CURLU *u = curl_url();
		if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		    curl_url_set(u, CURLUPART_URL, h->location, CURLU_NON_SUPPORT_SCHEME) ==
			CURLUE_OK)
			(void)curl_url_get(u, CURLUPART_URL, &next, 0);
		curl_url_cleanup(u);
		image_http_free(h);
		if (!next ||
		    (!str_has_prefix(next, "https://") && !str_has_prefix(next, "http://"))) {
			curl_free(next);
			return err_msg(err, -EREMOTEIO, "bad redirect");
		}
		free(url);
		url = xstrdup(next);
		curl_free(next);
	}
}

/* What a person can do about a failed connection, after the error. */
static int explain(struct image_registry *r, int rc, bool plain, bool untrusted, struct err *err)
{
	const char *d = r->o.domain;
	if (plain)
		return err_wrap(
		    err,
		    "registry %s answers plain http, not https: if that is intended, add [[registry]] location = \"%s\" with insecure = true to registries.conf",
		    d, d);
	if (untrusted)
		return err_wrap(
		    err,
		    "registry %s: its TLS certificate is not trusted: put the CA that signed it in %s/%s/ca.crt (or mark it insecure = true in registries.conf)",
		    d, r->o.certs_dir ? r->o.certs_dir : IMAGE_CERTS_DIR, d);
	switch (rc) {
	case -EPROTO:
		return err_wrap(err, "registry %s: TLS handshake failed", d);
	case -ECONNREFUSED:
		return err_wrap(
		    err,
		    "registry %s: connection refused (is the registry running and listening on that port?)",
		    d);
	case -EHOSTUNREACH:
		return err_wrap(
		    err,
		    "registry %s: its host name does not resolve (check the name, and the node's DNS: /etc/resolv.conf)",
		    d);
	case -ETIMEDOUT:
		return err_wrap(err, "registry %s: timed out", d);
	default:
		return rc;
	}
}

/* 127.0.0.0/8, ::1, localhost, with or without a port: Docker and
 * containerd let these be reached over plain http without configuration. */
static bool is_loopback(const char *domain)
{
	if (str_has_prefix(domain, "[::1]"))
		return domain[5] == '\0' || domain[5] == ':';
	size_t n = strcspn(domain, ":");
	if (n == 9 && strncmp(domain, "localhost", 9) == 0)
		return true;
	if (!str_has_prefix(domain, "127."))
		return false;
	for (size_t i = 4; i < n; i++)
		if (!isdigit((unsigned char)domain[i]) && domain[i] != '.')
			return false;
	return true;
}

/* The first attempt also settles the scheme: https, or plain http when
 * https fails for an insecure registry, or for a loopback one whose port
 * speaks plain http (never after a certificate failure: a loopback https
 * registry with an untrusted certificate is not silently downgraded). */
static int attempt_scheme(struct image_registry *r, const char *path, struct req *q, bool head,
			  struct image_http **ret, struct err *err)
{
	if (r->scheme)
		return attempt(r, path, q, head, ret, err);
	r->scheme = xstrdup("https");
	bool plain = false, untrusted = false;
	int rc = attempt(r, path, q, head, ret, err);
	if (rc < 0 && rc != -ECANCELED) {
		plain = r->last_plain;
		untrusted = r->last_untrusted;
	}
	if (rc < 0 && rc != -ECANCELED && (r->o.insecure || (plain && is_loopback(r->o.domain)))) {
		err_done(err);
		free(r->scheme);
		r->scheme = xstrdup("http");
		plain = untrusted = false;
		rc = attempt(r, path, q, head, ret, err);
	}
	if (rc < 0) {
		free(r->scheme);
		r->scheme = NULL;
		return explain(r, rc, plain, untrusted, err);
	}
	return rc;
}

static void remember_auth(struct image_registry *r, const struct req *q)
{
	pthread_mutex_lock(&r->lock);
	if (r->last_auth)
		explicit_bzero(r->last_auth, strlen(r->last_auth));
	free(r->last_auth);
	free(r->last_scope);
	r->last_auth = xstrdup(q->auth);
	r->last_scope = xstrdup(q->scope);
	pthread_mutex_unlock(&r->lock);
}

/* Authentication and retries around attempt(). */
static int request(struct image_registry *r, const char *path, struct req *q, bool head,
		   struct image_http **ret, struct err *err)
{
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	if (!q->auth && r->last_auth && strcmp(r->last_scope, q->scope) == 0)
		q->auth = xstrdup(r->last_auth);
	pthread_mutex_unlock(&r->lock);
	for (int i = 0; i < RETRIES; i++) {
		if (i)
			backoff(i - 1);
		err_done(err);
		struct image_http *h = NULL;
		rc = attempt_scheme(r, path, q, head, &h, err);
		if (rc >= 0 && h->status == 401 && !q->auth_tried) {
			q->auth_tried = true;
			rc = answer_challenge(r, h, q, err);
			image_http_free(h);
			h = NULL;
			if (rc < 0)
				return rc;
			rc = attempt_scheme(r, path, q, head, &h, err);
		}
		if (rc >= 0 && transient(rc, h->status) && i + 1 < RETRIES) {
			image_http_free(h);
			continue;
		}
		if (rc >= 0) {
			if (h->status != 401 && q->auth)
				remember_auth(r, q);
			*ret = h;
			return 0;
		}
		if (!transient(rc, 0))
			return rc;
	}
	return rc;
}

/* What the registry said in an error body ({"errors": [{"code",
 * "message"}]}), as " (message)", or "" when it said nothing readable. */
static char *registry_says(struct image_http *h)
{
	cleanup_free char *body = NULL;
	size_t len = 0;
	json_t *j = NULL;
	if (image_http_read_all(h, 16384, &body, &len, NULL) < 0 ||
	    js_load("error", body, len, 16384, &j, NULL) < 0)
		return xstrdup("");
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *m = json_string_value(json_object_get(e0, "message"));
	if (str_empty(m))
		m = json_string_value(json_object_get(e0, "code"));
	char *out = str_empty(m) ? xstrdup("") : xasprintf(" (%.200s)", m);
	json_decref(j);
	return out;
}

/* Map a final status other than 200 to an error. */
static int status_error(struct image_registry *r, struct image_http *h, const char *what,
			struct err *err)
{
	if (h->status == 404) {
		cleanup_free char *says = registry_says(h);
		return err_msg(err, -ENOENT, "registry %s: %s: not found%s", r->o.domain, what,
			       says);
	}
	switch (h->status) {
	case 200:
		return 0;
	case 401:
		return err_msg(err, -EACCES, "registry %s: %s: unauthorized%s", r->o.domain, what,
			       r->basic ? " (credentials rejected)" : "");
	case 403:
		return err_msg(err, -EACCES, "registry %s: %s: access denied", r->o.domain, what);
	case 429:
		return err_msg(
		    err, -EAGAIN,
		    "registry %s: %s: too many requests (rate limited; try again later, or give credentials)",
		    r->o.domain, what);
	default:
		/* 5xx: the registry is failing; another 4xx: it refuses what a
		 * client of the distribution API sends, so nothing we can fix */
		return err_msg(err, h->status >= 500 ? -EREMOTEIO : -EPROTO,
			       "registry %s: %s: HTTP %ld%s", r->o.domain, what, h->status,
			       h->status >= 500 ? " (the registry is failing; try again later)"
						: "");
	}
}

/* GET `path` of `repo` into memory (at most `max` bytes) and record its
 * sha256; when `want` is set the content must have that digest. */
static int fetch_small(struct image_registry *r, const char *repo, const char *path,
		       const char *accept, size_t max, const char *what, const char *want,
		       struct image_fetched *ret, struct err *err)
{
	cleanup_free char *scope = xasprintf("repository:%s:pull", repo);
	struct req q = { .accept = accept, .scope = scope };
	cleanup(image_http_free) struct image_http *h = NULL;
	int rc = request(r, path, &q, false, &h, err);
	free(q.auth);
	if (rc >= 0)
		rc = status_error(r, h, what, err);
	if (rc >= 0)
		rc = image_http_read_all(h, max, &ret->data, &ret->len, err);
	if (rc < 0)
		return rc == -EFBIG ? err_wrap(err, "%s", what) : rc;
	ret->content_type = h->content_type ? xstrdup(h->content_type) : NULL;
	digest_of(ret->data, ret->len, ret->digest);
	if (want && strcmp(want, ret->digest) != 0) {
		image_fetched_done(ret);
		return err_msg(err, -EINVAL, "%s: content has digest %s", what, ret->digest);
	}
	return 0;
}

int image_registry_get_manifest(struct image_registry *r, const char *repo, const char *reference,
				struct image_fetched *ret, struct err *err)
{
	cleanup_free char *path = xasprintf("%s/manifests/%s", repo, reference);
	cleanup_free char *what = xasprintf("manifest %s:%s", repo, reference);
	return fetch_small(r, repo, path, IMAGE_MANIFEST_ACCEPT, IMAGE_MANIFEST_MAX, what,
			   image_digest_valid(reference) ? reference : NULL, ret, err);
}

int image_registry_get_blob(struct image_registry *r, const char *repo, const char *digest,
			    size_t max, struct image_fetched *ret, struct err *err)
{
	cleanup_free char *path = xasprintf("%s/blobs/%s", repo, digest);
	cleanup_free char *what = xasprintf("blob %s", digest);
	return fetch_small(r, repo, path, NULL, max, what, digest, ret, err);
}

void image_fetched_done(struct image_fetched *f)
{
	free(f->data);
	free(f->content_type);
	*f = (struct image_fetched){ 0 };
}

struct image_blob {
	struct image_http *h;
	struct err err;
	uint64_t *progress; /* bytes so far, updated atomically; may be NULL */
};

int image_registry_open_blob(struct image_registry *r, const char *repo, const char *digest,
			     uint64_t *progress, struct image_blob **ret, struct err *err)
{
	cleanup_free char *path = xasprintf("%s/blobs/%s", repo, digest);
	cleanup_free char *scope = xasprintf("repository:%s:pull", repo);
	cleanup_free char *what = xasprintf("blob %s", digest);
	struct req q = { .scope = scope };
	struct image_http *h = NULL;
	int rc = request(r, path, &q, false, &h, err);
	free(q.auth);
	if (rc >= 0)
		rc = status_error(r, h, what, err);
	if (rc < 0) {
		image_http_free(h);
		return rc;
	}
	struct image_blob *b = xnew(struct image_blob);
	b->h = h;
	b->progress = progress;
	*ret = b;
	return 0;
}

ssize_t image_blob_read(void *opaque, void *buf, size_t len)
{
	struct image_blob *b = opaque;
	ssize_t n = image_http_read(b->h, buf, len, &b->err);
	if (n > 0 && b->progress)
		__atomic_add_fetch(b->progress, (uint64_t)n, __ATOMIC_RELAXED);
	return n;
}

int image_blob_error(const struct image_blob *b, const char **ret_msg)
{
	*ret_msg = b->err.msg;
	return b->err.msg ? b->err.code : 0;
}

void image_blob_close(struct image_blob *b)
{
	if (!b)
		return;
	image_http_free(b->h);
	err_done(&b->err);
	free(b);
}
