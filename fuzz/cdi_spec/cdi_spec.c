/* Fuzz the CDI spec parser, then apply every device it defines to a spec
 * (host nodes may be missing: an error, never a crash). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_cdi *c = oci_cdi_new();
	struct err err = ERR_INIT;
	if (oci_cdi_spec_parse("fuzz.json", (const char *)data, size, c, &err) < 0) {
		if (oci_cdi_count(c) != 0 || !*err_str(&err))
			__builtin_trap();
		err_done(&err);
	}
	/* The same input as YAML: whatever converts must parse or fail cleanly. */
	char *json = NULL;
	if (oci_cdi_yaml_to_json("fuzz.yaml", (const char *)data, size, &json, &err) >= 0) {
		if (oci_cdi_spec_parse("fuzz.yaml", json, strlen(json), c, &err) < 0)
			err_done(&err);
		free(json);
	} else {
		err_done(&err);
	}
	json_t *spec = json_pack("{s:{s:[s]}}", "process", "env", "A=1");
	char *names[] = { "example.com/fake=null0", NULL };
	(void)oci_cdi_apply(c, spec, names, &err);
	err_done(&err);
	json_decref(spec);
	oci_cdi_free(c);
	return 0;
}
