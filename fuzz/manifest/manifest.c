/* Fuzz target: manifests and indexes (platform selection included), image
 * configs and the User field. The first byte picks the Content-Type. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "image/image.h"

static const char *const content_types[] = {
	NULL,
	"application/json",
	IMAGE_MT_OCI_INDEX,
	IMAGE_MT_OCI_MANIFEST,
	IMAGE_MT_DOCKER_LIST,
	IMAGE_MT_DOCKER_MANIFEST "; charset=utf-8",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
	"text/html",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup(image_manifest_free) struct image_manifest *m = NULL;
	cleanup(image_config_free) struct image_config *c = NULL;
	cleanup_err struct err err = ERR_INIT;
	const struct image_descriptor *d;

	if (size < 1)
		return 0;
	const char *ct = content_types[data[0] % ARRAY_SIZE(content_types)];
	const char *doc = (const char *)data + 1;
	size--;
	if (image_manifest_parse(doc, size, ct, &m, &err) == 0) {
		struct image_platform plats[] = {
			IMAGE_PLATFORM_DEFAULT,
			{ "linux", "arm", "v6" },
			{ "linux", "arm64", NULL },
			{ "linux", "aarch64", "v9" },
		};
		for (size_t i = 0; i < ARRAY_SIZE(plats); i++) {
			if (image_manifest_select(m, &plats[i], &d, &err) == 0 &&
			    !image_digest_valid(d->digest))
				__builtin_trap();
			err_done(&err);
		}
	}
	err_done(&err);
	if (image_config_parse(doc, size, &c, &err) == 0) {
		struct image_user u;
		if (m)
			(void)image_config_check(c, m, &err);
		if (image_user_parse(c->user, &u, &err) == 0)
			image_user_done(&u);
	}
	return 0;
}
