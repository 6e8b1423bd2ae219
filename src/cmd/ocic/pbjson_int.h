/* pbjson internals shared by pbjson.c (decoding) and pbjson_encode.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/** Size of one stored value of type `t` (an array element or a member). */
size_t pbjson_value_size(ProtobufCType t);

/** Whether field `f` of message type `parent` is a map: a repeated message
 *  of type "<Parent>.<Field>Entry" with fields key = 1 and value = 2
 *  (protoc's rule; protobuf-c keeps no map_entry flag). */
bool pbjson_is_map_field(const ProtobufCMessageDescriptor *parent,
			 const ProtobufCFieldDescriptor *f);
