/* image: the parsed containers-policy.json and the pieces of signature
 * verification shared by policy.c, policy_verify.c, sig_*.c and pull.c. */
#pragma once

#include "image/image_int.h"

enum image_req_type { IMAGE_REQ_ACCEPT, IMAGE_REQ_REJECT, IMAGE_REQ_SIGNED_BY, IMAGE_REQ_SIGSTORE };

enum image_ident_type {
	IDENT_MATCH_REPO_DIGEST_OR_EXACT,
	IDENT_MATCH_REPOSITORY,
	IDENT_MATCH_EXACT,
	IDENT_EXACT_REFERENCE,
	IDENT_EXACT_REPOSITORY,
	IDENT_REMAP,
};

struct image_identity {
	enum image_ident_type type;
	char *ref;		      /* exactReference / exactRepository */
	char *prefix, *signed_prefix; /* remapIdentity */
};

struct image_req {
	enum image_req_type type;
	char **key_paths; /* keyPath / keyPaths */
	char *key_data;	  /* keyData, decoded */
	size_t key_data_len;
	struct image_identity ident;
};

struct image_scope {
	char *name;
	struct image_req *reqs;
	size_t n_reqs;
};

struct image_policy {
	char *file;
	struct image_scope def;
	struct image_scope *docker;
	size_t n_docker;
};

/** The scope that applies to `ref` (see image_policy_check). */
const struct image_scope *image_policy_scope(const struct image_policy *p,
					     const struct image_ref *ref);

/** "default" or "\"<scope>\"" for messages (malloc'd). */
char *image_scope_label(const struct image_policy *p, const struct image_scope *s);

/** The policy.json names of a requirement type and an identity rule. */
const char *image_req_name(enum image_req_type t);
const char *image_ident_name(enum image_ident_type t);

/** Decode base64 `s` (padding optional, no whitespace). *ret owned (NUL
 *  terminated beyond *ret_len). -EINVAL when it is not base64. */
int image_b64_decode(const char *s, char **ret, size_t *ret_len);

/** Check that `signed_ref` (a signature's docker-reference) is what rule
 *  `id` accepts for the image pulled as `image`. 0 when it matches;
 *  -EACCES saying "identity `x` does not match `y`" (or that the signed
 *  reference is not valid). */
int image_identity_match(const struct image_identity *id, const struct image_ref *image,
			 const char *signed_ref, struct err *err);

/* ------------------------------------------------------------- gpg.c -- */

/** A private, temporary OpenPGP keyring (GnuPG through gpgme) holding the
 *  keys of one requirement. */
struct image_gpg;

/** Import the keys in `data` (armored or binary, several allowed) into a
 *  new keyring under a new temporary directory. `what` names the keys in
 *  messages. -EINVAL when no key could be imported. */
int image_gpg_new(const char *const *data, const size_t *lens, size_t n, const char *what,
		  struct image_gpg **ret, struct err *err);

/** Verify a "simple signing" signature (an OpenPGP signed message of
 *  `len` bytes). 0 with *ret_payload (the signed content, NUL-terminated,
 *  owned) and *ret_fpr (the signing key's fingerprint, owned) when exactly
 *  one good signature of a key in the keyring is there; -EACCES with the
 *  reason (an unknown key, a bad signature, not a signature). */
int image_gpg_verify(struct image_gpg *g, const char *sig, size_t len, char **ret_payload,
		     size_t *ret_len, char **ret_fpr, struct err *err);

/** Remove the keyring and its directory. Accepts NULL. */
void image_gpg_free(struct image_gpg *g);
DEFINE_CLEANUP(struct image_gpg, image_gpg_free)

/* -------------------------------------------------------- sigstore.c -- */

/** Verify cosign signature `b64sig` (base64) of `payload` with the PEM
 *  public key `pem` (ECDSA with SHA-256, RSA PKCS#1 v1.5 with SHA-256, or
 *  Ed25519). 0 with *ret_fpr ("SHA256:<hex of the DER key>", owned) when it
 *  verifies; -EACCES with the reason; -EINVAL when `pem` holds no public
 *  key. */
int image_sigstore_verify(const char *pem, size_t pem_len, const char *payload, size_t len,
			  const char *b64sig, char **ret_fpr, struct err *err);

/* ------------------------------------------------------- sig_fetch.c -- */

struct image_registry;

/** Gather the signatures of manifest `digest` for `asked` as `need`
 *  (IMAGE_NEED_*) asks: simple signatures from the lookaside registries.d
 *  names for `asked`, sigstore attachments from `reg` (the endpoint pulled
 *  from, repository `repo`) when registries.d turns them on. Missing
 *  signatures are not an error (the policy says what is missing); a
 *  lookaside or registry that fails is. */
int image_sigs_fetch(const struct image_registries_d *rd, const struct image_ref *asked,
		     struct image_registry *reg, const char *repo, const char *digest, int need,
		     struct image_sigs *ret, struct err *err);

/* ----------------------------------------------------------- trust.c -- */

struct image_service;

/** The policy that applies to a pull with options `o`: the pod
 *  namespace's file in o->policy_dir, else o->policy, else the built-in
 *  default when that file does not exist. */
int image_policy_load(const struct image_pull_opts *o, struct image_policy **ret, struct err *err);

/** Record how image `id` pulled as `asked` (`name` as written) was let in:
 *  the scope of `pol`, its requirements and `info` (image_policy_verify's;
 *  NULL: no signature was required). */
int image_trust_save(struct image_service *svc, const char *id, const char *name,
		     const struct image_policy *pol, const struct image_ref *asked,
		     const char *info, struct err *err);

/** The record of image `id` as JSON text (owned), or NULL when none. */
char *image_trust_load(struct image_service *svc, const char *id);

/** Remove the record of image `id` (when there is one). */
void image_trust_drop(struct image_service *svc, const char *id);
