#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/mem.h"

/* Read all of fd (at most max bytes) into a NUL-terminated buffer. */
static int read_all(int fd, const char *path, size_t max, char **ret, size_t *ret_len,
		    struct err *err)
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
	return read_all(fd, path, max, ret, ret_len, err);
}
