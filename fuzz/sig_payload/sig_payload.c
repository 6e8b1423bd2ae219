/* Fuzz target: signature payloads (simple signing and cosign) and the
 * signedIdentity rules applied to what they name. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "image/policy_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "atomic container signature",
					     "cosign container image signature" };
	cleanup(image_ref_free) struct image_ref *img = NULL;
	cleanup_err struct err err = ERR_INIT;
	if (image_ref_parse("quay.io/org/app:1", &img, &err) < 0)
		__builtin_trap();
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		struct image_sig_payload p = { 0 };
		err_done(&err);
		if (image_sig_payload_parse((const char *)data, size, types[i], &p, &err) < 0)
			continue;
		if (!p.docker_ref || !image_digest_valid(p.digest))
			__builtin_trap();
		for (int t = IDENT_MATCH_REPO_DIGEST_OR_EXACT; t <= IDENT_REMAP; t++) {
			struct image_identity id = { (enum image_ident_type)t, "quay.io/org/app:1",
						     "quay.io/org", "mirror.test:5000/x" };
			if (t == IDENT_EXACT_REPOSITORY)
				id.ref = "quay.io/org/app";
			int r = image_identity_match(&id, img, p.docker_ref, &err);
			if (r < 0 && !err.msg)
				__builtin_trap();
			err_done(&err);
		}
		image_sig_payload_done(&p);
	}
	return 0;
}
