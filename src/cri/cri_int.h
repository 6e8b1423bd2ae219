/* cri internals shared by the handler files. */
#pragma once

#include <protobuf-c/protobuf-c.h>

#include "api.pb-c.h"
#include "cri/cri.h"

struct cri_ctx {
	struct cri_deps *deps;
	struct rpc_call *call;
	bool replied;
};

/* A handler gets the decoded request; it answers with cri_reply() and
 * returns >= 0, or returns -errno with err filled (mapped to a status). */
typedef int (*cri_impl_fn)(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err);

struct cri_impl {
	const char *service; /* "runtime.v1.RuntimeService" */
	const char *method;  /* "Version" */
	cri_impl_fn fn;
};

/* Pack `msg` and send it as the unary answer. */
void cri_reply(struct cri_ctx *ctx, const ProtobufCMessage *msg);

extern const struct cri_impl cri_runtime_impls[];
extern const size_t cri_runtime_impls_len;

void cri_debug_sleep(void *data, struct rpc_call *call, const uint8_t *req, size_t len);
