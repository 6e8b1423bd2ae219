/* stats: resource usage of pods and containers, read from the kernel.
 *
 *  - cgroup readers for v1 (one hierarchy per controller, as on hybrid
 *    hosts) and v2 (unified): cpu, memory, pids; the layout of the host is
 *    detected once (stats_layout_detect) and passed in;
 *  - network counters of a network namespace, read from a short-lived
 *    thread that setns()es into it (the caller's namespace never changes);
 *  - disk usage of a directory tree (the writable layer), bounded;
 *  - pure parsers of the kernel's text files (memory.stat, cpu.stat,
 *    cpuacct.usage, memory.events, /proc/net/dev), fuzzed;
 *  - struct stats: a thread-safe handle that keeps the previous cpu sample
 *    of each id (usage_nano_cores needs two) and caches directory usage.
 *
 * Nothing here knows about CRI; the CRI handlers translate these structs.
 * Every timestamp is CLOCK_REALTIME in nanoseconds, taken when the values
 * were read. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/err.h"

/* ------------------------------------------------------------------------
 * Host layout
 * ---------------------------------------------------------------------- */

/** Where the cgroup hierarchies are mounted. Each member is an absolute
 *  directory (owned) or NULL when that hierarchy is not mounted. A
 *  resource is read from its v1 controller when that is mounted, else
 *  from the unified hierarchy. Tests may fill this by hand (fake trees). */
struct stats_layout {
	char *v2;      /* the unified hierarchy (/sys/fs/cgroup, or .../unified on hybrid hosts) */
	char *cpu;     /* v1 "cpu" (cpu.stat: throttling) */
	char *cpuacct; /* v1 "cpuacct" (cpuacct.usage) */
	char *memory;  /* v1 "memory" */
	char *pids;    /* v1 "pids" */
};

/** Detect the layout under `root` (NULL = "/sys/fs/cgroup"): `root`
 *  itself when it is a cgroup2 mount (unified host); otherwise each
 *  `root`/<controller> that is a cgroup v1 mount (cpu and cpuacct also as
 *  "cpu,cpuacct"), and `root`/unified when it is a cgroup2 mount.
 *  -ENOENT (err says so) when nothing is mounted; other statfs errors as
 *  -errno. Free with stats_layout_done. */
int stats_layout_detect(const char *root, struct stats_layout *ret, struct err *err);

/** Free the members; *l is all NULL afterwards. Accepts NULL. */
void stats_layout_done(struct stats_layout *l);

/** The cgroup path (relative to each hierarchy's mount) of an OCI
 *  linux.cgroupsPath or a CRI cgroup parent: a cgroupfs path
 *  ("/ocid/pod-1/ocid-2", leading '/' optional) is cleaned; a systemd one
 *  ("a-b.slice:prefix:name", as oci_cgroups_path makes them) expands to
 *  "/a.slice/a-b.slice/prefix-name.scope" (or the slice's own path when
 *  name is itself a ".slice"); a bare slice name without '/' ("a-b.slice",
 *  a pod's parent under systemd) expands to "/a.slice/a-b.slice". *ret is malloc'd and starts with '/'. -EINVAL (err
 *  names the path) for "..", an empty path, or a malformed systemd
 *  triple. Pure. */
int stats_cgroup_path(const char *cgroups_path, char **ret, struct err *err);

/* ------------------------------------------------------------------------
 * cgroup readings
 * ---------------------------------------------------------------------- */

/** STATS_UNLIMITED in a limit field means "no limit". */
#define STATS_UNLIMITED UINT64_MAX

struct stats_cpu {
	uint64_t usage_ns;	   /* cumulative cpu time of every task, ever */
	uint64_t user_ns;	   /* part of it in user mode (0 when unknown) */
	uint64_t system_ns;	   /* part of it in kernel mode (0 when unknown) */
	uint64_t usage_nano_cores; /* average over the last interval; see has_nano_cores */
	bool has_nano_cores;	   /* false on the first sample of an id (or without a cache) */
	bool has_throttling;	   /* the three fields below were read */
	uint64_t nr_periods;
	uint64_t nr_throttled;
	uint64_t throttled_ns;
};

struct stats_memory {
	uint64_t usage_bytes;	    /* v1 memory.usage_in_bytes, v2 memory.current */
	uint64_t working_set_bytes; /* usage - inactive file pages (not below 0) */
	uint64_t rss_bytes;	    /* anonymous memory (v1 total_rss, v2 anon) */
	uint64_t page_faults;	    /* cumulative (total_pgfault / pgfault) */
	uint64_t major_page_faults; /* cumulative */
	uint64_t limit_bytes;	    /* STATS_UNLIMITED when none */
	uint64_t available_bytes;   /* limit - working set when limited, else 0 */
	uint64_t oom_kills;	    /* OOM kills in this cgroup (0 when unknown) */
};

struct stats_pids {
	uint64_t current;
	uint64_t limit; /* STATS_UNLIMITED when "max" */
};

/** One reading of a cgroup. A has_* flag is false when that controller is
 *  not available for the cgroup (not mounted, or not enabled in v2). */
struct stats_cgroup {
	uint64_t timestamp_ns;
	bool has_cpu, has_memory, has_pids;
	struct stats_cpu cpu;
	struct stats_memory memory;
	struct stats_pids pids;
};

/** Read cpu, memory and pids of the cgroup at `path` (as returned by
 *  stats_cgroup_path; relative to each hierarchy) under layout `l`.
 *  usage_nano_cores is not computed here (see stats_cgroup_sample).
 *  -ENOENT (err names the path) when the cgroup exists in no hierarchy;
 *  -EINVAL for a path with ".."; -EBADMSG when a file does not parse;
 *  other I/O errors as -errno. A controller whose directory is missing
 *  is reported through its has_* flag, not as an error. */
int stats_cgroup_read(const struct stats_layout *l, const char *path, struct stats_cgroup *ret,
		      struct err *err);

/* ------------------------------------------------------------------------
 * Network
 * ---------------------------------------------------------------------- */

struct stats_net_iface {
	char name[IF_NAMESIZE];
	uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
	uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};

struct stats_net {
	uint64_t timestamp_ns;
	struct stats_net_iface *ifaces; /* owned; "lo" is never listed */
	size_t n_ifaces;
};

/** Counters of every interface but "lo" in the network namespace pinned at
 *  `netns_path` (e.g. <runroot>/pods/<id>/ns/net; NULL = this process's
 *  own namespace). Read by a short-lived thread that setns()es into it;
 *  the calling thread's namespace is untouched. -ENOENT when the path is
 *  missing, -EINVAL when it is not a network namespace, -EBADMSG when
 *  /proc/net/dev does not parse. *ret is overwritten on success (not freed
 *  first). Free with stats_net_done. */
int stats_net_read(const char *netns_path, struct stats_net *ret, struct err *err);

/** Free the interfaces. Accepts NULL. */
void stats_net_done(struct stats_net *n);

/** Sum of all interfaces into *ret (name ""). */
void stats_net_total(const struct stats_net *n, struct stats_net_iface *ret);

/* ------------------------------------------------------------------------
 * Disk usage
 * ---------------------------------------------------------------------- */

struct stats_fs_usage {
	uint64_t timestamp_ns;
	uint64_t bytes;	 /* allocated bytes (st_blocks * 512), each inode once */
	uint64_t inodes; /* distinct inodes, the top directory included */
	bool truncated;	 /* a bound was hit: the numbers are a lower bound */
};

/** Default bound on the number of entries one walk visits. */
#define STATS_FS_MAX_ENTRIES 1000000
/** Directories deeper than this are not entered (truncated is set). */
#define STATS_FS_MAX_DEPTH 128

/** Usage of the tree at `path`: symlinks are counted, never followed;
 *  other filesystems (mount points below `path`) are not entered; hard
 *  links count once. At most `max_entries` entries (0 = the default) are
 *  visited; hitting that or STATS_FS_MAX_DEPTH sets truncated and still
 *  returns 0. Entries vanishing during the walk are skipped. -ENOENT /
 *  -ENOTDIR / -errno (err names the path) when `path` cannot be opened. */
int stats_fs_usage(const char *path, uint64_t max_entries, struct stats_fs_usage *ret,
		   struct err *err);

/* ------------------------------------------------------------------------
 * The handle: layout + per-id caches, safe to share between threads
 * ---------------------------------------------------------------------- */

struct stats;

/** A handle over layout `l`, whose members it takes (l is all NULL
 *  afterwards). Free with stats_free. Never fails. */
struct stats *stats_new_take(struct stats_layout *l);

/** stats_layout_detect(root) + stats_new_take. */
int stats_new(const char *root, struct stats **ret, struct err *err);

/** Forget every cache and free the handle. Accepts NULL. */
void stats_free(struct stats *s);
DEFINE_CLEANUP(struct stats, stats_free)

/** The handle's layout (borrowed, constant for its lifetime). */
const struct stats_layout *stats_get_layout(const struct stats *s);

/** Samples closer together than this (default 1 s) do not start a new
 *  interval: usage_nano_cores stays that of the last full interval, so
 *  callers polling at once do not see noise. 0 = every sample counts. */
void stats_set_min_interval(struct stats *s, uint64_t ns);

/** stats_cgroup_read, then usage_nano_cores from the previous sample kept
 *  for `id` (any string: a container or pod id). A usage lower than the
 *  kept one (a new cgroup under the same id) restarts the interval. The
 *  sample is kept until stats_forget(id): call it when the id goes away.
 *  Same errors as stats_cgroup_read. */
int stats_cgroup_sample(struct stats *s, const char *id, const char *path, struct stats_cgroup *ret,
			struct err *err);

/** Pure core of the above, for callers holding their own usage numbers:
 *  record (ts_ns, usage_ns) for `id`; *ret_nano_cores gets the rate over
 *  the current interval. Returns 1 when a rate is known, 0 when not yet. */
int stats_cpu_rate(struct stats *s, const char *id, uint64_t ts_ns, uint64_t usage_ns,
		   uint64_t *ret_nano_cores);

/** stats_fs_usage of `path` for `id`, answered from a cache while the last
 *  walk is younger than `max_age_ns` (and was of the same path). Errors as
 *  stats_fs_usage (never cached). */
int stats_fs_usage_cached(struct stats *s, const char *id, const char *path, uint64_t max_age_ns,
			  struct stats_fs_usage *ret, struct err *err);

/** Drop what is kept for `id` (cpu sample, fs usage). Unknown ids are fine. */
void stats_forget(struct stats *s, const char *id);

/* ------------------------------------------------------------------------
 * Pure parsers (no I/O); `buf` holds `len` bytes, need not be
 * NUL-terminated. All return 0 or -EBADMSG for text that is not the
 * kernel's format (a line that is not "key value", a known key whose value
 * is not a decimal number within 64 bits). Unknown keys are ignored
 * whatever their value; missing keys leave their field 0.
 * ---------------------------------------------------------------------- */

/** The fields of memory.stat the readers use (v1 and v2 names). */
struct stats_memory_stat {
	uint64_t rss, total_rss;		     /* v1 */
	uint64_t inactive_file, total_inactive_file; /* total_ is v1 only */
	uint64_t pgfault, total_pgfault;
	uint64_t pgmajfault, total_pgmajfault;
	uint64_t hierarchical_memory_limit; /* v1 */
	uint64_t anon;			    /* v2 */
	uint64_t file;			    /* v2 */
	bool has_total;			    /* v1 total_* keys were seen */
};

int stats_parse_memory_stat(const char *buf, size_t len, struct stats_memory_stat *ret);

/** cpu.stat of v1 (nr_periods, nr_throttled, throttled_time in ns) or v2
 *  (usage_usec, user_usec, system_usec, nr_periods, nr_throttled,
 *  throttled_usec), converted to ns in *ret. has_throttling is set when
 *  nr_periods was present. */
int stats_parse_cpu_stat(const char *buf, size_t len, struct stats_cpu *ret);

/** memory.events (v2; oom_kill) or memory.oom_control (v1; oom_kill):
 *  *ret_oom_kills gets the oom_kill value (0 when absent). */
int stats_parse_memory_events(const char *buf, size_t len, uint64_t *ret_oom_kills);

/** A single number (cpuacct.usage, memory.current, pids.current, ...):
 *  decimal, optional trailing whitespace; "max" gives STATS_UNLIMITED. */
int stats_parse_u64(const char *buf, size_t len, uint64_t *ret);

/** /proc/net/dev: the two header lines, then "name: 16 counters" per
 *  interface. "lo" is skipped. On success ret->ifaces and ret->n_ifaces
 *  are overwritten (not freed; free with stats_net_done), timestamp_ns is
 *  left alone; at most 4096 interfaces. */
int stats_parse_net_dev(const char *buf, size_t len, struct stats_net *ret);

/** Fill the derived memory numbers from raw values: usage, limit (v1
 *  limits at or above 2^62 mean none) and memory.stat. `v2` selects the
 *  key names. Working set is usage minus inactive file pages, not below 0;
 *  available is limit minus working set when limited (0 when over). */
void stats_memory_compute(uint64_t usage, uint64_t limit, const struct stats_memory_stat *ms,
			  bool v2, struct stats_memory *ret);
