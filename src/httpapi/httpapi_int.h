/* httpapi's own: the JSON replies every endpoint answers with. */
#pragma once

#include <jansson.h>

#include "httpapi/httpapi.h"

/** `status` with `o` as the compact, key-sorted body; takes `o`. */
void httpapi_reply_json(struct rpc_http_response *resp, int status, json_t *o);
/** `status` with {"error": msg}: a sentence a person can act on. */
void httpapi_reply_error(struct rpc_http_response *resp, int status, const char *msg);
