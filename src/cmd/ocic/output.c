/* Output helpers for human-readable replies: aligned tables, times, sizes,
 * label maps. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ocic.h"

struct ocic_table {
	size_t ncols, nrows;
	char **cells; /* nrows * ncols, row 0 = headers */
};

static void table_add(struct ocic_table *t, const char *const *cells)
{
	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols, sizeof(char *));
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "");
	t->nrows++;
}

struct ocic_table *ocic_table_new(const char *const *headers)
{
	struct ocic_table *t = xnew(struct ocic_table);

	while (headers[t->ncols])
		t->ncols++;
	table_add(t, headers);
	return t;
}

void ocic_table_row(struct ocic_table *t, const char *const *cells)
{
	table_add(t, cells);
}

void ocic_table_print_free(struct ocic_table *t)
{
	cleanup_free size_t *w = xcalloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols)
				printf("%s\n", s);
			else
				printf("%-*s   ", (int)w[c], s);
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

char *ocic_time_str(int64_t ns, char *buf, size_t size)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;

	if (ns <= 0 || !gmtime_r(&s, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
	return buf;
}

char *ocic_size_str(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu%s", (unsigned long long)bytes, units[0]);
	else
		snprintf(buf, size, "%.3g%s", v, units[u]);
	return buf;
}

char *ocic_map_str(size_t n, ProtobufCMessage *const *entries)
{
	char *out = xstrdup(""), *t;

	for (size_t i = 0; i < n; i++) {
		const ProtobufCMessageDescriptor *d = entries[i]->descriptor;
		const char *base = (const char *)entries[i];
		const char *k = *(char *const *)(base + d->fields[0].offset);
		const char *v = *(char *const *)(base + d->fields[1].offset);

		t = xasprintf("%s%s%s=%s", out, i ? "," : "", k ? k : "", v ? v : "");
		free(out);
		out = t;
	}
	return out;
}

char *ocic_strs_join(size_t n, char *const *v)
{
	char *out = xstrdup(""), *t;

	for (size_t i = 0; i < n; i++) {
		t = xasprintf("%s%s%s", out, i ? "," : "", v[i]);
		free(out);
		out = t;
	}
	return out;
}
