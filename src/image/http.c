/* One HTTP exchange over libcurl, driven by its reader: the caller pulls
 * body bytes (image_http_read) and curl's multi interface is pumped only as
 * fast as they are consumed, so a layer streams from the socket into the
 * unpacker on one thread with a bounded buffer. Redirects are not followed
 * here (the registry client decides what credentials a new location gets). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "base/base.h"
#include "image/http_int.h"

#define BUF_HIGH (1u << 20) /* pause the transfer above this many buffered bytes */

static size_t on_body(char *p, size_t sz, size_t nm, void *opaque)
{
	struct image_http *h = opaque;
	size_t n = sz * nm;
	if (h->len - h->pos >= BUF_HIGH) {
		h->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (n == 0)
		return 0;
	if (h->pos == h->len)
		h->pos = h->len = 0;
	if (h->len + n > h->cap) {
		if (h->pos) {
			memmove(h->buf, h->buf + h->pos, h->len - h->pos);
			h->len -= h->pos;
			h->pos = 0;
		}
		if (h->len + n > h->cap) {
			h->cap = h->len + n + 65536;
			h->buf = xrealloc(h->buf, h->cap);
		}
	}
	memcpy(h->buf + h->len, p, n);
	h->len += n;
	h->received += n;
	h->last_progress = (int64_t)mono_ms();
	return n;
}

static char *header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1, *e = line + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return xstrndup(v, (size_t)(e - v));
}

static void keep(char **slot, char *v)
{
	if (!v)
		return;
	free(*slot);
	*slot = v;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *opaque)
{
	struct image_http *h = opaque;
	size_t n = sz * nm;
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue): forget the last one's headers. */
		h->status = 0;
		free(h->content_type), h->content_type = NULL;
		free(h->www_auth), h->www_auth = NULL;
		free(h->location), h->location = NULL;
		h->content_length = -1;
		const char *sp = memchr(p, ' ', n);
		if (sp)
			h->status = strtol(sp + 1, NULL, 10);
		return n;
	}
	keep(&h->content_type, header_value(p, n, "Content-Type"));
	keep(&h->location, header_value(p, n, "Location"));
	char *v = header_value(p, n, "WWW-Authenticate");
	if (v && !h->www_auth)
		h->www_auth = v;
	else
		free(v);
	v = header_value(p, n, "Content-Length");
	if (v) {
		h->content_length = strtoll(v, NULL, 10);
		free(v);
	}
	if ((n == 2 && p[0] == '\r') || (n == 1 && p[0] == '\n'))
		if (h->status >= 200)
			h->headers_done = true;
	return n;
}

/* Add every *.crt of the host's certs.d directory to the verify store. */
static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *opaque)
{
	struct image_http *h = opaque;
	(void)curl;
	for (size_t i = 0; h->opts.ca_files && h->opts.ca_files[i]; i++)
		if (SSL_CTX_load_verify_locations(sslctx, h->opts.ca_files[i], NULL) != 1)
			return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

static void setup(struct image_http *h, const char *url)
{
	CURL *c = h->easy;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ocid/" OCID_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	/* Give up on a stalled connection: under 1 byte/s for 5 minutes. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 300L);
	if (h->opts.tls_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	} else {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (h->opts.ca_files) {
		curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, h);
	}
	if (h->opts.client_cert && h->opts.client_key) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->opts.client_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->opts.client_key);
	}
}

int image_http_start(const char *url, const struct image_http_opts *o, struct image_http **ret,
		     struct err *err)
{
	struct image_http *h = xnew(struct image_http);
	h->opts = *o;
	h->content_length = -1;
	h->last_progress = (int64_t)mono_ms();
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		h->headers = curl_slist_append(h->headers, o->headers[i]);
	h->easy = curl_easy_init();
	h->multi = curl_multi_init();
	if (!h->easy || !h->multi) {
		image_http_free(h);
		return err_msg(err, -ENOMEM, "cannot initialise libcurl");
	}
	setup(h, url);
	if (o->head)
		curl_easy_setopt(h->easy, CURLOPT_NOBODY, 1L);
	if (o->post)
		curl_easy_setopt(h->easy, CURLOPT_COPYPOSTFIELDS, o->post);
	if (o->share)
		curl_easy_setopt(h->easy, CURLOPT_SHARE, o->share);
	curl_multi_add_handle(h->multi, h->easy);
	h->added = true;
	*ret = h;
	return 0;
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -EPROTO;
	default:
		/* a reset, an empty reply: the remote end failed, not we */
		return -EREMOTEIO;
	}
}

/* Run the transfer until data is buffered, headers are in (when
 * `want_headers`), or it ends. */
static int pump(struct image_http *h, bool want_headers, struct err *err)
{
	while (!h->done) {
		if (want_headers ? h->headers_done : h->pos < h->len)
			return 0;
		if (h->opts.cancelled && h->opts.cancelled(h->opts.cancel_opaque))
			return err_msg(err, -ECANCELED, "cancelled");
		if (h->paused) {
			h->paused = false;
			curl_easy_pause(h->easy, CURLPAUSE_CONT);
			continue;
		}
		int running = 0;
		CURLMcode mc = curl_multi_perform(h->multi, &running);
		if (mc != CURLM_OK)
			return err_msg(err, -EIO, "curl: %s", curl_multi_strerror(mc));
		int left;
		CURLMsg *m;
		while ((m = curl_multi_info_read(h->multi, &left)))
			if (m->msg == CURLMSG_DONE) {
				h->done = true;
				h->result = m->data.result;
			}
		if (h->done || (want_headers ? h->headers_done : h->pos < h->len))
			break;
		if (h->opts.progress_timeout_ms &&
		    (int64_t)mono_ms() - h->last_progress > (int64_t)h->opts.progress_timeout_ms)
			return err_msg(err, -ETIMEDOUT, "no progress for %llu seconds",
				       (unsigned long long)(h->opts.progress_timeout_ms / 1000));
		(void)curl_multi_poll(h->multi, NULL, 0, 200, NULL);
	}
	if (h->done && h->result != CURLE_OK) {
		/* OpenSSL's reading of an HTTP answer to its ClientHello */
		h->plain_http = h->result == CURLE_SSL_CONNECT_ERROR &&
				strstr(h->errbuf, "wrong version number") != NULL;
		h->untrusted = h->result == CURLE_PEER_FAILED_VERIFICATION;
		return err_msg(err, curl_errno(h->result), "%s",
			       h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->result));
	}
	return 0;
}

int image_http_wait_headers(struct image_http *h, struct err *err)
{
	int r = pump(h, true, err);
	if (r < 0)
		return r;
	if (h->status == 0) {
		long code = 0;
		curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
		h->status = code;
	}
	return 0;
}

ssize_t image_http_read(struct image_http *h, void *buf, size_t len, struct err *err)
{
	int r = pump(h, false, err);
	if (r < 0)
		return r;
	size_t n = h->len - h->pos;
	if (n > len)
		n = len;
	memcpy(buf, h->buf + h->pos, n);
	h->pos += n;
	return (ssize_t)n;
}

int image_http_read_all(struct image_http *h, size_t max, char **ret, size_t *ret_len,
			struct err *err)
{
	if (h->content_length > (int64_t)max)
		return err_msg(err, -EFBIG, "response of %lld bytes is larger than %zu",
			       (long long)h->content_length, max);
	size_t cap = 8192, len = 0;
	cleanup_free char *out = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= max + 1)
				return err_msg(err, -EFBIG, "response is larger than %zu bytes",
					       max);
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			out = xrealloc(out, cap + 1);
		}
		ssize_t n = image_http_read(h, out + len, cap - len, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		return err_msg(err, -EFBIG, "response is larger than %zu bytes", max);
	out[len] = '\0';
	*ret = TAKE_PTR(out);
	*ret_len = len;
	return 0;
}

void image_http_free(struct image_http *h)
{
	if (!h)
		return;
	if (h->added)
		curl_multi_remove_handle(h->multi, h->easy);
	if (h->easy)
		curl_easy_cleanup(h->easy);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	curl_slist_free_all(h->headers);
	free(h->buf);
	free(h->content_type);
	free(h->www_auth);
	free(h->location);
	free(h);
}
