/* httpapi's own: the JSON replies every endpoint answers with. */
#pragma once

#include <jansson.h>

#include "httpapi/httpapi.h"

/** `status` with `o` as the compact, key-sorted body; takes `o`. */
void httpapi_reply_json(struct rpc_http_response *resp, int status, json_t *o);
/** `status` with {"error": msg}: a sentence a person can act on. */
void httpapi_reply_error(struct rpc_http_response *resp, int status, const char *msg);

/** Register /images/import and /images/pulls (needs deps->images). */
void httpapi_register_images(struct rpc_server *srv, struct httpapi_deps *deps);

/** Register /containers/<id>, /pause/<id> and /unpause/<id> (needs
 *  deps->ctrs; containers.c). */
void httpapi_register_containers(struct rpc_server *srv, struct httpapi_deps *deps);

/** Register the streaming debug endpoints /debug/echo and /debug/ticks
 *  (for tests; only with enable_debug_rpc). */
void httpapi_register_debug(struct rpc_server *srv);
