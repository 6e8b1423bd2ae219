/* Overlays whose lower layers are seen through idmapped mounts: the rootfs
 * of a container in a user namespace shows the image's files as owned by
 * the namespace's ids without a chown of the shared layers. The idmapped
 * trees are never attached to the filesystem: each is a detached mount
 * named by /proc/self/fd/N in the overlay options, and overlay takes its
 * own private clone of it (Linux 6.15 lets it clone detached mounts). */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/base.h"
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "storage/store_int.h"

/* A detached idmapped copy of the mount at `dirfd`/`path` (a directory). */
static int idmapped_tree(int dirfd, const char *path, int userns_fd, struct err *err)
{
	int fd = (int)syscall(SYS_open_tree, dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open_tree '%s'", path);
	struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0) {
		int r = err_set(err, -errno, "idmap the mount of '%s'", path);
		close(fd);
		return r;
	}
	return fd;
}

/* Mount an overlay of the directories dirfd/paths[0..n) (top-most first),
 * each idmapped through userns_fd, on `target`. */
static int mount_idmapped(int dirfd, char *const *paths, size_t n, const char *upper,
			  const char *work, const char *target, int userns_fd, struct err *err)
{
	long page = sysconf(_SC_PAGESIZE);
	int *fds = xcalloc(n, sizeof(*fds));
	size_t open_n = 0;
	int r = 0;
	for (; open_n < n && r >= 0; open_n++) {
		r = idmapped_tree(dirfd, paths[open_n], userns_fd, err);
		fds[open_n] = r;
	}
	if (r < 0)
		open_n--;
	cleanup_free char *opts = xmalloc((size_t)page);
	size_t o = 0, sz = (size_t)page;
	if (r >= 0) {
		o = (size_t)snprintf(opts, sz, "lowerdir=");
		for (size_t i = 0; i < n; i++)
			o += (size_t)snprintf(opts + o, o < sz ? sz - o : 0, "%s/proc/self/fd/%d",
					      i ? ":" : "", fds[i]);
		if (upper)
			o += (size_t)snprintf(opts + o, o < sz ? sz - o : 0,
					      ",upperdir=%s,workdir=%s", upper, work);
		if (o >= sz)
			r = err_msg(err, -E2BIG,
				    "overlay options for %zu layers do not fit one page", n);
	}
	if (r >= 0 && mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts) < 0)
		r = err_set(err, -errno, "mount overlay of idmapped layers on '%s'", target);
	/* The overlay holds its own clones: the detached trees go away. */
	for (size_t i = 0; i < open_n; i++)
		close(fds[i]);
	free(fds);
	return r < 0 ? r : 0;
}

int storage_mount_overlay_idmapped(struct storage *s, const char *const *lowers, size_t n,
				   const char *upper, const char *work, const char *target,
				   int userns_fd, struct err *err)
{
	if (n == 0 || !!upper != !!work || (upper && (upper[0] != '/' || work[0] != '/')))
		return err_msg(
		    err, -EINVAL,
		    "an idmapped overlay needs lower layers and absolute upper and work dirs together");
	char **paths = xcalloc(n + 1, sizeof(*paths));
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		char short_name[STORE_SHORT_LEN + 1];
		if (storage_layer_exists(s, lowers[i]) != 1)
			r = err_msg(err, -ENOENT, "layer %s not found", lowers[i] ? lowers[i] : "");
		else
			r = store_read_link(s, lowers[i], short_name, err);
		if (r >= 0)
			paths[i] = xasprintf("l/%s", short_name); /* a symlink to the diff */
	}
	if (r >= 0)
		r = mount_idmapped(s->layersfd, paths, n, upper, work, target, userns_fd, err);
	strv_free(paths);
	return r;
}

/* The probe's scratch directory under tmp/: l (a file "f" owned by 0:0),
 * u, w, m. */
static int probe_dirs(int dfd, struct err *err)
{
	static const char *const names[] = { "l", "u", "w", "m" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (mkdirat(dfd, names[i], 0755) < 0)
			return err_set(err, -errno, "mkdir '%s'", names[i]);
	int fd = openat(dfd, "l/f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(err, -errno, "create probe file");
	close(fd);
	return 0;
}

int storage_idmap_probe(struct storage *s, int userns_fd, uint32_t want_uid, struct err *err)
{
	char name[] = "idmap-probe-XXXXXX";
	cleanup_free char *tmp = xasprintf("%s/tmp", s->root);
	cleanup_free char *dir = xasprintf("%s/%s", tmp, name);
	if (!mkdtemp(dir))
		return err_set(err, -errno, "mkdtemp in '%s'", tmp);
	const char *base = strrchr(dir, '/') + 1;
	cleanup_close int dfd = openat(s->tmpfd, base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = dfd < 0 ? err_set(err, -errno, "open '%s'", dir) : probe_dirs(dfd, err);
	cleanup_free char *u = xasprintf("%s/u", dir);
	cleanup_free char *w = xasprintf("%s/w", dir);
	cleanup_free char *m = xasprintf("%s/m", dir);
	char *lower[] = { "l", NULL };
	if (r >= 0)
		r = mount_idmapped(dfd, lower, 1, u, w, m, userns_fd, err);
	if (r >= 0) {
		struct stat st;
		if (fstatat(dfd, "m/f", &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = err_set(err, -errno, "stat through the idmapped overlay");
		else if (st.st_uid != want_uid)
			r = err_msg(err, -EOPNOTSUPP, "the idmapped overlay shows uid %u, not %u",
				    (unsigned)st.st_uid, (unsigned)want_uid);
		(void)umount2(m, MNT_DETACH);
	}
	(void)fs_rm_rf_at(s->tmpfd, base, NULL);
	return r;
}
