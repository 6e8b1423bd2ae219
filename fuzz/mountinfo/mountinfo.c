/* Fuzz the mountinfo propagation reader: the first 8 bytes pick the mount
 * id, the rest is the mountinfo text. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t id = 0;
	if (size < sizeof(id))
		return 0;
	memcpy(&id, data, sizeof(id));
	id %= 1000;
	char *text = xstrndup((const char *)data + sizeof(id), size - sizeof(id));
	int r = oci_mountinfo_propagation(text, id);
	if (r != -ENOENT && (r < 0 || r > 2))
		__builtin_trap();
	free(text);
	return 0;
}
