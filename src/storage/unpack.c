/* The streamed unpack pipeline:
 *   read fn -> sha256 (digest) -> decompress -> sha256 (diffID) -> libarchive (tar only) -> writer
 * The whole stream is consumed, including what follows the end-of-archive
 * marker, so both digests cover every byte. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "storage/storage_int.h"

#define TAR_BUF (128 * 1024)

struct pipeline {
	struct hsrc src;
	struct decomp *dec;
	EVP_MD_CTX *diff_md;
	uint8_t *buf;
	struct err err; /* first error of the stream stages */
};

static ssize_t pipe_read(struct pipeline *p, void *buf, size_t len)
{
	ssize_t n = decomp_read(p->dec, buf, len, &p->err);
	if (n > 0)
		(void)EVP_DigestUpdate(p->diff_md, buf, (size_t)n);
	return n;
}

static la_ssize_t tar_read_cb(struct archive *a, void *opaque, const void **buf)
{
	struct pipeline *p = opaque;
	ssize_t n = pipe_read(p, p->buf, TAR_BUF);
	if (n < 0) {
		archive_set_error(a, EIO, "%s", err_str(&p->err));
		return -1;
	}
	*buf = p->buf;
	return n;
}

static int drain(struct pipeline *p, struct err *err)
{
	ssize_t n;
	while ((n = pipe_read(p, p->buf, TAR_BUF)) > 0)
		;
	return n < 0 ? err_move(err, &p->err) : 0;
}

static int archive_fail(struct pipeline *p, struct archive *a, struct err *err)
{
	if (p->err.code < 0)
		return err_move(err, &p->err);
	const char *s = archive_error_string(a);
	return err_msg(err, -EINVAL, "invalid tar stream: %s", s ? s : "unknown error");
}

static int read_entries(struct pipeline *p, int rootfd, struct err *err)
{
	struct archive *a = archive_read_new();
	struct writer *w = NULL;
	int r;

	if (!a)
		abort();
	(void)archive_read_support_format_tar(a);
	(void)writer_new(rootfd, &w);
	if (archive_read_open(a, p, NULL, tar_read_cb, NULL) != ARCHIVE_OK) {
		r = archive_fail(p, a, err);
		goto out;
	}
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = archive_fail(p, a, err);
			goto out;
		}
		r = writer_entry(w, a, e, err);
		if (r < 0) {
			if (p->err.code < 0)
				(void)err_move(err, &p->err);
			goto out;
		}
	}
	r = writer_finish(w, err);
out:
	writer_free(w);
	archive_read_free(a);
	return r;
}

int unpack_stream(int rootfd, storage_read_fn fn, void *opaque, int64_t limit, bool no_isal,
		  struct unpack_result *res, struct err *err)
{
	struct pipeline p = { .err = ERR_INIT };
	int r = hsrc_init(&p.src, fn, opaque, limit, err);
	if (r < 0)
		return r;
	p.diff_md = md_new();
	p.buf = xmalloc(TAR_BUF);
	r = decomp_new(&p.src, no_isal, &p.dec, err);
	if (r >= 0) {
		res->kind = decomp_kind(p.dec);
		r = read_entries(&p, rootfd, err);
	}
	if (r >= 0)
		r = drain(&p, err);
	res->size = p.src.total;
	hsrc_done(&p.src, res->digest);
	md_final_hex(p.diff_md, res->diff_id);
	EVP_MD_CTX_free(p.diff_md);
	decomp_free(p.dec);
	free(p.buf);
	err_done(&p.err);
	return r;
}
