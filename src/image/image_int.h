/* Private helpers shared by the files of the image module. */
#pragma once

#include "base/json.h"

#include "image/image.h"

DEFINE_CLEANUP(json_t, json_decref)

/** Parse `len` bytes of JSON (duplicate keys refused). `what` names the
 *  document in messages. -EINVAL with the line and column on error. */
int image_json_load(const char *what, const char *data, size_t len, json_t **ret, struct err *err);

/** Optional string member: NULL when absent; -EINVAL when of another type. */
int image_json_str(const json_t *obj, const char *key, const char *what, const char **ret,
		   struct err *err);

/** Optional array of strings copied into a NULL-terminated vector (NULL when
 *  absent or JSON null). -EINVAL when of another type. */
int image_json_strv(const json_t *obj, const char *key, const char *what, char ***ret,
		    struct err *err);

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
