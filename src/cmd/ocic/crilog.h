/* Reading the CRI container log format back (ocimon writes it, see
 * src/mon/log.c): one record per line,
 *     <RFC3339Nano time> <stdout|stderr> <P|F> <content>
 * where a line longer than the writer's buffer (or one that stalled) is
 * split into P (partial) records ended by an F (full) record. The records
 * of the two streams may interleave, so lines are joined per stream.
 *
 * No I/O here: the parser and joiner work on bytes the caller read. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mon/mon.h"

/* The time field of a record is at most this long. */
#define CRILOG_TIME_MAX 40

/** One parsed record; the pointers borrow from the parsed line. */
struct crilog_rec {
	const char *time;
	size_t time_len;
	enum mon_stream stream;
	bool partial; /* P: the line goes on in the next record of the stream */
	const char *content;
	size_t content_len;
};

/** Parse one line (`len` bytes without the '\n'; need not be NUL-terminated,
 *  may hold any bytes) as a record. Returns 0 with *ret set, or -EBADMSG
 *  when it is not a record: the time is not RFC 3339 in form, the stream is
 *  not stdout or stderr, the tag not P or F, or the separators are wrong.
 *  An F record may end right after its tag (empty content). */
int crilog_parse(const char *line, size_t len, struct crilog_rec *ret);

/** A joined line, or a piece of one, as handed to the emit callback. The
 *  pointers are valid during the callback only. */
struct crilog_line {
	enum mon_stream stream; /* MON_STREAM_STDOUT for a malformed line */
	const char *time;	/* of the line's first record ("" when malformed) */
	size_t time_len;
	const char *text; /* the content, without a newline */
	size_t len;
	bool end;	/* the line ends here (print a newline after it) */
	bool continued; /* a piece of a line that was handed on before */
	bool malformed; /* not a record: the raw line, as it is in the file */
};

typedef void (*crilog_emit_fn)(void *data, const struct crilog_line *line);

/** Joins P records to the F record ending their line, per stream. A line
 *  longer than `max` bytes is handed on in pieces of `max` (end false, then
 *  continued true) so memory stays bounded. */
struct crilog_join {
	struct crilog_pending {
		char *buf;
		size_t len, cap;
		char time[CRILOG_TIME_MAX + 1];
		size_t time_len;
		bool open;	/* a P record started a line not yet ended */
		bool continued; /* a piece of this line was handed on already */
	} s[2];
	size_t max;
	crilog_emit_fn emit;
	void *data;
};

/** Initialise `j` (no allocation yet); `max` >= 1. */
void crilog_join_init(struct crilog_join *j, size_t max, crilog_emit_fn emit, void *data);

/** Feed one line of the log (without its '\n'). A record is joined and
 *  complete lines are emitted; a line that is not a record is emitted at
 *  once as malformed (lines pending in the streams stay pending). */
void crilog_join_feed(struct crilog_join *j, const char *line, size_t len);

/** Emit the unfinished line of each stream (end true: the log is over), the
 *  stdout one first. */
void crilog_join_flush(struct crilog_join *j);

/** Free the buffers; pending lines are dropped. Safe to call twice. */
void crilog_join_done(struct crilog_join *j);

/** The last `n` lines of a log (--tail): lines and pieces handed to
 *  crilog_tail_push are copied and kept until more than `n` lines have
 *  ended; then the oldest line (its end and the pieces of its stream before
 *  it) is dropped. */
struct crilog_tail {
	uint64_t n;
	struct crilog_tail_entry {
		struct crilog_line line; /* time and text point into buf */
		char *buf;
	} * q; /* a ring: entry i is q[(head + i) % cap] */
	size_t head, len, cap;
	uint64_t ends; /* kept entries that end a line */
};

/** Initialise `t` to keep the last `n` lines (none when 0). */
void crilog_tail_init(struct crilog_tail *t, uint64_t n);

/** Keep a copy of `l`, a crilog_emit_fn for a joiner. */
void crilog_tail_push(void *tail, const struct crilog_line *l);

/** Hand what is kept to `emit` in order and free it; `t` is then empty (and
 *  may be pushed to again). `emit` may be NULL to just free. */
void crilog_tail_release(struct crilog_tail *t, crilog_emit_fn emit, void *data);
