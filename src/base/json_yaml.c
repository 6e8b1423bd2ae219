/* YAML documents as JSON values, through libyaml's events: the files of
 * the containers ecosystem written in YAML (registries.d, CDI specs) are
 * read by the same code as their JSON forms. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/base.h"
#include "base/json.h"

#define YAML_DEPTH_MAX 32

struct yp {
	yaml_parser_t p;
	const char *name;
	unsigned flags;
};

static int next(struct yp *y, yaml_event_t *ev, struct err *err)
{
	if (!yaml_parser_parse(&y->p, ev))
		return err_msg(err, -EINVAL, "%s: line %zu: %s", y->name,
			       y->p.problem_mark.line + 1,
			       y->p.problem ? y->p.problem : "invalid YAML");
	return 0;
}

static json_t *scalar(const struct yp *y, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	if ((y->flags & JS_YAML_TYPED) && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		int64_t n;
		if (str_to_i64(v, INT64_MIN, INT64_MAX, &n) == 0)
			return json_integer(n);
		if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
			return json_boolean(v[0] == 't');
		if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || !*v)
			return json_null();
	}
	return json_stringn(v, ev->data.scalar.length); /* NULL: not UTF-8 */
}

static int node(struct yp *y, yaml_event_t *ev, int depth, json_t **ret, struct err *err);

static int collection(struct yp *y, bool map, int depth, json_t **ret, struct err *err)
{
	json_t *c = map ? json_object() : json_array();
	for (;;) {
		yaml_event_t ev;
		int r = next(y, &ev, err);
		if (r < 0) {
			json_decref(c);
			return r;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			*ret = c;
			return 0;
		}
		json_t *key = NULL, *val = NULL;
		size_t line = ev.start_mark.line + 1;
		if (map && ev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&ev);
			r = err_msg(err, -EINVAL, "%s: line %zu: a mapping key must be a scalar",
				    y->name, line);
		} else {
			r = node(y, &ev, depth + 1, map ? &key : &val, err);
		}
		if (r >= 0 && map && !json_is_string(key))
			r = err_msg(err, -EINVAL, "%s: line %zu: a mapping key must be a string",
				    y->name, line);
		if (r >= 0 && map && json_object_get(c, json_string_value(key)))
			r = err_msg(err, -EINVAL, "%s: line %zu: key \"%.100s\" is given twice",
				    y->name, line, json_string_value(key));
		if (r >= 0 && map) {
			yaml_event_t vev;
			r = next(y, &vev, err);
			if (r >= 0)
				r = node(y, &vev, depth + 1, &val, err);
		}
		if (r >= 0 && map)
			json_object_set_new(c, json_string_value(key), val);
		else if (r >= 0)
			json_array_append_new(c, val);
		json_decref(key);
		if (r < 0) {
			json_decref(c);
			return r;
		}
	}
}

static bool anchored(const yaml_event_t *ev)
{
	return ev->type == YAML_ALIAS_EVENT ||
	       (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
	       (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor) ||
	       (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor);
}

/* Consumes `ev`. */
static int node(struct yp *y, yaml_event_t *ev, int depth, json_t **ret, struct err *err)
{
	int r = 0;
	size_t line = ev->start_mark.line + 1;
	if (depth > YAML_DEPTH_MAX)
		r = err_msg(err, -EINVAL, "%s: nested deeper than %d", y->name, YAML_DEPTH_MAX);
	else if (anchored(ev))
		r = err_msg(err, -EINVAL, "%s: line %zu: anchors and aliases are not supported",
			    y->name, line);
	else if (ev->type == YAML_SCALAR_EVENT && !(*ret = scalar(y, ev)))
		r = err_msg(err, -EINVAL, "%s: line %zu: text that is not UTF-8", y->name, line);
	else if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		yaml_event_delete(ev);
		return collection(y, map, depth, ret, err);
	} else if (ev->type != YAML_SCALAR_EVENT)
		r = err_msg(err, -EINVAL, "%s: line %zu: unexpected YAML", y->name, line);
	yaml_event_delete(ev);
	return r;
}

int js_load_yaml(const char *name, const char *text, size_t len, unsigned flags, json_t **ret,
		 struct err *err)
{
	if (memchr(text, '\0', len))
		return err_msg(err, -EINVAL, "%s: a NUL byte", name);
	struct yp y = { .name = name, .flags = flags };
	if (!yaml_parser_initialize(&y.p))
		abort();
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	yaml_event_t ev;
	int r = 0;
	*ret = NULL;
	while (r >= 0 && !*ret) {
		r = next(&y, &ev, err);
		if (r < 0)
			break;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			*ret = json_null();
		} else if (ev.type == YAML_STREAM_START_EVENT ||
			   ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
		} else {
			r = node(&y, &ev, 0, ret, err);
		}
	}
	yaml_parser_delete(&y.p);
	return r;
}
