/* CRI log writer: record format, 16 KiB boundaries, P..F splitting,
 * partial lines at EOF, both streams, reopen after rename. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "base/fs.h"
#include "mon/mon.h"

#define L MON_LOG_LINE_MAX

static char tmp[64], path[128];
static struct mon_log *lg;

struct rec {
	char stream[8];
	char tag;
	size_t len;
	char *content;
};
static struct rec recs[64];
static size_t nrecs;

static int setup(void **state)
{
	strcpy(tmp, "/tmp/ocid-mon-log-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(path, sizeof(path), "%s/0.log", tmp);
	struct err err = ERR_INIT;
	return mon_log_open(path, &lg, &err);
}

static int teardown(void **state)
{
	mon_log_free(lg);
	lg = NULL;
	for (size_t i = 0; i < nrecs; i++)
		free(recs[i].content);
	nrecs = 0;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* Parse the file into recs[], checking every record's shape. */
static void load(const char *p)
{
	for (size_t i = 0; i < nrecs; i++)
		free(recs[i].content);
	nrecs = 0;
	char *s = NULL;
	size_t len = 0;
	assert_int_equal(fs_read_file(AT_FDCWD, p, 1 << 24, &s, &len, NULL), 0);
	size_t pos = 0;
	while (pos < len) {
		char *nl = memchr(s + pos, '\n', len - pos);
		assert_non_null(nl); /* every record ends with a newline */
		char *line = s + pos;
		/* 2026-11-22T20:31:15.145577249Z */
		assert_true(nl - line >= 30 + 9);
		assert_int_equal(line[4], '-');
		assert_int_equal(line[10], 'T');
		assert_int_equal(line[19], '.');
		assert_int_equal(line[29], 'Z');
		assert_int_equal(line[30], ' ');
		char *sp = memchr(line + 31, ' ', 8);
		assert_non_null(sp);
		assert_true(nrecs < ARRAY_SIZE(recs));
		struct rec *r = &recs[nrecs++];
		memcpy(r->stream, line + 31, (size_t)(sp - line - 31));
		r->stream[sp - line - 31] = '\0';
		r->tag = sp[1];
		assert_true(r->tag == 'P' || r->tag == 'F');
		assert_int_equal(sp[2], ' ');
		r->len = (size_t)(nl - sp - 3);
		r->content = malloc(r->len + 1);
		memcpy(r->content, sp + 3, r->len);
		r->content[r->len] = '\0';
		pos = (size_t)(nl - s) + 1;
	}
	free(s);
}

static void expect(size_t i, const char *stream, char tag, size_t len)
{
	assert_true(i < nrecs);
	assert_string_equal(recs[i].stream, stream);
	assert_int_equal(recs[i].tag, tag);
	assert_int_equal(recs[i].len, len);
}

static void put(enum mon_stream s, const char *data, size_t len)
{
	struct err err = ERR_INIT;
	assert_int_equal(mon_log_write(lg, s, data, len, &err), 0);
}

static void test_timestamp(void **state)
{
	char buf[40];
	assert_int_equal(mon_log_timestamp(0, buf, sizeof(buf)), 30);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
	assert_int_equal(mon_log_timestamp(1795379475145634774, buf, sizeof(buf)), 30);
	assert_string_equal(buf, "2026-11-22T20:31:15.145634774Z");
	assert_int_equal(mon_log_timestamp(-1, buf, sizeof(buf)), 30);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
	assert_int_equal(mon_log_timestamp(0, buf, 20), -EINVAL);
}

static void test_short_lines(void **state)
{
	put(MON_STREAM_STDOUT, "hello\n\nworld\n", 13);
	put(MON_STREAM_STDERR, "oops\n", 5);
	load(path);
	assert_int_equal(nrecs, 4);
	expect(0, "stdout", 'F', 5);
	assert_string_equal(recs[0].content, "hello");
	expect(1, "stdout", 'F', 0);
	expect(2, "stdout", 'F', 5);
	assert_string_equal(recs[2].content, "world");
	expect(3, "stderr", 'F', 4);
}

static char *filled(size_t n, char c)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\n';
	return s;
}

static void test_exact_boundaries(void **state)
{
	char *a = filled(L, 'a');
	put(MON_STREAM_STDOUT, a, L + 1); /* exactly the buffer: one F */
	char *b = filled(L + 1, 'b');
	put(MON_STREAM_STDOUT, b, L + 2); /* one byte more: P + F(1) */
	char *c = filled(L - 1, 'c');
	put(MON_STREAM_STDOUT, c, L); /* one byte less: F */
	char *d = filled(2 * L, 'd');
	put(MON_STREAM_STDOUT, d, 2 * L + 1); /* twice: P + F(L) */
	load(path);
	assert_int_equal(nrecs, 6);
	expect(0, "stdout", 'F', L);
	expect(1, "stdout", 'P', L);
	expect(2, "stdout", 'F', 1);
	expect(3, "stdout", 'F', L - 1);
	expect(4, "stdout", 'P', L);
	expect(5, "stdout", 'F', L);
	assert_int_equal(recs[5].content[0], 'd');
	free(a);
	free(b);
	free(c);
	free(d);
}

static void test_long_line_chunks(void **state)
{
	/* 100 KiB in odd-sized chunks, as a pipe delivers it. */
	size_t total = 100 * 1024;
	char *s = filled(total, 'x');
	for (size_t i = 0; i < total; i++)
		s[i] = (char)('a' + i % 26);
	for (size_t off = 0; off <= total; off += 7000)
		put(MON_STREAM_STDERR, s + off, off + 7000 <= total + 1 ? 7000 : total + 1 - off);
	load(path);
	assert_int_equal(nrecs, 7);
	for (size_t i = 0; i < 6; i++)
		expect(i, "stderr", 'P', L);
	expect(6, "stderr", 'F', total - 6 * L);
	/* Joined content is the original line. */
	size_t off = 0;
	for (size_t i = 0; i < nrecs; i++) {
		assert_memory_equal(recs[i].content, s + off, recs[i].len);
		off += recs[i].len;
	}
	assert_int_equal(off, total);
	free(s);
}

static void test_partial_at_eof(void **state)
{
	put(MON_STREAM_STDOUT, "no newline", 10);
	put(MON_STREAM_STDOUT, " yet", 4);
	load(path);
	assert_int_equal(nrecs, 0); /* held until the line ends */
	struct err err = ERR_INIT;
	assert_int_equal(mon_log_flush(lg, MON_STREAM_STDOUT, &err), 0);
	assert_int_equal(mon_log_flush(lg, MON_STREAM_STDOUT, &err), 0); /* nothing left */
	/* A full buffer with no newline yet: written as F at EOF. */
	char *a = filled(L, 'a');
	put(MON_STREAM_STDERR, a, L);
	assert_int_equal(mon_log_flush(lg, MON_STREAM_STDERR, &err), 0);
	load(path);
	assert_int_equal(nrecs, 2);
	expect(0, "stdout", 'F', 14);
	assert_string_equal(recs[0].content, "no newline yet");
	expect(1, "stderr", 'F', L);
	free(a);
	/* mon_log_free flushes what is pending. */
	put(MON_STREAM_STDOUT, "tail", 4);
	mon_log_free(lg);
	lg = NULL;
	load(path);
	assert_int_equal(nrecs, 3);
	expect(2, "stdout", 'F', 4);
}

static void test_flush_partial(void **state)
{
	struct err err = ERR_INIT;
	put(MON_STREAM_STDOUT, "done\nprompt> ", 13);
	assert_int_equal(mon_log_pending(lg, MON_STREAM_STDOUT), 8);
	assert_int_equal(mon_log_pending(lg, MON_STREAM_STDERR), 0);
	assert_int_equal(mon_log_flush_partial(lg, MON_STREAM_STDOUT, &err), 0);
	assert_int_equal(mon_log_pending(lg, MON_STREAM_STDOUT), 0);
	assert_int_equal(mon_log_flush_partial(lg, MON_STREAM_STDOUT, &err), 0); /* no-op */
	put(MON_STREAM_STDOUT, "yes\n", 4);
	load(path);
	assert_int_equal(nrecs, 3);
	expect(0, "stdout", 'F', 4);
	expect(1, "stdout", 'P', 8);
	assert_string_equal(recs[1].content, "prompt> ");
	expect(2, "stdout", 'F', 3);
	assert_string_equal(recs[2].content, "yes");
}

static void test_both_streams(void **state)
{
	put(MON_STREAM_STDOUT, "out-a", 5);
	put(MON_STREAM_STDERR, "err-a", 5);
	put(MON_STREAM_STDERR, "\nerr-b\n", 7);
	put(MON_STREAM_STDOUT, "\n", 1);
	load(path);
	assert_int_equal(nrecs, 3);
	expect(0, "stderr", 'F', 5);
	assert_string_equal(recs[0].content, "err-a");
	expect(1, "stderr", 'F', 5);
	expect(2, "stdout", 'F', 5);
	assert_string_equal(recs[2].content, "out-a");
}

static void test_reopen(void **state)
{
	put(MON_STREAM_STDOUT, "before\n", 7);
	put(MON_STREAM_STDOUT, "half", 4);
	char old[160];
	snprintf(old, sizeof(old), "%s.1", path);
	assert_int_equal(rename(path, old), 0);
	struct err err = ERR_INIT;
	assert_int_equal(mon_log_reopen(lg, &err), 0);
	put(MON_STREAM_STDOUT, "-line\nafter\n", 12);
	load(old);
	assert_int_equal(nrecs, 1);
	assert_string_equal(recs[0].content, "before");
	load(path);
	assert_int_equal(nrecs, 2);
	assert_string_equal(recs[0].content, "half-line");
	assert_string_equal(recs[1].content, "after");
	/* A reopen that fails keeps the old fd working: the path is now a
	 * directory, so the open fails and "kept" lands in the moved file. */
	assert_int_equal(rename(path, old), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mon_log_reopen(lg, &err), -EISDIR);
	err_done(&err);
	put(MON_STREAM_STDOUT, "kept\n", 5);
	load(old);
	assert_int_equal(nrecs, 3);
	assert_string_equal(recs[2].content, "kept");
	assert_int_equal(rmdir(path), 0);
}

static void test_open_fails(void **state)
{
	struct mon_log *l = NULL;
	struct err err = ERR_INIT;
	char p[160];
	snprintf(p, sizeof(p), "%s/missing/0.log", tmp);
	assert_int_equal(mon_log_open(p, &l, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), p));
	err_done(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test_setup_teardown(test_short_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_at_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
