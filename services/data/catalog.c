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
		lc_free((char *) (uintptr_t) c->cols[i].index);
		lc_free((char *) (uintptr_t) c->cols[i].index_then);
	}
	c->id_index[0] = '\0';
	lc_free(c->cols);
	lc_free(c->pos);
	c->cols  = NULL;
	c->pos   = NULL;
	c->ncols = 0;
}

// Releases a cache entry.
static void
coll_free(struct data_coll *c)
{
	coll_clear(c);
	data_fieldrules_free(c->vrules);
	lc_free(c);
}

void
data_catalog_flush(struct data_worker *dw)
{
	for (size_t i = 0; i < dw->ncolls; i++) {
		coll_free(dw->colls[i]);
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

int
data_catalog_bump(struct data_worker *dw)
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

// Finds, for _id and each column of c, an index (not partial) that starts
// with it: list.c reads a sorted page from it (its own and unique ones).
// With it, the index's third column when its second is _deleted_at.
static int
lead_indexes_load(struct data_worker *dw, struct data_coll *c)
{
	sqlite3_stmt *st = data_stmt(dw,
	    "SELECT l.name, i.name, (SELECT j.name FROM"
	    " pragma_index_info(l.name) AS j WHERE j.seqno = 2 AND EXISTS"
	    " (SELECT 1 FROM pragma_index_info(l.name) AS k WHERE"
	    " k.seqno = 1 AND k.name = '_deleted_at'))"
	    " FROM pragma_index_list(?1) AS l,"
	    " pragma_index_info(l.name) AS i WHERE i.seqno = 0"
	    " AND l.partial = 0 ORDER BY l.name");
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_text(st, 1, c->table, -1, SQLITE_STATIC);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		const char *idx = (const char *) sqlite3_column_text(st, 0);
		const char *col = (const char *) sqlite3_column_text(st, 1);

		if (idx == NULL || col == NULL) {
			continue;
		}
		if (strcmp(col, "_id") == 0 &&
		    strlen(idx) < sizeof(c->id_index)) {
			snprintf(c->id_index, sizeof(c->id_index), "%s", idx);
			continue;
		}
		for (size_t i = 0; i < c->ncols; i++) {
			const char *then =
			    (const char *) sqlite3_column_text(st, 2);

			if (c->cols[i].index == NULL &&
			    strcmp(c->cols[i].name, col) == 0) {
				c->cols[i].index = lc_strdup(idx);
				c->cols[i].index_then =
				    then != NULL ? lc_strdup(then) : NULL;
			}
		}
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		return (sql_fail(dw, "index list"));
	}
	c->schema.id_index = c->id_index[0] != '\0' ? c->id_index : NULL;
	return (0);
}

// (Re)reads the columns of c->id into c, in creation order; sets fts.
static int
cols_load(struct data_worker *dw, struct data_coll *c)
{
	sqlite3_stmt *st  = data_stmt(dw,
	     "SELECT name, type, pos FROM columns WHERE coll_id = ?1"
	      " ORDER BY pos");
	size_t        cap = 8;
	int           sr;
	int           text = 0;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	coll_clear(c);
	c->cols = lc_calloc(cap, sizeof(*c->cols));
	c->pos  = lc_calloc(cap, sizeof(*c->pos));
	(void) sqlite3_bind_int64(st, 1, c->id);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (c->ncols == cap) {
			cap *= 2;
			c->cols = lc_realloc(c->cols, cap * sizeof(*c->cols));
			c->pos  = lc_realloc(c->pos, cap * sizeof(*c->pos));
		}
		c->pos[c->ncols] = sqlite3_column_int64(st, 2);
		c->cols[c->ncols].name =
		    lc_strdup((const char *) sqlite3_column_text(st, 0));
		c->cols[c->ncols].type =
		    data_type_parse((const char *) sqlite3_column_text(st, 1));
		c->cols[c->ncols].index      = NULL;
		c->cols[c->ncols].index_then = NULL;
		text |= c->cols[c->ncols].type == DATA_T_TEXT;
		c->ncols++;
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		return (sql_fail(dw, "columns"));
	}
	data_sql_table_name(c->table, sizeof(c->table), c->id);
	if (text) {
		snprintf(c->fts, sizeof(c->fts), "f%lld", (long long) c->id);
	} else {
		c->fts[0] = '\0';
	}
	c->schema.table = c->table;
	c->schema.fts   = text ? c->fts : NULL;
	c->schema.cols  = c->cols;
	c->schema.ncols = c->ncols;
	return (lead_indexes_load(dw, c));
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
	coll_free(dw->colls[--dw->ncolls]);
}

// Forgets entry c (freed).
static void
cache_forget(struct data_worker *dw, struct data_coll *c)
{
	for (size_t i = 0; i < dw->ncolls; i++) {
		if (dw->colls[i] == c) {
			dw->colls[i] = dw->colls[dw->ncolls - 1];
			dw->ncolls--;
			coll_free(c);
			return;
		}
	}
}

// Compiles the stored validation rule set (text t) into c->vrules; an
// empty set leaves it NULL. A set that does not compile was stored by us,
// so this is corruption: writes to c fail closed.
static void
vrules_load(struct data_coll *c, const char *t, size_t len)
{
	json_t *j = t != NULL ? json_loadb(t, len, 0, NULL) : NULL;
	json_t *v;
	int     empty;

	data_fieldrules_free(c->vrules);
	c->vrules     = NULL;
	c->vrules_bad = 0;
	v             = json_object_get(j, "fields");
	empty         = json_is_object(v) && json_object_size(v) == 0;
	if (!empty &&
	    (j == NULL ||
	        data_fieldrules_parse(j, NULL, &c->vrules, NULL) != 0)) {
		lc_log_err("DATA-CATALOG",
		    "bad validation rules in"
		    " collection %lld",
		    (long long) c->id);
		c->vrules     = NULL;
		c->vrules_bad = 1;
	}
	json_decref(j);
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
	    "SELECT id, rules, created_at, updated_at, validation"
	    " FROM collections WHERE name = ?1");
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
	vrules_load(c, (const char *) sqlite3_column_text(st, 4),
	    (size_t) sqlite3_column_bytes(st, 4));
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

int
data_catalog_exec(struct data_worker *dw, const char *sql)
{
	char *err = NULL;
	int   sr;

	if ((sr = sqlite3_exec(data_conn(dw), sql, NULL, NULL, &err)) !=
	    SQLITE_OK) {
		if ((sr & 0xff) == SQLITE_CONSTRAINT) {
			sqlite3_free(err);
			return (LC_EUNIQUE_VIOLATION);
		}
		lc_log_err("DATA-SQL", "ddl: %s", err != NULL ? err : "?");
		sqlite3_free(err);
		return (LC_EINTERNAL);
	}
	// Any DDL moves the generation: the cache holds index names too.
	return (data_catalog_bump(dw));
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
	data_sql_table_name(
	    table, sizeof(table), sqlite3_last_insert_rowid(data_conn(dw)));
	data_sql_create_table(&sql, table);
	if ((rv = data_catalog_exec(dw, sql.p)) != 0 ||
	    (rv = data_catalog_bump(dw)) != 0 ||
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
		if ((rv = data_catalog_exec(dw, sql.p)) != 0) {
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
		rv = data_catalog_bump(dw);
	}
	if (rv == 0) {
		rv = cols_load(dw, c);
	}
	if (rv == 0 && text) {
		// A new text column joins the index: rebuild it now, in
		// this transaction.
		sql.len = 0;
		data_sql_fts(&sql, c);
		rv = data_catalog_exec(dw, sql.p);
	}
	if (rv == 0 && text) {
		rv = data_catalog_ref_indexes(dw, c); // a relation's field
	}
	data_sql_fini(&sql);
	dw->cat_dirty = 1;
	return (rv);
}

/* ---- admin changes (§5.1) ---- */

int
data_coll_col(const struct data_coll *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->ncols; i++) {
		if (strlen(c->cols[i].name) == len &&
		    memcmp(c->cols[i].name, name, len) == 0) {
			return ((int) i);
		}
	}
	return (-1);
}

// Runs sql (static text) with ?1 = id and ?2 = text t (may be NULL), ?3 =
// n: one step.
static int
run(struct data_worker *dw, const char *sql, int64_t id, const char *t,
    int64_t n)
{
	sqlite3_stmt *st = data_stmt(dw, sql);
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, id);
	if (t != NULL) {
		(void) sqlite3_bind_text(st, 2, t, -1, SQLITE_STATIC);
	}
	(void) sqlite3_bind_int64(st, 3, n);
	sr = sqlite3_step(st);
	lc_db_done(st);
	return (sr == SQLITE_DONE ? 0 : sql_fail(dw, "catalog change"));
}

int
data_catalog_set_rules(struct data_worker *dw, struct data_coll *c,
    const struct data_rules *rules)
{
	json_t *rj  = data_rules_pack(rules);
	char   *rs  = json_dumps(rj, JSON_COMPACT);
	int64_t now = lc_now_ms();
	int     rv;

	json_decref(rj);
	rv = rs == NULL ? LC_EINTERNAL
	                : run(dw,
	                      "UPDATE collections SET rules = ?2,"
	                      " updated_at = ?3 WHERE id = ?1",
	                      c->id, rs, now);
	free(rs);
	if (rv == 0 && (rv = data_catalog_bump(dw)) == 0) {
		c->rules      = *rules;
		c->updated_at = now;
	}
	return (rv);
}

int
data_catalog_drop(struct data_worker *dw, struct data_coll *c)
{
	struct data_sql sql = { 0 };
	int             rv;

	data_sql_fts_drop(&sql, c);
	data_sql_add(&sql, "DROP TABLE IF EXISTS ");
	data_sql_ident(&sql, c->table, strlen(c->table));
	dw->cat_dirty = 1;
	if ((rv = data_catalog_exec(dw, sql.p)) == 0 &&
	    (rv = run(dw, "DELETE FROM collections WHERE id = ?1", c->id, NULL,
	         0)) == 0) {
		rv = data_catalog_bump(dw);
	}
	data_sql_fini(&sql);
	if (rv == 0) {
		cache_forget(dw, c);
	}
	return (rv);
}

// Stores validation set j (text) for c and compiles it into c->vrules.
static int
vrules_store(struct data_worker *dw, struct data_coll *c, const json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT);
	int   rv;

	if (t == NULL) {
		return (LC_EINTERNAL);
	}
	rv = run(dw,
	    "UPDATE collections SET validation = ?2, updated_at = ?3"
	    " WHERE id = ?1",
	    c->id, t, lc_now_ms());
	free(t);
	return (rv);
}

int
data_catalog_drop_column(struct data_worker *dw, struct data_coll *c, size_t i)
{
	struct data_sql sql = { 0 };
	char            name[DATA_NAME_MAX + 1];
	char            idx[48];
	int             text = c->cols[i].type == DATA_T_TEXT;
	json_t         *v    = NULL;
	int             rv;

	snprintf(name, sizeof(name), "%s", c->cols[i].name);
	dw->cat_dirty = 1;
	// Indexes and triggers naming the column go first: SQLite refuses
	// to drop an indexed column or one a trigger uses.
	data_sql_index_name(idx, sizeof(idx), 'i', c->id, c->pos[i]);
	data_sql_drop_index(&sql, idx);
	data_sql_add(&sql, ";");
	data_sql_index_name(idx, sizeof(idx), 'v', c->id, c->pos[i]);
	data_sql_drop_index(&sql, idx);
	data_sql_add(&sql, ";");
	data_sql_index_name(idx, sizeof(idx), 'x', c->id, c->pos[i]);
	data_sql_drop_index(&sql, idx);
	data_sql_add(&sql, ";");
	if (text) {
		data_sql_fts_drop(&sql, c);
	}
	data_sql_add(&sql, "ALTER TABLE ");
	data_sql_ident(&sql, c->table, strlen(c->table));
	data_sql_add(&sql, " DROP COLUMN ");
	data_sql_ident(&sql, name, strlen(name));
	// The other admin indexes may carry the column too: reshaped first.
	if ((rv = run(dw,
	         "DELETE FROM indexes WHERE coll_id = ?1 AND col_name = ?2",
	         c->id, name, 0)) != 0 ||
	    (rv = data_index_reshape(data_conn(dw), c->id)) != 0 ||
	    (rv = data_catalog_exec(dw, sql.p)) != 0 ||
	    (rv = run(dw,
	         "DELETE FROM columns WHERE coll_id = ?1 AND name = ?2", c->id,
	         name, 0)) != 0 ||
	    (rv = run(dw,
	         "DELETE FROM relations WHERE from_coll = ?1"
	         " AND from_field = ?2",
	         c->id, name, 0)) != 0) {
		goto out;
	}
	if (c->vrules != NULL &&
	    data_fieldrules_find(c->vrules, name, strlen(name)) != NULL) {
		v = json_deep_copy(data_fieldrules_json(c->vrules));
		json_object_del(json_object_get(v, "fields"), name);
		if ((rv = vrules_store(dw, c, v)) != 0) {
			goto out;
		}
		data_fieldrules_free(c->vrules);
		c->vrules = NULL;
		if (json_object_size(json_object_get(v, "fields")) != 0 &&
		    data_fieldrules_parse(v, NULL, &c->vrules, NULL) != 0) {
			rv = LC_EINTERNAL;
			goto out;
		}
	}
	if ((rv = data_catalog_bump(dw)) != 0 ||
	    (rv = cols_load(dw, c)) != 0) {
		goto out;
	}
	if (text && c->fts[0] != '\0') {
		sql.len = 0;
		data_sql_fts(&sql, c);
		rv = data_catalog_exec(dw, sql.p);
	}
out:
	json_decref(v);
	data_sql_fini(&sql);
	return (rv);
}

static int
rule_unique(const struct data_fieldrules *fr, const char *name)
{
	const struct data_fieldrule *r =
	    fr != NULL ? data_fieldrules_find(fr, name, strlen(name)) : NULL;

	return (r != NULL && (r->has & DATA_FR_UNIQUE) != 0);
}

int
data_catalog_set_validation(struct data_worker *dw, struct data_coll *c,
    struct data_fieldrules **fr, const char **field)
{
	struct data_fieldrules *n   = *fr;
	struct data_plan        p   = { 0 };
	struct data_sql         sql = { 0 };
	char                    idx[48];
	int                     rv = 0;

	*field        = NULL;
	dw->cat_dirty = 1;
	// Unique rules on fields without a column create it (§3.9).
	p.keys = lc_calloc(n->n + 1, sizeof(*p.keys));
	for (size_t i = 0; i < n->n; i++) {
		const struct data_fieldrule *r   = &n->rules[i];
		size_t                       len = strlen(r->name);

		if ((r->has & DATA_FR_UNIQUE) == 0 ||
		    data_coll_col(c, r->name, len) >= 0) {
			continue;
		}
		p.keys[p.nkeys].name   = r->name;
		p.keys[p.nkeys].len    = len;
		p.keys[p.nkeys].type   = data_fieldrule_col_type(r);
		p.keys[p.nkeys].is_new = 1;
		p.nkeys++;
		p.nnew++;
	}
	if (c->ncols + p.nnew > DATA_MAX_COLS) {
		rv = LC_ETOO_MANY_FIELDS;
		goto out;
	}
	if ((rv = data_catalog_add_columns(dw, c, &p)) != 0) {
		goto out;
	}
	for (size_t i = 0; i < c->ncols && rv == 0; i++) {
		int now = rule_unique(n, c->cols[i].name);
		int was =
		    c->vrules_bad || rule_unique(c->vrules, c->cols[i].name);

		if (!now && !was) {
			continue;
		}
		data_sql_index_name(idx, sizeof(idx), 'v', c->id, c->pos[i]);
		sql.len = 0;
		if (now) {
			data_sql_create_index(
			    &sql, c, idx, c->cols[i].name, 1, NULL, 0);
		} else {
			data_sql_drop_index(&sql, idx);
		}
		if ((rv = data_catalog_exec(dw, sql.p)) ==
		    LC_EUNIQUE_VIOLATION) {
			const struct data_fieldrule *r = data_fieldrules_find(
			    n, c->cols[i].name, strlen(c->cols[i].name));

			*field = r != NULL ? r->name : NULL;
		}
	}
	if (rv != 0 ||
	    (rv = vrules_store(dw, c, data_fieldrules_json(n))) != 0 ||
	    (rv = data_catalog_bump(dw)) != 0) {
		goto out;
	}
	data_fieldrules_free(c->vrules);
	c->vrules     = n->n != 0 ? n : NULL;
	c->vrules_bad = 0;
	if (n->n == 0) {
		data_fieldrules_free(n);
	}
	*fr = NULL;
out:
	lc_free(p.keys);
	data_sql_fini(&sql);
	return (rv);
}

/* ---- relation indexes ---- */

int
data_catalog_ref_indexes(struct data_worker *dw, struct data_coll *c)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st  = data_stmt(
	       dw, "SELECT from_field FROM relations WHERE from_coll = ?1");
	char idx[48];
	int  sr;
	int  rv = 0;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, c->id);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		const char *f = (const char *) sqlite3_column_text(st, 0);

		for (size_t i = 0; f != NULL && i < c->ncols; i++) {
			// text only: an array of ids (json) is matched with
			// json_each, which no index serves
			if (c->cols[i].type == DATA_T_TEXT &&
			    strcmp(c->cols[i].name, f) == 0) {
				data_sql_index_name(
				    idx, sizeof(idx), 'x', c->id, c->pos[i]);
				data_sql_create_index(
				    &sql, c, idx, c->cols[i].name, 0, NULL, 0);
				data_sql_add(&sql, ";");
			}
		}
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		rv = sql_fail(dw, "relation fields");
	} else if (sql.p != NULL) {
		rv = data_catalog_exec(dw, sql.p);
	}
	data_sql_fini(&sql);
	return (rv);
}

int
data_catalog_ref_index_drop(
    struct data_worker *dw, int64_t coll_id, const char *field)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st  = data_stmt(
	       dw, "SELECT pos FROM columns WHERE coll_id = ?1 AND name = ?2");
	char idx[48];
	int  rv = 0;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, coll_id);
	(void) sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		data_sql_index_name(idx, sizeof(idx), 'x', coll_id,
		    sqlite3_column_int64(st, 0));
		data_sql_drop_index(&sql, idx);
	}
	lc_db_done(st);
	if (sql.p != NULL) {
		rv = data_catalog_exec(dw, sql.p);
	}
	data_sql_fini(&sql);
	return (rv);
}

/* ---- upgrade ---- */

// Gives collection id (with text columns) its FTS stage and triggers.
static int
fts_stage_one(sqlite3 *db, int64_t id)
{
	struct data_coll c   = { 0 };
	struct data_sql  sql = { 0 };
	sqlite3_stmt    *st;
	size_t           cap = 0;
	int              rv;

	if ((rv = lc_db_prepare(db,
	         "SELECT name, type FROM columns WHERE coll_id = ?1"
	         " ORDER BY pos",
	         &st)) != 0) {
		return (rv);
	}
	(void) sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (c.ncols == cap) {
			cap    = cap ? cap * 2 : 8;
			c.cols = lc_realloc(c.cols, cap * sizeof(*c.cols));
		}
		c.cols[c.ncols].name =
		    lc_strdup((const char *) sqlite3_column_text(st, 0));
		c.cols[c.ncols].type =
		    data_type_parse((const char *) sqlite3_column_text(st, 1));
		c.cols[c.ncols].index      = NULL;
		c.cols[c.ncols].index_then = NULL;
		c.ncols++;
	}
	sqlite3_finalize(st);
	c.id = id;
	data_sql_table_name(c.table, sizeof(c.table), id);
	snprintf(c.fts, sizeof(c.fts), "f%lld", (long long) id);
	data_sql_fts_stage(&sql, &c);
	rv = lc_db_exec(db, sql.p);
	data_sql_fini(&sql);
	coll_clear(&c);
	return (rv);
}

int
data_ddl_run(sqlite3 *db, struct data_sql *sql)
{
	int rv = sql->p != NULL ? lc_db_exec(db, sql->p) : 0;

	data_sql_fini(sql);
	return (rv);
}

// Every record table gets its deleted-rows index (IF NOT EXISTS).
static int
deleted_indexes(sqlite3 *db)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	char            table[DATA_TABLE_MAX];
	int             rv;

	if ((rv = lc_db_prepare(db, "SELECT id FROM collections", &st)) != 0) {
		return (rv);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		data_sql_table_name(
		    table, sizeof(table), sqlite3_column_int64(st, 0));
		data_sql_deleted_index(&sql, table);
	}
	sqlite3_finalize(st);
	return (data_ddl_run(db, &sql));
}

// Every relation's text from_field gets its index (IF NOT EXISTS; see
// data_catalog_ref_indexes).
static int
ref_indexes_all(sqlite3 *db)
{
	struct data_sql  sql = { 0 };
	struct data_coll c   = { 0 };
	sqlite3_stmt    *st;
	char             idx[48];
	int              rv;

	if ((rv = lc_db_prepare(db,
	         "SELECT r.from_coll, c.pos, c.name FROM relations AS r"
	         " JOIN columns AS c ON c.coll_id = r.from_coll"
	         " AND c.name = r.from_field AND c.type = 'text'",
	         &st)) != 0) {
		return (rv);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		c.id = sqlite3_column_int64(st, 0);
		data_sql_table_name(c.table, sizeof(c.table), c.id);
		data_sql_index_name(
		    idx, sizeof(idx), 'x', c.id, sqlite3_column_int64(st, 1));
		data_sql_create_index(&sql, &c, idx,
		    (const char *) sqlite3_column_text(st, 2), 0, NULL, 0);
		data_sql_add(&sql, ";");
	}
	sqlite3_finalize(st);
	return (data_ddl_run(db, &sql));
}

// Runs fn(db, id) for every id sql returns; *n (may be NULL) gets their
// number. The ids are read first: SQLite refuses DDL while a statement of
// the connection is still reading.
static int
each_id(
    sqlite3 *db, const char *sql, int (*fn)(sqlite3 *, int64_t), size_t *count)
{
	sqlite3_stmt *st;
	int64_t      *ids = NULL;
	size_t        n   = 0;
	int           rv;

	if ((rv = lc_db_prepare(db, sql, &st)) != 0) {
		return (rv);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		ids      = lc_realloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < n && rv == 0; i++) {
		rv = fn(db, ids[i]);
	}
	lc_free(ids);
	if (count != NULL) {
		*count = n;
	}
	return (rv);
}

int
data_catalog_upgrade(sqlite3 *db)
{
	size_t n = 0;
	int    rv;

	if ((rv = lc_db_exec(db, "BEGIN IMMEDIATE")) != 0) {
		return (rv);
	}
	rv = each_id(db,
	    "SELECT c.id FROM collections AS c WHERE EXISTS"
	    " (SELECT 1 FROM columns WHERE coll_id = c.id"
	    " AND type = 'text') AND NOT EXISTS (SELECT 1 FROM"
	    " sqlite_schema WHERE name = 's' || c.id)",
	    fts_stage_one, &n);
	if (rv == 0) {
		rv = deleted_indexes(db);
	}
	if (rv == 0) {
		rv = ref_indexes_all(db);
	}
	if (rv == 0) {
		// every collection's admin indexes get their shape (a no-op
		// for those that have it)
		rv = each_id(db,
		    "SELECT DISTINCT coll_id FROM indexes WHERE is_unique = 0",
		    data_index_reshape, NULL);
	}
	if (rv != 0) {
		if (lc_db_exec(db, "ROLLBACK") != 0) {
			lc_log_err("DATA-FTS-STAGE", "rollback failed");
		}
		return (rv);
	}
	if (n > 0) {
		lc_log_info("DATA-FTS-STAGE", "upgraded %zu collections", n);
	}
	return (lc_db_exec(db, "COMMIT"));
}
