/* Private to src/db: the small SQLite helpers every typed-query file
 * (image.c, ctr.c, ...) uses, so each does not grow its own copy. */
#pragma once

#include <errno.h>
#include <sqlite3.h>

#include "base/base.h"
#include "db/db.h"

/** Run fn(conn, data) inside BEGIN IMMEDIATE ... COMMIT with the connection
 *  lock held; a negative return from fn rolls back and is returned. */
typedef int (*db_tx_fn)(struct sqlite3 *conn, void *data, struct err *err);
int db_tx(struct db *db, db_tx_fn fn, void *data, struct err *err);

DEFINE_CLEANUP(sqlite3_stmt, sqlite3_finalize)
#define cleanup_stmt cleanup(sqlite3_finalize)

/* Fill err with "<what>: <sqlite message>"; returns -EBADMSG for a
 * damaged database (SQLITE_CORRUPT, SQLITE_NOTADB), else -EIO. */
static inline int db_sql_fail(sqlite3 *conn, const char *what, struct err *err)
{
	int rc = sqlite3_errcode(conn) & 0xff;
	int r = rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? -EBADMSG : -EIO;
	return err_msg(err, r, "%s: %s", what, sqlite3_errmsg(conn));
}

static inline int db_prep(sqlite3 *conn, const char *sql, sqlite3_stmt **st, struct err *err)
{
	if (sqlite3_prepare_v2(conn, sql, -1, st, NULL) != SQLITE_OK)
		return db_sql_fail(conn, "prepare", err);
	return 0;
}

/* Bind a copy of v to parameter i; NULL binds SQL NULL. */
static inline void db_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Column i as a malloc'd string; SQL NULL reads as "". */
static inline char *db_col_text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	return xstrdup(v ? v : "");
}

/* Step a statement that returns no rows, then reset it and clear its
 * bindings so it can be run again. */
static inline int db_run(sqlite3 *conn, sqlite3_stmt *st, const char *what, struct err *err)
{
	int r = sqlite3_step(st) == SQLITE_DONE ? 0 : db_sql_fail(conn, what, err);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

/* ---- for db.c and the unit tests ---- */

/** A schema migration: applied in one transaction when the stored version
 *  is below `version`. Entries are ordered by version, starting at 1. */
struct db_migration {
	int version;
	const char *description;
	const char *sql;
	/* Run first in the transaction when not NULL (what SQL alone cannot
	 * do), with db_open_upgrading's `up` (may be NULL). */
	int (*code)(sqlite3 *conn, const struct db_upgrade *up, struct err *err);
};

/* db/ctr.c: schema 6's conversion of the rows of schema 4. */
int db_ctr_schema_6(sqlite3 *conn, const struct db_upgrade *up, struct err *err);

/** The schema version stored in the file. */
int db_schema_version(struct db *db);
/** The journal mode in use ("wal"), malloc'd; NULL on failure. */
char *db_journal_mode(struct db *db);
/** Test hook: open with an explicit migration list (not for production). */
int db_open_with(const char *root, const struct db_migration *m, size_t n,
		 const struct db_upgrade *up, struct db **ret, struct err *err);
