/*
 * db.c -- the worker's side of data.db over lc_store (lc_store.h): its
 * transactions, which also sync the catalog cache (catalog.c), and the
 * events a transaction publishes (idempotency by request: dedupe.c).
 *
 * One writer: data_begin_write takes the process's writer connection
 * (workers queue on its mutex, never in SQLite's sleeping busy handler)
 * and holds it until COMMIT and the publication of the transaction's
 * events are done, so events go out in commit order (API.md §8.3).
 * Reads run on the worker's own connection (WAL).
 */
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_service.h"
#include "lc_store.h"

struct data_worker *
data_worker(struct lc_worker *w)
{
	return (w->user);
}

sqlite3 *
data_conn(struct data_worker *dw)
{
	return (lc_txn_db(&dw->txn));
}

int
data_worker_open(struct lc_worker *w)
{
	struct data_worker *dw;

	if (w->db == NULL) {
		lc_log_err("DATA-DB", "worker %d has no connection", w->idx);
		return (LC_EINTERNAL);
	}
	dw    = lc_calloc(1, sizeof(*dw));
	dw->w = w;
	lc_txn_init(&dw->txn, w->db, w->svc != NULL ? w->svc->writer : NULL);
	dw->txn.precommit = data_fts_apply;
	dw->gen           = -1;
	w->user           = dw;
	return (0);
}

void
data_worker_close(struct lc_worker *w)
{
	struct data_worker *dw = w->user;

	if (dw == NULL) {
		return;
	}
	data_end(dw);
	data_catalog_flush(dw);
	lc_free(dw->colls);
	lc_txn_fini(&dw->txn);
	lc_free(dw);
	w->user = NULL;
}

sqlite3_stmt *
data_stmt_dyn(struct data_worker *dw, const char *sql)
{
	return (lc_txn_stmt(&dw->txn, sql));
}

sqlite3_stmt *
data_stmt(struct data_worker *dw, const char *sql)
{
	return (lc_txn_stmt(&dw->txn, sql));
}

/* ---- the FTS stage (data.h: data_sql_fts) ---- */

// Runs st to the end; 0 or LC_EINTERNAL (logged).
static int
step_done(struct lc_txn *t, sqlite3_stmt *st, const char *what)
{
	int sr = sqlite3_step(st);

	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err(
		    "DATA-SQL", "%s: %s", what, sqlite3_errmsg(lc_txn_db(t)));
		return (LC_EINTERNAL);
	}
	return (0);
}

// Moves the staged rows of collection id into its FTS table.
static int
fts_apply_one(struct lc_txn *t, int64_t id)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	char            stage[DATA_TABLE_MAX];
	int64_t         ncols = -1;
	int             rv;

	snprintf(stage, sizeof(stage), "s%lld", (long long) id);
	// seq, rid, del, then the text columns; no table: nothing staged
	st = lc_txn_stmt(t,
	    "SELECT count(*) - 3 FROM pragma_table_info(?1)"
	    " HAVING count(*) > 3");
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		ncols = sqlite3_column_int64(st, 0);
	}
	lc_db_done(st);
	if (ncols < 1) {
		return (0);
	}
	data_sql_fts_apply(&sql, id, (size_t) ncols);
	st = lc_txn_stmt(t, sql.p);
	data_sql_fini(&sql);
	if (st == NULL || (rv = step_done(t, st, "fts apply")) != 0) {
		return (LC_EINTERNAL);
	}
	data_sql_add(&sql, "DELETE FROM ");
	data_sql_ident(&sql, stage, strlen(stage));
	st = lc_txn_stmt(t, sql.p);
	data_sql_fini(&sql);
	return (st != NULL ? step_done(t, st, "fts stage") : LC_EINTERNAL);
}

int
data_fts_apply(struct lc_txn *t)
{
	sqlite3_stmt *st = lc_txn_stmt(t, "SELECT fts FROM fts_dirty");
	int64_t       ids[64];
	size_t        n  = 0;
	int           sr = SQLITE_DONE;
	int           rv = 0;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	// Few collections per group; more than 64 come in later rounds.
	while (n < LC_NELEM(ids) && (sr = sqlite3_step(st)) == SQLITE_ROW) {
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	lc_db_done(st);
	if (n < LC_NELEM(ids) && sr != SQLITE_DONE) {
		lc_log_err(
		    "DATA-SQL", "fts dirty: %s", sqlite3_errmsg(lc_txn_db(t)));
		return (LC_EINTERNAL);
	}
	for (size_t i = 0; i < n && rv == 0; i++) {
		if ((rv = fts_apply_one(t, ids[i])) == 0 &&
		    (st = lc_txn_stmt(
		         t, "DELETE FROM fts_dirty WHERE fts = ?1")) != NULL) {
			(void) sqlite3_bind_int64(st, 1, ids[i]);
			rv = step_done(t, st, "fts dirty");
		}
	}
	if (rv == 0 && n == LC_NELEM(ids)) {
		return (data_fts_apply(t));
	}
	return (rv);
}

/* ---- transactions ---- */

static int
after_begin(struct data_worker *dw, int rv)
{
	if (rv != 0) {
		return (rv);
	}
	dw->cat_dirty = 0;
	if ((rv = data_catalog_sync(dw)) != 0) {
		data_end(dw);
	}
	return (rv);
}

int
data_begin_read(struct data_worker *dw)
{
	return (after_begin(dw, lc_txn_begin_read(&dw->txn)));
}

int
data_begin_write(struct data_worker *dw)
{
	// The writer may be busy for a while: another worker takes this
	// one's place on the bus meanwhile.
	if (dw->w != NULL) {
		lc_bus_worker_blocking(dw->w);
	}
	return (after_begin(dw, lc_txn_begin_write(&dw->txn)));
}

void
data_end(struct data_worker *dw)
{
	if (dw->txn.state != LC_TXN_NONE && dw->cat_dirty) {
		data_catalog_flush(dw); // the cache saw rolled-back DDL
	}
	lc_txn_rollback(&dw->txn);
	dw->cat_dirty = 0;
	dw->fp_ok     = 0;
}

int
data_commit(struct data_worker *dw)
{
	struct lc_pub *pub =
	    dw->w != NULL && dw->w->svc != NULL ? dw->w->svc->pub : NULL;
	int rv;

	if (dw->txn.state == LC_TXN_NONE) {
		lc_log_err("DATA-DB", "commit outside a transaction");
		return (LC_EINTERNAL);
	}
	if ((rv = lc_txn_commit(&dw->txn, pub, NULL)) != 0) {
		// The cache may hold what the failed group wrote (this
		// worker's DDL, or an earlier member's seen on the writer).
		data_catalog_flush(dw);
		data_end(dw);
		return (rv);
	}
	dw->cat_dirty = 0;
	dw->fp_ok     = 0;
	return (0);
}

void
data_emit(struct data_worker *dw, int topic, json_t *payload)
{
	lc_txn_emit(&dw->txn, NULL, topic, payload);
}
