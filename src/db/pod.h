/* db/pod: the pod sandbox table (schema version 3).
 *   pods  one row per sandbox; `name` is the reserved name
 *         k8s_<name>_<namespace>_<uid>_<attempt>, unique while the pod exists */
#pragma once

#include <stdint.h>

#include "db/db.h"

#define DB_POD_SCHEMA                                                                 \
	"CREATE TABLE pods (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE," \
	" created_ns INTEGER NOT NULL, state INTEGER NOT NULL, config TEXT NOT NULL," \
	" status TEXT NOT NULL);"

/* One pod row. Strings are owned (never NULL after a read). */
struct db_pod {
	char *id;
	char *name; /* the reserved name */
	int64_t created_ns;
	int state;    /* enum pod_state of src/pod */
	char *config; /* JSON: the sandbox config (pod_config_to_json) */
	char *status; /* JSON object: the manager's run-time data (ips, paths, ...) */
};

/** Insert or replace the row of `p->id`. -EEXIST naming the holder when
 *  another pod holds p->name; -EIO with err on other failures. */
int db_pod_put(struct db *db, const struct db_pod *p, struct err *err);

/** Every pod, oldest first. *ret (array of *ret_n, each freed with
 *  db_pod_free, then the array with free) owned by the caller. */
int db_pod_list(struct db *db, struct db_pod ***ret, size_t *ret_n, struct err *err);

/** Delete pod `id`; an absent row is success. */
int db_pod_delete(struct db *db, const char *id, struct err *err);

/** Free one row. Accepts NULL. */
void db_pod_free(struct db_pod *p);
DEFINE_CLEANUP(struct db_pod, db_pod_free)
