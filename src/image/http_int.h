/* image: one HTTP exchange over libcurl, pulled by its reader (http.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/cleanup.h"
#include "base/err.h"
#include "image/image.h"

typedef void CURL;
typedef void CURLM;
struct curl_slist;

struct image_http_opts {
	char *const *headers;  /* "Name: value" lines, NULL-terminated; may hold secrets */
	bool tls_verify;       /* verify the peer (off only for insecure registries) */
	char *const *ca_files; /* extra CA files (certs.d), NULL-terminated or NULL */
	const char *client_cert, *client_key;
	uint64_t progress_timeout_ms; /* 0: none */
	image_cancelled_fn cancelled; /* polled while waiting: true aborts; may be NULL */
	void *cancel_opaque;
	bool head;	  /* HEAD instead of GET */
	const char *post; /* POST this form body instead of GET; may hold secrets */
	void *share;	  /* a CURLSH: connections, TLS sessions, DNS; may be NULL */
};

struct image_http {
	struct image_http_opts opts;
	CURL *easy;
	CURLM *multi;
	struct curl_slist *headers;
	bool added, done, paused, headers_done;
	bool plain_http; /* the TLS handshake met a plain-http server */
	bool untrusted;	 /* the peer's certificate did not verify */
	int result;	 /* CURLcode once done */
	long status;
	int64_t content_length; /* -1 when not sent */
	char *content_type, *www_auth, *location;
	char *buf;
	size_t pos, len, cap;
	uint64_t received;
	int64_t last_progress; /* monotonic ms */
	char errbuf[256];
};

/** Start a GET (or HEAD) of `url`. Nothing is sent until the first wait or
 *  read. *ret owned (image_http_free). */
int image_http_start(const char *url, const struct image_http_opts *o, struct image_http **ret,
		     struct err *err);

/** Run until the response headers are in; h->status etc. are then set.
 *  Errors: -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -EPROTO (TLS; see
 *  plain_http and untrusted), -EREMOTEIO (any other transfer failure). */
int image_http_wait_headers(struct image_http *h, struct err *err);

/** Up to `len` body bytes; 0 at the end. Errors as image_http_wait_headers
 *  plus -ECANCELED and -ETIMEDOUT (no progress). */
ssize_t image_http_read(struct image_http *h, void *buf, size_t len, struct err *err);

/** The whole body, at most `max` bytes (-EFBIG beyond), NUL-terminated. */
int image_http_read_all(struct image_http *h, size_t max, char **ret, size_t *ret_len,
			struct err *err);

/** End the exchange. Accepts NULL. */
void image_http_free(struct image_http *h);
DEFINE_CLEANUP(struct image_http, image_http_free)
