/* CDI specs written as YAML (what most vendor tools write): the document is
 * turned into the JSON value the JSON path parses, through libyaml's
 * events. Plain scalars that read as integers or booleans become those;
 * anchors and aliases are refused (a spec has no use for them, and they are
 * how YAML documents blow up). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/base.h"
#include "base/json.h"
#include "oci/oci.h"

#define YAML_DEPTH_MAX 32

static int next(yaml_parser_t *p, yaml_event_t *ev, const char *name, struct err *err)
{
	if (!yaml_parser_parse(p, ev))
		return err_msg(err, -EINVAL, "%s:%zu:%zu: %s", name, p->problem_mark.line + 1,
			       p->problem_mark.column + 1, p->problem ? p->problem : "bad YAML");
	return 0;
}

static json_t *scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		int64_t n;
		if (str_to_i64(v, INT64_MIN, INT64_MAX, &n) == 0)
			return json_integer(n);
		if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
			return json_boolean(v[0] == 't');
		if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || !*v)
			return json_null();
	}
	return json_stringn(v, ev->data.scalar.length);
}

static int node(yaml_parser_t *p, yaml_event_t *ev, const char *name, int depth, json_t **ret,
		struct err *err);

static int collection(yaml_parser_t *p, bool map, const char *name, int depth, json_t **ret,
		      struct err *err)
{
	json_t *c = map ? json_object() : json_array();
	for (;;) {
		yaml_event_t ev;
		int r = next(p, &ev, name, err);
		if (r < 0) {
			json_decref(c);
			return r;
		}
		if (ev.type == (map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
			yaml_event_delete(&ev);
			*ret = c;
			return 0;
		}
		json_t *key = NULL, *val = NULL;
		if (map) {
			r = ev.type == YAML_SCALAR_EVENT
				? 0
				: err_msg(err, -EINVAL, "%s:%zu: a mapping key must be a scalar",
					  name, ev.start_mark.line + 1);
			if (r >= 0)
				key = json_stringn((const char *)ev.data.scalar.value,
						   ev.data.scalar.length);
			yaml_event_delete(&ev);
			if (r >= 0)
				r = next(p, &ev, name, err);
		}
		if (r >= 0)
			r = node(p, &ev, name, depth + 1, &val, err);
		if (r < 0) {
			json_decref(key);
			json_decref(c);
			return r;
		}
		if (map)
			json_object_set_new(c, json_string_value(key), val);
		else
			json_array_append_new(c, val);
		json_decref(key);
	}
}

/* Consumes `ev`. */
static int node(yaml_parser_t *p, yaml_event_t *ev, const char *name, int depth, json_t **ret,
		struct err *err)
{
	int r = 0;
	if (depth > YAML_DEPTH_MAX)
		r = err_msg(err, -EINVAL, "%s: nested deeper than %d", name, YAML_DEPTH_MAX);
	else if (ev->type == YAML_ALIAS_EVENT ||
		 (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
		 (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor) ||
		 (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor))
		r = err_msg(err, -EINVAL, "%s:%zu: anchors and aliases are not supported", name,
			    ev->start_mark.line + 1);
	else if (ev->type == YAML_SCALAR_EVENT)
		*ret = scalar(ev);
	else if (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT) {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		yaml_event_delete(ev);
		return collection(p, map, name, depth, ret, err);
	} else
		r = err_msg(err, -EINVAL, "%s:%zu: unexpected YAML", name, ev->start_mark.line + 1);
	yaml_event_delete(ev);
	return r;
}

int oci_cdi_yaml_to_json(const char *name, const char *text, size_t len, char **ret,
			 struct err *err)
{
	if (memchr(text, '\0', len))
		return err_msg(err, -EINVAL, "%s: a NUL byte", name);
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		abort();
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	json_t *doc = NULL;
	yaml_event_t ev;
	int r = next(&p, &ev, name, err); /* stream start */
	if (r >= 0) {
		yaml_event_delete(&ev);
		r = next(&p, &ev, name, err); /* document start */
	}
	if (r >= 0 && ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		r = err_msg(err, -EINVAL, "%s: an empty document", name);
	}
	if (r >= 0) {
		yaml_event_delete(&ev);
		r = next(&p, &ev, name, err);
	}
	if (r >= 0)
		r = node(&p, &ev, name, 0, &doc, err);
	yaml_parser_delete(&p);
	if (r < 0)
		return r;
	*ret = js_dump(doc, 0);
	json_decref(doc);
	return 0;
}
