/* The exit file: written once by ocimon, atomically; read by ocid (also
 * after a restart), so the parser trusts nothing about its content. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/fs.h"
#include "mon/mon.h"

#define EXIT_MAGIC "ocimon-exit"
#define EXIT_VERSION 1

int mon_exit_format(const struct mon_exit *e, char *buf, size_t size)
{
	int n = snprintf(buf, size,
			 EXIT_MAGIC " %d\nexit_code %" PRId32 "\nsignal %" PRId32
				    "\noom %d\nfinished_ns %" PRId64 "\n",
			 EXIT_VERSION, e->exit_code, e->signal, e->oom ? 1 : 0, e->finished_ns);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return n;
}

/* Parse a decimal number in [min, max] from s[0..len), digits only (a
 * leading '-' when min < 0). */
static int parse_num(const char *s, size_t len, int64_t min, int64_t max, int64_t *ret)
{
	bool neg = len > 0 && s[0] == '-' && min < 0;
	size_t i = neg ? 1 : 0;
	if (i == len || len - i > 19)
		return -EBADMSG;
	uint64_t v = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return -EBADMSG;
	int64_t x = neg ? -(int64_t)v : (int64_t)v;
	if (x < min || x > max)
		return -EBADMSG;
	*ret = x;
	return 0;
}

static const struct {
	const char *key;
	int64_t min, max;
} exit_keys[] = {
	{ EXIT_MAGIC, EXIT_VERSION, EXIT_VERSION },
	{ "exit_code", 0, 255 },
	{ "signal", 0, 64 },
	{ "oom", 0, 1 },
	{ "finished_ns", 0, INT64_MAX },
};

int mon_exit_parse(const char *buf, size_t len, struct mon_exit *ret, struct err *err)
{
	if (len > MON_EXIT_MAX_SIZE)
		return err_msg(err, -EBADMSG, "exit file: %zu bytes, more than %d", len,
			       MON_EXIT_MAX_SIZE);
	int64_t v[ARRAY_SIZE(exit_keys)];
	size_t pos = 0;
	for (size_t k = 0; k < ARRAY_SIZE(exit_keys); k++) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		if (!nl)
			return err_msg(err, -EBADMSG,
				       "exit file: line %zu: missing or unterminated", k + 1);
		size_t ll = (size_t)(nl - line);
		size_t kl = strlen(exit_keys[k].key);
		if (ll <= kl + 1 || memcmp(line, exit_keys[k].key, kl) != 0 || line[kl] != ' ')
			return err_msg(err, -EBADMSG, "exit file: line %zu: expected '%s <number>'",
				       k + 1, exit_keys[k].key);
		if (parse_num(line + kl + 1, ll - kl - 1, exit_keys[k].min, exit_keys[k].max,
			      &v[k]) < 0)
			return err_msg(err, -EBADMSG, "exit file: line %zu: bad value for '%s'",
				       k + 1, exit_keys[k].key);
		pos += ll + 1;
	}
	if (pos != len)
		return err_msg(err, -EBADMSG, "exit file: trailing data after line %zu",
			       ARRAY_SIZE(exit_keys));
	ret->exit_code = (int32_t)v[1];
	ret->signal = (int32_t)v[2];
	ret->oom = v[3] == 1;
	ret->finished_ns = v[4];
	return 0;
}

int mon_exit_write(const char *path, const struct mon_exit *e, struct err *err)
{
	char buf[MON_EXIT_MAX_SIZE];
	int n = mon_exit_format(e, buf, sizeof(buf));
	if (n < 0)
		return err_msg(err, n, "format exit file");
	return fs_write_file_atomic(AT_FDCWD, path, buf, (size_t)n, 0644, FS_WRITE_FSYNC, err);
}

int mon_read_exit(const char *path, struct mon_exit *ret, struct err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_set(err, -errno, "open exit file '%s'", path);
	char buf[MON_EXIT_MAX_SIZE + 1];
	size_t len = 0;
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(err, -errno, "read exit file '%s'", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	int r = mon_exit_parse(buf, len, ret, err);
	if (r < 0)
		return err_wrap(err, "'%s'", path);
	return 0;
}
