/*
 * catalog.c -- collections and their columns: the per-worker cache and
 * the catalog changes of the write path (create a collection, add
 * columns, keep the FTS index over the text columns).
 *
 * Cache validity (data.h): every transaction starts with
 * data_catalog_sync, which reads catalog_gen in the transaction's own
 * snapshot and drops the cache when it moved. Every change below bumps
 * catalog_gen inside its transaction and marks the cache dirty, so a
 * rollback flushes it (db.c) and a commit makes every worker, this one
 * included, reload on its next transaction.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"

#define CACHE_MAX 64 // collections per worker; full: start over

static void
coll_clear(struct data_coll *c)
{
	for (size_t i = 0; i < c->ncols; i++) {
		lc_free((char *) (uintptr_t) c->cols[i].name);
	}
	lc_free(c->cols);
	c->cols  = NULL;
	c->ncols = 0;
}

void
data_catalog_flush(struct data_worker *dw)
{
	for (size_t i = 0; i < dw->ncolls; i++) {
		coll_clear(dw->colls[i]);
		lc_free(dw->colls[i]);
	}
	dw->ncolls = 0;
	dw->gen    = -1;
}

static int
sql_fail(struct data_worker *dw, const char *what)
{
	lc_log_err("DATA-SQL", "%s: %s", what, sqlite3_errmsg(data_conn(dw)));
	return (LC_EINTERNAL);
}

int
data_catalog_sync(struct data_worker *dw)
{
	sqlite3_stmt *st =
	    data_stmt(dw, "SELECT gen FROM catalog_gen WHERE id = 1");
	int64_t gen;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		lc_db_done(st);
		return (sql_fail(dw, "catalog_gen"));
	}
	gen = sqlite3_column_int64(st, 0);
	lc_db_done(st);
	if (gen != dw->gen) {
		data_catalog_flush(dw);
		dw->gen = gen;
	}
	return (0);
}

static int
bump(struct data_worker *dw)
{
	sqlite3_stmt *st =
	    data_stmt(dw, "UPDATE catalog_gen SET gen = gen + 1 WHERE id = 1");
	int sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	sr = sqlite3_step(st);
	lc_db_done(st);
	dw->cat_dirty = 1;
	return (sr == SQLITE_DONE ? 0 : sql_fail(dw, "catalog bump"));
}

// (Re)reads the columns of c->id into c, in creation order; sets fts.
static int
cols_load(struct data_worker *dw, struct data_coll *c)
{
	sqlite3_stmt *st  = data_stmt(dw,
	     "SELECT name, type FROM columns WHERE coll_id = ?1 ORDER BY pos");
	size_t        cap = 8;
	int           sr;
	int           text = 0;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	coll_clear(c);
	c->cols = lc_calloc(cap, sizeof(*c->cols));
	(void) sqlite3_bind_int64(st, 1, c->id);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (c->ncols == cap) {
			cap *= 2;
			c->cols = lc_realloc(c->cols, cap * sizeof(*c->cols));
		}
		c->cols[c->ncols].name =
		    lc_strdup((const char *) sqlite3_column_text(st, 0));
		c->cols[c->ncols].type =
		    data_type_parse((const char *) sqlite3_column_text(st, 1));
		text |= c->cols[c->ncols].type == DATA_T_TEXT;
		c->ncols++;
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		return (sql_fail(dw, "columns"));
	}
	snprintf(c->table, sizeof(c->table), "r%lld", (long long) c->id);
	if (text) {
		snprintf(c->fts, sizeof(c->fts), "f%lld", (long long) c->id);
	} else {
		c->fts[0] = '\0';
	}
	c->schema.table = c->table;
	c->schema.fts   = text ? c->fts : NULL;
	c->schema.cols  = c->cols;
	c->schema.ncols = c->ncols;
	return (0);
}

static struct data_coll *
cache_add(struct data_worker *dw)
{
	struct data_coll *c;

	if (dw->ncolls == CACHE_MAX) {
		int64_t gen = dw->gen;

		data_catalog_flush(dw);
		dw->gen = gen;
	}
	if (dw->colls == NULL) {
		dw->colls = lc_calloc(CACHE_MAX, sizeof(*dw->colls));
	}
	c                       = lc_calloc(1, sizeof(*c));
	dw->colls[dw->ncolls++] = c;
	return (c);
}

static void
cache_drop_last(struct data_worker *dw)
{
	struct data_coll *c = dw->colls[--dw->ncolls];

	coll_clear(c);
	lc_free(c);
}

int
data_catalog_find(struct data_worker *dw, const char *name, size_t len,
    struct data_coll **out)
{
	sqlite3_stmt     *st;
	struct data_coll *c;
	const char       *bad;
	json_t           *rules;
	int               sr;
	int               rv;

	if (len > DATA_NAME_MAX) {
		return (LC_ECOLLECTION_NOT_FOUND);
	}
	for (size_t i = 0; i < dw->ncolls; i++) {
		c = dw->colls[i];
		if (strlen(c->name) == len &&
		    memcmp(c->name, name, len) == 0) {
			*out = c;
			return (0);
		}
	}
	st = data_stmt(dw,
	    "SELECT id, rules, created_at, updated_at FROM collections"
	    " WHERE name = ?1");
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_text(st, 1, name, (int) len, SQLITE_STATIC);
	if ((sr = sqlite3_step(st)) != SQLITE_ROW) {
		lc_db_done(st);
		return (sr == SQLITE_DONE ? LC_ECOLLECTION_NOT_FOUND
		                          : sql_fail(dw, "collections"));
	}
	c     = cache_add(dw);
	c->id = sqlite3_column_int64(st, 0);
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	rules        = json_loadb((const char *) sqlite3_column_text(st, 1),
	           (size_t) sqlite3_column_bytes(st, 1), 0, NULL);
	data_rules_default(&c->rules);
	if (rules == NULL || data_rules_parse(rules, &c->rules, &bad) != 0) {
		// Stored by us, so this is corruption: fail closed.
		lc_log_err("DATA-CATALOG", "bad rules in collection %lld",
		    (long long) c->id);
		c->rules.read.kind       = c->rules.create.kind =
		    c->rules.update.kind = c->rules.del.kind = DATA_R_DISABLED;
	}
	json_decref(rules);
	c->created_at = sqlite3_column_int64(st, 2);
	c->updated_at = sqlite3_column_int64(st, 3);
	lc_db_done(st);
	if ((rv = cols_load(dw, c)) != 0) {
		cache_drop_last(dw);
		return (rv);
	}
	*out = c;
	return (0);
}

int
data_catalog_exists_ci(struct data_worker *dw, const char *name, size_t len)
{
	sqlite3_stmt *st = data_stmt(
	    dw, "SELECT 1 FROM collections WHERE name_lc = lower(?1)");
	int found;

	if (st == NULL) {
		return (0);
	}
	(void) sqlite3_bind_text(st, 1, name, (int) len, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	lc_db_done(st);
	return (found);
}

// Runs a script of SQL statements built by sqlgen.c.
static int
exec(struct data_worker *dw, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(data_conn(dw), sql, NULL, NULL, &err) != SQLITE_OK) {
		lc_log_err("DATA-SQL", "ddl: %s", err != NULL ? err : "?");
		sqlite3_free(err);
		return (LC_EINTERNAL);
	}
	return (0);
}

int
data_catalog_create(struct data_worker *dw, const char *name, size_t len,
    const struct data_rules *rules, struct data_coll **out)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	json_t         *rj  = data_rules_pack(rules);
	char           *rs  = json_dumps(rj, JSON_COMPACT);
	int64_t         now = lc_now_ms();
	char            table[DATA_TABLE_MAX];
	int             sr;
	int             rv = LC_EINTERNAL;

	json_decref(rj);
	if ((st = data_stmt(dw,
	         "INSERT INTO collections"
	         " (name, name_lc, rules, created_at, updated_at)"
	         " VALUES (?1, lower(?1), ?2, ?3, ?3)")) == NULL) {
		goto out;
	}
	(void) sqlite3_bind_text(st, 1, name, (int) len, SQLITE_STATIC);
	(void) sqlite3_bind_text(st, 2, rs, -1, SQLITE_STATIC);
	(void) sqlite3_bind_int64(st, 3, now);
	sr = sqlite3_step(st);
	lc_db_done(st);
	if ((sr & 0xff) == SQLITE_CONSTRAINT) {
		rv = LC_ECOLLECTION_EXISTS;
		goto out;
	}
	if (sr != SQLITE_DONE) {
		rv = sql_fail(dw, "create collection");
		goto out;
	}
	snprintf(table, sizeof(table), "r%lld",
	    (long long) sqlite3_last_insert_rowid(data_conn(dw)));
	data_sql_create_table(&sql, table);
	if ((rv = exec(dw, sql.p)) != 0 || (rv = bump(dw)) != 0 ||
	    (rv = data_catalog_find(dw, name, len, out)) != 0) {
		goto out;
	}
out:
	data_sql_fini(&sql);
	free(rs);
	return (rv);
}

int
data_catalog_add_columns(
    struct data_worker *dw, struct data_coll *c, const struct data_plan *p)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	int             text = 0;
	int             sr;
	int             rv = 0;

	if (p->nnew == 0) {
		return (0);
	}
	for (size_t i = 0; i < p->nkeys && rv == 0; i++) {
		const struct data_key *k = &p->keys[i];
		char                   name[DATA_NAME_MAX + 1];

		if (!k->is_new) {
			continue;
		}
		memcpy(name, k->name, k->len);
		name[k->len] = '\0';
		text |= k->type == DATA_T_TEXT;
		sql.len = 0;
		data_sql_add_column(&sql, c->table, name, k->type);
		if ((rv = exec(dw, sql.p)) != 0) {
			break;
		}
		if ((st = data_stmt(dw,
		         "INSERT INTO columns"
		         " (coll_id, name, name_lc, type, pos)"
		         " VALUES (?1, ?2, lower(?2), ?3, (SELECT"
		         " coalesce(max(pos), 0) + 1 FROM columns"
		         " WHERE coll_id = ?1))")) == NULL) {
			rv = LC_EINTERNAL;
			break;
		}
		(void) sqlite3_bind_int64(st, 1, c->id);
		(void) sqlite3_bind_text(
		    st, 2, k->name, (int) k->len, SQLITE_STATIC);
		(void) sqlite3_bind_text(
		    st, 3, data_type_name(k->type), -1, SQLITE_STATIC);
		sr = sqlite3_step(st);
		lc_db_done(st);
		if (sr != SQLITE_DONE) {
			rv = sql_fail(dw, "add column");
		}
	}
	if (rv == 0) {
		rv = bump(dw);
	}
	if (rv == 0) {
		rv = cols_load(dw, c);
	}
	if (rv == 0 && text) {
		// A new text column joins the index: rebuild it now, in
		// this transaction.
		sql.len = 0;
		data_sql_fts(&sql, c);
		rv = exec(dw, sql.p);
	}
	data_sql_fini(&sql);
	dw->cat_dirty = 1;
	return (rv);
}
