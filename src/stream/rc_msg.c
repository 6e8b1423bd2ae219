/* What the remote command channels carry besides bytes: the Status on the
 * error channel, and the terminal sizes on the resize channel. Pure. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "stream/stream_int.h"

/* Resize messages are tiny; a client sending more than this without one
 * complete message is not sending resize messages. */
#define RESIZE_MAX 4096

char *rc_status_json(int exit_code, const char *msg)
{
	json_t *st = json_object();
	json_object_set_new(st, "metadata", json_object());
	if (!msg && exit_code == 0) {
		json_object_set_new(st, "status", json_string("Success"));
	} else if (!msg) {
		/* What client-go turns into an exit code (kubectl exec's own). */
		char code[16];
		snprintf(code, sizeof(code), "%d", exit_code);
		cleanup_free char *text = xasprintf(
		    "command terminated with non-zero exit code: exit status %d", exit_code);
		json_object_set_new(st, "status", json_string("Failure"));
		json_object_set_new(st, "message", json_string(text));
		json_object_set_new(st, "reason", json_string("NonZeroExitCode"));
		json_t *cause = json_object();
		json_object_set_new(cause, "reason", json_string("ExitCode"));
		json_object_set_new(cause, "message", json_string(code));
		json_t *causes = json_array();
		json_array_append_new(causes, cause);
		json_t *details = json_object();
		json_object_set_new(details, "causes", causes);
		json_object_set_new(st, "details", details);
	} else {
		json_object_set_new(st, "status", json_string("Failure"));
		json_object_set_new(st, "message", json_string(msg));
		json_object_set_new(st, "reason", json_string("InternalError"));
		json_object_set_new(st, "code", json_integer(500));
	}
	char *s = js_dump(st, 0);
	json_decref(st);
	return s;
}

static int size_of(const json_t *v, const char *key, unsigned *ret, struct err *err)
{
	const json_t *n;
	cleanup_err struct err e = ERR_INIT;
	if (js_get(v, "resize message", key, JSON_INTEGER, true, &n, &e) < 0)
		return err_msg(err, -EBADMSG, "%s", err_str(&e));
	if (json_integer_value(n) < 0 || json_integer_value(n) > 65535)
		return err_msg(err, -EBADMSG, "resize message.%s: %lld is not a size in [0, 65535]",
			       key, (long long)json_integer_value(n));
	*ret = (unsigned)json_integer_value(n);
	return 0;
}

/* One complete resize message of p[0..len): its sizes. */
static int resize_one(const char *p, size_t len, unsigned *w, unsigned *h, struct err *err)
{
	json_t *v = NULL;
	cleanup_err struct err e = ERR_INIT;
	if (js_load("resize message", p, len, RESIZE_MAX, &v, &e) < 0)
		return err_msg(err, -EBADMSG, "%s", err_str(&e));
	int r = json_is_object(v) ? 0 : err_msg(err, -EBADMSG, "resize message: not an object");
	if (r == 0)
		r = size_of(v, "Width", w, err);
	if (r == 0)
		r = size_of(v, "Height", h, err);
	json_decref(v);
	return r;
}

int rc_resize_parse(struct sbuf *b, void (*fn)(void *data, unsigned w, unsigned h), void *data,
		    struct err *err)
{
	for (;;) {
		const char *p = (const char *)b->p + b->off;
		size_t n = sbuf_pending(b);
		size_t skip = 0;
		while (skip < n && strchr(" \t\r\n", p[skip]) && p[skip])
			skip++;
		sbuf_take(b, skip);
		p += skip;
		n -= skip;
		if (n == 0)
			return 0;
		if (p[0] != '{')
			return err_msg(err, -EBADMSG, "resize message: expected '{', got 0x%02x",
				       (unsigned char)p[0]);
		/* The end of the object: resize messages hold no strings with
		 * braces and no nested objects. */
		const char *end = memchr(p, '}', n);
		if (!end)
			return n > RESIZE_MAX
				   ? err_msg(err, -EMSGSIZE, "resize message: more than %u bytes",
					     RESIZE_MAX)
				   : 0;
		size_t len = (size_t)(end - p) + 1;
		unsigned w = 0, h = 0;
		int r = resize_one(p, len, &w, &h, err);
		if (r < 0)
			return r;
		sbuf_take(b, len);
		if (w > 0 && h > 0)
			fn(data, w, h);
	}
}
