#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/ctr.h"
#include "db/db.h"
#include "db/db_int.h"

static char *mkroot(void)
{
	char *t = xstrdup("/tmp/ocid-test-db-XXXXXX");
	assert_non_null(mkdtemp(t));
	return t;
}

static void rmroot(char *t)
{
	char *cmd = xasprintf("rm -rf '%s'", t);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(t);
}

static void test_fresh_open(void **state)
{
	char *root = mkroot();
	struct err err = ERR_INIT;
	struct db *db = NULL;
	assert_int_equal(db_open(root, &db, &err), 0);
	assert_int_equal(db_schema_version(db), db_schema_latest());
	char *mode = db_journal_mode(db);
	assert_string_equal(mode, "wal");
	free(mode);
	char *created = NULL;
	assert_int_equal(db_meta_get(db, "created", &created, &err), 0);
	assert_true(strlen(created) >= 20);
	free(created);
	assert_int_equal(db_meta_get(db, "nope", &created, &err), -ENOENT);
	err_done(&err);
	/* set, replace, delete; survives a reopen */
	char *v = NULL;
	assert_int_equal(db_meta_set(db, "k", "one", &err), 0);
	assert_int_equal(db_meta_set(db, "k", "two", &err), 0);
	assert_int_equal(db_meta_set(db, "gone", "x", &err), 0);
	assert_int_equal(db_meta_set(db, "gone", NULL, &err), 0);
	db_close(db);
	assert_int_equal(db_open(root, &db, &err), 0);
	assert_int_equal(db_meta_get(db, "k", &v, &err), 0);
	assert_string_equal(v, "two");
	free(v);
	assert_int_equal(db_meta_get(db, "gone", &v, &err), -ENOENT);
	err_done(&err);
	db_close(db);
	rmroot(root);
}

/* db_check: sound, missing, not a database (db_open says -EBADMSG too). */
static void test_check(void **state)
{
	char *root = mkroot();
	struct err err = ERR_INIT;
	char **problems = NULL;
	assert_int_equal(db_check(root, &problems, &err), -ENOENT);
	err_done(&err);
	struct db *db = NULL;
	assert_int_equal(db_open(root, &db, &err), 0);
	assert_int_equal(db_meta_set(db, "k", "v", &err), 0);
	db_close(db);
	assert_int_equal(db_check(root, &problems, &err), 0);
	assert_null(problems);
	char *path = xasprintf("%s/ocid.db", root);
	char *cmd = xasprintf("rm -f '%s'-wal '%s'-shm; head -c 8192 /dev/urandom > '%s'", path,
			      path, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(db_check(root, &problems, &err), -EBADMSG);
	assert_non_null(problems);
	assert_non_null(strstr(problems[0], "not a database"));
	strv_free(problems);
	assert_int_equal(db_open(root, &db, &err), -EBADMSG);
	assert_non_null(strstr(err_str(&err), "not a database"));
	err_done(&err);
	free(cmd);
	free(path);
	rmroot(root);
}

static void test_reopen_keeps_version(void **state)
{
	char *root = mkroot();
	struct err err = ERR_INIT;
	struct db *db = NULL;
	static const struct db_migration m[] = {
		{ 1, "one", "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);", NULL },
		{ 2, "two", "CREATE TABLE t2 (x INTEGER);", NULL },
	};
	assert_int_equal(db_open_with(root, m, 1, NULL, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 1);
	db_close(db);
	/* a later binary appends a migration: only that one runs */
	assert_int_equal(db_open_with(root, m, 2, NULL, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 2);
	db_close(db);
	assert_int_equal(db_open_with(root, m, 2, NULL, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 2);
	db_close(db);
	/* newer than the binary knows: refused with a clear message */
	assert_int_equal(db_open_with(root, m, 1, NULL, &db, &err), -EPROTO);
	assert_non_null(strstr(err_str(&err), "newer"));
	err_done(&err);
	rmroot(root);
}

static void test_failed_migration_rolls_back(void **state)
{
	char *root = mkroot();
	struct err err = ERR_INIT;
	struct db *db = NULL;
	static const struct db_migration m[] = {
		{ 1, "one", "CREATE TABLE a (x INTEGER);", NULL },
		{ 2, "bad", "CREATE TABLE b (x INTEGER); THIS IS NOT SQL;", NULL },
	};
	assert_int_equal(db_open_with(root, m, 2, NULL, &db, &err), -EIO);
	assert_non_null(strstr(err_str(&err), "migration 2"));
	err_done(&err);
	assert_int_equal(db_open_with(root, m, 1, NULL, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 1);
	db_close(db);
	rmroot(root);
}

/* Run `sql` on <root>/ocid.db as another program would. */
static void raw(const char *root, const char *sql)
{
	char *path = xasprintf("%s/ocid.db", root);
	sqlite3 *conn = NULL;
	assert_int_equal(sqlite3_open(path, &conn), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(conn, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(conn);
	free(path);
}

/* The first column of the first row of `sql`, malloc'd ("NULL" for SQL
 * NULL). */
static char *raw_get(const char *root, const char *sql)
{
	char *path = xasprintf("%s/ocid.db", root);
	sqlite3 *conn = NULL;
	assert_int_equal(sqlite3_open(path, &conn), SQLITE_OK);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(conn, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	const char *v = (const char *)sqlite3_column_text(st, 0);
	char *out = xstrdup(v ? v : "NULL");
	sqlite3_finalize(st);
	sqlite3_close(conn);
	free(path);
	return out;
}

static int converted;

/* What the CRI adapter does (cri_ctr_legacy_record), in miniature: the
 * bytes as text in a JSON record; "bad" gives an empty record. */
static char *record_of(const char *id, const uint8_t *blob, size_t len)
{
	converted++;
	if (len == 3 && memcmp(blob, "bad", 3) == 0)
		return xstrdup("{}");
	return xasprintf("{\"id\":\"%s\",\"was\":\"%.*s\"}", id, (int)len, (const char *)blob);
}

static void put_row(struct db *db, const char *id)
{
	struct err err = ERR_INIT;
	struct db_ctr c = { .id = (char *)id,
			    .pod_id = "pod",
			    .name = "n",
			    .ctr_name = "x",
			    .image_ref = "i",
			    .image_id = "sha256:i",
			    .reason = "",
			    .message = "",
			    .log_path = "",
			    .spec_path = "/s",
			    .config = "{\"new\":1}" };
	assert_int_equal(db_ctr_put(db, &c, &err), 0);
}

/* A database of schema 5 whose rows a, b and c are of schema 4 (no
 * config, a CRI config BLOB: c's does not decode), d of schema 5. */
static char *schema5_db(void)
{
	char *root = mkroot();
	struct err err = ERR_INIT;
	struct db *db = NULL;
	assert_int_equal(db_open(root, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 6);
	const char *ids[] = { "a", "b", "c", "d" };
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
		put_row(db, ids[i]);
	db_close(db);
	raw(root,
	    "ALTER TABLE containers ADD COLUMN cri_config BLOB;"
	    "UPDATE containers SET config = NULL, cri_config = CAST('cfg-' || id AS BLOB)"
	    " WHERE id IN ('a', 'b');"
	    "UPDATE containers SET config = NULL, cri_config = CAST('bad' AS BLOB) WHERE id = 'c';"
	    "DELETE FROM schema_version WHERE version = 6;");
	return root;
}

/* Schema 6 converts every row of schema 4 with db_upgrade's hook and drops
 * the BLOB column, all in the migration's one transaction: without the hook,
 * or killed half-way (a failing step after the conversion stands in for
 * it), nothing is changed and the next open does it all. */
static void test_schema6_converts_legacy_rows(void **state)
{
	char *root = schema5_db();
	struct err err = ERR_INIT;
	struct db *db = NULL;
	/* No one to decode the rows: refused, nothing lost. */
	assert_int_equal(db_open(root, &db, &err), -EPROTO);
	assert_non_null(strstr(err_str(&err), "container a holds a CRI config"));
	err_done(&err);
	char *v = raw_get(root, "SELECT MAX(version) FROM schema_version");
	assert_string_equal(v, "5");
	free(v);
	/* Converted, then a failure before the commit: rolled back. */
	struct db_upgrade up = { .ctr_legacy_record = record_of };
	static const struct db_migration crash[] = {
		{ 6, "six, cut short", "THIS IS NOT SQL;", db_ctr_schema_6 },
	};
	converted = 0;
	assert_int_equal(db_open_with(root, crash, 1, &up, &db, &err), -EIO);
	assert_non_null(strstr(err_str(&err), "migration 6"));
	err_done(&err);
	assert_int_equal(converted, 3);
	v = raw_get(root, "SELECT COUNT(*) FROM containers WHERE config IS NULL"
			  " AND cri_config IS NOT NULL");
	assert_string_equal(v, "3");
	free(v);
	v = raw_get(root, "SELECT MAX(version) FROM schema_version");
	assert_string_equal(v, "5");
	free(v);
	/* The next open does it all. */
	converted = 0;
	assert_int_equal(db_open_upgrading(root, &up, &db, &err), 0);
	assert_int_equal(converted, 3);
	assert_int_equal(db_schema_version(db), 6);
	struct db_ctr **rows = NULL;
	size_t n = 0;
	assert_int_equal(db_ctr_list(db, &rows, &n, &err), 0);
	assert_int_equal(n, 4);
	const char *want[] = { "{\"id\":\"a\",\"was\":\"cfg-a\"}",
			       "{\"id\":\"b\",\"was\":\"cfg-b\"}", "{}", "{\"new\":1}" };
	for (size_t i = 0; i < n; i++) {
		assert_non_null(rows[i]->config);
		char *got = xasprintf("%s=%s", rows[i]->id, rows[i]->config);
		char *exp = xasprintf("%c=%s", "abcd"[i], want[i]);
		assert_string_equal(got, exp);
		free(got);
		free(exp);
		db_ctr_free(rows[i]);
	}
	free(rows);
	db_close(db);
	/* The column is gone; a reopen converts nothing again. */
	v = raw_get(root, "SELECT COUNT(*) FROM pragma_table_info('containers')"
			  " WHERE name = 'cri_config'");
	assert_string_equal(v, "0");
	free(v);
	converted = 0;
	assert_int_equal(db_open_upgrading(root, &up, &db, &err), 0);
	assert_int_equal(converted, 0);
	db_close(db);
	rmroot(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_open),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_reopen_keeps_version),
		cmocka_unit_test(test_failed_migration_rolls_back),
		cmocka_unit_test(test_schema6_converts_legacy_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
