/* Fuzz target: policy.json parsing and scope lookups. */
#include <stdint.h>

#include "base/base.h"
#include "image/image_int.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const refs[] = {
		"busybox",
		"quay.io/a/b:1",
		("a.example.com:5000/x@sha256:" D64),
		"[::1]:5000/x/y/z",
	};
	cleanup(image_policy_free) struct image_policy *p = NULL;
	cleanup_err struct err err = ERR_INIT;

	if (image_policy_parse("fuzz.json", (const char *)data, size, &p, &err) < 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(refs); i++) {
		cleanup(image_ref_free) struct image_ref *ref = NULL;
		const char *scope = NULL;
		if (image_ref_parse(refs[i], &ref, &err) < 0)
			__builtin_trap();
		(void)image_policy_check(p, ref, &scope, &err);
		if (!scope)
			__builtin_trap();
		err_done(&err);
	}
	return 0;
}
