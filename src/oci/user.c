/* Container users: /etc/passwd and /etc/group of the rootfs, read with
 * openat2(RESOLVE_IN_ROOT) so an image's symlinks cannot point us at the
 * host's files, and the CRI/image rules for choosing uid, gid and groups. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

/* passwd/group files larger than this are refused: they come from images. */
#define USER_FILE_MAX (8u << 20)
#define FIELDS_MAX 8

/* Split `len` bytes of `line` at ':' into at most FIELDS_MAX malloc'd
 * fields. Returns the count, or -EINVAL for comments, NIS lines and blanks. */
static int split_fields(const char *line, size_t len, char **f)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-')
		return -EINVAL;
	if (memchr(line, '\0', len))
		return -EINVAL;
	int n = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != ':')
			continue;
		if (n == FIELDS_MAX) {
			for (int j = 0; j < n; j++)
				free(f[j]);
			return -EINVAL;
		}
		f[n++] = xstrndup(line + start, i - start);
		start = i + 1;
	}
	return n;
}

static void free_fields(char **f, int n)
{
	for (int i = 0; i < n; i++)
		free(f[i]);
}

/* A decimal id in [0, 2^32-2] (4294967295 is (uid_t)-1, never a real id). */
static int parse_id(const char *s, uint32_t *ret)
{
	if (!*s || strlen(s) > 10)
		return -EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v >= UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int oci_passwd_parse_line(const char *line, size_t len, struct oci_passwd_ent *ret)
{
	char *f[FIELDS_MAX];
	int n = split_fields(line, len, f);
	if (n < 0)
		return n;
	int r = -EINVAL;
	if ((n == 6 || n == 7) && *f[0] && parse_id(f[2], &ret->uid) == 0 &&
	    parse_id(f[3], &ret->gid) == 0) {
		ret->name = TAKE_PTR(f[0]);
		ret->home = TAKE_PTR(f[5]);
		r = 0;
	}
	free_fields(f, n);
	return r;
}

void oci_passwd_ent_done(struct oci_passwd_ent *e)
{
	free(e->name);
	free(e->home);
	e->name = e->home = NULL;
}

int oci_group_parse_line(const char *line, size_t len, struct oci_group_ent *ret)
{
	char *f[FIELDS_MAX];
	int n = split_fields(line, len, f);
	if (n < 0)
		return n;
	int r = -EINVAL;
	if (n == 4 && *f[0] && parse_id(f[2], &ret->gid) == 0) {
		ret->name = TAKE_PTR(f[0]);
		ret->members = strv_split(f[3], ',');
		r = 0;
	}
	free_fields(f, n);
	return r;
}

void oci_group_ent_done(struct oci_group_ent *e)
{
	free(e->name);
	strv_free(e->members);
	e->name = NULL;
	e->members = NULL;
}

int oci_user_spec_parse(const char *s, struct oci_user_spec *ret, struct err *err)
{
	s = s ? s : "";
	const char *colon = strchr(s, ':');
	if (!colon) {
		ret->user = xstrdup(s);
		ret->group = NULL;
		return 0;
	}
	if (colon == s)
		return err_msg(err, -EINVAL, "user '%s': a group needs a user before ':'", s);
	if (!colon[1])
		return err_msg(err, -EINVAL, "user '%s': empty group after ':'", s);
	ret->user = xstrndup(s, (size_t)(colon - s));
	ret->group = xstrdup(colon + 1);
	return 0;
}

void oci_user_spec_done(struct oci_user_spec *u)
{
	free(u->user);
	free(u->group);
	u->user = u->group = NULL;
}

void oci_user_done(struct oci_user *u)
{
	free(u->groups);
	free(u->home);
	u->groups = NULL;
	u->home = NULL;
	u->n_groups = 0;
}

/* Read /etc/<name> of the rootfs; a missing file is an empty one. */
static int read_etc(int rootfd, const char *path, char **ret, struct err *err)
{
	cleanup_err struct err e = ERR_INIT;
	/* O_NONBLOCK: an image's FIFO at this path must not hang the open. */
	cleanup_close int fd =
	    fs_open_in_root(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, &e);
	if (fd == -ENOENT || fd == -ELOOP || fd == -ENOTDIR) {
		*ret = xstrdup("");
		return 0;
	}
	if (fd < 0)
		return err_move(err, &e);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_set(err, -errno, "stat rootfs %s", path);
	if (!S_ISREG(st.st_mode))
		return err_msg(err, -EINVAL, "rootfs %s is not a regular file", path);
	int r = fs_read_fd(fd, path, USER_FILE_MAX, ret, NULL, &e);
	if (r < 0)
		return err_wrap(&e, "rootfs"), err_move(err, &e);
	return 0;
}

/* Find a passwd entry by name (name != NULL) or uid. 1 found, 0 not. */
static int find_passwd(const char *text, const char *name, uint32_t uid, struct oci_passwd_ent *ret)
{
	for (const char *p = text; *p;) {
		const char *nl = strchrnul(p, '\n');
		struct oci_passwd_ent e = { 0 };
		if (oci_passwd_parse_line(p, (size_t)(nl - p), &e) == 0) {
			if (name ? strcmp(e.name, name) == 0 : e.uid == uid) {
				*ret = e;
				return 1;
			}
			oci_passwd_ent_done(&e);
		}
		p = *nl ? nl + 1 : nl;
	}
	return 0;
}

/* Find a group gid by name. 1 found, 0 not. */
static int find_group(const char *text, const char *name, uint32_t *ret)
{
	for (const char *p = text; *p;) {
		const char *nl = strchrnul(p, '\n');
		struct oci_group_ent e = { 0 };
		if (oci_group_parse_line(p, (size_t)(nl - p), &e) == 0) {
			bool hit = strcmp(e.name, name) == 0;
			*ret = e.gid;
			oci_group_ent_done(&e);
			if (hit)
				return 1;
		}
		p = *nl ? nl + 1 : nl;
	}
	return 0;
}

static void add_gid(struct oci_user *u, gid_t g)
{
	for (size_t i = 0; i < u->n_groups; i++)
		if (u->groups[i] == g)
			return;
	u->groups = xreallocarray(u->groups, u->n_groups + 1, sizeof(*u->groups));
	u->groups[u->n_groups++] = g;
}

/* Every group listing `name` as a member. */
static void add_memberships(const char *text, const char *name, struct oci_user *u)
{
	for (const char *p = text; *p;) {
		const char *nl = strchrnul(p, '\n');
		struct oci_group_ent e = { 0 };
		if (oci_group_parse_line(p, (size_t)(nl - p), &e) == 0) {
			if (strv_contains(e.members, name))
				add_gid(u, e.gid);
			oci_group_ent_done(&e);
		}
		p = *nl ? nl + 1 : nl;
	}
}

/* The user part: a name (looked up) or a number (looked up if listed).
 * Sets uid, gid (the entry's, else 0) and home; *ent is the entry (name
 * NULL when there is none). Returns 1 found, 0 not listed, or -EINVAL. */
static int resolve_user_part(const char *passwd, const char *user, struct oci_user *u,
			     struct oci_passwd_ent *ent, struct err *err)
{
	uint32_t id;
	int found;
	if (parse_id(user, &id) == 0) {
		u->uid = id;
		found = find_passwd(passwd, NULL, id, ent);
	} else {
		found = find_passwd(passwd, user, 0, ent);
		if (!found)
			return err_msg(
			    err, -EINVAL,
			    "user '%s' is not in the image's /etc/passwd: use a numeric uid or a user the image defines",
			    user);
		u->uid = ent->uid;
	}
	u->gid = found ? ent->gid : 0;
	if (found)
		u->home = xstrdup(ent->home);
	return found;
}

static int resolve_group_part(const char *group_text, const char *group, struct oci_user *u,
			      struct err *err)
{
	uint32_t id;
	if (parse_id(group, &id) == 0) {
		u->gid = id;
		return 0;
	}
	if (!find_group(group_text, group, &id))
		return err_msg(
		    err, -EINVAL,
		    "group '%s' is not in the image's /etc/group: use a numeric gid or a group the image defines",
		    group);
	u->gid = id;
	return 0;
}

/* The user string to resolve: CRI username, CRI uid, else the image's. */
static char *user_string(const struct oci_ctr_config *c)
{
	if (!str_empty(c->run_as_username))
		return xstrdup(c->run_as_username);
	if (c->has_run_as_user)
		return xasprintf("%lld", (long long)c->run_as_user);
	return xstrdup(c->image.user ? c->image.user : "");
}

static int check_cri_ids(const struct oci_ctr_config *c, struct err *err)
{
	if (c->has_run_as_group && !c->has_run_as_user && str_empty(c->run_as_username))
		return err_msg(
		    err, -EINVAL,
		    "run_as_group needs run_as_user or run_as_username to be set as well");
	if (c->has_run_as_user && (c->run_as_user < 0 || c->run_as_user >= UINT32_MAX))
		return err_msg(err, -EINVAL, "run_as_user %lld is not a valid uid",
			       (long long)c->run_as_user);
	if (c->has_run_as_group && (c->run_as_group < 0 || c->run_as_group >= UINT32_MAX))
		return err_msg(err, -EINVAL, "run_as_group %lld is not a valid gid",
			       (long long)c->run_as_group);
	if (c->groups_policy != OCI_GROUPS_MERGE && c->groups_policy != OCI_GROUPS_STRICT)
		return err_msg(err, -EINVAL,
			       "supplemental_groups_policy %d is neither Merge (0) nor Strict (1)",
			       (int)c->groups_policy);
	for (size_t i = 0; i < c->n_supplemental_groups; i++)
		if (c->supplemental_groups[i] < 0 || c->supplemental_groups[i] >= UINT32_MAX)
			return err_msg(err, -EINVAL, "supplemental group %lld is not a valid gid",
				       (long long)c->supplemental_groups[i]);
	return 0;
}

int oci_user_resolve(int rootfd, const struct oci_ctr_config *c, struct oci_user *ret,
		     struct err *err)
{
	*ret = (struct oci_user){ 0 };
	int r = check_cri_ids(c, err);
	if (r < 0)
		return r;
	cleanup_free char *us = user_string(c);
	struct oci_user_spec spec = { 0 };
	r = oci_user_spec_parse(us, &spec, err);
	if (r < 0)
		return r;
	cleanup_free char *passwd = NULL, *group = NULL;
	struct oci_passwd_ent ent = { 0 };
	struct oci_user u = { 0 };
	r = read_etc(rootfd, "/etc/passwd", &passwd, err);
	if (r >= 0)
		r = read_etc(rootfd, "/etc/group", &group, err);
	if (r >= 0)
		r = resolve_user_part(passwd, *spec.user ? spec.user : "0", &u, &ent, err);
	if (r >= 0 && spec.group)
		r = resolve_group_part(group, spec.group, &u, err);
	if (r >= 0) {
		if (c->has_run_as_group)
			u.gid = (uint32_t)c->run_as_group;
		add_gid(&u, u.gid);
		/* Strict: the groups a pod asks for and nothing the image adds. */
		if (ent.name && c->groups_policy == OCI_GROUPS_MERGE)
			add_memberships(group, ent.name, &u);
		for (size_t i = 0; i < c->n_supplemental_groups; i++)
			add_gid(&u, (gid_t)c->supplemental_groups[i]);
		*ret = u;
		u = (struct oci_user){ 0 };
		r = 0;
	}
	oci_user_done(&u);
	oci_passwd_ent_done(&ent);
	oci_user_spec_done(&spec);
	return r;
}
