/* ocic pod port-forward: local TCP ports on 127.0.0.1 forwarded into a pod,
 * as kubectl port-forward does it: one PortForward call, one SPDY session
 * with portforward.k8s.io, and per accepted connection a pair of streams
 * (error, then data; headers streamtype, port, requestid). An error the
 * server reports on a connection's error stream is printed and ends that
 * connection only; ocic runs until SIGINT or SIGTERM, or until the session
 * ends. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "ocic.h"
#include "portspec.h"
#include "remote.h"
#include "stream/stream.h"

#define PF_PROTOCOL "portforward.k8s.io"
#define MAX_CONNS 256
#define CHUNK (32u * 1024u)
/* Stop reading local connections while this much is queued for the server. */
#define BACKLOG_MAX (256u * 1024u)
/* Stop reading the session while a connection has this much unwritten:
 * the only back-pressure there is (SPDY here has no flow control). */
#define TO_LOCAL_MAX (1u << 20)
#define ERRMSG_MAX 4096
#define CLOSE_FLUSH_MS 1000

struct listener {
	int fd;
	struct ocic_portspec spec; /* local: the port bound */
};

struct conn {
	int fd;
	uint16_t local, remote;
	uint32_t data_id, error_id;
	char *out; /* data for the local socket: out[off..len) */
	size_t off, len;
	bool local_eof;	 /* it sent FIN: our data stream is finished */
	bool remote_fin; /* the server finished the data stream */
	bool shut_wr;	 /* SHUT_WR done on the local socket */
	char errmsg[ERRMSG_MAX];
	size_t errlen;
};

struct pf {
	struct stream_client *c;
	struct listener *ls;
	size_t n_ls;
	struct conn *conns[MAX_CONNS];
	unsigned next_request;
	bool server_gone;
};

static void conn_free(struct pf *p, size_t i)
{
	struct conn *k = p->conns[i];

	(void)close(k->fd);
	free(k->out);
	free(k);
	p->conns[i] = NULL;
}

static void conn_accept(struct pf *p, const struct listener *l)
{
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	size_t slot = MAX_CONNS;
	char port[8], rid[16];
	struct conn *k;
	int eid, did;

	if (fd < 0)
		return;
	for (size_t i = 0; i < MAX_CONNS && slot == MAX_CONNS; i++) {
		if (!p->conns[i])
			slot = i;
	}
	if (slot == MAX_CONNS) {
		(void)ocic_fail("too many connections at once (%d): one refused", MAX_CONNS);
		(void)close(fd);
		return;
	}
	snprintf(port, sizeof(port), "%u", l->spec.remote);
	snprintf(rid, sizeof(rid), "%u", p->next_request++);
	/* kubectl's order: the error stream, then the data stream. */
	eid = stream_client_open(p->c, (const char *const[]){ "streamtype", "error", "port", port,
							      "requestid", rid, NULL });
	did = stream_client_open(p->c, (const char *const[]){ "streamtype", "data", "port", port,
							      "requestid", rid, NULL });
	if (eid < 0 || did < 0) {
		(void)ocic_fail("the session has no stream ids left: connection refused");
		(void)close(fd);
		return;
	}
	/* We send nothing on the error stream: finished at once (client-go
	 * does so too), so the pair leaves the server's table when done. */
	stream_client_fin(p->c, (uint32_t)eid);
	printf("Handling connection for %u\n", l->spec.remote);
	(void)fflush(stdout);
	k = xnew(struct conn);
	k->fd = fd;
	k->local = l->spec.local;
	k->remote = l->spec.remote;
	k->error_id = (uint32_t)eid;
	k->data_id = (uint32_t)did;
	p->conns[slot] = k;
}

/* Both ways done, or broken: the connection goes. */
static void conn_maybe_end(struct pf *p, size_t i)
{
	struct conn *k = p->conns[i];

	if (k->local_eof && k->remote_fin && k->off == k->len)
		conn_free(p, i);
}

static void conn_flush(struct pf *p, size_t i)
{
	struct conn *k = p->conns[i];

	while (k->off < k->len) {
		ssize_t n = send(k->fd, k->out + k->off, k->len - k->off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			/* The local side is gone: the pod's side goes too. */
			stream_client_reset(p->c, k->data_id);
			conn_free(p, i);
			return;
		}
		k->off += (size_t)n;
	}
	k->off = k->len = 0;
	if (k->remote_fin && !k->shut_wr) {
		(void)shutdown(k->fd, SHUT_WR);
		k->shut_wr = true;
	}
	conn_maybe_end(p, i);
}

static void conn_read(struct pf *p, size_t i)
{
	struct conn *k = p->conns[i];
	char buf[CHUNK];
	ssize_t n = recv(k->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		stream_client_send(p->c, k->data_id, buf, (size_t)n);
		return;
	}
	if (n < 0) {
		stream_client_reset(p->c, k->data_id);
		conn_free(p, i);
		return;
	}
	k->local_eof = true;
	stream_client_fin(p->c, k->data_id);
	conn_maybe_end(p, i);
}

static ssize_t conn_by_stream(const struct pf *p, uint32_t id, bool *is_error)
{
	for (size_t i = 0; i < MAX_CONNS; i++) {
		if (p->conns[i] && (p->conns[i]->data_id == id || p->conns[i]->error_id == id)) {
			*is_error = p->conns[i]->error_id == id;
			return (ssize_t)i;
		}
	}
	return -1;
}

/* What the error stream said: printed, and the connection ends. */
static void conn_error(struct pf *p, size_t i)
{
	struct conn *k = p->conns[i];

	if (k->errlen > 0) {
		(void)ocic_fail("an error occurred forwarding %u -> %u: %.*s", k->local, k->remote,
				(int)k->errlen, k->errmsg);
		stream_client_reset(p->c, k->data_id);
		conn_free(p, i);
	}
}

static void on_event(struct pf *p, const struct stream_client_ev *ev)
{
	bool is_error = false;
	ssize_t i = conn_by_stream(p, ev->id, &is_error);
	struct conn *k;

	if (ev->type == STREAM_CLIENT_GOAWAY)
		p->server_gone = true;
	if (i < 0)
		return;
	k = p->conns[i];
	if (ev->type == STREAM_CLIENT_RESET) {
		(void)ocic_fail(
		    "the streaming server reset a connection to port %u (RST_STREAM %u)", k->remote,
		    ev->status);
		conn_free(p, (size_t)i);
		return;
	}
	if (ev->type != STREAM_CLIENT_DATA)
		return;
	if (is_error) {
		size_t n = ev->len < ERRMSG_MAX - k->errlen ? ev->len : ERRMSG_MAX - k->errlen;

		memcpy(k->errmsg + k->errlen, ev->data, n);
		k->errlen += n;
		if (ev->fin)
			conn_error(p, (size_t)i);
		return;
	}
	if (ev->len) {
		k->out = xrealloc(k->out, k->len + ev->len);
		memcpy(k->out + k->len, ev->data, ev->len);
		k->len += ev->len;
	}
	if (ev->fin)
		k->remote_fin = true;
	conn_flush(p, (size_t)i);
}

static int server_input(struct pf *p)
{
	cleanup_err struct err err = ERR_INIT;
	struct stream_client_ev ev;
	int r = stream_client_read(p->c, &err);

	if (r == 0)
		p->server_gone = true;
	else if (r < 0 && r != -EAGAIN)
		return ocic_fail("%s", err_str(&err));
	while ((r = stream_client_next(p->c, &ev, &err)) > 0)
		on_event(p, &ev);
	if (r < 0)
		return ocic_fail("%s", err_str(&err));
	return 0;
}

static bool held_back(const struct pf *p)
{
	for (size_t i = 0; i < MAX_CONNS; i++) {
		if (p->conns[i] && p->conns[i]->len - p->conns[i]->off >= TO_LOCAL_MAX)
			return true;
	}
	return false;
}

/* Poll set: [0] the session, [1] signals, listeners, then connections. */
static size_t poll_set(struct pf *p, int sigfd, struct pollfd *fds, ssize_t *which)
{
	size_t n = 0;
	bool room = stream_client_backlog(p->c) < BACKLOG_MAX;

	fds[n++] =
	    (struct pollfd){ .fd = stream_client_fd(p->c),
			     .events = (short)((held_back(p) ? 0 : POLLIN) |
					       (stream_client_backlog(p->c) ? POLLOUT : 0)) };
	fds[n++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
	for (size_t i = 0; i < p->n_ls; i++)
		fds[n++] = (struct pollfd){ .fd = p->ls[i].fd, .events = POLLIN };
	for (size_t i = 0; i < MAX_CONNS; i++) {
		struct conn *k = p->conns[i];
		short ev = (short)((k && room && !k->local_eof ? POLLIN : 0) |
				   (k && k->off < k->len ? POLLOUT : 0));

		if (ev) {
			which[n] = (ssize_t)i;
			fds[n++] = (struct pollfd){ .fd = k->fd, .events = ev };
		}
	}
	return n;
}

static int loop(struct pf *p, int sigfd)
{
	cleanup_err struct err err = ERR_INIT;
	struct pollfd fds[2 + 64 + MAX_CONNS];
	ssize_t which[2 + 64 + MAX_CONNS];

	while (!p->server_gone) {
		size_t n;

		if (stream_client_flush(p->c, 0, &err) < 0)
			return ocic_fail("%s", err_str(&err));
		n = poll_set(p, sigfd, fds, which);
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ocic_fail("poll: %s", strerror(errno));
		}
		if (fds[1].revents)
			return OCIC_EXIT_OK; /* SIGINT, SIGTERM, SIGHUP: the end asked for */
		if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && server_input(p) != 0)
			return OCIC_EXIT_FAIL;
		for (size_t i = 0; i < p->n_ls; i++) {
			if (fds[2 + i].revents)
				conn_accept(p, &p->ls[i]);
		}
		for (size_t i = 2 + p->n_ls; i < n; i++) {
			size_t k = (size_t)which[i];

			if (p->conns[k] && (fds[i].revents & POLLOUT))
				conn_flush(p, k);
			if (p->conns[k] && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				conn_read(p, k);
		}
	}
	return ocic_fail("lost the connection to the streaming server");
}

static int listen_on(struct listener *l)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(l->spec.local),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1;

	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return ocic_fail("socket: %s", strerror(errno));
	(void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l->fd, 128) < 0 ||
	    getsockname(l->fd, (struct sockaddr *)&a, &alen) < 0)
		return ocic_fail("listen on 127.0.0.1:%u: %s", l->spec.local, strerror(errno));
	l->spec.local = ntohs(a.sin_port);
	printf("Forwarding from 127.0.0.1:%u -> %u\n", l->spec.local, l->spec.remote);
	return 0;
}

static int forward(const struct ocic_args *a, struct listener *ls, const char *url)
{
	cleanup_err struct err err = ERR_INIT;
	struct pf p = { .ls = ls, .n_ls = (size_t)a->n_operands };
	int sigfd = -1, r;

	if (stream_client_connect(url, PF_PROTOCOL, &p.c, &err) < 0)
		return ocic_fail("%s", err_str(&err));
	r = 0;
	for (size_t i = 0; i < p.n_ls && r == 0; i++)
		r = listen_on(&ls[i]);
	(void)fflush(stdout);
	if (r == 0) {
		sigfd = ocic_signalfd(false);
		r = sigfd < 0 ? OCIC_EXIT_FAIL : loop(&p, sigfd);
	}
	if (!p.server_gone) {
		stream_client_goaway(p.c);
		(void)stream_client_flush(p.c, CLOSE_FLUSH_MS, NULL);
	}
	for (size_t i = 0; i < MAX_CONNS; i++) {
		if (p.conns[i])
			conn_free(&p, i);
	}
	stream_client_free(p.c);
	if (sigfd >= 0)
		(void)close(sigfd);
	return r;
}

static int pf_run(const struct ocic_args *a)
{
	Runtime__V1__PortForwardRequest req = RUNTIME__V1__PORT_FORWARD_REQUEST__INIT;
	Runtime__V1__PortForwardResponse *resp = NULL;
	size_t n = (size_t)a->n_operands;
	cleanup_free struct listener *ls = xcalloc(n, sizeof(*ls));
	cleanup_free int32_t *ports = xcalloc(n, sizeof(*ports));
	int r;

	for (size_t i = 0; i < n; i++) {
		ls[i].fd = -1;
		if (ocic_portspec_parse(a->operands[i], &ls[i].spec) < 0)
			return ocic_usage_error(
			    a->cmd, "bad port '%s': want [LOCAL:]REMOTE, REMOTE 1 to 65535",
			    a->operands[i]);
		ports[i] = ls[i].spec.remote;
	}
	req.pod_sandbox_id = (char *)ocic_arg(a, "id");
	req.port = ports;
	req.n_port = n;
	r = ocic_call(OCIC_RUNTIME_SERVICE "PortForward", &req.base,
		      &runtime__v1__port_forward_response__descriptor, (ProtobufCMessage **)&resp);
	if (r != 0)
		return r;
	r = forward(a, ls, resp->url);
	for (size_t i = 0; i < n; i++) {
		if (ls[i].fd >= 0)
			(void)close(ls[i].fd);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

static const struct ocic_opt pf_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the pod sandbox id" },
	{ 0 },
};

const struct ocic_sub ocic_pod_port_forward = {
	.name = "port-forward",
	.summary =
	    "Forward local ports on 127.0.0.1 to ports in a pod (PortForward); runs until Ctrl-C.",
	.opts = pf_opts,
	.operands = "[LOCAL:]REMOTE...",
	.min_operands = 1,
	.max_operands = 64,
	.run = pf_run,
};
