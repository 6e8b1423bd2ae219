/* db/image: the image tables (schema version 2).
 *   images        one row per image, id = config digest
 *   tags          names pointing at an image: "repo:tag" (kind 0) and
 *                 "repo@sha256:..." (kind 1, the repo digests)
 *   layers        one row per stored layer (chain id)
 *   image_layers  the ordered layers of each image */
#pragma once

#include <stdint.h>

#include "db/db.h"

#define DB_IMAGE_SCHEMA                                                                              \
	"CREATE TABLE images (id TEXT PRIMARY KEY NOT NULL, manifest_digest TEXT NOT NULL,"          \
	" size INTEGER NOT NULL, created INTEGER NOT NULL, config TEXT NOT NULL,"                    \
	" manifest TEXT NOT NULL);"                                                                  \
	"CREATE TABLE tags (name TEXT PRIMARY KEY NOT NULL, kind INTEGER NOT NULL,"                  \
	" image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);"                          \
	"CREATE INDEX tags_image ON tags(image_id);"                                                 \
	"CREATE TABLE layers (chain_id TEXT PRIMARY KEY NOT NULL, diff_id TEXT NOT NULL,"            \
	" digest TEXT NOT NULL, size INTEGER NOT NULL);"                                             \
	"CREATE TABLE image_layers (image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE," \
	" idx INTEGER NOT NULL, chain_id TEXT NOT NULL REFERENCES layers(chain_id),"                 \
	" PRIMARY KEY (image_id, idx));"                                                             \
	"CREATE INDEX image_layers_chain ON image_layers(chain_id);"

struct db_layer {
	char *chain_id;
	char *diff_id;
	char *digest; /* compressed digest as pulled */
	int64_t size; /* compressed size */
};

struct db_image {
	char *id;		 /* config digest */
	char *manifest_digest;	 /* digest of what was pulled (index or manifest) */
	int64_t size;		 /* bytes: config + layers as pulled */
	int64_t created;	 /* unix seconds when recorded */
	char *config;		 /* the config blob (JSON text) */
	char *manifest;		 /* the image manifest (JSON text) */
	char **tags;		 /* "repo:tag", NULL-terminated, may be NULL */
	char **digests;		 /* "repo@sha256:...", NULL-terminated, may be NULL */
	struct db_layer *layers; /* bottom first */
	size_t n_layers;
};

/** Record `img` in one transaction: the image row (replaced when present),
 *  its layers (inserted when new), its layer list, and its tags and digests,
 *  which move to this image when another image held them (that image keeps
 *  the rest of its names). Returns 0 or -EIO with err set. */
int db_image_put(struct db *db, const struct db_image *img, struct err *err);

/** Every image, with names and layers. *ret (array of *ret_n, each to be
 *  freed with db_image_free, then the array with free) owned by the caller. */
int db_image_list(struct db *db, struct db_image ***ret, size_t *ret_n, struct err *err);

/** One image by exact id. -ENOENT when absent. */
int db_image_get(struct db *db, const char *id, struct db_image **ret, struct err *err);

/** The image id a name ("repo:tag" or "repo@digest") points at; *ret owned.
 *  -ENOENT when no such name. */
int db_image_by_name(struct db *db, const char *name, char **ret, struct err *err);

/** Every image id starting with `prefix` (NULL-terminated, owned). */
int db_image_ids_by_prefix(struct db *db, const char *prefix, char ***ret, struct err *err);

/** Delete image `id` (its names and layer list go with it) and every layer
 *  row no image uses any more; their chain ids land in *ret_unused
 *  (NULL-terminated, owned, may be NULL). Deleting an absent image is 0. */
int db_image_delete(struct db *db, const char *id, char ***ret_unused, struct err *err);

/** Every chain id in the layers table (NULL-terminated, owned, may be NULL). */
int db_layer_list(struct db *db, char ***ret, struct err *err);

/** Free one image. Accepts NULL. */
void db_image_free(struct db_image *img);
DEFINE_CLEANUP(struct db_image, db_image_free)
