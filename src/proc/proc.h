/* proc: spawning children safely and working inside namespaces.
 *
 * Programs are started with posix_spawn, helpers that only make system
 * calls (pinning namespaces, writing inside them, the PID-namespace spawn)
 * with clone(CLONE_VM | CLONE_VFORK): neither copies the daemon's page
 * tables as fork() does (only the user-namespace helpers, which must stay
 * alive beside us, are forked). Between clone or fork and exec (or _exit)
 * only async-signal-safe calls run, so argv, env and paths are all built
 * before. Exec failures come back through a CLOEXEC pipe; the signal mask
 * and SIGPIPE are reset in the child. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

/** Default bound of each captured output stream (16 MiB). */
#define PROC_OUTPUT_MAX ((size_t)16 << 20)

/* A way to cut runs short from another thread: once fired, a run given it
 * kills its child (or starts none) and fails with -ECANCELED. */
struct proc_cancel;

/** A new, unfired token. -errno when no eventfd could be made. */
int proc_cancel_new(struct proc_cancel **ret, struct err *err);
/** Fire it: every run given it, now or later, is cut short. Any thread. */
void proc_cancel_fire(struct proc_cancel *c);
/** Free it (no run may still use it). Accepts NULL. */
void proc_cancel_free(struct proc_cancel *c);

struct proc_opts {
	char *const *argv; /* argv[0] is the path executed (no PATH lookup) */
	char *const *env;  /* "K=V", NULL-terminated; NULL = empty environment */
	const void *input; /* written to the child's stdin, then closed; may be NULL */
	size_t input_len;
	size_t max_output;	    /* bound per stream; 0 = PROC_OUTPUT_MAX */
	uint64_t timeout_ms;	    /* 0 = wait forever */
	struct proc_cancel *cancel; /* NULL = none */
};

struct proc_result {
	int status; /* exit code >= 0, or -signal number when killed by a signal */
	char *out;  /* stdout, NUL-terminated (never NULL after success) */
	size_t out_len;
	char *errout; /* stderr, NUL-terminated (never NULL after success) */
	size_t err_len;
	bool truncated; /* a stream was longer than the bound; the rest was discarded */
};

/** Run argv to completion, feeding `input` on stdin and capturing stdout and
 *  stderr (each bounded by max_output). The child leads a process group of
 *  its own. A non-zero exit is NOT an error here: it is in ret->status.
 *  Errors: -ENOENT/-EACCES/... when exec fails (err names the program),
 *  -ETIMEDOUT when the timeout passed or -ECANCELED when o->cancel was fired
 *  (the child's process group was killed with SIGKILL, what it started
 *  included, and the child reaped; none is started when it was fired
 *  before), other -errno for pipe/fork failures.
 *  Free *ret with proc_result_done (also on failure: it is zeroed). */
int proc_run(const struct proc_opts *o, struct proc_result *ret, struct err *err);

/** Free what a result owns. Accepts NULL. */
void proc_result_done(struct proc_result *r);

/* ---- namespaces ---- */

enum {
	PROC_NS_NET = 1,
	PROC_NS_IPC = 2,
	PROC_NS_UTS = 4,
	PROC_NS_PID = 8,   /* only for proc_ns_pin_pid / proc_ns_unpin */
	PROC_NS_USER = 16, /* only for proc_ns_pin_userns / proc_ns_unpin */
};

/* One range of a user namespace's uid_map or gid_map. */
struct proc_idmap {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t length;
};

/** A new user namespace whose uid_map and gid_map are `uid` and `gid` (one
 *  range each), as an fd (O_CLOEXEC) the caller owns: a forked helper
 *  unshares CLONE_NEWUSER and waits while this process writes its maps and
 *  opens /proc/<helper>/ns/user, then exits. setgroups stays allowed
 *  (containers call it). -errno with err naming the step. */
int proc_userns_new(const struct proc_idmap *uid, const struct proc_idmap *gid, struct err *err);

/** proc_ns_pin with the new namespaces owned by the user namespace open at
 *  `userns_fd`, which is pinned too, as <dir>/user: the helper joins it
 *  before it unshares, and this process bind mounts /proc/<helper>/ns/<name>
 *  (the helper, privileged only in the new namespace, cannot mount on the
 *  host). On failure nothing stays pinned. */
int proc_ns_pin_userns(const char *dir, unsigned which, const char *hostname, int userns_fd,
		       struct err *err);

/** Create new namespaces `which` (PROC_NS_NET|IPC|UTS) and pin each by bind
 *  mounting /proc/thread-self/ns/<name> onto <dir>/<name> (dir is created
 *  0711 when missing; the file is created empty). A forked helper does the
 *  unshare and the mounts, then exits: no process keeps the namespaces.
 *  With PROC_NS_UTS and a non-NULL `hostname`, the new UTS namespace gets
 *  it; with PROC_NS_NET, "lo" is brought up. On failure nothing stays
 *  pinned. -errno with err naming the step. */
int proc_ns_pin(const char *dir, unsigned which, const char *hostname, struct err *err);

/** Pin the PID namespace of process `pid` onto <dir>/pid. */
int proc_ns_pin_pid(const char *dir, pid_t pid, struct err *err);

/** Unmount (lazily) and remove <dir>/<name> for each namespace in `which`.
 *  Missing files and files that are not mounted are fine (idempotent). */
int proc_ns_unpin(const char *dir, unsigned which, struct err *err);

/** true when `path` is a pinned namespace (an nsfs mount). */
bool proc_ns_is_pinned(const char *path);
/** true when `path` is a pinned namespace (not followed if a symlink)
 *  and not the caller's own namespace of `kind` ("net", "pid", ...): one
 *  that undoing or killing what is in it cannot hit the caller's node. */
bool proc_ns_is_pinned_other(const char *path, const char *kind);

/** A file write done inside namespaces. */
struct proc_ns_write {
	const char *path; /* absolute, e.g. /proc/sys/net/ipv4/ip_forward */
	const char *value;
};

/** In a forked helper, setns() into each path of `ns_paths` (NULL-terminated
 *  pinned namespace files), then write each value to its path (one write(),
 *  no newline added). -errno with err naming the file that failed; the
 *  writes before it stay done. */
int proc_ns_write_files(const char *const *ns_paths, const struct proc_ns_write *w, size_t n,
			struct err *err);

/** posix_spawn `argv` (clone with CLONE_VM|CLONE_VFORK in glibc: neither
 *  the caller's page tables are copied nor does the child wait for a CPU
 *  while the caller runs on) with environment `env`. In the child, fd i is
 *  fds[i] for i < n_fds (-1: /dev/null, read-write), every other fd is
 *  closed, the signal mask is empty and every signal is at its default
 *  (ocid ignores SIGPIPE and blocks the signals of its signalfd). At most
 *  PROC_SPAWN_MAX_FDS fds. 0 with *ret_pid, or -errno (an exec failure
 *  included). */
#define PROC_SPAWN_MAX_FDS 8
int proc_spawn_fds(char *const *argv, char *const *env, const int *fds, int n_fds, pid_t *ret_pid);

/** Start `argv` as PID 1 of a new PID namespace, after joining the
 *  namespaces in `ns_paths` (NULL-terminated, may be NULL). The process is
 *  detached: an intermediate child forks it and exits, so it is reparented
 *  to init (or the nearest subreaper) and outlives the caller. stdin,
 *  stdout and stderr are /dev/null. *ret_pid is its pid in the caller's
 *  PID namespace. -errno with err when exec or a setns fails. */
int proc_spawn_pid_ns(char *const *argv, const char *const *ns_paths, pid_t *ret_pid,
		      struct err *err);

/* Signal state of a process, from /proc/PID/status. */
struct proc_sig_status {
	bool ns_init;	  /* pid 1 of its own PID namespace (last NSpid entry) */
	uint64_t caught;  /* SigCgt: bit n-1 = signal n has a handler */
	uint64_t blocked; /* SigBlk */
};

/** Parse /proc/PID/status text. -EBADMSG when NSpid, SigCgt or SigBlk is
 *  missing or malformed. */
int proc_status_parse(const char *text, struct proc_sig_status *ret);

/** Wait until `sig` sent to `pid` would be taken, up to timeout_ms: the
 *  kernel drops a signal that the init of a PID namespace leaves at its
 *  default action, so for such an init this waits until it has a handler
 *  for `sig`, or blocks it and collects it through sigwait or a signalfd.
 *  0 at once for SIGKILL/SIGSTOP, a process that is not a namespace init,
 *  or one that is gone; -ETIMEDOUT when it never came to take it. */
int proc_signal_wait_deliverable(pid_t pid, int sig, uint64_t timeout_ms);

/** The auxiliary vector of `pid` (/proc/PID/auxv, malloc'd, length in
 *  *len), or NULL when it cannot be read (gone). */
char *proc_auxv(pid_t pid, size_t *len);

/** Wait up to timeout_ms until `pid` has finished an exec that started
 *  after `before` (its proc_auxv, `len` bytes) was read. An exec closes the
 *  old program's close-on-exec files (how a runtime's exec fifo tells that
 *  the program started), and only later resets the signal handlers, which
 *  meanwhile still show the old program's; the kernel builds the new
 *  program's auxiliary vector after that reset, so a vector that differs
 *  from `before` means the program runs as itself. 0 then, or when the
 *  process is gone; -ETIMEDOUT. */
int proc_exec_wait(pid_t pid, const char *before, size_t len, uint64_t timeout_ms);

/** Send `sig` to `pid` through a pidfd and wait up to timeout_ms for it to
 *  go away (it need not be our child). 0 when it is gone (or never
 *  existed); -ETIMEDOUT when it still runs. */
int proc_kill_wait(pid_t pid, int sig, uint64_t timeout_ms);
