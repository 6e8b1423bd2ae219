/* Tar entry path checks: a pure function, fuzzed (fuzz/tar_path). */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "storage/storage.h"

static int refuse(const char **reason, const char *why, int code)
{
	if (reason)
		*reason = why;
	return code;
}

int storage_tar_path_clean(const char *path, size_t len, char *out, size_t outsz,
			   const char **reason)
{
	size_t o = 0;

	if (len == 0)
		return refuse(reason, "empty path", -EINVAL);
	if (memchr(path, '\0', len))
		return refuse(reason, "NUL byte in path", -EINVAL);
	if (len > PATH_MAX - 1)
		return refuse(reason, "path too long", -ENAMETOOLONG);
	if (path[0] == '/')
		return refuse(reason, "absolute path", -EINVAL);
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t n = j - i;
		if (n == 2 && path[i] == '.' && path[i + 1] == '.')
			return refuse(reason, "\"..\" component", -EINVAL);
		if (n > NAME_MAX)
			return refuse(reason, "path component too long", -ENAMETOOLONG);
		if (n > 0 && !(n == 1 && path[i] == '.')) {
			if (o + (o > 0) + n + 1 > outsz)
				return refuse(reason, "path too long", -ENAMETOOLONG);
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, path + i, n);
			o += n;
		}
		i = j + 1;
	}
	if (outsz == 0)
		return refuse(reason, "path too long", -ENAMETOOLONG);
	out[o] = '\0';
	return 0;
}
