/*
 * indexes.c -- the admin index endpoints of API.md §5.1: list, create and
 * delete the indexes these endpoints made, one per column, recorded in
 * the `indexes` table. Unique validation rules (§3.9) keep their own
 * internal indexes (catalog.c), which are never listed here.
 *
 * Index names are generated: "i<collection id>_<column pos>" (sqlgen.c),
 * so no user text reaches the DDL except the column name, which must be
 * an existing column (exact match in the catalog) and is quoted. A UNIQUE
 * index over existing duplicates fails inside the transaction: 409
 * unique_violation and nothing is kept.
 */
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"

int
data_h_collections_index_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	json_t             *items = NULL;
	int                 rv;

	if ((rv = data_admin_open_read(dw, rq, &c)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	rv = data_index_items(dw, c, &items);
	data_end(dw);
	if (rv != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	lc_rep_json(rp, 200, json_pack("{s:o}", "items", items));
	return (0);
}

// 1 if c has an admin index on col; -1 on a SQLite error.
static int
index_exists(struct data_worker *dw, const struct data_coll *c,
    const char *col, size_t len)
{
	sqlite3_stmt *st = data_stmt(
	    dw, "SELECT 1 FROM indexes WHERE coll_id = ?1 AND col_name = ?2");
	int sr;

	if (st == NULL) {
		return (-1);
	}
	(void) sqlite3_bind_int64(st, 1, c->id);
	(void) sqlite3_bind_text(st, 2, col, (int) len, SQLITE_STATIC);
	sr = sqlite3_step(st);
	lc_db_done(st);
	return (sr == SQLITE_ROW ? 1 : sr == SQLITE_DONE ? 0 : -1);
}

// Runs the index DDL of column i and records the index.
static int
index_make(
    struct data_worker *dw, const struct data_coll *c, size_t i, int unique)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	char            name[48];
	int             sr;
	int             rv;

	data_sql_index_name(name, sizeof(name), 'i', c->id, c->pos[i]);
	data_sql_create_index(&sql, c, name, c->cols[i].name, unique);
	rv = data_catalog_exec(dw, sql.p);
	data_sql_fini(&sql);
	if (rv != 0) {
		return (rv);
	}
	if ((st = data_stmt(dw,
	         "INSERT INTO indexes (coll_id, col_name, is_unique,"
	         " created_at) VALUES (?1, ?2, ?3, ?4)")) == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, c->id);
	(void) sqlite3_bind_text(st, 2, c->cols[i].name, -1, SQLITE_STATIC);
	(void) sqlite3_bind_int(st, 3, unique);
	(void) sqlite3_bind_int64(st, 4, lc_now_ms());
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("DATA-SQL", "index record: %s",
		    sqlite3_errmsg(data_conn(dw)));
		return (LC_EINTERNAL);
	}
	return (0);
}

int
data_h_collections_index_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	const json_t       *col   = json_object_get(rq->body, "column");
	const json_t       *u     = json_object_get(rq->body, "unique");
	const char         *field = NULL;
	const char         *s;
	size_t              len;
	int                 done;
	int                 i;
	int                 rv;

	if ((rv = data_admin_open_write(dw, rq, rp, &c, &done)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (done) {
		return (0);
	}
	if (!json_is_string(col) || json_string_length(col) == 0) {
		rv    = LC_EVALIDATION;
		field = "column";
		goto fail;
	}
	if (u != NULL && !json_is_boolean(u) && !json_is_null(u)) {
		rv    = LC_EVALIDATION;
		field = "unique";
		goto fail;
	}
	s   = json_string_value(col);
	len = json_string_length(col);
	if (data_is_system(s, len)) {
		rv = LC_ESYSTEM_FIELD;
		goto fail;
	}
	if ((i = data_coll_col(c, s, len)) < 0) {
		data_end(dw);
		return (data_fail(
		    rp, LC_EVALIDATION, "No such column.", "column"));
	}
	switch (index_exists(dw, c, s, len)) {
	case 0:
		break;
	case 1:
		rv = LC_EINDEX_EXISTS;
		goto fail;
	default:
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = index_make(dw, c, (size_t) i, json_is_true(u))) != 0) {
		field = rv == LC_EUNIQUE_VIOLATION ? "column" : NULL;
		goto fail;
	}
	return (data_admin_finish(dw, rq, rp, 201,
	    json_pack("{s:s, s:b}", "column", c->cols[i].name, "unique",
	        json_is_true(u))));
fail:
	data_end(dw);
	return (data_fail(rp, rv, NULL, field));
}

int
data_h_collections_index_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	struct data_sql     sql = { 0 };
	sqlite3_stmt       *st;
	const char         *col;
	char                name[48];
	size_t              len;
	int                 done;
	int                 i;
	int                 sr;
	int                 rv;

	(void) data_param(rq, "column", &col, &len);
	if ((rv = data_admin_open_write(dw, rq, rp, &c, &done)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (done) {
		return (0);
	}
	if ((rv = index_exists(dw, c, col, len)) != 1) {
		data_end(dw);
		return (data_fail(rp, rv == 0 ? LC_ENOT_FOUND : LC_EINTERNAL,
		    rv == 0 ? "Index not found." : NULL, NULL));
	}
	rv = 0;
	if ((i = data_coll_col(c, col, len)) >= 0) {
		data_sql_index_name(name, sizeof(name), 'i', c->id, c->pos[i]);
		data_sql_drop_index(&sql, name);
		rv = data_catalog_exec(dw, sql.p);
		data_sql_fini(&sql);
	}
	if (rv == 0 &&
	    (st = data_stmt(dw,
	         "DELETE FROM indexes WHERE coll_id = ?1 AND col_name = "
	         "?2")) != NULL) {
		(void) sqlite3_bind_int64(st, 1, c->id);
		(void) sqlite3_bind_text(st, 2, col, (int) len, SQLITE_STATIC);
		sr = sqlite3_step(st);
		lc_db_done(st);
		rv = sr == SQLITE_DONE ? 0 : LC_EINTERNAL;
	} else if (rv == 0) {
		rv = LC_EINTERNAL;
	}
	if (rv != 0) {
		data_end(dw);
		return (data_fail(rp, rv, NULL, NULL));
	}
	return (
	    data_admin_finish(dw, rq, rp, 200, json_pack("{s:b}", "ok", 1)));
}
