/* The gRPC message deframer: pure, incremental, bounded. */
#include <errno.h>
#include <string.h>

#include "rpc/rpc.h"

/* A declared length is trusted only as far as bytes have arrived. */
#define DEFRAME_GROW_MIN (64u * 1024u)

void rpc_deframer_init(struct rpc_deframer *d, size_t max)
{
	*d = (struct rpc_deframer){ .max = max };
}

void rpc_deframer_done(struct rpc_deframer *d)
{
	free(d->msg);
	d->msg = NULL;
	d->got = d->cap = d->hdr_len = 0;
}

bool rpc_deframer_idle(const struct rpc_deframer *d)
{
	return d->hdr_len == 0;
}

int rpc_deframer_feed(struct rpc_deframer *d, const uint8_t *p, size_t len, size_t *used)
{
	size_t off = 0;
	*used = 0;
	if (d->hdr_len < 5) {
		size_t n = 5 - d->hdr_len < len ? 5 - d->hdr_len : len;
		memcpy(d->hdr + d->hdr_len, p, n);
		d->hdr_len += n;
		off = n;
		*used = off;
		if (d->hdr_len < 5)
			return 0;
		d->declared = (size_t)d->hdr[1] << 24 | (size_t)d->hdr[2] << 16 |
			      (size_t)d->hdr[3] << 8 | d->hdr[4];
		if (d->hdr[0] != 0)
			return -ENOTSUP;
		if (d->declared > d->max)
			return -EMSGSIZE;
		d->got = 0;
	}
	size_t want = d->declared - d->got;
	size_t n = want < len - off ? want : len - off;
	if (d->got + n > d->cap || !d->msg) {
		size_t cap = d->cap * 2 > DEFRAME_GROW_MIN ? d->cap * 2 : DEFRAME_GROW_MIN;
		if (cap < d->got + n)
			cap = d->got + n;
		if (cap > d->declared)
			cap = d->declared;
		d->msg = xrealloc(d->msg, cap ? cap : 1);
		d->cap = cap;
	}
	if (n)
		memcpy(d->msg + d->got, p + off, n);
	d->got += n;
	*used = off + n;
	return d->got == d->declared ? 1 : 0;
}

uint8_t *rpc_deframer_take(struct rpc_deframer *d, size_t *ret_len)
{
	uint8_t *m = d->msg ? d->msg : xmalloc(1);
	*ret_len = d->got;
	d->msg = NULL;
	d->got = d->cap = d->hdr_len = 0;
	return m;
}
