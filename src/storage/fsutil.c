/* File system helpers private to storage (the rest is in base/fs.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fs.h"
#include "storage/storage_int.h"

int fsu_rm_contents(int dirfd)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	rewinddir(d);
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = fs_rm_rf_at(dirfd, de->d_name, NULL);
		if (r < 0 && ret == 0)
			ret = r;
	}
	closedir(d);
	return ret;
}

int fsu_random_name(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t rnd[64];

	if (n > sizeof(rnd))
		return -EINVAL;
	if (getrandom(rnd, n, 0) != (ssize_t)n)
		return -EIO;
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rnd[i] & 31];
	out[n] = '\0';
	return 0;
}
