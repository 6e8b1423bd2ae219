/* Fuzz the upgrade request head parser and its header and query lookups. */
#include <string.h>

#include "stream/stream_int.h"

static bool token_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr("\"(),/:;<=>?@[\\]{}", *s))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ssize_t n = stream_head_len(data, size);
	if (n <= 0)
		return 0;
	struct stream_head h;
	struct err err = ERR_INIT;
	if (stream_head_parse(data, (size_t)n, &h, &err) == 0) {
		if (!h.method || !h.path || !h.query || h.path[0] != '/' ||
		    h.n > STREAM_HEADERS_MAX)
			__builtin_trap();
		for (size_t i = 0; i < h.n; i++) {
			if (!token_ok(h.h[i].name))
				__builtin_trap();
			char *v;
			for (size_t k = 0; (v = stream_head_value(&h, h.h[i].name, k)); k++) {
				if (!*v || strchr(v, ',') ||
				    !stream_head_has_token(&h, h.h[i].name, v))
					__builtin_trap();
				free(v);
			}
		}
		static const char *const keys[] = { "command", "port", "stdin", "tty", "" };
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			for (size_t k = 0; k < 4; k++)
				free(stream_query_value(h.query, keys[i], k));
	} else if (!err.msg) {
		__builtin_trap();
	}
	stream_head_done(&h);
	err_done(&err);
	return 0;
}
