/* Fuzz pod_sysctl_check: input "name\0value" (or all name), first byte
 * selects the owned namespaces. Accepted names must map to a /proc/sys
 * path without "..", and accepted values must hold no '=', '+' or newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "pod/pod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned owned = data[0] & 3;
	const char *rest = (const char *)data + 1;
	size_t n = size - 1;
	const char *nul = memchr(rest, 0, n);
	char *buf = xstrndup(rest, nul ? (size_t)(nul - rest) : n);
	char *v = nul ? xstrndup(nul + 1, n - (size_t)(nul - rest) - 1) : xstrdup("1");
	struct err err = ERR_INIT;
	char *path = NULL;
	unsigned ns = 0;
	if (pod_sysctl_check(buf, v, owned, &path, &ns, &err) == 0) {
		if (strstr(path, "..") || strncmp(path, "/proc/sys/", 10) != 0 ||
		    strpbrk(v, "=+\n") || !(ns & owned))
			abort();
	}
	free(path);
	free(v);
	free(buf);
	err_done(&err);
	return 0;
}
