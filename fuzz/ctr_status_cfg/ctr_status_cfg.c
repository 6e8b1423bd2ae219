/* Fuzz the container status config parser (the JSON ctr stores for
 * ContainerStatus): what parses writes back as JSON that parses to the
 * same text again; what does not leaves an error and nothing to leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "ctr/ctr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctr_status_cfg c;
	struct err err = ERR_INIT;
	if (ctr_status_cfg_parse((const char *)data, size, &c, &err) < 0) {
		if (!*err_str(&err))
			__builtin_trap();
		err_done(&err);
		ctr_status_cfg_done(&c);
		return 0;
	}
	char *text = ctr_status_cfg_to_json(&c);
	ctr_status_cfg_done(&c);
	if (ctr_status_cfg_parse(text, strlen(text), &c, &err) < 0)
		__builtin_trap();
	char *again = ctr_status_cfg_to_json(&c);
	if (strcmp(text, again) != 0)
		__builtin_trap();
	free(again);
	free(text);
	ctr_status_cfg_done(&c);
	return 0;
}
