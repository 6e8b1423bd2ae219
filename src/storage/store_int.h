/* storage: the store handle, shared by store.c, layer.c and overlay.c. */
#pragma once

#include "base/err.h"
#include "storage/storage.h"

struct storage {
	char *root;
	int rootfd;
	int layersfd;
	int linksfd;
	int tmpfd;
	bool no_sync; /* skip the syncfs before a layer is committed */
};

#define STORE_SHORT_LEN 26

/** Read the short link name of a layer into out (STORE_SHORT_LEN+1). */
int store_read_link(struct storage *s, const char *chain_id, char *out, struct err *err);
