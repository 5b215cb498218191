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
 *
 * Shape: a unique index is on its column alone. Every other admin index on
 * X is (X, _deleted_at, then up to DATA_INDEX_COVER other admin-indexed
 * columns, in the order their indexes were made): a list that filters on
 * one indexed column and sorts by another walks the sort column's index
 * and tests the filter on each entry, and SQLite looks up a row only when
 * it needs a column the index lacks, i.e. for the page itself (1,000,000
 * records, 1% filter, sort: 2,100 row lookups became 21). The cost: the
 * other indexes are rebuilt whenever an admin index comes or goes.
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

// The admin indexes of one collection, in the order they were made.
struct admin_indexes {
	size_t  n;
	char   *name[DATA_MAX_COLS];
	int64_t pos[DATA_MAX_COLS];
	int     unique[DATA_MAX_COLS];
};

static void
admin_indexes_fini(struct admin_indexes *a)
{
	for (size_t i = 0; i < a->n; i++) {
		lc_free(a->name[i]);
	}
	a->n = 0;
}

static int
admin_indexes_load(sqlite3 *db, int64_t coll_id, struct admin_indexes *a)
{
	sqlite3_stmt *st;
	int           sr;

	a->n = 0;
	if (lc_db_prepare(db,
	        "SELECT i.col_name, c.pos, i.is_unique FROM indexes AS i"
	        " JOIN columns AS c ON c.coll_id = i.coll_id"
	        " AND c.name = i.col_name WHERE i.coll_id = ?1"
	        " ORDER BY i.rowid",
	        &st) != 0) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, coll_id);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW && a->n < DATA_MAX_COLS) {
		a->name[a->n] =
		    lc_strdup((const char *) sqlite3_column_text(st, 0));
		a->pos[a->n]    = sqlite3_column_int64(st, 1);
		a->unique[a->n] = sqlite3_column_int(st, 2);
		a->n++;
	}
	sqlite3_finalize(st);
	if (sr != SQLITE_DONE && sr != SQLITE_ROW) {
		lc_log_err("DATA-SQL", "indexes: %s", sqlite3_errmsg(db));
		admin_indexes_fini(a);
		return (LC_EINTERNAL);
	}
	return (0);
}

// 1 if index `name` has exactly the columns want[0..n), in order.
static int
index_has_shape(
    sqlite3 *db, const char *name, const char *const *want, size_t n)
{
	sqlite3_stmt *st;
	size_t        k  = 0;
	int           ok = 1;

	if (lc_db_prepare(db,
	        "SELECT name FROM pragma_index_info(?1) ORDER BY seqno",
	        &st) != 0) {
		return (0);
	}
	(void) sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		const char *col = (const char *) sqlite3_column_text(st, 0);

		ok = k < n && col != NULL && strcmp(col, want[k]) == 0;
		k++;
	}
	sqlite3_finalize(st);
	return (ok && k == n);
}

int
data_index_reshape(sqlite3 *db, int64_t coll_id)
{
	struct admin_indexes a;
	struct data_sql      sql = { 0 };
	struct data_coll     c   = { 0 };
	const char          *want[2 + DATA_INDEX_COVER];
	char                 name[48];
	int                  rv;

	if ((rv = admin_indexes_load(db, coll_id, &a)) != 0) {
		return (rv);
	}
	c.id = coll_id;
	data_sql_table_name(c.table, sizeof(c.table), coll_id);
	for (size_t i = 0; i < a.n; i++) {
		size_t n = 2;

		if (a.unique[i]) {
			continue;
		}
		want[0] = a.name[i];
		want[1] = "_deleted_at";
		for (size_t j = 0; j < a.n && n < 2 + DATA_INDEX_COVER; j++) {
			if (j != i) {
				want[n++] = a.name[j];
			}
		}
		data_sql_index_name(
		    name, sizeof(name), 'i', coll_id, a.pos[i]);
		if (index_has_shape(db, name, want, n)) {
			continue;
		}
		data_sql_drop_index(&sql, name);
		data_sql_add(&sql, ";");
		data_sql_create_index(
		    &sql, &c, name, a.name[i], 0, want + 2, n - 2);
		data_sql_add(&sql, ";");
	}
	if (data_ddl_run(db, &sql) != 0) {
		rv = LC_EINTERNAL;
	}
	admin_indexes_fini(&a);
	return (rv);
}

// data_index_reshape, then the catalog generation moves (index names are
// cached per worker).
static int
reshape(struct data_worker *dw, int64_t coll_id)
{
	int rv = data_index_reshape(data_conn(dw), coll_id);

	return (rv != 0 ? rv : data_catalog_bump(dw));
}

// Records the index on column i and builds it (and the others' new shape).
static int
index_make(
    struct data_worker *dw, const struct data_coll *c, size_t i, int unique)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	char            name[48];
	int             sr;
	int             rv;

	if (unique) {
		data_sql_index_name(name, sizeof(name), 'i', c->id, c->pos[i]);
		data_sql_create_index(
		    &sql, c, name, c->cols[i].name, 1, NULL, 0);
		rv = data_catalog_exec(dw, sql.p);
		data_sql_fini(&sql);
		if (rv != 0) {
			return (rv);
		}
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
	return (reshape(dw, c->id));
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
		rv = sr == SQLITE_DONE ? reshape(dw, c->id) : LC_EINTERNAL;
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
