/* Routing of every CRI method, request decoding, reply encoding, and the
 * one errno -> gRPC status table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_int.h"
#include "oci/oci.h"

/* ENOTUNIQ (an ambiguous id prefix) and ENAMETOOLONG are the caller's
 * argument; EFBIG is input over its bound (a manifest, an archive, a
 * header); EBADMSG is data that should be well-formed and is not (an exit
 * file, a cgroup file, a registry's answer): corrupt, not a bug of ours. */
static const struct {
	int err;
	enum rpc_code code;
} errno_codes[] = {
	{ ENOENT, RPC_NOT_FOUND },
	{ EEXIST, RPC_ALREADY_EXISTS },
	{ EINVAL, RPC_INVALID_ARGUMENT },
	{ ETIMEDOUT, RPC_DEADLINE_EXCEEDED },
	{ EPERM, RPC_PERMISSION_DENIED },
	{ EACCES, RPC_PERMISSION_DENIED },
	{ ENOSPC, RPC_RESOURCE_EXHAUSTED },
	{ EDQUOT, RPC_RESOURCE_EXHAUSTED }, /* a quota is a full disk too */
	{ EBUSY, RPC_FAILED_PRECONDITION },
	{ ECANCELED, RPC_CANCELLED },
	{ ENOSYS, RPC_UNIMPLEMENTED },
	{ EOPNOTSUPP, RPC_UNIMPLEMENTED },
	{ ECONNREFUSED, RPC_UNAVAILABLE },
	{ EHOSTUNREACH, RPC_UNAVAILABLE },
	{ ENOTUNIQ, RPC_INVALID_ARGUMENT },
	{ ENAMETOOLONG, RPC_INVALID_ARGUMENT },
	{ EFBIG, RPC_RESOURCE_EXHAUSTED },
	{ EBADMSG, RPC_DATA_LOSS },
	/* a registry: a TLS setup or answer the node must be configured for,
	 * a failing remote end, a rate limit */
	{ EPROTO, RPC_FAILED_PRECONDITION },
	{ EREMOTEIO, RPC_UNAVAILABLE },
	{ EAGAIN, RPC_RESOURCE_EXHAUSTED },
	/* the OCI runtime program ran and failed (its own message): not an
	 * ocid bug, so not INTERNAL (as containerd: UNKNOWN) */
	{ ECHILD, RPC_UNKNOWN },
};

enum rpc_code cri_errno_to_code(int neg_errno)
{
	if (neg_errno >= 0)
		return RPC_OK;
	for (size_t i = 0; i < ARRAY_SIZE(errno_codes); i++)
		if (errno_codes[i].err == -neg_errno)
			return errno_codes[i].code;
	return RPC_INTERNAL;
}

static const ProtobufCServiceDescriptor *const services[] = {
	&runtime__v1__runtime_service__descriptor,
	&runtime__v1__image_service__descriptor,
};

/* One route per descriptor method, built once (the descriptors are static). */
struct route {
	char *path;
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMethodDescriptor *m;
	const struct cri_impl *impl;
	struct cri_deps *deps;
	struct metrics_op *op; /* NULL: not counted */
};

static const struct cri_impl *const impl_tables[] = {
	cri_runtime_impls, cri_image_impls,  cri_pod_impls,
	cri_ctr_impls,	   cri_stream_impls, cri_streamlist_impls,
};

const struct cri_impl *cri_impl_find(const char *svc, const char *method)
{
	for (size_t t = 0; t < ARRAY_SIZE(impl_tables); t++)
		for (const struct cri_impl *i = impl_tables[t]; i->service; i++)
			if (strcmp(i->service, svc) == 0 && strcmp(i->method, method) == 0)
				return i;
	return NULL;
}

static size_t route_total(void)
{
	size_t n = 0;
	for (size_t s = 0; s < ARRAY_SIZE(services); s++)
		n += services[s]->n_methods;
	return n;
}

static void route_at(size_t i, const ProtobufCServiceDescriptor **ret_svc,
		     const ProtobufCMethodDescriptor **ret_m)
{
	for (size_t s = 0; s < ARRAY_SIZE(services); s++) {
		if (i < services[s]->n_methods) {
			*ret_svc = services[s];
			*ret_m = &services[s]->methods[i];
			return;
		}
		i -= services[s]->n_methods;
	}
	*ret_svc = NULL;
	*ret_m = NULL;
}

size_t cri_route_count(void)
{
	return route_total();
}

const char *cri_route_path(size_t i, bool *ret_implemented)
{
	static __thread char buf[256];
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMethodDescriptor *m;
	route_at(i, &svc, &m);
	if (!svc)
		return NULL;
	snprintf(buf, sizeof(buf), "/%s/%s", svc->name, m->name);
	if (ret_implemented)
		*ret_implemented = cri_impl_find(svc->name, m->name) != NULL;
	return buf;
}

struct oci_kv *cri_kv_borrow(size_t n, void *const *entries)
{
	if (n == 0)
		return NULL;
	struct oci_kv *v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		/* A map entry message has exactly two fields: key (1), value (2). */
		const ProtobufCMessage *e = entries[i];
		const ProtobufCFieldDescriptor *f = e->descriptor->fields;
		v[i].key = *(char *const *)(const void *)((const char *)e + f[0].offset);
		v[i].value = *(char *const *)(const void *)((const char *)e + f[1].offset);
	}
	return v;
}

/* The bytes of a map's keys and values. */
static size_t kv_bytes(size_t n, void *const *entries)
{
	size_t total = 0;
	cleanup_free struct oci_kv *v = cri_kv_borrow(n, entries);
	for (size_t i = 0; i < n; i++)
		total += (v[i].key ? strlen(v[i].key) : 0) + (v[i].value ? strlen(v[i].value) : 0);
	return total;
}

int cri_metadata_check(const char *what, size_t n_labels, void *const *labels, size_t n_annotations,
		       void *const *annotations, struct err *err)
{
	size_t total = kv_bytes(n_labels, labels) + kv_bytes(n_annotations, annotations);
	if (total > CRI_METADATA_MAX)
		return err_msg(err, -EINVAL,
			       "the labels and annotations of the %s take %zu bytes; at most %u "
			       "(256 KiB, Kubernetes' limit for annotations) are accepted",
			       what, total, CRI_METADATA_MAX);
	return 0;
}

void cri_reply(struct cri_ctx *ctx, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(msg, buf);
	ctx->replied = true;
	if (ctx->capture) {
		free(ctx->captured);
		ctx->captured = buf;
		ctx->captured_len = len;
		return;
	}
	rpc_call_reply_take(ctx->call, buf, len);
}

static void dispatch(void *data, struct rpc_call *call, const uint8_t *req, size_t len)
{
	const struct route *r = data;
	if (!r->impl) {
		rpc_call_finish(call, RPC_UNIMPLEMENTED, "%s/%s is not implemented by ocid yet",
				r->svc->name, r->m->name);
		return;
	}
	uint64_t t0 = mono_ns();
	ProtobufCMessage *msg = protobuf_c_message_unpack(r->m->input, NULL, len, req);
	if (!msg) {
		metrics_op_observe(r->op, mono_ns() - t0, RPC_INVALID_ARGUMENT);
		rpc_call_finish(call, RPC_INVALID_ARGUMENT, "cannot decode %s", r->m->input->name);
		return;
	}
	struct cri_ctx ctx = { .deps = r->deps, .call = call };
	cleanup_err struct err err = ERR_INIT;
	int rc = r->impl->fn(&ctx, msg, &err);
	protobuf_c_message_free_unpacked(msg, NULL);
	enum rpc_code done = rc < 0 ? cri_errno_to_code(rc) : ctx.replied ? RPC_OK : RPC_INTERNAL;
	metrics_op_observe(r->op, mono_ns() - t0, done);
	if (rc < 0) {
		enum rpc_code code = cri_errno_to_code(rc);
		log_info("rpc failed", "method=%s code=%s error=%s", r->path, rpc_code_name(code),
			 log_q(err_str(&err)));
		rpc_call_finish(call, code, "%s", err_str(&err));
	} else if (!ctx.replied) {
		rpc_call_finish(call, RPC_INTERNAL, "%s/%s gave no answer", r->svc->name,
				r->m->name);
	}
}

void cri_register(struct rpc_server *srv, struct cri_deps *deps)
{
	/* Routes live as long as the process: the server borrows them and the
	 * daemon registers once. */
	static struct route *routes;
	static size_t nroutes;
	if (!routes) {
		nroutes = route_total();
		routes = xcalloc(nroutes, sizeof(*routes));
		for (size_t i = 0; i < nroutes; i++) {
			route_at(i, &routes[i].svc, &routes[i].m);
			routes[i].path =
			    xasprintf("/%s/%s", routes[i].svc->name, routes[i].m->name);
			routes[i].impl = cri_impl_find(routes[i].svc->name, routes[i].m->name);
		}
	}
	for (size_t i = 0; i < nroutes; i++) {
		routes[i].deps = deps;
		routes[i].op = deps->metrics && routes[i].impl
				   ? metrics_op_add(deps->metrics, routes[i].m->name)
				   : NULL;
		enum rpc_class cls;
		if (cri_method_class(routes[i].svc->name, routes[i].m->name, &cls) < 0)
			log_error(
			    "CRI method without a concurrency class (class.c); it runs as long",
			    "method=%s", routes[i].path);
		rpc_server_add_method(srv, routes[i].path, cls, dispatch, &routes[i]);
	}
	pthread_rwlock_rdlock(deps->cfg_lock);
	bool debug = deps->cfg->enable_debug_rpc;
	pthread_rwlock_unlock(deps->cfg_lock);
	enum rpc_class sleep_cls;
	(void)cri_method_class("ocid.debug.Debug", "Sleep", &sleep_cls);
	if (debug)
		rpc_server_add_method(srv, "/ocid.debug.Debug/Sleep", sleep_cls, cri_debug_sleep,
				      deps);
}
