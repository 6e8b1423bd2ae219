/* Typed queries over the pods table. */
#include "db/pod.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

static int holder(sqlite3 *conn, const char *name, const char *id, struct err *err)
{
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn, "SELECT id FROM pods WHERE name = ?1 AND id != ?2", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, id);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		return err_msg(err, -EEXIST, "pod name '%s' is reserved by pod %s", name,
			       (const char *)sqlite3_column_text(st, 0));
	return r == SQLITE_DONE ? 0 : db_sql_fail(conn, "look up pod name", err);
}

static int put_tx(sqlite3 *conn, void *data, struct err *err)
{
	const struct db_pod *p = data;
	int r = holder(conn, p->name, p->id, err);
	if (r < 0)
		return r;
	cleanup_stmt sqlite3_stmt *st = NULL;
	r = db_prep(conn,
		    "INSERT INTO pods(id, name, created_ns, state, config, status)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET"
		    " name = excluded.name, state = excluded.state, config = excluded.config,"
		    " status = excluded.status",
		    &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, p->id);
	db_bind_text(st, 2, p->name);
	sqlite3_bind_int64(st, 3, p->created_ns);
	sqlite3_bind_int(st, 4, p->state);
	db_bind_text(st, 5, p->config ? p->config : "{}");
	db_bind_text(st, 6, p->status ? p->status : "{}");
	return db_run(conn, st, "record pod", err);
}

int db_pod_put(struct db *db, const struct db_pod *p, struct err *err)
{
	return db_tx(db, put_tx, (void *)p, err);
}

struct list_q {
	struct db_pod **v;
	size_t n;
};

static int list_tx(sqlite3 *conn, void *data, struct err *err)
{
	struct list_q *q = data;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn,
			"SELECT id, name, created_ns, state, config, status FROM pods"
			" ORDER BY created_ns, id",
			&st, err);
	if (r < 0)
		return r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_pod *p = xnew(struct db_pod);
		q->v = xreallocarray(q->v, q->n + 1, sizeof(*q->v));
		q->v[q->n++] = p;
		p->id = db_col_text(st, 0);
		p->name = db_col_text(st, 1);
		p->created_ns = sqlite3_column_int64(st, 2);
		p->state = sqlite3_column_int(st, 3);
		p->config = db_col_text(st, 4);
		p->status = db_col_text(st, 5);
	}
	return r == SQLITE_DONE ? 0 : db_sql_fail(conn, "list pods", err);
}

int db_pod_list(struct db *db, struct db_pod ***ret, size_t *ret_n, struct err *err)
{
	struct list_q q = { 0 };
	int r = db_tx(db, list_tx, &q, err);
	if (r < 0) {
		for (size_t i = 0; i < q.n; i++)
			db_pod_free(q.v[i]);
		free(q.v);
		return r;
	}
	*ret = q.v;
	*ret_n = q.n;
	return 0;
}

static int delete_tx(sqlite3 *conn, void *data, struct err *err)
{
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn, "DELETE FROM pods WHERE id = ?1", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, data);
	return db_run(conn, st, "delete pod", err);
}

int db_pod_delete(struct db *db, const char *id, struct err *err)
{
	return db_tx(db, delete_tx, (void *)id, err);
}

void db_pod_free(struct db_pod *p)
{
	if (!p)
		return;
	free(p->id);
	free(p->name);
	free(p->config);
	free(p->status);
	free(p);
}
