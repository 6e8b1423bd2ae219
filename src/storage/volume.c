/* Read-only views of images (image volumes) and idmapped binds of host
 * paths: mounts made from detached trees (open_tree, mount_setattr,
 * move_mount), so an idmapping never shows anywhere but on the target. */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/base.h"
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "storage/store_int.h"

/* Attach a detached copy of `dirfd`/`path` on `target` with `attrs`
 * (MOUNT_ATTR_RDONLY, MOUNT_ATTR_IDMAP through userns_fd). */
static int attach_tree(int dirfd, const char *path, const char *target, uint64_t attrs,
		       int userns_fd, struct err *err)
{
	cleanup_close int fd =
	    (int)syscall(SYS_open_tree, dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open_tree '%s'", path);
	struct mount_attr a = { .attr_set = attrs };
	if (attrs & MOUNT_ATTR_IDMAP)
		a.userns_fd = (uint64_t)userns_fd;
	if (attrs && syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
		return err_set(err, -errno, "set the attributes of the mount of '%s'%s", path,
			       attrs & MOUNT_ATTR_IDMAP ? " (idmap)" : "");
	if (syscall(SYS_move_mount, fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return err_set(err, -errno, "move the mount of '%s' to '%s'", path, target);
	return 0;
}

int storage_mount_image_ro(struct storage *s, const char *const *lowers, size_t n,
			   const char *target, int userns_fd, struct err *err)
{
	if (n == 0)
		return err_msg(err, -EINVAL, "an image view needs at least one layer");
	if (n > 1)
		return userns_fd >= 0
			   ? storage_mount_overlay_idmapped(s, lowers, n, NULL, NULL, target,
							    userns_fd, err)
			   : storage_mount_overlay(s, lowers, n, NULL, NULL, target, err);
	/* Overlay wants two lower layers when it has no upper one: a single
	 * layer is its diff directory, bound read-only. */
	char short_name[STORE_SHORT_LEN + 1];
	if (storage_layer_exists(s, lowers[0]) != 1)
		return err_msg(err, -ENOENT, "layer %s not found", lowers[0] ? lowers[0] : "");
	int r = store_read_link(s, lowers[0], short_name, err);
	if (r < 0)
		return r;
	cleanup_free char *path = xasprintf("l/%s", short_name);
	uint64_t attrs = MOUNT_ATTR_RDONLY | (userns_fd >= 0 ? MOUNT_ATTR_IDMAP : 0);
	return attach_tree(s->layersfd, path, target, attrs, userns_fd, err);
}

int storage_bind_idmapped(const char *src, const char *target, bool readonly, int userns_fd,
			  struct err *err)
{
	if (!src || src[0] != '/' || !target || target[0] != '/')
		return err_msg(err, -EINVAL, "an idmapped bind needs absolute paths");
	uint64_t attrs = MOUNT_ATTR_IDMAP | (readonly ? MOUNT_ATTR_RDONLY : 0);
	return attach_tree(AT_FDCWD, src, target, attrs, userns_fd, err);
}
