/* ids (generation, validation, prefix lookup) and the jansson helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"
#include "base/base.h"

static void test_id_new_valid(void **state)
{
	char a[ID_LEN + 1], b[ID_LEN + 1];
	assert_int_equal(id_new(a), 0);
	assert_int_equal(id_new(b), 0);
	assert_int_equal(strlen(a), 64);
	assert_true(id_valid(a));
	assert_string_not_equal(a, b);
	assert_false(id_valid(NULL));
	assert_false(id_valid(""));
	char up[ID_LEN + 1];
	memcpy(up, a, sizeof(up));
	up[3] = 'A';
	assert_false(id_valid(up));
	up[3] = 'g';
	assert_false(id_valid(up));
	char longer[ID_LEN + 2];
	memcpy(longer, a, ID_LEN);
	longer[ID_LEN] = '0';
	longer[ID_LEN + 1] = '\0';
	assert_false(id_valid(longer));
	a[63] = '\0';
	assert_false(id_valid(a));
	assert_true(id_prefix_valid("abc"));
	assert_false(id_prefix_valid(""));
	assert_false(id_prefix_valid("xyz"));
	assert_false(id_prefix_valid(longer));
}

static void fill(char *buf, const char *head)
{
	memset(buf, '0', ID_LEN);
	buf[ID_LEN] = '\0';
	memcpy(buf, head, strlen(head));
}

static void test_id_set_lookup(void **state)
{
	struct id_set set = ID_SET_INIT;
	char a[ID_LEN + 1], b[ID_LEN + 1], c[ID_LEN + 1];
	fill(a, "abc1");
	fill(b, "abc2");
	fill(c, "f00d");
	assert_int_equal(id_set_add(&set, c), 0);
	assert_int_equal(id_set_add(&set, b), 0);
	assert_int_equal(id_set_add(&set, a), 0);
	assert_int_equal(id_set_add(&set, a), -EEXIST);
	assert_int_equal(id_set_add(&set, "abc"), -EINVAL);
	assert_string_equal(set.ids[0], a); /* kept sorted */
	assert_string_equal(set.ids[2], c);
	assert_true(id_set_contains(&set, b));

	const char *got = NULL;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(id_set_lookup(&set, "abc1", &got, &err), 0);
	assert_string_equal(got, a);
	assert_int_equal(id_set_lookup(&set, "f", &got, &err), 0);
	assert_string_equal(got, c);
	assert_int_equal(id_set_lookup(&set, c, &got, &err), 0);
	assert_int_equal(id_set_lookup(&set, "abc", &got, &err), -ENOTUNIQ);
	assert_string_equal(err_str(&err), "id prefix 'abc' is ambiguous (2 matches)");
	assert_int_equal(id_set_lookup(&set, "abd", &got, &err), -ENOENT);
	assert_string_equal(err_str(&err), "no id starts with 'abd'");
	assert_int_equal(id_set_lookup(&set, "ABC", &got, &err), -EINVAL);
	assert_int_equal(id_set_lookup(&set, "", &got, &err), -EINVAL);

	assert_int_equal(id_set_remove(&set, b), 0);
	assert_int_equal(id_set_remove(&set, b), -ENOENT);
	assert_int_equal(id_set_lookup(&set, "abc", &got, &err), 0);
	assert_string_equal(got, a);
	id_set_done(&set);
	assert_int_equal(set.n, 0);
	assert_int_equal(id_set_lookup(&set, "a", &got, &err), -ENOENT);

	/* many random ids stay sorted and all resolvable by full id */
	for (int i = 0; i < 500; i++) {
		char id[ID_LEN + 1];
		assert_int_equal(id_new(id), 0);
		assert_int_equal(id_set_add(&set, id), 0);
	}
	for (size_t i = 1; i < set.n; i++)
		assert_true(strcmp(set.ids[i - 1], set.ids[i]) < 0);
	for (size_t i = 0; i < set.n; i++) {
		assert_int_equal(id_set_lookup(&set, set.ids[i], &got, &err), 0);
		assert_ptr_equal(got, set.ids[i]);
	}
	id_set_done(&set);
	id_set_done(NULL);
}

static void test_json_load_dump(void **state)
{
	json_t *v = NULL;
	cleanup_err struct err err = ERR_INIT;
	const char *doc = "{\"b\": 1, \"a\": [true, null, \"x\"]}";
	assert_int_equal(js_load("m.json", doc, strlen(doc), 1024, &v, &err), 0);
	char *s = js_dump(v, JS_DUMP_SORTED);
	assert_string_equal(s, "{\"a\":[true,null,\"x\"],\"b\":1}");
	free(s);
	s = js_dump(v, 0);
	assert_string_equal(s, "{\"b\":1,\"a\":[true,null,\"x\"]}");
	free(s);
	json_decref(v);
	assert_int_equal(js_load("m.json", doc, strlen(doc), 10, &v, &err), -EFBIG);
	const char *bad = "{\n  \"a\": 1,\n  \"a\": 2\n}";
	assert_int_equal(js_load("m.json", bad, strlen(bad), 1024, &v, &err), -EINVAL);
	assert_true(str_has_prefix(err_str(&err), "m.json:3:"));
	const char *broken = "[1, 2";
	assert_int_equal(js_load("b.json", broken, strlen(broken), 1024, &v, &err), -EINVAL);
	assert_true(str_has_prefix(err_str(&err), "b.json:1:"));
	assert_int_equal(js_load("n.json", "\"a\0b\"", 5, 1024, &v, &err), -EINVAL);
	assert_int_equal(js_load("s.json", "7", 1, 1024, &v, &err), 0);
	assert_true(json_is_integer(v));
	json_decref(v);
}

static void test_json_getters(void **state)
{
	json_t *root = NULL;
	cleanup_err struct err err = ERR_INIT;
	const char *doc = "{\"layers\": [{\"size\": 1}, {\"size\": 2}, {\"size\": \"big\", "
			  "\"digest\": \"sha256:x\", \"neg\": -1, \"ok\": true, \"nul\": null}]}";
	assert_int_equal(js_load("m", doc, strlen(doc), 4096, &root, &err), 0);
	const json_t *layers;
	assert_int_equal(js_get(root, "", "layers", JSON_ARRAY, true, &layers, &err), 0);
	const json_t *l2 = json_array_get(layers, 2);
	cleanup_free char *p = js_path_index("layers", 2);
	assert_string_equal(p, "layers[2]");

	int64_t i;
	assert_int_equal(js_get_int(l2, p, "size", 0, &i, &err), -EINVAL);
	assert_string_equal(err_str(&err), "layers[2].size: expected integer, got string");
	assert_int_equal(js_get_int(json_array_get(layers, 1), "layers[1]", "size", 0, &i, &err),
			 0);
	assert_int_equal(i, 2);
	assert_int_equal(js_get_int(l2, p, "missing", 42, &i, &err), 0);
	assert_int_equal(i, 42);
	assert_int_equal(js_get_int(l2, p, "nul", 43, &i, &err), 0);
	assert_int_equal(i, 43);

	const char *s;
	assert_int_equal(js_get_str(l2, p, "digest", NULL, &s, &err), 0);
	assert_string_equal(s, "sha256:x");
	assert_int_equal(js_get_str(l2, p, "nope", "dflt", &s, &err), 0);
	assert_string_equal(s, "dflt");
	assert_int_equal(js_get_str(l2, p, "ok", NULL, &s, &err), -EINVAL);
	assert_string_equal(err_str(&err), "layers[2].ok: expected string, got boolean");

	uint64_t u;
	assert_int_equal(js_get_uint(l2, p, "neg", 0, &u, &err), -EINVAL);
	assert_string_equal(err_str(&err), "layers[2].neg: expected a non-negative integer");
	assert_int_equal(js_get_uint(l2, p, "missing", 9, &u, &err), 0);
	assert_int_equal(u, 9);

	bool b = false;
	assert_int_equal(js_get_bool(l2, p, "ok", false, &b, &err), 0);
	assert_true(b);
	assert_int_equal(js_get_bool(l2, p, "digest", false, &b, &err), -EINVAL);

	const json_t *v;
	assert_int_equal(js_get(l2, p, "missing", JSON_OBJECT, true, &v, &err), -EINVAL);
	assert_string_equal(err_str(&err), "layers[2].missing: missing");
	assert_int_equal(js_get(layers, "layers", "x", JSON_OBJECT, false, &v, &err), -EINVAL);
	assert_string_equal(err_str(&err), "layers: expected object, got array");
	cleanup_free char *k = js_path_key("", "top");
	assert_string_equal(k, "top");
	json_decref(root);
}

static void test_json_strv(void **state)
{
	json_t *root = NULL;
	cleanup_err struct err err = ERR_INIT;
	const char *doc = "{\"cmd\": [\"sh\", \"-c\"], \"none\": null, \"empty\": [], "
			  "\"bad\": [\"a\", 1], \"str\": \"x\"}";
	assert_int_equal(js_load("m", doc, strlen(doc), 4096, &root, &err), 0);
	cleanup(strv_free) char **v = NULL;
	assert_int_equal(js_get_strv(root, "cfg", "cmd", &v, &err), 0);
	assert_int_equal(strv_len(v), 2);
	assert_string_equal(v[0], "sh");
	assert_string_equal(v[1], "-c");
	strv_free(v);
	assert_int_equal(js_get_strv(root, "cfg", "none", &v, &err), 0);
	assert_null(v);
	assert_int_equal(js_get_strv(root, "cfg", "missing", &v, &err), 0);
	assert_null(v);
	assert_int_equal(js_get_strv(root, "cfg", "empty", &v, &err), 0);
	assert_non_null(v);
	assert_null(v[0]);
	strv_free(v);
	v = NULL;
	assert_int_equal(js_get_strv(root, "cfg", "bad", &v, &err), -EINVAL);
	assert_string_equal(err_str(&err), "cfg.bad[1]: expected string, got integer");
	assert_null(v);
	assert_int_equal(js_get_strv(root, "cfg", "str", &v, &err), -EINVAL);
	assert_string_equal(err_str(&err), "cfg.str: expected array, got string");
	assert_null(v);
	const json_t *a = NULL;
	assert_int_equal(js_get_str_array(root, "cfg", "cmd", 0, &a, &err), 0);
	assert_ptr_equal(a, json_object_get(root, "cmd"));
	assert_int_equal(js_get_str_array(root, "cfg", "missing", 0, &a, &err), 0);
	assert_null(a);
	assert_int_equal(js_get_str_array(root, "cfg", "cmd", JS_STRV_ENV, NULL, &err), -EINVAL);
	assert_string_equal(err_str(&err), "cfg.cmd[0]: expected a string NAME=VALUE, got 'sh'");
	assert_int_equal(js_get_str_array(root, "cfg", "bad", JS_STRV_ENV, &a, &err), -EINVAL);
	assert_null(a);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_new_valid),   cmocka_unit_test(test_id_set_lookup),
		cmocka_unit_test(test_json_load_dump), cmocka_unit_test(test_json_getters),
		cmocka_unit_test(test_json_strv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
