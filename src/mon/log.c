/* The CRI log writer: "<RFC3339Nano> <stream> <P|F> <content>\n" records.
 *
 * Each stream has one MON_LOG_LINE_MAX buffer holding the unfinished line.
 * A record is written with one writev(2) on an O_APPEND fd, so records are
 * never interleaved with each other (or with another writer of the file). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "base/clock.h"
#include "mon/mon.h"

struct mon_log {
	int fd;
	char *path;
	size_t len[2];
	char buf[2][MON_LOG_LINE_MAX];
};

static const char *const stream_name[2] = { "stdout", "stderr" };

int mon_log_timestamp(int64_t ns, char *buf, size_t size)
{
	time_t sec = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	struct tm tm;
	if (size < 36 || !gmtime_r(&sec, &tm))
		return -EINVAL;
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	int m = snprintf(buf + n, size - n, ".%09ldZ", frac);
	return (int)n + m;
}

static int open_log(const char *path, struct err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return err_set(err, -errno, "open log '%s'", path);
	return fd;
}

int mon_log_open(const char *path, struct mon_log **ret, struct err *err)
{
	int fd = open_log(path, err);
	if (fd < 0)
		return fd;
	struct mon_log *l = xmalloc(sizeof(*l));
	l->fd = fd;
	l->path = xstrdup(path);
	l->len[0] = l->len[1] = 0;
	*ret = l;
	return 0;
}

/* One record: header, content, newline in a single writev. */
static int write_record(struct mon_log *l, enum mon_stream s, bool partial, const char *data,
			size_t len, struct err *err)
{
	char hdr[64];
	int n = mon_log_timestamp(wall_ns(), hdr, sizeof(hdr));
	n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, " %s %c ", stream_name[s],
		      partial ? 'P' : 'F');
	struct iovec iov[3] = {
		{ .iov_base = hdr, .iov_len = (size_t)n },
		{ .iov_base = (void *)data, .iov_len = len },
		{ .iov_base = (void *)"\n", .iov_len = 1 },
	};
	size_t total = (size_t)n + len + 1;
	ssize_t w;
	do
		w = writev(l->fd, iov, 3);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return err_set(err, -errno, "write log '%s'", l->path);
	/* A short write to a regular file means the disk is full; the rest
	 * of the record is lost rather than written as a separate fragment
	 * that could land between someone else's records. */
	if ((size_t)w != total)
		return err_msg(err, -ENOSPC, "write log '%s': short write", l->path);
	return 0;
}

int mon_log_write(struct mon_log *l, enum mon_stream s, const char *data, size_t len,
		  struct err *err)
{
	int r = 0;
	char *buf = l->buf[s];
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		size_t room = MON_LOG_LINE_MAX - l->len[s];
		if (take > room) {
			/* The line is longer than the buffer: one P record of
			 * exactly MON_LOG_LINE_MAX content bytes. A line of
			 * exactly that length waits for its newline and ends
			 * as one F record. */
			memcpy(buf + l->len[s], data, room);
			int k = write_record(l, s, true, buf, MON_LOG_LINE_MAX, err);
			r = r < 0 ? r : k;
			l->len[s] = 0;
			data += room;
			len -= room;
			continue;
		}
		if (!nl) {
			memcpy(buf + l->len[s], data, take);
			l->len[s] += take;
			break;
		}
		int k;
		if (l->len[s] == 0) {
			k = write_record(l, s, false, data, take, err);
		} else {
			memcpy(buf + l->len[s], data, take);
			k = write_record(l, s, false, buf, l->len[s] + take, err);
			l->len[s] = 0;
		}
		r = r < 0 ? r : k;
		data += take + 1;
		len -= take + 1;
	}
	return r;
}

static int flush(struct mon_log *l, enum mon_stream s, bool partial, struct err *err)
{
	if (l->len[s] == 0)
		return 0;
	size_t n = l->len[s];
	l->len[s] = 0;
	return write_record(l, s, partial, l->buf[s], n, err);
}

int mon_log_flush(struct mon_log *l, enum mon_stream s, struct err *err)
{
	return flush(l, s, false, err);
}

int mon_log_flush_partial(struct mon_log *l, enum mon_stream s, struct err *err)
{
	return flush(l, s, true, err);
}

size_t mon_log_pending(const struct mon_log *l, enum mon_stream s)
{
	return l->len[s];
}

int mon_log_reopen(struct mon_log *l, struct err *err)
{
	int fd = open_log(l->path, err);
	if (fd < 0)
		return fd;
	(void)close(l->fd);
	l->fd = fd;
	return 0;
}

void mon_log_free(struct mon_log *l)
{
	if (!l)
		return;
	(void)mon_log_flush(l, MON_STREAM_STDOUT, NULL);
	(void)mon_log_flush(l, MON_STREAM_STDERR, NULL);
	(void)close(l->fd);
	free(l->path);
	free(l);
}
