/* The attach socket: SOCK_SEQPACKET, each packet starts with a stream id
 * (enum mon_attach_stream). Output goes to every client; stdin packets
 * from any client go to the container. Never blocks the monitor: a client
 * that cannot take a packet at once is disconnected; stdin the container
 * does not take at once is kept and the clients are not read until it has. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ocimon.h"

int ocimon_listen_seqpacket(const char *path, struct err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_msg(err, -ENAMETOOLONG, "socket path '%s' too long", path);
	strcpy(sa.sun_path, path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(err, -errno, "socket");
	(void)unlink(path); /* a stale socket from an earlier monitor */
	mode_t old = umask(0077);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	(void)umask(old);
	if (r < 0 || listen(fd, 8) < 0)
		return err_set(err, -errno, "listen on '%s'", path);
	return TAKE_FD(fd);
}

int ocimon_attach_listen(struct ocimon_attach *at, struct ev_loop *loop, const char *path,
			 struct err *err)
{
	at->loop = loop;
	at->in_fd = -1;
	at->first_fd = -1;
	at->had_client = false;
	at->pend_off = at->pend_len = 0;
	at->close_when_drained = false;
	for (size_t i = 0; i < OCIMON_MAX_ATTACH; i++)
		at->clients[i] = -1;
	at->listen_fd = ocimon_listen_seqpacket(path, err);
	return at->listen_fd < 0 ? at->listen_fd : 0;
}

static char pend_buf[MON_ATTACH_MAX_PACKET];

static void on_client(struct ev_loop *loop, int fd, uint32_t events, void *data);

/* Read the clients again (true) or leave their data queued in the socket
 * (false). Unregistered rather than masked: a hung-up client would
 * otherwise report EPOLLHUP at every turn of the loop. */
static void set_reading(struct ocimon_attach *at, bool on)
{
	for (size_t i = 0; i < OCIMON_MAX_ATTACH; i++) {
		if (at->clients[i] < 0)
			continue;
		if (on)
			(void)ev_fd_add(at->loop, at->clients[i], EPOLLIN, on_client, at, NULL);
		else
			ev_fd_del(at->loop, at->clients[i]);
	}
}

static void close_stdin(struct ocimon_attach *at)
{
	if (at->pend_len > 0) {
		at->close_when_drained = true;
		return;
	}
	if (at->in_fd >= 0)
		(void)close(at->in_fd);
	at->in_fd = -1;
}

/* Write the pending stdin; once it is all taken, read the clients again. */
static void drain(struct ocimon_attach *at)
{
	while (at->pend_off < at->pend_len) {
		ssize_t n = write(at->in_fd, pend_buf + at->pend_off, at->pend_len - at->pend_off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			break; /* the container closed its stdin: nobody to give it to */
		at->pend_off += (size_t)n;
	}
	ev_fd_del(at->loop, at->in_fd);
	at->pend_off = at->pend_len = 0;
	set_reading(at, true);
	if (at->close_when_drained)
		close_stdin(at);
}

static void on_stdin_writable(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	drain(data);
}

static void write_stdin(struct ocimon_attach *at, const char *data, size_t len)
{
	ssize_t n = write(at->in_fd, data, len);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return; /* EPIPE: the container closed its stdin */
	size_t done = n > 0 ? (size_t)n : 0;
	if (done == len)
		return;
	memcpy(pend_buf, data + done, len - done);
	at->pend_off = 0;
	at->pend_len = len - done;
	if (ev_fd_add(at->loop, at->in_fd, EPOLLOUT, on_stdin_writable, at, NULL) < 0) {
		at->pend_len = 0;
		return;
	}
	set_reading(at, false);
}

static void drop_client(struct ocimon_attach *at, size_t i)
{
	if (at->clients[i] == at->first_fd) {
		at->first_fd = -1;
		if (at->stdin_once)
			close_stdin(at);
	}
	ev_fd_del(at->loop, at->clients[i]);
	(void)close(at->clients[i]);
	at->clients[i] = -1;
}

static void on_client(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct ocimon_attach *at = data;
	size_t i = 0;
	while (i < OCIMON_MAX_ATTACH && at->clients[i] != fd)
		i++;
	if (i == OCIMON_MAX_ATTACH)
		return;
	static char buf[MON_ATTACH_MAX_PACKET];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(at, i);
		return;
	}
	if (buf[0] != MON_ATTACH_STDIN || at->in_fd < 0 || at->close_when_drained)
		return;
	if (n == 1)
		close_stdin(at); /* an empty stdin packet: end of input */
	else
		write_stdin(at, buf + 1, (size_t)n - 1);
}

static void on_accept(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct ocimon_attach *at = data;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return;
	for (size_t i = 0; i < OCIMON_MAX_ATTACH; i++) {
		if (at->clients[i] >= 0)
			continue;
		/* While stdin is backed up, a new client waits unread too. */
		if (at->pend_len == 0 && ev_fd_add(loop, c, EPOLLIN, on_client, at, NULL) < 0)
			break;
		at->clients[i] = c;
		if (!at->had_client)
			at->first_fd = c;
		at->had_client = true;
		return;
	}
	(void)close(c); /* full */
}

int ocimon_attach_start(struct ocimon_attach *at, int in_fd, bool stdin_once, struct err *err)
{
	at->in_fd = in_fd;
	at->stdin_once = stdin_once;
	if (in_fd >= 0)
		(void)fs_fd_set_nonblock(in_fd, true);
	return ev_fd_add(at->loop, at->listen_fd, EPOLLIN, on_accept, at, err);
}

void ocimon_attach_broadcast(struct ocimon_attach *at, enum mon_attach_stream id, const char *data,
			     size_t len)
{
	static char pkt[MON_ATTACH_MAX_PACKET];
	while (len > 0) {
		size_t n = len < sizeof(pkt) - 1 ? len : sizeof(pkt) - 1;
		pkt[0] = (char)id;
		memcpy(pkt + 1, data, n);
		for (size_t i = 0; i < OCIMON_MAX_ATTACH; i++)
			if (at->clients[i] >= 0 &&
			    send(at->clients[i], pkt, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				drop_client(at, i);
		data += n;
		len -= n;
	}
}

void ocimon_attach_done(struct ocimon_attach *at, const struct mon_exit *e, const char *path)
{
	struct mon_msg m = { .type = MON_MSG_EXIT, .exit = *e };
	uint8_t buf[64];
	buf[0] = MON_ATTACH_CTL;
	int n = mon_msg_encode(&m, buf + 1, sizeof(buf) - 1);
	for (size_t i = 0; i < OCIMON_MAX_ATTACH; i++) {
		if (at->clients[i] < 0)
			continue;
		if (n > 0)
			(void)send(at->clients[i], buf, (size_t)n + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		drop_client(at, i);
	}
	if (at->listen_fd >= 0) {
		ev_fd_del(at->loop, at->listen_fd);
		(void)close(at->listen_fd);
		at->listen_fd = -1;
	}
	if (at->in_fd >= 0) {
		ev_fd_del(at->loop, at->in_fd);
		(void)close(at->in_fd);
	}
	at->in_fd = -1;
	(void)unlink(path);
}
