/* Fuzz the tar entry path checker: a clean path must never be absolute,
 * contain "..", "." or empty components, or exceed the limits. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[PATH_MAX];
	const char *why = NULL;

	if (storage_tar_path_clean((const char *)data, size, out, sizeof(out), &why) < 0) {
		if (!why)
			abort();
		return 0;
	}
	size_t n = strlen(out);
	if (n >= PATH_MAX || n > size || out[0] == '/' || (n && out[n - 1] == '/'))
		abort();
	for (const char *c = out; *c;) {
		const char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		if (len == 0 || len > NAME_MAX || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			abort();
		c += len + (e != NULL);
	}
	/* Cleaning is idempotent. */
	char again[PATH_MAX];
	if (n &&
	    (storage_tar_path_clean(out, n, again, sizeof(again), &why) < 0 || strcmp(out, again)))
		abort();
	return 0;
}
