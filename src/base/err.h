/* Error contract of ocid.
 *
 * A function that can fail returns int: >= 0 on success (a count or an fd),
 * a negative errno on failure. Functions that do I/O or cross a module
 * boundary also take `struct err *err` last and fill it on failure with a
 * message a person can act on; the caller either wraps it with context
 * (err_wrap) and returns, or reports it -- never both.
 */
#pragma once

#include <stdarg.h>

struct err {
	int code;  /* negative errno, 0 when no error is recorded */
	char *msg; /* owned; NULL when no error is recorded */
};

#define ERR_INIT        \
	{               \
		0, NULL \
	}

/** Record an error whose message ends with ": strerror(-code)". Returns code.
 *  Replaces any earlier error. `err` may be NULL (the code is still returned). */
int err_set(struct err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Record an error with exactly the formatted message (no strerror). Returns code. */
int err_msg(struct err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Prefix the recorded message with "<context>: ". Returns the recorded code,
 *  or -EIO if nothing was recorded (a programming error, logged as such). */
int err_wrap(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** The recorded message, or "unknown error" when none. Never NULL. */
const char *err_str(const struct err *err);

/** Move the error from `src` to `dst` (dst's old error is freed). Returns the code.
 *  `dst` may be NULL: src's error is then dropped. */
int err_move(struct err *dst, struct err *src);

/** Forget the recorded error. Accepts NULL. */
void err_done(struct err *err);

#define cleanup_err __attribute__((__cleanup__(err_done)))
