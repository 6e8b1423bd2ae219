/* Image endpoints:
 *   POST /images/import[?tag=NAME]  a tar in the body (OCI layout, oci-archive
 *        or docker save); answers JSON lines of progress, then
 *        {"id": ..., "repo_tags": [...], "images": [...]} or {"error": ...}.
 *        Errors found before progress began get a 4xx/5xx status.
 *   GET  /images/pulls              pulls in flight with per-layer progress
 *   GET  /images/pulls/watch?ref=REF  that pull's entry as a JSON line each
 *        time it changes (polled every 250 ms), then {"status": "ended"};
 *        waits up to 5 s for it to start, else {"status": "no such pull"} */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/json.h"
#include "base/fs.h"
#include "httpapi/httpapi_int.h"
#include "image/image.h"

#define SPOOL_BUF (256u * 1024u)
#define WATCH_POLL_MS 250
#define WATCH_START_POLLS 20

struct import_ctx {
	struct rpc_http_stream *s;
	bool began;
};

static int errno_status(int r)
{
	switch (r) {
	case -EINVAL:
	case -EOPNOTSUPP:
	case -ENOENT:
	case -EBADMSG:
		return 400;
	case -EFBIG:
		return 413;
	case -ENOSPC:
		return 507;
	default:
		return 500;
	}
}

static void write_json(struct import_ctx *c, int status, json_t *o)
{
	char *s = js_dump(o, 0);
	json_decref(o);
	if (!c->began)
		(void)rpc_http_stream_begin(c->s, status, "application/json");
	c->began = true;
	size_t n = strlen(s);
	s[n] = '\n'; /* js_dump's NUL becomes the line end */
	(void)rpc_http_stream_write(c->s, s, n + 1);
	free(s);
}

static void on_progress(void *opaque, const char *line)
{
	struct import_ctx *c = opaque;
	cleanup_free char *l = xasprintf("%s\n", line);
	if (!c->began)
		(void)rpc_http_stream_begin(c->s, 200, "application/json");
	c->began = true;
	(void)rpc_http_stream_write(c->s, l, strlen(l));
}

static void fail(struct import_ctx *c, int r, const char *msg)
{
	log_warn("image import failed", "error=%s", log_q(msg));
	write_json(c, errno_status(r), json_pack("{s:s}", "error", msg));
}

/* The value of `key` in query `q` (percent-decoded, malloc'd) or NULL. */
static char *query_get(const char *q, const char *key)
{
	size_t kl = strlen(key);
	while (q && *q) {
		size_t n = strcspn(q, "&");
		if (n > kl && strncmp(q, key, kl) == 0 && q[kl] == '=')
			return rpc_pct_decode(q + kl + 1, n - kl - 1);
		q += n + (q[n] == '&');
	}
	return NULL;
}

/* Copy the request body into `fd`. Returns the byte count or -errno. */
static int64_t spool(struct rpc_http_stream *s, int fd, struct err *err)
{
	cleanup_free uint8_t *buf = xmalloc(SPOOL_BUF);
	int64_t total = 0;
	ssize_t n;
	while ((n = rpc_http_stream_read(s, buf, SPOOL_BUF)) > 0) {
		if (fs_write_all(fd, buf, (size_t)n) < 0)
			return err_set(err, -errno, "spool the upload");
		total += n;
	}
	if (n < 0)
		return err_msg(err, (int)n, "the client went away during the upload");
	return total;
}

static json_t *imported_json(const struct image_imported *im)
{
	json_t *tags = json_array();
	for (size_t i = 0; im->tags && im->tags[i]; i++)
		json_array_append_new(tags, json_string(im->tags[i]));
	return json_pack("{s:s, s:o}", "id", im->id, "repo_tags", tags);
}

static void finish(struct import_ctx *c, struct image_imported *v, size_t n)
{
	json_t *all = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(all, imported_json(&v[i]));
	json_t *o = imported_json(&v[0]);
	json_object_set_new(o, "images", all);
	log_info("image imported", "id=%s images=%zu", v[0].id, n);
	write_json(c, 200, o);
}

static void import(void *data, const struct rpc_http_request *req, struct rpc_http_stream *s)
{
	struct httpapi_deps *d = data;
	struct import_ctx c = { .s = s };
	cleanup_err struct err err = ERR_INIT;
	if (strcmp(req->method, "POST") != 0) {
		write_json(&c, 405, json_pack("{s:s}", "error", "method not allowed; use POST"));
		return;
	}
	cleanup_free char *tag = query_get(req->query, "tag");
	if (tag) {
		cleanup(image_ref_free) struct image_ref *ref = NULL;
		if (image_ref_parse(tag, &ref, &err) < 0) {
			(void)err_wrap(&err, "tag '%s'", tag);
			return fail(&c, -EINVAL, err_str(&err));
		}
	}
	cleanup_close int fd = -1;
	int r = image_import_spool(d->images, &fd, &err);
	if (r < 0)
		return fail(&c, r, err_str(&err));
	struct statvfs vfs;
	if (fstatvfs(fd, &vfs) == 0 &&
	    (uint64_t)req->body_len > (uint64_t)vfs.f_bavail * vfs.f_frsize)
		return fail(&c, -ENOSPC, "not enough free space under the root for the upload");
	int64_t got = spool(s, fd, &err);
	if (got < 0) {
		log_warn("image import aborted", "error=%s", log_q(err_str(&err)));
		return;
	}
	struct image_imported *v = NULL;
	size_t n = 0;
	r = image_import_fd(d->images, fd, tag, on_progress, &c, &v, &n, &err);
	if (r < 0)
		return fail(&c, r, err_str(&err));
	finish(&c, v, n);
	image_imported_free(v, n);
}

static void pulls(void *data, const struct rpc_http_request *req, struct rpc_http_response *resp)
{
	struct httpapi_deps *d = data;
	if (strcmp(req->method, "GET") != 0) {
		resp->status = 405;
		resp->body = xstrdup("{\"error\":\"method not allowed; use GET\"}");
	} else {
		resp->status = 200;
		resp->body = image_pull_progress_json(d->images);
	}
	resp->content_type = "application/json";
	resp->body_len = strlen(resp->body);
}

/* The entry of pull `key` in the progress JSON (compact, malloc'd; NULL when
 * no such pull). -EINVAL when the progress JSON does not parse. */
static int pull_entry(struct image_service *images, const char *key, char **ret, struct err *err)
{
	cleanup_free char *all = image_pull_progress_json(images);
	json_t *arr = NULL;
	*ret = NULL;
	int r = js_load("pull progress", all, strlen(all), SIZE_MAX, &arr, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *p;
	json_array_foreach(arr, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		if (name && strcmp(name, key) == 0) {
			*ret = js_dump(p, 0);
			break;
		}
	}
	json_decref(arr);
	return 0;
}

/* A watch is parked (class RPC_STREAM): it polls the pull every 250 ms from
 * the rpc loop's timer and holds no worker in between. */
struct watch {
	struct image_service *images;
	char *key;  /* the pull's name */
	char *last; /* the entry last sent */
	int idle;   /* polls before the pull began */
};

static void watch_line(struct rpc_http_stream *s, const char *line)
{
	cleanup_free char *l = xasprintf("%s\n", line);
	(void)rpc_http_stream_write(s, l, strlen(l));
}

static bool watch_pump(void *state, struct rpc_http_stream *s)
{
	struct watch *w = state;
	cleanup_free char *cur = NULL;
	cleanup_err struct err err = ERR_INIT;
	if (pull_entry(w->images, w->key, &cur, &err) < 0) {
		log_warn("image watch failed", "ref=%s error=%s", w->key, log_q(err_str(&err)));
		json_t *e = json_pack("{s:s, s:s}", "status", "error", "error", err_str(&err));
		cleanup_free char *line = js_dump(e, 0);
		json_decref(e);
		watch_line(s, line);
		return false;
	}
	if (!cur && (w->last || ++w->idle > WATCH_START_POLLS)) {
		/* The pull's outcome is the caller's to ask (ImageStatus). */
		watch_line(s, w->last ? "{\"status\":\"ended\"}" : "{\"status\":\"no such pull\"}");
		return false;
	}
	if (cur && (!w->last || strcmp(cur, w->last) != 0)) {
		cleanup_free char *line = xasprintf("%s\n", cur);
		if (rpc_http_stream_write(s, line, strlen(line)) < 0)
			return false;
		free(w->last);
		w->last = TAKE_PTR(cur);
	}
	return true;
}

static void watch_done(void *state)
{
	struct watch *w = state;
	free(w->key);
	free(w->last);
	free(w);
}

static void watch(void *data, const struct rpc_http_request *req, struct rpc_http_stream *s)
{
	struct httpapi_deps *d = data;
	struct import_ctx c = { .s = s };
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *ref_s = query_get(req->query, "ref");
	cleanup(image_ref_free) struct image_ref *ref = NULL;
	if (strcmp(req->method, "GET") != 0)
		return write_json(&c, 405, json_pack("{s:s}", "error", "use GET"));
	if (!ref_s || image_ref_parse(ref_s, &ref, &err) < 0)
		return write_json(
		    &c, 400, json_pack("{s:s}", "error", ref_s ? err_str(&err) : "missing ?ref="));
	struct watch *w = xnew(struct watch);
	w->images = d->images;
	w->key = image_ref_string(ref, IMAGE_REF_FULL);
	(void)rpc_http_stream_begin(s, 200, "application/json");
	rpc_http_stream_park(s, -1, WATCH_POLL_MS, watch_pump, watch_done, w);
}

void httpapi_register_images(struct rpc_server *srv, struct httpapi_deps *deps)
{
	rpc_server_add_http_stream(srv, "/images/import", RPC_LONG, import, deps);
	rpc_server_add_http(srv, "/images/pulls", RPC_SHORT, pulls, deps);
	rpc_server_add_http_stream(srv, "/images/pulls/watch", RPC_STREAM, watch, deps);
}
