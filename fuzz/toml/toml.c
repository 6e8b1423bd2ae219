/* Fuzz the TOML reader: parse, then walk the whole tree through the API. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"

static size_t walk(const struct toml *t, unsigned depth)
{
	size_t n = 1;
	if (depth > 1000)
		__builtin_trap();
	for (size_t i = 0; i < toml_len(t); i++) {
		const struct toml *v = toml_at(t, i);
		if (toml_type(t) == TOML_TABLE &&
		    (!toml_key_at(t, i) || toml_get(t, toml_key_at(t, i)) != v))
			__builtin_trap();
		if (toml_type(v) == TOML_STRING && !toml_string(v))
			__builtin_trap();
		n += walk(v, depth + 1) + toml_line(v) % 2;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml *t = NULL;
	struct err err = ERR_INIT;
	if (toml_parse("fuzz", (const char *)data, size, &t, &err) == 0) {
		(void)walk(t, 0);
		toml_free(t);
	} else if (!str_has_prefix(err_str(&err), "fuzz:")) {
		__builtin_trap();
	}
	err_done(&err);
	return 0;
}
