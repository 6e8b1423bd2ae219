/* CRI handlers: containers. */
#include "cri/cri_int.h"

const struct cri_impl cri_ctr_impls[] = {
	{ NULL, NULL, NULL },
};
