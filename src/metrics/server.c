/* The /metrics endpoint: one thread, one scrape at a time. */
#include "metrics/metrics_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define HEAD_MAX 8192
/* A scraper that stalls holds the one serving thread this long at most. */
#define IO_TIMEOUT_S 5

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void respond(int fd, int status, const char *reason, const char *type, const char *body,
		    bool head)
{
	size_t n = strlen(body);
	char hdr[256];
	int k = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, reason, type, n);
	if (send_all(fd, hdr, (size_t)k) == 0 && !head)
		(void)send_all(fd, body, n);
}

/* Read the request head; answer from its request line only. */
static void serve_one(struct metrics *m, int fd)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char buf[HEAD_MAX + 1];
	size_t got = 0;
	while (got < HEAD_MAX) {
		ssize_t r = recv(fd, buf + got, HEAD_MAX - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		got += (size_t)r;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	buf[got] = '\0';
	char method[16], target[1024];
	if (sscanf(buf, "%15s %1023s HTTP/1.", method, target) != 2) {
		respond(fd, 400, "Bad Request", "text/plain", "bad request\n", false);
		return;
	}
	char *q = strchr(target, '?');
	if (q)
		*q = '\0';
	bool head = strcmp(method, "HEAD") == 0;
	if (strcmp(target, "/metrics") != 0 && strcmp(target, "/") != 0) {
		respond(fd, 404, "Not Found", "text/plain", "not found; try /metrics\n", head);
		return;
	}
	if (!head && strcmp(method, "GET") != 0) {
		respond(fd, 405, "Method Not Allowed", "text/plain", "use GET\n", false);
		return;
	}
	cleanup_free char *text = metrics_render(m);
	respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, head);
}

static void *serve(void *data)
{
	struct metrics *m = data;
	struct pollfd p[2] = { { m->listen_fd, POLLIN, 0 }, { m->stop_fd, POLLIN, 0 } };
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("metrics: poll failed", "error=%s", log_q(strerror(errno)));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* the client gave up, or a transient shortage */
		serve_one(m, fd);
		close(fd);
	}
}

static int listen_tcp(const char *address, unsigned port, struct err *err)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	int r = getaddrinfo(address, portstr, &hints, &ai);
	if (r != 0)
		return err_msg(err, -EINVAL, "metrics_address '%s': %s", address, gai_strerror(r));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = err_set(err, -errno, "socket");
		freeaddrinfo(ai);
		return r;
	}
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		r = err_set(err, -errno, "metrics: listen on %s port %u", address, port);
		close(fd);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	return fd;
}

/* A socket file nobody accepts on is left from a crash: replace it. */
static int unlink_stale(const char *path, struct err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_set(err, -errno, "stat '%s'", path);
	if (!S_ISSOCK(st.st_mode))
		return err_msg(err, -EEXIST, "metrics_socket '%s' exists and is not a socket",
			       path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return err_msg(err, -EADDRINUSE, "metrics_socket '%s' is in use", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, -errno, "unlink '%s'", path);
	return 0;
}

static int listen_unix(const char *path, struct err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_msg(err, -ENAMETOOLONG, "metrics_socket '%s' is too long", path);
	int r = unlink_stale(path, err);
	if (r < 0)
		return r;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket");
	mode_t old = umask(0117); /* 0660, without a window of a wider mode */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 64) < 0) {
		r = err_set(err, -errno, "metrics: listen on '%s'", path);
		close(fd);
		return r;
	}
	return fd;
}

int metrics_serve(struct metrics *m, const char *address, unsigned port, const char *socket_path,
		  struct err *err)
{
	bool unix_sock = socket_path && *socket_path;
	int fd = unix_sock ? listen_unix(socket_path, err) : listen_tcp(address, port, err);
	if (fd < 0)
		return fd;
	m->listen_fd = fd;
	if (unix_sock) {
		m->socket_path = xstrdup(socket_path);
	} else {
		union {
			struct sockaddr sa;
			struct sockaddr_in in4;
			struct sockaddr_in6 in6;
		} a;
		memset(&a, 0, sizeof(a));
		socklen_t sl = sizeof(a);
		if (getsockname(fd, &a.sa, &sl) == 0)
			m->port =
			    ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port : a.in4.sin_port);
	}
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (m->stop_fd < 0)
		return err_set(err, -errno, "eventfd");
	int r = pthread_create(&m->thread, NULL, serve, m);
	if (r != 0)
		return err_set(err, -r, "metrics: start the server thread");
	m->serving = true;
	return 0;
}

unsigned metrics_port(const struct metrics *m)
{
	return m->port;
}

void metrics_server_stop(struct metrics *m)
{
	if (m->serving) {
		uint64_t one = 1;
		(void)!write(m->stop_fd, &one, sizeof(one));
		pthread_join(m->thread, NULL);
		m->serving = false;
	}
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	m->stop_fd = m->listen_fd = -1;
	if (m->socket_path) {
		(void)unlink(m->socket_path);
		free(m->socket_path);
		m->socket_path = NULL;
	}
}
