/* Fuzz pbjson: arbitrary JSON text decoded as runtime.v1 PodSandboxConfig
 * and ContainerConfig. Whatever decodes must encode, decode again and pack
 * to the same bytes (the round trip ocic relies on). The same input read as
 * protobuf wire data (what a daemon could send) must encode to valid JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.pb-c.h"
#include "base/base.h"
#include "pbjson.h"

static void check_round_trip(const ProtobufCMessage *m)
{
	cleanup_err struct err err = ERR_INIT;
	ProtobufCMessage *again = NULL;
	json_t *j = pbjson_encode(m);
	size_t la, lb;
	uint8_t *a, *b;

	if (pbjson_decode(m->descriptor, j, &again, &err) < 0)
		abort(); /* our own output must decode */
	la = protobuf_c_message_get_packed_size(m);
	lb = protobuf_c_message_get_packed_size(again);
	if (la != lb)
		abort();
	a = xmalloc(la + 1);
	b = xmalloc(lb + 1);
	protobuf_c_message_pack(m, a);
	protobuf_c_message_pack(again, b);
	if (memcmp(a, b, la) != 0)
		abort();
	free(a);
	free(b);
	json_decref(j);
	protobuf_c_message_free_unpacked(again, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const types[] = {
		&runtime__v1__pod_sandbox_config__descriptor,
		&runtime__v1__container_config__descriptor,
	};

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		cleanup_err struct err err = ERR_INIT;
		ProtobufCMessage *m = NULL;

		json_t *j;
		char *text;

		if (pbjson_decode_text(types[i], "fuzz", (const char *)data, size, &m, &err) == 0) {
			check_round_trip(m);
			protobuf_c_message_free_unpacked(m, NULL);
		}
		m = protobuf_c_message_unpack(types[i], NULL, size, data);
		if (!m)
			continue;
		j = pbjson_encode(m);
		text = json_dumps(j, JSON_COMPACT);
		if (!text)
			abort(); /* the encoder must only make valid JSON */
		free(text);
		json_decref(j);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}
