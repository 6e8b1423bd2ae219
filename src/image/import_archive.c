/* Reading an import archive: one scan checks and lists every entry, then
 * each file is found again by name (libarchive skips by seeking). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "image/import_int.h"
#include "storage/storage.h"

#define READ_BLOCK (256u * 1024u)

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct imp_entry *)a)->name, ((const struct imp_entry *)b)->name);
}

static int ar_fail(struct archive *a, const char *what, struct err *err)
{
	const char *m = archive_error_string(a);
	int e = archive_errno(a);
	return err_msg(err, e == ENOMEM ? -ENOMEM : -EINVAL, "%s: %s", what,
		       m ? m : "unreadable archive");
}

static int ar_open(struct imp_archive *ia, struct archive **ret, struct err *err)
{
	if (lseek(ia->fd, 0, SEEK_SET) < 0)
		return err_set(err, -errno, "seek import file");
	struct archive *a = archive_read_new();
	if (!a)
		abort();
	(void)archive_read_support_format_tar(a);
	(void)archive_read_support_filter_gzip(a);
	(void)archive_read_support_filter_zstd(a);
	if (archive_read_open_fd(a, ia->fd, READ_BLOCK) != ARCHIVE_OK) {
		int r = ar_fail(a, "archive", err);
		archive_read_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

/* The cleaned name of entry `e`, or -EINVAL when it could leave the archive. */
static int entry_name(struct archive_entry *e, char *buf, size_t size, struct err *err)
{
	const char *p = archive_entry_pathname(e);
	const char *reason = NULL;
	if (!p)
		return err_msg(err, -EINVAL, "archive entry without a name");
	if (storage_tar_path_clean(p, strlen(p), buf, size, &reason) < 0)
		return err_msg(err, -EINVAL, "archive entry '%s' refused: %s", p,
			       reason ? reason : "name too long");
	return 0;
}

static int scan_entry(struct imp_archive *ia, struct archive_entry *e, struct err *err)
{
	char name[PATH_MAX];
	int r = entry_name(e, name, sizeof(name), err);
	if (r < 0)
		return r;
	mode_t type = archive_entry_filetype(e);
	if (type == AE_IFDIR)
		return 0;
	if (type != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e))
		return err_msg(err, -EINVAL,
			       "archive entry '%s' refused: only files and directories are allowed",
			       name);
	if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
		return err_msg(err, -EINVAL, "archive entry '%s' has no size", name);
	if (ia->n >= IMAGE_IMPORT_ENTRIES_MAX)
		return err_msg(err, -EFBIG, "archive has more than %d entries",
			       IMAGE_IMPORT_ENTRIES_MAX);
	if (ia->n % 64 == 0)
		ia->v = xreallocarray(ia->v, ia->n + 64, sizeof(*ia->v));
	ia->v[ia->n++] = (struct imp_entry){ xstrdup(name), archive_entry_size(e) };
	return 0;
}

int imp_archive_scan(int fd, struct imp_archive *ia, struct err *err)
{
	*ia = (struct imp_archive){ .fd = fd };
	struct archive *a = NULL;
	int r = ar_open(ia, &a, err);
	if (r < 0)
		return r;
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = ar_fail(a, "archive", err);
			break;
		}
		r = scan_entry(ia, e, err);
		if (r < 0)
			break;
	}
	archive_read_free(a);
	if (r < 0)
		return r;
	if (ia->n == 0)
		return err_msg(err, -EINVAL, "archive holds no files");
	qsort(ia->v, ia->n, sizeof(*ia->v), cmp_entry);
	for (size_t i = 1; i < ia->n; i++)
		if (strcmp(ia->v[i - 1].name, ia->v[i].name) == 0)
			return err_msg(err, -EINVAL, "archive entry '%s' appears twice",
				       ia->v[i].name);
	return 0;
}

void imp_archive_done(struct imp_archive *ia)
{
	for (size_t i = 0; i < ia->n; i++)
		free(ia->v[i].name);
	free(ia->v);
	*ia = (struct imp_archive){ .fd = -1 };
}

const struct imp_entry *imp_archive_find(const struct imp_archive *ia, const char *name)
{
	struct imp_entry key = { (char *)name, 0 };
	return bsearch(&key, ia->v, ia->n, sizeof(*ia->v), cmp_entry);
}

int imp_entry_open(struct imp_archive *ia, const char *name, struct archive **ret, struct err *err)
{
	if (!imp_archive_find(ia, name))
		return err_msg(err, -EINVAL, "archive has no file '%s'", name);
	struct archive *a = NULL;
	int r = ar_open(ia, &a, err);
	if (r < 0)
		return r;
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF) {
			r = err_msg(err, -EINVAL, "archive changed: '%s' is gone", name);
			break;
		}
		if (ar < ARCHIVE_WARN) {
			r = ar_fail(a, "archive", err);
			break;
		}
		char buf[PATH_MAX];
		r = entry_name(e, buf, sizeof(buf), err);
		if (r < 0)
			break;
		if (archive_entry_filetype(e) == AE_IFREG && strcmp(buf, name) == 0) {
			*ret = a;
			return 0;
		}
	}
	archive_read_free(a);
	return r;
}

int imp_entry_read(struct imp_archive *ia, const char *name, size_t max, char **ret,
		   size_t *ret_len, struct err *err)
{
	const struct imp_entry *ent = imp_archive_find(ia, name);
	if (!ent)
		return err_msg(err, -EINVAL, "archive has no file '%s'", name);
	if ((uint64_t)ent->size > max)
		return err_msg(err, -EFBIG, "'%s' is larger than %zu bytes", name, max);
	struct archive *a = NULL;
	int r = imp_entry_open(ia, name, &a, err);
	if (r < 0)
		return r;
	size_t size = (size_t)ent->size, got = 0;
	cleanup_free char *buf = xmalloc(size + 1);
	while (got <= size) {
		/* Ask for one byte more than declared to catch a lying header. */
		la_ssize_t n = archive_read_data(a, buf + got, size + 1 - got);
		if (n < 0) {
			r = ar_fail(a, name, err);
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	archive_read_free(a);
	if (r < 0)
		return r;
	if (got != size)
		return err_msg(err, -EINVAL, "'%s': %zu bytes instead of %zu", name, got, size);
	buf[size] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = size;
	return 0;
}

ssize_t imp_entry_read_fn(void *opaque, void *buf, size_t len)
{
	la_ssize_t n = archive_read_data(opaque, buf, len);
	return n < 0 ? -EIO : (ssize_t)n;
}
