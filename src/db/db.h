/* db: the SQLite metadata store (<root>/ocid.db, WAL). The only module with
 * SQL. One connection, serialized by a mutex; migrations run at open. */
#pragma once

#include <stdint.h>

#include "base/base.h"

struct db;
struct sqlite3;

/* What a schema upgrade needs from the modules above db. */
struct db_upgrade {
	/* Schema 6 drops containers.cri_config, where schema 4 kept a
	 * container's CRI ContainerConfig as protobuf (opaque here): this
	 * turns one row's `len` bytes into its JSON record (containers.config,
	 * as ctr writes it; malloc'd, NULL stores none). Only the CRI adapter
	 * can decode them (cri_ctr_legacy_record); without it an upgrade that
	 * meets such a row fails with -EPROTO. */
	char *(*ctr_legacy_record)(const char *ctr_id, const uint8_t *blob, size_t len);
};

/** Open (creating) `<root>/ocid.db`, set WAL, busy_timeout, foreign_keys,
 *  synchronous=NORMAL and a small page cache, then apply pending
 *  migrations, each in one transaction (a crash leaves the schema before
 *  it, and the next open applies it again), with `up` (may be NULL) for
 *  those that need it. -EPROTO when the file's schema is newer than this
 *  binary; other -errno with err filled on failure. */
int db_open_upgrading(const char *root, const struct db_upgrade *up, struct db **ret,
		      struct err *err);
/** db_open_upgrading without an upgrade's helpers (a database of schema 4
 *  still holding CRI configs fails). */
int db_open(const char *root, struct db **ret, struct err *err);
/** Close and free. Accepts NULL. */
void db_close(struct db *db);
/** Check `<root>/ocid.db` without changing it (read only, no migration):
 *  SQLite's integrity_check and foreign_key_check, and a schema no newer
 *  than this binary's. 0 when sound; -EBADMSG when damaged or not a
 *  database, with *ret_problems (a strv to free, also set when sound: NULL)
 *  naming each problem; -ENOENT without a database; other -errno with err
 *  when it cannot be read. (db_open reports a damaged file as -EBADMSG too.) */
int db_check(const char *root, char ***ret_problems, struct err *err);
DEFINE_CLEANUP(struct db, db_close)

/** The newest schema version this binary knows. */
int db_schema_latest(void);

/** Read a key from the meta table into *ret (malloc'd). -ENOENT if absent. */
int db_meta_get(struct db *db, const char *key, char **ret, struct err *err);
/** Store `value` under `key` in the meta table (replacing it); a NULL value
 *  deletes the key. */
int db_meta_set(struct db *db, const char *key, const char *value, struct err *err);
