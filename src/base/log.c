#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current_level = LOG_INFO;

static const char *const names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn",   [LOG_INFO] = "info",
	[LOG_DEBUG] = "debug", [LOG_TRACE] = "trace",
};

int log_level_parse(const char *s, enum log_level *ret)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*ret = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level l)
{
	return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "unknown";
}

void log_level_set(enum log_level l)
{
	atomic_store(&current_level, (int)l);
}

enum log_level log_level_get(void)
{
	return (enum log_level)atomic_load(&current_level);
}

bool log_enabled(enum log_level l)
{
	return (int)l <= atomic_load(&current_level);
}

static size_t append_quoted(char *buf, size_t cap, size_t n, const char *v)
{
	if (n < cap)
		buf[n] = '"';
	n++;
	for (; *v && n + 3 < cap; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else if (c < 0x20) {
			buf[n++] = '?';
		} else {
			buf[n++] = (char)c;
		}
	}
	if (n < cap)
		buf[n] = '"';
	return n + 1;
}

const char *log_q(const char *v)
{
	static _Thread_local char bufs[4][512];
	static _Thread_local unsigned next;
	if (!v)
		return "\"\"";
	if (*v && !strpbrk(v, " \"=\t\n\\"))
		return v;
	char *b = bufs[next++ % 4];
	size_t n = append_quoted(b, sizeof(bufs[0]) - 1, 0, v);
	b[n < sizeof(bufs[0]) ? n : sizeof(bufs[0]) - 1] = '\0';
	return b;
}

void log_write(enum log_level l, const char *msg, const char *kv, ...)
{
	if (!log_enabled(l))
		return;
	int saved_errno = errno;
	char line[4096];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(line, sizeof(line), "time=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
			      ".%03ldZ level=%s msg=", ts.tv_nsec / 1000000, log_level_name(l));
	n = append_quoted(line, sizeof(line) - 2, n, msg);
	if (kv && *kv && n < sizeof(line) - 2) {
		line[n++] = ' ';
		va_list ap;
		va_start(ap, kv);
		int w = vsnprintf(line + n, sizeof(line) - 2 - n, kv, ap);
		va_end(ap);
		if (w > 0)
			n += (size_t)w;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so lines from several threads never interleave. */
	(void)!write(STDERR_FILENO, line, n);
	errno = saved_errno;
}
