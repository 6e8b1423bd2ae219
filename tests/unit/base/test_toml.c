/* TOML reader: valid documents through the API, invalid ones with the exact
 * position of the error. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"

static struct toml *parse_ok(const char *text)
{
	struct toml *t = NULL;
	struct err err = ERR_INIT;
	int r = toml_parse("t.toml", text, strlen(text), &t, &err);
	if (r < 0)
		fail_msg("parse failed: %s", err_str(&err));
	err_done(&err);
	return t;
}

static const struct toml *path(const struct toml *t, const char *a, const char *b, const char *c)
{
	t = toml_get(t, a);
	if (b)
		t = toml_get(t, b);
	if (c)
		t = toml_get(t, c);
	assert_non_null(t);
	return t;
}

static void test_registries_conf(void **state)
{
	const char *doc = "# registries.conf\n"
			  "unqualified-search-registries = [\"docker.io\", \"quay.io\",\n"
			  "  # a comment inside an array\n"
			  "]\n"
			  "short-name-mode = \"enforcing\"\n"
			  "\n"
			  "[[registry]]\n"
			  "prefix = \"example.com/foo\"\n"
			  "location = \"internal.registry.mirror/foo\"\n"
			  "insecure = false\n"
			  "blocked = true\n"
			  "\n"
			  "[[registry.mirror]]\n"
			  "location = \"mirror-1.local/bar\"\n"
			  "insecure = true\n"
			  "[[registry.mirror]]\n"
			  "location = \"mirror-2.local/bar\"\n"
			  "pull-from-mirror = \"digest-only\"\n"
			  "\n"
			  "[[registry]]\n"
			  "location = \"localhost:5000\"\n"
			  "insecure = true\n"
			  "\n"
			  "[aliases]\n"
			  "\"fedora\" = \"registry.fedoraproject.org/fedora\"\n"
			  "busybox = \"docker.io/library/busybox\" # trailing comment\n";
	cleanup(toml_free) struct toml *t = parse_ok(doc);
	const struct toml *usr = toml_get(t, "unqualified-search-registries");
	assert_int_equal(toml_type(usr), TOML_ARRAY);
	assert_int_equal(toml_len(usr), 2);
	assert_string_equal(toml_string(toml_at(usr, 1)), "quay.io");
	assert_int_equal(toml_line(usr), 2);
	assert_int_equal(toml_col(usr), 33);

	const struct toml *regs = toml_get(t, "registry");
	assert_int_equal(toml_type(regs), TOML_ARRAY);
	assert_int_equal(toml_len(regs), 2);
	const struct toml *r0 = toml_at(regs, 0);
	assert_string_equal(toml_string(toml_get(r0, "prefix")), "example.com/foo");
	assert_true(toml_bool(toml_get(r0, "blocked")));
	assert_false(toml_bool(toml_get(r0, "insecure")));
	assert_int_equal(toml_type(toml_get(r0, "insecure")), TOML_BOOL);
	const struct toml *m = toml_get(r0, "mirror");
	assert_int_equal(toml_len(m), 2);
	assert_string_equal(toml_string(toml_get(toml_at(m, 0), "location")), "mirror-1.local/bar");
	assert_string_equal(toml_string(toml_get(toml_at(m, 1), "pull-from-mirror")),
			    "digest-only");
	assert_int_equal(toml_line(toml_get(toml_at(m, 1), "location")), 17);
	const struct toml *r1 = toml_at(regs, 1);
	assert_null(toml_get(r1, "mirror"));
	assert_string_equal(toml_string(toml_get(r1, "location")), "localhost:5000");

	const struct toml *al = toml_get(t, "aliases");
	assert_int_equal(toml_type(al), TOML_TABLE);
	assert_int_equal(toml_len(al), 2);
	assert_string_equal(toml_key_at(al, 0), "fedora");
	assert_string_equal(toml_string(path(t, "aliases", "busybox", NULL)),
			    "docker.io/library/busybox");
	assert_int_equal(toml_line(al), 24);
}

static void test_strings(void **state)
{
	const char *doc = "basic = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600\"\n"
			  "lit = 'C:\\path\\no\\escape'\n"
			  "ml = \"\"\"\nline1\nline2 \\\n    joined\"\"\"\n"
			  "mll = '''\nraw \\n ''stays'''\n"
			  "quotes = \"\"\"\"\"x\"\"\"\"\"\n"
			  "nul = \"a\\u0000b\"\n"
			  "empty = \"\"\n";
	cleanup(toml_free) struct toml *t = parse_ok(doc);
	assert_string_equal(toml_string(toml_get(t, "basic")),
			    "tab\there \"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80");
	assert_string_equal(toml_string(toml_get(t, "lit")), "C:\\path\\no\\escape");
	assert_string_equal(toml_string(toml_get(t, "ml")), "line1\nline2 joined");
	assert_string_equal(toml_string(toml_get(t, "mll")), "raw \\n ''stays");
	assert_string_equal(toml_string(toml_get(t, "quotes")), "\"\"x\"\"");
	assert_int_equal(toml_string_len(toml_get(t, "nul")), 3);
	assert_string_equal(toml_string(toml_get(t, "empty")), "");
	assert_null(toml_string(toml_get(t, "missing")));
}

static void test_numbers_and_bools(void **state)
{
	const char *doc = "d = 1_000_000\nneg = -17\npos = +5\nz = 0\n"
			  "h = 0xDEAD_beef\no = 0o755\nb = 0b1101\n"
			  "max = 9223372036854775807\nmin = -9223372036854775808\n"
			  "hmax = 0x7fff_ffff_ffff_ffff\nomax = 0o777777777777777777777\n"
			  "f1 = 3.25\nf2 = -1e3\nf3 = 6.5E-1\nf4 = inf\nf5 = -inf\nf6 = nan\n"
			  "t = true\nf = false\n";
	cleanup(toml_free) struct toml *t = parse_ok(doc);
	assert_int_equal(toml_int(toml_get(t, "d")), 1000000);
	assert_int_equal(toml_int(toml_get(t, "neg")), -17);
	assert_int_equal(toml_int(toml_get(t, "pos")), 5);
	assert_int_equal(toml_int(toml_get(t, "z")), 0);
	assert_int_equal(toml_int(toml_get(t, "h")), 0xdeadbeef);
	assert_int_equal(toml_int(toml_get(t, "o")), 0755);
	assert_int_equal(toml_int(toml_get(t, "b")), 13);
	assert_true(toml_int(toml_get(t, "max")) == INT64_MAX);
	assert_true(toml_int(toml_get(t, "min")) == INT64_MIN);
	assert_true(toml_int(toml_get(t, "hmax")) == INT64_MAX);
	assert_true(toml_int(toml_get(t, "omax")) == INT64_MAX);
	assert_int_equal(toml_type(toml_get(t, "f1")), TOML_FLOAT);
	assert_true(toml_float(toml_get(t, "f1")) == 3.25);
	assert_true(toml_float(toml_get(t, "f2")) == -1000);
	assert_true(toml_float(toml_get(t, "f3")) == 0.65);
	assert_true(isinf(toml_float(toml_get(t, "f4"))) && toml_float(toml_get(t, "f4")) > 0);
	assert_true(isinf(toml_float(toml_get(t, "f5"))) && toml_float(toml_get(t, "f5")) < 0);
	assert_true(isnan(toml_float(toml_get(t, "f6"))));
	assert_true(toml_bool(toml_get(t, "t")));
	assert_int_equal(toml_type(toml_get(t, "f")), TOML_BOOL);
	assert_false(toml_bool(toml_get(t, "f")));
	/* wrong-type accessors return neutral values */
	assert_int_equal(toml_int(toml_get(t, "t")), 0);
	assert_false(toml_bool(toml_get(t, "d")));
}

static void test_tables_keys_arrays(void **state)
{
	const char *doc = "a.b.c = 1\n"
			  "a.b.d = 2\n"
			  "\"quoted key\".'lit' = 3\n"
			  "site.\"google.com\" = true\n"
			  "[x.y.z]\n"
			  "k = 4\n"
			  "[x]\n"
			  "k = 5\n"
			  "[x.y]\n"
			  "k = 6\n"
			  "[ spaced . name ]\n"
			  "inl = { p = 1, q.r = \"s\", arr = [1, [2, 3], { t = [] }] }\n"
			  "empty_inl = {}\n"
			  "mixed = [\n  1,\n  \"two\", # comment\n  [3],\n]\n"
			  "[[fruit]]\nname = \"apple\"\n[fruit.physical]\ncolor = \"red\"\n"
			  "[[fruit.variety]]\nname = \"red delicious\"\n"
			  "[[fruit]]\nname = \"banana\"\n";
	cleanup(toml_free) struct toml *t = parse_ok(doc);
	assert_int_equal(toml_int(path(t, "a", "b", "c")), 1);
	assert_int_equal(toml_int(path(t, "a", "b", "d")), 2);
	assert_int_equal(toml_int(path(t, "quoted key", "lit", NULL)), 3);
	assert_true(toml_bool(path(t, "site", "google.com", NULL)));
	assert_int_equal(toml_int(path(t, "x", "y", "z")) + 0, 0); /* z is a table */
	assert_int_equal(toml_int(toml_get(path(t, "x", "y", "z"), "k")), 4);
	assert_int_equal(toml_int(path(t, "x", "k", NULL)), 5);
	assert_int_equal(toml_int(path(t, "x", "y", "k")), 6);
	const struct toml *inl = path(t, "spaced", "name", "inl");
	assert_int_equal(toml_type(inl), TOML_TABLE);
	assert_string_equal(toml_string(toml_get(toml_get(inl, "q"), "r")), "s");
	const struct toml *arr = toml_get(inl, "arr");
	assert_int_equal(toml_len(arr), 3);
	assert_int_equal(toml_int(toml_at(toml_at(arr, 1), 1)), 3);
	assert_int_equal(toml_len(toml_get(toml_at(arr, 2), "t")), 0);
	assert_int_equal(toml_len(path(t, "spaced", "name", "empty_inl")), 0);
	const struct toml *mixed = path(t, "spaced", "name", "mixed");
	assert_int_equal(toml_len(mixed), 3);
	assert_string_equal(toml_string(toml_at(mixed, 1)), "two");
	assert_int_equal(toml_line(toml_at(mixed, 1)), 16);
	const struct toml *fruit = toml_get(t, "fruit");
	assert_int_equal(toml_len(fruit), 2);
	assert_string_equal(toml_string(path(toml_at(fruit, 0), "physical", "color", NULL)), "red");
	assert_string_equal(
	    toml_string(toml_get(toml_at(toml_get(toml_at(fruit, 0), "variety"), 0), "name")),
	    "red delicious");
	assert_string_equal(toml_string(toml_get(toml_at(fruit, 1), "name")), "banana");
	assert_null(toml_at(fruit, 2));
}

static void test_crlf_bom_empty(void **state)
{
	cleanup(toml_free) struct toml *t = parse_ok("\xef\xbb\xbf"
						     "a = 1\r\n# c\r\nb = \"x\"\r\n");
	assert_int_equal(toml_int(toml_get(t, "a")), 1);
	assert_int_equal(toml_line(toml_get(t, "b")), 3);
	cleanup(toml_free) struct toml *e = parse_ok("");
	assert_int_equal(toml_len(e), 0);
	cleanup(toml_free) struct toml *c = parse_ok("# only a comment");
	assert_int_equal(toml_len(c), 0);
}

static const struct {
	const char *doc;
	const char *msg;
} bad[] = {
	{ "a = 1\nb = = 2\n", "t.toml:2:5: expected a value" },
	{ "key\n", "t.toml:1:4: expected '=' after key" },
	{ "a = 1\na = 2\n", "t.toml:2:1: duplicate key 'a'" },
	{ "[t]\nx = 1\n[t]\n", "t.toml:3:1: table 't' is already defined" },
	{ "a.b = 1\n[a.b]\n", "t.toml:2:1: table 'b' is already defined" },
	{ "s = \"abc\n", "t.toml:1:9: unterminated string" },
	{ "s = \"\"\"abc\n", "t.toml:2:1: unterminated multi-line string" },
	{ "x = [1, 2\n", "t.toml:2:1: expected ',' or ']' in array" },
	{ "x = [1 2]\n", "t.toml:1:8: expected ',' or ']' in array" },
	{ "x = {a = 1,}\n", "t.toml:1:12: expected a key" },
	{ "x = {a = 1\n", "t.toml:1:11: expected ',' or '}' in inline table" },
	{ "s = \"\\q\"\n", "t.toml:1:6: invalid escape sequence '\\q'" },
	{ "s = \"\\u12\"\n", "t.toml:1:6: expected 4 hex digits after '\\u'" },
	{ "s = \"\\uD800\"\n", "t.toml:1:6: escape is not a Unicode scalar value" },
	{ "n = 0123\n", "t.toml:1:5: leading zeros are not allowed in '0123'" },
	{ "n = 1__2\n", "t.toml:1:5: invalid value '1__2'" },
	{ "n = 9223372036854775808\n", "t.toml:1:5: integer out of range" },
	{ "n = -9223372036854775809\n", "t.toml:1:5: integer out of range" },
	{ "n = 0x8000000000000000\n", "t.toml:1:5: integer out of range" },
	{ "n = 0o1000000000000000000000\n", "t.toml:1:5: integer out of range" },
	{ "d = 1979-05-27\n", "t.toml:1:5: date-time values are not supported" },
	{ "a = 1 b = 2\n", "t.toml:1:7: expected a newline after the value" },
	{ "[t] x = 1\n", "t.toml:1:5: expected a newline after the table header" },
	{ "[t\n", "t.toml:1:3: expected ']' after table name" },
	{ "x = {a = 1}\n[x.b]\n", "t.toml:2:1: key 'x' is not a table" },
	{ "[[a]]\n[a]\n", "t.toml:2:1: table 'a' is already defined" },
	{ "a = [1]\n[[a]]\n", "t.toml:2:1: 'a' is already defined and not an array of tables" },
	{ "a = \"x\xff\"\n", "t.toml:1:7: invalid UTF-8" },
	{ "\n\na = 1\x00\n", "t.toml:3:6: NUL byte in document" },
	{ "s = \"a\x01b\"\n", "t.toml:1:7: control character in string" },
	{ "x = tru\n", "t.toml:1:5: invalid value 'tru'" },
};

static void test_invalid_documents(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct toml *t = NULL;
		struct err err = ERR_INIT;
		size_t len = strlen(bad[i].doc);
		if (strstr(bad[i].msg, "NUL"))
			len = 10;
		int r = toml_parse("t.toml", bad[i].doc, len, &t, &err);
		if (r != -EINVAL || strcmp(err_str(&err), bad[i].msg) != 0)
			fail_msg("case %zu: r=%d got \"%s\", want \"%s\"", i, r, err_str(&err),
				 bad[i].msg);
		assert_null(t);
		err_done(&err);
	}
}

static void test_depth_and_size_bounds(void **state)
{
	char doc[4 * TOML_MAX_DEPTH + 16];
	size_t n = 0;
	n += (size_t)snprintf(doc, sizeof(doc), "a = ");
	for (int i = 0; i < TOML_MAX_DEPTH + 2; i++)
		doc[n++] = '[';
	doc[n] = '\0';
	struct toml *t = NULL;
	struct err err = ERR_INIT;
	assert_int_equal(toml_parse("t.toml", doc, n, &t, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "nesting deeper"));
	err_done(&err);
	assert_int_equal(toml_parse("t.toml", doc, (size_t)TOML_MAX_SIZE + 1, &t, &err), -EFBIG);
	err_done(&err);
}

static void test_quote(void **state)
{
	cleanup_free char *q = toml_quote("a\"b\\c\nd\te\x01");
	assert_string_equal(q, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
	cleanup_free char *doc = xasprintf("k = %s\n", q);
	cleanup(toml_free) struct toml *t = parse_ok(doc);
	assert_string_equal(toml_string(toml_get(t, "k")), "a\"b\\c\nd\te\x01");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registries_conf),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_numbers_and_bools),
		cmocka_unit_test(test_tables_keys_arrays),
		cmocka_unit_test(test_crlf_bom_empty),
		cmocka_unit_test(test_invalid_documents),
		cmocka_unit_test(test_depth_and_size_bounds),
		cmocka_unit_test(test_quote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
