/* Fuzz auth.json / docker config.json lookup: the first line of the input
 * is "registry path", the rest the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	if (!nl)
		return 0;
	size_t hl = (size_t)(nl - (const char *)data);
	char *head = strndup((const char *)data, hl);
	char *path = strchr(head, ' ');
	if (path)
		*path++ = '\0';
	struct image_creds c = { 0 };
	struct err err = ERR_INIT;
	int r = image_authfile_find("fuzz", nl + 1, size - hl - 1, head, path, &c, &err);
	if (r == 1 && image_creds_empty(&c))
		abort();
	if (r < 0 && !err.msg)
		abort();
	image_creds_done(&c);
	err_done(&err);
	free(head);
	return 0;
}
