/* Fuzz the HTTP/1.1 request head parser. */
#include <string.h>

#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ssize_t n = rpc_http_head_len(data, size);
	if (n <= 0)
		return 0;
	struct rpc_http_head h;
	struct err err = ERR_INIT;
	if (rpc_http_head_parse(data, (size_t)n, &h, &err) == 0) {
		if (!h.method || !h.path || !h.query || h.path[0] != '/')
			__builtin_trap();
		(void)strlen(h.query);
	}
	rpc_http_head_done(&h);
	err_done(&err);
	return 0;
}
