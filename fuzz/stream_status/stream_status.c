/* Fuzz the v4 error channel's Status parser (ocic reads what a streaming
 * server says): an outcome is an exit code or a message, never both, and a
 * refusal always says something. */
#include <errno.h>
#include <stdlib.h>

#include "stream/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int code = -1000;
	char *msg = NULL;
	int r = stream_status_parse(data, size, &code, &msg);
	if (r == 0 && (msg || code == -1000))
		__builtin_trap();
	if (r < 0 && (r != -EBADMSG && r != -EREMOTEIO))
		__builtin_trap();
	if (r == -EREMOTEIO && (!msg || !msg[0]))
		__builtin_trap();
	if (r < 0 && !msg)
		__builtin_trap();
	free(msg);
	return 0;
}
