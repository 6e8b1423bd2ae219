/* CRI handlers: ImageService: pull, list, status, remove, fs info. */
#include "cri/cri_int.h"

const struct cri_impl cri_image_impls[] = {
	{ NULL, NULL, NULL },
};
