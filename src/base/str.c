#include "base/str.h"

#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/mem.h"

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void strv_push_take(char ***v, char *s)
{
	size_t n = strv_len(*v);
	*v = xreallocarray(*v, n + 2, sizeof(char *));
	(*v)[n] = s;
	(*v)[n + 1] = NULL;
}

void strv_push(char ***v, const char *s)
{
	strv_push_take(v, xstrdup(s));
}

bool strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

char **strv_copy(char *const *v)
{
	char **out = xzalloc(sizeof(char *));
	for (size_t i = 0; v && v[i]; i++)
		strv_push(&out, v[i]);
	return out;
}

char **strv_split(const char *s, char sep)
{
	char **v = xzalloc(sizeof(char *));
	while (s && *s) {
		const char *e = strchr(s, sep);
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n)
			strv_push_take(&v, xstrndup(s, n));
		s = e ? e + 1 : s + n;
	}
	return v;
}

char *strv_join(char *const *v, const char *sep)
{
	size_t seplen = strlen(sep), total = 1;
	for (size_t i = 0; v && v[i]; i++)
		total += strlen(v[i]) + seplen;
	char *out = xmalloc(total), *p = out;
	for (size_t i = 0; v && v[i]; i++) {
		if (i) {
			memcpy(p, sep, seplen);
			p += seplen;
		}
		size_t n = strlen(v[i]);
		memcpy(p, v[i], n);
		p += n;
	}
	*p = '\0';
	return out;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Digits of `base` up to the end of `s`, saturating at UINT64_MAX with
 * *overflow set. -EINVAL for an empty string or a non-digit. */
static int digits(const char *s, int base, uint64_t *ret, bool *overflow)
{
	uint64_t v = 0;
	*overflow = false;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int d = base == 16 ? str_hexval(*s) : (*s >= '0' && *s <= '9' ? *s - '0' : -1);
		if (d < 0)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			*overflow = true;
		else
			v = v * (uint64_t)base + (uint64_t)d;
	}
	*ret = v;
	return 0;
}

int str_to_u64(const char *s, int base, uint64_t max, uint64_t *ret)
{
	if (!s || (base != 10 && base != 16))
		return -EINVAL;
	uint64_t v;
	bool over;
	int r = digits(s, base, &v, &over);
	if (r < 0)
		return r;
	if (over || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int str_to_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	if (!s)
		return -EINVAL;
	bool neg = *s == '-';
	uint64_t v;
	bool over;
	int r = digits(neg ? s + 1 : s, 10, &v, &over);
	if (r < 0)
		return r;
	/* -INT64_MIN does not fit in int64_t: compare magnitudes. */
	if (over || (!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1))
		return -ERANGE;
	int64_t n = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	if (n < min || n > max)
		return -ERANGE;
	*ret = n;
	return 0;
}
