/* Fuzz the gRPC deframer: the first byte picks the chunk size the rest is
 * fed in, the second a small size limit; every message taken must have
 * exactly the declared length. */
#include <stdlib.h>

#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1, max = (size_t)data[1] * 64;
	data += 2;
	size -= 2;
	struct rpc_deframer d;
	rpc_deframer_init(&d, max);
	size_t off = 0;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk, used;
		int r = rpc_deframer_feed(&d, data + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (r < 0)
			break;
		if (r == 1) {
			size_t len;
			uint8_t *m = rpc_deframer_take(&d, &len);
			if (len != d.declared || len > max)
				abort();
			free(m);
		} else if (used != n) {
			abort();
		}
	}
	rpc_deframer_done(&d);
	return 0;
}
