/* fs: fd and path helpers. Paths that an image, a pod or a user controls are
 * resolved with openat2() beneath a directory fd, never with realpath. All
 * fds are opened O_CLOEXEC. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

/** Read the whole file at `path` (relative to `dirfd`, or AT_FDCWD) into a
 *  malloc'd, NUL-terminated buffer (*ret, length *ret_len, which excludes the
 *  terminator). -EFBIG when it is larger than `max` bytes; -EISDIR for a
 *  directory; -ENOENT and other open/read errors as they come (err names
 *  the path). */
int fs_read_file(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
		 struct err *err);

/** Read `fd` from its current offset to EOF into a malloc'd, NUL-terminated
 *  buffer, as fs_read_file does (for an fd opened some other way, e.g. by
 *  fs_open_in_root). `path` only names the file in err. -EFBIG when more
 *  than `max` bytes; read errors as they come (EINTR is retried). The fd
 *  stays open and owned by the caller. `ret_len` may be NULL. */
int fs_read_fd(int fd, const char *path, size_t max, char **ret, size_t *ret_len, struct err *err);

/** Open `path` as if `dirfd` were the root: openat2 with RESOLVE_IN_ROOT |
 *  RESOLVE_NO_MAGICLINKS, so "..", absolute paths and absolute symlinks all
 *  stay inside dirfd. `flags` are O_* flags (O_CLOEXEC is added); `mode`
 *  is used with O_CREAT. Returns the fd or a negative errno (-ENOSYS on
 *  kernels without openat2, -EAGAIN if a rename raced the lookup). */
int fs_open_in_root(int dirfd, const char *path, int flags, mode_t mode, struct err *err);

/** Like fs_open_in_root but with RESOLVE_BENEATH: a path or symlink that
 *  would leave dirfd fails with -EXDEV instead of being clamped. */
int fs_open_beneath(int dirfd, const char *path, int flags, mode_t mode, struct err *err);

/** Create every missing directory of relative `path` under `dirfd` (mode
 *  `mode`), never following symlinks (a symlink component fails with
 *  -ENOTDIR or -ELOOP), and return an O_DIRECTORY fd of the last one.
 *  Existing directories are fine. -EINVAL for an absolute path or "..". */
int fs_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct err *err);

enum {
	FS_WRITE_FSYNC = 1, /* fsync the file before the rename and the directory after it */
};

/** Replace `path` (relative to dirfd) with `len` bytes of `data`
 *  atomically: written to a temporary file in the same directory, then
 *  renamed over it. Readers see the old or the new content, never a part.
 *  `flags`: FS_WRITE_FSYNC. The temporary file is removed on failure. */
int fs_write_file_atomic(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
			 unsigned flags, struct err *err);

/** Remove `name` under dirfd and, if it is a directory, everything in it,
 *  like rm -rf: symlinks are removed, never followed; a directory on another
 *  filesystem (a mount point) is not entered and fails with -EXDEV; at most
 *  FS_RM_MAX_DEPTH levels deep (-ELOOP beyond). A missing `name` is success. */
int fs_rm_rf_at(int dirfd, const char *name, struct err *err);
#define FS_RM_MAX_DEPTH 256

/** The entries of directory `dir` whose names do not start with '.', as a
 *  NULL-terminated, sorted list of malloc'd names (strv_free) in *ret.
 *  Returns their count, or a negative errno (*ret NULL) when `dir` cannot be
 *  opened or read. */
int fs_list_dir(const char *dir, char ***ret);

/** The first regular, executable file `name` in the ':'-separated
 *  absolute directories of `path_list` (NULL: $PATH, or the usual system
 *  directories when that is unset); relative entries are skipped. NULL
 *  when none, or when `name` is empty or holds a '/'. malloc'd. */
char *fs_find_program(const char *name, const char *path_list);

/** "a" + "b" → "a/b" with exactly one '/' between them ("" joins to the
 *  other). malloc'd. No normalisation. */
char *fs_path_join(const char *a, const char *b);

/** Lexically normalise `path`: collapse "//", drop "." components and a
 *  trailing '/'; keep a leading '/'. "" and "." give ".". A ".." component
 *  is refused with -EINVAL (nothing here resolves it safely). *ret malloc'd. */
int fs_path_clean(const char *path, char **ret);

/** true when `name` is a single path component: non-empty, no '/', not "."
 *  or "..". */
bool fs_name_ok(const char *name);

/** Set or clear O_NONBLOCK. Returns 0 or a negative errno. */
int fs_fd_set_nonblock(int fd, bool on);
/** Set or clear FD_CLOEXEC. Returns 0 or a negative errno. */
int fs_fd_set_cloexec(int fd, bool on);
/** write() all of buf, retrying on EINTR and short writes. 0 or -errno. */
int fs_write_all(int fd, const void *buf, size_t len);
