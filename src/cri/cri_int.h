/* cri internals shared by the handler files. */
#pragma once

#include <protobuf-c/protobuf-c.h>

#include "api.pb-c.h"
#include "cri/cri.h"

struct cri_ctx {
	struct cri_deps *deps;
	struct rpc_call *call;
	bool replied;
	/* Capture: cri_reply keeps the packed answer here instead of sending
	 * it (the Stream* lists run the unary list so). */
	bool capture;
	uint8_t *captured;
	size_t captured_len;
};

/* A handler gets the decoded request; it answers with cri_reply() and
 * returns >= 0, or returns -errno with err filled (mapped to a status). */
typedef int (*cri_impl_fn)(struct cri_ctx *ctx, const ProtobufCMessage *req, struct err *err);

struct cri_impl {
	const char *service; /* "runtime.v1.RuntimeService" */
	const char *method;  /* "Version" */
	cri_impl_fn fn;
};

struct oci_kv;

/* The key/value pairs of a protobuf-c map<string, string> field (`n`
 * entries of any *Entry type: a label selector, ...), borrowed from the
 * message, in a new array to free(); NULL when n is 0. */
struct oci_kv *cri_kv_borrow(size_t n, void *const *entries);

/** CreateContainer's re-check of an image against the policy that applies
 *  to it now (image_trust_check with the configured policy files). */
int cri_image_trust_check(struct cri_ctx *ctx, const char *image, const char *pod_namespace,
			  struct err *err);

/* Labels and annotations of one pod or container, keys and values
 * together: stored, and returned by every list, so bounded. */
#define CRI_METADATA_MAX (256u * 1024u)
/* -EINVAL naming the limit when the labels and annotations (protobuf-c map
 * entries) of `what` ("pod sandbox", "container") exceed CRI_METADATA_MAX. */
int cri_metadata_check(const char *what, size_t n_labels, void *const *labels, size_t n_annotations,
		       void *const *annotations, struct err *err);

/* ---- handlers.c: what cri_configure gave ---- */

/* A reference to the settings in effect (NULL when never configured);
 * give it back with cri_conf_put. */
struct cri_conf *cri_conf_get(struct cri_deps *deps);
void cri_conf_put(struct cri_conf *c);
char *const *cri_conf_hooks_dirs(const struct cri_conf *c);
char *const *cri_conf_cdi_dirs(const struct cri_conf *c);
size_t cri_conf_n_handlers(const struct cri_conf *c);
const struct cri_handler *cri_conf_handler_at(const struct cri_conf *c, size_t i);
/* The handler `name` names ("" = the default): 0 with *ret (NULL when no
 * handler is configured at all and `name` is empty: the container
 * manager's runtime), -EINVAL naming the handlers there are. */
int cri_conf_handler(const struct cri_conf *c, const char *name, const struct cri_handler **ret,
		     struct err *err);
/* Keep of the `n` annotations `kv` those handler `h` (NULL: none
 * configured) lets reach a container: an annotation something acts on
 * (cdi.k8s.io/, run.oci., dev.gvisor., io.katacontainers.) only when a
 * prefix of its key is in the handler's allowed_annotations; every other
 * one. Compacts `kv` in place and returns how many are kept. */
size_t cri_handler_annotations_filter(const struct cri_handler *h, struct oci_kv *kv, size_t n);

/* What a CreateContainer takes of `conf` (the caller keeps the reference
 * until the create is done): the hook and CDI directories, and the pod's
 * runtime handler, copied to *handler for the container manager, with the
 * annotations it lets through and its device policy. -EINVAL when the
 * pod's handler is no longer configured. */
struct cri_ctr_conv;
int cri_conf_for_create(struct cri_deps *deps, const struct cri_conf *conf, struct cri_ctr_conv *c,
			struct ctr_handler *handler, struct err *err);

/* Pack `msg` and send it as the unary answer. */
void cri_reply(struct cri_ctx *ctx, const ProtobufCMessage *msg);

/* The implementation of `service`/`method`, or NULL. */
const struct cri_impl *cri_impl_find(const char *service, const char *method);

/* One table per area, each ended by an entry with service NULL; cri.c
 * routes a method to the first table that names it. */
extern const struct cri_impl cri_runtime_impls[];    /* runtime.c */
extern const struct cri_impl cri_image_impls[];	     /* image.c */
extern const struct cri_impl cri_pod_impls[];	     /* pod.c */
extern const struct cri_impl cri_ctr_impls[];	     /* ctr.c */
extern const struct cri_impl cri_stream_impls[];     /* stream.c */
extern const struct cri_impl cri_streamlist_impls[]; /* streamlist.c: KEP-5825 Stream* */

void cri_debug_sleep(void *data, struct rpc_call *call, const uint8_t *req, size_t len);
