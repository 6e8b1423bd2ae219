/* mon: the ocid <-> ocimon protocol and the pieces both sides share.
 *
 * - Typed, versioned messages (OpenSMTPD imsg style): a fixed 12-byte
 *   header {u16 type, u16 version, u32 payload length, u32 reserved}, all
 *   little-endian, then a payload whose layout the type fixes. Decoding
 *   checks every bound; nothing is ever read past the given length.
 * - The CRI log writer ocimon uses for the container's output.
 * - The exit file ocimon writes atomically when the container exits.
 * - The client side ocid uses: spawn a monitor, ask it to reopen its log or
 *   resize the terminal, read its exit file.
 *
 * This module is linked into ocimon: no jansson, no threads, small buffers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"

/* ---- messages ---------------------------------------------------------- */

#define MON_PROTO_VERSION 1
#define MON_MSG_HDR_SIZE 12
/* Largest payload of any message; larger lengths are refused (-EMSGSIZE). */
#define MON_MSG_MAX_PAYLOAD 4096
#define MON_MSG_MAX_SIZE (MON_MSG_HDR_SIZE + MON_MSG_MAX_PAYLOAD)
/* Longest error text carried by MON_MSG_SYNC_ERROR (payload minus the code). */
#define MON_MSG_MAX_TEXT (MON_MSG_MAX_PAYLOAD - 4)

enum mon_msg_type {
	MON_MSG_SYNC_PID = 1,	/* ocimon -> ocid, sync pipe: container and monitor pids */
	MON_MSG_SYNC_ERROR = 2, /* ocimon -> ocid, sync pipe: -errno + the runtime's stderr */
	MON_MSG_REOPEN_LOG = 3, /* ocid -> ocimon, ctl socket: no payload */
	MON_MSG_RESIZE = 4,	/* ocid -> ocimon, ctl socket: terminal width, height */
	MON_MSG_EXIT = 5,	/* ocimon -> attach clients: the exit status */
	MON_MSG_REPLY = 6,	/* ocimon -> ocid, ctl socket: 0 or -errno for a request */
};

/* How the container ended (also the content of the exit file). */
struct mon_exit {
	int32_t exit_code;   /* 0..255; 128 + signal when killed by a signal */
	int32_t signal;	     /* the killing signal, 0 when it exited normally */
	bool oom;	     /* its cgroup saw an OOM kill */
	int64_t finished_ns; /* CLOCK_REALTIME of the exit, ns since the epoch */
};

struct mon_msg {
	enum mon_msg_type type;
	union {
		struct {
			int32_t pid;	 /* the container's init pid (host pid namespace) */
			int32_t mon_pid; /* the monitor's pid */
		} sync;
		struct {
			int32_t code; /* negative errno */
			uint32_t len; /* bytes used in text, < MON_MSG_MAX_TEXT + 1 */
			char text[MON_MSG_MAX_TEXT + 1]; /* NUL-terminated after decode */
		} error;
		struct {
			uint16_t width, height;
		} resize;
		struct mon_exit exit;
		int32_t status; /* MON_MSG_REPLY: 0 or -errno */
	};
};

/** Encode `m` into buf[0..size). Returns the encoded length, -EINVAL for an
 *  unknown type or an error text longer than MON_MSG_MAX_TEXT, -ENOBUFS when
 *  `size` is too small. Pure memory work: async-signal-safe. */
int mon_msg_encode(const struct mon_msg *m, uint8_t *buf, size_t size);

/** Decode one message from buf[0..len). Returns the bytes consumed (header +
 *  payload) and fills *m; -EAGAIN when buf holds only part of a message
 *  (stream transports read more; packet transports treat it as -EBADMSG);
 *  -EPROTO for another protocol version; -EMSGSIZE for a payload over
 *  MON_MSG_MAX_PAYLOAD; -EBADMSG for an unknown type, a payload length
 *  wrong for its type or values out of range. */
int mon_msg_decode(const uint8_t *buf, size_t len, struct mon_msg *m);

/* ---- attach socket ------------------------------------------------------ */

/* Each SOCK_SEQPACKET packet on the attach socket starts with a stream id.
 * Clients send MON_ATTACH_STDIN (an empty one closes the container's
 * stdin); ocimon sends output and, when the container exits, one
 * MON_ATTACH_CTL packet carrying an encoded MON_MSG_EXIT. */
enum mon_attach_stream {
	MON_ATTACH_STDIN = 0,
	MON_ATTACH_STDOUT = 1,
	MON_ATTACH_STDERR = 2,
	MON_ATTACH_CTL = 3,
};
#define MON_ATTACH_MAX_PACKET 8193 /* 1 id byte + up to 8 KiB of data */

/* ---- CRI log writer ----------------------------------------------------- */

enum mon_stream { MON_STREAM_STDOUT = 0, MON_STREAM_STDERR = 1 };

/* Per-stream line buffer: a line longer than this is written as P records
 * of this many content bytes, then an F record with the rest. */
#define MON_LOG_LINE_MAX (16 * 1024)

struct mon_log;

/** Open (create, mode 0640) the CRI log at `path` with O_WRONLY|O_APPEND|
 *  O_CLOEXEC. The path is copied. -errno with err on failure. */
int mon_log_open(const char *path, struct mon_log **ret, struct err *err);

/** Feed `len` bytes of the container's `stream`. Complete lines are written
 *  at once as `<RFC3339Nano> <stdout|stderr> F <line>\n`; a line that fills
 *  the buffer is written as a P record; the tail of an unfinished line is
 *  kept for the next call. Each record is one write(2), so records of the
 *  two streams never interleave. -errno with err when the write fails (the
 *  data is dropped; the next record tries again). */
int mon_log_write(struct mon_log *l, enum mon_stream stream, const char *data, size_t len,
		  struct err *err);

/** The stream ended: write its unfinished line, if any, as an F record. */
int mon_log_flush(struct mon_log *l, enum mon_stream stream, struct err *err);

/** Write the unfinished line held for `stream` now, as a P record, so
 *  output that stalls mid-line (a prompt, a progress bar) still reaches the
 *  log; the rest of the line follows in later records. ocimon calls it
 *  when a line has been pending for a second. No-op when nothing is held. */
int mon_log_flush_partial(struct mon_log *l, enum mon_stream stream, struct err *err);

/** Bytes of an unfinished line held for `stream`. */
size_t mon_log_pending(const struct mon_log *l, enum mon_stream stream);

/** Reopen the log at its path (after it was renamed by log rotation): the
 *  new file is opened first and replaces the old fd only on success. */
int mon_log_reopen(struct mon_log *l, struct err *err);

/** Close and free. Unfinished lines are flushed first. Accepts NULL. */
void mon_log_free(struct mon_log *l);
DEFINE_CLEANUP(struct mon_log, mon_log_free)

/** Format `ns` (CLOCK_REALTIME ns) as RFC3339 with 9 fraction digits in
 *  UTC, e.g. "2026-11-22T20:24:21.000123456Z", into buf (at least 36 bytes).
 *  Returns the length (30). */
int mon_log_timestamp(int64_t ns, char *buf, size_t size);

/* ---- exit file ---------------------------------------------------------- */

/* The exit file is small text, one "key value" per line:
 *     ocimon-exit 1
 *     exit_code 137
 *     signal 9
 *     oom 1
 *     finished_ns 1795379061000123456
 * Every key exactly once, in this order; numbers in decimal. */
#define MON_EXIT_MAX_SIZE 256

/** Format `e` into buf. Returns the length or -ENOBUFS. */
int mon_exit_format(const struct mon_exit *e, char *buf, size_t size);

/** Parse an exit file's content. 0 on success, -EBADMSG with err naming
 *  the line for anything malformed or out of range. */
int mon_exit_parse(const char *buf, size_t len, struct mon_exit *ret, struct err *err);

/** Write the exit file at `path` atomically (temp file, fsync, rename). */
int mon_exit_write(const char *path, const struct mon_exit *e, struct err *err);

/** Read and parse the exit file at `path`. -ENOENT (with err) while the
 *  container has not exited; -EBADMSG when it is malformed. */
int mon_read_exit(const char *path, struct mon_exit *ret, struct err *err);

/* ---- client side (ocid) ------------------------------------------------- */

struct mon_spawn_args {
	const char *ocimon;	   /* path of the ocimon binary */
	const char *id;		   /* container id */
	const char *bundle;	   /* OCI bundle directory (config.json) */
	const char *runtime;	   /* OCI runtime binary, e.g. /usr/sbin/runc */
	const char *runtime_root;  /* the runtime's --root */
	char *const *runtime_args; /* global flags after --root, or NULL */
	char *const *runtime_env;  /* NAME=VALUE added to the runtime's environment, or NULL */
	bool no_pivot;		   /* `create --no-pivot` */
	const char *log_path;	   /* CRI log file */
	const char *exit_path;	   /* exit file to write when the container exits */
	const char *ctl_path;	   /* control socket to create */
	const char *attach_path;   /* attach socket to create */
	const char *pid_file;	   /* runtime --pid-file; NULL = <bundle>/pidfile */
	bool tty;		   /* allocate a terminal (--console-socket) */
	bool stdin_open;	   /* keep a stdin pipe for attach */
	bool stdin_once;	   /* close it when the first attach client leaves */
	bool systemd_cgroup;	   /* runtime --systemd-cgroup: cgroupsPath is slice:prefix:name */
	unsigned timeout_ms;	   /* for the runtime's create; 0 = 60 s */
};

/** Start ocimon with `a` (posix_spawn; stdio /dev/null, no fds but the sync
 *  pipe); it detaches (new session, one fork) and runs `<runtime> create`. Waits on a CLOEXEC sync pipe for its report:
 *  on success *ret_pid is the container's init pid and *ret_mon_pid (may be
 *  NULL) the monitor's. On failure -errno with err holding the runtime's
 *  own error text (its stderr), or why ocimon could not run (e.g. -ENOENT,
 *  "exec ocimon '<path>'"); -ETIMEDOUT when no report came in time
 *  (a.timeout_ms + 5 s). Safe to call from any thread. */
int mon_spawn(const struct mon_spawn_args *a, pid_t *ret_pid, pid_t *ret_mon_pid, struct err *err);

/** Ask the monitor behind `ctl_path` to reopen the container's log file.
 *  0 once it has; -ENOENT/-ECONNREFUSED when no monitor listens there. */
int mon_reopen_log(const char *ctl_path, struct err *err);

/** Ask the monitor to resize the container's terminal. -ENOTTY when the
 *  container has none; -EINVAL for a zero size. */
int mon_resize(const char *ctl_path, unsigned width, unsigned height, struct err *err);

/** The pid of the monitor listening on `ctl_path` (its SO_PEERCRED: the
 *  process that listens), for a daemon that starts while monitors run.
 *  -ENOENT or -ECONNREFUSED when no monitor listens there (it is gone). */
int mon_ctl_peer_pid(const char *ctl_path, pid_t *ret, struct err *err);
