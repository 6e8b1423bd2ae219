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
#include <sys/types.h>

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

/** true when `ns` is a Kubernetes namespace name (a DNS label: [a-z0-9-],
 *  1-63 characters, starting and ending with an alphanumeric). */
bool image_namespace_valid(const char *ns);

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
/* The architecture ocid was built for, in OCI terms. */
#if defined(__x86_64__)
#define IMAGE_HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define IMAGE_HOST_ARCH "arm64"
#elif defined(__arm__)
#define IMAGE_HOST_ARCH "arm"
#elif defined(__i386__)
#define IMAGE_HOST_ARCH "386"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define IMAGE_HOST_ARCH "ppc64le"
#elif defined(__s390x__)
#define IMAGE_HOST_ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define IMAGE_HOST_ARCH "riscv64"
#else
#define IMAGE_HOST_ARCH "amd64"
#endif
#define IMAGE_PLATFORM_DEFAULT ((struct image_platform){ "linux", IMAGE_HOST_ARCH, NULL })

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

/* --------------------------------------------------------------- auth.c --
 * Registry credentials and bearer tokens. */

#define IMAGE_AUTHFILE_MAX (1u << 20)
#define IMAGE_TOKEN_CACHE_MAX 256

struct image_creds {
	char *username; /* NULL when absent; same for the others */
	char *password;
	char *identity_token; /* OAuth2 refresh token for the token endpoint */
	char *registry_token; /* a bearer token to send as is */
};

/** Wipe and free the strings of `c` (accepts NULL), leaving it empty. */
void image_creds_done(struct image_creds *c);

/** true when `c` holds nothing to authenticate with. */
bool image_creds_empty(const struct image_creds *c);

/** Decode base64 "user:password" (the `auth` field) into ret->username and
 *  ret->password. -EINVAL when it is not valid base64 or has no ':'. The
 *  message never contains the secret. */
int image_creds_decode(const char *b64, struct image_creds *ret, struct err *err);

/** Find the credentials for repository `path` (may be NULL) on `registry`
 *  (host[:port], docker.io for Docker Hub) in auth.json / docker config.json
 *  text named `name`. The most specific `auths` key wins ("host/ns/repo",
 *  then "host/ns", then "host"; schemes and /v1/, /v2/ suffixes ignored;
 *  index.docker.io means docker.io). Returns 1 with *ret filled (caller
 *  frees with image_creds_done), 0 when there is no entry, -EINVAL for a
 *  malformed file, -EFBIG over IMAGE_AUTHFILE_MAX. */
int image_authfile_find(const char *name, const char *text, size_t len, const char *registry,
			const char *path, struct image_creds *ret, struct err *err);

/** image_authfile_find over the files `paths` (NULL-terminated) in order;
 *  missing files are skipped; the first file with an entry wins. */
int image_authfile_lookup(char *const *paths, const char *registry, const char *path,
			  struct image_creds *ret, struct err *err);

/* Bearer tokens by key (realm, service, scope and who asked); thread-safe. */
struct image_token_cache;

/** A new, empty cache. */
struct image_token_cache *image_token_cache_new(void);

/** Free a cache (tokens wiped). Accepts NULL. */
void image_token_cache_free(struct image_token_cache *c);
DEFINE_CLEANUP(struct image_token_cache, image_token_cache_free)

/** A copy (malloc'd) of the token under `key` when it expires after `now`
 *  (unix seconds), else NULL (an expired entry is dropped). */
char *image_token_cache_get(struct image_token_cache *c, const char *key, int64_t now);

/** Store (replacing) `token` under `key` until `expires`. Bounded by
 *  IMAGE_TOKEN_CACHE_MAX entries. */
void image_token_cache_put(struct image_token_cache *c, const char *key, const char *token,
			   int64_t expires);

#define IMAGE_TOKEN_MAX 16384

/** true when `t` can be sent in an Authorization header: 1 to
 *  IMAGE_TOKEN_MAX visible ASCII characters (no spaces, no CR/LF). */
bool image_token_valid(const char *t);

/** Parse a token endpoint's JSON answer: `token` (or `access_token`) and
 *  `expires_in` (default 60 s). *ret_expires is when to stop using it
 *  (slightly before the real expiry). -EINVAL when there is no token or it
 *  is not image_token_valid. */
int image_token_parse(const char *data, size_t len, int64_t now, char **ret_token,
		      int64_t *ret_expires, struct err *err);

/* A caller's cancellation, polled while a registry is waited for. */
typedef bool (*image_cancelled_fn)(void *opaque);

#define IMAGE_CERTS_DIR "/etc/containers/certs.d"

/* ------------------------------------------------- service.c, pull.c --
 * The image service: pulls into the layer store and the database, and the
 * queries the CRI ImageService answers. Thread-safe; concurrent pulls of
 * one name share one pull, layers shared between images are fetched once. */

struct storage;
struct db;
struct image_service;

/* What one pull or trust check asks for. The settings fields (up to
 * auth_files, and max_parallel, progress_timeout_s) left NULL or 0 are the
 * service's (image_service_configure); a caller sets them only to override. */
struct image_pull_opts {
	const char *registries_conf; /* settings; IMAGE_REGISTRIES_CONF (+ ".d" drop-ins) */
	const char *policy;	     /* settings; policy.json path, IMAGE_POLICY_PATH */
	const char *registries_d;    /* settings; registries.d directory, IMAGE_REGISTRIES_D */
	/* Per-namespace policies: policy_dir/<pod_namespace>.json, when it
	 * exists, applies instead of `policy` (either may be NULL). */
	const char *policy_dir; /* settings */
	const char *pod_namespace;
	char *const *auth_files;	 /* settings; tried in order when no creds apply */
	const struct image_creds *creds; /* the CRI AuthConfig; may be NULL */
	const char *creds_server;	 /* its server_address; NULL/"" = the image's registry */
	unsigned max_parallel;		 /* layers at once; 0 means 6 */
	uint64_t progress_timeout_s;	 /* 0: off */
	const char *certs_dir;		 /* NULL: IMAGE_CERTS_DIR */
	struct image_platform platform;	 /* os NULL: IMAGE_PLATFORM_DEFAULT */
	/* The caller's cancellation (e.g. its RPC was cancelled); may be NULL.
	 * A shared pull is abandoned only when every caller waiting on it is
	 * cancelled; a cancelled caller stops waiting at once. */
	image_cancelled_fn cancelled;
	void *cancel_opaque;
};

#define IMAGE_POLICY_PATH "/etc/containers/policy.json"

/* An image as the CRI reports it. */
struct image_info {
	char *id;	/* config digest */
	char **tags;	/* "repo:tag", NULL-terminated, may be NULL */
	char **digests; /* "repo@sha256:...", NULL-terminated, may be NULL */
	uint64_t size;	/* bytes (config and layers as pulled) */
	bool has_uid;	/* the config's User is numeric */
	int64_t uid;
	char *username; /* the config's User when it is a name, else NULL */
	bool pinned;	/* a name matches the pinned list */
	char *manifest_digest;
	char *config;	  /* config JSON text */
	char **chain_ids; /* layers, bottom first */
	char **layer_digests;
	int64_t *layer_sizes; /* as pulled (compressed), one per layer */
	char *trust;	      /* JSON: how the policy let it in at pull time; may be NULL */
};

struct image_fs_info {
	char *mountpoint; /* <root>/layers */
	uint64_t bytes;
	uint64_t inodes;
	int64_t timestamp_ns;
};

/** A service over `st` and `db` (both borrowed for its life). Cleans the
 *  store's tmp/ and deletes layers no recorded image uses (start-up: left
 *  by a pull killed between unpacking and recording). */
int image_service_new(struct storage *st, struct db *db, struct image_service **ret,
		      struct err *err);

/** Free the service (no pull may be running). Accepts NULL. */
void image_service_free(struct image_service *svc);
DEFINE_CLEANUP(struct image_service, image_service_free)

/* The node's image settings (ocid's configuration): what pulls, trust
 * checks and name lookups use where a call leaves a field NULL or 0. */
struct image_settings {
	const char *registries_conf; /* NULL: IMAGE_REGISTRIES_CONF */
	const char *policy;	     /* NULL: IMAGE_POLICY_PATH */
	const char *policy_dir;	     /* <pod namespace>.json here wins; NULL: none */
	const char *registries_d;    /* NULL: IMAGE_REGISTRIES_D */
	/* containers-auth.json(5), tried before IMAGE_DOCKER_AUTH_FILE when a
	 * pull has no credentials of its own; NULL or "": only the latter. */
	const char *auth_file;
	char *const *pinned;	     /* names or globs reported pinned; may be NULL */
	unsigned max_parallel;	     /* layers at once per pull; 0 means 6 */
	uint64_t progress_timeout_s; /* 0: off */
};

/* The credentials file tried last, after image_settings.auth_file. */
#define IMAGE_DOCKER_AUTH_FILE "/root/.docker/config.json"

/** Give the service its settings (copied; any thread, e.g. on a reload).
 *  Calls already running keep the settings they started with. Until the
 *  first call, every field is as if NULL or 0. */
void image_service_configure(struct image_service *svc, const struct image_settings *s);

/** Pull `name` (any reference form; short names through registries.conf):
 *  policy decision, mirrors in order then the source, manifest (index →
 *  platform), config, missing layers streamed into the store (several at
 *  once, committed in order), then one transaction records the image under
 *  the name asked for. *ret_id (owned) is the image id. Errors: -EINVAL bad
 *  reference, -EACCES blocked / policy / unauthorized, -ENOENT no such
 *  image, -EOPNOTSUPP schema 1 or not an image, -ETIMEDOUT no progress,
 *  network errors as image_registry_*. */
int image_pull(struct image_service *svc, const char *name, const struct image_pull_opts *o,
	       char **ret_id, struct err *err);

/** Check, before a container of image `name` is created, that the policy
 *  that applies to it now (o->policy, o->policy_dir, o->pod_namespace) is
 *  not stricter than when it was pulled: an image the policy now rejects,
 *  or whose scope now requires signatures that were not verified at its
 *  pull, is refused with -EACCES saying to pull it again. Names given as
 *  an id or a short name are checked as nothing (0). */
int image_trust_check(struct image_service *svc, const char *name, const struct image_pull_opts *o,
		      struct err *err);

/** The in-flight pulls and per-layer progress as JSON (malloc'd):
 *  [{"name":..., "layers":[{"digest":..., "size":N, "done":N,
 *  "state":"waiting|downloading|done|exists|failed"}]}]. */
char *image_pull_progress_json(struct image_service *svc);

/** Totals since start, for metrics (any thread): bytes of layers pulls
 *  downloaded and stored, and layers pulls found already stored (reused).
 *  Counted as each pull ends. */
void image_service_counters(struct image_service *svc, uint64_t *ret_bytes, uint64_t *ret_reused);

/** Resolve `name` (id, unique id prefix, "repo:tag", "repo@digest", short
 *  name) to an image id (*ret owned). -ENOENT when unknown (64 hex digits
 *  no image has included), -ENOTUNIQ for an ambiguous id prefix, -EINVAL
 *  for an empty name or a bad reference. `registries_conf` NULL: the
 *  service's settings. */
int image_resolve(struct image_service *svc, const char *name, const char *registries_conf,
		  char **ret, struct err *err);

/** Every image, or only the one `filter` names (none when unknown). `pinned`
 *  is the pinned_images list (exact names or fnmatch globs); it and
 *  `registries_conf` NULL: the service's settings. *ret (array of
 *  *ret_n) freed with image_infos_free. */
int image_list(struct image_service *svc, const char *filter, const char *registries_conf,
	       char *const *pinned, struct image_info ***ret, size_t *ret_n, struct err *err);

/** One image by any name image_resolve accepts. -ENOENT when unknown. */
int image_status(struct image_service *svc, const char *name, const char *registries_conf,
		 char *const *pinned, struct image_info **ret, struct err *err);

/** Remove the image `name` resolves to, with all its names, and the layers
 *  no other image uses. A name that names nothing (an unknown image, or no
 *  reference at all) is not an error (0); -EINVAL for an empty name,
 *  -ENOTUNIQ for an ambiguous id prefix. */
int image_remove(struct image_service *svc, const char *name, const char *registries_conf,
		 struct err *err);

/** Usage of the image store. ret->mountpoint owned (image_fs_info_done). */
int image_fs_info(struct image_service *svc, struct image_fs_info *ret, struct err *err);
void image_fs_info_done(struct image_fs_info *f);

/** Verbose ImageStatus info: JSON (*ret malloc'd) with the manifest and
 *  config digests, layers, sizes, platform, the config and how the image
 *  was let in. -EIO when the stored config or trust record is no JSON. */
int image_info_json(const struct image_info *info, char **ret, struct err *err);

/** Free one image info / an array of `n`. Accept NULL. */
void image_info_free(struct image_info *i);
DEFINE_CLEANUP(struct image_info, image_info_free)
void image_infos_free(struct image_info **v, size_t n);

/* ------------------------------------------------- import.c, import_docker.c --
 * `ocic image import`: an oci-archive / OCI layout tar or a `docker save`
 * tar, spooled under <root>/tmp/, verified whole, then recorded as a pull. */

#define IMAGE_IMPORT_ENTRIES_MAX 100000

/* One image of a `docker save` manifest.json; paths cleaned (relative,
 * no "..", no "."). */
struct image_docker_save {
	char *config;
	char **repo_tags; /* as written, NULL-terminated, may be NULL */
	char **layers;	  /* NULL-terminated, may be NULL */
	size_t n_layers;
};

/** Parse a docker-save manifest.json. -EINVAL when malformed or a path
 *  would leave the archive, -EFBIG over IMAGE_MANIFEST_MAX / the counts.
 *  *ret (array of *ret_n >= 1) freed with image_docker_save_free. */
int image_docker_save_parse(const char *data, size_t len, struct image_docker_save **ret,
			    size_t *ret_n, struct err *err);
/** Free `n` parsed images. Accepts NULL. */
void image_docker_save_free(struct image_docker_save *v, size_t n);

/* An image an import recorded. */
struct image_imported {
	char *id;
	char **tags; /* NULL-terminated, may be NULL */
};

/** Called with one JSON progress object (compact, no newline). */
typedef void (*image_import_progress_fn)(void *opaque, const char *json);

/** An anonymous file (O_TMPFILE) under <root>/tmp/ to spool an upload into;
 *  nothing remains on disk once it is closed, even after a crash. */
int image_import_spool(struct image_service *svc, int *ret_fd, struct err *err);

/** Import every image of the tar read from `fd` (seekable; gzip or zstd
 *  compressed tars are accepted): OCI layout (index.json) or docker save
 *  (manifest.json). Every blob digest and size is checked; entries other
 *  than files and directories, unclean paths and duplicates refuse the
 *  archive whole. `tag` (may be NULL) is an extra name for the first image.
 *  *ret (array of *ret_n) freed with image_imported_free. -EINVAL bad or
 *  hostile archive, -EFBIG over a bound, -EOPNOTSUPP unsupported content. */
int image_import_fd(struct image_service *svc, int fd, const char *tag,
		    image_import_progress_fn progress, void *opaque, struct image_imported **ret,
		    size_t *ret_n, struct err *err);
/** Free `n` import results. Accepts NULL. */
void image_imported_free(struct image_imported *v, size_t n);
