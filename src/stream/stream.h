/* stream: the streaming server behind CRI Exec, Attach and PortForward.
 *
 * The CRI calls only validate and hand out a URL
 * `http://<address>:<port>/{exec,attach,portforward}/<token>`; the client
 * (kubelet, crictl, ocic) then connects here and upgrades to SPDY/3.1 or
 * WebSocket. The server has its own listener thread and one thread per
 * session: nothing here runs on the RPC workers.
 *
 * Tokens are 128 random bits, single use, and expire after a minute; an
 * unknown, used or expired token gets 404 and nothing else. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "ctr/ctr.h"
#include "pod/pod.h"

struct stream_server;

struct stream_config {
	const char *address;	 /* listen address (IPv4 or IPv6 literal) */
	unsigned port;		 /* 0 = an ephemeral port */
	unsigned idle_timeout_s; /* a session with no traffic this long is closed; 0 = never */
	unsigned max_sessions;	 /* sessions at once; more are answered 503 */
	const char *tls_cert, *tls_key; /* PEM files: serve HTTPS (TLS 1.2+); NULL = plain */
	const char *tls_ca; /* verify client certificates against this CA; NULL = none */
	struct ctr_mgr *ctrs;
	struct pod_manager *pods;
};

/** Bind, listen and start serving. -errno with err (e.g. -EADDRINUSE). */
int stream_server_new(const struct stream_config *cfg, struct stream_server **ret, struct err *err);
/** Stop accepting, end every session, free. Accepts NULL. */
void stream_server_free(struct stream_server *s);
/** The port in use (the ephemeral one when 0 was asked). */
unsigned stream_server_port(const struct stream_server *s);
/** The URL base "http://127.0.0.1:PORT" (https with TLS), borrowed. */
const char *stream_server_base_url(const struct stream_server *s);
/** Sessions open now. */
size_t stream_server_sessions(struct stream_server *s);

struct stream_exec_req {
	const char *ctr_id;
	char *const *cmd; /* exec only */
	bool tty, in, out, err;
};

/** A URL for an exec session in running container ctr_id. Validates as
 *  kubelet does: -EINVAL for an empty command, tty together with stderr, no
 *  stream at all, a container that is not running; -ENOENT unknown id;
 *  -ENOSPC when too many tokens are outstanding. *ret_url is malloc'd. */
int stream_exec_url(struct stream_server *s, const struct stream_exec_req *r, char **ret_url,
		    struct err *err);
/** A URL for attaching to running container r->ctr_id (cmd unused). */
int stream_attach_url(struct stream_server *s, const struct stream_exec_req *r, char **ret_url,
		      struct err *err);
/** A URL for port-forwarding into ready pod `pod_id`; `ports` (may be
 *  empty: the client names them) must be 1..65535. */
int stream_portforward_url(struct stream_server *s, const char *pod_id, const int32_t *ports,
			   size_t n_ports, char **ret_url, struct err *err);
