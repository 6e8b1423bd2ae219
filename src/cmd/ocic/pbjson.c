/* pbjson decoding: JSON -> protobuf-c message, driven by descriptors only.
 *
 * Invariant while decoding: the message being filled is always valid for
 * protobuf_c_message_free_unpacked (every pointer is the field's default or
 * malloc'd, every n_ counts only finished elements), so any error simply
 * frees the whole tree. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "base/json.h"
#include "pbjson.h"
#include "pbjson_int.h"

/* Messages nest at most this deep (the CRI schema needs about 6). */
#define MAX_DEPTH 32
#define NAME_MAX_LEN 128

static int decode_message(const ProtobufCMessageDescriptor *desc, const json_t *obj,
			  const char *path, unsigned depth, ProtobufCMessage *msg, struct err *err);

char *pbjson_json_name(const char *name, char *buf, size_t size)
{
	size_t n = 0;
	bool upper = false;

	for (const char *p = name; *p && n + 1 < size; p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		buf[n++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		upper = false;
	}
	if (size)
		buf[n] = '\0';
	return buf;
}

static const char *where(const char *path)
{
	return str_empty(path) ? "(top level)" : path;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int expected(struct err *err, const char *path, const char *what, const json_t *v)
{
	return err_msg(err, -EINVAL, "%s: expected %s, got %s", where(path), what, json_kind(v));
}

bool pbjson_is_map_field(const ProtobufCMessageDescriptor *parent,
			 const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *e = f->descriptor;
	char camel[NAME_MAX_LEN];
	cleanup_free char *want = NULL;

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2 ||
	    strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0)
		return false;
	pbjson_json_name(f->name, camel, sizeof(camel));
	camel[0] = (char)(camel[0] >= 'a' && camel[0] <= 'z' ? camel[0] - 'a' + 'A' : camel[0]);
	want = xasprintf("%s.%sEntry", parent->name, camel);
	return strcmp(e->name, want) == 0;
}

/* Decimal integer text: optional '-', digits, nothing else. */
static int parse_int_text(const char *s, bool is_signed, int64_t *ret_s, uint64_t *ret_u)
{
	char *end;

	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return -EINVAL;
	errno = 0;
	if (is_signed)
		*ret_s = strtoll(s, &end, 10);
	else if (*s == '-')
		return -ERANGE;
	else
		*ret_u = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || *end)
		return -EINVAL;
	return 0;
}

/* Any JSON integer, integral real or decimal string, range-checked into
 * [min, max] (signed) or [0, umax] (unsigned). */
static int get_integer(const json_t *v, const char *path, bool is_signed, int64_t min, int64_t max,
		       uint64_t umax, int64_t *ret_s, uint64_t *ret_u, struct err *err)
{
	int64_t s = 0;
	uint64_t u = 0;
	int r = 0;

	if (json_is_integer(v)) {
		s = json_integer_value(v);
		if (!is_signed && s < 0)
			r = -ERANGE;
		u = (uint64_t)s;
	} else if (json_is_real(v)) {
		double d = json_real_value(v);

		if (d != floor(d))
			return err_msg(err, -EINVAL, "%s: expected an integer, got %g", where(path),
				       d);
		if (d < -9.2e18 || d > 1.8e19 || (!is_signed && d < 0))
			r = -ERANGE;
		else if (is_signed && d <= 9.2e18)
			s = (int64_t)d;
		else if (!is_signed)
			u = (uint64_t)d;
		else
			r = -ERANGE;
	} else if (json_is_string(v)) {
		r = parse_int_text(json_string_value(v), is_signed, &s, &u);
		if (r == -EINVAL)
			return err_msg(err, -EINVAL, "%s: expected an integer, got \"%.40s\"",
				       where(path), json_string_value(v));
	} else {
		return expected(err, path, "an integer", v);
	}
	if (r == 0 && is_signed && (s < min || s > max))
		r = -ERANGE;
	if (r == 0 && !is_signed && u > umax)
		r = -ERANGE;
	if (r < 0)
		return err_msg(err, -EINVAL, "%s: integer out of range [%lld, %llu]", where(path),
			       is_signed ? (long long)min : 0LL,
			       is_signed ? (unsigned long long)max : (unsigned long long)umax);
	*ret_s = s;
	*ret_u = u;
	return 0;
}

static int get_double(const json_t *v, const char *path, double *ret, struct err *err)
{
	const char *s;
	char *end;

	if (json_is_number(v)) {
		*ret = json_number_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return expected(err, path, "a number", v);
	s = json_string_value(v);
	if (strcmp(s, "NaN") == 0)
		*ret = NAN;
	else if (strcmp(s, "Infinity") == 0)
		*ret = INFINITY;
	else if (strcmp(s, "-Infinity") == 0)
		*ret = -INFINITY;
	else {
		errno = 0;
		*ret = strtod(s, &end);
		if (end == s || *end || !isfinite(*ret) || *s == ' ')
			return err_msg(err, -EINVAL, "%s: expected a number, got \"%.40s\"",
				       where(path), s);
	}
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, '=' padding optional. */
static int b64_decode(const char *s, size_t len, ProtobufCBinaryData *ret)
{
	uint8_t *out;
	size_t n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	out = xmalloc(len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)s[i]);

		if (v < 0) {
			free(out);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	ret->data = out;
	ret->len = n;
	return 0;
}

static int get_enum(const ProtobufCEnumDescriptor *ed, const json_t *v, const char *path,
		    int32_t *ret, struct err *err)
{
	const ProtobufCEnumValue *ev;
	int64_t s;
	uint64_t u;

	if (json_is_string(v)) {
		ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
		if (!ev) {
			cleanup_free char *names = NULL;

			for (unsigned i = 0; i < ed->n_values; i++) {
				char *t = xasprintf("%s%s%s", names ? names : "", names ? ", " : "",
						    ed->values[i].name);
				free(names);
				names = t;
			}
			return err_msg(err, -EINVAL, "%s: unknown %s value \"%.60s\" (one of: %s)",
				       where(path), ed->name, json_string_value(v),
				       names ? names : "");
		}
		*ret = ev->value;
		return 0;
	}
	if (!json_is_integer(v))
		return expected(err, path, "an enum name or number", v);
	if (get_integer(v, path, true, INT32_MIN, INT32_MAX, 0, &s, &u, err) < 0)
		return -EINVAL;
	*ret = (int32_t)s;
	return 0;
}

size_t pbjson_value_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4; /* 32-bit integers, enums, float */
	}
}

/* Integer types: [signed?, min, max, umax]. */
static int decode_int(const ProtobufCFieldDescriptor *f, const json_t *v, const char *path,
		      void *dst, struct err *err)
{
	int64_t s = 0;
	uint64_t u = 0;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (get_integer(v, path, true, INT32_MIN, INT32_MAX, 0, &s, &u, err) < 0)
			return -EINVAL;
		*(int32_t *)dst = (int32_t)s;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (get_integer(v, path, false, 0, 0, UINT32_MAX, &s, &u, err) < 0)
			return -EINVAL;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (get_integer(v, path, true, INT64_MIN, INT64_MAX, 0, &s, &u, err) < 0)
			return -EINVAL;
		*(int64_t *)dst = s;
		return 0;
	default:
		if (get_integer(v, path, false, 0, 0, UINT64_MAX, &s, &u, err) < 0)
			return -EINVAL;
		*(uint64_t *)dst = u;
		return 0;
	}
}

/* One value (not an array, not a map) of field `f` into `dst`, which has
 * pbjson_value_size(f->type) bytes. Messages are allocated here. */
static int decode_value(const ProtobufCFieldDescriptor *f, const json_t *v, const char *path,
			unsigned depth, void *dst, struct err *err)
{
	double d = 0;
	ProtobufCMessage *sub;

	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return expected(err, path, "true or false", v);
		*(protobuf_c_boolean *)dst = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		if (get_double(v, path, &d, err) < 0)
			return -EINVAL;
		if (f->type == PROTOBUF_C_TYPE_DOUBLE)
			*(double *)dst = d;
		else if (isfinite(d) && (d > 3.5e38 || d < -3.5e38))
			return err_msg(err, -EINVAL, "%s: number out of range for a float",
				       where(path));
		else
			*(float *)dst = (float)d;
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		return get_enum(f->descriptor, v, path, dst, err);
	case PROTOBUF_C_TYPE_STRING:
		if (!json_is_string(v))
			return expected(err, path, "a string", v);
		*(char **)dst = xstrdup(json_string_value(v));
		return 0;
	case PROTOBUF_C_TYPE_BYTES:
		if (!json_is_string(v))
			return expected(err, path, "a base64 string", v);
		if (b64_decode(json_string_value(v), json_string_length(v), dst) < 0)
			return err_msg(err, -EINVAL, "%s: invalid base64", where(path));
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (!json_is_object(v))
			return expected(err, path, "an object", v);
		if (depth >= MAX_DEPTH)
			return err_msg(err, -EINVAL, "%s: nested too deeply", where(path));
		sub = xzalloc(((const ProtobufCMessageDescriptor *)f->descriptor)->sizeof_message);
		protobuf_c_message_init(f->descriptor, sub);
		*(ProtobufCMessage **)dst = sub; /* owned by the parent from here on */
		return decode_message(f->descriptor, v, path, depth + 1, sub, err);
	default:
		return decode_int(f, v, path, dst, err);
	}
}

static void *member(ProtobufCMessage *msg, unsigned offset)
{
	return (char *)msg + offset;
}

/* Free what a failed decode_value left in a slot that was never counted
 * (only messages can be half-built). */
static void drop_value(const ProtobufCFieldDescriptor *f, void *slot)
{
	if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **)slot)
		protobuf_c_message_free_unpacked(*(ProtobufCMessage **)slot, NULL);
}

static int decode_array(const ProtobufCFieldDescriptor *f, const json_t *v, const char *path,
			unsigned depth, ProtobufCMessage *msg, struct err *err)
{
	size_t *n = member(msg, f->quantifier_offset);
	void **arr = member(msg, f->offset);
	size_t size = pbjson_value_size(f->type), i;
	json_t *e;

	if (!json_is_array(v))
		return expected(err, path, "an array", v);
	if (json_array_size(v) == 0)
		return 0;
	*arr = xcalloc(json_array_size(v), size);
	json_array_foreach(v, i, e)
	{
		cleanup_free char *p = js_path_index(path, i);
		void *slot = (char *)*arr + i * size;

		if (json_is_null(e))
			return err_msg(err, -EINVAL, "%s: null is not allowed in a list", p);
		if (decode_value(f, e, p, depth, slot, err) < 0) {
			drop_value(f, slot);
			return -EINVAL;
		}
		(*n)++;
	}
	return 0;
}

/* A map key is always a JSON string; decode it as the key field's type. */
static int decode_map_key(const ProtobufCFieldDescriptor *kf, const char *key, const char *path,
			  void *dst, struct err *err)
{
	json_t *k;
	int r;

	if (kf->type == PROTOBUF_C_TYPE_STRING) {
		*(char **)dst = xstrdup(key);
		return 0;
	}
	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
			return err_msg(err, -EINVAL, "%s: expected a key \"true\" or \"false\"",
				       path);
		*(protobuf_c_boolean *)dst = strcmp(key, "true") == 0;
		return 0;
	}
	k = json_string(key);
	r = decode_int(kf, k, path, dst, err);
	json_decref(k);
	return r;
}

static int decode_map(const ProtobufCFieldDescriptor *f, const json_t *v, const char *path,
		      unsigned depth, ProtobufCMessage *msg, struct err *err)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	size_t *n = member(msg, f->quantifier_offset);
	ProtobufCMessage ***arr = member(msg, f->offset);
	const char *key;
	json_t *e;

	if (!json_is_object(v))
		return expected(err, path, "an object (a map)", v);
	if (json_object_size(v) == 0)
		return 0;
	*arr = xcalloc(json_object_size(v), sizeof(**arr));
	json_object_foreach((json_t *)v, key, e)
	{
		cleanup_free char *p = xasprintf("%s[\"%s\"]", path, key);
		ProtobufCMessage *entry = xzalloc(ed->sizeof_message);

		protobuf_c_message_init(ed, entry);
		(*arr)[(*n)++] = entry;
		if (decode_map_key(&ed->fields[0], key, p, member(entry, ed->fields[0].offset),
				   err) < 0)
			return -EINVAL;
		if (json_is_null(e))
			return err_msg(err, -EINVAL, "%s: null is not allowed as a map value", p);
		if (decode_value(&ed->fields[1], e, p, depth, member(entry, ed->fields[1].offset),
				 err) < 0)
			return -EINVAL;
	}
	return 0;
}

/* Singular field: value, presence flag (proto2 optional), oneof case. */
static int decode_single(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *f,
			 const json_t *v, const char *path, unsigned depth, ProtobufCMessage *msg,
			 struct err *err)
{
	void *dst = member(msg, f->offset);
	int r;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t *which = member(msg, f->quantifier_offset);

		if (*which != 0 && *which != f->id) {
			const ProtobufCFieldDescriptor *o =
			    protobuf_c_message_descriptor_get_field(desc, *which);

			return err_msg(err, -EINVAL,
				       "%s: only one of a oneof may be set (also got %s)", path,
				       o ? o->name : "another");
		}
		/* The case is set first so a half-built message is freed. */
		*which = f->id;
	}
	r = decode_value(f, v, path, depth, dst, err);
	if (r < 0)
		return r;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		*(protobuf_c_boolean *)member(msg, f->quantifier_offset) = 1;
	return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
						  const char *key)
{
	char camel[NAME_MAX_LEN];

	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];

		if (strcmp(f->name, key) == 0 ||
		    strcmp(pbjson_json_name(f->name, camel, sizeof(camel)), key) == 0)
			return f;
	}
	return NULL;
}

static int unknown_field(const ProtobufCMessageDescriptor *desc, const char *path, struct err *err)
{
	cleanup_free char *names = NULL;

	for (unsigned i = 0; i < desc->n_fields; i++) {
		char *t = xasprintf("%s%s%s", names ? names : "", names ? ", " : "",
				    desc->fields[i].name);
		free(names);
		names = t;
	}
	return err_msg(err, -EINVAL, "%s: unknown field (%s has: %s)", path, desc->name,
		       names ? names : "no fields");
}

static int decode_message(const ProtobufCMessageDescriptor *desc, const json_t *obj,
			  const char *path, unsigned depth, ProtobufCMessage *msg, struct err *err)
{
	cleanup_free const char **seen = xcalloc(desc->n_fields + 1, sizeof(*seen));
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return expected(err, path, "an object", obj);
	json_object_foreach((json_t *)obj, key, v)
	{
		const ProtobufCFieldDescriptor *f = find_field(desc, key);
		cleanup_free char *p = js_path_key(path, key);
		size_t idx;
		int r;

		if (!f)
			return unknown_field(desc, p, err);
		idx = (size_t)(f - desc->fields);
		if (seen[idx])
			return err_msg(err, -EINVAL, "%s: field given twice (also as \"%s\")", p,
				       seen[idx]);
		seen[idx] = key;
		if (json_is_null(v))
			continue;
		if (pbjson_is_map_field(desc, f))
			r = decode_map(f, v, p, depth, msg, err);
		else if (f->label == PROTOBUF_C_LABEL_REPEATED)
			r = decode_array(f, v, p, depth, msg, err);
		else
			r = decode_single(desc, f, v, p, depth, msg, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int pbjson_decode(const ProtobufCMessageDescriptor *desc, const json_t *j, ProtobufCMessage **ret,
		  struct err *err)
{
	ProtobufCMessage *msg;

	if (!json_is_object(j))
		return expected(err, "", "an object", j);
	msg = xzalloc(desc->sizeof_message);
	protobuf_c_message_init(desc, msg);
	if (decode_message(desc, j, "", 0, msg, err) < 0) {
		protobuf_c_message_free_unpacked(msg, NULL);
		return -EINVAL;
	}
	*ret = msg;
	return 0;
}

int pbjson_decode_text(const ProtobufCMessageDescriptor *desc, const char *name, const char *text,
		       size_t len, ProtobufCMessage **ret, struct err *err)
{
	json_t *j = NULL;
	int r = js_load(name, text, len, PBJSON_MAX_FILE, &j, err);

	if (r < 0)
		return r;
	r = pbjson_decode(desc, j, ret, err);
	json_decref(j);
	return r;
}

int pbjson_load_file(const ProtobufCMessageDescriptor *desc, const char *path,
		     ProtobufCMessage **ret, struct err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 0;
	json_t *j = NULL;
	int r;

	if (fd < 0)
		return err_set(err, -errno, "open '%s'", path);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > PBJSON_MAX_FILE)
				return err_msg(err, -EFBIG, "%s: larger than %u bytes", path,
					       PBJSON_MAX_FILE);
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(err, -errno, "read '%s'", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = js_load(path, buf ? buf : "", len, PBJSON_MAX_FILE, &j, err);
	if (r < 0)
		return r;
	r = pbjson_decode(desc, j, ret, err);
	json_decref(j);
	if (r < 0)
		return err_wrap(err, "%s", path);
	return 0;
}
