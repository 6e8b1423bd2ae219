/* Fuzz the CRI log record parser and the line joiner of ocic ctr logs: the
 * first byte picks the joiner's line bound, the rest is a log file. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "crilog.h"

struct seen {
	size_t max;
	size_t total; /* bytes of text emitted */
	unsigned sum;
};

static void emit(void *data, const struct crilog_line *l)
{
	struct seen *s = data;

	assert(l->malformed || l->len <= s->max);
	assert(l->time_len <= CRILOG_TIME_MAX);
	assert(l->stream == MON_STREAM_STDOUT || l->stream == MON_STREAM_STDERR);
	/* Every byte is read, for the sanitizers to see. */
	for (size_t i = 0; i < l->len; i++)
		s->sum += (unsigned char)l->text[i];
	for (size_t i = 0; i < l->time_len; i++)
		s->sum += (unsigned char)l->time[i];
	s->total += l->len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	struct crilog_join j;
	const char *p, *end, *nl;

	if (size < 1)
		return 0;
	s.max = 1 + data[0] % 64;
	crilog_join_init(&j, s.max, emit, &s);
	p = (const char *)data + 1;
	end = (const char *)data + size;
	for (; p < end; p = nl + 1) {
		struct crilog_rec r;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (crilog_parse(p, (size_t)(nl - p), &r) == 0) {
			assert(r.time == p && r.time_len <= CRILOG_TIME_MAX);
			assert(r.content >= p && r.content + r.content_len == nl);
		}
		crilog_join_feed(&j, p, (size_t)(nl - p));
	}
	crilog_join_flush(&j);
	crilog_join_done(&j);
	/* Nothing is made up: the text out is at most the bytes in. */
	assert(s.total <= size);
	return 0;
}
