/* ocic's streaming sessions (src/stream's client): the remote command
 * client of `ctr exec` and `ctr attach` (remote.c) and the helpers it
 * shares with `pod port-forward` (cmd_pod_portforward.c). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/** One exec or attach session, from the URL that Exec or Attach answered. */
struct ocic_remote {
	const char *url;
	bool tty; /* the remote side has a terminal: no stderr stream, resize messages */
	bool in;  /* our stdin goes to the command (-i) */
};

/** Connect to r->url with v4.channel.k8s.io and run the session: stdin to
 *  the command, its stdout and stderr to ours, the terminal in raw mode
 *  when r->tty and r->in and stdin is one (restored on every way out, a
 *  signal included), SIGWINCH sent as a resize message. Returns the
 *  command's exit code (1 when it is outside 0..255), 1 after printing why
 *  the session failed, or 128 + the signal that ended ocic (SIGINT,
 *  SIGTERM, SIGHUP). */
int ocic_remote_run(const struct ocic_remote *r);

/** Call `method` (Exec or Attach) with `req`, then run the session at the
 *  URL of its reply (a `resp_desc` with a string field `url`) as
 *  ocic_remote_run does; rem->url is set for the session. */
int ocic_remote_call(const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *resp_desc, struct ocic_remote *rem);

/** Block SIGINT, SIGTERM, SIGHUP (and SIGWINCH when `winch`) and return a
 *  signalfd that reads them; SIGPIPE is ignored. -1 after printing why. */
int ocic_signalfd(bool winch);

/** write(2) all of p[0..n) to fd, waiting while it is nonblocking and full.
 *  0, or -errno. */
int ocic_write_all(int fd, const void *p, size_t n);
