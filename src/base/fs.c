#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/mem.h"
#include "base/str.h"

int fs_read_fd(int fd, const char *path, size_t max, char **ret, size_t *ret_len, struct err *err)
{
	size_t cap = 4096, n = 0;
	cleanup_free char *buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap > max)
				return err_msg(err, -EFBIG, "'%s' is larger than %zu bytes", path,
					       max);
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(err, -errno, "read '%s'", path);
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max)
			return err_msg(err, -EFBIG, "'%s' is larger than %zu bytes", path, max);
	}
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = n;
	return 0;
}

int fs_read_file(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
		 struct err *err)
{
	cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(err, -errno, "open '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_set(err, -errno, "stat '%s'", path);
	if (S_ISDIR(st.st_mode))
		return err_set(err, -EISDIR, "read '%s'", path);
	return fs_read_fd(fd, path, max, ret, ret_len, err);
}

static int open_how(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve,
		    struct err *err)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = resolve,
	};
	for (;;) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EINTR)
			return err_set(err, -errno, "open '%s'", path);
	}
}

int fs_open_in_root(int dirfd, const char *path, int flags, mode_t mode, struct err *err)
{
	return open_how(dirfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, err);
}

int fs_open_beneath(int dirfd, const char *path, int flags, mode_t mode, struct err *err)
{
	return open_how(dirfd, path, flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, err);
}

bool fs_name_ok(const char *name)
{
	return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

int fs_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct err *err)
{
	cleanup_free char *clean = NULL;
	if (path[0] == '/' || fs_path_clean(path, &clean) < 0)
		return err_msg(err, -EINVAL, "'%s': expected a relative path without '..'", path);
	cleanup_close int cur = dirfd == AT_FDCWD ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
						  : fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return err_set(err, -errno, "open directory for '%s'", path);
	if (strcmp(clean, ".") == 0)
		return TAKE_FD(cur);
	char *save = NULL;
	for (char *c = strtok_r(clean, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (mkdirat(cur, c, mode) < 0 && errno != EEXIST)
			return err_set(err, -errno, "mkdir '%s' in '%s'", c, path);
		int next = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return err_set(err, -errno, "open '%s' in '%s'", c, path);
		(void)close(cur);
		cur = next;
	}
	return TAKE_FD(cur);
}

int fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int write_tmp(int dfd, const char *tmp, const void *data, size_t len, mode_t mode,
		     unsigned flags, struct err *err)
{
	cleanup_close int fd =
	    openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return err_set(err, -errno, "create '%s'", tmp);
	int r = fs_write_all(fd, data, len);
	if (r < 0)
		return err_set(err, r, "write '%s'", tmp);
	if (fchmod(fd, mode) < 0) /* not subject to the umask */
		return err_set(err, -errno, "chmod '%s'", tmp);
	if ((flags & FS_WRITE_FSYNC) && fsync(fd) < 0)
		return err_set(err, -errno, "fsync '%s'", tmp);
	return 0;
}

int fs_write_file_atomic(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
			 unsigned flags, struct err *err)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!fs_name_ok(base))
		return err_msg(err, -EINVAL, "'%s': not a file name", path);
	cleanup_free char *dir = slash ? xstrndup(path, (size_t)(slash - path) + 1) : xstrdup(".");
	cleanup_close int dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set(err, -errno, "open directory of '%s'", path);
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&rnd;
	cleanup_free char *tmp = xasprintf(".%s.%016llx.tmp", base, (unsigned long long)rnd);
	int r = write_tmp(dfd, tmp, data, len, mode, flags, err);
	if (r == 0 && renameat(dfd, tmp, dfd, base) < 0)
		r = err_set(err, -errno, "rename to '%s'", path);
	if (r < 0) {
		(void)unlinkat(dfd, tmp, 0); /* best effort: it may not exist */
		return r;
	}
	if ((flags & FS_WRITE_FSYNC) && fsync(dfd) < 0)
		return err_set(err, -errno, "fsync directory of '%s'", path);
	return 0;
}

static int rm_rf_dir(int dfd, const char *name, dev_t dev, unsigned depth, struct err *err);

/* Remove entry `name` of directory dfd, recursing into directories. */
static int rm_entry(int dfd, const char *name, dev_t dev, unsigned depth, struct err *err)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_set(err, -errno, "stat '%s'", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return err_set(err, -errno, "unlink '%s'", name);
		return 0;
	}
	if (st.st_dev != dev)
		return err_msg(err, -EXDEV, "'%s' is on another filesystem (a mount point?)", name);
	int r = rm_rf_dir(dfd, name, dev, depth + 1, err);
	if (r < 0)
		return r;
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return err_set(err, -errno, "rmdir '%s'", name);
	return 0;
}

static int rm_rf_dir(int dfd, const char *name, dev_t dev, unsigned depth, struct err *err)
{
	if (depth > FS_RM_MAX_DEPTH)
		return err_msg(err, -ELOOP, "more than %d levels of directories", FS_RM_MAX_DEPTH);
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : err_set(err, -errno, "open '%s'", name);
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = -errno;
		(void)close(fd);
		return err_set(err, e, "opendir '%s'", name);
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = rm_entry(dirfd(d), de->d_name, dev, depth, err);
	}
	if (r == 0 && errno != 0)
		r = err_set(err, -errno, "readdir '%s'", name);
	closedir(d);
	if (r < 0)
		return err_wrap(err, "%s", name);
	return 0;
}

int fs_rm_rf_at(int dirfd, const char *name, struct err *err)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_set(err, -errno, "stat '%s'", name);
	return rm_entry(dirfd, name, st.st_dev, 0, err);
}

char *fs_path_join(const char *a, const char *b)
{
	if (!*a)
		return xstrdup(b);
	if (!*b)
		return xstrdup(a);
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (la == 1 && a[0] == '/')
		return xasprintf("/%s", b);
	return xasprintf("%.*s/%s", (int)la, a, b);
}

int fs_path_clean(const char *path, char **ret)
{
	size_t n = strlen(path);
	char *out = xmalloc(n + 2);
	size_t o = 0;
	bool abs = path[0] == '/';
	if (abs)
		out[o++] = '/';
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return -EINVAL;
		}
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (o > (abs ? 1u : 0u))
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	*ret = out;
	return 0;
}

int fs_fd_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	int nfl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
		return -errno;
	return 0;
}

int fs_fd_set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return -errno;
	int nfl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
	if (nfl != fl && fcntl(fd, F_SETFD, nfl) < 0)
		return -errno;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_list_dir(const char *dir, char ***ret)
{
	*ret = NULL;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		strv_push(&v, de->d_name);
		n++;
	}
	int r = errno ? -errno : 0;
	closedir(d);
	if (r < 0) {
		strv_free(v);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), name_cmp);
	*ret = v ? v : xcalloc(1, sizeof(*v));
	return (int)n;
}

char *fs_find_program(const char *name, const char *path_list)
{
	if (str_empty(name) || strchr(name, '/'))
		return NULL;
	if (!path_list)
		path_list = getenv("PATH");
	cleanup(strv_free) char **dirs = strv_split(
	    path_list ? path_list : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    ':');
	for (size_t i = 0; dirs && dirs[i]; i++) {
		if (dirs[i][0] != '/')
			continue;
		char *p = fs_path_join(dirs[i], name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}
