/* ocic ctr logs: read the container's CRI log file (its path from
 * ContainerStatus), join P records into their lines and write the stdout
 * lines to our stdout and the stderr ones to our stderr. --tail keeps the
 * last N lines; -f follows the file (inotify on its directory, so a log
 * rotated by ReopenContainerLog, renamed and created anew, is followed into
 * the new file) until the container is no longer running. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "crilog.h"
#include "ocic.h"

/* A joined line longer than this is printed in pieces. */
#define LOG_LINE_MAX (1u << 20)
/* Read buffer; a record is at most MON_LOG_LINE_MAX plus its header, a
 * longer line (not written by ocimon) is fed in pieces of this size. */
#define READ_MAX (4 * MON_LOG_LINE_MAX)
/* With -f: how often ContainerStatus is asked whether it still runs. */
#define STATUS_POLL_MS 1000
/* With -f and no inotify: how often the file is looked at. */
#define READ_POLL_MS 250

struct logs {
	bool timestamps;
	/* --tail: lines are kept here until the first end of the file. */
	bool tailing;
	struct crilog_tail tail;
	/* The file being read. */
	const char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	char *buf;
	size_t len; /* bytes held: the start of a line not read to its end */
	off_t off;  /* file offset after what was read */
	struct crilog_join join;
};

static void print_line(void *data, const struct crilog_line *l)
{
	const struct logs *lg = data;
	FILE *f = l->stream == MON_STREAM_STDERR ? stderr : stdout;

	/* Both streams to one file (2>&1) keep the order of the log. */
	if (f == stderr)
		(void)fflush(stdout);
	if (lg->timestamps && !l->continued && !l->malformed)
		fprintf(f, "%.*s ", (int)l->time_len, l->time);
	(void)fwrite(l->text, 1, l->len, f);
	if (l->end)
		fputc('\n', f);
}

/* Print what --tail kept and print lines as they come from now on. */
static void tail_release(struct logs *lg)
{
	crilog_tail_release(&lg->tail, print_line, lg);
	lg->tailing = false;
}

static void on_line(void *data, const struct crilog_line *l)
{
	struct logs *lg = data;

	if (lg->tailing)
		crilog_tail_push(&lg->tail, l);
	else
		print_line(lg, l);
}

static int open_log(struct logs *lg)
{
	struct stat st;
	int fd = open(lg->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return ocic_fail("cannot open the log '%s': %s", lg->path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		(void)close(fd);
		return ocic_fail("cannot stat the log '%s': %s", lg->path, strerror(errno));
	}
	if (lg->fd >= 0)
		(void)close(lg->fd);
	lg->fd = fd;
	lg->dev = st.st_dev;
	lg->ino = st.st_ino;
	lg->len = 0;
	lg->off = 0;
	return 0;
}

/* Feed the complete lines held in the buffer; keep the unfinished rest. A
 * full buffer without a newline is fed as a line of its own. */
static void feed_lines(struct logs *lg)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(lg->buf + start, '\n', lg->len - start))) {
		crilog_join_feed(&lg->join, lg->buf + start, (size_t)(nl - (lg->buf + start)));
		start = (size_t)(nl - lg->buf) + 1;
	}
	if (start == 0 && lg->len == READ_MAX) {
		crilog_join_feed(&lg->join, lg->buf, lg->len);
		start = lg->len;
	}
	memmove(lg->buf, lg->buf + start, lg->len - start);
	lg->len -= start;
}

/* Read the file to its current end. A file now shorter than what was read
 * was truncated (copytruncate rotation): it is read again from the start. */
static int read_log(struct logs *lg)
{
	struct stat st;

	if (fstat(lg->fd, &st) == 0 && st.st_size < lg->off) {
		(void)lseek(lg->fd, 0, SEEK_SET);
		lg->off = 0;
		lg->len = 0;
	}
	for (;;) {
		ssize_t n = read(lg->fd, lg->buf + lg->len, READ_MAX - lg->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ocic_fail("cannot read the log '%s': %s", lg->path, strerror(errno));
		if (n == 0)
			break;
		lg->len += (size_t)n;
		lg->off += n;
		feed_lines(lg);
	}
	(void)fflush(stdout);
	(void)fflush(stderr);
	return 0;
}

/* The rest of a file that ends without a newline is a line too. */
static void feed_rest(struct logs *lg)
{
	if (lg->len)
		crilog_join_feed(&lg->join, lg->buf, lg->len);
	lg->len = 0;
}

/* Whether the path now names another file (the log was rotated): then the
 * old one is read to its end and the new one opened. Returns 1 when it
 * moved on, 0 when not, or an exit code after a failure. */
static int follow_rotation(struct logs *lg)
{
	struct stat st;
	int r;

	if (stat(lg->path, &st) < 0 || (st.st_dev == lg->dev && st.st_ino == lg->ino))
		return 0; /* not there (between rename and create): the old one still */
	r = read_log(lg);
	if (r != 0)
		return -r;
	feed_rest(lg);
	r = open_log(lg);
	return r != 0 ? -r : 1;
}

/* ContainerStatus of `id`: 0 with *ret, or an exit code (printed). */
static int container_status(const char *id, Runtime__V1__ContainerStatusResponse **ret)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	int r;

	req.container_id = (char *)id;
	r = ocic_call(OCIC_RUNTIME_SERVICE "ContainerStatus", &req.base,
		      &runtime__v1__container_status_response__descriptor,
		      (ProtobufCMessage **)ret);
	if (r == 0 && !(*ret)->status) {
		protobuf_c_message_free_unpacked(&(*ret)->base, NULL);
		return ocic_fail("ContainerStatus of %s has no status", id);
	}
	return r;
}

/* Whether the container may still write: 1 yes, 0 no, or -(exit code). */
static int still_running(const char *id)
{
	Runtime__V1__ContainerStatusResponse *resp;
	int r = container_status(id, &resp);

	if (r != 0)
		return -r;
	r = resp->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING ||
	    resp->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

/* A watch on the log's directory: writes, creates and renames there wake
 * the follower. -1 when inotify is not to be had (then it polls). */
static int watch_dir(const char *path)
{
	cleanup_free char *copy = xstrdup(path);
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (fd >= 0 && inotify_add_watch(fd, dirname(copy),
					 IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
					     IN_DELETE | IN_CLOSE_WRITE) < 0) {
		(void)close(fd);
		fd = -1;
	}
	return fd;
}

static void wait_for_change(int ifd, uint64_t ms)
{
	struct pollfd p = { .fd = ifd, .events = POLLIN };
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (ifd < 0) {
		(void)poll(NULL, 0, (int)(ms < READ_POLL_MS ? ms : READ_POLL_MS));
		return;
	}
	if (poll(&p, 1, (int)ms) > 0) {
		/* What changed does not matter: the file is read again. */
		while (read(ifd, buf, sizeof(buf)) > 0)
			;
	}
}

/* -f: read, wait for the file to change, read again, until the container
 * is no longer running; then what it wrote last is read too. */
static int follow(struct logs *lg, const char *id)
{
	cleanup_close int ifd = watch_dir(lg->path);
	uint64_t next_status = mono_ms(); /* at once: it may have exited already */
	int r;

	for (;;) {
		r = read_log(lg);
		if (r != 0)
			return r;
		r = follow_rotation(lg);
		if (r < 0)
			return -r;
		if (r == 1)
			continue;
		if (mono_ms() >= next_status) {
			r = still_running(id);
			if (r <= 0)
				break;
			next_status = mono_ms() + STATUS_POLL_MS;
		}
		wait_for_change(ifd, next_status > mono_ms() ? next_status - mono_ms() : 0);
	}
	/* ocimon writes the last records before the exit is known. */
	if (read_log(lg) == 0 && follow_rotation(lg) == 1)
		(void)read_log(lg);
	return r < 0 ? -r : 0;
}

static int parse_tail(const struct ocic_args *a, struct logs *lg)
{
	const char *s = ocic_arg(a, "tail");
	unsigned long long n;
	char *end;

	if (!s)
		return 0;
	/* crictl's --tail -1 means all of it. */
	if (strcmp(s, "-1") == 0)
		return 0;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno)
		return ocic_usage_error(a->cmd, "--tail wants a number of lines, got '%s'", s);
	crilog_tail_init(&lg->tail, n);
	lg->tailing = true;
	return 0;
}

static int logs_of(struct logs *lg, const struct ocic_args *a, const char *id)
{
	int r = open_log(lg);

	if (r != 0)
		return r;
	r = read_log(lg);
	if (r != 0)
		return r;
	if (!ocic_arg_set(a, "follow")) {
		feed_rest(lg);
		crilog_join_flush(&lg->join);
	}
	tail_release(lg);
	if (ocic_arg_set(a, "follow"))
		r = follow(lg, id);
	feed_rest(lg);
	crilog_join_flush(&lg->join);
	return r;
}

static int logs_run(const struct ocic_args *a)
{
	struct logs lg = { .timestamps = ocic_arg_set(a, "timestamps"), .fd = -1 };
	Runtime__V1__ContainerStatusResponse *st;
	int r = parse_tail(a, &lg);

	if (r == 0)
		r = container_status(ocic_arg(a, "id"), &st);
	if (r != 0)
		return r;
	if (str_empty(st->status->log_path)) {
		r = ocic_fail("container %s has no log (its config sets no log_path)",
			      st->status->id);
	} else {
		lg.path = st->status->log_path;
		lg.buf = xmalloc(READ_MAX);
		crilog_join_init(&lg.join, LOG_LINE_MAX, on_line, &lg);
		r = logs_of(&lg, a, st->status->id);
		crilog_join_done(&lg.join);
		crilog_tail_release(&lg.tail, NULL, NULL); /* after a failure */
		free(lg.buf);
		if (lg.fd >= 0)
			(void)close(lg.fd);
	}
	(void)fflush(stdout);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	return r;
}

static const struct ocic_opt logs_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the container id (or unique prefix)" },
	{ "follow", 'f', OCIC_OPT_FLAG, false, NULL,
	  "keep printing new lines until the container is no longer running" },
	{ "tail", 0, OCIC_OPT_STR, false, "N", "only the last N lines (-1: all)" },
	{ "timestamps", 't', OCIC_OPT_FLAG, false, NULL,
	  "put the time a line was written before it" },
	{ 0 },
};

const struct ocic_sub ocic_ctr_logs = {
	.name = "logs",
	.summary = "Print a container's log: its stdout lines on stdout, stderr lines on stderr.",
	.opts = logs_opts,
	.run = logs_run,
};
