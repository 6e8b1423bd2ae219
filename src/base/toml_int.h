/* Private to the TOML reader (toml.c, toml_value.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/toml.h"

/* Table flags: how a table came to be, which decides what may extend it. */
enum {
	F_DEFINED = 1, /* by a [header] */
	F_DOTTED = 2,  /* by a dotted key */
	F_INLINE = 4,  /* an inline table: frozen */
	F_AOT = 8,     /* an array made by [[header]] */
};

struct toml {
	enum toml_type type;
	unsigned line, col, flags;
	char *s;
	size_t slen;
	int64_t i;
	double f;
	bool b;
	size_t n, cap;
	char **keys;	     /* tables only */
	struct toml **items; /* tables and arrays */
};

/** Table member `key`, or NULL (also when t is not a table). */
struct toml *toml_node_find(const struct toml *t, const char *key);
