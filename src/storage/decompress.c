/* Decompression by magic: gzip (isa-l igzip when built with it, zlib
 * otherwise or on request), zstd, or a plain tar passed through. Every
 * format must reach its own end marker: a stream that stops early is
 * "truncated", never silently short. */
#include <errno.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>
#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "base/base.h"
#include "storage/storage_int.h"

enum decomp_kind { K_PLAIN, K_GZIP_ZLIB, K_GZIP_ISAL, K_ZSTD };

struct decomp {
	struct hsrc *src;
	enum decomp_kind kind;
	bool member_done; /* gzip member or zstd frame completely decoded */
	bool started;	  /* at least one member/frame begun */
	z_stream z;
	ZSTD_DStream *zs;
#ifdef HAVE_ISAL
	struct inflate_state *isal;
#endif
};

static const char *const kind_names[] = { "tar", "gzip (zlib)", "gzip (isa-l)", "zstd" };

const char *decomp_kind(const struct decomp *d)
{
	return kind_names[d->kind];
}

/* Make sure some input is buffered unless the stream has ended.
 * Returns bytes available, 0 at end of input, <0 on error. */
static ssize_t want_input(struct decomp *d, struct err *err)
{
	struct hsrc *s = d->src;
	while (s->pos == s->len && !s->eof) {
		ssize_t n = hsrc_fill(s, err);
		if (n < 0)
			return n;
	}
	return (ssize_t)(s->len - s->pos);
}

static int gzip_member_begin(struct decomp *d, struct err *err)
{
	if (d->kind == K_GZIP_ZLIB) {
		if (d->started ? inflateReset(&d->z) : inflateInit2(&d->z, 16 + MAX_WBITS))
			return err_msg(err, -ENOMEM, "gzip: cannot initialise zlib");
	}
#ifdef HAVE_ISAL
	if (d->kind == K_GZIP_ISAL) {
		isal_inflate_init(d->isal);
		d->isal->crc_flag = ISAL_GZIP;
	}
#endif
	d->started = true;
	d->member_done = false;
	return 0;
}

static ssize_t gzip_step(struct decomp *d, uint8_t *out, size_t len, struct err *err)
{
	struct hsrc *s = d->src;
	size_t in_avail = s->len - s->pos, out_avail = len;

	if (d->kind == K_GZIP_ZLIB) {
		d->z.next_in = s->buf + s->pos;
		d->z.avail_in = (uInt)in_avail;
		d->z.next_out = out;
		d->z.avail_out = (uInt)len;
		int r = inflate(&d->z, Z_NO_FLUSH);
		if (r == Z_STREAM_END)
			d->member_done = true;
		else if (r != Z_OK && r != Z_BUF_ERROR)
			return err_msg(err, -EINVAL, "corrupt gzip stream: %s",
				       d->z.msg ? d->z.msg : "inflate failed");
		in_avail = d->z.avail_in;
		out_avail = d->z.avail_out;
	}
#ifdef HAVE_ISAL
	if (d->kind == K_GZIP_ISAL) {
		d->isal->next_in = s->buf + s->pos;
		d->isal->avail_in = (uint32_t)in_avail;
		d->isal->next_out = out;
		d->isal->avail_out = (uint32_t)len;
		int r = isal_inflate(d->isal);
		if (r < 0)
			return err_msg(err, -EINVAL, "corrupt gzip stream (isa-l error %d)", r);
		if (d->isal->block_state == ISAL_BLOCK_FINISH)
			d->member_done = true;
		in_avail = d->isal->avail_in;
		out_avail = d->isal->avail_out;
	}
#endif
	s->pos = s->len - in_avail;
	return (ssize_t)(len - out_avail);
}

static ssize_t gzip_read(struct decomp *d, uint8_t *out, size_t len, struct err *err)
{
	for (;;) {
		ssize_t avail = want_input(d, err);
		if (avail < 0)
			return avail;
		if (d->member_done) {
			if (avail == 0)
				return 0;
			/* Concatenated members form one valid gzip stream. */
			int r = gzip_member_begin(d, err);
			if (r < 0)
				return r;
		}
		if (avail == 0)
			return err_msg(err, -EIO, "truncated gzip stream");
		ssize_t n = gzip_step(d, out, len, err);
		if (n != 0)
			return n;
	}
}

static ssize_t zstd_read(struct decomp *d, uint8_t *out, size_t len, struct err *err)
{
	struct hsrc *s = d->src;
	for (;;) {
		ssize_t avail = want_input(d, err);
		if (avail < 0)
			return avail;
		if (avail == 0 && d->member_done)
			return 0;
		ZSTD_inBuffer in = { s->buf + s->pos, (size_t)avail, 0 };
		ZSTD_outBuffer o = { out, len, 0 };
		size_t r = ZSTD_decompressStream(d->zs, &o, &in);
		if (ZSTD_isError(r))
			return err_msg(err, -EINVAL, "corrupt zstd stream: %s",
				       ZSTD_getErrorName(r));
		s->pos += in.pos;
		d->member_done = r == 0;
		if (o.pos > 0)
			return (ssize_t)o.pos;
		if (avail == 0)
			return err_msg(err, -EIO, "truncated zstd stream");
	}
}

static ssize_t plain_read(struct decomp *d, uint8_t *out, size_t len, struct err *err)
{
	struct hsrc *s = d->src;
	ssize_t avail = want_input(d, err);
	if (avail <= 0)
		return avail;
	size_t n = (size_t)avail < len ? (size_t)avail : len;
	memcpy(out, s->buf + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

ssize_t decomp_read(struct decomp *d, void *buf, size_t len, struct err *err)
{
	switch (d->kind) {
	case K_GZIP_ZLIB:
	case K_GZIP_ISAL:
		return gzip_read(d, buf, len, err);
	case K_ZSTD:
		return zstd_read(d, buf, len, err);
	default:
		return plain_read(d, buf, len, err);
	}
}

static int detect(struct decomp *d, bool no_isal, struct err *err)
{
	static const uint8_t gz[] = { 0x1f, 0x8b }, zst[] = { 0x28, 0xb5, 0x2f, 0xfd };
	static const uint8_t xz[] = { 0xfd, '7', 'z', 'X', 'Z' }, bz[] = { 'B', 'Z', 'h' };
	struct hsrc *s = d->src;

	while (s->len < 6 && !s->eof) {
		ssize_t n = hsrc_fill(s, err);
		if (n < 0)
			return (int)n;
	}
	if (s->len >= 2 && !memcmp(s->buf, gz, 2)) {
		d->kind = K_GZIP_ZLIB;
#ifdef HAVE_ISAL
		if (!no_isal) {
			d->kind = K_GZIP_ISAL;
			d->isal = xmalloc(sizeof(*d->isal));
		}
#endif
		return gzip_member_begin(d, err);
	}
	if (s->len >= 4 && !memcmp(s->buf, zst, 4)) {
		d->kind = K_ZSTD;
		d->zs = ZSTD_createDStream();
		if (!d->zs || ZSTD_isError(ZSTD_initDStream(d->zs)))
			return err_msg(err, -ENOMEM, "zstd: cannot initialise");
		d->started = true;
		return 0;
	}
	if ((s->len >= 5 && !memcmp(s->buf, xz, 5)) || (s->len >= 3 && !memcmp(s->buf, bz, 3)))
		return err_msg(err, -EINVAL, "unsupported layer compression (xz or bzip2)");
	d->kind = K_PLAIN;
	return 0;
}

int decomp_new(struct hsrc *src, bool no_isal, struct decomp **ret, struct err *err)
{
	struct decomp *d = xzalloc(sizeof(*d));
	d->src = src;
	int r = detect(d, no_isal, err);
	if (r < 0) {
		decomp_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void decomp_free(struct decomp *d)
{
	if (!d)
		return;
	if (d->kind == K_GZIP_ZLIB && d->started)
		(void)inflateEnd(&d->z);
	ZSTD_freeDStream(d->zs);
#ifdef HAVE_ISAL
	free(d->isal);
#endif
	free(d);
}
