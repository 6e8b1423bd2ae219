#include "base/id.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/mem.h"

int id_new(char buf[ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[ID_LEN / 2];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 15];
	}
	buf[ID_LEN] = '\0';
	return 0;
}

static size_t hex_span(const char *s)
{
	size_t n = 0;
	while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))
		n++;
	return n;
}

bool id_valid(const char *s)
{
	return s && hex_span(s) == ID_LEN && s[ID_LEN] == '\0';
}

bool id_prefix_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = hex_span(s);
	return n >= 1 && n <= ID_LEN && s[n] == '\0';
}

/* Index of the first id >= key (strcmp order). */
static size_t lower_bound(const struct id_set *set, const char *key)
{
	size_t lo = 0, hi = set->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(set->ids[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool id_set_contains(const struct id_set *set, const char *id)
{
	size_t i = lower_bound(set, id);
	return i < set->n && strcmp(set->ids[i], id) == 0;
}

int id_set_add(struct id_set *set, const char *id)
{
	if (!id_valid(id))
		return -EINVAL;
	size_t i = lower_bound(set, id);
	if (i < set->n && strcmp(set->ids[i], id) == 0)
		return -EEXIST;
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 16;
		set->ids = xreallocarray(set->ids, set->cap, sizeof(*set->ids));
	}
	memmove(set->ids + i + 1, set->ids + i, (set->n - i) * sizeof(*set->ids));
	set->ids[i] = xstrdup(id);
	set->n++;
	return 0;
}

int id_set_remove(struct id_set *set, const char *id)
{
	size_t i = lower_bound(set, id);
	if (i >= set->n || strcmp(set->ids[i], id) != 0)
		return -ENOENT;
	free(set->ids[i]);
	memmove(set->ids + i, set->ids + i + 1, (set->n - i - 1) * sizeof(*set->ids));
	set->n--;
	return 0;
}

int id_set_lookup(const struct id_set *set, const char *prefix, const char **ret, struct err *err)
{
	if (!id_prefix_valid(prefix))
		return err_msg(err, -EINVAL, "'%s' is not an id or id prefix (lowercase hex)",
			       prefix ? prefix : "");
	size_t len = strlen(prefix);
	size_t i = lower_bound(set, prefix), n = 0;
	while (i + n < set->n && strncmp(set->ids[i + n], prefix, len) == 0)
		n++;
	if (n == 0)
		return err_msg(err, -ENOENT, "no id starts with '%s'", prefix);
	if (n > 1)
		return err_msg(err, -ENOTUNIQ, "id prefix '%s' is ambiguous (%zu matches)", prefix,
			       n);
	*ret = set->ids[i];
	return 0;
}

void id_set_done(struct id_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		free(set->ids[i]);
	free(set->ids);
	*set = (struct id_set)ID_SET_INIT;
}
