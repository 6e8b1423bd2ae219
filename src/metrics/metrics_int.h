/* metrics: the registry, shared by metrics.c, proc.c and server.c. */
#pragma once

#include <pthread.h>

#include "metrics/metrics.h"

struct metrics_op {
	char *name;	/* escaped label value */
	uint64_t calls; /* atomics, relaxed */
	uint64_t sum_ns;
	uint64_t buckets[METRICS_BUCKETS + 1]; /* not cumulative; last is +Inf */
	uint64_t errors[METRICS_CODES];
};

struct collector {
	metrics_collect_fn fn;
	void *data;
};

struct metrics {
	struct metrics_op **ops;
	size_t n_ops;
	struct collector *collectors;
	size_t n_collectors;
	/* server.c */
	int listen_fd, stop_fd;
	unsigned port;
	char *socket_path;
	bool serving;
	pthread_t thread;
};

struct metrics_out {
	char *buf;
	size_t len, cap;
};

void out_printf(struct metrics_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Process families (proc.c). */
void metrics_proc_collect(struct metrics_out *out);

/** Stop the server thread and close its sockets (server.c). */
void metrics_server_stop(struct metrics *m);
