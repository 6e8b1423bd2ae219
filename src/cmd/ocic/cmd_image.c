/* ocic image list|status|remove: the CRI ImageService (pull, import and
 * fsinfo in cmd_image_pull.c and cmd_image_import.c). */
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "ocic.h"

/* {"image": {"image": REF}} for the operand. */
static int ref_request(const struct ocic_args *a, json_t *req)
{
	json_object_set_new(req, "image", json_pack("{s:s}", "image", a->operands[0]));
	return 0;
}

/* "sha256:0123456789abcdef..." -> "0123456789ab" (the 12-hex short id). */
static void short_id(const char *id, char *buf, size_t size)
{
	const char *hex = strchr(id, ':');

	snprintf(buf, size, "%.12s", hex ? hex + 1 : id);
}

/* "docker.io/library/busybox:1.36" -> "docker.io/library/busybox", "1.36". */
static void split_tag(const char *ref, char **ret_repo, const char **ret_tag)
{
	const char *colon = strrchr(ref, ':');

	if (!colon || strchr(colon, '/')) {
		*ret_repo = xstrdup(ref);
		*ret_tag = "<none>";
		return;
	}
	*ret_repo = xstrndup(ref, (size_t)(colon - ref));
	*ret_tag = colon + 1;
}

static void list_rows(struct ocic_table *t, const Runtime__V1__Image *img)
{
	char id[16], size[32];

	short_id(img->id, id, sizeof(id));
	ocic_size_str(img->size, size, sizeof(size));
	for (size_t k = 0; k < img->n_repo_tags; k++) {
		cleanup_free char *repo = NULL;
		const char *tag;

		split_tag(img->repo_tags[k], &repo, &tag);
		ocic_table_row(t, (const char *[]){ repo, tag, id, size });
	}
	if (img->n_repo_tags == 0) {
		cleanup_free char *repo = NULL;

		/* An untagged image: its repository from the first digest reference. */
		if (img->n_repo_digests)
			repo = xstrndup(img->repo_digests[0], strcspn(img->repo_digests[0], "@"));
		ocic_table_row(t, (const char *[]){ repo ? repo : "<none>", "<none>", id, size });
	}
}

static void list_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	const Runtime__V1__ListImagesResponse *r = (const void *)resp;
	static const char *const head[] = { "IMAGE", "TAG", "IMAGE ID", "SIZE", NULL };
	struct ocic_table *t = ocic_table_new(head);

	for (size_t i = 0; i < r->n_images; i++)
		list_rows(t, r->images[i]);
	ocic_table_print_free(t);
}

static int status_request(const struct ocic_args *a, json_t *req)
{
	json_object_set_new(req, "verbose", json_boolean(ocic_arg_set(a, "verbose")));
	return ref_request(a, req);
}

/* ImageStatus answers an absent image with an empty reply, not an error. */
static int status_check(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	if (((const Runtime__V1__ImageStatusResponse *)resp)->image)
		return 0;
	return ocic_fail("NOT_FOUND: no image '%s'", a->operands[0]);
}

static void status_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	const Runtime__V1__ImageStatusResponse *r = (const void *)resp;
	const Runtime__V1__Image *img = r->image;
	cleanup_free char *tags = ocic_strs_join(img->n_repo_tags, img->repo_tags);
	cleanup_free char *digests = ocic_strs_join(img->n_repo_digests, img->repo_digests);
	cleanup_free char *uid = img->uid ? xasprintf("%lld", (long long)img->uid->value) : NULL;
	char size[32];
	const char *kv[] = { "ID",	 img->id,
			     "Tags",	 tags,
			     "Digests",	 digests,
			     "Size",	 ocic_size_str(img->size, size, sizeof(size)),
			     "UID",	 uid,
			     "Username", img->username,
			     "Pinned",	 img->pinned ? "true" : "false",
			     NULL };

	ocic_print_kv(0, kv);
	if (r->n_info)
		printf("Info:\n");
	for (size_t i = 0; i < r->n_info; i++)
		printf("  %s: %s\n", r->info[i]->key, r->info[i]->value);
}

static void print_ref(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	printf("%s\n", a->operands[0]);
}

static const struct ocic_opt status_opts[] = {
	{ "verbose", 'v', OCIC_OPT_FLAG, false, NULL, "also print the runtime's verbose info" },
	{ 0 },
};

static const struct ocic_sub image_list = {
	.name = "list",
	.summary = "List images (ListImages).",
	OCIC_CRI_METHOD(OCIC_IMAGE_SERVICE, ListImages, list_images),
	.table = list_table,
};

static const struct ocic_sub image_status = {
	.name = "status",
	.summary = "Print the status of an image (ImageStatus); NOT_FOUND when absent.",
	.opts = status_opts,
	.operands = "REF",
	.min_operands = 1,
	.max_operands = 1,
	OCIC_CRI_METHOD(OCIC_IMAGE_SERVICE, ImageStatus, image_status),
	.request = status_request,
	.check = status_check,
	.table = status_table,
};

static const struct ocic_sub image_remove = {
	.name = "remove",
	.summary = "Remove an image with all its tags (RemoveImage); prints REF.",
	.operands = "REF",
	.min_operands = 1,
	.max_operands = 1,
	OCIC_CRI_METHOD(OCIC_IMAGE_SERVICE, RemoveImage, remove_image),
	.request = ref_request,
	.table = print_ref,
};

static const struct ocic_sub *const image_subs[] = {
	&ocic_image_pull,   &image_list,	&image_status, &image_remove,
	&ocic_image_import, &ocic_image_fsinfo, NULL,
};

static const struct ocic_group image_group = { .subs = image_subs };

const struct ocic_cmd ocic_cmd_image = {
	.name = "image",
	.usage = "COMMAND [FLAGS]",
	.summary = "Images: pull, list, status, remove, import, fsinfo.",
	.group = &image_group,
};
