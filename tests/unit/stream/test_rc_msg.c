/* The remote command messages: the v4 Status on the error channel and the
 * resize messages. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"
#include "stream/stream_int.h"

struct sizes {
	unsigned w[8], h[8];
	size_t n;
};

static void got(void *data, unsigned w, unsigned h)
{
	struct sizes *s = data;
	if (s->n < 8) {
		s->w[s->n] = w;
		s->h[s->n] = h;
	}
	s->n++;
}

static int feed_err(struct sbuf *b, const char *text, struct sizes *s, struct err *err)
{
	sbuf_add(b, text, strlen(text));
	return rc_resize_parse(b, got, s, err);
}

static int feed(struct sbuf *b, const char *text, struct sizes *s)
{
	cleanup_err struct err err = ERR_INIT;
	return feed_err(b, text, s, &err);
}

static void test_resize_messages(void **state)
{
	struct sbuf b = { 0 };
	struct sizes s = { 0 };
	/* Go's json.Encoder: one object and a newline per message. */
	assert_int_equal(feed(&b, "{\"Width\":100,\"Height\":30}\n{\"Width\":80,", &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.w[0], 100);
	assert_int_equal(s.h[0], 30);
	/* The rest of a message split across frames. */
	assert_int_equal(feed(&b, "\"Height\":24}", &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.w[1], 80);
	assert_int_equal(s.h[1], 24);
	assert_int_equal(sbuf_pending(&b), 0);
	/* A zero size is taken and dropped (nothing to resize to). */
	assert_int_equal(feed(&b, " {\"Height\":0,\"Width\":0} ", &s), 0);
	assert_int_equal(s.n, 2);
	sbuf_done(&b);
}

static void test_resize_bad(void **state)
{
	static const char *const bad[] = {
		"[1,2]",
		"{\"Width\":\"80\",\"Height\":24}",
		"{\"Width\":-1,\"Height\":24}",
		"{\"Width\":70000,\"Height\":24}",
		"{\"Height\":24}",
		"{\"Width\":1,\"Width\":2,\"Height\":3}",
		"{\"Width\":1,\"Height\":2",
		"x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sbuf b = { 0 };
		struct sizes s = { 0 };
		int r = feed(&b, bad[i], &s);
		/* An unfinished object waits for more; everything else is refused. */
		if (i == 6)
			assert_int_equal(r, 0);
		else
			assert_int_equal(r, -EBADMSG);
		assert_int_equal(s.n, 0);
		sbuf_done(&b);
	}
	/* No end in sight: bounded. */
	struct sbuf b = { 0 };
	struct sizes s = { 0 };
	char big[5000];
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feed(&b, big, &s), -EMSGSIZE);
	sbuf_done(&b);
}

/* What is wrong with a bad message is said: the parse error with its line
 * and column, the field and its bound. */
static void test_resize_errors(void **state)
{
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "{\"Width\":80,\"Height\":}", "resize message:1:22: " },
		{ "{\"Width\":1,\"Width\":2,\"Height\":3}", "duplicate object key" },
		{ "{\"Width\":\"80\",\"Height\":24}",
		  "resize message.Width: expected integer, got string" },
		{ "{\"Width\":80}", "resize message.Height: missing" },
		{ "{\"Width\":70000,\"Height\":24}",
		  "resize message.Width: 70000 is not a size in [0, 65535]" },
		{ "x", "resize message: expected '{', got 0x78" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sbuf b = { 0 };
		struct sizes s = { 0 };
		struct err err = ERR_INIT;
		assert_int_equal(feed_err(&b, bad[i].in, &s, &err), -EBADMSG);
		if (!strstr(err_str(&err), bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err_str(&err), bad[i].msg);
		err_done(&err);
		sbuf_done(&b);
	}
	struct sbuf b = { 0 };
	struct sizes s = { 0 };
	struct err err = ERR_INIT;
	char big[5000];
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feed_err(&b, big, &s, &err), -EMSGSIZE);
	assert_string_equal(err_str(&err), "resize message: more than 4096 bytes");
	err_done(&err);
	sbuf_done(&b);
}

static json_t *status(int code, const char *msg)
{
	char *s = rc_status_json(code, msg);
	json_t *v = NULL;
	struct err err = ERR_INIT;
	assert_int_equal(js_load("Status", s, strlen(s), SIZE_MAX, &v, &err), 0);
	free(s);
	return v;
}

static void test_status(void **state)
{
	json_t *v = status(0, NULL);
	assert_string_equal(json_string_value(json_object_get(v, "status")), "Success");
	assert_true(json_is_object(json_object_get(v, "metadata")));
	json_decref(v);
	/* What client-go reads the exit code from. */
	v = status(3, NULL);
	assert_string_equal(json_string_value(json_object_get(v, "status")), "Failure");
	assert_string_equal(json_string_value(json_object_get(v, "reason")), "NonZeroExitCode");
	json_t *cause = json_array_get(json_object_get(json_object_get(v, "details"), "causes"), 0);
	assert_string_equal(json_string_value(json_object_get(cause, "reason")), "ExitCode");
	assert_string_equal(json_string_value(json_object_get(cause, "message")), "3");
	json_decref(v);
	v = status(-1, "container x is not running");
	assert_string_equal(json_string_value(json_object_get(v, "status")), "Failure");
	assert_string_equal(json_string_value(json_object_get(v, "message")),
			    "container x is not running");
	assert_null(json_object_get(v, "details"));
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resize_messages),
		cmocka_unit_test(test_resize_bad),
		cmocka_unit_test(test_resize_errors),
		cmocka_unit_test(test_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
