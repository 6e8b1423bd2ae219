/* Fuzz the CRI log record parser, the line joiner and the --tail keeper of
 * ocic ctr logs: the first byte picks the joiner's line bound and how many
 * lines are kept, the rest is a log file. */
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

/* The same log through a joiner into a tail of data[0] / 64 lines. */
static void tail_again(const uint8_t *data, size_t size, size_t max)
{
	struct seen s = { .max = max };
	struct crilog_tail t;
	struct crilog_join j;
	const char *p = (const char *)data + 1, *end = (const char *)data + size, *nl;

	crilog_tail_init(&t, data[0] / 64);
	crilog_join_init(&j, max, crilog_tail_push, &t);
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		crilog_join_feed(&j, p, (size_t)(nl - p));
	}
	crilog_join_flush(&j);
	crilog_join_done(&j);
	assert(t.ends <= t.n);
	crilog_tail_release(&t, emit, &s);
	assert(s.total <= size);
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
	tail_again(data, size, s.max);
	/* Nothing is made up: the text out is at most the bytes in. */
	assert(s.total <= size);
	return 0;
}
