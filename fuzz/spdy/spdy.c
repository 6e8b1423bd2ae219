/* Fuzz the SPDY/3.1 frame parser and the header-block decoder: frames are
 * parsed in a loop as a session reads them, and the header blocks of
 * SYN_STREAM, SYN_REPLY and HEADERS go through one inflater that lives as
 * long as the input, as a session's does. */
#include <stdlib.h>
#include <string.h>

#include "stream/stream_int.h"

static void check_headers(const struct spdy_headers *h)
{
	if (h->n > SPDY_MAX_HEADERS)
		abort();
	for (size_t i = 0; i < h->n; i++) {
		const char *name = h->h[i].name;
		if (name[0] == '\0' || strlen(h->h[i].value) > h->h[i].value_len)
			abort();
		for (const char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->h[j].name, name) == 0)
				abort();
		if (spdy_headers_get(h, name) != h->h[i].value)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spdy_zin *z = spdy_zin_new();
	bool broken = false;

	while (size > 0) {
		struct spdy_frame f;
		ssize_t n = spdy_frame_parse(data, size, &f);
		if (n < 0)
			break;
		if ((size_t)n > size || n < 8 || f.len > (size_t)n - 8 ||
		    (f.len > 0 && (f.data < data || f.data + f.len > data + n)))
			abort();
		if (!broken && (f.type == SPDY_SYN_STREAM || f.type == SPDY_SYN_REPLY ||
				f.type == SPDY_HEADERS)) {
			struct spdy_headers h;
			struct err err = ERR_INIT;
			int r = spdy_headers_decode(z, f.data, f.len, &h, &err);
			if (r == 0)
				check_headers(&h);
			else if (h.n != 0 || err.code != r || !err.msg)
				abort();
			/* After an error the stream is unusable, as the session ends. */
			broken = r < 0;
			spdy_headers_done(&h);
			err_done(&err);
		}
		data += n;
		size -= (size_t)n;
	}
	spdy_zin_free(z);
	return 0;
}
