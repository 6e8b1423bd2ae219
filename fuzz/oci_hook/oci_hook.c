/* Fuzz the oci-hooks(5) parser: a file that parses must match or not
 * without crashing, and inject only into the stages it names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_hook_rule *r = NULL;
	struct err err = ERR_INIT;
	if (oci_hook_parse("fuzz.json", (const char *)data, size, &r, &err) < 0) {
		if (r || !*err_str(&err))
			__builtin_trap();
		err_done(&err);
		return 0;
	}
	unsigned stages = oci_hook_rule_stages(r);
	if (stages == 0 || stages >= (1u << OCI_HOOK_STAGES))
		__builtin_trap();
	const struct oci_kv ann[] = { { "io.example/a", "1" }, { "", "" } };
	(void)oci_hook_rule_matches(r, "/bin/sh", ann, 2, true);
	(void)oci_hook_rule_matches(r, NULL, NULL, 0, false);
	oci_hook_rule_free(r);
	return 0;
}
