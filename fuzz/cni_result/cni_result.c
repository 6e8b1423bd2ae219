/* Fuzz the CNI parsers: network config lists (first byte even) or single
 * configs (odd), and results. Nothing may crash or leak; a parsed config
 * must have a name, a supported version and at least one plugin. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "cni/cni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	struct err err = ERR_INIT;
	struct cni_net *n = NULL;
	if (cni_conf_parse("fuzz", text, size - 1, (data[0] & 1) == 0, &n, &err) == 0) {
		if (!n->name || !n->version || json_array_size(n->plugins) == 0 || !n->text)
			abort();
		cni_net_free(n);
	}
	err_done(&err);
	char **ips = NULL;
	if (cni_result_ips(text, size - 1, &ips, &err) == 0)
		strv_free(ips);
	err_done(&err);
	return 0;
}
