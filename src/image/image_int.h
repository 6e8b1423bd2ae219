/* Private helpers shared by the files of the image module. */
#pragma once

#include "base/json.h"

#include "image/image.h"

/* The module's own parts: used by its files, unit tests and fuzz targets
 * only (tools/check-layering). */

/* ----------------------------------------------------------- www_auth.c --
 * WWW-Authenticate (RFC 7235) as registries send it. */

#define IMAGE_WWW_AUTH_MAX 8192 /* header bytes */
#define IMAGE_WWW_AUTH_CHALLENGES_MAX 16

enum image_auth_scheme { IMAGE_AUTH_OTHER, IMAGE_AUTH_BASIC, IMAGE_AUTH_BEARER };

struct image_auth_challenge {
	enum image_auth_scheme scheme;
	char *scheme_name; /* as sent */
	char *realm;	   /* NULL when absent; same for the others */
	char *service;
	char *scope;
	char *error;
};

/** Parse a WWW-Authenticate header value holding one or more challenges.
 *  Scheme and parameter names are case-insensitive; values are tokens or
 *  quoted-strings with backslash escapes; unknown parameters and token68
 *  credentials are skipped. On success *ret (an array of *ret_n >= 1
 *  challenges) is owned by the caller (image_www_auth_free). -EINVAL for
 *  malformed headers, -EFBIG over the bounds. */
int image_www_auth_parse(const char *header, struct image_auth_challenge **ret, size_t *ret_n,
			 struct err *err);

/** Free `n` challenges. Accepts NULL. */
void image_www_auth_free(struct image_auth_challenge *c, size_t n);

/* ------------------------------------------------------------- policy.c --
 * containers-policy.json(5). Only the `docker` transport is consulted. */

#define IMAGE_POLICY_MAX (1u << 20)

struct image_policy;

/** Parse policy text of `len` bytes read from `name` (used in messages).
 *  `text` NULL means the file does not exist: the compiled-in default,
 *  insecureAcceptAnything for everything. -EINVAL for malformed JSON,
 *  missing or empty `default`, unknown requirement types. *ret owned by the
 *  caller. */
int image_policy_parse(const char *name, const char *text, size_t len, struct image_policy **ret,
		       struct err *err);

/** Free a policy. Accepts NULL. */
void image_policy_free(struct image_policy *p);
DEFINE_CLEANUP(struct image_policy, image_policy_free)

#define IMAGE_NEED_GPG 1      /* a signedBy requirement applies */
#define IMAGE_NEED_SIGSTORE 2 /* a sigstoreSigned requirement applies */

/** Decide whether `ref` (normalised, not short) may be pulled. The most
 *  specific transports.docker scope applies (name:tag or name@digest, the
 *  repository, each parent namespace, host[:port], *.domain wildcards, ""),
 *  then `default`. 0 to accept without signatures; a mask of IMAGE_NEED_*
 *  when signatures must be verified (image_policy_verify); -EACCES when a
 *  requirement rejects it. If `ret_scope` is not NULL it receives the scope
 *  used (borrowed from `p`; "default" for the default). */
int image_policy_check(const struct image_policy *p, const struct image_ref *ref,
		       const char **ret_scope, struct err *err);

#define IMAGE_SIG_MAX (4u << 20) /* bytes of one signature or payload */
#define IMAGE_SIGS_MAX 16	 /* signatures looked at per image */

/* The signatures found for one manifest digest. */
struct image_sig {
	bool sigstore; /* a cosign attachment (else GPG simple signing) */
	char *where;   /* URL or path, for messages */
	char *data;    /* GPG: the signed message; sigstore: the payload */
	size_t len;
	char *b64sig; /* sigstore: the base64 signature of `data` */
};

struct image_sigs {
	struct image_sig *v;
	size_t n;
	char *gpg_where;      /* where simple signatures were looked for, or NULL */
	char *sigstore_where; /* where attachments were looked for, or NULL */
};

/** Release the signatures. */
void image_sigs_done(struct image_sigs *s);

/** Verify the requirements of `ref`'s scope against `sigs`, found for the
 *  manifest of digest `digest` pulled as `ref` (the name asked for, also
 *  when a mirror served it). 0 when every requirement holds; *ret_info
 *  (owned, may be NULL) then says which requirements accepted it and the
 *  key fingerprints that verified it. -EACCES naming the policy file, the
 *  scope, the requirement and why it failed. */
int image_policy_verify(const struct image_policy *p, const struct image_ref *ref,
			const char *digest, const struct image_sigs *sigs, char **ret_info,
			struct err *err);

/* A parsed signature payload: the atomic container signature of simple
 * signing, or cosign's "cosign container image signature". */
struct image_sig_payload {
	char *docker_ref;
	char *digest;
};

/** Parse a payload of `len` bytes whose critical.type must be `type`. Its
 *  critical section must hold exactly type, image.docker-manifest-digest
 *  and identity.docker-reference. -EINVAL saying what is wrong. */
int image_sig_payload_parse(const char *data, size_t len, const char *type,
			    struct image_sig_payload *ret, struct err *err);

/** Release a payload's strings. */
void image_sig_payload_done(struct image_sig_payload *p);

/* ------------------------------------------------------ registries_d.c --
 * containers-registries.d(5): where signatures of an image are found. */

#define IMAGE_REGISTRIES_D "/etc/containers/registries.d"
#define IMAGE_REGISTRIES_D_MAX (1u << 20) /* bytes of one file */

struct image_registries_d;

/** An empty configuration (no lookaside, no sigstore attachments). */
struct image_registries_d *image_registries_d_new(void);

/** Add the YAML document of `len` bytes read from `name` (for messages):
 *  default-docker and docker: <scope>: {lookaside (or sigstore),
 *  use-sigstore-attachments}. -EINVAL when malformed or when a scope is
 *  defined a second time. */
int image_registries_d_add(struct image_registries_d *d, const char *name, const char *text,
			   size_t len, struct err *err);

/** Read every *.yaml of `dir` (sorted). A missing directory is empty. */
int image_registries_d_load(const char *dir, struct image_registries_d **ret, struct err *err);

/** Free. Accepts NULL. */
void image_registries_d_free(struct image_registries_d *d);
DEFINE_CLEANUP(struct image_registries_d, image_registries_d_free)

/** Where `ref`'s signatures are: the lookaside base URL (file://, http://,
 *  https://; borrowed, NULL when none) and whether sigstore attachments are
 *  used, from the most specific docker scope (repository, namespaces,
 *  host, *.domain) else default-docker. */
void image_registries_d_lookup(const struct image_registries_d *d, const struct image_ref *ref,
			       const char **ret_lookaside, bool *ret_sigstore);

/* --------------------------------------------------------- registries.c --
 * containers-registries.conf(5), version 2. */

#define IMAGE_REGISTRIES_CONF "/etc/containers/registries.conf"

enum image_pull_from_mirror {
	IMAGE_PULL_FROM_MIRROR_ALL,
	IMAGE_PULL_FROM_MIRROR_DIGEST_ONLY,
	IMAGE_PULL_FROM_MIRROR_TAG_ONLY,
};

struct image_registries;

/* One place to try a pull from. */
struct image_endpoint {
	char *location;	       /* "mirror.local:5000/dockerhub" */
	struct image_ref *ref; /* the reference to ask that endpoint for */
	bool insecure;	       /* plain http / unverified TLS allowed */
	bool mirror;
};

/** An empty configuration (no registries, no search list, no aliases). */
struct image_registries *image_registries_new(void);

/** Free a configuration. Accepts NULL. */
void image_registries_free(struct image_registries *r);
DEFINE_CLEANUP(struct image_registries, image_registries_free)

/** Merge one file's TOML text (`name` for messages) into `r`: a later
 *  [[registry]] with the same prefix replaces the earlier one, a later
 *  unqualified-search-registries replaces the list, aliases merge by name.
 *  -EINVAL for TOML errors, wrong types, invalid prefixes/locations/aliases,
 *  and the v1 format; `r` is unchanged on error. */
int image_registries_add(struct image_registries *r, const char *name, const char *text, size_t len,
			 struct err *err);

/** Load `path` then `dropin_dir`/ *.conf in lexical order (NULL dropin_dir:
 *  "<path>.d"). A missing file or directory is no error; when nothing at all
 *  is found, unqualified-search-registries is ["docker.io"]. */
int image_registries_load(const char *path, const char *dropin_dir, struct image_registries **ret,
			  struct err *err);

/** The ordered endpoints to try for normalised, non-short `ref`: the
 *  matching registry's mirrors (filtered by pull-from-mirror and
 *  mirror-by-digest-only), then the registry itself, each with the
 *  reference rewritten (prefix replaced by location). The longest matching
 *  prefix wins (exact prefixes before wildcards of equal length). -EACCES
 *  "registry X is blocked in registries.conf" when blocked. *ret (array of
 *  *ret_n >= 1) owned by the caller (image_endpoints_free). */
int image_registries_endpoints(const struct image_registries *r, const struct image_ref *ref,
			       struct image_endpoint **ret, size_t *ret_n, struct err *err);

/** Free `n` endpoints. Accepts NULL. */
void image_endpoints_free(struct image_endpoint *e, size_t n);

/** Candidates for short-name `ref`: its alias first (tag/digest kept), then
 *  each unqualified-search-registries entry (docker.io adds library/ to one
 *  component names). *ret is a NULL-terminated array of *ret_n references,
 *  owned by the caller (image_refs_free). -ENOENT when there is none,
 *  -EINVAL when `ref` is not short. */
int image_registries_resolve(const struct image_registries *r, const struct image_ref *ref,
			     struct image_ref ***ret, size_t *ret_n, struct err *err);

/** Free a NULL-terminated array of references. Accepts NULL. */
void image_refs_free(struct image_ref **refs);

/* ----------------------------------------------------------- registry.c --
 * A client for one registry endpoint (distribution API v2) over libcurl.
 * TLS with the system CAs plus <certs_dir>/<host[:port]>/ *.crt, and
 * client.cert/client.key there; plain http only for insecure registries
 * (tried after https fails). Basic and bearer-token challenges; tokens come
 * from a shared cache. Credentials are sent only to the registry's own
 * origin, never on a redirect elsewhere, and are never logged. Transient
 * failures (5xx, 429, I/O errors) are retried with backoff.
 * Errors: -ENOENT not found, -EACCES unauthorized/denied, -ECONNREFUSED,
 * -EHOSTUNREACH, -ETIMEDOUT, -EPROTO (TLS or protocol), -EINVAL digest
 * mismatch, -EFBIG over a size bound, -ECANCELED, -EIO otherwise. */

/* Polled during network waits: true means the caller is gone, give up. */

struct image_registry_opts {
	const char *domain;		  /* host[:port] as in references */
	bool insecure;			  /* plain http / unverified TLS allowed */
	const char *certs_dir;		  /* NULL: IMAGE_CERTS_DIR */
	const struct image_creds *creds;  /* borrowed during _new only; may be NULL */
	struct image_token_cache *tokens; /* borrowed, shared; may be NULL */
	uint64_t progress_timeout_s;	  /* abort a body with no bytes for this long; 0 off */
	image_cancelled_fn cancelled;	  /* polled while waiting: true aborts (-ECANCELED) */
	void *cancel_opaque;
};

struct image_registry;

/* A fetched document: body (NUL-terminated), its sha256 and Content-Type. */
struct image_fetched {
	char *data;
	size_t len;
	char *content_type; /* may be NULL */
	char digest[72];
};

/** A client for `o->domain`. *ret owned (image_registry_free). */
int image_registry_new(const struct image_registry_opts *o, struct image_registry **ret,
		       struct err *err);

/** Free a client (secrets wiped). Accepts NULL. */
void image_registry_free(struct image_registry *r);
DEFINE_CLEANUP(struct image_registry, image_registry_free)

/** GET /v2/<repo>/manifests/<reference> with the Accept list of
 *  IMAGE_MANIFEST_ACCEPT, at most IMAGE_MANIFEST_MAX bytes; when
 *  `reference` is a digest, the content must have it (-EINVAL). */
int image_registry_get_manifest(struct image_registry *r, const char *repo, const char *reference,
				struct image_fetched *ret, struct err *err);

/** GET a small blob (at most `max` bytes) and check its digest. */
int image_registry_get_blob(struct image_registry *r, const char *repo, const char *digest,
			    size_t max, struct image_fetched *ret, struct err *err);

/** Free what `f` holds. */
void image_fetched_done(struct image_fetched *f);

struct image_blob;

/** Start streaming a blob: on success the body is read with image_blob_read
 *  (a storage_read_fn); `progress` (may be NULL) is advanced atomically by
 *  every byte read. *ret owned (image_blob_close). */
int image_registry_open_blob(struct image_registry *r, const char *repo, const char *digest,
			     uint64_t *progress, struct image_blob **ret, struct err *err);

/** Read up to `len` bytes of the blob `opaque` (struct image_blob *): count,
 *  0 at the end, or a negative errno (image_blob_error tells why). */
ssize_t image_blob_read(void *opaque, void *buf, size_t len);

/** The last read error: its negative errno and (*ret_msg, borrowed) its
 *  message, or 0 and NULL when reads did not fail. */
int image_blob_error(const struct image_blob *b, const char **ret_msg);

/** End a blob stream. Accepts NULL. */
void image_blob_close(struct image_blob *b);

DEFINE_CLEANUP(json_t, json_decref)

/** Parse `len` bytes of JSON (duplicate keys refused). `what` names the
 *  document in messages. -EINVAL with the line and column on error. */
int image_json_load(const char *what, const char *data, size_t len, json_t **ret, struct err *err);

/** Parse a descriptor object (mediaType optional, digest validated, size >=
 *  0; platform read when `platform` is set). `what` names it in messages. */
int image_descriptor_parse(const json_t *obj, bool platform, const char *what,
			   struct image_descriptor *ret, struct err *err);

/** Release the strings of a descriptor. */
void image_descriptor_done(struct image_descriptor *d);

/** Validate `n` bytes of `dom` as host[:port] (host: DNS name, IPv4 or
 *  [IPv6]; port 1-65535). -EINVAL saying what is wrong. */
int image_domain_check(const char *dom, size_t n, struct err *err);

/** Validate a repository path (lowercase components joined by '/'). */
int image_path_check(const char *path, struct err *err);

/** true when the first name component `name`[0..n) is a registry host:
 *  it has '.' or ':' or an uppercase letter, or is "localhost". */
bool image_is_domain_component(const char *name, size_t n);
