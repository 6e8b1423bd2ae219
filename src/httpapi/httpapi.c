/* /info and /config. */
#include "httpapi/httpapi_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

static char *dump(json_t *o)
{
	char *s = js_dump(o, JS_DUMP_SORTED);
	json_decref(o);
	return s;
}

void httpapi_reply_json(struct rpc_http_response *resp, int status, json_t *o)
{
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = dump(o);
	resp->body_len = strlen(resp->body);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *httpapi_config_json(const struct config *cfg)
{
	json_t *dirs = json_array();
	for (char **p = cfg->cni_plugin_dirs; p && *p; p++)
		json_array_append_new(dirs, json_string(*p));
	json_t *o = json_object();
	json_object_set_new(o, "config", str_or_null(cfg->config_file));
	json_object_set_new(o, "config_dir", str_or_null(cfg->config_dir));
	json_object_set_new(o, "root", str_or_null(cfg->root));
	json_object_set_new(o, "runroot", str_or_null(cfg->runroot));
	json_object_set_new(o, "listen", str_or_null(cfg->listen));
	json_object_set_new(o, "log_level", json_string(log_level_name(cfg->log_level)));
	json_object_set_new(o, "runtime", str_or_null(cfg->runtime));
	json_object_set_new(o, "cni_config_dir", str_or_null(cfg->cni_config_dir));
	json_object_set_new(o, "cni_plugin_dir", dirs);
	json_object_set_new(o, "registries_conf", str_or_null(cfg->registries_conf));
	json_object_set_new(o, "signature_policy", str_or_null(cfg->signature_policy));
	json_object_set_new(o, "stream_address", str_or_null(cfg->stream_address));
	json_object_set_new(o, "stream_port", json_integer(cfg->stream_port));
	json_object_set_new(o, "stream_idle_timeout",
			    json_integer((json_int_t)cfg->stream_idle_timeout_s));
	json_object_set_new(o, "stream_max_sessions", json_integer(cfg->stream_max_sessions));
	json_object_set_new(o, "pull_progress_timeout",
			    json_integer((json_int_t)cfg->pull_progress_timeout_s));
	json_object_set_new(o, "max_recv_msg_size",
			    json_integer((json_int_t)cfg->max_recv_msg_size));
	json_object_set_new(o, "max_send_msg_size",
			    json_integer((json_int_t)cfg->max_send_msg_size));
	json_object_set_new(o, "workers", json_integer(cfg->workers));
	/* Seconds, as the TOML form; a sub-second grace as "500ms". */
	char grace[32];
	snprintf(grace, sizeof(grace), "%" PRIu64 "ms", cfg->shutdown_grace_ms);
	if (cfg->shutdown_grace_ms % 1000)
		json_object_set_new(o, "shutdown_grace", json_string(grace));
	else
		json_object_set_new(o, "shutdown_grace",
				    json_integer((json_int_t)(cfg->shutdown_grace_ms / 1000)));
	json_object_set_new(o, "enable_debug_rpc", json_boolean(cfg->enable_debug_rpc));
	return dump(o);
}

void httpapi_reply_error(struct rpc_http_response *resp, int status, const char *msg)
{
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(msg));
	httpapi_reply_json(resp, status, o);
}

static bool only_get(const struct rpc_http_request *req, struct rpc_http_response *resp)
{
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		return true;
	httpapi_reply_error(resp, 405, "method not allowed; use GET");
	return false;
}

static void info(void *data, const struct rpc_http_request *req, struct rpc_http_response *resp)
{
	struct httpapi_deps *d = data;
	if (!only_get(req, resp))
		return;
	json_t *o = json_object();
	pthread_rwlock_rdlock(d->cfg_lock);
	json_object_set_new(o, "version", json_string(OCID_VERSION));
	json_object_set_new(o, "root", str_or_null(d->cfg->root));
	json_object_set_new(o, "runroot", str_or_null(d->cfg->runroot));
	json_object_set_new(o, "listen", str_or_null(d->cfg->listen));
	json_object_set_new(o, "default_runtime", str_or_null(d->cfg->runtime));
	pthread_rwlock_unlock(d->cfg_lock);
	json_object_set_new(o, "storage_driver", json_string("overlay"));
	json_object_set_new(o, "cgroup_driver", json_string(d->cgroup_driver));
	/* The port in use, also when stream_port = 0 picked one. */
	json_object_set_new(o, "stream_url", str_or_null(d->stream_url));
	httpapi_reply_json(resp, 200, o);
}

static void config(void *data, const struct rpc_http_request *req, struct rpc_http_response *resp)
{
	struct httpapi_deps *d = data;
	if (!only_get(req, resp))
		return;
	pthread_rwlock_rdlock(d->cfg_lock);
	resp->body = config_to_toml(d->cfg);
	pthread_rwlock_unlock(d->cfg_lock);
	resp->status = 200;
	resp->content_type = "application/toml";
	resp->body_len = strlen(resp->body);
}

void httpapi_register(struct rpc_server *srv, struct httpapi_deps *deps)
{
	rpc_server_add_http(srv, "/info", RPC_SHORT, info, deps);
	rpc_server_add_http(srv, "/config", RPC_SHORT, config, deps);
	if (deps->images)
		httpapi_register_images(srv, deps);
	if (deps->ctrs)
		httpapi_register_containers(srv, deps);
	pthread_rwlock_rdlock(deps->cfg_lock);
	bool debug = deps->cfg->enable_debug_rpc;
	pthread_rwlock_unlock(deps->cfg_lock);
	if (debug)
		httpapi_register_debug(srv);
}
