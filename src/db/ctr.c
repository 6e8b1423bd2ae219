/* Typed queries over the container tables. Every call runs inside db_tx. */
#include "db/ctr.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

/* Containers store "" rather than NULL for absent text. */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	db_bind_text(st, i, v ? v : "");
}

#define CTR_COLUMNS                                                                                \
	"id, pod_id, name, ctr_name, attempt, image_ref, image_id, state, created_ns, started_ns," \
	" finished_ns, exit_code, reason, message, pid, log_path, labels, annotations,"            \
	" spec_path, extra, config"

static void bind_state(sqlite3_stmt *st, const struct db_ctr *c)
{
	sqlite3_bind_int(st, 8, c->state);
	sqlite3_bind_int64(st, 9, c->created_ns);
	sqlite3_bind_int64(st, 10, c->started_ns);
	sqlite3_bind_int64(st, 11, c->finished_ns);
	sqlite3_bind_int(st, 12, c->exit_code);
	bind_text(st, 13, c->reason);
	bind_text(st, 14, c->message);
	sqlite3_bind_int(st, 15, c->pid);
}

static int put_layers(sqlite3 *conn, const struct db_ctr *c, struct err *err)
{
	cleanup_stmt sqlite3_stmt *del = NULL;
	int r = db_prep(conn, "DELETE FROM container_layers WHERE ctr_id = ?1", &del, err);
	if (r < 0)
		return r;
	bind_text(del, 1, c->id);
	r = db_run(conn, del, "delete container layers", err);
	if (r < 0 || !c->layers)
		return r;
	cleanup_stmt sqlite3_stmt *st = NULL;
	r = db_prep(conn, "INSERT INTO container_layers(ctr_id, idx, chain_id) VALUES (?1, ?2, ?3)",
		    &st, err);
	for (size_t i = 0; r >= 0 && c->layers[i]; i++) {
		bind_text(st, 1, c->id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		bind_text(st, 3, c->layers[i]);
		r = db_run(conn, st, "record container layer", err);
	}
	return r;
}

static int put_tx(sqlite3 *conn, void *data, struct err *err)
{
	const struct db_ctr *c = data;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r =
	    db_prep(conn,
		    "INSERT INTO containers(" CTR_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
		    " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
		    " ON CONFLICT(id) DO UPDATE SET pod_id = excluded.pod_id, name = excluded.name,"
		    " ctr_name = excluded.ctr_name, attempt = excluded.attempt,"
		    " image_ref = excluded.image_ref, image_id = excluded.image_id,"
		    " state = excluded.state, created_ns = excluded.created_ns,"
		    " started_ns = excluded.started_ns, finished_ns = excluded.finished_ns,"
		    " exit_code = excluded.exit_code, reason = excluded.reason,"
		    " message = excluded.message, pid = excluded.pid, log_path = excluded.log_path,"
		    " labels = excluded.labels, annotations = excluded.annotations,"
		    " spec_path = excluded.spec_path,"
		    " extra = excluded.extra, config = excluded.config",
		    &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, c->id);
	bind_text(st, 2, c->pod_id);
	bind_text(st, 3, c->name);
	bind_text(st, 4, c->ctr_name);
	sqlite3_bind_int64(st, 5, c->attempt);
	bind_text(st, 6, c->image_ref);
	bind_text(st, 7, c->image_id);
	bind_state(st, c);
	bind_text(st, 16, c->log_path);
	bind_text(st, 17, c->labels ? c->labels : "{}");
	bind_text(st, 18, c->annotations ? c->annotations : "{}");
	bind_text(st, 19, c->spec_path);
	bind_text(st, 20, c->extra ? c->extra : "{}");
	if (c->config)
		db_bind_text(st, 21, c->config);
	else
		sqlite3_bind_null(st, 21);
	r = db_run(conn, st, "record container", err);
	if (r < 0)
		return r;
	return put_layers(conn, c, err);
}

int db_ctr_put(struct db *db, const struct db_ctr *c, struct err *err)
{
	return db_tx(db, put_tx, (void *)c, err);
}

static int put_state_tx(sqlite3 *conn, void *data, struct err *err)
{
	const struct db_ctr *c = data;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r =
	    db_prep(conn,
		    "UPDATE containers SET state = ?8, created_ns = ?9, started_ns = ?10,"
		    " finished_ns = ?11, exit_code = ?12, reason = ?13, message = ?14, pid = ?15"
		    " WHERE id = ?1",
		    &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, c->id);
	bind_state(st, c);
	r = db_run(conn, st, "update container state", err);
	if (r >= 0 && sqlite3_changes(conn) == 0)
		return err_msg(err, -ENOENT, "container %s not found", c->id);
	return r;
}

int db_ctr_put_state(struct db *db, const struct db_ctr *c, struct err *err)
{
	return db_tx(db, put_state_tx, (void *)c, err);
}

struct put_config {
	const char *id;
	const char *config;
};

static int put_config_tx(sqlite3 *conn, void *data, struct err *err)
{
	const struct put_config *p = data;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn, "UPDATE containers SET config = ?2 WHERE id = ?1", &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, p->id);
	bind_text(st, 2, p->config);
	r = db_run(conn, st, "update container config", err);
	if (r >= 0 && sqlite3_changes(conn) == 0)
		return err_msg(err, -ENOENT, "container %s not found", p->id);
	return r;
}

int db_ctr_put_config(struct db *db, const char *id, const char *config, struct err *err)
{
	struct put_config p = { id, config };
	return db_tx(db, put_config_tx, &p, err);
}

static struct db_ctr *row_read(sqlite3_stmt *st)
{
	struct db_ctr *c = xzalloc(sizeof(*c));
	c->id = db_col_text(st, 0);
	c->pod_id = db_col_text(st, 1);
	c->name = db_col_text(st, 2);
	c->ctr_name = db_col_text(st, 3);
	c->attempt = (uint32_t)sqlite3_column_int64(st, 4);
	c->image_ref = db_col_text(st, 5);
	c->image_id = db_col_text(st, 6);
	c->state = sqlite3_column_int(st, 7);
	c->created_ns = sqlite3_column_int64(st, 8);
	c->started_ns = sqlite3_column_int64(st, 9);
	c->finished_ns = sqlite3_column_int64(st, 10);
	c->exit_code = sqlite3_column_int(st, 11);
	c->reason = db_col_text(st, 12);
	c->message = db_col_text(st, 13);
	c->pid = sqlite3_column_int(st, 14);
	c->log_path = db_col_text(st, 15);
	c->labels = db_col_text(st, 16);
	c->annotations = db_col_text(st, 17);
	c->spec_path = db_col_text(st, 18);
	c->extra = db_col_text(st, 19);
	if (sqlite3_column_type(st, 20) != SQLITE_NULL)
		c->config = db_col_text(st, 20);
	return c;
}

struct list_q {
	struct db_ctr **rows;
	size_t n;
};

static int read_layers(sqlite3 *conn, struct db_ctr *c, struct err *err)
{
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(
	    conn, "SELECT chain_id FROM container_layers WHERE ctr_id = ?1 ORDER BY idx", &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, c->id);
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		strv_push_take(&c->layers, db_col_text(st, 0));
	return s == SQLITE_DONE ? 0 : db_sql_fail(conn, "list container layers", err);
}

static int list_tx(sqlite3 *conn, void *data, struct err *err)
{
	struct list_q *q = data;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn, "SELECT " CTR_COLUMNS " FROM containers ORDER BY created_ns, id", &st,
			err);
	if (r < 0)
		return r;
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		q->rows = xrealloc(q->rows, (q->n + 1) * sizeof(*q->rows));
		q->rows[q->n++] = row_read(st);
	}
	if (s != SQLITE_DONE)
		return db_sql_fail(conn, "list containers", err);
	for (size_t i = 0; i < q->n; i++) {
		r = read_layers(conn, q->rows[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int db_ctr_list(struct db *db, struct db_ctr ***ret, size_t *ret_n, struct err *err)
{
	struct list_q q = { 0 };
	int r = db_tx(db, list_tx, &q, err);
	if (r < 0) {
		for (size_t i = 0; i < q.n; i++)
			db_ctr_free(q.rows[i]);
		free(q.rows);
		return r;
	}
	*ret = q.rows;
	*ret_n = q.n;
	return 0;
}

static int delete_tx(sqlite3 *conn, void *data, struct err *err)
{
	static const char *const sql[] = {
		"DELETE FROM container_layers WHERE ctr_id = ?1",
		"DELETE FROM containers WHERE id = ?1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(sql); i++) {
		cleanup_stmt sqlite3_stmt *st = NULL;
		int r = db_prep(conn, sql[i], &st, err);
		if (r < 0)
			return r;
		bind_text(st, 1, data);
		r = db_run(conn, st, "delete container", err);
		if (r < 0)
			return r;
	}
	return 0;
}

int db_ctr_delete(struct db *db, const char *id, struct err *err)
{
	return db_tx(db, delete_tx, (void *)id, err);
}

static int in_use_tx(sqlite3 *conn, void *data, struct err *err)
{
	char ***out = data;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn, "SELECT DISTINCT chain_id FROM container_layers ORDER BY chain_id",
			&st, err);
	if (r < 0)
		return r;
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		strv_push_take(out, db_col_text(st, 0));
	return s == SQLITE_DONE ? 0 : db_sql_fail(conn, "list layers in use", err);
}

int db_ctr_layers_in_use(struct db *db, char ***ret, struct err *err)
{
	char **out = NULL;
	int r = db_tx(db, in_use_tx, &out, err);
	if (r < 0) {
		strv_free(out);
		return r;
	}
	*ret = out;
	return 0;
}

void db_ctr_free(struct db_ctr *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->pod_id);
	free(c->name);
	free(c->ctr_name);
	free(c->image_ref);
	free(c->image_id);
	free(c->reason);
	free(c->message);
	free(c->log_path);
	free(c->labels);
	free(c->annotations);
	free(c->config);
	free(c->spec_path);
	free(c->extra);
	strv_free(c->layers);
	free(c);
}

/* Schema 6: each row still holding a CRI ContainerConfig BLOB (schema 4,
 * not updated since) gets its JSON record from up->ctr_legacy_record; the
 * migration's SQL then drops the column. Part of the migration's
 * transaction. */
int db_ctr_schema_6(sqlite3 *conn, const struct db_upgrade *up, struct err *err)
{
	cleanup_stmt sqlite3_stmt *sel = NULL;
	cleanup_stmt sqlite3_stmt *upd = NULL;
	int r = db_prep(conn,
			"SELECT id, cri_config FROM containers"
			" WHERE config IS NULL AND cri_config IS NOT NULL ORDER BY id",
			&sel, err);
	if (r >= 0)
		r = db_prep(conn, "UPDATE containers SET config = ?2 WHERE id = ?1", &upd, err);
	if (r < 0)
		return r;
	size_t n = 0;
	int s;
	while ((s = sqlite3_step(sel)) == SQLITE_ROW) {
		cleanup_free char *id = db_col_text(sel, 0);
		if (!up || !up->ctr_legacy_record)
			return err_msg(
			    err, -EPROTO,
			    "container %s holds a CRI config only ocid's CRI adapter can convert",
			    id);
		const void *blob = sqlite3_column_blob(sel, 1);
		size_t len = (size_t)sqlite3_column_bytes(sel, 1);
		cleanup_free char *config =
		    up->ctr_legacy_record(id, blob ? blob : (const void *)"", len);
		db_bind_text(upd, 1, id);
		if (config)
			db_bind_text(upd, 2, config);
		else
			sqlite3_bind_null(upd, 2);
		r = db_run(conn, upd, "convert container record", err);
		if (r < 0)
			return r;
		n++;
	}
	if (s != SQLITE_DONE)
		return db_sql_fail(conn, "list container records to convert", err);
	if (n)
		log_info("container records converted from the CRI protobuf to JSON", "count=%zu",
			 n);
	return 0;
}
