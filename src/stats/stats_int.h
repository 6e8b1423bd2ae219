/* stats: declarations shared between the module's files. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A key of a "key value" file and where its uint64_t goes. */
struct stats_kv_key {
	const char *name;
	size_t offset;
};

/* Parse "key value" lines into the fields of `base` named by `keys` (at
 * most 64). *ret_seen (may be NULL) gets bit i set for each keys[i] seen.
 * 0 or -EBADMSG. */
int stats_kv_parse(const char *buf, size_t len, const struct stats_kv_key *keys, size_t n_keys,
		   void *base, uint64_t *ret_seen);

/* Upper bound on the size of a cgroup or /proc file we read. */
#define STATS_FILE_MAX (1024 * 1024)
