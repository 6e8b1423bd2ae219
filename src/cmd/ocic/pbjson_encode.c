/* pbjson encoding: protobuf-c message -> JSON, as protobuf's JSON printer
 * writes it (lowerCamelCase names, defaults omitted, 64-bit integers as
 * strings, enums by name). */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "pbjson.h"
#include "pbjson_int.h"

#define NAME_MAX_LEN 128

static json_t *encode_message(const ProtobufCMessage *msg);

static json_t *must(json_t *j)
{
	if (!j)
		abort(); /* jansson fails only on OOM here (strings are made valid first) */
	return j;
}

static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	/* Overlongs, surrogates and values past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* A JSON string; invalid UTF-8 bytes become U+FFFD (protobuf-c does not
 * check what the peer sent). */
static json_t *string_value(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *buf, *o;

	if (j)
		return j;
	buf = xmalloc(len * 3 + 1);
	o = buf;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len((const unsigned char *)s + i, len - i);

		if (n == 0 || s[i] == '\0') {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(o, s + i, n);
			o += n;
			i += n;
		}
	}
	j = must(json_stringn(buf, (size_t)(o - buf)));
	free(buf);
	return j;
}

static json_t *b64_encode(const ProtobufCBinaryData *b)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc((b->len + 2) / 3 * 4 + 1), *o = out;
	json_t *j;

	for (size_t i = 0; i < b->len; i += 3) {
		uint32_t v = (uint32_t)b->data[i] << 16;
		size_t left = b->len - i;

		if (left > 1)
			v |= (uint32_t)b->data[i + 1] << 8;
		if (left > 2)
			v |= b->data[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = left > 1 ? tab[(v >> 6) & 63] : '=';
		*o++ = left > 2 ? tab[v & 63] : '=';
	}
	*o = '\0';
	j = must(json_string(out));
	free(out);
	return j;
}

static json_t *double_value(double d)
{
	if (isnan(d))
		return must(json_string("NaN"));
	if (isinf(d))
		return must(json_string(d > 0 ? "Infinity" : "-Infinity"));
	return must(json_real(d));
}

static json_t *enum_value(const ProtobufCEnumDescriptor *ed, int32_t v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);

	return must(ev ? json_string(ev->name) : json_integer(v));
}

/* One value of field f stored at p. */
static json_t *encode_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	char buf[32];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return must(json_integer(*(const int32_t *)p));
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return must(json_integer(*(const uint32_t *)p));
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)p);
		return must(json_string(buf));
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)p);
		return must(json_string(buf));
	case PROTOBUF_C_TYPE_FLOAT:
		return double_value(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return double_value(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return must(json_boolean(*(const protobuf_c_boolean *)p));
	case PROTOBUF_C_TYPE_ENUM:
		return enum_value(f->descriptor, *(const int32_t *)p);
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;

		return string_value(s ? s : "", s ? strlen(s) : 0);
	}
	case PROTOBUF_C_TYPE_BYTES:
		return b64_encode(p);
	case PROTOBUF_C_TYPE_MESSAGE:
	default:
		return encode_message(*(ProtobufCMessage *const *)p);
	}
}

/* Whether a proto3 singular value is its default (and so omitted). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	static const uint8_t zero[16];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return !*(char *const *)p || !**(char *const *)p;
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return !*(ProtobufCMessage *const *)p;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0 && !signbit(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0 && !signbit(*(const double *)p);
	default:
		return memcmp(p, zero, pbjson_value_size(f->type)) == 0;
	}
}

/* map<K, V> entries -> {"key": value}; keys as text. */
static json_t *encode_map(const ProtobufCFieldDescriptor *f, size_t n,
			  ProtobufCMessage *const *entries)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	json_t *obj = must(json_object());

	for (size_t i = 0; i < n; i++) {
		const char *e = (const char *)entries[i];
		json_t *k = encode_value(&ed->fields[0], e + ed->fields[0].offset);
		cleanup_free char *key = json_is_string(k) ? xstrdup(json_string_value(k))
							   : json_dumps(k, JSON_ENCODE_ANY);

		json_decref(k);
		json_object_set_new(obj, key ? key : "",
				    encode_value(&ed->fields[1], e + ed->fields[1].offset));
	}
	return obj;
}

static json_t *encode_field(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)msg;
	const void *p = base + f->offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		const char *arr = *(char *const *)p;
		json_t *a;

		if (n == 0)
			return NULL;
		if (pbjson_is_map_field(msg->descriptor, f))
			return encode_map(f, n, (ProtobufCMessage *const *)arr);
		a = must(json_array());
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
			    a, encode_value(f, arr + i * pbjson_value_size(f->type)));
		return a;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
			return NULL;
	} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
		   f->type != PROTOBUF_C_TYPE_MESSAGE) {
		if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
			return NULL;
	} else if (f->label != PROTOBUF_C_LABEL_REQUIRED && is_default(f, p)) {
		return NULL;
	}
	if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*(ProtobufCMessage *const *)p)
		return NULL;
	return encode_value(f, p);
}

static json_t *encode_message(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	json_t *obj = must(json_object());
	char name[NAME_MAX_LEN];

	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		json_t *v = encode_field(msg, f);

		if (v)
			json_object_set_new(obj, pbjson_json_name(f->name, name, sizeof(name)), v);
	}
	return obj;
}

json_t *pbjson_encode(const ProtobufCMessage *msg)
{
	return encode_message(msg);
}
