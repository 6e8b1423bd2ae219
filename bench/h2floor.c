/* h2floor: the floor for bench-rpc. A minimal single-threaded nghttp2
 * server on a unix socket that answers every request, whatever its path,
 * with a fixed gRPC reply (a VersionResponse-sized message and grpc-status
 * 0) straight from the I/O loop: no worker pool, no decoding. Whatever ocid
 * costs above this is its own overhead.
 *
 * Usage: h2floor SOCKET   (runs until killed) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "base/base.h"

#define MAX_CONNS 64

/* VersionResponse{version:"0.1.0", runtime_name:"ocid",
 * runtime_version:"0.1.0", runtime_api_version:"v1"} with its 5-byte
 * gRPC frame header. */
static const uint8_t reply_msg[] = {
	0,   0,	  0,   0,    24, 0x0a, 5,   '0', '.', '1', '.',	 '0', 0x12, 4,	 'o',
	'c', 'i', 'd', 0x1a, 5,	 '0',  '.', '1', '.', '0', 0x22, 2,   'v',  '1',
};

_Static_assert(sizeof(reply_msg) == 5 + 24, "frame length");

struct conn {
	int fd;
	nghttp2_session *sess;
};

static ssize_t conn_send(nghttp2_session *sess, const uint8_t *data, size_t len, int flags,
			 void *user)
{
	struct conn *c = user;
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
	return n;
}

static ssize_t reply_read(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t len,
			  uint32_t *flags, nghttp2_data_source *src, void *user)
{
	static const nghttp2_nv trailer[] = {
		{ (uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, NGHTTP2_NV_FLAG_NONE },
	};

	memcpy(buf, reply_msg, sizeof(reply_msg));
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	(void)nghttp2_submit_trailer(sess, id, trailer, ARRAY_SIZE(trailer));
	return sizeof(reply_msg);
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame, void *user)
{
	static const nghttp2_nv hdrs[] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16,
		  NGHTTP2_NV_FLAG_NONE },
	};
	nghttp2_data_provider prov = { .read_callback = reply_read };

	if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		(void)nghttp2_submit_response(sess, frame->hd.stream_id, hdrs, ARRAY_SIZE(hdrs),
					      &prov);
	return 0;
}

static struct conn *conn_new(int fd)
{
	nghttp2_session_callbacks *cbs;
	struct conn *c = xnew(struct conn);
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1024 } };

	c->fd = fd;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		abort();
	nghttp2_session_callbacks_set_send_callback(cbs, conn_send);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	if (nghttp2_session_server_new(&c->sess, cbs, c) != 0)
		abort();
	nghttp2_session_callbacks_del(cbs);
	(void)nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv));
	return c;
}

static void conn_free(struct conn *c)
{
	nghttp2_session_del(c->sess);
	(void)close(c->fd);
	free(c);
}

/* Read what is there and answer; false when the connection is done. */
static bool conn_io(struct conn *c)
{
	uint8_t buf[64 << 10];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return false;
		if (n < 0)
			break;
		if (nghttp2_session_mem_recv(c->sess, buf, (size_t)n) < 0)
			return false;
		if ((size_t)n < sizeof(buf))
			break;
	}
	if (nghttp2_session_send(c->sess) != 0)
		return false;
	return nghttp2_session_want_read(c->sess) || nghttp2_session_want_write(c->sess);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
		return -errno;
	return fd;
}

int main(int argc, char **argv)
{
	struct pollfd pfds[MAX_CONNS + 1];
	struct conn *conns[MAX_CONNS + 1] = { NULL };
	size_t n = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: h2floor SOCKET\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	pfds[0] = (struct pollfd){ .fd = listen_on(argv[1]), .events = POLLIN };
	if (pfds[0].fd < 0) {
		fprintf(stderr, "h2floor: listen on %s: %s\n", argv[1], strerror(-pfds[0].fd));
		return 1;
	}
	for (;;) {
		if (poll(pfds, n, -1) < 0 && errno != EINTR)
			return 1;
		for (size_t i = 1; i < n; i++) {
			if (!pfds[i].revents)
				continue;
			if (!conn_io(conns[i])) {
				conn_free(conns[i]);
				conns[i] = conns[--n];
				pfds[i] = pfds[n];
				i--;
				continue;
			}
			pfds[i].events = POLLIN;
			if (nghttp2_session_want_write(conns[i]->sess))
				pfds[i].events |= POLLOUT;
		}
		if ((pfds[0].revents & POLLIN) && n <= MAX_CONNS) {
			int fd = accept4(pfds[0].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd >= 0) {
				conns[n] = conn_new(fd);
				pfds[n] = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
				n++;
			}
		}
	}
}
