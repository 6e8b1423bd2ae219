/* Fuzz the WebSocket frame parser: the input is what a client sent. It is
 * parsed whole and again a byte at a time (as a slow peer delivers it);
 * both must give the same events and the same verdict. Each message event
 * re-encoded as a client frame must parse back to itself. */
#include <string.h>

#include "stream/stream_int.h"

struct outcome {
	size_t events;
	uint64_t sum; /* over opcodes, lengths, close codes and data */
	uint16_t close;
};

static void note(struct outcome *o, const struct ws_event *ev)
{
	if (ev->len > WS_MAX_MESSAGE || !ev->data)
		__builtin_trap();
	o->events++;
	o->sum = o->sum * 31 + ev->opcode;
	o->sum = o->sum * 31 + ev->len;
	o->sum = o->sum * 31 + ev->close_code;
	for (size_t i = 0; i < ev->len; i++)
		o->sum = o->sum * 31 + ev->data[i];
}

static void round_trip(const struct ws_event *ev)
{
	static const uint8_t mask[4] = { 1, 2, 3, 4 };
	if (ev->opcode == WS_CLOSE)
		return;
	struct sbuf b = { 0 };
	ws_put_client_frame(&b, ev->opcode, ev->data, ev->len, mask);
	struct ws_parser ps = { 0 };
	struct ws_event ev2;
	bool have;
	uint16_t code;
	if (ws_parse(&ps, b.p, b.len, &ev2, &have, &code) != (ssize_t)b.len || !have ||
	    ev2.opcode != ev->opcode || ev2.len != ev->len || memcmp(ev2.data, ev->data, ev->len))
		__builtin_trap();
	ws_parser_done(&ps);
	sbuf_done(&b);
}

static void whole(const uint8_t *data, size_t size, struct outcome *o)
{
	struct ws_parser ps = { 0 };
	size_t off = 0;
	for (;;) {
		struct ws_event ev;
		bool have;
		ssize_t r = ws_parse(&ps, data + off, size - off, &ev, &have, &o->close);
		if (r < 0 || (size_t)r > size - off)
			break;
		off += (size_t)r;
		if (!have)
			break;
		note(o, &ev);
		round_trip(&ev);
	}
	ws_parser_done(&ps);
}

static void bytewise(const uint8_t *data, size_t size, struct outcome *o)
{
	struct ws_parser ps = { 0 };
	struct sbuf in = { 0 };
	for (size_t i = 0; i < size && !o->close; i++) {
		sbuf_add(&in, data + i, 1);
		for (;;) {
			struct ws_event ev;
			bool have;
			ssize_t r =
			    ws_parse(&ps, in.p + in.off, sbuf_pending(&in), &ev, &have, &o->close);
			if (r < 0)
				break;
			sbuf_take(&in, (size_t)r);
			if (!have)
				break;
			note(o, &ev);
		}
	}
	ws_parser_done(&ps);
	sbuf_done(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a = { 0 }, b = { 0 };
	whole(data, size, &a);
	bytewise(data, size, &b);
	if (a.events != b.events || a.sum != b.sum || a.close != b.close)
		__builtin_trap();
	return 0;
}
