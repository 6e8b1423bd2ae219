/* The CRI log record parser and line joiner of ocic ctr logs (crilog.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crilog.h"

#define T "2026-11-22T20:24:21.000123456Z"

static int parse(const char *line, struct crilog_rec *r)
{
	return crilog_parse(line, strlen(line), r);
}

static void test_parse_records(void **state)
{
	struct crilog_rec r;

	assert_int_equal(parse(T " stdout F hello world", &r), 0);
	assert_int_equal(r.time_len, strlen(T));
	assert_memory_equal(r.time, T, r.time_len);
	assert_int_equal(r.stream, MON_STREAM_STDOUT);
	assert_false(r.partial);
	assert_int_equal(r.content_len, 11);
	assert_memory_equal(r.content, "hello world", 11);

	assert_int_equal(parse(T " stderr P  two  spaces ", &r), 0);
	assert_int_equal(r.stream, MON_STREAM_STDERR);
	assert_true(r.partial);
	assert_int_equal(r.content_len, strlen(" two  spaces "));

	/* Empty content, with and without the separator. */
	assert_int_equal(parse(T " stdout F ", &r), 0);
	assert_int_equal(r.content_len, 0);
	assert_int_equal(parse(T " stdout F", &r), 0);
	assert_int_equal(r.content_len, 0);

	/* Other RFC 3339 forms: no fraction, an offset. */
	assert_int_equal(parse("2026-11-22T20:24:21Z stdout F x", &r), 0);
	assert_int_equal(parse("2026-11-22T20:24:21.5+01:00 stdout F x", &r), 0);
	assert_int_equal(parse("2026-11-22T20:24:21-08:00 stderr F x", &r), 0);

	/* Content may hold anything but the newline, NUL included. */
	const char bin[] = T " stdout F a\0b\tc";
	assert_int_equal(crilog_parse(bin, sizeof(bin) - 1, &r), 0);
	assert_int_equal(r.content_len, 5);
	assert_memory_equal(r.content, "a\0b\tc", 5);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"hello",
		T,
		T " ",
		T " stdout",
		T " stdout ",
		T " stdout X hi",
		T " stdin F hi",
		T " stdoutF hi",
		T " stdout FF hi",
		T " stdout F\thi",
		T "  stdout F hi",
		"2026-11-22 stdout F hi",
		"2026-11-22T20:24:21 stdout F hi",
		"2026-11-22T20:24:21. stdout F hi",
		"2026-11-22T20:24:21.1 stdout F hi",
		"2026-11-22T20:24:21.1+0100 stdout F hi",
		"2026-11-2xT20:24:21Z stdout F hi",
		"2026-11-22T20:24:21.0000000000000000000000000000Z stdout F hi",
		" " T " stdout F hi",
	};
	struct crilog_rec r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &r) != -EBADMSG)
			fail_msg("accepted: '%s'", bad[i]);
	}
}

/* What the joiner emitted, as "<o|e|m><c?><time>|<text><$ when end>" lines. */
struct out {
	char text[4096];
};

static void emit(void *data, const struct crilog_line *l)
{
	struct out *o = data;
	size_t n = strlen(o->text);

	snprintf(o->text + n, sizeof(o->text) - n, "%c%s%.*s|%.*s%s\n",
		 l->malformed			  ? 'm'
		 : l->stream == MON_STREAM_STDERR ? 'e'
						  : 'o',
		 l->continued ? "c" : "", (int)l->time_len, l->time, (int)l->len, l->text,
		 l->end ? "$" : "");
}

/* Feed `lines` (NULL-terminated) to a joiner of bound `max`; what came out
 * before the flush must be `want`, what the flush gave `want_flush`. */
static void check_join(size_t max, const char *const *lines, const char *want,
		       const char *want_flush)
{
	struct out o = { "" };
	struct crilog_join j;

	crilog_join_init(&j, max, emit, &o);
	for (; *lines; lines++)
		crilog_join_feed(&j, *lines, strlen(*lines));
	assert_string_equal(o.text, want);
	o.text[0] = '\0';
	crilog_join_flush(&j);
	assert_string_equal(o.text, want_flush);
	o.text[0] = '\0';
	crilog_join_flush(&j);
	assert_string_equal(o.text, "");
	crilog_join_done(&j);
	crilog_join_done(&j);
}

static void test_join(void **state)
{
	static const char *const lines[] = {
		"2026-01-01T00:00:01Z stdout P ab",   "2026-01-01T00:00:02Z stderr F err",
		"2026-01-01T00:00:03Z stdout P cd",   "not a record",
		"2026-01-01T00:00:04Z stdout F ef",   "2026-01-01T00:00:05Z stdout F ",
		"2026-01-01T00:00:06Z stderr P tail", NULL,
	};

	check_join(1 << 20, lines,
		   "e2026-01-01T00:00:02Z|err$\n"
		   "m|not a record$\n"
		   "o2026-01-01T00:00:01Z|abcdef$\n"
		   "o2026-01-01T00:00:05Z|$\n",
		   "e2026-01-01T00:00:06Z|tail$\n");
}

/* A line longer than the bound comes out in pieces of the bound. */
static void test_join_bound(void **state)
{
	static const char *const lines[] = {
		"2026-01-01T00:00:01Z stdout P abc",
		"2026-01-01T00:00:02Z stdout P defghij",
		"2026-01-01T00:00:03Z stdout F k",
		"2026-01-01T00:00:04Z stdout P wxyz",
		"2026-01-01T00:00:05Z stdout F ",
		"2026-01-01T00:00:06Z stderr F 12345",
		"2026-01-01T00:00:07Z stderr P 6789",
		"2026-01-01T00:00:08Z stderr P 0",
		NULL,
	};

	check_join(4, lines,
		   "o2026-01-01T00:00:01Z|abcd\n"
		   "oc2026-01-01T00:00:01Z|efgh\n"
		   "oc2026-01-01T00:00:01Z|ijk$\n"
		   "o2026-01-01T00:00:04Z|wxyz$\n"
		   "e2026-01-01T00:00:06Z|1234\n"
		   "ec2026-01-01T00:00:06Z|5$\n"
		   "e2026-01-01T00:00:07Z|6789\n",
		   "ec2026-01-01T00:00:07Z|0$\n");
}

/* Join `lines`, keep the last `n` lines, flush; `want` is what is left. */
static void check_tail(size_t max, uint64_t n, const char *const *lines, const char *want)
{
	struct out o = { "" };
	struct crilog_tail t;
	struct crilog_join j;

	crilog_tail_init(&t, n);
	crilog_join_init(&j, max, crilog_tail_push, &t);
	for (; *lines; lines++)
		crilog_join_feed(&j, *lines, strlen(*lines));
	crilog_join_flush(&j);
	crilog_join_done(&j);
	crilog_tail_release(&t, emit, &o);
	assert_string_equal(o.text, want);
	assert_int_equal(t.len, 0);
}

static void test_tail(void **state)
{
	static const char *const lines[] = {
		"2026-01-01T00:00:01Z stdout F 1", "2026-01-01T00:00:02Z stderr F 2", "junk",
		"2026-01-01T00:00:03Z stdout P 3", "2026-01-01T00:00:04Z stdout F 4", NULL,
	};
	char want[4096] = "";

	check_tail(64, 0, lines, "");
	check_tail(64, 1, lines, "o2026-01-01T00:00:03Z|34$\n");
	check_tail(64, 2, lines, "m|junk$\no2026-01-01T00:00:03Z|34$\n");
	check_tail(64, 3, lines, "e2026-01-01T00:00:02Z|2$\nm|junk$\no2026-01-01T00:00:03Z|34$\n");
	/* All of it, when there are no more lines than asked for. */
	for (uint64_t n = 4; n < 1000; n *= 10)
		check_tail(64, n, lines,
			   "o2026-01-01T00:00:01Z|1$\ne2026-01-01T00:00:02Z|2$\nm|junk$\n"
			   "o2026-01-01T00:00:03Z|34$\n");

	/* Many lines: the ring wraps and grows. */
	{
		static char bufs[300][48];
		const char *many[301];

		for (int i = 0; i < 300; i++) {
			snprintf(bufs[i], sizeof(bufs[i]), "2026-01-01T00:00:00Z stdout F %d", i);
			many[i] = bufs[i];
		}
		many[300] = NULL;
		for (int i = 200; i < 300; i++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
				 "o2026-01-01T00:00:00Z|%d$\n", i);
		check_tail(64, 100, many, want);
	}
}

/* Pieces of a long stdout line stay while a stderr line before its end is
 * dropped; dropping the stdout line takes its pieces along. */
static void test_tail_pieces(void **state)
{
	static const char *const lines[] = {
		"2026-01-01T00:00:01Z stderr F e1", "2026-01-01T00:00:02Z stdout P abcdef",
		"2026-01-01T00:00:03Z stderr F e2", "2026-01-01T00:00:04Z stdout F gh",
		"2026-01-01T00:00:05Z stderr F e3", NULL,
	};

	check_tail(4, 1, lines, "e2026-01-01T00:00:05Z|e3$\n");
	check_tail(4, 2, lines,
		   "o2026-01-01T00:00:02Z|abcd\noc2026-01-01T00:00:02Z|efgh$\n"
		   "e2026-01-01T00:00:05Z|e3$\n");
	check_tail(4, 3, lines,
		   "o2026-01-01T00:00:02Z|abcd\ne2026-01-01T00:00:03Z|e2$\n"
		   "oc2026-01-01T00:00:02Z|efgh$\ne2026-01-01T00:00:05Z|e3$\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_records), cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_join),	      cmocka_unit_test(test_join_bound),
		cmocka_unit_test(test_tail),	      cmocka_unit_test(test_tail_pieces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
