/* Fuzz target: image_ref_parse, and the full form of every accepted
 * reference must parse back to itself. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *s = xstrndup((const char *)data, size);
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	cleanup(image_ref_free) struct image_ref *again = NULL;
	cleanup_err struct err err = ERR_INIT;

	if (image_ref_parse(s, &ref, &err) < 0)
		return 0;
	cleanup_free char *full = image_ref_string(ref, IMAGE_REF_FULL);
	cleanup_free char *fam = image_ref_string(ref, IMAGE_REF_FAMILIAR);
	if (strlen(fam) > strlen(full))
		__builtin_trap();
	if (image_ref_parse(full, &again, &err) < 0)
		__builtin_trap();
	cleanup_free char *full2 = image_ref_string(again, IMAGE_REF_FULL);
	if (strcmp(full, full2) != 0)
		__builtin_trap();
	if (ref->digest && !image_digest_valid(ref->digest))
		__builtin_trap();
	return 0;
}
