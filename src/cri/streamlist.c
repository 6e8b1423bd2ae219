/* The Stream* lists of KEP-5825 (StreamPodSandboxes, StreamContainers,
 * StreamContainerStats, StreamPodSandboxStats, StreamPodSandboxMetrics,
 * StreamImages): for nodes where a unary list would pass the message limit.
 * Each request and response is, on the wire, its unary list's (the filter
 * is field 1; the items are the repeated field 1), so a stream runs the
 * unary list's handler once -- one consistent snapshot, the same filters and
 * content -- and sends its items in batches of whole items, each batch at
 * most STREAM_BATCH_MAX bytes (and below the send limit). The call is
 * parked (class streaming): a pump sends batches while the client keeps up
 * and holds no worker while it does not. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_int.h"

#define STREAM_BATCH_MAX (1u << 20)
/* Send more only while less than this waits for the client. */
#define STREAM_UNSENT_LOW (2u << 20)
#define STREAM_POLL_MS 5

struct batches {
	uint8_t *buf; /* the unary answer, packed */
	size_t len, off, limit;
};

/* A varint at p[0..n): its value and length, or 0 when malformed. */
static size_t varint(const uint8_t *p, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n && i < 10; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*ret = v;
			return i + 1;
		}
	}
	return 0;
}

/* The length of the field at p (its tag, length and bytes), 0 when it is
 * not a well-formed length-delimited field 1 (never, from our own packer). */
static size_t item_len(const uint8_t *p, size_t n)
{
	uint64_t tag, len;
	size_t a = varint(p, n, &tag);
	if (!a || tag != ((1u << 3) | 2u))
		return 0;
	size_t b = varint(p + a, n - a, &len);
	if (!b || len > n - a - b)
		return 0;
	return a + b + (size_t)len;
}

/* The next batch: whole items up to the limit (one item even if larger). */
static int next_batch(struct batches *bt, uint8_t **ret, size_t *ret_len)
{
	size_t start = bt->off, end = start;
	while (end < bt->len) {
		size_t k = item_len(bt->buf + end, bt->len - end);
		if (!k)
			return -EBADMSG;
		if (end > start && end - start + k > bt->limit)
			break;
		end += k;
	}
	*ret_len = end - start;
	*ret = xmemdup(bt->buf + start, *ret_len ? *ret_len : 1);
	bt->off = end;
	return 0;
}

static bool pump(void *state, struct rpc_call *call)
{
	struct batches *bt = state;
	while (bt->off < bt->len && rpc_call_unsent(call) < STREAM_UNSENT_LOW) {
		uint8_t *b = NULL;
		size_t n = 0;
		int r = next_batch(bt, &b, &n);
		if (r == 0)
			r = rpc_call_send_take(call, b, n);
		if (r == -ECANCELED)
			return false;
		if (r == -EMSGSIZE) {
			rpc_call_finish(call, RPC_RESOURCE_EXHAUSTED,
					"%s: one item of %zu bytes exceeds the send limit",
					rpc_call_method(call), n);
			return false;
		}
		if (r < 0) {
			rpc_call_finish(call, RPC_INTERNAL, "%s: %s", rpc_call_method(call),
					strerror(-r));
			return false;
		}
	}
	if (bt->off < bt->len)
		return true;
	rpc_call_finish(call, RPC_OK, NULL);
	return false;
}

static void done(void *state)
{
	struct batches *bt = state;
	free(bt->buf);
	free(bt);
}

/* The unary list `list` of `svc`, given the Stream request re-read as its. */
static int stream_list(struct cri_ctx *ctx, const ProtobufCMessage *req, const char *svc,
		       const char *list, struct err *err)
{
	const struct cri_impl *impl = cri_impl_find(svc, list);
	const ProtobufCServiceDescriptor *sd = strcmp(svc, "runtime.v1.ImageService") == 0
						   ? &runtime__v1__image_service__descriptor
						   : &runtime__v1__runtime_service__descriptor;
	const ProtobufCMethodDescriptor *md =
	    protobuf_c_service_descriptor_get_method_by_name(sd, list);
	if (!impl || !md)
		return err_msg(err, -ENOSYS, "%s/%s is not implemented", svc, list);
	size_t len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *bytes = xmalloc(len ? len : 1);
	protobuf_c_message_pack(req, bytes);
	ProtobufCMessage *lreq = protobuf_c_message_unpack(md->input, NULL, len, bytes);
	if (!lreq)
		return err_msg(err, -EINVAL, "cannot decode %s", md->input->name);
	struct cri_ctx lctx = { .deps = ctx->deps, .call = ctx->call, .capture = true };
	int r = impl->fn(&lctx, lreq, err);
	protobuf_c_message_free_unpacked(lreq, NULL);
	if (r < 0) {
		free(lctx.captured);
		return r;
	}
	struct batches *bt = xnew(struct batches);
	size_t max = rpc_call_max_send(ctx->call);
	bt->buf = lctx.captured;
	bt->len = lctx.captured_len;
	bt->limit = max / 2 < STREAM_BATCH_MAX ? max / 2 : STREAM_BATCH_MAX;
	ctx->replied = true;
	rpc_call_park(ctx->call, -1, STREAM_POLL_MS, pump, done, bt);
	return 0;
}

#define RS "runtime.v1.RuntimeService"
#define IS "runtime.v1.ImageService"
#define STREAM_OF(name, svc, list)                                                         \
	static int name(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err) \
	{                                                                                  \
		return stream_list(ctx, req, svc, list, err);                              \
	}

STREAM_OF(stream_pods, RS, "ListPodSandbox")
STREAM_OF(stream_ctrs, RS, "ListContainers")
STREAM_OF(stream_ctr_stats, RS, "ListContainerStats")
STREAM_OF(stream_pod_stats, RS, "ListPodSandboxStats")
STREAM_OF(stream_pod_metrics, RS, "ListPodSandboxMetrics")
STREAM_OF(stream_images, IS, "ListImages")

const struct cri_impl cri_streamlist_impls[] = {
	{ RS, "StreamPodSandboxes", stream_pods },
	{ RS, "StreamContainers", stream_ctrs },
	{ RS, "StreamContainerStats", stream_ctr_stats },
	{ RS, "StreamPodSandboxStats", stream_pod_stats },
	{ RS, "StreamPodSandboxMetrics", stream_pod_metrics },
	{ IS, "StreamImages", stream_images },
	{ NULL, NULL, NULL },
};
