#include "base/json.h"

#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/mem.h"
#include "base/str.h"

int js_load(const char *name, const char *buf, size_t len, size_t max, json_t **ret,
	    struct err *err)
{
	if (len > max)
		return err_msg(err, -EFBIG, "%s: larger than %zu bytes", name, max);
	json_error_t je;
	json_t *v = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!v)
		return err_msg(err, -EINVAL, "%s:%d:%d: %s", name, je.line, je.column, je.text);
	*ret = v;
	return 0;
}

char *js_dump(const json_t *v, unsigned flags)
{
	size_t f = JSON_ENCODE_ANY | ((flags & JS_DUMP_SORTED) ? JSON_SORT_KEYS : 0) |
		   ((flags & JS_DUMP_PRETTY) ? JSON_INDENT(2) : JSON_COMPACT);
	char *s = json_dumps(v, f);
	if (!s)
		abort(); /* only fails on allocation failure or invalid UTF-8 we never store */
	return s;
}

char *js_path_key(const char *path, const char *key)
{
	return str_empty(path) ? xstrdup(key) : xasprintf("%s.%s", path, key);
}

char *js_path_index(const char *path, size_t i)
{
	return xasprintf("%s[%zu]", path ? path : "", i);
}

static const char *type_str(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

int js_get(const json_t *obj, const char *path, const char *key, json_type type, bool required,
	   const json_t **ret, struct err *err)
{
	*ret = NULL;
	if (!json_is_object(obj))
		return err_msg(err, -EINVAL, "%s: expected object, got %s",
			       str_empty(path) ? "(root)" : path,
			       obj ? type_str(json_typeof(obj)) : "nothing");
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		cleanup_free char *p = js_path_key(path, key);
		return err_msg(err, -EINVAL, "%s: missing", p);
	}
	bool ok = json_typeof(v) == type ||
		  ((type == JSON_TRUE || type == JSON_FALSE) && json_is_boolean(v)) ||
		  (type == JSON_REAL && json_is_integer(v));
	if (!ok) {
		cleanup_free char *p = js_path_key(path, key);
		return err_msg(err, -EINVAL, "%s: expected %s, got %s", p, type_str(type),
			       type_str(json_typeof(v)));
	}
	*ret = v;
	return 0;
}

int js_get_str(const json_t *obj, const char *path, const char *key, const char *def,
	       const char **ret, struct err *err)
{
	const json_t *v;
	int r = js_get(obj, path, key, JSON_STRING, false, &v, err);
	if (r < 0)
		return r;
	*ret = v ? json_string_value(v) : def;
	return 0;
}

int js_get_str_array(const json_t *obj, const char *path, const char *key, unsigned flags,
		     const json_t **ret, struct err *err)
{
	const json_t *v;
	if (ret)
		*ret = NULL;
	int r = js_get(obj, path, key, JSON_ARRAY, false, &v, err);
	if (r < 0 || !v)
		return r;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);
		bool env = flags & JS_STRV_ENV;
		if (json_is_string(e) && (!env || strchr(json_string_value(e), '=')))
			continue;
		cleanup_free char *p = js_path_key(path, key);
		if (!json_is_string(e))
			return err_msg(err, -EINVAL, "%s[%zu]: expected string, got %s", p, i,
				       type_str(json_typeof(e)));
		return err_msg(err, -EINVAL, "%s[%zu]: expected a string NAME=VALUE, got '%s'", p,
			       i, json_string_value(e));
	}
	if (ret)
		*ret = v;
	return 0;
}

int js_get_strv(const json_t *obj, const char *path, const char *key, char ***ret, struct err *err)
{
	const json_t *v;
	*ret = NULL;
	int r = js_get_str_array(obj, path, key, 0, &v, err);
	if (r < 0 || !v)
		return r;
	char **out = xcalloc(json_array_size(v) + 1, sizeof(char *));
	for (size_t i = 0; i < json_array_size(v); i++)
		out[i] = xstrdup(json_string_value(json_array_get(v, i)));
	*ret = out;
	return 0;
}

int js_get_int(const json_t *obj, const char *path, const char *key, int64_t def, int64_t *ret,
	       struct err *err)
{
	const json_t *v;
	int r = js_get(obj, path, key, JSON_INTEGER, false, &v, err);
	if (r < 0)
		return r;
	*ret = v ? (int64_t)json_integer_value(v) : def;
	return 0;
}

int js_get_uint(const json_t *obj, const char *path, const char *key, uint64_t def, uint64_t *ret,
		struct err *err)
{
	int64_t i;
	int r = js_get_int(obj, path, key, (int64_t)def, &i, err);
	if (r < 0)
		return r;
	if (i < 0 && json_object_get(obj, key)) {
		cleanup_free char *p = js_path_key(path, key);
		return err_msg(err, -EINVAL, "%s: expected a non-negative integer", p);
	}
	*ret = json_object_get(obj, key) && !json_is_null(json_object_get(obj, key)) ? (uint64_t)i
										     : def;
	return 0;
}

int js_get_bool(const json_t *obj, const char *path, const char *key, bool def, bool *ret,
		struct err *err)
{
	const json_t *v;
	int r = js_get(obj, path, key, JSON_TRUE, false, &v, err);
	if (r < 0)
		return r;
	*ret = v ? json_is_true(v) : def;
	return 0;
}
