/* SQLite connection, pragmas, migrations. */
#include "db/ctr.h"
#include "db/db.h"
#include "db/db_int.h"
#include "db/image.h"
#include "db/pod.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct db {
	sqlite3 *conn;
	pthread_mutex_t lock;
	int version;
};

static const struct db_migration migrations[] = {
	{ 1, "schema_version and meta",
	  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
	  "INSERT OR IGNORE INTO meta(key, value) VALUES ('created', strftime('%Y-%m-%dT%H:%M:%SZ','now'));",
	  NULL },
	{ 2, "images, tags, layers, image_layers", DB_IMAGE_SCHEMA, NULL },
	{ 3, "pods", DB_POD_SCHEMA, NULL },
	{ 4, "containers, container_layers", DB_CTR_SCHEMA, NULL },
	{ 5, "containers.config: the status config as JSON", DB_CTR_SCHEMA_5, NULL },
	{ 6, "containers.cri_config converted to containers.config, then dropped", DB_CTR_SCHEMA_6,
	  db_ctr_schema_6 },
};

int db_schema_latest(void)
{
	return migrations[ARRAY_SIZE(migrations) - 1].version;
}

/* A file that is not a database, or a damaged one, is -EBADMSG (corrupt
 * data, DATA_LOSS); anything else -EIO. */
static int sqlite_errno(int rc)
{
	int primary = rc & 0xff;
	return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? -EBADMSG : -EIO;
}

static int sql_err(struct err *err, sqlite3 *conn, const char *what)
{
	if (!conn)
		return err_msg(err, -ENOMEM, "%s: out of memory", what);
	return err_msg(err, sqlite_errno(sqlite3_errcode(conn)), "%s: %s", what,
		       sqlite3_errmsg(conn));
}

static int exec(sqlite3 *conn, const char *sql, struct err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(conn, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int r = sqlite_errno(rc);
		err_msg(err, r, "sqlite: %s", msg ? msg : sqlite3_errmsg(conn));
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

static int read_version(sqlite3 *conn, int *ret, struct err *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1,
			       &st, NULL) != SQLITE_OK)
		return sql_err(err, conn, "read schema version");
	int r = sqlite3_step(st);
	*ret = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 0 : sql_err(err, conn, "read schema version");
}

static int apply(sqlite3 *conn, const struct db_migration *m, const struct db_upgrade *up,
		 struct err *err)
{
	char buf[256];
	int r = exec(conn, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	if (m->code)
		r = m->code(conn, up, err);
	if (r >= 0)
		r = exec(conn, m->sql, err);
	if (r >= 0) {
		snprintf(
		    buf, sizeof(buf),
		    "INSERT INTO schema_version(version, applied) VALUES (%d, strftime('%%s','now'))",
		    m->version);
		r = exec(conn, buf, err);
	}
	if (r >= 0)
		r = exec(conn, "COMMIT", err);
	if (r < 0) {
		(void)sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
		return err_wrap(err, "migration %d (%s)", m->version, m->description);
	}
	return 0;
}

static int migrate(struct db *db, const struct db_migration *m, size_t n,
		   const struct db_upgrade *up, struct err *err)
{
	int r =
	    exec(db->conn,
		 "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY NOT NULL,"
		 " applied INTEGER NOT NULL)",
		 err);
	if (r < 0)
		return r;
	r = read_version(db->conn, &db->version, err);
	if (r < 0)
		return r;
	int latest = n ? m[n - 1].version : 0;
	if (db->version > latest)
		return err_msg(
		    err, -EPROTO,
		    "database schema version %d is newer than this ocid knows (%d); use a newer ocid",
		    db->version, latest);
	for (size_t i = 0; i < n; i++) {
		if (m[i].version <= db->version)
			continue;
		r = apply(db->conn, &m[i], up, err);
		if (r < 0)
			return r;
		db->version = m[i].version;
	}
	return 0;
}

int db_open_with(const char *root, const struct db_migration *m, size_t n,
		 const struct db_upgrade *up, struct db **ret, struct err *err)
{
	cleanup_free char *path = xasprintf("%s/ocid.db", root);
	struct db *db = xzalloc(sizeof(*db));
	pthread_mutex_init(&db->lock, NULL);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
		    SQLITE_OPEN_EXRESCODE;
	int r;
	if (sqlite3_open_v2(path, &db->conn, flags, NULL) != SQLITE_OK) {
		r = err_msg(err, -EIO, "open database '%s': %s", path,
			    db->conn ? sqlite3_errmsg(db->conn) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->conn, 5000);
	r = exec(db->conn,
		 "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"
		 " PRAGMA cache_size=-512; PRAGMA temp_store=MEMORY;",
		 err);
	if (r >= 0)
		r = migrate(db, m, n, up, err);
	if (r < 0) {
		err_wrap(err, "database '%s'", path);
		goto fail;
	}
	*ret = db;
	return 0;
fail:
	db_close(db);
	return r;
}

/* Append each row's first column of `sql` to *report (lines); the sqlite
 * result code. */
static int collect(sqlite3 *conn, const char *sql, const char *skip, char ***report)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(conn, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int cols = sqlite3_column_count(st);
		cleanup_free char *line = NULL;
		for (int i = 0; i < cols; i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);
			char *next =
			    xasprintf("%s%s%s", line ? line : "", line ? " " : "", v ? v : "");
			free(line);
			line = next;
		}
		if (!line) /* a row of no columns */
			line = xstrdup("");
		if (!skip || strcmp(line, skip) != 0)
			strv_push(report, line);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int db_check(const char *root, char ***ret_problems, struct err *err)
{
	cleanup_free char *path = xasprintf("%s/ocid.db", root);
	*ret_problems = NULL;
	if (access(path, F_OK) < 0)
		return err_set(err, -errno, "database '%s'", path);
	sqlite3 *conn = NULL;
	int rc = sqlite3_open_v2(path, &conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_EXRESCODE, NULL);
	char **report = NULL;
	if (rc == SQLITE_OK)
		rc = collect(conn, "PRAGMA integrity_check", "ok", &report);
	if (rc == SQLITE_OK)
		rc = collect(conn, "PRAGMA foreign_key_check", NULL, &report);
	int version = 0;
	if (rc == SQLITE_OK && read_version(conn, &version, NULL) >= 0 &&
	    version > db_schema_latest())
		strv_push_take(&report,
			       xasprintf("schema version %d is newer than this ocid's (%d)",
					 version, db_schema_latest()));
	int r = 0;
	if (rc != SQLITE_OK) {
		r = sqlite_errno(rc);
		strv_push_take(&report,
			       xasprintf("%s", conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc)));
		if (r != -EBADMSG)
			r = err_msg(err, r, "database '%s': %s", path, report[0]);
	} else if (report) {
		r = -EBADMSG;
	}
	sqlite3_close_v2(conn);
	*ret_problems = report;
	return r;
}

int db_open_upgrading(const char *root, const struct db_upgrade *up, struct db **ret,
		      struct err *err)
{
	return db_open_with(root, migrations, ARRAY_SIZE(migrations), up, ret, err);
}

int db_open(const char *root, struct db **ret, struct err *err)
{
	return db_open_upgrading(root, NULL, ret, err);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	sqlite3_close_v2(db->conn);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

int db_schema_version(struct db *db)
{
	return db->version;
}

int db_tx(struct db *db, db_tx_fn fn, void *data, struct err *err)
{
	pthread_mutex_lock(&db->lock);
	int r = exec(db->conn, "BEGIN IMMEDIATE", err);
	if (r >= 0) {
		r = fn(db->conn, data, err);
		if (r >= 0) {
			int c = exec(db->conn, "COMMIT", err);
			if (c < 0)
				r = c;
		}
		if (r < 0)
			(void)sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&db->lock);
	return r;
}

static int text_query(struct db *db, const char *sql, const char *arg, char **ret, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int r;
	pthread_mutex_lock(&db->lock);
	if (sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL) != SQLITE_OK) {
		r = sql_err(err, db->conn, "prepare");
		goto out;
	}
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		*ret = xstrdup(v ? v : "");
		r = 0;
	} else if (s == SQLITE_DONE) {
		r = err_msg(err, -ENOENT, "no such key '%s'", arg ? arg : "");
	} else {
		r = sql_err(err, db->conn, "query");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return r;
}

char *db_journal_mode(struct db *db)
{
	char *mode = NULL;
	if (text_query(db, "PRAGMA journal_mode", NULL, &mode, NULL) < 0)
		return NULL;
	return mode;
}

int db_meta_get(struct db *db, const char *key, char **ret, struct err *err)
{
	return text_query(db, "SELECT value FROM meta WHERE key = ?1", key, ret, err);
}

int db_meta_set(struct db *db, const char *key, const char *value, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int r = 0;
	pthread_mutex_lock(&db->lock);
	if (sqlite3_prepare_v2(db->conn,
			       value ? "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)"
				     : "DELETE FROM meta WHERE key = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		r = sql_err(err, db->conn, "prepare");
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if (value)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = sql_err(err, db->conn, "write meta");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return r;
}
