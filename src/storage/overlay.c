/* Overlay mounts of layers, and the store's disk usage. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "storage/storage_int.h"
#include "storage/store_int.h"

static int build_options(struct storage *s, const char *const *lowers, size_t n, const char *upper,
			 const char *work, char *out, size_t outsz, struct err *err)
{
	size_t o = (size_t)snprintf(out, outsz, "lowerdir=");
	for (size_t i = 0; i < n; i++) {
		char short_name[STORE_SHORT_LEN + 1];
		if (storage_layer_exists(s, lowers[i]) != 1)
			return err_msg(err, -ENOENT, "layer %s not found",
				       lowers[i] ? lowers[i] : "");
		int r = store_read_link(s, lowers[i], short_name, err);
		if (r < 0)
			return r;
		o += (size_t)snprintf(out + o, o < outsz ? outsz - o : 0, "%sl/%s", i ? ":" : "",
				      short_name);
	}
	if (upper)
		o += (size_t)snprintf(out + o, o < outsz ? outsz - o : 0, ",upperdir=%s,workdir=%s",
				      upper, work);
	if (o >= outsz)
		return err_msg(err, -E2BIG, "overlay options for %zu layers do not fit one page",
			       n);
	return 0;
}

int storage_mount_overlay(struct storage *s, const char *const *lowers, size_t n, const char *upper,
			  const char *work, const char *target, struct err *err)
{
	long page = sysconf(_SC_PAGESIZE);
	if (n == 0 || !!upper != !!work || (upper && (upper[0] != '/' || work[0] != '/')))
		return err_msg(
		    err, -EINVAL,
		    "overlay needs lower layers and absolute upper and work dirs together");
	cleanup_free char *opts = xmalloc((size_t)page);
	int r = build_options(s, lowers, n, upper, work, opts, (size_t)page, err);
	if (r < 0)
		return r;
	/* The short lower paths are relative to layers/: give this thread its
	 * own working directory (unshare CLONE_FS) so the chdir is invisible
	 * to the other threads of the daemon, and go back afterwards. */
	if (unshare(CLONE_FS) < 0)
		return err_set(err, -errno, "unshare(CLONE_FS)");
	cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return err_set(err, -errno, "open current directory");
	if (fchdir(s->layersfd) < 0)
		return err_set(err, -errno, "chdir '%s/layers'", s->root);
	r = mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts);
	r = r < 0 ? -errno : 0;
	if (fchdir(cwd) < 0 && r == 0) {
		r = -errno; /* cannot really happen: cwd is an open directory */
		(void)umount2(target, MNT_DETACH);
	}
	if (r < 0)
		return err_set(err, r, "mount overlay on '%s'", target);
	return 0;
}

/* Inodes are summed in millionths so hard links add up to one. */
#define INODE_UNIT 1000000u

static int usage_walk(int dirfd, struct storage_usage *u, unsigned depth)
{
	if (depth > 4096)
		return -ELOOP;
	/* A new open file description, not a dup: a dup shares the directory
	 * offset with `dirfd`, so a second walk (or a concurrent one) of the
	 * store's long-lived layers fd would see nothing. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	int ret = 0;
	struct dirent *de;
	while (ret >= 0 && (de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* raced with a delete */
		/* A file with n links is counted 1/n per link: the sum over all
		 * links is the file once. */
		nlink_t links = st.st_nlink && !S_ISDIR(st.st_mode) ? st.st_nlink : 1;
		u->bytes += (uint64_t)st.st_blocks * 512 / links;
		u->inodes += INODE_UNIT / links;
		if (!S_ISDIR(st.st_mode))
			continue;
		cleanup_close int sub =
		    openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			ret = usage_walk(sub, u, depth + 1);
	}
	closedir(d);
	return ret;
}

int storage_usage(struct storage *s, struct storage_usage *ret, struct err *err)
{
	struct storage_usage u = { 0 };
	int r = usage_walk(s->layersfd, &u, 0);
	if (r < 0)
		return err_set(err, r, "usage of '%s/layers'", s->root);
	u.inodes = (u.inodes + INODE_UNIT / 2) / INODE_UNIT;
	*ret = u;
	return 0;
}
