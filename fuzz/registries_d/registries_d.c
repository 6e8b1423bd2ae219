/* Fuzz target: registries.d YAML (libyaml) and the lookups over it. */
#include <stdint.h>

#include "base/base.h"
#include "image/image_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const refs[] = { "busybox", "quay.io/a/b:1", "a.example.com:5000/x",
					    "[::1]:5000/x/y/z" };
	cleanup(image_registries_d_free) struct image_registries_d *d = image_registries_d_new();
	cleanup_err struct err err = ERR_INIT;
	int r = image_registries_d_add(d, "fuzz.yaml", (const char *)data, size, &err);
	if (r < 0 && !err.msg)
		__builtin_trap();
	for (size_t i = 0; i < ARRAY_SIZE(refs); i++) {
		cleanup(image_ref_free) struct image_ref *ref = NULL;
		const char *lookaside = NULL;
		bool sigstore = false;
		if (image_ref_parse(refs[i], &ref, &err) < 0)
			__builtin_trap();
		image_registries_d_lookup(d, ref, &lookaside, &sigstore);
		if (lookaside && !str_has_prefix(lookaside, "file:///") &&
		    !str_has_prefix(lookaside, "http"))
			__builtin_trap();
	}
	return 0;
}
