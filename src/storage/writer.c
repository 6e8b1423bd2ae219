/* Our tar entry writer. Every path comes from storage_tar_path_clean and
 * is resolved below the layer directory with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS): a path that would leave the layer (through an
 * absolute symlink or "..") fails with EXDEV and the layer is refused,
 * rather than silently redirected. Final components are never followed. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fs.h"
#include "storage/storage_int.h"

/* Deepest entry accepted: whatever is written must stay removable by
 * fs_rm_rf_at from <root>/tmp (which adds <tmp-name>/diff). */
#define MAX_DEPTH (FS_RM_MAX_DEPTH - 4)

struct dir_time {
	char *path;
	struct timespec ts[2];
};

struct writer {
	int rootfd;
	struct dir_time *dirs;
	size_t ndirs, cap;
	char path[PATH_MAX];
	char link[PATH_MAX];
};

int writer_new(int rootfd, struct writer **ret)
{
	struct writer *w = xnew(struct writer);
	w->rootfd = rootfd;
	*ret = w;
	return 0;
}

void writer_free(struct writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->ndirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	free(w);
}

static int resolve_fail(int r, const char *p, struct err *err)
{
	if (r == -EXDEV)
		return err_msg(err, -EINVAL,
			       "refusing tar entry '%s': path leaves the layer through a symlink",
			       p);
	if (r == -ELOOP || r == -ENOTDIR)
		return err_msg(err, -EINVAL, "refusing tar entry '%s': a parent is not a directory",
			       p);
	return err_set(err, r, "resolve '%s'", p);
}

/* Open each prefix of `dir` in turn, creating missing directories. */
static int create_parents(struct writer *w, char *dir, const char *p, struct err *err)
{
	cleanup_close int cur = fcntl(w->rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return err_set(err, -errno, "dup");
	for (char *s = dir;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		int fd = fs_open_beneath(w->rootfd, dir, O_PATH | O_DIRECTORY, 0, NULL);
		if (fd == -ENOENT) {
			const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
			if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST)
				return err_set(err, -errno, "mkdir '%s'", dir);
			fd = fs_open_beneath(w->rootfd, dir, O_PATH | O_DIRECTORY, 0, NULL);
		}
		*s = saved;
		if (fd < 0)
			return resolve_fail(fd, p, err);
		close(cur);
		cur = fd;
		if (saved == '\0')
			return TAKE_FD(cur);
	}
}

static int parent_of(struct writer *w, const char *p, const char **base, bool create,
		     struct err *err)
{
	const char *slash = strrchr(p, '/');
	if (!slash) {
		*base = p;
		int fd = fcntl(w->rootfd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? err_set(err, -errno, "dup") : fd;
	}
	*base = slash + 1;
	char dir[PATH_MAX];
	memcpy(dir, p, (size_t)(slash - p));
	dir[slash - p] = '\0';
	int fd = fs_open_beneath(w->rootfd, dir, O_PATH | O_DIRECTORY, 0, NULL);
	if (fd >= 0)
		return fd;
	if (fd == -ENOENT && create)
		return create_parents(w, dir, p, err);
	return resolve_fail(fd, p, err);
}

int writer_parent(struct writer *w, const char *p, const char **base, struct err *err)
{
	return parent_of(w, p, base, true, err);
}

/* Remove what is at `name` so a new entry can take its place. Returns 1
 * when a directory is there and `keep_dir` asked to keep it. */
static int make_room(int pfd, const char *name, bool keep_dir, const char *p, struct err *err)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_set(err, -errno, "stat '%s'", p);
	if (S_ISDIR(st.st_mode) && keep_dir)
		return 1;
	int r = fs_rm_rf_at(pfd, name, NULL);
	return r < 0 ? err_set(err, r, "replace '%s'", p) : 0;
}

static bool xattr_wanted(const char *name)
{
	/* overlay's own xattrs are interpreted by the kernel: only whiteout
	 * markers may create them. Host labels are the host's business. */
	if (str_has_prefix(name, "trusted.overlay.") || !strcmp(name, "security.selinux"))
		return false;
	return str_has_prefix(name, "user.") || str_has_prefix(name, "trusted.") ||
	       str_has_prefix(name, "security.");
}

static int set_xattrs(struct archive_entry *e, int fd, int pfd, const char *name, const char *p,
		      struct err *err)
{
	const char *xname;
	const void *val;
	size_t len;

	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	while (archive_entry_xattr_next(e, &xname, &val, &len) == ARCHIVE_OK) {
		if (!xattr_wanted(xname))
			continue;
		int r;
		if (fd >= 0) {
			r = fsetxattr(fd, xname, val, len, 0);
		} else {
			char proc[64 + NAME_MAX];
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, name);
			r = lsetxattr(proc, xname, val, len, 0);
		}
		if (r < 0)
			return err_set(err, -errno, "set xattr %s on '%s'", xname, p);
	}
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1] = (struct timespec){ archive_entry_mtime(e), archive_entry_mtime_nsec(e) };
	if (archive_entry_atime_is_set(e))
		ts[0] = (struct timespec){ archive_entry_atime(e), archive_entry_atime_nsec(e) };
	else
		ts[0] = ts[1];
	if (ts[0].tv_nsec < 0 || ts[0].tv_nsec >= 1000000000)
		ts[0].tv_nsec = 0;
	if (ts[1].tv_nsec < 0 || ts[1].tv_nsec >= 1000000000)
		ts[1].tv_nsec = 0;
}

static int entry_owner(struct archive_entry *e, uid_t *uid, gid_t *gid, const char *p,
		       struct err *err)
{
	int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);
	if (u < 0 || g < 0 || u >= UINT32_MAX || g >= UINT32_MAX)
		return err_msg(err, -EINVAL, "refusing tar entry '%s': invalid owner %lld:%lld", p,
			       (long long)u, (long long)g);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

/* Ownership, then mode (chown clears setuid/setgid), then xattrs, times. */
static int meta_fd(struct archive_entry *e, int fd, const char *p, bool times, struct err *err)
{
	uid_t uid = 0; /* set whenever entry_owner succeeds; -O3 cannot tell */
	gid_t gid = 0;
	int r = entry_owner(e, &uid, &gid, p, err);
	if (r < 0)
		return r;
	if (fchown(fd, uid, gid) < 0)
		return err_set(err, -errno, "chown '%s'", p);
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return err_set(err, -errno, "chmod '%s'", p);
	r = set_xattrs(e, fd, -1, NULL, p, err);
	if (r < 0)
		return r;
	struct timespec ts[2];
	entry_times(e, ts);
	if (times && futimens(fd, ts) < 0)
		return err_set(err, -errno, "set times of '%s'", p);
	return 0;
}

/* The same for objects that cannot be opened (symlinks, device nodes). */
static int meta_at(struct archive_entry *e, int pfd, const char *name, bool chmod, const char *p,
		   struct err *err)
{
	uid_t uid = 0; /* set whenever entry_owner succeeds; -O3 cannot tell */
	gid_t gid = 0;
	int r = entry_owner(e, &uid, &gid, p, err);
	if (r < 0)
		return r;
	if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(err, -errno, "chown '%s'", p);
	/* A node this writer just created in its own directory: not a symlink. */
	if (chmod && fchmodat(pfd, name, archive_entry_perm(e) & 07777, 0) < 0)
		return err_set(err, -errno, "chmod '%s'", p);
	r = set_xattrs(e, -1, pfd, name, p, err);
	if (r < 0)
		return r;
	struct timespec ts[2];
	entry_times(e, ts);
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(err, -errno, "set times of '%s'", p);
	return 0;
}

static int write_data(struct archive *a, struct archive_entry *e, int fd, const char *p,
		      struct err *err)
{
	const void *buf;
	size_t size;
	la_int64_t off, end = 0;

	for (;;) {
		int r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return err_msg(err, -EINVAL, "read data of '%s': %s", p,
				       archive_error_string(a) ? archive_error_string(a) : "error");
		for (size_t done = 0; done < size;) {
			ssize_t n =
			    pwrite(fd, (const char *)buf + done, size - done, off + (off_t)done);
			if (n < 0)
				return err_set(err, -errno, "write '%s'", p);
			done += (size_t)n;
		}
		end = off + (la_int64_t)size;
	}
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
	    ftruncate(fd, archive_entry_size(e)) < 0)
		return err_set(err, -errno, "truncate '%s'", p);
	return 0;
}

static int write_file(struct writer *w, struct archive *a, struct archive_entry *e, int pfd,
		      const char *base, struct err *err)
{
	int r = make_room(pfd, base, false, w->path, err);
	if (r < 0)
		return r;
	cleanup_close int fd =
	    openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, -errno, "create '%s'", w->path);
	r = write_data(a, e, fd, w->path, err);
	if (r < 0)
		return r;
	return meta_fd(e, fd, w->path, true, err);
}

static int defer_dir_time(struct writer *w, struct archive_entry *e)
{
	if (w->ndirs == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->dirs = xrealloc(w->dirs, w->cap * sizeof(*w->dirs));
	}
	w->dirs[w->ndirs].path = xstrdup(w->path);
	entry_times(e, w->dirs[w->ndirs].ts);
	w->ndirs++;
	return 0;
}

static int write_dir(struct writer *w, struct archive_entry *e, int pfd, const char *base,
		     struct err *err)
{
	int r = 0;
	if (*base) {
		r = make_room(pfd, base, true, w->path, err);
		if (r < 0)
			return r;
		if (r == 0 && mkdirat(pfd, base, 0700) < 0)
			return err_set(err, -errno, "mkdir '%s'", w->path);
	}
	cleanup_close int fd =
	    openat(pfd, *base ? base : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open '%s'", w->path);
	r = meta_fd(e, fd, w->path, false, err);
	if (r < 0)
		return r;
	return defer_dir_time(w, e);
}

static int write_symlink(struct writer *w, struct archive_entry *e, int pfd, const char *base,
			 struct err *err)
{
	const char *target = archive_entry_symlink(e);
	if (!target || !*target)
		return err_msg(err, -EINVAL, "refusing tar entry '%s': empty symlink target",
			       w->path);
	int r = make_room(pfd, base, false, w->path, err);
	if (r < 0)
		return r;
	if (symlinkat(target, pfd, base) < 0)
		return err_set(err, -errno, "symlink '%s'", w->path);
	return meta_at(e, pfd, base, false, w->path, err);
}

static int write_node(struct writer *w, struct archive_entry *e, int pfd, const char *base,
		      struct err *err)
{
	int r = make_room(pfd, base, false, w->path, err);
	if (r < 0)
		return r;
	mode_t type = archive_entry_filetype(e);
	if (mknodat(pfd, base, type | 0600, type == AE_IFIFO ? 0 : archive_entry_rdev(e)) < 0)
		return err_set(err, -errno, "mknod '%s'", w->path);
	return meta_at(e, pfd, base, true, w->path, err);
}

static int write_hardlink(struct writer *w, const char *target, int pfd, const char *base,
			  struct err *err)
{
	const char *why = NULL;
	if (storage_tar_path_clean(target, strlen(target), w->link, sizeof(w->link), &why) < 0 ||
	    !*w->link)
		return err_msg(err, -EINVAL, "refusing hardlink '%s' -> '%s': %s", w->path, target,
			       why ? why : "target is the root");
	const char *tbase;
	cleanup_close int tpfd = parent_of(w, w->link, &tbase, false, err);
	if (tpfd == -ENOENT)
		return err_msg(err, -EINVAL,
			       "refusing hardlink '%s' -> '%s': target not in the layer", w->path,
			       target);
	if (tpfd < 0)
		return tpfd;
	struct stat st;
	if (fstatat(tpfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
		return err_msg(err, -EINVAL,
			       "refusing hardlink '%s' -> '%s': target not in the layer", w->path,
			       target);
	if (!strcmp(w->path, w->link))
		return 0;
	int r = make_room(pfd, base, false, w->path, err);
	if (r < 0)
		return r;
	if (linkat(tpfd, tbase, pfd, base, 0) < 0)
		return err_set(err, -errno, "hardlink '%s' -> '%s'", w->path, target);
	return 0;
}

int writer_entry(struct writer *w, struct archive *a, struct archive_entry *e, struct err *err)
{
	const char *raw = archive_entry_pathname(e), *why = NULL, *base;
	if (!raw)
		return err_msg(err, -EINVAL, "refusing tar entry without a path");
	if (storage_tar_path_clean(raw, strlen(raw), w->path, sizeof(w->path), &why) < 0)
		return err_msg(err, -EINVAL, "refusing tar entry '%s': %s", raw, why);
	size_t depth = 0;
	for (const char *c = w->path; *c; c++)
		depth += *c == '/';
	if (depth >= MAX_DEPTH)
		return err_msg(err, -EINVAL, "refusing tar entry '%s': more than %d levels deep",
			       raw, MAX_DEPTH);
	mode_t type = archive_entry_filetype(e);
	const char *hardlink = archive_entry_hardlink(e);
	if (!*w->path) {
		if (type != AE_IFDIR || hardlink)
			return err_msg(err, -EINVAL,
				       "refusing tar entry '%s': the root must be a directory",
				       raw);
		return write_dir(w, e, w->rootfd, "", err);
	}
	cleanup_close int pfd = writer_parent(w, w->path, &base, err);
	if (pfd < 0)
		return pfd;
	int r = whiteout_apply(pfd, base, w->path, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (hardlink)
		return write_hardlink(w, hardlink, pfd, base, err);
	switch (type) {
	case AE_IFDIR:
		return write_dir(w, e, pfd, base, err);
	case AE_IFREG:
		return write_file(w, a, e, pfd, base, err);
	case AE_IFLNK:
		return write_symlink(w, e, pfd, base, err);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		return write_node(w, e, pfd, base, err);
	default:
		return 0; /* sockets and unknown types carry nothing to restore */
	}
}

int writer_finish(struct writer *w, struct err *err)
{
	for (size_t i = 0; i < w->ndirs; i++) {
		const char *p = w->dirs[i].path, *base;
		cleanup_close int pfd = *p ? parent_of(w, p, &base, false, err) : -1;
		if (*p && pfd < 0)
			return pfd;
		struct stat st;
		int dfd = *p ? pfd : w->rootfd;
		const char *name = *p ? base : ".";
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue; /* replaced by a later entry */
		if (utimensat(dfd, name, w->dirs[i].ts, AT_SYMLINK_NOFOLLOW) < 0)
			return err_set(err, -errno, "set times of '%s'", p);
	}
	return 0;
}
