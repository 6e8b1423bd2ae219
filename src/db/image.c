/* Typed queries over the image tables. Every call runs inside db_tx, so
 * readers see a consistent image with its names and layers. */
#include "db/image.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db_int.h"

static int put_names(sqlite3 *conn, const char *id, char *const *names, int kind, struct err *err)
{
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn,
			"INSERT INTO tags(name, kind, image_id) VALUES (?1, ?2, ?3)"
			" ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
			&st, err);
	for (size_t i = 0; r >= 0 && names && names[i]; i++) {
		db_bind_text(st, 1, names[i]);
		sqlite3_bind_int(st, 2, kind);
		db_bind_text(st, 3, id);
		r = db_run(conn, st, "record image name", err);
	}
	return r;
}

static int put_layers(sqlite3 *conn, const struct db_image *img, struct err *err)
{
	cleanup_stmt sqlite3_stmt *l = NULL;
	cleanup_stmt sqlite3_stmt *il = NULL;
	int r = db_prep(conn,
			"INSERT OR IGNORE INTO layers(chain_id, diff_id, digest, size)"
			" VALUES (?1, ?2, ?3, ?4)",
			&l, err);
	if (r >= 0)
		r = db_prep(conn,
			    "INSERT INTO image_layers(image_id, idx, chain_id) VALUES (?1, ?2, ?3)",
			    &il, err);
	for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
		const struct db_layer *x = &img->layers[i];
		db_bind_text(l, 1, x->chain_id);
		db_bind_text(l, 2, x->diff_id);
		db_bind_text(l, 3, x->digest);
		sqlite3_bind_int64(l, 4, x->size);
		r = db_run(conn, l, "record layer", err);
		if (r < 0)
			break;
		db_bind_text(il, 1, img->id);
		sqlite3_bind_int64(il, 2, (sqlite3_int64)i);
		db_bind_text(il, 3, x->chain_id);
		r = db_run(conn, il, "record image layer", err);
	}
	return r;
}

static int put_tx(sqlite3 *conn, void *data, struct err *err)
{
	const struct db_image *img = data;
	cleanup_stmt sqlite3_stmt *del = NULL;
	cleanup_stmt sqlite3_stmt *ins = NULL;
	int r = db_prep(conn, "DELETE FROM image_layers WHERE image_id = ?1", &del, err);
	if (r >= 0) {
		db_bind_text(del, 1, img->id);
		r = db_run(conn, del, "replace image layers", err);
	}
	if (r >= 0)
		r = db_prep(
		    conn,
		    "INSERT INTO images(id, manifest_digest, size, created, config, manifest)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET"
		    " manifest_digest = excluded.manifest_digest, size = excluded.size,"
		    " manifest = excluded.manifest",
		    &ins, err);
	if (r >= 0) {
		db_bind_text(ins, 1, img->id);
		db_bind_text(ins, 2, img->manifest_digest);
		sqlite3_bind_int64(ins, 3, img->size);
		sqlite3_bind_int64(ins, 4, img->created ? img->created : (int64_t)time(NULL));
		db_bind_text(ins, 5, img->config);
		db_bind_text(ins, 6, img->manifest);
		r = db_run(conn, ins, "record image", err);
	}
	if (r >= 0)
		r = put_layers(conn, img, err);
	if (r >= 0)
		r = put_names(conn, img->id, img->tags, 0, err);
	if (r >= 0)
		r = put_names(conn, img->id, img->digests, 1, err);
	return r;
}

int db_image_put(struct db *db, const struct db_image *img, struct err *err)
{
	return db_tx(db, put_tx, (void *)img, err);
}

static int load_names(sqlite3 *conn, struct db_image *img, struct err *err)
{
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn, "SELECT name, kind FROM tags WHERE image_id = ?1 ORDER BY name", &st,
			err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, img->id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		strv_push_take(sqlite3_column_int(st, 1) ? &img->digests : &img->tags,
			       db_col_text(st, 0));
	return r == SQLITE_DONE ? 0 : db_sql_fail(conn, "read image names", err);
}

static int load_layers(sqlite3 *conn, struct db_image *img, struct err *err)
{
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn,
			"SELECT l.chain_id, l.diff_id, l.digest, l.size FROM image_layers il"
			" JOIN layers l ON l.chain_id = il.chain_id WHERE il.image_id = ?1"
			" ORDER BY il.idx",
			&st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, img->id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		img->layers = xrealloc(img->layers, (img->n_layers + 1) * sizeof(*img->layers));
		struct db_layer *l = &img->layers[img->n_layers++];
		l->chain_id = db_col_text(st, 0);
		l->diff_id = db_col_text(st, 1);
		l->digest = db_col_text(st, 2);
		l->size = sqlite3_column_int64(st, 3);
	}
	return r == SQLITE_DONE ? 0 : db_sql_fail(conn, "read image layers", err);
}

struct list_q {
	const char *id; /* NULL: all */
	struct db_image **v;
	size_t n;
};

static int list_tx(sqlite3 *conn, void *data, struct err *err)
{
	struct list_q *q = data;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(
	    conn,
	    q->id ? "SELECT id, manifest_digest, size, created, config, manifest FROM images"
		    " WHERE id = ?1"
		  : "SELECT id, manifest_digest, size, created, config, manifest FROM images"
		    " ORDER BY created, id",
	    &st, err);
	if (r < 0)
		return r;
	if (q->id)
		db_bind_text(st, 1, q->id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_image *img = xnew(struct db_image);
		q->v = xrealloc(q->v, (q->n + 1) * sizeof(*q->v));
		q->v[q->n++] = img;
		img->id = db_col_text(st, 0);
		img->manifest_digest = db_col_text(st, 1);
		img->size = sqlite3_column_int64(st, 2);
		img->created = sqlite3_column_int64(st, 3);
		img->config = db_col_text(st, 4);
		img->manifest = db_col_text(st, 5);
	}
	if (r != SQLITE_DONE)
		return db_sql_fail(conn, "list images", err);
	for (size_t i = 0; i < q->n; i++) {
		r = load_names(conn, q->v[i], err);
		if (r >= 0)
			r = load_layers(conn, q->v[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void list_free(struct db_image **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		db_image_free(v[i]);
	free(v);
}

int db_image_list(struct db *db, struct db_image ***ret, size_t *ret_n, struct err *err)
{
	struct list_q q = { 0 };
	int r = db_tx(db, list_tx, &q, err);
	if (r < 0) {
		list_free(q.v, q.n);
		return r;
	}
	*ret = q.v;
	*ret_n = q.n;
	return 0;
}

int db_image_get(struct db *db, const char *id, struct db_image **ret, struct err *err)
{
	struct list_q q = { .id = id };
	int r = db_tx(db, list_tx, &q, err);
	if (r >= 0 && q.n == 0)
		r = err_msg(err, -ENOENT, "image %s not found", id);
	if (r < 0) {
		list_free(q.v, q.n);
		return r;
	}
	*ret = q.v[0];
	free(q.v);
	return 0;
}

struct str_q {
	const char *arg;
	const char *sql;
	char **out;
};

static int strs_tx(sqlite3 *conn, void *data, struct err *err)
{
	struct str_q *q = data;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int r = db_prep(conn, q->sql, &st, err);
	if (r < 0)
		return r;
	if (q->arg)
		db_bind_text(st, 1, q->arg);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		strv_push_take(&q->out, db_col_text(st, 0));
	return r == SQLITE_DONE ? 0 : db_sql_fail(conn, "query images", err);
}

static int strs(struct db *db, const char *sql, const char *arg, char ***ret, struct err *err)
{
	struct str_q q = { .arg = arg, .sql = sql };
	int r = db_tx(db, strs_tx, &q, err);
	if (r < 0) {
		strv_free(q.out);
		return r;
	}
	*ret = q.out;
	return 0;
}

int db_image_by_name(struct db *db, const char *name, char **ret, struct err *err)
{
	char **ids = NULL;
	int r = strs(db, "SELECT image_id FROM tags WHERE name = ?1", name, &ids, err);
	if (r < 0)
		return r;
	if (!ids || !ids[0]) {
		strv_free(ids);
		return err_msg(err, -ENOENT, "image %s not found", name);
	}
	*ret = xstrdup(ids[0]);
	strv_free(ids);
	return 0;
}

int db_image_ids_by_prefix(struct db *db, const char *prefix, char ***ret, struct err *err)
{
	/* substr, not LIKE: ids never contain wildcards, but prefixes might. */
	return strs(db, "SELECT id FROM images WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id",
		    prefix, ret, err);
}

int db_layer_list(struct db *db, char ***ret, struct err *err)
{
	return strs(db, "SELECT chain_id FROM layers ORDER BY chain_id", NULL, ret, err);
}

struct del_q {
	const char *id;
	char **unused;
};

static int del_tx(sqlite3 *conn, void *data, struct err *err)
{
	struct del_q *q = data;
	static const char *const sql[] = {
		"DELETE FROM tags WHERE image_id = ?1",
		"DELETE FROM image_layers WHERE image_id = ?1",
		"DELETE FROM images WHERE id = ?1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(sql); i++) {
		cleanup_stmt sqlite3_stmt *st = NULL;
		int r = db_prep(conn, sql[i], &st, err);
		if (r < 0)
			return r;
		db_bind_text(st, 1, q->id);
		r = db_run(conn, st, "delete image", err);
		if (r < 0)
			return r;
	}
	struct str_q sq = {
		.sql = "SELECT chain_id FROM layers WHERE chain_id NOT IN"
		       " (SELECT chain_id FROM image_layers)",
	};
	int r = strs_tx(conn, &sq, err);
	q->unused = sq.out;
	if (r < 0)
		return r;
	cleanup_stmt sqlite3_stmt *st = NULL;
	r = db_prep(conn,
		    "DELETE FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)",
		    &st, err);
	return r < 0 ? r : db_run(conn, st, "delete unused layers", err);
}

int db_image_delete(struct db *db, const char *id, char ***ret_unused, struct err *err)
{
	struct del_q q = { .id = id };
	int r = db_tx(db, del_tx, &q, err);
	if (r < 0) {
		strv_free(q.unused);
		return r;
	}
	*ret_unused = q.unused;
	return 0;
}

void db_image_free(struct db_image *img)
{
	if (!img)
		return;
	free(img->id);
	free(img->manifest_digest);
	free(img->config);
	free(img->manifest);
	strv_free(img->tags);
	strv_free(img->digests);
	for (size_t i = 0; i < img->n_layers; i++) {
		free(img->layers[i].chain_id);
		free(img->layers[i].diff_id);
		free(img->layers[i].digest);
	}
	free(img->layers);
	free(img);
}
