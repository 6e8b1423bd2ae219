/* toml: a small TOML reader for ocid.conf and containers-registries.conf(5).
 *
 * Supported: tables, dotted keys, arrays of tables (also nested), basic,
 * literal and multi-line strings with escapes, integers (decimal, hex, octal,
 * binary, underscores), floats, booleans, arrays, inline tables, comments.
 * Not supported: date-times (a clear error). Duplicate keys and table
 * redefinitions are errors. Nesting depth is bounded (TOML_MAX_DEPTH). Every
 * value remembers the line and column where it starts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/err.h"

#define TOML_MAX_DEPTH 64
#define TOML_MAX_SIZE (4u << 20)

enum toml_type { TOML_STRING, TOML_INT, TOML_FLOAT, TOML_BOOL, TOML_ARRAY, TOML_TABLE };

struct toml;

/** Parse `len` bytes of `text` (need not be NUL-terminated). `name` (a file
 *  name) prefixes error messages: "NAME:LINE:COL: what". On success *ret is
 *  the root table, owned by the caller (toml_free). -EINVAL on a syntax or
 *  semantic error, -EFBIG when len > TOML_MAX_SIZE. */
int toml_parse(const char *name, const char *text, size_t len, struct toml **ret, struct err *err);

/** Free a tree returned by toml_parse. Accepts NULL. */
void toml_free(struct toml *t);
DEFINE_CLEANUP(struct toml, toml_free)

enum toml_type toml_type(const struct toml *t);
/** "string", "integer", "float", "boolean", "array", "table". */
const char *toml_type_name(enum toml_type type);
/** 1-based line and column where the value (or table header) starts. */
unsigned toml_line(const struct toml *t);
unsigned toml_col(const struct toml *t);

/** The value of `key` in table `t`, or NULL (also when t is not a table). */
const struct toml *toml_get(const struct toml *t, const char *key);
/** Entries of an array or a table (0 for scalars). */
size_t toml_len(const struct toml *t);
/** Element i of an array or value i of a table (insertion order); NULL if out of range. */
const struct toml *toml_at(const struct toml *t, size_t i);
/** Key i of a table; NULL if out of range or not a table. */
const char *toml_key_at(const struct toml *t, size_t i);

/** Scalar accessors: NULL / 0 / false when the type does not match.
 *  A string may contain NUL bytes from "\u0000"; toml_string_len tells. */
const char *toml_string(const struct toml *t);
size_t toml_string_len(const struct toml *t);
int64_t toml_int(const struct toml *t);
double toml_float(const struct toml *t);
bool toml_bool(const struct toml *t);

/** Quote `s` as a TOML basic string ("..." with escapes). malloc'd. */
char *toml_quote(const char *s);
