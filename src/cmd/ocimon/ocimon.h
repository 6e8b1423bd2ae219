/* ocimon internals shared by its files (not a module header). */
#pragma once

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sys/epoll.h>

#include "ev/ev.h"
#include "mon/mon.h"

#define OCIMON_MAX_ATTACH 8

#define OCIMON_MAX_RUNTIME_ARGS 32

struct ocimon_args {
	const char *id, *bundle, *runtime, *runtime_root, *log_path, *exit_path;
	const char *ctl_path, *attach_path, *pid_file;
	bool tty, stdin_open, stdin_once;
	bool systemd_cgroup; /* the runtime's --systemd-cgroup (cgroupsPath is slice:prefix:name) */
	bool no_pivot;	     /* the runtime's `create --no-pivot` */
	/* The handler's global flags, after --root (borrowed from argv). */
	const char *runtime_args[OCIMON_MAX_RUNTIME_ARGS];
	size_t n_runtime_args;
	int sync_fd;
	unsigned timeout_ms;
	/* The affinity ocimon was started with, while it runs pinned to
	 * one CPU (ocimon_cpu_pin); restored for the runtime and for the
	 * monitor itself. */
	cpu_set_t cpus;
	bool pinned;
};

/** The pid in a runtime's pid file (or, with `children`, the one pid of a
 *  /proc/.../children file). -EBADMSG / -ESRCH with err. */
int ocimon_read_pid(const char *path, bool children, pid_t *ret, struct err *err);

/** `ocimon --exec-reaper PIDFILE RUNTIME ARGS...`: run the runtime's
 *  `exec --detach` (ARGS) as a subreaper and exit with the exit code of
 *  the process it started (128 + signal when killed). Returns that code. */
int ocimon_exec_reaper(int argc, char **argv);

/** Pin the calling process to the CPU it runs on, saving its affinity in
 *  `a` (nothing when that fails). */
void ocimon_cpu_pin(struct ocimon_args *a);
/** Give the calling thread back the affinity saved by ocimon_cpu_pin.
 *  Async-signal-safe (one system call). */
void ocimon_cpu_unpin(const struct ocimon_args *a);

/* What `<runtime> create` left us. */
struct ocimon_create {
	pid_t pid;
	int out_fd[2]; /* stdout/stderr pipe read ends; [0] is the pty master with a tty */
	int in_fd;     /* stdin pipe write end, the pty master (dup) with a tty, or -1 */
	bool tty;
};

/** Run `<runtime> create`. On failure -errno with err holding the runtime's
 *  stderr (verbatim, up to MON_MSG_MAX_TEXT bytes). */
int ocimon_runtime_create(const struct ocimon_args *a, struct ocimon_create *ret, struct err *err);

struct ocimon_oom {
	char dir[4096]; /* the container's memory cgroup directory, "" if unknown */
	bool v1;
	int64_t kills_at_start; /* -1: no counter */
	int efd;		/* v1 eventfd registered on memory.oom_control, or -1 */
	int ctl_fd;
	bool seen;
};

/** Find the memory cgroup of `pid` and remember its OOM kill counter;
 *  on cgroup v1 also register an eventfd for OOM notifications. Never
 *  fails: without a usable cgroup OOM kills simply go unnoticed. */
void ocimon_oom_init(struct ocimon_oom *o, pid_t pid);

/** Did the cgroup see an OOM kill since ocimon_oom_init? */
bool ocimon_oom_check(struct ocimon_oom *o);

/** Close the eventfd and control file, if any. */
void ocimon_oom_done(struct ocimon_oom *o);

struct ocimon_attach {
	int listen_fd;
	int in_fd;	 /* where stdin packets go, or -1 */
	bool stdin_once; /* close in_fd when the first client leaves */
	int first_fd;	 /* the first client, while it is connected, else -1 */
	bool had_client;
	/* stdin the container has not taken yet; while there is some, client
	 * sockets are not read (back-pressure, nothing is dropped). */
	size_t pend_off, pend_len;
	bool close_when_drained;
	int clients[OCIMON_MAX_ATTACH];
	struct ev_loop *loop;
};

/** Create the attach socket (SOCK_SEQPACKET, mode 0600) at `path`. */
int ocimon_attach_listen(struct ocimon_attach *at, struct ev_loop *loop, const char *path,
			 struct err *err);

/** Start accepting clients; stdin packets are written to in_fd (or dropped).
 *  With `stdin_once`, in_fd is closed (the container sees EOF) when the
 *  first client disconnects (CRI StdinOnce). */
int ocimon_attach_start(struct ocimon_attach *at, int in_fd, bool stdin_once, struct err *err);

/** Send `data` as packets of stream `id` to every client; slow clients are
 *  dropped (never blocks). */
void ocimon_attach_broadcast(struct ocimon_attach *at, enum mon_attach_stream id, const char *data,
			     size_t len);

/** Tell clients the exit status, close everything, unlink `path`. */
void ocimon_attach_done(struct ocimon_attach *at, const struct mon_exit *e, const char *path);

/** Create the ctl socket at `path`, SOCK_SEQPACKET, mode 0600. Returns the fd. */
int ocimon_listen_seqpacket(const char *path, struct err *err);

/** Run the monitor: log output, serve ctl/attach, wait for the exit, write
 *  the exit file. Returns 0 once the exit file is written. */
int ocimon_run(const struct ocimon_args *a, struct ocimon_create *c, struct mon_log *log,
	       int ctl_fd, struct ocimon_attach *at, struct err *err);
