/* The registry, operation counters and the exposition writer. */
#include "metrics/metrics_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"

static const double bucket_s[METRICS_BUCKETS] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
						  0.5,	 1,	2.5,  5,     10,   30,	60 };

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	m->listen_fd = -1;
	m->stop_fd = -1;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	metrics_server_stop(m);
	for (size_t i = 0; i < m->n_ops; i++) {
		free(m->ops[i]->name);
		free(m->ops[i]);
	}
	free(m->ops);
	free(m->collectors);
	free(m);
}

struct metrics_op *metrics_op_add(struct metrics *m, const char *name)
{
	struct metrics_op *op = xcalloc(1, sizeof(*op));
	op->name = metrics_label_escape(name);
	m->ops = xrealloc(m->ops, (m->n_ops + 1) * sizeof(*m->ops));
	m->ops[m->n_ops++] = op;
	return op;
}

struct metrics_op *metrics_op_find(struct metrics *m, const char *name)
{
	cleanup_free char *esc = metrics_label_escape(name);
	for (size_t i = 0; i < m->n_ops; i++)
		if (strcmp(m->ops[i]->name, esc) == 0)
			return m->ops[i];
	return NULL;
}

static void add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void metrics_op_observe(struct metrics_op *op, uint64_t ns, unsigned code)
{
	if (!op)
		return;
	size_t b = 0;
	while (b < METRICS_BUCKETS && (double)ns > bucket_s[b] * 1e9)
		b++;
	add(&op->buckets[b], 1);
	add(&op->sum_ns, ns);
	add(&op->calls, 1);
	if (code != 0)
		add(&op->errors[code < METRICS_CODES ? code : 2 /* UNKNOWN */], 1);
}

uint64_t metrics_op_errors(const struct metrics_op *op, unsigned code)
{
	return code < METRICS_CODES ? get(&op->errors[code]) : 0;
}

void metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *data)
{
	m->collectors = xrealloc(m->collectors, (m->n_collectors + 1) * sizeof(*m->collectors));
	m->collectors[m->n_collectors++] = (struct collector){ fn, data };
}

char *metrics_label_escape(const char *v)
{
	size_t n = strlen(v);
	char *s = xmalloc(2 * n + 1);
	char *p = s;
	for (; *v; v++) {
		if (*v == '\\' || *v == '"') {
			*p++ = '\\';
			*p++ = *v;
		} else if (*v == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else {
			*p++ = *v;
		}
	}
	*p = '\0';
	return s;
}

void out_printf(struct metrics_out *out, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = out->cap - out->len;
		int n = vsnprintf(out->buf ? out->buf + out->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < room) {
			out->len += (size_t)n;
			return;
		}
		out->cap = out->cap * 2 + (size_t)n + 1024;
		out->buf = xrealloc(out->buf, out->cap);
	}
}

void metrics_out_family(struct metrics_out *out, const char *name, const char *type,
			const char *help)
{
	out_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_out_u64(struct metrics_out *out, const char *name, const char *labels, uint64_t v)
{
	if (labels && *labels)
		out_printf(out, "%s{%s} %llu\n", name, labels, (unsigned long long)v);
	else
		out_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

void metrics_out_double(struct metrics_out *out, const char *name, const char *labels, double v)
{
	if (labels && *labels)
		out_printf(out, "%s{%s} %.17g\n", name, labels, v);
	else
		out_printf(out, "%s %.17g\n", name, v);
}

static void render_ops(struct metrics *m, struct metrics_out *out)
{
	metrics_out_family(out, "ocid_operations_total", "counter",
			   "CRI operations handled, by method.");
	for (size_t i = 0; i < m->n_ops; i++)
		out_printf(out, "ocid_operations_total{operation=\"%s\"} %llu\n", m->ops[i]->name,
			   (unsigned long long)get(&m->ops[i]->calls));
	metrics_out_family(out, "ocid_operations_latency_seconds", "histogram",
			   "Time taken by CRI operations, by method.");
	for (size_t i = 0; i < m->n_ops; i++) {
		const struct metrics_op *op = m->ops[i];
		/* Read the buckets once; count is their sum, so that count and
		 * the +Inf bucket agree even while calls are counted. */
		uint64_t cum = 0;
		for (size_t b = 0; b <= METRICS_BUCKETS; b++) {
			cum += get(&op->buckets[b]);
			if (b < METRICS_BUCKETS)
				out_printf(
				    out,
				    "ocid_operations_latency_seconds_bucket{operation=\"%s\",le=\"%g\"} %llu\n",
				    op->name, bucket_s[b], (unsigned long long)cum);
			else
				out_printf(
				    out,
				    "ocid_operations_latency_seconds_bucket{operation=\"%s\",le=\"+Inf\"} %llu\n",
				    op->name, (unsigned long long)cum);
		}
		out_printf(out, "ocid_operations_latency_seconds_sum{operation=\"%s\"} %.9f\n",
			   op->name, (double)get(&op->sum_ns) / 1e9);
		out_printf(out, "ocid_operations_latency_seconds_count{operation=\"%s\"} %llu\n",
			   op->name, (unsigned long long)cum);
	}
	metrics_out_family(out, "ocid_operations_errors_total", "counter",
			   "CRI operations that failed, by method and gRPC status code.");
	for (size_t i = 0; i < m->n_ops; i++)
		for (unsigned c = 1; c < METRICS_CODES; c++) {
			uint64_t v = get(&m->ops[i]->errors[c]);
			if (v)
				out_printf(
				    out,
				    "ocid_operations_errors_total{operation=\"%s\",code=\"%s\"} %llu\n",
				    m->ops[i]->name, rpc_code_name(c), (unsigned long long)v);
		}
}

char *metrics_render(struct metrics *m)
{
	struct metrics_out out = { 0 };
	render_ops(m, &out);
	metrics_proc_collect(&out);
	for (size_t i = 0; i < m->n_collectors; i++)
		m->collectors[i].fn(m->collectors[i].data, &out);
	out_printf(&out, "%s", "");
	return out.buf;
}
