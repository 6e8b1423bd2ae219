/* Fuzz the ocid <-> ocimon message decoder: decode a stream of messages;
 * whatever decodes must re-encode to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "mon/mon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mon_msg m;
	static uint8_t buf[MON_MSG_MAX_SIZE];
	size_t pos = 0;
	while (pos < size) {
		int n = mon_msg_decode(data + pos, size - pos, &m);
		if (n < 0)
			break;
		if (n < MON_MSG_HDR_SIZE || (size_t)n > size - pos)
			abort();
		int e = mon_msg_encode(&m, buf, sizeof(buf));
		if (e != n || memcmp(buf, data + pos, (size_t)n) != 0)
			abort();
		pos += (size_t)n;
	}
	return 0;
}
