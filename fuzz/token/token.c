/* Fuzz the bearer-token endpoint's JSON answer and the cache it feeds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tok = NULL;
	int64_t exp = 0;
	struct err err = ERR_INIT;
	int r = image_token_parse((const char *)data, size, 1000, &tok, &exp, &err);
	if (r == 0) {
		if (!tok || !*tok || exp <= 1000 - 1)
			abort();
		struct image_token_cache *c = image_token_cache_new();
		image_token_cache_put(c, "k", tok, exp);
		char *back = image_token_cache_get(c, "k", 1000);
		if (exp > 1000 && (!back || strcmp(back, tok) != 0))
			abort();
		free(back);
		image_token_cache_free(c);
		free(tok);
	} else if (!err.msg) {
		abort();
	}
	err_done(&err);
	return 0;
}
