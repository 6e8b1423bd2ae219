/* The root and runroot locks: one daemon per root, held for its life. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/ocid/ocid.h"

int ocid_mkdir_p(const char *path, mode_t mode, struct err *err)
{
	cleanup_free char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return err_set(err, -errno, "create directory '%s'", p);
		*s = c;
		if (!c)
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return err_set(err, -errno, "stat '%s'", path);
	if (!S_ISDIR(st.st_mode))
		return err_msg(err, -ENOTDIR, "'%s' is not a directory", path);
	return 0;
}

int ocid_lock_take(const char *dir, int *ret_fd, struct err *err)
{
	cleanup_free char *path = xasprintf("%s/ocid.lock", dir);
	cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return err_set(err, -errno, "open lock '%s'", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return err_set(err, -errno, "lock '%s'", path);
		char buf[32] = "";
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		long pid = strtol(buf, NULL, 10);
		if (pid > 0)
			return err_msg(
			    err, -EBUSY,
			    "another ocid (pid %ld) holds %s; only one daemon may use a root", pid,
			    path);
		return err_msg(err, -EBUSY, "another ocid holds %s; only one daemon may use a root",
			       path);
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		return err_set(err, -errno, "write pid to '%s'", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}
