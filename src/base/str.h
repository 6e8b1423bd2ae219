/* Strings and string vectors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Number of entries of a NULL-terminated vector (0 for NULL). */
size_t strv_len(char *const *v);
/** Append a copy of s to *v (which may be NULL), keeping it NULL-terminated. */
/** A copy of `v` (NULL: an empty list), never NULL; strv_free it. */
char **strv_copy(char *const *v);
void strv_push(char ***v, const char *s);
/** Append s to *v, taking ownership of it. */
void strv_push_take(char ***v, char *s);
bool strv_contains(char *const *v, const char *s);
/** Split s at each occurrence of sep (empty fields dropped). */
char **strv_split(const char *s, char sep);
/** Join with sep. */
char *strv_join(char *const *v, const char *sep);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/** true when s is NULL or "". */
static inline bool str_empty(const char *s)
{
	return !s || !*s;
}

/** The value of hex digit c (0-9, a-f, A-F), or -1 when c is not one. */
static inline int str_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/** Parse all of `s` as an unsigned number in `base` (10 or 16): digits
 *  only, so no sign, space, "0x" or trailing text (trim a newline first),
 *  and at most `max`. 0 with *ret set; -EINVAL when `s` is NULL, empty or
 *  holds anything but digits; -ERANGE above `max`. *ret is untouched on
 *  failure. The one integer parser for input: no atoi, no unchecked
 *  strtoul. */
int str_to_u64(const char *s, int base, uint64_t max, uint64_t *ret);

/** Parse all of `s` as a decimal number with an optional leading '-', in
 *  [min, max]. Errors as str_to_u64. */
int str_to_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
