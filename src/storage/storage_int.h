/* storage: declarations shared between the module's files only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "storage/storage.h"

struct archive;
struct archive_entry;
typedef struct evp_md_ctx_st EVP_MD_CTX;

#define STORAGE_DIGEST_LEN 71 /* "sha256:" + 64 hex */

/* --- fsutil.c (openat2 resolution and rm -rf come from base/fs.h) --- */

/** Remove everything inside the directory `dirfd` (not the directory). */
int fsu_rm_contents(int dirfd);

/** Random lowercase base32 name of `n` characters into `out` (n+1 bytes). */
int fsu_random_name(char *out, size_t n);

/* --- hash.c: hashing source reader --- */

struct hsrc {
	storage_read_fn fn;
	void *opaque;
	EVP_MD_CTX *md;
	uint64_t total; /* bytes read so far */
	int64_t limit;	/* refuse more than this many bytes (-1: no limit) */
	uint8_t *buf;
	size_t pos, len, cap;
	bool eof;
};

int hsrc_init(struct hsrc *h, storage_read_fn fn, void *opaque, int64_t limit, struct err *err);
/** Read more input into h->buf (compacting consumed bytes first).
 *  Returns bytes added, 0 at end of stream, or a negative errno. */
ssize_t hsrc_fill(struct hsrc *h, struct err *err);
/** Finish the digest: "sha256:<hex>" into out (STORAGE_DIGEST_LEN+1). */
void hsrc_done(struct hsrc *h, char *out);

/** Digest helpers. */
EVP_MD_CTX *md_new(void);
void md_final_hex(EVP_MD_CTX *md, char *out);
bool digest_valid(const char *d);

/* --- decompress.c --- */

struct decomp;
int decomp_new(struct hsrc *src, bool no_isal, struct decomp **ret, struct err *err);
/** Decompressed bytes: count, 0 at the (verified) end of stream, or -errno. */
ssize_t decomp_read(struct decomp *d, void *buf, size_t len, struct err *err);
const char *decomp_kind(const struct decomp *d);
void decomp_free(struct decomp *d);

/* --- writer.c: tar entries to files under a root directory fd --- */

struct writer;
int writer_new(int rootfd, struct writer **ret);
void writer_free(struct writer *w);
/** Write one entry (its data is read from `a`). */
int writer_entry(struct writer *w, struct archive *a, struct archive_entry *e, struct err *err);
/** Apply deferred directory mtimes. */
int writer_finish(struct writer *w, struct err *err);
/** Resolve (creating missing directories) the parent of clean path `p`;
 *  returns an O_PATH dir fd and sets *base to the last component of p. */
int writer_parent(struct writer *w, const char *p, const char **base, struct err *err);

/* --- whiteout.c --- */

/** If `base` is an OCI whiteout, turn it into overlay form inside
 *  `parentfd` (`p` is the entry path, for messages): returns 1 when handled,
 *  0 when not a whiteout, <0 on error. */
int whiteout_apply(int parentfd, const char *base, const char *p, struct err *err);

/* --- unpack.c --- */

struct unpack_result {
	char digest[STORAGE_DIGEST_LEN + 1];
	char diff_id[STORAGE_DIGEST_LEN + 1];
	uint64_t size;
	const char *kind;
};

/** Unpack a (compressed) tar stream into directory `rootfd`. */
int unpack_stream(int rootfd, storage_read_fn fn, void *opaque, int64_t limit, bool no_isal,
		  struct unpack_result *r, struct err *err);
