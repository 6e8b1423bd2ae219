/* Fuzz grpc-timeout parsing and percent-encoding round trips. */
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t ns;
	(void)rpc_timeout_parse((const char *)data, size, &ns);
	char *s = strndup((const char *)data, size);
	if (!s)
		return 0;
	char *enc = rpc_pct_encode(s);
	char *dec = rpc_pct_decode(enc, strlen(enc));
	if (strcmp(dec, s) != 0)
		abort();
	for (const char *p = enc; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	free(dec);
	free(enc);
	free(rpc_pct_decode(s, strlen(s)));
	free(s);
	return 0;
}
