/* The growable byte buffer the framing code appends frames to. */
#include <string.h>

#include "stream/stream_int.h"

void sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len < n) {
		/* Reuse the consumed front before growing. */
		if (b->off > 0) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->cap - b->len < n) {
			size_t cap = b->cap ? b->cap : 256;
			while (cap - b->len < n)
				cap *= 2;
			b->p = xrealloc(b->p, cap);
			b->cap = cap;
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void sbuf_take(struct sbuf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void sbuf_done(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
