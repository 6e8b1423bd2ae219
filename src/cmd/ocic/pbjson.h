/* pbjson: the protobuf JSON mapping over protobuf-c descriptors, for any
 * message type (crictl's input format and `-o json` output).
 *
 * Decoding accepts each field under its .proto name (`log_directory`) or
 * its lowerCamelCase JSON name (`logDirectory`); nested messages; repeated
 * fields (arrays); maps (objects; protobuf-c represents them as repeated
 * key/value entry messages); enums by name or number; 64-bit integers as a
 * JSON number or a decimal string; floats also as "NaN"/"Infinity"; bool;
 * bytes as base64 (standard or URL-safe, padding optional); oneofs (at most
 * one member). A JSON null leaves a field at its default. Unknown fields, a
 * field given twice (under both names), and values of the wrong type or out
 * of range are refused, naming the JSON path: `linux.security_context.
 * run_as_user.value: expected an integer, got a string`.
 *
 * Encoding follows protobuf's JSON printer: lowerCamelCase names, fields in
 * tag order, default values omitted, 64-bit integers as strings, enums by
 * name, bytes as base64, maps as objects. */
#pragma once

#include <stddef.h>

#include "base/json.h"
#include <protobuf-c/protobuf-c.h>

#include "base/err.h"

/** Largest JSON text pbjson_load_file reads. */
#define PBJSON_MAX_FILE (4u << 20)

/** Decode the JSON value `j` (an object) as a message of type `desc`. On
 *  success *ret is a new message owned by the caller (free with
 *  protobuf_c_message_free_unpacked(m, NULL)). On failure returns -EINVAL
 *  with the JSON path and the reason in `err`, and *ret is untouched. */
int pbjson_decode(const ProtobufCMessageDescriptor *desc, const json_t *j, ProtobufCMessage **ret,
		  struct err *err);

/** Parse `len` bytes of JSON text and decode them as pbjson_decode does.
 *  `name` prefixes syntax errors ("NAME:LINE:COL: ..."). -EINVAL on bad
 *  JSON or a bad message, -EFBIG when len > PBJSON_MAX_FILE. */
int pbjson_decode_text(const ProtobufCMessageDescriptor *desc, const char *name, const char *text,
		       size_t len, ProtobufCMessage **ret, struct err *err);

/** Read the file at `path` and decode it (errors start with the path).
 *  Returns -errno when the file cannot be read, else as pbjson_decode_text. */
int pbjson_load_file(const ProtobufCMessageDescriptor *desc, const char *path,
		     ProtobufCMessage **ret, struct err *err);

/** Encode `msg` as a JSON object (new reference; never NULL: aborts on OOM).
 *  Strings that are not valid UTF-8 get U+FFFD for each bad byte. */
json_t *pbjson_encode(const ProtobufCMessage *msg);

/** The lowerCamelCase JSON name of the .proto field name `name` (protoc's
 *  rule: drop each '_' and upper-case the letter after it), written into
 *  `buf` of `size` bytes (truncated, always NUL-terminated). Returns buf. */
char *pbjson_json_name(const char *name, char *buf, size_t size);
