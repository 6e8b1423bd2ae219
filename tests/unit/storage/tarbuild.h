/* Test helpers: build tar layers in memory with libarchive, compress them,
 * and feed them to the store in small chunks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "storage/storage.h"

struct blob {
	uint8_t *data;
	size_t len, cap;
};

struct ent {
	const char *path;
	mode_t type; /* S_IFREG (default), S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO */
	mode_t mode; /* permission bits incl. setuid; 0 means 0644/0755 */
	const char *data;
	size_t size;	      /* used with data when > 0, else strlen(data) */
	const char *link;     /* symlink target */
	const char *hardlink; /* hardlink target */
	dev_t rdev;
	int64_t uid, gid;
	time_t mtime;
	const char *xname;
	const void *xval;
	size_t xlen;
};

enum comp { COMP_NONE, COMP_GZIP, COMP_ZSTD };

struct tb;
struct tb *tb_new(void);
void tb_add(struct tb *t, struct ent e);
/** Finish the archive; returns the tar bytes (owned by the caller). */
struct blob tb_finish(struct tb *t);

struct blob compress_blob(const struct blob *tar, enum comp c);
void blob_free(struct blob *b);
void digest_of(const struct blob *b, char out[72]);

/** Unpack `tar` compressed with `c`; digests computed unless `digest` /
 *  `diff_id` / `size` override them (NULL / -2 for computed). */
int unpack_blob(struct storage *s, const char *parent, const struct blob *tar, enum comp c,
		bool no_isal, char **chain, struct err *err);
int unpack_raw(struct storage *s, const char *parent, const struct blob *stream, const char *digest,
	       const char *diff_id, int64_t size, bool no_isal, char **chain, struct err *err);
