/* The streaming server: its listener thread, the tokens the CRI calls hand
 * out, and one detached thread per session (bounded by max_sessions). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "base/clock.h"
#include "stream/stream_int.h"

/* kubelet caches a URL for a minute; so does the token behind it. */
#define TOKEN_TTL_NS (60LL * 1000000000LL)
#define TOKENS_MAX 4096
/* Session threads touch little stack: frames and buffers are on the heap. */
#define SESSION_STACK (256u * 1024u)

void stream_job_free(struct stream_job *j)
{
	if (!j)
		return;
	strv_free(j->cmd);
	free(j->ports);
	free(j);
}

/* ---- tokens ---- */

static void tokens_expire(struct stream_server *s, uint64_t now)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n_tokens; i++) {
		if (s->tokens[i].expires_ns <= now)
			stream_job_free(s->tokens[i].job);
		else
			s->tokens[k++] = s->tokens[i];
	}
	s->n_tokens = k;
}

static int token_add(struct stream_server *s, struct stream_job *job, char **ret_url,
		     struct err *err)
{
	uint8_t rnd[16];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return err_set(err, -EIO, "getrandom");
	struct stream_token t = { .expires_ns = mono_ns() + TOKEN_TTL_NS, .job = job };
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(t.token + 2 * i, 3, "%02x", rnd[i]);
	static const char *const kinds[] = { "exec", "attach", "portforward" };
	pthread_mutex_lock(&s->mu);
	tokens_expire(s, mono_ns());
	if (s->n_tokens >= TOKENS_MAX) {
		pthread_mutex_unlock(&s->mu);
		return err_msg(
		    err, -ENOSPC,
		    "%d streaming URLs are outstanding (unused, younger than a minute): try again later",
		    TOKENS_MAX);
	}
	s->tokens = xreallocarray(s->tokens, s->n_tokens + 1, sizeof(*s->tokens));
	s->tokens[s->n_tokens++] = t;
	pthread_mutex_unlock(&s->mu);
	*ret_url = xasprintf("%s/%s/%s", s->base_url, kinds[job->kind], t.token);
	return 0;
}

struct stream_job *stream_token_take(struct stream_server *s, const char *token)
{
	struct stream_job *job = NULL;
	if (strlen(token) != 32)
		return NULL;
	pthread_mutex_lock(&s->mu);
	tokens_expire(s, mono_ns());
	for (size_t i = 0; i < s->n_tokens; i++) {
		if (strcmp(s->tokens[i].token, token) != 0)
			continue;
		job = s->tokens[i].job;
		s->tokens[i] = s->tokens[--s->n_tokens];
		break;
	}
	pthread_mutex_unlock(&s->mu);
	return job;
}

/* ---- URLs for the CRI calls ---- */

static int running_ctr(struct stream_server *s, const char *id, struct stream_job *job,
		       struct err *err)
{
	cleanup(ctr_info_free) struct ctr_info *ci = NULL;
	int r = ctr_status(s->cfg.ctrs, id, &ci, err);
	if (r < 0)
		return r;
	if (ci->state != CTR_RUNNING)
		return err_msg(err, -EINVAL, "container %s is not running", ci->id);
	snprintf(job->id, sizeof(job->id), "%s", ci->id);
	return 0;
}

static int check_streams(const struct stream_exec_req *r, struct err *err)
{
	if (r->tty && r->err)
		return err_msg(err, -EINVAL, "tty and stderr cannot both be true");
	if (!r->in && !r->out && !r->err)
		return err_msg(err, -EINVAL, "one of stdin, stdout and stderr must be true");
	return 0;
}

static int rc_url(struct stream_server *s, enum stream_kind kind, const struct stream_exec_req *r,
		  char **ret_url, struct err *err)
{
	int rc = check_streams(r, err);
	if (rc < 0)
		return rc;
	if (kind == STREAM_EXEC && (!r->cmd || !r->cmd[0] || !r->cmd[0][0]))
		return err_msg(err, -EINVAL, "exec: no command given");
	struct stream_job *job = xzalloc(sizeof(*job));
	job->kind = kind;
	job->tty = r->tty;
	job->in = r->in;
	job->out = r->out;
	job->err = r->err;
	rc = running_ctr(s, r->ctr_id, job, err);
	if (rc >= 0 && kind == STREAM_EXEC)
		for (size_t i = 0; r->cmd[i]; i++)
			strv_push(&job->cmd, r->cmd[i]);
	if (rc >= 0)
		rc = token_add(s, job, ret_url, err);
	if (rc < 0)
		stream_job_free(job);
	return rc;
}

int stream_exec_url(struct stream_server *s, const struct stream_exec_req *r, char **ret_url,
		    struct err *err)
{
	return rc_url(s, STREAM_EXEC, r, ret_url, err);
}

int stream_attach_url(struct stream_server *s, const struct stream_exec_req *r, char **ret_url,
		      struct err *err)
{
	return rc_url(s, STREAM_ATTACH, r, ret_url, err);
}

int stream_portforward_url(struct stream_server *s, const char *pod_id, const int32_t *ports,
			   size_t n_ports, char **ret_url, struct err *err)
{
	for (size_t i = 0; i < n_ports; i++)
		if (ports[i] < 1 || ports[i] > 65535)
			return err_msg(err, -EINVAL, "port %d is not in 1-65535", (int)ports[i]);
	struct pod_info *p = NULL;
	int r = pod_get(s->cfg.pods, pod_id, &p, err);
	if (r < 0)
		return r;
	if (p->state != POD_READY) {
		r = err_msg(err, -EINVAL, "pod sandbox %s is not ready", p->id);
		pod_info_free(p);
		return r;
	}
	struct stream_job *job = xzalloc(sizeof(*job));
	job->kind = STREAM_PORTFORWARD;
	snprintf(job->id, sizeof(job->id), "%s", p->id);
	pod_info_free(p);
	if (n_ports > 0)
		job->ports = xmemdup(ports, n_ports * sizeof(*ports));
	job->n_ports = n_ports;
	r = token_add(s, job, ret_url, err);
	if (r < 0)
		stream_job_free(job);
	return r;
}

/* ---- sessions ---- */

struct session_arg {
	struct stream_server *s;
	int fd;
};

static void session_end(struct stream_server *s, int fd)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_sessions; i++)
		if (s->session_fds[i] == fd) {
			s->session_fds[i] = s->session_fds[--s->n_sessions];
			break;
		}
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
}

static void *session_main(void *data)
{
	struct session_arg a = *(struct session_arg *)data;
	free(data);
	stream_session_serve(a.s, a.fd);
	/* The fd is closed; its number leaves the list only now, so shutdown
	 * never touches a number reused by someone else... */
	session_end(a.s, a.fd);
	return NULL;
}

static const char busy_reply[] = "HTTP/1.1 503 Service Unavailable\r\n"
				 "Content-Type: text/plain\r\nContent-Length: 32\r\n"
				 "Connection: close\r\n\r\n"
				 "too many streaming sessions now\n";

static void session_start(struct stream_server *s, int fd)
{
	pthread_mutex_lock(&s->mu);
	bool full = s->n_sessions >= s->max_sessions || s->stopping;
	if (!full)
		s->session_fds[s->n_sessions++] = fd;
	pthread_mutex_unlock(&s->mu);
	if (full) {
		/* A TLS client would read the answer as garbage: it gets a close. */
		if (!s->tls)
			(void)!write(fd, busy_reply, sizeof(busy_reply) - 1);
		(void)close(fd);
		return;
	}
	struct session_arg *a = xmalloc(sizeof(*a));
	a->s = s;
	a->fd = fd;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, SESSION_STACK);
	pthread_t t;
	int r = pthread_create(&t, &attr, session_main, a);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		log_warn("streaming session not started", "error=%s", strerror(r));
		free(a);
		(void)close(fd);
		session_end(s, fd);
	}
}

static void *acceptor_main(void *data)
{
	struct stream_server *s = data;
	for (;;) {
		struct pollfd p[2] = { { .fd = s->listen_fd, .events = POLLIN },
				       { .fd = s->wake_fd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of fds: back off instead of spinning. */
				struct timespec ts = { 0, 100 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
			continue;
		}
		/* Frames are written whole: Nagle would hold a small one back
		 * for the client's delayed ACK (~40 ms), as Go's net does not. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		session_start(s, fd);
	}
	return NULL;
}

/* ---- the listener ---- */

static int listen_on(const char *address, unsigned port, int *ret_fd, unsigned *ret_port,
		     struct err *err)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof(*in6);
	} else {
		return err_msg(err, -EINVAL, "stream_address '%s' is not an IP address", address);
	}
	cleanup_close int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket");
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return err_set(err, -errno, "streaming server: bind %s port %u", address, port);
	if (listen(fd, 128) < 0)
		return err_set(err, -errno, "streaming server: listen");
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return err_set(err, -errno, "getsockname");
	*ret_port = ntohs(ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int stream_server_new(const struct stream_config *cfg, struct stream_server **ret, struct err *err)
{
	struct stream_server *s = xzalloc(sizeof(*s));
	s->cfg = *cfg;
	s->listen_fd = s->wake_fd = -1;
	s->address = xstrdup(cfg->address && *cfg->address ? cfg->address : "127.0.0.1");
	s->cfg.address = s->address;
	s->max_sessions = cfg->max_sessions ? cfg->max_sessions : 256;
	s->session_fds = xcalloc(s->max_sessions, sizeof(*s->session_fds));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	int r = 0;
	bool cert = cfg->tls_cert && *cfg->tls_cert, key = cfg->tls_key && *cfg->tls_key;
	if (cert != key)
		r = err_msg(err, -EINVAL, "stream_tls_cert and stream_tls_key go together");
	else if (!cert && cfg->tls_ca && *cfg->tls_ca)
		r = err_msg(err, -EINVAL, "stream_tls_ca needs stream_tls_cert and stream_tls_key");
	else if (cert)
		r = sconn_tls_ctx_new(cfg->tls_cert, cfg->tls_key, cfg->tls_ca, &s->tls, err);
	if (r >= 0)
		r = listen_on(s->address, cfg->port, &s->listen_fd, &s->port, err);
	if (r >= 0 && (s->wake_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		r = err_set(err, -errno, "eventfd");
	if (r >= 0) {
		/* An unspecified address is no address a client can dial: the
		 * URL names loopback then (kubelet runs on this node). */
		const char *host = s->address;
		if (strcmp(host, "0.0.0.0") == 0)
			host = "127.0.0.1";
		else if (strcmp(host, "::") == 0)
			host = "::1";
		bool v6 = strchr(host, ':') != NULL;
		s->base_url = xasprintf("%s://%s%s%s:%u", s->tls ? "https" : "http", v6 ? "[" : "",
					host, v6 ? "]" : "", s->port);
		int e = pthread_create(&s->acceptor, NULL, acceptor_main, s);
		if (e != 0)
			r = err_set(err, -e, "start the streaming server");
		s->acceptor_started = e == 0;
	}
	if (r < 0) {
		stream_server_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

unsigned stream_server_port(const struct stream_server *s)
{
	return s->port;
}

const char *stream_server_base_url(const struct stream_server *s)
{
	return s->base_url;
}

size_t stream_server_sessions(struct stream_server *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->n_sessions;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void stream_server_free(struct stream_server *s)
{
	if (!s)
		return;
	if (s->acceptor_started) {
		uint64_t one = 1;
		(void)!write(s->wake_fd, &one, sizeof(one));
		pthread_join(s->acceptor, NULL);
	}
	/* End every session: their sockets shut down, their threads see EOF,
	 * clean up (killing exec'd processes) and leave. */
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	for (size_t i = 0; i < s->n_sessions; i++)
		(void)shutdown(s->session_fds[i], SHUT_RDWR);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (s->n_sessions > 0 && pthread_cond_timedwait(&s->idle, &s->mu, &until) == 0)
		;
	bool left = s->n_sessions > 0;
	pthread_mutex_unlock(&s->mu);
	if (left) {
		/* A session thread still runs: it uses s, so s stays. */
		log_warn("streaming sessions still open at shutdown", "n=%zu", s->n_sessions);
		return;
	}
	if (s->listen_fd >= 0)
		(void)close(s->listen_fd);
	if (s->wake_fd >= 0)
		(void)close(s->wake_fd);
	tokens_expire(s, UINT64_MAX);
	free(s->tokens);
	free(s->session_fds);
	free(s->address);
	free(s->base_url);
	SSL_CTX_free(s->tls);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->idle);
	free(s);
}
