/* Fuzz target: WWW-Authenticate header parsing. */
#include <stdint.h>

#include "base/base.h"
#include "image/image_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *s = xstrndup((const char *)data, size);
	cleanup_err struct err err = ERR_INIT;
	struct image_auth_challenge *c = NULL;
	size_t n = 0;

	if (image_www_auth_parse(s, &c, &n, &err) == 0 && n == 0)
		__builtin_trap();
	image_www_auth_free(c, n);
	return 0;
}
