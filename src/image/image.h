/* image: container image references, manifests and configs, registry
 * challenges, trust policy and registries.conf.
 *
 * Everything in this header is pure parsing and decision logic: no network,
 * no storage. Errors follow base/err.h: a negative errno and a message a
 * person can act on (-EINVAL for malformed input, which the CRI layer reports
 * as INVALID_ARGUMENT). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/err.h"

/* ---------------------------------------------------------------- ref.c --
 * The docker reference grammar:
 *   [domain[:port]/]path[:tag][@algorithm:hex]
 * A first path component containing '.' or ':', or equal to "localhost", or
 * containing an uppercase letter is a domain; otherwise the name is short and
 * lives on docker.io (single components under library/). */

#define IMAGE_NAME_MAX 255 /* domain + "/" + path */
#define IMAGE_TAG_MAX 128
#define IMAGE_DOCKER_DOMAIN "docker.io"

struct image_ref {
	char *domain;	   /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *path;	   /* "library/busybox" */
	char *tag;	   /* "latest" when neither tag nor digest was given; else NULL if none */
	char *digest;	   /* "sha256:<64 lowercase hex>" or NULL */
	char *given;	   /* the name as written, without tag/digest (e.g. "busybox") */
	bool short_name;   /* no domain was written: registries.conf search/aliases apply */
	bool implicit_tag; /* tag "latest" was added by normalisation */
};

enum image_ref_form {
	IMAGE_REF_FULL,	    /* docker.io/library/busybox:latest[@sha256:...] */
	IMAGE_REF_FAMILIAR, /* busybox:latest (docker.io and library/ elided) */
	IMAGE_REF_NAME,	    /* docker.io/library/busybox */
};

/** Parse and normalise reference `s`. On success *ret is owned by the caller
 *  (image_ref_free). -EINVAL with the reason (empty, bad character, uppercase
 *  repository, tag too long, name longer than 255, bad or unsupported
 *  digest, ...). Only sha256 digests are accepted. */
int image_ref_parse(const char *s, struct image_ref **ret, struct err *err);

/** Build a reference from parts already validated elsewhere (domain and path
 *  are parsed again as "domain/path"). tag and digest may be NULL; when both
 *  are, the tag is "latest". -EINVAL as image_ref_parse. */
int image_ref_from_parts(const char *name, const char *tag, const char *digest,
			 struct image_ref **ret, struct err *err);

/** A deep copy. */
struct image_ref *image_ref_dup(const struct image_ref *ref);

/** Format `ref` in the given form; malloc'd, never NULL. */
char *image_ref_string(const struct image_ref *ref, enum image_ref_form form);

/** Free a reference. Accepts NULL. */
void image_ref_free(struct image_ref *ref);
DEFINE_CLEANUP(struct image_ref, image_ref_free)

/** true when `d` is "sha256:" followed by exactly 64 lowercase hex digits. */
bool image_digest_valid(const char *d);

/** true when `tag` matches [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool image_tag_valid(const char *tag);

/* ----------------------------------------------------------- manifest.c --
 * OCI image index / manifest and Docker manifest list / schema 2. */

#define IMAGE_MANIFEST_MAX (4u << 20) /* bytes */
#define IMAGE_CONFIG_MAX (8u << 20)   /* bytes */
#define IMAGE_LAYERS_MAX 1024
#define IMAGE_INDEX_MAX 1024

#define IMAGE_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define IMAGE_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMAGE_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define IMAGE_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMAGE_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMAGE_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
/* What a registry client sends in Accept for a manifest request. */
#define IMAGE_MANIFEST_ACCEPT                                                   \
	IMAGE_MT_OCI_INDEX ", " IMAGE_MT_OCI_MANIFEST ", " IMAGE_MT_DOCKER_LIST \
			   ", " IMAGE_MT_DOCKER_MANIFEST

enum image_manifest_kind {
	IMAGE_OCI_INDEX,
	IMAGE_OCI_MANIFEST,
	IMAGE_DOCKER_LIST,
	IMAGE_DOCKER_MANIFEST,
};

enum image_compression {
	IMAGE_COMPRESSION_NONE,
	IMAGE_COMPRESSION_GZIP,
	IMAGE_COMPRESSION_ZSTD,
};

/* A platform to select; fields borrowed. NULL variant = any (best match). */
struct image_platform {
	const char *os;
	const char *arch;
	const char *variant;
};
#define IMAGE_PLATFORM_DEFAULT ((struct image_platform){ "linux", "amd64", NULL })

struct image_descriptor {
	char *media_type; /* may be NULL in an index entry */
	char *digest;	  /* validated */
	int64_t size;	  /* >= 0 */
	/* index entries only (NULL otherwise) */
	char *os;
	char *arch;
	char *variant;
};

struct image_layer {
	char *media_type;
	char *digest; /* validated */
	int64_t size; /* >= 0 */
	enum image_compression compression;
};

struct image_manifest {
	enum image_manifest_kind kind;
	/* index / list */
	struct image_descriptor *entries;
	size_t n_entries;
	/* manifest */
	struct image_descriptor config;
	struct image_layer *layers;
	size_t n_layers;
};

/** Parse a manifest or an index of `len` bytes. `content_type` (the HTTP
 *  Content-Type, parameters allowed; NULL or generic types ignored) is used
 *  when the document has no mediaType; OCI documents without either are
 *  recognised by shape. Errors: -EFBIG over IMAGE_MANIFEST_MAX; -EOPNOTSUPP
 *  for Docker schema 1, non-image artifacts, foreign layers and unknown media
 *  types; -EINVAL for malformed documents. *ret owned by the caller. */
int image_manifest_parse(const char *data, size_t len, const char *content_type,
			 struct image_manifest **ret, struct err *err);

/** Free a manifest. Accepts NULL. */
void image_manifest_free(struct image_manifest *m);
DEFINE_CLEANUP(struct image_manifest, image_manifest_free)

/** true for index kinds (OCI index, Docker list). */
bool image_manifest_is_index(const struct image_manifest *m);

/** Choose the entry of index `m` for platform `want`: os and architecture
 *  must match (x86_64/aarch64 normalised); for arm the highest variant not
 *  above the wanted one wins (arm64 "" == "v8"). On success *ret borrows
 *  from `m`. -ENOENT naming the platforms present when none fits; -EINVAL
 *  when `m` is not an index. */
int image_manifest_select(const struct image_manifest *m, const struct image_platform *want,
			  const struct image_descriptor **ret, struct err *err);

/* An image configuration (the config blob). */
struct image_label {
	char *key;
	char *value;
};

struct image_config {
	char *architecture;
	char *os;
	char *variant;
	char *created;
	char *user;	   /* "" when unset */
	char **env;	   /* NULL-terminated, may be NULL */
	char **entrypoint; /* NULL-terminated, may be NULL */
	char **cmd;	   /* NULL-terminated, may be NULL */
	char *working_dir; /* NULL when unset */
	char **volumes;	   /* keys of config.Volumes, NULL-terminated, may be NULL */
	char *stop_signal; /* NULL when unset */
	struct image_label *labels;
	size_t n_labels;
	char **diff_ids; /* NULL-terminated, each validated */
	size_t n_diff_ids;
};

/** Parse an image config of `len` bytes. -EFBIG over IMAGE_CONFIG_MAX,
 *  -EINVAL when malformed (wrong types, rootfs.type other than "layers", a bad
 *  diff_id). *ret owned by the caller. */
int image_config_parse(const char *data, size_t len, struct image_config **ret, struct err *err);

/** Check that `cfg` describes `m` (a manifest, not an index): as many
 *  diff_ids as layers. -EINVAL with both counts otherwise. */
int image_config_check(const struct image_config *cfg, const struct image_manifest *m,
		       struct err *err);

/** Free a config. Accepts NULL. */
void image_config_free(struct image_config *c);
DEFINE_CLEANUP(struct image_config, image_config_free)

/* The config's User: "uid", "uid:gid", "name", "name:group", "". */
struct image_user {
	bool has_uid;
	uint32_t uid;
	bool has_gid;
	uint32_t gid;
	char *username;	 /* set when the user part is not numeric */
	char *groupname; /* set when the group part is not numeric */
};

/** Split a config User string. "" (or NULL) gives an all-empty result.
 *  -EINVAL for an empty user part with a group (":5"), an empty group after
 *  ':' or a numeric id out of range. On success the caller frees with
 *  image_user_done. */
int image_user_parse(const char *s, struct image_user *ret, struct err *err);

/** Release the strings of `u`. */
void image_user_done(struct image_user *u);

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

/** Decide whether `ref` (normalised, not short) may be pulled. The most
 *  specific transports.docker scope applies (name:tag or name@digest, the
 *  repository, each parent namespace, host[:port], *.domain wildcards, ""),
 *  then `default`. 0 to accept; -EACCES when the requirements reject it or
 *  require signatures, which this ocid cannot verify yet (the message says
 *  which). If `ret_scope` is not NULL it receives the scope used (borrowed
 *  from `p`; "default" for the default). */
int image_policy_check(const struct image_policy *p, const struct image_ref *ref,
		       const char **ret_scope, struct err *err);

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
