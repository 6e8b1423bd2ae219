/* The inspect API of containers:
 *   GET  /containers/<id>  JSON: id, name, pod (sandbox), pid, image,
 *                          image_id, ip, log_path, root, bundle, state,
 *                          paused, created_at
 *   POST /pause/<id>       freeze its processes (runtime pause)
 *   POST /unpause/<id>     thaw them (runtime resume)
 * <id> is a container id or a unique prefix of one: lowercase hex only, so
 * nothing else ever reaches a lookup, a path or a runtime's argv. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/ctr.h"
#include "httpapi/httpapi_int.h"
#include "pod/pod.h"

/* The id after `prefix` in the path, or NULL (a 404 answered) when it is
 * not 1 to 64 lowercase hex digits. */
static const char *path_id(const struct rpc_http_request *req, const char *prefix,
			   struct rpc_http_response *resp)
{
	const char *id = req->path + strlen(prefix);
	size_t n = strspn(id, "0123456789abcdef");
	if (n == 0 || n > ID_LEN || id[n] != '\0') {
		httpapi_reply_error(
		    resp, 404, "no such container: a container id is 1 to 64 lowercase hex digits");
		return NULL;
	}
	return id;
}

static int errno_status(int r)
{
	switch (r) {
	case -ENOENT:
		return 404;
	case -ENOTUNIQ:
		return 400;
	case -EINVAL:
		return 409; /* the container's state does not allow it */
	default:
		return 500;
	}
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static char *pod_ip(struct pod_manager *pods, const char *pod_id)
{
	cleanup(pod_info_free) struct pod_info *p = NULL;
	if (!pods || pod_get(pods, pod_id, &p, NULL) < 0 || !p->ips || !p->ips[0])
		return NULL;
	return xstrdup(p->ips[0]);
}

static json_t *inspect_json(struct httpapi_deps *d, const struct ctr_info *i)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(i->id));
	json_object_set_new(o, "name", json_string(i->ctr_name));
	json_object_set_new(o, "sandbox", json_string(i->pod_id));
	json_object_set_new(o, "image", str_or_null(i->image_ref));
	json_object_set_new(o, "image_id", str_or_null(i->image_id));
	json_object_set_new(o, "log_path", str_or_null(i->log_path));
	char state[16];
	snprintf(state, sizeof(state), "%s", ctr_state_name(i->state));
	for (char *p = state; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	json_object_set_new(o, "state", json_string(state)); /* "running", ... */
	json_object_set_new(o, "created_at", json_integer(i->created_ns));
	json_object_set_new(o, "pid", json_integer(i->state == CTR_RUNNING ? i->pid : 0));
	cleanup_free char *ip = pod_ip(d->pods, i->pod_id);
	json_object_set_new(o, "ip", str_or_null(ip));
	/* The runtime's view: the rootfs it runs on, and whether it is frozen
	 * (also after an ocid restart, which forgets its own record). */
	struct ctr_runtime_state rs = { 0 };
	bool have = ctr_runtime_state(d->ctrs, i->id, &rs, NULL) >= 0;
	json_object_set_new(o, "root", str_or_null(have ? rs.rootfs : NULL));
	json_object_set_new(o, "bundle", str_or_null(have ? rs.bundle : NULL));
	json_object_set_new(o, "runtime_status", str_or_null(have ? rs.status : NULL));
	json_object_set_new(o, "paused",
			    json_boolean(have && rs.status && strcmp(rs.status, "paused") == 0));
	ctr_runtime_state_done(&rs);
	return o;
}

static void inspect(void *data, const struct rpc_http_request *req, struct rpc_http_response *resp)
{
	struct httpapi_deps *d = data;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		httpapi_reply_error(resp, 405, "method not allowed; use GET");
		return;
	}
	const char *id = path_id(req, "/containers/", resp);
	if (!id)
		return;
	cleanup_err struct err err = ERR_INIT;
	cleanup(ctr_info_free) struct ctr_info *i = NULL;
	int r = ctr_status(d->ctrs, id, &i, &err);
	if (r < 0) {
		httpapi_reply_error(resp, errno_status(r), err_str(&err));
		return;
	}
	httpapi_reply_json(resp, 200, inspect_json(d, i));
}

static void freeze(struct httpapi_deps *d, const struct rpc_http_request *req,
		   struct rpc_http_response *resp, bool pause)
{
	if (strcmp(req->method, "POST") != 0) {
		httpapi_reply_error(resp, 405, "method not allowed; use POST");
		return;
	}
	const char *id = path_id(req, pause ? "/pause/" : "/unpause/", resp);
	if (!id)
		return;
	cleanup_err struct err err = ERR_INIT;
	int r = ctr_pause(d->ctrs, id, pause, &err);
	if (r < 0) {
		httpapi_reply_error(resp, errno_status(r), err_str(&err));
		return;
	}
	json_t *o = json_object();
	json_object_set_new(o, "paused", json_boolean(pause));
	httpapi_reply_json(resp, 200, o);
}

static void pause_h(void *data, const struct rpc_http_request *req, struct rpc_http_response *resp)
{
	freeze(data, req, resp, true);
}

static void unpause_h(void *data, const struct rpc_http_request *req,
		      struct rpc_http_response *resp)
{
	freeze(data, req, resp, false);
}

void httpapi_register_containers(struct rpc_server *srv, struct httpapi_deps *deps)
{
	/* The runtime is run: long calls. */
	rpc_server_add_http(srv, "/containers/", RPC_LONG, inspect, deps);
	rpc_server_add_http(srv, "/pause/", RPC_LONG, pause_h, deps);
	rpc_server_add_http(srv, "/unpause/", RPC_LONG, unpause_h, deps);
}
