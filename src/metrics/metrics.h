/* metrics: Prometheus counters and their text exposition (format 0.0.4),
 * served over HTTP on TCP or a unix socket.
 *
 * Counting is lock-free: every counter is a relaxed atomic, so a CRI call
 * pays a few atomic adds. Families whose values live elsewhere (containers
 * running, image pull bytes) are written at scrape time by collectors the
 * daemon registers. One thread serves the endpoint and writes the text, one
 * scrape after another: the only producer of the exposition. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* gRPC status codes 0..16 (enum rpc_code), the `code` label of operation errors. */
#define METRICS_CODES 17
/* Upper bounds (seconds) of the operation latency histogram, +Inf aside. */
#define METRICS_BUCKETS 14

struct metrics;
struct metrics_op;
struct metrics_out;

/** A collector writes families at scrape time (on the server's thread). */
typedef void (*metrics_collect_fn)(void *data, struct metrics_out *out);

/** A registry with no operations. Never fails (allocation aborts). */
struct metrics *metrics_new(void);
/** Stop the server (if any) and free. Accepts NULL. */
void metrics_free(struct metrics *m);
DEFINE_CLEANUP(struct metrics, metrics_free)

/** Register an operation (its `operation` label value, copied). Only before
 *  the server starts and before any metrics_op_observe (not thread-safe).
 *  The returned pointer lives as long as `m`. */
struct metrics_op *metrics_op_add(struct metrics *m, const char *name);
/** Count one call of `op` that took `ns` nanoseconds and ended with gRPC
 *  status `code` (0 OK; anything else also counts an error of that code).
 *  Any thread, lock-free. `op` may be NULL (nothing counted). */
void metrics_op_observe(struct metrics_op *op, uint64_t ns, unsigned code);
/** Errors of `op` with status `code` so far (any thread). */
uint64_t metrics_op_errors(const struct metrics_op *op, unsigned code);
/** The operation registered as `name`, or NULL. */
struct metrics_op *metrics_op_find(struct metrics *m, const char *name);
/** "OK", "NOT_FOUND", ... for a gRPC status code ("UNKNOWN" past 16). */

/** Add a collector, called in order of registration at each scrape after
 *  the built-in families. Before the server starts. */
void metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *data);

/** The whole exposition text (malloc'd, never NULL): operations, process
 *  metrics, ocid_processes_defunct, then the collectors'. Any thread, but
 *  collectors must allow it (the server calls it from one thread only). */
char *metrics_render(struct metrics *m);

/** Start a family: "# HELP" and "# TYPE" lines. `type` is "counter",
 *  "gauge" or "histogram". */
void metrics_out_family(struct metrics_out *out, const char *name, const char *type,
			const char *help);
/** One sample: `name{labels} value`. `labels` is NULL or already rendered
 *  (`a="x",b="y"`; values through metrics_label_escape). */
void metrics_out_u64(struct metrics_out *out, const char *name, const char *labels, uint64_t v);
void metrics_out_double(struct metrics_out *out, const char *name, const char *labels, double v);

/** A label value escaped for the text format (backslash, quote, newline),
 *  malloc'd. */
char *metrics_label_escape(const char *v);

/** Process facts from /proc/self, for tests and the exposition. */
struct metrics_proc {
	uint64_t rss_bytes, vsize_bytes;
	uint64_t threads;
	double cpu_seconds;  /* user + system */
	double start_time_s; /* since the epoch */
	uint64_t open_fds, max_fds;
};
/** Parse the text of /proc/<pid>/stat into *ret (rss, vsize, threads, cpu
 *  and start in ticks converted with `ticks_per_s`, start relative to
 *  `boot_time_s`; page size `page`). -EINVAL when malformed. Pure. */
int metrics_proc_stat_parse(const char *text, size_t len, long ticks_per_s, long page,
			    double boot_time_s, struct metrics_proc *ret);
/** The state letter of a /proc/<pid>/stat text ('R', 'S', 'Z', ...), or 0
 *  when malformed. Pure. */
char metrics_proc_stat_state(const char *text, size_t len);

/** Serve GET /metrics on `address`:`port` (TCP, address an IP literal) or,
 *  when `socket_path` is not empty, on that unix socket (created 0660,
 *  replacing a stale one). One thread; each scrape gets a fresh
 *  metrics_render. 0 or -errno with err set (bad address, bind). */
int metrics_serve(struct metrics *m, const char *address, unsigned port, const char *socket_path,
		  struct err *err);
/** The bound TCP port (useful with port 0 in tests), 0 when not serving TCP. */
unsigned metrics_port(const struct metrics *m);
