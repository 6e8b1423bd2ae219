/* OCI whiteouts to overlay form: ".wh.<name>" becomes a 0/0 character
 * device named <name>; ".wh..wh..opq" marks its directory opaque with the
 * trusted.overlay.opaque xattr. Other ".wh..wh." names are aufs metadata
 * and are dropped. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/base.h"
#include "storage/storage_int.h"

#define WH_PREFIX ".wh."
#define WH_META ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

static int mark_opaque(int pfd, const char *p, struct err *err)
{
	cleanup_close int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "opaque whiteout '%s'", p);
	if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
		return err_set(err, -errno, "opaque whiteout '%s': set trusted.overlay.opaque", p);
	return 1;
}

int whiteout_apply(int pfd, const char *base, const char *p, struct err *err)
{
	if (!str_has_prefix(base, WH_PREFIX))
		return 0;
	if (!strcmp(base, WH_OPAQUE))
		return mark_opaque(pfd, p, err);
	if (str_has_prefix(base, WH_META))
		return 1;
	const char *name = base + strlen(WH_PREFIX);
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return err_msg(err, -EINVAL, "refusing tar entry '%s': invalid whiteout name", p);
	/* An entry of this layer with the same name already hides the lower
	 * one; keep it. */
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return err_set(err, -errno, "whiteout '%s'", p);
	return 1;
}
