/*
 * relations.c -- relations (API.md §3.10, §5.6) and `expand` (§3.7): the
 * three admin handlers, the reference check of the write path, the
 * on_delete actions (restrict, cascade, set_null on soft and hard delete)
 * and expansion of read results. See relations.h for the interface, where
 * each piece is called from and the decisions on open points.
 *
 * SQL: record tables are named from the integer collection id ("r<N>"),
 * field names come from the relations/columns tables (checked with
 * data_name_valid when a relation is created) and are always quoted with
 * data_sql_ident; every value is bound.
 */
#include "relations.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"
#include "lc_msg.h"

#define PAGE_MAX 1000000000LL // keeps (page - 1) * limit far from overflow

enum od { OD_CASCADE = 0, OD_SET_NULL, OD_RESTRICT };

static const char *const od_names[] = { "cascade", "set_null", "restrict" };

static int
sql_fail(struct data_worker *dw, const char *what)
{
	lc_log_err("DATA-REL", "%s: %s", what, sqlite3_errmsg(data_conn(dw)));
	return (LC_EINTERNAL);
}

static const char *
ctext(sqlite3_stmt *st, int i)
{
	const char *s = (const char *) sqlite3_column_text(st, i);

	return (s != NULL ? s : "");
}

static void
table_of(int64_t coll_id, char out[DATA_TABLE_MAX])
{
	data_sql_table_name(out, DATA_TABLE_MAX, coll_id);
}

/* ---- collections read from the catalog tables ("shadows") ---- */

// Frees what shadow_load put into c.
static void
shadow_fini(struct data_coll *c)
{
	for (size_t i = 0; i < c->ncols; i++) {
		lc_free((char *) (uintptr_t) c->cols[i].name);
	}
	lc_free(c->cols);
	memset(c, 0, sizeof(*c));
}

// Reads collection id (name, rules, columns) from this transaction's
// catalog tables into c, without touching the worker's catalog cache.
// LC_ECOLLECTION_NOT_FOUND or LC_EINTERNAL.
static int
shadow_load(struct data_worker *dw, int64_t id, struct data_coll *c)
{
	sqlite3_stmt *st;
	json_t       *rules;
	const char   *bad;
	size_t        cap = 8;
	int           sr;

	memset(c, 0, sizeof(*c));
	st =
	    data_stmt(dw, "SELECT name, rules FROM collections WHERE id = ?1");
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, id);
	if ((sr = sqlite3_step(st)) != SQLITE_ROW) {
		lc_db_done(st);
		return (sr == SQLITE_DONE ? LC_ECOLLECTION_NOT_FOUND
		                          : sql_fail(dw, "collection"));
	}
	c->id = id;
	snprintf(c->name, sizeof(c->name), "%s", ctext(st, 0));
	data_rules_default(&c->rules);
	rules = json_loadb((const char *) sqlite3_column_text(st, 1),
	    (size_t) sqlite3_column_bytes(st, 1), 0, NULL);
	if (rules == NULL || data_rules_parse(rules, &c->rules, &bad) != 0) {
		// Stored by us: corruption, so fail closed.
		c->rules.read.kind       = c->rules.create.kind =
		    c->rules.update.kind = c->rules.del.kind = DATA_R_DISABLED;
	}
	json_decref(rules);
	lc_db_done(st);
	st = data_stmt(dw,
	    "SELECT name, type FROM columns WHERE coll_id = ?1 ORDER BY pos");
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	c->cols = lc_calloc(cap, sizeof(*c->cols));
	(void) sqlite3_bind_int64(st, 1, id);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (c->ncols == cap) {
			cap *= 2;
			c->cols = lc_realloc(c->cols, cap * sizeof(*c->cols));
		}
		c->cols[c->ncols].name = lc_strdup(ctext(st, 0));
		c->cols[c->ncols].type = data_type_parse(ctext(st, 1));
		c->ncols++;
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		shadow_fini(c);
		return (sql_fail(dw, "columns"));
	}
	table_of(id, c->table);
	c->schema.table = c->table;
	c->schema.cols  = c->cols;
	c->schema.ncols = c->ncols;
	return (0);
}

static enum data_type
shadow_type(const struct data_coll *c, const char *field)
{
	for (size_t i = 0; i < c->ncols; i++) {
		if (strcmp(c->cols[i].name, field) == 0) {
			return (c->cols[i].type);
		}
	}
	return (DATA_T_NONE);
}

/* ---- Relation objects ---- */

#define REL_SELECT                                                  \
	"SELECT r.id, fc.name, r.from_field, tc.name, r.on_delete," \
	" r.created_at FROM relations r"                            \
	" JOIN collections fc ON fc.id = r.from_coll"               \
	" JOIN collections tc ON tc.id = r.to_coll"

static json_t *
rel_json(sqlite3_stmt *st)
{
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", ctext(st, 0),
	    "from_collection", ctext(st, 1), "from_field", ctext(st, 2),
	    "to_collection", ctext(st, 3), "on_delete", ctext(st, 4),
	    "created_at", (json_int_t) sqlite3_column_int64(st, 5)));
}

// Appends the Relation rows of st (bound) to arr.
static int
rel_rows(struct data_worker *dw, sqlite3_stmt *st, json_t *arr)
{
	int sr;

	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(arr, rel_json(st));
	}
	lc_db_done(st);
	return (sr == SQLITE_DONE ? 0 : sql_fail(dw, "relations"));
}

int
data_rel_json(struct data_worker *dw, int64_t coll_id, json_t **out)
{
	sqlite3_stmt *st = data_stmt(dw,
	    REL_SELECT " WHERE r.from_coll = ?1 OR r.to_coll = ?1"
	               " ORDER BY r.id DESC");
	json_t       *arr;
	int           rv;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, coll_id);
	arr = json_array();
	if ((rv = rel_rows(dw, st, arr)) != 0) {
		json_decref(arr);
		return (rv);
	}
	*out = arr;
	return (0);
}

int
data_rel_drop_field(struct data_worker *dw, int64_t coll_id, const char *field)
{
	sqlite3_stmt *st = data_stmt(dw,
	    "DELETE FROM relations WHERE from_coll = ?1 AND from_field = ?2");
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, coll_id);
	(void) sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
	sr = sqlite3_step(st);
	lc_db_done(st);
	return (sr == SQLITE_DONE ? 0 : sql_fail(dw, "drop relation"));
}

/* ---- handlers ---- */

// A positive integer query parameter (§1.7, §1.13): absent keeps *out;
// 0, a sign or anything but digits -> LC_EINVALID_QUERY; above max is
// clamped.
static int
posint(const json_t *v, int64_t max, int64_t *out)
{
	const char *s;
	size_t      len;
	int64_t     n = 0;

	if (v == NULL || json_is_null(v)) {
		return (0);
	}
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v) && (len = json_string_length(v)) > 0) {
		s = json_string_value(v);
		for (size_t i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9') {
				return (LC_EINVALID_QUERY);
			}
			n = n > max ? n : n * 10 + (s[i] - '0');
		}
	} else {
		return (LC_EINVALID_QUERY);
	}
	if (n < 1) {
		return (LC_EINVALID_QUERY);
	}
	*out = n > max ? max : n;
	return (0);
}

int
data_h_relations_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw    = data_worker(w);
	const json_t       *cv    = json_object_get(rq->query, "collection");
	const char         *coll  = NULL;
	int64_t             limit = DATA_LIMIT_DEFAULT;
	int64_t             page  = 1;
	int64_t             total = 0;
	sqlite3_stmt       *st;
	json_t             *items = NULL;
	int                 rv;

	if (posint(json_object_get(rq->query, "limit"), DATA_LIMIT_MAX,
	        &limit) != 0) {
		return (data_fail(rp, LC_EINVALID_QUERY,
		    "limit must be an integer of at least 1.", "limit"));
	}
	if (posint(json_object_get(rq->query, "page"), PAGE_MAX, &page) != 0) {
		return (data_fail(rp, LC_EINVALID_QUERY,
		    "page must be an integer of at least 1.", "page"));
	}
	if (json_is_string(cv) && json_string_length(cv) > 0) {
		coll = json_string_value(cv);
	}
	if ((rv = data_begin_read(dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	st = data_stmt(dw,
	    "SELECT count(*) FROM relations r"
	    " JOIN collections fc ON fc.id = r.from_coll"
	    " JOIN collections tc ON tc.id = r.to_coll"
	    " WHERE ?1 IS NULL OR fc.name = ?1 OR tc.name = ?1");
	if (st == NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	if (coll != NULL) {
		(void) sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		total = sqlite3_column_int64(st, 0);
	} else {
		rv = sql_fail(dw, "count relations");
	}
	lc_db_done(st);
	if (rv != 0) {
		goto out;
	}
	st = data_stmt(dw,
	    REL_SELECT " WHERE ?1 IS NULL OR fc.name = ?1 OR tc.name = ?1"
	               " ORDER BY r.id DESC LIMIT ?2 OFFSET ?3");
	if (st == NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	if (coll != NULL) {
		(void) sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
	}
	(void) sqlite3_bind_int64(st, 2, limit);
	(void) sqlite3_bind_int64(st, 3, (page - 1) * limit);
	items = json_array();
	if ((rv = rel_rows(dw, st, items)) != 0) {
		goto out;
	}
	lc_rep_json(rp, 200,
	    json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total",
	        (json_int_t) total, "page", (json_int_t) page, "limit",
	        (json_int_t) limit));
	items = NULL;
out:
	json_decref(items);
	data_end(dw);
	return (rv != 0 ? data_fail(rp, rv, NULL, NULL) : 0);
}

// A required non-empty string of the create body.
static int
body_str(const json_t *body, const char *key, const char **s, size_t *len)
{
	const json_t *v = json_object_get(body, key);

	if (!json_is_string(v) || json_string_length(v) == 0) {
		return (LC_EVALIDATION);
	}
	*s   = json_string_value(v);
	*len = json_string_length(v);
	return (0);
}

// The id of the collection named exactly s (copied at once: a later
// catalog lookup may drop the cache entry).
static int
coll_id_of(struct data_worker *dw, const char *s, size_t len, int64_t *id,
    struct data_schema *schema_out)
{
	struct data_coll *c;
	int               rv;

	if (!data_coll_name_valid(s, len)) {
		return (LC_ECOLLECTION_NOT_FOUND);
	}
	if ((rv = data_catalog_find(dw, s, len, &c)) != 0) {
		return (rv);
	}
	*id = c->id;
	if (schema_out != NULL) {
		*schema_out = c->schema;
	}
	return (0);
}

int
data_h_relations_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_schema  fs;
	const json_t       *body;
	const json_t       *odv;
	const char         *from;
	const char         *field;
	const char         *to;
	const char         *bad = NULL;
	size_t              flen;
	size_t              fldlen;
	size_t              tlen;
	int64_t             from_id;
	int64_t             to_id;
	struct data_coll   *fc;
	int64_t             now = lc_now_ms();
	int                 od  = OD_SET_NULL;
	char                id[LC_ULID_LEN + 1];
	sqlite3_stmt       *st;
	json_t             *rel = NULL;
	int                 sr;
	int                 rv;

	body = rq->body;
	if (body != NULL && !json_is_null(body) && !json_is_object(body)) {
		return (data_fail(rp, LC_EINVALID_BODY, NULL, NULL));
	}
	if (body_str(body, "from_collection", &from, &flen) != 0) {
		bad = "from_collection";
	} else if (body_str(body, "from_field", &field, &fldlen) != 0 ||
	    !data_name_valid(field, fldlen)) {
		bad = "from_field";
	} else if (body_str(body, "to_collection", &to, &tlen) != 0) {
		bad = "to_collection";
	} else if ((odv = json_object_get(body, "on_delete")) != NULL &&
	    !json_is_null(odv)) {
		od = -1;
		for (int i = 0; json_is_string(odv) && i < 3; i++) {
			if (strcmp(json_string_value(odv), od_names[i]) == 0) {
				od = i;
			}
		}
		if (od < 0) {
			bad = "on_delete";
		}
	}
	if (bad != NULL) {
		return (data_fail(rp, LC_EVALIDATION, NULL, bad));
	}
	if ((rv = data_begin_write(dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (data_dedupe_find(dw, rq, rp)) {
		data_end(dw);
		return (0);
	}
	if ((rv = coll_id_of(dw, from, flen, &from_id, &fs)) != 0 ||
	    (rv = data_field_name_check(&fs, field, fldlen)) != 0) {
		if (rv == LC_EINVALID_FIELD_NAME) {
			rv  = LC_EVALIDATION;
			bad = "from_field";
		}
		goto out;
	}
	if ((rv = coll_id_of(dw, to, tlen, &to_id, NULL)) != 0) {
		goto out;
	}
	st = data_stmt(dw,
	    "SELECT 1 FROM relations WHERE from_coll = ?1"
	    " AND lower(from_field) = lower(?2)");
	if (st == NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	(void) sqlite3_bind_int64(st, 1, from_id);
	(void) sqlite3_bind_text(st, 2, field, (int) fldlen, SQLITE_STATIC);
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr == SQLITE_ROW) {
		rv = LC_ERELATION_EXISTS;
		goto out;
	}
	if (sr != SQLITE_DONE) {
		rv = sql_fail(dw, "relation exists");
		goto out;
	}
	st = data_stmt(dw,
	    "INSERT INTO relations"
	    " (id, from_coll, from_field, to_coll, on_delete, created_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	if (st == NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	lc_ulid_new(id);
	(void) sqlite3_bind_text(st, 1, id, LC_ULID_LEN, SQLITE_STATIC);
	(void) sqlite3_bind_int64(st, 2, from_id);
	(void) sqlite3_bind_text(st, 3, field, (int) fldlen, SQLITE_STATIC);
	(void) sqlite3_bind_int64(st, 4, to_id);
	(void) sqlite3_bind_text(st, 5, od_names[od], -1, SQLITE_STATIC);
	(void) sqlite3_bind_int64(st, 6, now);
	sr = sqlite3_step(st);
	lc_db_done(st);
	if ((sr & 0xff) == SQLITE_CONSTRAINT) {
		rv = LC_ERELATION_EXISTS;
		goto out;
	}
	if (sr != SQLITE_DONE) {
		rv = sql_fail(dw, "insert relation");
		goto out;
	}
	if ((rv = data_catalog_find(dw, from, flen, &fc)) != 0 ||
	    (rv = data_catalog_ref_indexes(dw, fc)) != 0) {
		goto out;
	}
	rel = json_pack("{s:s, s:s%, s:s%, s:s%, s:s, s:I}", "id", id,
	    "from_collection", from, flen, "from_field", field, fldlen,
	    "to_collection", to, tlen, "on_delete", od_names[od], "created_at",
	    (json_int_t) now);
	if ((rv = data_dedupe_store(dw, rq, 201, rel)) != 0 ||
	    (rv = data_commit(dw)) != 0) {
		goto out;
	}
	lc_rep_json(rp, 201, rel);
	return (0);
out:
	json_decref(rel);
	data_end(dw);
	return (data_fail(rp, rv, NULL, bad));
}

int
data_h_relations_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	sqlite3_stmt       *st;
	const char         *id;
	size_t              len;
	json_t             *ok;
	char                field[DATA_NAME_MAX + 1];
	int                 sr;
	int                 rv;

	(void) data_param(rq, "id", &id, &len);
	if (!lc_ulid_valid(id, len)) {
		return (data_fail(rp, LC_ENOT_FOUND, NULL, NULL));
	}
	if ((rv = data_begin_write(dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (data_dedupe_find(dw, rq, rp)) {
		data_end(dw);
		return (0);
	}
	// its field's index goes with it
	if ((st = data_stmt(dw,
	         "SELECT from_coll, from_field FROM relations WHERE id = "
	         "?1")) != NULL) {
		int64_t from = 0;

		(void) sqlite3_bind_text(st, 1, id, (int) len, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			from = sqlite3_column_int64(st, 0);
			snprintf(field, sizeof(field), "%s",
			    (const char *) sqlite3_column_text(st, 1));
		}
		lc_db_done(st); // before the DROP INDEX: no statement active
		if (from != 0) {
			rv = data_catalog_ref_index_drop(dw, from, field);
		}
	}
	if (rv != 0 ||
	    (st = data_stmt(dw, "DELETE FROM relations WHERE id = ?1")) ==
	        NULL) {
		data_end(dw);
		return (
		    data_fail(rp, rv != 0 ? rv : LC_EINTERNAL, NULL, NULL));
	}
	(void) sqlite3_bind_text(st, 1, id, (int) len, SQLITE_STATIC);
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		rv = sql_fail(dw, "delete relation");
	} else if (sqlite3_changes(data_conn(dw)) == 0) {
		rv = LC_ENOT_FOUND;
	}
	ok = json_pack("{s:b}", "ok", 1);
	if (rv != 0 || (rv = data_dedupe_store(dw, rq, 200, ok)) != 0 ||
	    (rv = data_commit(dw)) != 0) {
		json_decref(ok);
		data_end(dw);
		return (data_fail(rp, rv, NULL, NULL));
	}
	lc_rep_json(rp, 200, ok);
	return (0);
}

/* ---- relations of one collection ---- */

struct rel {
	char    field[DATA_NAME_MAX + 1];
	int64_t coll; // the other end
	int     od;
};

// The relations from (from = 1: ordered by from_field) or to (from = 0:
// ordered by id) collection coll_id, into an lc_alloc'd array.
static int
rels_load(struct data_worker *dw, int64_t coll_id, int from, struct rel **out,
    size_t *n)
{
	sqlite3_stmt *st  = data_stmt(dw,
            from ? "SELECT from_field, to_coll, on_delete FROM relations"
	            " WHERE from_coll = ?1 ORDER BY from_field"
	          : "SELECT from_field, from_coll, on_delete FROM relations"
	            " WHERE to_coll = ?1 ORDER BY id");
	struct rel   *r   = NULL;
	size_t        cap = 0;
	int           sr;

	*out = NULL;
	*n   = 0;
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, coll_id);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		const char *od = ctext(st, 2);

		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			r   = lc_realloc(r, cap * sizeof(*r));
		}
		snprintf(r[*n].field, sizeof(r[*n].field), "%s", ctext(st, 0));
		r[*n].coll = sqlite3_column_int64(st, 1);
		r[*n].od   = strcmp(od, "cascade") == 0 ? OD_CASCADE
		      : strcmp(od, "restrict") == 0     ? OD_RESTRICT
		                                        : OD_SET_NULL;
		(*n)++;
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_free(r);
		*n = 0;
		return (sql_fail(dw, "relations"));
	}
	*out = r;
	return (0);
}

/* ---- the write check ---- */

// 1 if id names a live record of table.
static int
id_live(struct data_worker *dw, const char *table, const char *id, size_t len,
    int *rv)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	int             sr;

	if (!lc_ulid_valid(id, len)) {
		return (0);
	}
	data_sql_add(&sql, "SELECT 1 FROM ");
	data_sql_ident(&sql, table, strlen(table));
	data_sql_add(&sql, " WHERE \"_id\" = ?1 AND \"_deleted_at\" IS NULL");
	st = data_stmt_dyn(dw, sql.p);
	data_sql_fini(&sql);
	if (st == NULL) {
		*rv = LC_EINTERNAL;
		return (0);
	}
	(void) sqlite3_bind_text(st, 1, id, (int) len, SQLITE_STATIC);
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr != SQLITE_ROW && sr != SQLITE_DONE) {
		*rv = sql_fail(dw, "reference");
	}
	return (sr == SQLITE_ROW);
}

// 0 when v is null, an id of a live record of table, or an array of such
// ids and nulls; else LC_EVALIDATION (or LC_EINTERNAL).
static int
check_value(struct data_worker *dw, const char *table, const json_t *v)
{
	const json_t *it;
	size_t        i;
	int           rv = 0;

	if (json_is_null(v)) {
		return (0);
	}
	if (json_is_string(v)) {
		return (id_live(dw, table, json_string_value(v),
		            json_string_length(v), &rv)
		        ? 0
		        : (rv != 0 ? rv : LC_EVALIDATION));
	}
	if (!json_is_array(v)) {
		return (LC_EVALIDATION);
	}
	json_array_foreach(v, i, it)
	{
		if (json_is_null(it)) {
			continue;
		}
		if (!json_is_string(it) ||
		    !id_live(dw, table, json_string_value(it),
		        json_string_length(it), &rv)) {
			return (rv != 0 ? rv : LC_EVALIDATION);
		}
	}
	return (0);
}

int
data_rel_check(struct data_worker *dw, int64_t coll_id, const json_t *values,
    const char **field)
{
	struct rel *r = NULL;
	size_t      n = 0;
	char        table[DATA_TABLE_MAX];
	int         rv;

	*field = NULL;
	if (!json_is_object(values) || json_object_size(values) == 0) {
		return (0);
	}
	if ((rv = rels_load(dw, coll_id, 1, &r, &n)) != 0) {
		return (rv);
	}
	for (size_t i = 0; i < n && rv == 0; i++) {
		const json_t *v = json_object_get(values, r[i].field);

		if (v == NULL) {
			continue;
		}
		table_of(r[i].coll, table);
		if ((rv = check_value(dw, table, v)) == LC_EVALIDATION) {
			// The key as stored in values (borrowed from it).
			*field = json_object_iter_key(json_object_iter_at(
			    (json_t *) (uintptr_t) values, r[i].field));
		}
	}
	lc_free(r);
	return (rv);
}

/* ---- on_delete ---- */

struct item {
	int64_t coll;
	char    id[LC_ULID_LEN + 1];
};

// One referencing record found by refs_find.
struct ref {
	int64_t rowid;
	char    id[LC_ULID_LEN + 1];
	int     live;
};

struct od_state {
	struct data_worker  *dw;
	int                  hard;
	int64_t              now;
	json_t              *seen; // "coll:id" of records this call deletes
	struct item         *q;    // work list (FIFO)
	size_t               nq;
	size_t               head;
	size_t               capq;
	struct data_coll   **sh; // shadows loaded so far (each lc_alloc'd)
	size_t               nsh;
	struct data_rel_hit *hits;
	size_t               nhits;
	size_t               caphits;
};

static void
seen_key(int64_t coll, const char *id, char *buf, size_t cap)
{
	snprintf(buf, cap, "%lld:%s", (long long) coll, id);
}

static int
seen_has(struct od_state *s, int64_t coll, const char *id)
{
	char k[64];

	seen_key(coll, id, k, sizeof(k));
	return (json_object_get(s->seen, k) != NULL);
}

// Marks a record as deleted by this call and queues it.
static void
enqueue(struct od_state *s, int64_t coll, const char *id)
{
	char k[64];

	seen_key(coll, id, k, sizeof(k));
	json_object_set_new(s->seen, k, json_true());
	if (s->nq == s->capq) {
		s->capq = s->capq ? s->capq * 2 : 16;
		s->q    = lc_realloc(s->q, s->capq * sizeof(*s->q));
	}
	s->q[s->nq].coll = coll;
	snprintf(s->q[s->nq].id, sizeof(s->q[s->nq].id), "%s", id);
	s->nq++;
}

// The shadow of collection coll, loaded once per call.
static int
shadow_get(struct od_state *s, int64_t coll, struct data_coll **out)
{
	int rv;

	struct data_coll *c;

	for (size_t i = 0; i < s->nsh; i++) {
		if (s->sh[i]->id == coll) {
			*out = s->sh[i];
			return (0);
		}
	}
	c = lc_alloc(sizeof(*c));
	if ((rv = shadow_load(s->dw, coll, c)) != 0) {
		lc_free(c);
		return (rv);
	}
	s->sh           = lc_realloc(s->sh, (s->nsh + 1) * sizeof(*s->sh));
	s->sh[s->nsh++] = c;
	*out            = c;
	return (0);
}

static void
hit_add(
    struct od_state *s, const struct data_coll *c, const char *id, int deleted)
{
	struct data_rel_hit *h;

	if (s->nhits == s->caphits) {
		s->caphits = s->caphits ? s->caphits * 2 : 8;
		s->hits = lc_realloc(s->hits, s->caphits * sizeof(*s->hits));
	}
	h = &s->hits[s->nhits++];
	memset(h, 0, sizeof(*h));
	h->coll_id = c->id;
	snprintf(h->coll, sizeof(h->coll), "%s", c->name);
	snprintf(h->id, sizeof(h->id), "%s", id);
	h->deleted = deleted;
}

static void
emit(struct od_state *s, const struct data_coll *c, int topic,
    const json_t *rec)
{
	data_emit(s->dw, topic,
	    json_pack("{s:s, s:O}", "collection", c->name, "record", rec));
}

// The records of c whose field (of type t) references id: live ones only
// when live_only. Into an lc_alloc'd array.
static int
refs_find(struct od_state *s, const struct data_coll *c, const char *field,
    enum data_type t, const char *id, int live_only, struct ref **out,
    size_t *n)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	struct ref     *r    = NULL;
	size_t          cap  = 0;
	size_t          flen = strlen(field);
	int             sr;

	*out = NULL;
	*n   = 0;
	data_sql_add(&sql,
	    "SELECT t._rowid_, t.\"_id\", t.\"_deleted_at\" IS NULL FROM ");
	data_sql_ident(&sql, c->table, strlen(c->table));
	data_sql_add(&sql, " AS t WHERE ");
	if (t == DATA_T_TEXT) {
		data_sql_add(&sql, "t.");
		data_sql_ident(&sql, field, flen);
		data_sql_add(&sql, " = ?1");
	} else {
		// An array holding id as an item; invalid JSON (never
		// written by us) matches nothing instead of failing.
		data_sql_add(&sql, "json_type(CASE WHEN json_valid(t.");
		data_sql_ident(&sql, field, flen);
		data_sql_add(&sql, ") THEN t.");
		data_sql_ident(&sql, field, flen);
		data_sql_add(&sql,
		    " END) = 'array' AND EXISTS (SELECT 1 FROM json_each("
		    "CASE WHEN json_valid(t.");
		data_sql_ident(&sql, field, flen);
		data_sql_add(&sql, ") THEN t.");
		data_sql_ident(&sql, field, flen);
		data_sql_add(&sql,
		    " END) AS j WHERE j.type = 'text' AND j.value = ?1)");
	}
	if (live_only) {
		data_sql_add(&sql, " AND t.\"_deleted_at\" IS NULL");
	}
	data_sql_add(&sql, " ORDER BY t._rowid_");
	st = data_stmt_dyn(s->dw, sql.p);
	data_sql_fini(&sql);
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			r   = lc_realloc(r, cap * sizeof(*r));
		}
		r[*n].rowid = sqlite3_column_int64(st, 0);
		snprintf(r[*n].id, sizeof(r[*n].id), "%s", ctext(st, 1));
		r[*n].live = sqlite3_column_int(st, 2);
		(*n)++;
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_free(r);
		*n = 0;
		return (sql_fail(s->dw, "references"));
	}
	*out = r;
	return (0);
}

// Runs "<prefix><table><suffix>" with ?1 = rowid and, when the
// statement has it, ?2 = a.
static int
row_exec(struct od_state *s, const struct data_coll *c, const char *prefix,
    const char *suffix, int64_t a, int64_t rowid)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	int             sr;

	data_sql_add(&sql, prefix);
	data_sql_ident(&sql, c->table, strlen(c->table));
	data_sql_add(&sql, suffix);
	st = data_stmt_dyn(s->dw, sql.p);
	data_sql_fini(&sql);
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, rowid);
	if (sqlite3_bind_parameter_count(st) >= 2) {
		(void) sqlite3_bind_int64(st, 2, a);
	}
	sr = sqlite3_step(st);
	lc_db_done(st);
	return (sr == SQLITE_DONE ? 0 : sql_fail(s->dw, "on_delete"));
}

// Deletes a queued (non-root) record: soft (live ones) or hard, and
// queues its event.
static int
delete_one(struct od_state *s, const struct item *it)
{
	struct data_coll *c;
	struct data_row   row = { 0 };
	int               rv;

	if ((rv = shadow_get(s, it->coll, &c)) != 0 ||
	    (rv = data_row_load(s->dw, c, it->id, strlen(it->id), &row)) !=
	        0) {
		return (rv == LC_ERECORD_NOT_FOUND ? 0 : rv);
	}
	if (s->hard) {
		rv = row_exec(
		    s, c, "DELETE FROM ", " WHERE _rowid_ = ?1", 0, row.rowid);
	} else if (row.deleted_at == 0) {
		rv = row_exec(s, c, "UPDATE ",
		    " SET \"_deleted_at\" = ?2 WHERE _rowid_ = ?1", s->now,
		    row.rowid);
		json_object_set_new(
		    row.record, "_deleted_at", json_integer(s->now));
	} else {
		data_row_fini(&row);
		return (0); // already soft-deleted: left alone
	}
	if (rv == 0) {
		emit(s, c, LC_TOPIC_RECORD_DELETED, row.record);
		hit_add(s, c, it->id, 1);
	}
	data_row_fini(&row);
	return (rv);
}

// set_null of one referencing record: field (type t) of c no longer
// references id.
static int
set_null_one(struct od_state *s, const struct data_coll *c, const char *field,
    enum data_type t, const struct ref *r, const char *id)
{
	struct data_row row = { 0 };
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	json_t         *nv = NULL;
	int             sr;
	int             rv;

	if ((rv = data_row_load(s->dw, c, r->id, strlen(r->id), &row)) != 0) {
		return (rv == LC_ERECORD_NOT_FOUND ? 0 : rv);
	}
	if (t == DATA_T_TEXT) {
		nv = json_null();
	} else {
		const json_t *old = json_object_get(row.record, field);
		const json_t *x;
		size_t        i;

		nv = json_array();
		json_array_foreach(old, i, x)
		{
			if (!json_is_string(x) ||
			    strcmp(json_string_value(x), id) != 0) {
				json_array_append(
				    nv, (json_t *) (uintptr_t) x);
			}
		}
	}
	data_sql_add(&sql, "UPDATE ");
	data_sql_ident(&sql, c->table, strlen(c->table));
	data_sql_add(&sql, " SET ");
	data_sql_ident(&sql, field, strlen(field));
	data_sql_add(&sql, " = ?1, \"_updated_at\" = ?2 WHERE _rowid_ = ?3");
	st = data_stmt_dyn(s->dw, sql.p);
	data_sql_fini(&sql);
	if (st == NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	if ((rv = data_bind_value(st, 1, t, nv)) == 0) {
		(void) sqlite3_bind_int64(st, 2, s->now);
		(void) sqlite3_bind_int64(st, 3, r->rowid);
		sr = sqlite3_step(st);
		rv = sr == SQLITE_DONE ? 0 : sql_fail(s->dw, "set_null");
	}
	lc_db_done(st);
	if (rv == 0 && row.deleted_at == 0) {
		json_object_set(row.record, field, nv);
		json_object_set_new(
		    row.record, "_updated_at", json_integer(s->now));
		emit(s, c, LC_TOPIC_RECORD_UPDATED, row.record);
		hit_add(s, c, r->id, 0);
	}
out:
	json_decref(nv);
	data_row_fini(&row);
	return (rv);
}

// Applies the relations to collection it->coll for the deleted record
// it->id: restrict checks first, then cascade and set_null.
static int
process(struct od_state *s, const struct item *it)
{
	struct rel       *rels = NULL;
	struct ref       *refs = NULL;
	struct data_coll *c;
	size_t            nrels;
	size_t            nrefs = 0;
	enum data_type    t;
	int               rv;

	if ((rv = rels_load(s->dw, it->coll, 0, &rels, &nrels)) != 0) {
		return (rv);
	}
	for (int pass = 0; pass < 2 && rv == 0; pass++) {
		for (size_t i = 0; i < nrels && rv == 0; i++) {
			const struct rel *r = &rels[i];

			if ((pass == 0) != (r->od == OD_RESTRICT)) {
				continue;
			}
			if ((rv = shadow_get(s, r->coll, &c)) != 0) {
				break;
			}
			t = shadow_type(c, r->field);
			if (t != DATA_T_TEXT && t != DATA_T_JSON) {
				continue; // cannot hold ids
			}
			lc_free(refs);
			refs = NULL;
			if ((rv = refs_find(s, c, r->field, t, it->id,
			         r->od != OD_SET_NULL &&
			             !(r->od == OD_CASCADE && s->hard),
			         &refs, &nrefs)) != 0) {
				break;
			}
			for (size_t k = 0; k < nrefs && rv == 0; k++) {
				int in = seen_has(s, r->coll, refs[k].id);

				if (r->od == OD_RESTRICT && !in) {
					rv = LC_ERELATION_RESTRICT;
				} else if (r->od == OD_CASCADE && !in) {
					enqueue(s, r->coll, refs[k].id);
				} else if (r->od == OD_SET_NULL &&
				    !(s->hard && in)) {
					rv = set_null_one(s, c, r->field, t,
					    &refs[k], it->id);
				}
			}
		}
	}
	lc_free(refs);
	lc_free(rels);
	return (rv);
}

int
data_rel_on_delete(struct data_worker *dw, int64_t coll_id, const char *id,
    int hard, struct data_rel_hit **out, size_t *nout)
{
	struct od_state s;
	int             rv = 0;

	memset(&s, 0, sizeof(s));
	s.dw   = dw;
	s.hard = hard;
	s.now  = lc_now_ms();
	s.seen = json_object();
	enqueue(&s, coll_id, id);
	while (s.head < s.nq && rv == 0) {
		struct item it = s.q[s.head++];

		if ((rv = process(&s, &it)) == 0 && s.head > 1) {
			rv = delete_one(&s, &it);
		}
	}
	for (size_t i = 0; i < s.nsh; i++) {
		shadow_fini(s.sh[i]);
		lc_free(s.sh[i]);
	}
	lc_free(s.sh);
	lc_free(s.q);
	json_decref(s.seen);
	if (rv == 0 && out != NULL) {
		*out  = s.hits;
		*nout = s.nhits;
	} else {
		lc_free(s.hits);
	}
	return (rv);
}

/* ---- expand ---- */

int
data_rel_expand_parse(struct data_worker *dw, int64_t coll_id,
    const json_t *expand, struct data_rel_expand *e)
{
	const char   *s;
	size_t        len;
	size_t        i = 0;
	sqlite3_stmt *st;
	int           sr;

	e->n = 0;
	if (expand == NULL || json_is_null(expand)) {
		return (0);
	}
	if (!json_is_string(expand)) {
		return (LC_EINVALID_QUERY);
	}
	s   = json_string_value(expand);
	len = json_string_length(expand);
	while (i < len) {
		size_t b = i;
		size_t end;
		int    dup = 0;

		while (i < len && s[i] != ',') {
			i++;
		}
		end = i++;
		while (b < end && s[b] == ' ') {
			b++;
		}
		while (end > b && s[end - 1] == ' ') {
			end--;
		}
		if (b == end) {
			continue;
		}
		if (!data_name_valid(s + b, end - b)) {
			return (LC_EINVALID_QUERY);
		}
		for (size_t k = 0; k < e->n; k++) {
			dup |= strlen(e->f[k].name) == end - b &&
			    memcmp(e->f[k].name, s + b, end - b) == 0;
		}
		if (dup) {
			continue;
		}
		if (e->n == DATA_EXPAND_MAX) {
			e->n = 0;
			return (LC_EINVALID_QUERY);
		}
		st = data_stmt(dw,
		    "SELECT to_coll FROM relations"
		    " WHERE from_coll = ?1 AND from_field = ?2");
		if (st == NULL) {
			e->n = 0;
			return (LC_EINTERNAL);
		}
		(void) sqlite3_bind_int64(st, 1, coll_id);
		(void) sqlite3_bind_text(
		    st, 2, s + b, (int) (end - b), SQLITE_STATIC);
		if ((sr = sqlite3_step(st)) == SQLITE_ROW) {
			memcpy(e->f[e->n].name, s + b, end - b);
			e->f[e->n].name[end - b] = '\0';
			e->f[e->n].to_coll       = sqlite3_column_int64(st, 0);
			e->n++;
		}
		lc_db_done(st);
		if (sr != SQLITE_ROW) {
			e->n = 0;
			return (sr == SQLITE_DONE ? LC_EINVALID_QUERY
			                          : sql_fail(dw, "expand"));
		}
	}
	return (0);
}

void
data_rel_expand_select(const struct data_rel_expand *e, struct data_query *q)
{
	for (size_t i = 0; i < e->n; i++) {
		(void) data_query_select_add(
		    q, e->f[i].name, strlen(e->f[i].name));
	}
}

static json_t *
pending_entry(struct data_rel_expand *e, json_t *rec)
{
	json_t *ent = json_array();

	if (e->pending == NULL) {
		e->pending = json_array();
	}
	json_array_append(ent, rec);
	json_array_append_new(e->pending, ent);
	return (ent);
}

void
data_rel_expand_reset(struct data_rel_expand *e)
{
	if (e->pending != NULL) {
		json_array_clear(e->pending);
	}
}

void
data_rel_expand_row(struct data_rel_expand *e, const struct data_query *q,
    sqlite3_stmt *st, int off, json_t *rec)
{
	json_t *ent;

	if (e->n == 0) {
		return;
	}
	ent = pending_entry(e, rec);
	for (size_t i = 0; i < e->n; i++) {
		json_t *v = NULL;

		for (size_t k = 0; k < q->nproj && v == NULL; k++) {
			if (strcmp(q->proj[k].name, e->f[i].name) == 0) {
				v = data_column_json(
				    st, off + (int) k, q->proj[k].type);
			}
		}
		json_array_append_new(ent, v != NULL ? v : json_null());
	}
}

void
data_rel_expand_add(struct data_rel_expand *e, json_t *rec, const json_t *src)
{
	json_t *ent;

	if (e->n == 0) {
		return;
	}
	ent = pending_entry(e, rec);
	for (size_t i = 0; i < e->n; i++) {
		json_t *v =
		    json_object_get(src != NULL ? src : rec, e->f[i].name);

		json_array_append_new(
		    ent, v != NULL ? json_incref(v) : json_null());
	}
}

// The record id of target collection c as the caller may see it (a new
// reference), or NULL. cache maps ids already resolved (null: hidden).
static int
resolve(struct data_worker *dw, const struct data_coll *c, int hidden,
    const char *own_uid, json_t *cache, const json_t *idv, json_t **out)
{
	struct data_row row = { 0 };
	const char     *id;
	json_t         *hit;
	int             rv;

	*out = NULL;
	if (hidden || !json_is_string(idv)) {
		return (0);
	}
	id = json_string_value(idv);
	if ((hit = json_object_get(cache, id)) != NULL) {
		*out = json_is_null(hit) ? NULL : json_incref(hit);
		return (0);
	}
	rv = data_row_load(dw, c, id, json_string_length(idv), &row);
	if (rv == 0 && row.deleted_at == 0 &&
	    (own_uid == NULL ||
	        (row.owner != NULL && strcmp(row.owner, own_uid) == 0))) {
		*out = json_incref(row.record);
	}
	if (rv == LC_ERECORD_NOT_FOUND) {
		rv = 0;
	}
	if (rv == 0) {
		json_object_set_new(
		    cache, id, *out != NULL ? json_incref(*out) : json_null());
	}
	data_row_fini(&row);
	return (rv);
}

int
data_rel_expand_apply(struct data_worker *dw, struct data_rel_expand *e,
    const struct data_caller *caller, int require_verified)
{
	struct data_coll c;
	json_t          *ent;
	size_t           k;
	int              rv = 0;

	if (e->n == 0 || e->pending == NULL) {
		return (0);
	}
	json_array_foreach(e->pending, k, ent)
	{
		json_object_set_new(
		    json_array_get(ent, 0), "expand", json_object());
	}
	for (size_t i = 0; i < e->n && rv == 0; i++) {
		json_t     *cache  = json_object();
		int         hidden = 0;
		int         own    = 0;
		const char *uid    = NULL;

		if ((rv = shadow_load(dw, e->f[i].to_coll, &c)) != 0) {
			json_decref(cache);
			break;
		}
		if (data_rule_check(&c.rules.read, caller, 0, require_verified,
		        &own) != 0) {
			hidden = 1; // §1.13: never 401/403, just invisible
		} else if (own) {
			uid = caller->uid != NULL ? caller->uid : "";
		}
		json_array_foreach(e->pending, k, ent)
		{
			json_t *v   = json_array_get(ent, i + 1);
			json_t *x   = NULL;
			json_t *res = NULL;

			if (json_is_array(v)) {
				const json_t *idv;
				size_t        m;

				res = json_array();
				json_array_foreach(v, m, idv)
				{
					if ((rv = resolve(dw, &c, hidden, uid,
					         cache, idv, &x)) != 0) {
						break;
					}
					if (x != NULL) {
						json_array_append_new(res, x);
					}
				}
			} else {
				rv =
				    resolve(dw, &c, hidden, uid, cache, v, &x);
				res = x != NULL ? x : json_null();
			}
			json_object_set_new(
			    json_object_get(json_array_get(ent, 0), "expand"),
			    e->f[i].name, res);
			if (rv != 0) {
				break;
			}
		}
		shadow_fini(&c);
		json_decref(cache);
	}
	return (rv);
}

void
data_rel_expand_fini(struct data_rel_expand *e)
{
	json_decref(e->pending);
	e->pending = NULL;
	e->n       = 0;
}
