/* db/ctr: the container tables (schema versions 4 to 6).
 *   containers        one row per container (CRI container id)
 *   container_layers  the image layers (chain ids) each container's rootfs
 *                     stacks; what image GC must keep
 * Version 5 adds containers.config, the JSON ctr writes of what
 * ContainerStatus reports (ctr_status_cfg_to_json). Version 6 converts
 * each row of version 4 (config NULL, the CRI ContainerConfig as a
 * protobuf BLOB in cri_config) with db_upgrade's ctr_legacy_record, then
 * drops cri_config: one transaction, at open. */
#pragma once

#include <stdint.h>

#include "db/db.h"

#define DB_CTR_SCHEMA                                                                              \
	"CREATE TABLE containers (id TEXT PRIMARY KEY NOT NULL, pod_id TEXT NOT NULL,"             \
	" name TEXT NOT NULL, ctr_name TEXT NOT NULL, attempt INTEGER NOT NULL,"                   \
	" image_ref TEXT NOT NULL, image_id TEXT NOT NULL, state INTEGER NOT NULL,"                \
	" created_ns INTEGER NOT NULL, started_ns INTEGER NOT NULL, finished_ns INTEGER NOT NULL," \
	" exit_code INTEGER NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL,"                \
	" pid INTEGER NOT NULL, log_path TEXT NOT NULL, labels TEXT NOT NULL,"                     \
	" annotations TEXT NOT NULL, cri_config BLOB, spec_path TEXT NOT NULL,"                    \
	" extra TEXT NOT NULL);"                                                                   \
	"CREATE INDEX containers_pod ON containers(pod_id);"                                       \
	"CREATE TABLE container_layers (ctr_id TEXT NOT NULL"                                      \
	" REFERENCES containers(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"                      \
	" chain_id TEXT NOT NULL, PRIMARY KEY (ctr_id, idx));"                                     \
	"CREATE INDEX container_layers_chain ON container_layers(chain_id);"

#define DB_CTR_SCHEMA_5 "ALTER TABLE containers ADD COLUMN config TEXT;"
#define DB_CTR_SCHEMA_6 "ALTER TABLE containers DROP COLUMN cri_config;"

/* One container row. Strings are owned (never NULL after a read). */
struct db_ctr {
	char *id;
	char *pod_id;
	char *name;	/* the reserved name k8s_<ctr>_<pod>_<ns>_<uid>_<attempt> */
	char *ctr_name; /* CRI metadata name */
	uint32_t attempt;
	char *image_ref; /* the image as the request named it */
	char *image_id;	 /* the resolved image id (config digest) */
	int state;	 /* enum ctr_state of src/ctr (0 created, 1 running, 2 exited) */
	int64_t created_ns, started_ns, finished_ns;
	int32_t exit_code;
	char *reason;
	char *message;
	int32_t pid;
	char *log_path;	   /* absolute, "" when none */
	char *labels;	   /* JSON object of strings */
	char *annotations; /* JSON object of strings */
	char *config;	   /* JSON: what ContainerStatus reports; may be NULL */
	char *spec_path;   /* the bundle's config.json */
	char *extra;	   /* JSON object: manager-private data (stop signal, ...) */
	char **layers;	   /* chain ids, top-most first, NULL-terminated, may be NULL */
};

/** Insert or update `c` (every column; its layer list replaced) in one
 *  transaction. -EIO with err on failure. */
int db_ctr_put(struct db *db, const struct db_ctr *c, struct err *err);

/** Update the run-time columns only (state, times, exit code, reason,
 *  message, pid) of `c->id`. -ENOENT when there is no such row. */
int db_ctr_put_state(struct db *db, const struct db_ctr *c, struct err *err);

/** Replace the config JSON of `id` (after UpdateContainerResources).
 *  -ENOENT when there is no such row. */
int db_ctr_put_config(struct db *db, const char *id, const char *config, struct err *err);

/** Every container row, with layers. *ret is an array of *ret_n rows, each
 *  freed with db_ctr_free, then the array with free. */
int db_ctr_list(struct db *db, struct db_ctr ***ret, size_t *ret_n, struct err *err);

/** Delete the row of `id` and its layer list. Absent is 0. */
int db_ctr_delete(struct db *db, const char *id, struct err *err);

/** Every distinct chain id some container's rootfs uses (NULL-terminated,
 *  owned, may be NULL when none). Image GC must not delete these layers. */
int db_ctr_layers_in_use(struct db *db, char ***ret, struct err *err);

/** Free one row. Accepts NULL. */
void db_ctr_free(struct db_ctr *c);
DEFINE_CLEANUP(struct db_ctr, db_ctr_free)
