/* Fuzz config files: apply TOML text as an ocid.conf, then print and
 * re-parse the effective configuration, which must round-trip. */
#include <stdint.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_level_set(LOG_ERROR); /* unknown-key warnings would flood the output */
		quiet = true;
	}
	struct config cfg, again;
	struct err err = ERR_INIT;
	config_init(&cfg);
	config_init(&again);
	if (config_load_text(&cfg, "fuzz.conf", (const char *)data, size, &err) == 0) {
		char *a = config_to_toml(&cfg);
		if (config_load_text(&again, "out.conf", a, strlen(a), &err) < 0)
			__builtin_trap();
		char *b = config_to_toml(&again);
		if (strcmp(a, b) != 0)
			__builtin_trap();
		free(a);
		free(b);
	}
	err_done(&err);
	config_done(&cfg);
	config_done(&again);
	return 0;
}
