/* image: the archive reader shared by the import files. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "image/image.h"

struct archive;

struct imp_entry {
	char *name; /* cleaned path */
	int64_t size;
};

/* The regular files of an archive, sorted by name. */
struct imp_archive {
	int fd;
	struct imp_entry *v;
	size_t n;
};

/** Read every header of the tar on `fd`: each path must be clean, each
 *  entry a file or a directory, no name twice. -EINVAL saying which entry. */
int imp_archive_scan(int fd, struct imp_archive *ia, struct err *err);
void imp_archive_done(struct imp_archive *ia);
/** The file `name` (cleaned form) or NULL. */
const struct imp_entry *imp_archive_find(const struct imp_archive *ia, const char *name);
/** A new reader positioned at the data of `name` (archive_read_free it). */
int imp_entry_open(struct imp_archive *ia, const char *name, struct archive **ret, struct err *err);
/** The whole file `name` (at most `max` bytes; NUL-terminated, owned). */
int imp_entry_read(struct imp_archive *ia, const char *name, size_t max, char **ret,
		   size_t *ret_len, struct err *err);
/** A storage_read_fn over an open reader (struct archive *). */
ssize_t imp_entry_read_fn(void *opaque, void *buf, size_t len);
