/* json: small helpers over jansson (json_t). Named js_* so they never clash
 * with jansson's own json_* names.
 *
 * Getters take the JSON path of the object they read from ("" for the root,
 * e.g. "layers[2]") so a type error reads `layers[2].size: expected integer,
 * got string` -- a message a person can act on. A missing key or a JSON null
 * gives the default; a present value of the wrong type is -EINVAL. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/** Parse `len` bytes of `buf` (any JSON value; NUL bytes refused). `name`
 *  prefixes errors: "NAME:LINE:COL: jansson's message" (-EINVAL). -EFBIG
 *  when len > max. *ret is a new reference. */
int js_load(const char *name, const char *buf, size_t len, size_t max, json_t **ret,
	    struct err *err);

enum {
	JS_DUMP_SORTED = 1, /* keys in sorted order */
	JS_DUMP_PRETTY = 2, /* indented by 2 (default: compact) */
};

/** Serialise `v` (compact unless JS_DUMP_PRETTY). malloc'd; aborts on OOM. */
char *js_dump(const json_t *v, unsigned flags);

enum {
	JS_YAML_TYPED = 1, /* plain scalars that read as integers, booleans or null are those */
};

/** The first YAML document of `len` bytes of `text` as a JSON value
 *  (libyaml; scalars are strings unless JS_YAML_TYPED; an empty stream is
 *  JSON null). Anchors and aliases, keys that are not strings or are given
 *  twice, nesting deeper than 32, NUL bytes and text that is not UTF-8 are
 *  refused: -EINVAL "NAME: line N: why". *ret is a new reference. */
int js_load_yaml(const char *name, const char *text, size_t len, unsigned flags, json_t **ret,
		 struct err *err);

/** "path.key" ("key" when path is ""). malloc'd. */
char *js_path_key(const char *path, const char *key);
/** "path[i]". malloc'd. */
char *js_path_index(const char *path, size_t i);

/** The value of `key` in object `obj` when it has `type`: *ret borrows it.
 *  Missing or null: *ret = NULL and 0, or -EINVAL "path.key: missing" when
 *  `required`. Wrong type, or `obj` not an object: -EINVAL naming the path. */
int js_get(const json_t *obj, const char *path, const char *key, json_type type, bool required,
	   const json_t **ret, struct err *err);

/** String member (borrowed), or `def` when missing/null. */
int js_get_str(const json_t *obj, const char *path, const char *key, const char *def,
	       const char **ret, struct err *err);
enum {
	JS_STRV_ENV = 1, /* each element must be NAME=VALUE */
};

/** Array-of-strings member, checked in place: *ret borrows the array (NULL
 *  when missing/null; `ret` may be NULL to only check). With JS_STRV_ENV
 *  each element must contain '='. -EINVAL naming "path.key[i]" for an
 *  element that is no string (or no NAME=VALUE). */
int js_get_str_array(const json_t *obj, const char *path, const char *key, unsigned flags,
		     const json_t **ret, struct err *err);
/** Array-of-strings member copied into a NULL-terminated vector (*ret
 *  owned; NULL when missing/null); errors as js_get_str_array. */
int js_get_strv(const json_t *obj, const char *path, const char *key, char ***ret, struct err *err);
/** Integer member, or `def` when missing/null. */
int js_get_int(const json_t *obj, const char *path, const char *key, int64_t def, int64_t *ret,
	       struct err *err);
/** Non-negative integer member, or `def`; a negative value is -EINVAL. */
int js_get_uint(const json_t *obj, const char *path, const char *key, uint64_t def, uint64_t *ret,
		struct err *err);
/** Boolean member, or `def` when missing/null. */
int js_get_bool(const json_t *obj, const char *path, const char *key, bool def, bool *ret,
		struct err *err);
