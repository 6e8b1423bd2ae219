/* Logging: one logfmt line per event on stderr, e.g.
 *   time=2026-11-22T15:30:00.123Z level=info msg="listening" socket=/run/ocid/ocid.sock
 * `msg` is a constant description; `kv` is an optional printf format of
 * further key=value pairs (values with spaces quoted via log_q()).
 * Safe to call from any thread. */
#pragma once

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/** Parse "error|warn|warning|info|debug|trace" (case-insensitive). -EINVAL if unknown. */
int log_level_parse(const char *s, enum log_level *ret);
const char *log_level_name(enum log_level l);
void log_level_set(enum log_level l);
enum log_level log_level_get(void);
bool log_enabled(enum log_level l);

void log_write(enum log_level l, const char *msg, const char *kv, ...)
    __attribute__((format(printf, 3, 4)));

/** Quote a value for logfmt when it holds spaces, quotes or '='; returns a
 *  thread-local buffer good until the 4th next call on this thread. */
const char *log_q(const char *v);

#define log_error(msg, ...) log_write(LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...) log_write(LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...)                                     \
	do {                                                    \
		if (log_enabled(LOG_DEBUG))                     \
			log_write(LOG_DEBUG, msg, __VA_ARGS__); \
	} while (0)
