/* The in-memory form of registries.conf, shared by registries.c (parsing)
 * and registries_lookup.c (lookups). */
#pragma once

#include "image/image_int.h"

struct reg_mirror {
	char *location;
	bool insecure;
	enum image_pull_from_mirror pull;
};

struct reg_registry {
	char *prefix;	/* "example.com/ns" or "*.example.com" */
	char *location; /* NULL: same as the prefix */
	bool wildcard;
	bool insecure;
	bool blocked;
	bool digest_only; /* mirror-by-digest-only */
	struct reg_mirror *mirrors;
	size_t n_mirrors;
};

struct reg_alias {
	char *name;
	char *value; /* "" when a drop-in removed the alias */
};

struct image_registries {
	char **search;
	bool search_set;
	struct reg_registry *regs;
	size_t n_regs;
	struct reg_alias *aliases;
	size_t n_aliases;
};
