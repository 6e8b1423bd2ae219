/* Fuzz the parser of `<runtime> features` (what a configured runtime
 * program prints): 0 or -EINVAL/-EFBIG with a message, nothing else. */
#include <errno.h>

#include "oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_runtime_features f;
	struct err err = ERR_INIT;
	int r = oci_runtime_features_parse((const char *)data, size, &f, &err);
	if (r < 0 && ((r != -EINVAL && r != -EFBIG) || err.code != r || !err.msg))
		__builtin_trap();
	if (r == 0 && err.msg)
		__builtin_trap();
	err_done(&err);
	return 0;
}
