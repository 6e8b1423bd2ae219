/* Fuzz target: the manifest.json of a `docker save` archive. Every path it
 * accepts must be clean: relative, no "..", no "." components, no "//". */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "image/image.h"

static void check_path(const char *p)
{
	if (!p || !*p || p[0] == '/' || strstr(p, "//") || strcmp(p, "..") == 0 ||
	    str_has_prefix(p, "../") || strstr(p, "/../") || str_has_suffix(p, "/..") ||
	    str_has_prefix(p, "./") || strstr(p, "/./") || str_has_suffix(p, "/.") ||
	    strcmp(p, ".") == 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_docker_save *v = NULL;
	size_t n = 0;
	cleanup_err struct err err = ERR_INIT;

	if (image_docker_save_parse((const char *)data, size, &v, &n, &err) < 0) {
		if (v || !err.msg)
			__builtin_trap();
		return 0;
	}
	if (n == 0)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		check_path(v[i].config);
		for (size_t k = 0; k < v[i].n_layers; k++)
			check_path(v[i].layers[k]);
		if (v[i].n_layers && v[i].layers[v[i].n_layers])
			__builtin_trap();
	}
	image_docker_save_free(v, n);
	return 0;
}
