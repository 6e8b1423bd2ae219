/* The CRI log record parser and the per-stream line joiner (crilog.h). */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "crilog.h"

/* Whether s[0..len) matches `pat`, where 'd' stands for a digit and any
 * other character for itself. */
static bool match(const char *s, size_t len, const char *pat)
{
	if (len != strlen(pat))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return false;
	}
	return true;
}

/* "2026-11-22T20:24:21[.fraction](Z|+hh:mm|-hh:mm)": the form only, as a
 * reader needs it to tell records from other lines. */
static bool is_time(const char *s, size_t len)
{
	size_t i = 19;

	if (len < 20 || len > CRILOG_TIME_MAX || !match(s, 19, "dddd-dd-ddTdd:dd:dd"))
		return false;
	if (s[i] == '.') {
		size_t start = ++i;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	if (i + 1 == len && s[i] == 'Z')
		return true;
	return (s[i] == '+' || s[i] == '-') && match(s + i + 1, len - i - 1, "dd:dd");
}

int crilog_parse(const char *line, size_t len, struct crilog_rec *ret)
{
	const char *sp = memchr(line, ' ', len), *rest;
	size_t left;

	if (!sp || !is_time(line, (size_t)(sp - line)))
		return -EBADMSG;
	ret->time = line;
	ret->time_len = (size_t)(sp - line);
	rest = sp + 1;
	left = len - ret->time_len - 1;
	/* "stdout P" / "stderr F": 8 bytes, then " content" or the end. */
	if (left < 8 || rest[6] != ' ' || (rest[7] != 'P' && rest[7] != 'F'))
		return -EBADMSG;
	if (memcmp(rest, "stdout", 6) == 0)
		ret->stream = MON_STREAM_STDOUT;
	else if (memcmp(rest, "stderr", 6) == 0)
		ret->stream = MON_STREAM_STDERR;
	else
		return -EBADMSG;
	ret->partial = rest[7] == 'P';
	if (left == 8) {
		ret->content = rest + 8;
		ret->content_len = 0;
		return 0;
	}
	if (rest[8] != ' ')
		return -EBADMSG;
	ret->content = rest + 9;
	ret->content_len = left - 9;
	return 0;
}

void crilog_join_init(struct crilog_join *j, size_t max, crilog_emit_fn emit, void *data)
{
	memset(j, 0, sizeof(*j));
	j->max = max ? max : 1;
	j->emit = emit;
	j->data = data;
}

/* Hand on what stream s holds: the whole line when `end`, else a piece. */
static void emit_pending(struct crilog_join *j, enum mon_stream s, bool end)
{
	struct crilog_pending *p = &j->s[s];
	struct crilog_line l = {
		.stream = s,
		.time = p->time,
		.time_len = p->time_len,
		.text = p->buf ? p->buf : "",
		.len = p->len,
		.end = end,
		.continued = p->continued,
	};

	j->emit(j->data, &l);
	p->len = 0;
	p->continued = !end;
	p->open = !end;
}

static void append(struct crilog_join *j, struct crilog_pending *p, const char *data, size_t len)
{
	size_t need = p->len + len; /* <= j->max: add() cuts pieces */

	if (len == 0)
		return;
	if (need > p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;

		p->cap = cap < need ? need : cap > j->max ? j->max : cap;
		p->buf = xrealloc(p->buf, p->cap);
	}
	memcpy(p->buf + p->len, data, len);
	p->len = need;
}

/* Add content to stream s's line, in pieces of at most j->max bytes. */
static void add(struct crilog_join *j, enum mon_stream s, const char *data, size_t len)
{
	struct crilog_pending *p = &j->s[s];

	for (;;) {
		size_t room = j->max - p->len, n = len < room ? len : room;

		append(j, p, data, n);
		data += n;
		len -= n;
		if (len == 0)
			return;
		emit_pending(j, s, false);
	}
}

void crilog_join_feed(struct crilog_join *j, const char *line, size_t len)
{
	struct crilog_rec r;
	struct crilog_pending *p;

	if (crilog_parse(line, len, &r) < 0) {
		struct crilog_line l = { .stream = MON_STREAM_STDOUT,
					 .time = "",
					 .text = line,
					 .len = len,
					 .end = true,
					 .malformed = true };

		j->emit(j->data, &l);
		return;
	}
	p = &j->s[r.stream];
	if (!p->open) {
		memcpy(p->time, r.time, r.time_len);
		p->time[r.time_len] = '\0';
		p->time_len = r.time_len;
		p->open = true;
	}
	add(j, r.stream, r.content, r.content_len);
	if (!r.partial)
		emit_pending(j, r.stream, true);
}

void crilog_join_flush(struct crilog_join *j)
{
	for (int s = 0; s < 2; s++) {
		if (j->s[s].open)
			emit_pending(j, (enum mon_stream)s, true);
	}
}

void crilog_join_done(struct crilog_join *j)
{
	for (int s = 0; s < 2; s++) {
		free(j->s[s].buf);
		j->s[s].buf = NULL;
		j->s[s].len = j->s[s].cap = 0;
		j->s[s].open = false;
	}
}

void crilog_tail_init(struct crilog_tail *t, uint64_t n)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
}

static struct crilog_tail_entry *tail_at(const struct crilog_tail *t, size_t i)
{
	return &t->q[(t->head + i) % t->cap];
}

/* Drop the oldest line. Usually it is the first entry; when the first
 * entries are pieces of longer lines, only those of the same stream as the
 * first line end go (the others belong to a line that ends later). */
static void tail_drop(struct crilog_tail *t)
{
	size_t k = 0, out = 0;
	const struct crilog_line *last;

	while (!tail_at(t, k)->line.end)
		k++;
	last = &tail_at(t, k)->line;
	for (size_t i = 0; i < t->len; i++) {
		struct crilog_tail_entry *e = tail_at(t, i);

		/* A malformed line has no pieces. */
		if (i == k || (i < k && !last->malformed && e->line.stream == last->stream))
			free(e->buf);
		else
			*tail_at(t, out++) = *e;
	}
	t->len = out;
	t->ends--;
}

void crilog_tail_push(void *tail, const struct crilog_line *l)
{
	struct crilog_tail *t = tail;
	struct crilog_tail_entry *e;

	if (t->n == 0)
		return;
	if (t->len == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct crilog_tail_entry *q = xmalloc(cap * sizeof(*q));

		for (size_t i = 0; i < t->len; i++)
			q[i] = *tail_at(t, i);
		free(t->q);
		t->q = q;
		t->cap = cap;
		t->head = 0;
	}
	e = tail_at(t, t->len++);
	e->buf = xmalloc(l->time_len + l->len + 1);
	memcpy(e->buf, l->time, l->time_len);
	memcpy(e->buf + l->time_len, l->text, l->len);
	e->line = *l;
	e->line.time = e->buf;
	e->line.text = e->buf + l->time_len;
	if (!l->end || ++t->ends <= t->n)
		return;
	if (tail_at(t, 0)->line.end) {
		/* The common case: the oldest entry is a whole line. */
		free(tail_at(t, 0)->buf);
		t->head = (t->head + 1) % t->cap;
		t->len--;
		t->ends--;
	} else {
		tail_drop(t);
	}
}

void crilog_tail_release(struct crilog_tail *t, crilog_emit_fn emit, void *data)
{
	for (size_t i = 0; i < t->len; i++) {
		struct crilog_tail_entry *e = tail_at(t, i);

		if (emit)
			emit(data, &e->line);
		free(e->buf);
	}
	free(t->q);
	t->q = NULL;
	t->head = t->len = t->cap = 0;
	t->ends = 0;
}
