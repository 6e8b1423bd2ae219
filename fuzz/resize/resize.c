/* Fuzz the resize channel's parser: the input arrives in two pieces, as
 * it may across frames, and every size taken must be in range. */
#include <errno.h>
#include <string.h>

#include "stream/stream_int.h"

static void check(void *data, unsigned w, unsigned h)
{
	if (w == 0 || h == 0 || w > 65535 || h > 65535)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf b = { 0 };
	struct err err = ERR_INIT;
	size_t half = size / 2;
	sbuf_add(&b, data, half);
	int r = rc_resize_parse(&b, check, NULL, &err);
	if (r == 0) {
		sbuf_add(&b, data + half, size - half);
		r = rc_resize_parse(&b, check, NULL, &err);
	}
	if (r != 0 && r != -EBADMSG && r != -EMSGSIZE)
		__builtin_trap();
	/* A refusal says why. */
	if (r < 0 && (err.code != r || !err.msg || !err.msg[0]))
		__builtin_trap();
	err_done(&err);
	sbuf_done(&b);
	return 0;
}
