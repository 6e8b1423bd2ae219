#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "tarbuild.h"

struct tb {
	struct archive *a;
	struct blob out;
};

static void blob_append(struct blob *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->data = xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static la_ssize_t tb_write(struct archive *a, void *opaque, const void *buf, size_t n)
{
	blob_append(opaque, buf, n);
	return (la_ssize_t)n;
}

struct tb *tb_new(void)
{
	struct tb *t = xnew(struct tb);
	t->a = archive_write_new();
	archive_write_set_format_pax(t->a);
	archive_write_set_bytes_in_last_block(t->a, 1);
	if (archive_write_open(t->a, &t->out, NULL, tb_write, NULL) != ARCHIVE_OK)
		abort();
	return t;
}

void tb_add(struct tb *t, struct ent e)
{
	struct archive_entry *ae = archive_entry_new();
	mode_t type = e.type ? e.type : S_IFREG;
	size_t size = e.data ? (e.size ? e.size : strlen(e.data)) : 0;
	archive_entry_set_pathname(ae, e.path);
	archive_entry_set_filetype(ae, type);
	archive_entry_set_perm(ae, e.mode ? e.mode : (type == S_IFDIR ? 0755 : 0644));
	archive_entry_set_uid(ae, e.uid);
	archive_entry_set_gid(ae, e.gid);
	archive_entry_set_mtime(ae, e.mtime ? e.mtime : 1000000000, 0);
	if (e.link)
		archive_entry_set_symlink(ae, e.link);
	if (e.hardlink)
		archive_entry_set_hardlink(ae, e.hardlink);
	if (e.rdev)
		archive_entry_set_rdev(ae, e.rdev);
	if (e.xname)
		archive_entry_xattr_add_entry(ae, e.xname, e.xval, e.xlen);
	archive_entry_set_size(ae, type == S_IFREG && !e.hardlink ? (la_int64_t)size : 0);
	if (archive_write_header(t->a, ae) != ARCHIVE_OK)
		abort();
	if (size && archive_write_data(t->a, e.data, size) != (la_ssize_t)size)
		abort();
	archive_entry_free(ae);
}

struct blob tb_finish(struct tb *t)
{
	archive_write_close(t->a);
	archive_write_free(t->a);
	struct blob b = t->out;
	free(t);
	return b;
}

void blob_free(struct blob *b)
{
	free(b->data);
	*b = (struct blob){ 0 };
}

struct blob compress_blob(const struct blob *tar, enum comp c)
{
	struct blob out = { 0 };
	if (c == COMP_NONE) {
		blob_append(&out, tar->data, tar->len);
	} else if (c == COMP_ZSTD) {
		out.cap = ZSTD_compressBound(tar->len);
		out.data = xmalloc(out.cap);
		out.len = ZSTD_compress(out.data, out.cap, tar->data, tar->len, 3);
		if (ZSTD_isError(out.len))
			abort();
	} else {
		z_stream z = { 0 };
		if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			abort();
		out.cap = deflateBound(&z, tar->len) + 64;
		out.data = xmalloc(out.cap);
		z.next_in = tar->data;
		z.avail_in = (uInt)tar->len;
		z.next_out = out.data;
		z.avail_out = (uInt)out.cap;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END)
			abort();
		out.len = out.cap - z.avail_out;
		deflateEnd(&z);
	}
	return out;
}

void digest_of(const struct blob *b, char out[72])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	EVP_Digest(b->data, b->len, d, NULL, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[d[i] >> 4];
		out[8 + 2 * i] = hex[d[i] & 15];
	}
	out[71] = '\0';
}

struct memsrc {
	const struct blob *b;
	size_t pos;
	unsigned step;
};

static ssize_t mem_read(void *opaque, void *buf, size_t len)
{
	struct memsrc *m = opaque;
	/* Irregular chunk sizes exercise every buffer boundary. */
	size_t n = 1 + (m->step++ * 7919u) % 65536u;
	if (n > len)
		n = len;
	if (n > m->b->len - m->pos)
		n = m->b->len - m->pos;
	memcpy(buf, m->b->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

int unpack_raw(struct storage *s, const char *parent, const struct blob *stream, const char *digest,
	       const char *diff_id, int64_t size, bool no_isal, char **chain, struct err *err)
{
	struct memsrc m = { .b = stream };
	struct storage_layer_opts o = {
		.parent_chain_id = parent,
		.digest = digest,
		.diff_id = diff_id,
		.size = size,
		.no_isal = no_isal,
	};
	return storage_layer_unpack(s, &o, mem_read, &m, chain, err);
}

int unpack_blob(struct storage *s, const char *parent, const struct blob *tar, enum comp c,
		bool no_isal, char **chain, struct err *err)
{
	struct blob z = compress_blob(tar, c);
	char digest[72], diff_id[72];
	digest_of(&z, digest);
	digest_of(tar, diff_id);
	int r = unpack_raw(s, parent, &z, digest, diff_id, (int64_t)z.len, no_isal, chain, err);
	blob_free(&z);
	return r;
}
