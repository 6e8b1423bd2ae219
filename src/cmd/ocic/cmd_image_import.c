/* ocic image import PATH [--tag NAME]: POST the archive to /images/import
 * on the daemon's socket and follow the JSON lines it answers. A directory
 * (an OCI image layout) is first written as a tar into an anonymous
 * temporary file, since the upload needs a Content-Length. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "ocic.h"

#define IO_BUF (64u * 1024u)
#define LINE_MAX_BYTES (1u << 20)
#define UPLOAD_STEP (4u << 20) /* bytes per sendfile, between progress updates */

/* Append one file or directory of the layout to the tar. */
static int tar_add(struct archive *a, const FTSENT *f, size_t root_len, struct err *err)
{
	const char *rel = f->fts_path + root_len;
	while (*rel == '/')
		rel++;
	if (!*rel)
		return 0;
	if (f->fts_info != FTS_F && f->fts_info != FTS_D)
		return err_msg(err, -EINVAL, "'%s': only files and directories belong in a layout",
			       f->fts_path);
	struct archive_entry *e = archive_entry_new();
	archive_entry_copy_stat(e, f->fts_statp);
	archive_entry_set_pathname(e, rel);
	int r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
	archive_entry_free(e);
	if (r < 0 || f->fts_info != FTS_F)
		return r < 0 ? err_msg(err, r, "tar: %s", archive_error_string(a)) : 0;
	cleanup_close int fd = open(f->fts_accpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_set(err, -errno, "open '%s'", f->fts_path);
	cleanup_free char *buf = xmalloc(IO_BUF);
	ssize_t n;
	while ((n = read(fd, buf, IO_BUF)) > 0)
		if (archive_write_data(a, buf, (size_t)n) != n)
			return err_msg(err, -EIO, "tar: %s", archive_error_string(a));
	return n < 0 ? err_set(err, -errno, "read '%s'", f->fts_path) : 0;
}

/* A tar of directory `dir` in an anonymous temporary file (fd returned). */
static int tar_dir(const char *dir, struct err *err)
{
	const char *tmp = getenv("TMPDIR");
	tmp = tmp && *tmp ? tmp : "/var/tmp";
	cleanup_close int fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		/* no O_TMPFILE on that file system: a named file, unlinked at once */
		cleanup_free char *name = xasprintf("%s/ocic-import-XXXXXX", tmp);
		fd = mkostemp(name, O_CLOEXEC);
		if (fd >= 0)
			(void)unlink(name);
	}
	if (fd < 0)
		return err_set(err, -errno, "create a temporary file in '%s'", tmp);
	struct archive *a = archive_write_new();
	(void)archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		archive_write_free(a);
		return err_msg(err, -EIO, "tar: cannot start");
	}
	char *paths[] = { (char *)dir, NULL };
	/* COMFOLLOW: PATH itself may be a symlink to the layout; nothing under it is followed. */
	FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_COMFOLLOW | FTS_NOCHDIR, NULL);
	int r = fts ? 0 : err_set(err, -errno, "walk '%s'", dir);
	FTSENT *f;
	while (r >= 0 && (f = fts_read(fts)))
		if (f->fts_info != FTS_DP)
			r = tar_add(a, f, strlen(dir), err);
	if (fts)
		fts_close(fts);
	if (archive_write_close(a) != ARCHIVE_OK && r >= 0)
		r = err_msg(err, -EIO, "tar: %s", archive_error_string(a));
	archive_write_free(a);
	return r < 0 ? r : TAKE_FD(fd);
}

/* The response: head, then a chunked (or plain) body cut into lines. */
struct resp {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
};

static int fill(struct resp *r)
{
	if (r->eof)
		return 0;
	if (r->cap - r->len < IO_BUF) {
		r->cap = r->len + 2 * IO_BUF;
		r->buf = xrealloc(r->buf, r->cap);
	}
	ssize_t n;
	do
		n = read(r->fd, r->buf + r->len, r->cap - r->len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		r->eof = true;
	r->len += (size_t)n;
	r->buf[r->len] = '\0';
	return (int)n;
}

static void consume(struct resp *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

/* Bytes [0, *ret_n) of the next line (without CRLF), waiting for it. */
static int next_line(struct resp *r, size_t *ret_n, size_t *ret_skip)
{
	for (;;) {
		char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - r->buf);
			*ret_skip = n + 1;
			*ret_n = n && r->buf[n - 1] == '\r' ? n - 1 : n;
			return 1;
		}
		if (r->len > LINE_MAX_BYTES)
			return -EMSGSIZE;
		int k = fill(r);
		if (k < 0)
			return k;
		if (k == 0)
			return 0;
	}
}

/* The decoded body, one chunk at a time, appended to `body`. */
static int read_body(struct resp *r, bool chunked, char **body, size_t *body_len)
{
	size_t n, skip;
	int k;
	if (!chunked) {
		while ((k = fill(r)) > 0)
			;
		*body = xmemdup(r->buf, r->len + 1);
		*body_len = r->len;
		return k;
	}
	for (;;) {
		if ((k = next_line(r, &n, &skip)) <= 0)
			return k < 0 ? k : -EPROTO;
		unsigned long size = strtoul(r->buf, NULL, 16);
		consume(r, skip);
		if (size == 0)
			return 0;
		while (r->len < size + 2)
			if ((k = fill(r)) <= 0)
				return k < 0 ? k : -EPROTO;
		*body = xrealloc(*body, *body_len + size + 1);
		memcpy(*body + *body_len, r->buf, size);
		*body_len += size;
		(*body)[*body_len] = '\0';
		consume(r, size + 2);
		return 1;
	}
}

/* Head of the response: the status, whether the body is chunked. */
static int read_head(struct resp *r, int *ret_status, bool *ret_chunked)
{
	size_t n, skip;
	int k = next_line(r, &n, &skip);
	if (k <= 0 || sscanf(r->buf, "HTTP/1.%*d %d", ret_status) != 1)
		return k < 0 ? k : -EPROTO;
	consume(r, skip);
	*ret_chunked = false;
	while ((k = next_line(r, &n, &skip)) > 0 && n > 0) {
		r->buf[n] = '\0';
		if (strncasecmp(r->buf, "transfer-encoding:", 18) == 0 &&
		    strcasestr(r->buf, "chunked"))
			*ret_chunked = true;
		consume(r, skip);
	}
	if (k <= 0)
		return k < 0 ? k : -EPROTO;
	consume(r, skip);
	return 0;
}

static char *query_escape(const char *s)
{
	char *out = xmalloc(3 * strlen(s) + 1), *p = out;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("._~:/@-", c))
			*p++ = (char)c;
		else
			p += sprintf(p, "%%%02X", c);
	}
	*p = '\0';
	return out;
}

static int send_upload(int sock, int fd, const char *tag, struct err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_set(err, -errno, "stat the archive");
	cleanup_free char *q = tag ? query_escape(tag) : NULL;
	cleanup_free char *head = xasprintf(
	    "POST /images/import%s%s HTTP/1.1\r\nHost: ocid\r\nContent-Type: application/x-tar\r\n"
	    "Content-Length: %lld\r\nConnection: close\r\n\r\n",
	    q ? "?tag=" : "", q ? q : "", (long long)st.st_size);
	if (fs_write_all(sock, head, strlen(head)) < 0)
		return err_set(err, -errno, "send the request");
	off_t off = 0;
	bool tty = arg_output == OCIC_OUTPUT_TABLE && isatty(STDOUT_FILENO);
	char total[32], done[32];
	ocic_size_str((uint64_t)st.st_size, total, sizeof(total));
	while (off < st.st_size) {
		size_t want = (size_t)(st.st_size - off);
		ssize_t n = sendfile(sock, fd, &off, want < UPLOAD_STEP ? want : UPLOAD_STEP);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			break; /* the daemon answered early: read why */
		if (n <= 0)
			return err_set(err, n < 0 ? -errno : -EIO, "send the archive");
		if (tty) {
			printf("\r\033[2Kuploading %s/%s",
			       ocic_size_str((uint64_t)off, done, sizeof(done)), total);
			fflush(stdout);
		}
	}
	if (tty)
		printf("\r\033[2K");
	return 0;
}

struct import_out {
	json_t *last;
};

static void on_line(struct import_out *o, const char *line, size_t n)
{
	json_t *j = NULL;
	/* a progress line that is no JSON shows nothing; the final reply decides */
	if (js_load("progress", line, n, SIZE_MAX, &j, NULL) < 0)
		return;
	if (arg_output == OCIC_OUTPUT_JSON) {
		fwrite(line, 1, n, stdout);
		fputc('\n', stdout);
	} else if (json_object_get(j, "done")) {
		/* bytes of a big layer: only worth a line on a terminal */
		if (isatty(STDOUT_FILENO)) {
			char done[32];
			ocic_size_str((uint64_t)json_integer_value(json_object_get(j, "done")),
				      done, sizeof(done));
			printf("\r\033[2K  %s...", done);
		}
	} else if (json_object_get(j, "state")) {
		const char *d = json_string_value(json_object_get(j, "digest"));
		const char *hex = d ? strchr(d, ':') : NULL;
		char size[32];
		ocic_size_str((uint64_t)json_integer_value(json_object_get(j, "size")), size,
			      sizeof(size));
		printf("%slayer %.12s %s %s\n", isatty(STDOUT_FILENO) ? "\r\033[2K" : "",
		       hex ? hex + 1 : "?", json_string_value(json_object_get(j, "state")), size);
	}
	fflush(stdout);
	json_decref(o->last);
	o->last = j;
}

/* Lines of the body as they arrive. */
static int follow(struct resp *r, bool chunked, struct import_out *o)
{
	cleanup_free char *body = NULL;
	size_t len = 0, used = 0;
	int k;
	do {
		k = read_body(r, chunked, &body, &len);
		char *nl;
		while (body && (nl = memchr(body + used, '\n', len - used))) {
			on_line(o, body + used, (size_t)(nl - body - used));
			used = (size_t)(nl - body) + 1;
		}
	} while (k > 0);
	if (used < len)
		on_line(o, body + used, len - used);
	return k;
}

static int report(int status, const json_t *last)
{
	const char *msg = json_string_value(json_object_get(last, "error"));
	if (status < 200 || status > 299 || msg || !json_object_get(last, "id"))
		return ocic_fail("import failed: %s%s", status > 299 ? "HTTP error: " : "",
				 msg ? msg : "no result from the daemon");
	if (arg_output == OCIC_OUTPUT_JSON)
		return 0;
	size_t i;
	const json_t *im;
	json_array_foreach(json_object_get(last, "images"), i, im)
	{
		const json_t *tags = json_object_get(im, "repo_tags");
		size_t k;
		const json_t *t;
		printf("%s", json_string_value(json_object_get(im, "id")));
		json_array_foreach(tags, k, t) printf("%s%s", k ? "," : "  ", json_string_value(t));
		printf("\n");
	}
	return 0;
}

static int import_run(const struct ocic_args *a)
{
	const char *path = a->operands[0];
	cleanup_err struct err err = ERR_INIT;
	struct stat st;
	if (stat(path, &st) < 0)
		return ocic_fail("%s: %s", path, strerror(errno));
	cleanup_close int fd =
	    S_ISDIR(st.st_mode) ? tar_dir(path, &err) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ocic_fail("%s: %s", path, err.msg ? err_str(&err) : strerror(errno));
	cleanup_close int sock = rpc_client_dial(ocic_socket_path(), &err);
	if (sock < 0)
		return ocic_fail("%s (is ocid running?)", err_str(&err));
	(void)fs_fd_set_nonblock(sock, false);
	signal(SIGPIPE, SIG_IGN);
	if (send_upload(sock, fd, ocic_arg(a, "tag"), &err) < 0)
		return ocic_fail("%s", err_str(&err));
	struct resp r = { .fd = sock };
	struct import_out o = { 0 };
	int status = 0;
	bool chunked = false;
	int k = read_head(&r, &status, &chunked);
	if (k >= 0)
		k = follow(&r, chunked, &o);
	free(r.buf);
	int rc = k < 0 && !o.last ? ocic_fail("reading the daemon's answer: %s", strerror(-k))
				  : report(status, o.last);
	json_decref(o.last);
	return rc;
}

static const struct ocic_opt import_opts[] = {
	{ "tag", 't', OCIC_OPT_STR, false, "NAME", "also name the (first) image NAME" },
	{ 0 },
};

const struct ocic_sub ocic_image_import = {
	.name = "import",
	.summary = "Import an OCI layout directory, an oci-archive or a docker-save tar.",
	.opts = import_opts,
	.operands = "PATH",
	.min_operands = 1,
	.max_operands = 1,
	.run = import_run,
};
