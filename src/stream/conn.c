/* A session's connection to its client: plain TCP, or TLS (1.2 or newer)
 * when the server has a certificate. The socket is non-blocking; reads and
 * writes answer -EAGAIN instead of waiting, and the session polls. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/clock.h"
#include "stream/stream_int.h"

static int ssl_error(struct err *err, const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return err_msg(err, -EPROTO, "%s%s%s", what, *buf ? ": " : "", buf);
}

int sconn_tls_ctx_new(const char *cert, const char *key, const char *ca, SSL_CTX **ret,
		      struct err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return ssl_error(err, "TLS context");
	int r = 0;
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		r = ssl_error(err, "stream_tls_cert: cannot use the certificate");
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		r = ssl_error(err, "stream_tls_key: cannot use the key");
	else if (SSL_CTX_check_private_key(ctx) != 1)
		r = ssl_error(err, "stream_tls_key does not match stream_tls_cert");
	else if (ca && *ca) {
		/* Clients must show a certificate this CA signed. */
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
			r = ssl_error(err, "stream_tls_ca: cannot load the CA");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	if (r < 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

/* Wait for fd to be ready for `ev` until `deadline` (ms). */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = ev };
		int r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int sconn_accept(struct sconn *c, SSL_CTX *ctx, uint64_t deadline_ms, struct err *err)
{
	if (!ctx)
		return 0;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return ssl_error(err, "TLS session");
	for (;;) {
		int r = SSL_accept(c->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		short ev = e == SSL_ERROR_WANT_READ    ? POLLIN
			   : e == SSL_ERROR_WANT_WRITE ? POLLOUT
						       : 0;
		if (!ev)
			return ssl_error(err, "TLS handshake");
		if (wait_fd(c->fd, ev, deadline_ms) < 0)
			return err_msg(err, -ETIMEDOUT, "TLS handshake: timed out");
	}
}

ssize_t sconn_read(struct sconn *c, void *buf, size_t n)
{
	if (!c->ssl) {
		ssize_t r = read(c->fd, buf, n);
		return r >= 0 ? r : errno == EINTR ? -EAGAIN : -errno;
	}
	size_t got = 0;
	int r = SSL_read_ex(c->ssl, buf, n, &got);
	if (r == 1)
		return (ssize_t)got;
	int e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -ECONNRESET;
}

ssize_t sconn_write(struct sconn *c, const void *buf, size_t n)
{
	if (!c->ssl) {
		ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
		return r >= 0 ? r : errno == EINTR ? -EAGAIN : -errno;
	}
	size_t done = 0;
	int r = SSL_write_ex(c->ssl, buf, n, &done);
	if (r == 1)
		return (ssize_t)done;
	int e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -EAGAIN : -EPIPE;
}

bool sconn_pending(const struct sconn *c)
{
	return c->ssl && SSL_pending(c->ssl) > 0;
}

int sconn_write_all(struct sconn *c, const void *buf, size_t n, uint64_t deadline_ms)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = sconn_write(c, p, n);
		if (w == -EAGAIN) {
			int r = wait_fd(c->fd, POLLOUT, deadline_ms);
			if (r < 0)
				return r;
			continue;
		}
		if (w < 0)
			return (int)w;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void sconn_linger(struct sconn *c)
{
	if (c->ssl)
		(void)SSL_shutdown(c->ssl); /* close_notify; theirs is not waited for */
	(void)shutdown(c->fd, SHUT_WR);
	uint64_t until = mono_ms() + 1000;
	char buf[4096];
	for (;;) {
		ssize_t n = sconn_read(c, buf, sizeof(buf));
		if (n == -EAGAIN && wait_fd(c->fd, POLLIN, until) == 0)
			continue;
		if (n <= 0)
			break;
	}
}

void sconn_close(struct sconn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		(void)close(c->fd);
	c->fd = -1;
}
