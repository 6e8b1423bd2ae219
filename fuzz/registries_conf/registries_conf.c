/* Fuzz target: registries.conf parsing (merged twice, as a drop-in would
 * be), endpoint lookups and short-name candidates. */
#include <stdint.h>

#include "base/base.h"
#include "image/image_int.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void lookups(const struct image_registries *r)
{
	static const char *const refs[] = {
		"busybox",
		"foo/bar:1",
		("docker.io/library/busybox@sha256:" D64),
		"a.example.com:5000/x/y",
		"registry.k8s.io/pause:3.9",
	};
	for (size_t i = 0; i < ARRAY_SIZE(refs); i++) {
		cleanup(image_ref_free) struct image_ref *ref = NULL;
		cleanup_err struct err err = ERR_INIT;
		struct image_endpoint *e = NULL;
		struct image_ref **c = NULL;
		size_t n = 0;
		if (image_ref_parse(refs[i], &ref, &err) < 0)
			__builtin_trap();
		if (image_registries_endpoints(r, ref, &e, &n, &err) == 0 && n == 0)
			__builtin_trap();
		image_endpoints_free(e, n);
		err_done(&err);
		if (ref->short_name && image_registries_resolve(r, ref, &c, &n, &err) == 0 &&
		    n == 0)
			__builtin_trap();
		image_refs_free(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup(image_registries_free) struct image_registries *r = image_registries_new();
	cleanup_err struct err err = ERR_INIT;

	if (image_registries_add(r, "fuzz.conf", (const char *)data, size, &err) < 0)
		return 0;
	(void)image_registries_add(r, "fuzz2.conf", (const char *)data, size, &err);
	lookups(r);
	return 0;
}
