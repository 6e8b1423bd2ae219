/* fs: fd and path helpers. Paths that an image, a pod or a user controls are
 * resolved with openat2() beneath a directory fd, never with realpath. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

/** Read the whole file at `path` (relative to `dirfd`, or AT_FDCWD) into a
 *  malloc'd, NUL-terminated buffer (*ret, length *ret_len, which excludes the
 *  terminator). -EFBIG when it is larger than `max` bytes; -ENOENT and other
 *  open/read errors as they come (err names the path). */
int fs_read_file(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
		 struct err *err);
