/* CRI handlers: ImageService: pull, list, status, remove, fs info. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_int.h"
#include "ctr/ctr.h"

static int auth_to_creds(const Runtime__V1__AuthConfig *a, struct image_creds *c, struct err *err)
{
	if (!a)
		return 0;
	if (!str_empty(a->auth)) {
		int r = image_creds_decode(a->auth, c, err);
		if (r < 0)
			return r;
	} else if (!str_empty(a->username)) {
		c->username = xstrdup(a->username);
		c->password = xstrdup(a->password ? a->password : "");
	}
	if (!str_empty(a->identity_token))
		c->identity_token = xstrdup(a->identity_token);
	if (!str_empty(a->registry_token))
		c->registry_token = xstrdup(a->registry_token);
	return 0;
}

int cri_image_trust_check(struct cri_ctx *ctx, const char *image, const char *pod_namespace,
			  struct err *err)
{
	struct image_pull_opts o = { .pod_namespace = pod_namespace };
	return image_trust_check(ctx->deps->images, image, &o, err);
}

static bool call_cancelled(void *call)
{
	return rpc_call_cancelled(call);
}

static int pull_image(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__PullImageRequest *req = (const Runtime__V1__PullImageRequest *)reqm;
	if (!req->image || str_empty(req->image->image))
		return err_msg(err, -EINVAL, "image: no image name given");
	struct image_creds creds = { 0 };
	int r = auth_to_creds(req->auth, &creds, err);
	if (r < 0)
		return r;
	struct image_pull_opts o = {
		.pod_namespace = req->sandbox_config && req->sandbox_config->metadata
				     ? req->sandbox_config->metadata->namespace_
				     : NULL,
		.creds = &creds,
		.creds_server = req->auth ? req->auth->server_address : NULL,
		.cancelled = call_cancelled,
		.cancel_opaque = ctx->call,
	};
	cleanup_free char *id = NULL;
	r = image_pull(ctx->deps->images, req->image->image, &o, &id, err);
	image_creds_done(&creds);
	if (r < 0)
		return err_wrap(err, "pull %s", req->image->image);
	Runtime__V1__PullImageResponse resp = RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT;
	resp.image_ref = id;
	cri_reply(ctx, &resp.base);
	return 0;
}

/* A CRI Image borrowing from `info`; `uid` and `spec` are its storage. */
static void to_cri(const struct image_info *info, Runtime__V1__Image *img,
		   Runtime__V1__Int64Value *uid, Runtime__V1__ImageSpec *spec)
{
	runtime__v1__image__init(img);
	runtime__v1__int64_value__init(uid);
	runtime__v1__image_spec__init(spec);
	img->id = info->id;
	img->repo_tags = info->tags;
	img->n_repo_tags = strv_len(info->tags);
	img->repo_digests = info->digests;
	img->n_repo_digests = strv_len(info->digests);
	img->size = info->size;
	if (info->has_uid) {
		uid->value = info->uid;
		img->uid = uid;
	}
	img->username = info->username ? info->username : "";
	spec->image = info->id;
	img->spec = spec;
	img->pinned = info->pinned;
}

static int list_images(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ListImagesRequest *req = (const Runtime__V1__ListImagesRequest *)reqm;
	const char *filter = req->filter && req->filter->image ? req->filter->image->image : NULL;
	struct image_info **infos = NULL;
	size_t n = 0;
	int r = image_list(ctx->deps->images, filter, NULL, NULL, &infos, &n, err);
	if (r < 0)
		return r;
	Runtime__V1__Image *imgs = xcalloc(n ? n : 1, sizeof(*imgs));
	Runtime__V1__Image **ptrs = xcalloc(n ? n : 1, sizeof(*ptrs));
	Runtime__V1__Int64Value *uids = xcalloc(n ? n : 1, sizeof(*uids));
	Runtime__V1__ImageSpec *specs = xcalloc(n ? n : 1, sizeof(*specs));
	for (size_t i = 0; i < n; i++) {
		to_cri(infos[i], &imgs[i], &uids[i], &specs[i]);
		ptrs[i] = &imgs[i];
	}
	Runtime__V1__ListImagesResponse resp = RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT;
	resp.images = ptrs;
	resp.n_images = n;
	cri_reply(ctx, &resp.base);
	free(imgs);
	free(ptrs);
	free(uids);
	free(specs);
	image_infos_free(infos, n);
	return 0;
}

static int image_status_h(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ImageStatusRequest *req = (const Runtime__V1__ImageStatusRequest *)reqm;
	if (!req->image || str_empty(req->image->image))
		return err_msg(err, -EINVAL, "image: no image name given");
	cleanup(image_info_free) struct image_info *info = NULL;
	int r = image_status(ctx->deps->images, req->image->image, NULL, NULL, &info, err);
	Runtime__V1__ImageStatusResponse resp = RUNTIME__V1__IMAGE_STATUS_RESPONSE__INIT;
	if (r == -ENOENT) {
		/* Kubelet asks before pulling: an unknown image is an empty answer. */
		err_done(err);
		cri_reply(ctx, &resp.base);
		return 0;
	}
	if (r < 0)
		return r;
	Runtime__V1__Image img;
	Runtime__V1__Int64Value uid;
	Runtime__V1__ImageSpec spec;
	to_cri(info, &img, &uid, &spec);
	resp.image = &img;
	Runtime__V1__ImageStatusResponse__InfoEntry e =
	    RUNTIME__V1__IMAGE_STATUS_RESPONSE__INFO_ENTRY__INIT;
	Runtime__V1__ImageStatusResponse__InfoEntry *ep = &e;
	cleanup_free char *json = NULL;
	if (req->verbose) {
		r = image_info_json(info, &json, err);
		if (r < 0)
			return r;
		e.key = "info";
		e.value = json;
		resp.info = &ep;
		resp.n_info = 1;
	}
	cri_reply(ctx, &resp.base);
	return 0;
}

static int remove_image(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__RemoveImageRequest *req = (const Runtime__V1__RemoveImageRequest *)reqm;
	if (!req->image || str_empty(req->image->image))
		return err_msg(err, -EINVAL, "image: no image name given");
	/* An image volume's image stays while a container mounts it. */
	struct image_info *info = NULL;
	int r = 0;
	if (ctx->deps->ctrs &&
	    image_status(ctx->deps->images, req->image->image, NULL, NULL, &info, NULL) >= 0)
		r = ctr_image_check_unused(ctx->deps->ctrs, info->id, err);
	image_info_free(info);
	if (r >= 0)
		r = image_remove(ctx->deps->images, req->image->image, NULL, err);
	if (r < 0)
		return r;
	Runtime__V1__RemoveImageResponse resp = RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT;
	cri_reply(ctx, &resp.base);
	return 0;
}

/* One FilesystemUsage and what it points to. */
struct fs_msg {
	Runtime__V1__FilesystemUsage u;
	Runtime__V1__FilesystemIdentifier id;
	Runtime__V1__UInt64Value bytes, inodes;
	Runtime__V1__FilesystemUsage *p;
};

static void fs_msg_init(struct fs_msg *m, const char *mountpoint, uint64_t bytes, uint64_t inodes,
			int64_t timestamp_ns)
{
	m->id = (Runtime__V1__FilesystemIdentifier)RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT;
	m->id.mountpoint = (char *)mountpoint;
	m->bytes = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
	m->bytes.value = bytes;
	m->inodes = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
	m->inodes.value = inodes;
	m->u = (Runtime__V1__FilesystemUsage)RUNTIME__V1__FILESYSTEM_USAGE__INIT;
	m->u.timestamp = timestamp_ns;
	m->u.fs_id = &m->id;
	m->u.used_bytes = &m->bytes;
	m->u.inodes_used = &m->inodes;
	m->p = &m->u;
}

/* The image store (<root>/layers) and the writable layers
 * (<root>/containers, what container stats report). */
static int image_fs_info_h(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	struct image_fs_info fi = { 0 };
	int r = image_fs_info(ctx->deps->images, &fi, err);
	if (r < 0)
		return r;
	struct stats_fs_usage cu = { 0 };
	if (ctx->deps->ctrs && (r = ctr_fs_usage(ctx->deps->ctrs, &cu, err)) < 0) {
		image_fs_info_done(&fi);
		return r;
	}
	struct fs_msg img, ctrs;
	fs_msg_init(&img, fi.mountpoint, fi.bytes, fi.inodes, fi.timestamp_ns);
	Runtime__V1__ImageFsInfoResponse resp = RUNTIME__V1__IMAGE_FS_INFO_RESPONSE__INIT;
	resp.image_filesystems = &img.p;
	resp.n_image_filesystems = 1;
	if (ctx->deps->ctrs) {
		fs_msg_init(&ctrs, ctr_fs_mountpoint(ctx->deps->ctrs), cu.bytes, cu.inodes,
			    (int64_t)cu.timestamp_ns);
		resp.container_filesystems = &ctrs.p;
		resp.n_container_filesystems = 1;
	}
	cri_reply(ctx, &resp.base);
	image_fs_info_done(&fi);
	return 0;
}

const struct cri_impl cri_image_impls[] = {
	{ "runtime.v1.ImageService", "PullImage", pull_image },
	{ "runtime.v1.ImageService", "ListImages", list_images },
	{ "runtime.v1.ImageService", "ImageStatus", image_status_h },
	{ "runtime.v1.ImageService", "RemoveImage", remove_image },
	{ "runtime.v1.ImageService", "ImageFsInfo", image_fs_info_h },
	{ NULL, NULL, NULL },
};
