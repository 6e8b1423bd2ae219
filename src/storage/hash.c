/* The hashing source: every byte read from the caller's stream goes
 * through sha256 (the compressed digest) and is counted against a limit. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "storage/storage_int.h"

#define HSRC_BUF (256 * 1024)

EVP_MD_CTX *md_new(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory or a broken libcrypto */
	return md;
}

void md_final_hex(EVP_MD_CTX *md, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	(void)EVP_DigestFinal_ex(md, d, &n);
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[d[i] >> 4];
		out[8 + 2 * i] = hex[d[i] & 15];
	}
	out[STORAGE_DIGEST_LEN] = '\0';
}

bool digest_valid(const char *d)
{
	if (!d || strlen(d) != STORAGE_DIGEST_LEN || !str_has_prefix(d, "sha256:"))
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int hsrc_init(struct hsrc *h, storage_read_fn fn, void *opaque, int64_t limit, struct err *err)
{
	*h = (struct hsrc){ .fn = fn, .opaque = opaque, .limit = limit, .cap = HSRC_BUF };
	h->md = md_new();
	h->buf = xmalloc(h->cap);
	return 0;
}

ssize_t hsrc_fill(struct hsrc *h, struct err *err)
{
	if (h->pos > 0) {
		memmove(h->buf, h->buf + h->pos, h->len - h->pos);
		h->len -= h->pos;
		h->pos = 0;
	}
	if (h->eof || h->len == h->cap)
		return 0;
	ssize_t n;
	do
		n = h->fn(h->opaque, h->buf + h->len, h->cap - h->len);
	while (n == -EINTR);
	if (n < 0)
		return err_set(err, (int)n, "read layer stream");
	if (n == 0) {
		h->eof = true;
		return 0;
	}
	if ((size_t)n > h->cap - h->len)
		return err_msg(err, -EIO, "read layer stream: reader returned too many bytes");
	if (h->limit >= 0 && h->total + (uint64_t)n > (uint64_t)h->limit)
		return err_msg(err, -EINVAL, "layer stream is larger than the expected %lld bytes",
			       (long long)h->limit);
	(void)EVP_DigestUpdate(h->md, h->buf + h->len, (size_t)n);
	h->total += (uint64_t)n;
	h->len += (size_t)n;
	return n;
}

void hsrc_done(struct hsrc *h, char *out)
{
	if (out && h->md)
		md_final_hex(h->md, out);
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
	free(h->buf);
	h->buf = NULL;
}
