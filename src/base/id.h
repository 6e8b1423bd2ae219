/* id: 64-hex-digit random ids (pods, containers, exec sessions) and lookup
 * of ids by unique prefix over a sorted set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define ID_LEN 64

/** Fill `buf` with a new random id: 64 lowercase hex digits and a NUL.
 *  Uses getrandom(2); returns 0 or a negative errno. */
int id_new(char buf[ID_LEN + 1]);

/** true when `s` is exactly 64 lowercase hex digits. */
bool id_valid(const char *s);

/** true when `s` could be a prefix of an id: 1..64 lowercase hex digits. */
bool id_prefix_valid(const char *s);

/** A set of ids kept sorted for binary search. Not thread-safe: callers
 *  that share one hold their own lock. */
struct id_set {
	char **ids; /* owned, sorted by strcmp */
	size_t n, cap;
};

#define ID_SET_INIT        \
	{                  \
		NULL, 0, 0 \
	}

/** Add a copy of `id`. -EEXIST if already present, -EINVAL if not a valid id. */
int id_set_add(struct id_set *set, const char *id);
/** Remove `id`. -ENOENT if absent. */
int id_set_remove(struct id_set *set, const char *id);
/** true when `id` is in the set (exact match). */
bool id_set_contains(const struct id_set *set, const char *id);

/** Resolve `prefix` to the one id it starts: *ret borrows from the set
 *  (valid until the next add/remove). A full id matches itself.
 *  -ENOENT when none matches, -ENOTUNIQ when several do (err says how
 *  many), -EINVAL when `prefix` is empty or not lowercase hex. */
int id_set_lookup(const struct id_set *set, const char *prefix, const char **ret, struct err *err);

/** Free the ids. The set is empty and reusable afterwards. Accepts NULL. */
void id_set_done(struct id_set *set);
