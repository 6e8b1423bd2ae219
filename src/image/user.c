/* The image config's User field: "uid[:gid]" or "name[:group]". */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "image/image_int.h"

/* A decimal id: 1 to 10 digits, at most 2^32 - 2 ((uid_t)-1 means "none"). */
static bool parse_id(const char *s, size_t n, uint32_t *ret)
{
	uint64_t v = 0;
	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= UINT32_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

void image_user_done(struct image_user *u)
{
	free(u->username);
	free(u->groupname);
	memset(u, 0, sizeof(*u));
}

int image_user_parse(const char *s, struct image_user *ret, struct err *err)
{
	struct image_user u = { 0 };

	memset(ret, 0, sizeof(*ret));
	if (str_empty(s))
		return 0;
	const char *colon = strchr(s, ':');
	size_t ulen = colon ? (size_t)(colon - s) : strlen(s);
	if (ulen == 0)
		return err_msg(err, -EINVAL, "invalid User '%.64s': the user part is empty", s);
	if (colon && (colon[1] == '\0' || strchr(colon + 1, ':')))
		return err_msg(err, -EINVAL, "invalid User '%.64s': expected user[:group]", s);
	if (all_digits(s, ulen)) {
		if (!parse_id(s, ulen, &u.uid))
			return err_msg(err, -EINVAL, "invalid User '%.64s': uid out of range", s);
		u.has_uid = true;
	} else {
		u.username = xstrndup(s, ulen);
	}
	if (colon) {
		const char *g = colon + 1;
		if (all_digits(g, strlen(g))) {
			if (!parse_id(g, strlen(g), &u.gid)) {
				image_user_done(&u);
				return err_msg(err, -EINVAL,
					       "invalid User '%.64s': gid out of range", s);
			}
			u.has_gid = true;
		} else {
			u.groupname = xstrdup(g);
		}
	}
	*ret = u;
	return 0;
}
