#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

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
		{ 1, "one", "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);" },
		{ 2, "two", "CREATE TABLE t2 (x INTEGER);" },
	};
	assert_int_equal(db_open_with(root, m, 1, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 1);
	db_close(db);
	/* a later binary appends a migration: only that one runs */
	assert_int_equal(db_open_with(root, m, 2, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 2);
	db_close(db);
	assert_int_equal(db_open_with(root, m, 2, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 2);
	db_close(db);
	/* newer than the binary knows: refused with a clear message */
	assert_int_equal(db_open_with(root, m, 1, &db, &err), -EPROTO);
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
		{ 1, "one", "CREATE TABLE a (x INTEGER);" },
		{ 2, "bad", "CREATE TABLE b (x INTEGER); THIS IS NOT SQL;" },
	};
	assert_int_equal(db_open_with(root, m, 2, &db, &err), -EIO);
	assert_non_null(strstr(err_str(&err), "migration 2"));
	err_done(&err);
	assert_int_equal(db_open_with(root, m, 1, &db, &err), 0);
	assert_int_equal(db_schema_version(db), 1);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
