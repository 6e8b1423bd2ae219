#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static int err_vset(struct err *err, int code, int with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int err_vset(struct err *err, int code, int with_errno, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	char *msg = xvasprintf(fmt, ap);
	if (with_errno) {
		char *full = xasprintf("%s: %s", msg, strerror(-code));
		free(msg);
		msg = full;
	}
	free(err->msg);
	err->msg = msg;
	err->code = code;
	return code;
}

int err_set(struct err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = err_vset(err, code, 1, fmt, ap);
	va_end(ap);
	return r;
}

int err_msg(struct err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = err_vset(err, code, 0, fmt, ap);
	va_end(ap);
	return r;
}

int err_wrap(struct err *err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	if (!err->msg)
		return err_msg(err, -EIO, "internal error: wrapping an unset error");
	va_list ap;
	va_start(ap, fmt);
	char *ctx = xvasprintf(fmt, ap);
	va_end(ap);
	char *full = xasprintf("%s: %s", ctx, err->msg);
	free(ctx);
	free(err->msg);
	err->msg = full;
	return err->code;
}

const char *err_str(const struct err *err)
{
	return err && err->msg ? err->msg : "unknown error";
}

int err_move(struct err *dst, struct err *src)
{
	if (!dst) { /* like err_set: a caller may pass no err */
		int code = src->code;
		err_done(src);
		return code;
	}
	err_done(dst);
	*dst = *src;
	src->msg = NULL;
	src->code = 0;
	return dst->code;
}

void err_done(struct err *err)
{
	if (!err)
		return;
	free(err->msg);
	err->msg = NULL;
	err->code = 0;
}
