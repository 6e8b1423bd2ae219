/* Fuzz the seccomp profile converter (OCI and Docker formats). The first
 * byte picks a capability mask; the rest is the profile. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint64_t caps = data[0] & 1 ? ~UINT64_C(0) : data[0] & 2 ? UINT64_C(0x5fb) : 0;
	json_t *out = NULL;
	struct err err = ERR_INIT;
	int r =
	    oci_seccomp_profile_convert("fuzz", (const char *)data + 1, size - 1, caps, &out, &err);
	if (r == 0) {
		if (!json_is_string(json_object_get(out, "defaultAction")) ||
		    !json_is_array(json_object_get(out, "syscalls")))
			__builtin_trap();
		free(js_dump(out, 0));
		json_decref(out);
	} else if (!strstr(err_str(&err), "fuzz")) {
		__builtin_trap();
	}
	err_done(&err);
	return 0;
}
