/* Port-forward: each client channel pair (SPDY: a data and an error stream
 * sharing a request id; WebSocket: channels 2i and 2i+1) is one TCP
 * connection to localhost:PORT inside the pod's network namespace (IPv4,
 * then IPv6). The session's thread joins that namespace once, at the
 * start, so every socket it makes is the pod's; host-network pods need no
 * join. A refused port is told on the error channel; the session stays. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "stream/stream_int.h"

#define CHUNK (64u * 1024u)

int pf_init(struct sess *s, struct err *err)
{
	struct pod_info *p = NULL;
	int r = pod_get(s->srv->cfg.pods, s->job->id, &p, err);
	if (r < 0)
		return r;
	if (p->state != POD_READY) {
		r = err_msg(err, -EINVAL, "pod sandbox %s is not ready", p->id);
	} else if (p->netns_path) {
		s->netns_fd = open(p->netns_path, O_RDONLY | O_CLOEXEC);
		if (s->netns_fd < 0)
			r = err_set(err, -errno, "open '%s'", p->netns_path);
		/* This thread only: the session's own, ended with it. */
		else if (setns(s->netns_fd, CLONE_NEWNET) < 0)
			r = err_set(err, -errno, "join the network namespace of pod %s", p->id);
	}
	pod_info_free(p);
	return r;
}

static int dial(uint16_t port, char *why, size_t why_len)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	const struct sockaddr *addrs[] = { (const struct sockaddr *)&a4,
					   (const struct sockaddr *)&a6 };
	const socklen_t lens[] = { sizeof(a4), sizeof(a6) };
	int e = 0;
	for (size_t i = 0; i < 2; i++) {
		int fd = socket(addrs[i]->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = e ? e : errno;
			continue;
		}
		/* Loopback answers at once: connected or refused. */
		if (connect(fd, addrs[i], lens[i]) == 0) {
			int one = 1;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			(void)fs_fd_set_nonblock(fd, true);
			return fd;
		}
		if (i == 0 || !e)
			e = errno;
		(void)close(fd);
	}
	snprintf(why, why_len, "dial tcp 127.0.0.1:%u: connect: %s", port, strerror(e));
	return -e;
}

void pf_open(struct sess *s, uint32_t data_key, uint32_t error_key, uint16_t port)
{
	size_t slot = PF_MAX_CONNS;
	for (size_t i = 0; i < PF_MAX_CONNS && slot == PF_MAX_CONNS; i++)
		if (!s->conns[i])
			slot = i;
	char why[160];
	int fd = -1;
	if (slot == PF_MAX_CONNS)
		snprintf(why, sizeof(why), "too many connections in one session (%d)",
			 PF_MAX_CONNS);
	else
		fd = dial(port, why, sizeof(why));
	if (fd < 0) {
		cleanup_free char *msg =
		    xasprintf("error forwarding port %u to pod %s: %s", port, s->job->id, why);
		log_info("port-forward refused", "pod=%.12s port=%u error=%s", s->job->id, port,
			 log_q(why));
		sess_send(s, error_key, msg, strlen(msg));
		sess_fin(s, error_key);
		sess_fin(s, data_key);
		return;
	}
	struct pf_conn *c = xzalloc(sizeof(*c));
	c->data_key = data_key;
	c->error_key = error_key;
	c->port = port;
	c->fd = fd;
	s->conns[slot] = c;
}

static struct pf_conn **find(struct sess *s, uint32_t data_key)
{
	for (size_t i = 0; i < PF_MAX_CONNS; i++)
		if (s->conns[i] && s->conns[i]->data_key == data_key)
			return &s->conns[i];
	return NULL;
}

static void conn_free(struct pf_conn **slot)
{
	struct pf_conn *c = *slot;
	(void)close(c->fd);
	sbuf_done(&c->to_pod);
	free(c);
	*slot = NULL;
}

/* Both ways done: the connection goes. */
static void maybe_end(struct pf_conn **slot)
{
	struct pf_conn *c = *slot;
	if (c->pod_eof && c->rx_eof && sbuf_pending(&c->to_pod) == 0)
		conn_free(slot);
}

static void push(struct pf_conn *c)
{
	while (sbuf_pending(&c->to_pod) > 0) {
		ssize_t n = send(c->fd, c->to_pod.p + c->to_pod.off, sbuf_pending(&c->to_pod),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* The pod's side is gone: what it did not take is dropped. */
			sbuf_take(&c->to_pod, sbuf_pending(&c->to_pod));
			break;
		}
		sbuf_take(&c->to_pod, (size_t)n);
	}
	if (c->rx_eof && !c->shut_wr) {
		(void)shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
	}
}

void pf_input(struct sess *s, uint32_t data_key, const uint8_t *p, size_t n)
{
	struct pf_conn **slot = find(s, data_key);
	if (!slot || (*slot)->rx_eof)
		return;
	sbuf_add(&(*slot)->to_pod, p, n);
	push(*slot);
}

void pf_input_eof(struct sess *s, uint32_t data_key)
{
	struct pf_conn **slot = find(s, data_key);
	if (!slot)
		return;
	(*slot)->rx_eof = true;
	push(*slot);
	maybe_end(slot);
}

void pf_reset(struct sess *s, uint32_t data_key)
{
	struct pf_conn **slot = find(s, data_key);
	if (!slot)
		return;
	sess_fin(s, (*slot)->error_key);
	conn_free(slot);
}

size_t pf_pollfds(struct sess *s, struct pollfd *p, size_t max)
{
	size_t n = 0;
	bool room = sess_backlog(s) < SESS_BACKLOG_MAX;
	for (size_t i = 0; i < PF_MAX_CONNS && n < max; i++) {
		struct pf_conn *c = s->conns[i];
		if (!c)
			continue;
		short ev = (short)((room && !c->pod_eof ? POLLIN : 0) |
				   (sbuf_pending(&c->to_pod) ? POLLOUT : 0));
		if (ev)
			p[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
	}
	return n;
}

static void pod_read(struct sess *s, struct pf_conn **slot)
{
	struct pf_conn *c = *slot;
	uint8_t *buf = xmalloc(CHUNK);
	ssize_t n = recv(c->fd, buf, CHUNK, MSG_DONTWAIT);
	if (n > 0) {
		sess_send(s, c->data_key, buf, (size_t)n);
		s->last_ns = mono_ns();
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		/* The server in the pod closed (or reset): the client's
		 * streams end, the error stream empty. */
		c->pod_eof = true;
		sess_fin(s, c->data_key);
		sess_fin(s, c->error_key);
		if (n < 0) {
			c->rx_eof = true;
			sbuf_take(&c->to_pod, sbuf_pending(&c->to_pod));
		}
	}
	free(buf);
}

void pf_events(struct sess *s, const struct pollfd *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		struct pf_conn **slot = NULL;
		for (size_t k = 0; k < PF_MAX_CONNS && !slot; k++)
			if (s->conns[k] && s->conns[k]->fd == p[i].fd)
				slot = &s->conns[k];
		if (!slot)
			continue;
		if (p[i].revents & POLLOUT)
			push(*slot);
		if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && !(*slot)->pod_eof)
			pod_read(s, slot);
		maybe_end(slot);
	}
}

void pf_done(struct sess *s)
{
	for (size_t i = 0; i < PF_MAX_CONNS; i++)
		if (s->conns[i])
			conn_free(&s->conns[i]);
	if (s->netns_fd >= 0)
		(void)close(s->netns_fd);
	s->netns_fd = -1;
}
