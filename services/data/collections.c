/*
 * collections.c -- the admin collection endpoints of API.md §5.1:
 * collections.list / create / get / update / delete, the schema, dropping
 * a column, and the field validation rules (PUT .../rules, §3.9). Indexes
 * are indexes.c's; the admin record endpoints are records.c's and
 * list.c's.
 *
 * Every change runs in one write transaction (data_begin_write), is
 * idempotent by request like the record writes (db.c), and bumps the
 * catalog generation, so every worker sees it on its next transaction
 * (catalog.c). Names from the path are never put into SQL: a collection is
 * resolved through the catalog, and a column by exact match against the
 * catalog's columns.
 */
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"

static const char *const sys_fields[DATA_NSYS] = { "_id", "_created_at",
	"_updated_at", "_owner_id", "_deleted_at" };
static const char *const sys_types[DATA_NSYS] = { "text", "integer", "integer",
	"text", "integer" };

int
data_is_system(const char *s, size_t len)
{
	for (size_t i = 0; i < DATA_NSYS; i++) {
		if (strlen(sys_fields[i]) == len &&
		    memcmp(sys_fields[i], s, len) == 0) {
			return (1);
		}
	}
	return (0);
}

// Non-deleted records of collection id (table r<id>).
static int
record_count(struct data_worker *dw, int64_t id, int64_t *out)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	char            table[DATA_TABLE_MAX];
	int             rv = LC_EINTERNAL;

	data_sql_table_name(table, sizeof(table), id);
	data_sql_add(&sql, "SELECT count(*) FROM ");
	data_sql_ident(&sql, table, strlen(table));
	data_sql_add(&sql, " WHERE \"_deleted_at\" IS NULL");
	st = data_stmt_dyn(dw, sql.p);
	data_sql_fini(&sql);
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rv   = 0;
	} else {
		lc_log_err("DATA-SQL", "record count: %s",
		    sqlite3_errmsg(data_conn(dw)));
	}
	lc_db_done(st);
	return (rv);
}

// The Collection object of §5.1 (new reference in *out).
static int
coll_json(struct data_worker *dw, const struct data_coll *c, json_t **out)
{
	int64_t n = 0;
	int     rv;

	if ((rv = record_count(dw, c->id, &n)) != 0) {
		return (rv);
	}
	*out = json_pack("{s:s, s:o, s:I, s:I, s:I}", "name", c->name, "rules",
	    data_rules_pack(&c->rules), "record_count", (json_int_t) n,
	    "created_at", (json_int_t) c->created_at, "updated_at",
	    (json_int_t) c->updated_at);
	return (*out != NULL ? 0 : LC_EINTERNAL);
}

// The :name path parameter, checked: 404 for a name no collection can
// have.
static int
path_name(const struct lc_req *rq, const char **s, size_t *len)
{
	(void) data_param(rq, "name", s, len);
	return (data_coll_name_valid(*s, *len) ? 0 : LC_ECOLLECTION_NOT_FOUND);
}

int
data_admin_open_read(
    struct data_worker *dw, const struct lc_req *rq, struct data_coll **c)
{
	const char *name;
	size_t      len;
	int         rv;

	if ((rv = path_name(rq, &name, &len)) != 0 ||
	    (rv = data_begin_read(dw)) != 0) {
		return (rv);
	}
	if ((rv = data_catalog_find(dw, name, len, c)) != 0) {
		data_end(dw);
	}
	return (rv);
}

int
data_admin_open_write(struct data_worker *dw, const struct lc_req *rq,
    struct lc_rep *rp, struct data_coll **c, int *done)
{
	const char *name;
	size_t      len;
	int         rv;

	*done = 0;
	if ((rv = path_name(rq, &name, &len)) != 0 ||
	    (rv = data_begin_write(dw)) != 0) {
		return (rv);
	}
	if (data_dedupe_find(dw, rq, rp)) {
		data_end(dw);
		*done = 1;
		return (0);
	}
	if ((rv = data_catalog_find(dw, name, len, c)) != 0) {
		data_end(dw);
	}
	return (rv);
}

int
data_admin_finish(struct data_worker *dw, const struct lc_req *rq,
    struct lc_rep *rp, int status, json_t *body)
{
	int rv;

	if ((rv = data_dedupe_store(dw, rq, status, body)) != 0 ||
	    (rv = data_commit(dw)) != 0) {
		data_end(dw);
		json_decref(body);
		return (data_fail(rp, rv, NULL, NULL));
	}
	lc_rep_json(rp, status, body);
	return (0);
}

// Parses a (partial) rules object into *r: 400 validation_error with
// field "rules" or "rules.<op>" (in fbuf).
static int
rules_arg(const json_t *j, struct data_rules *r, char *fbuf, size_t size)
{
	const char *bad = NULL;

	if (!json_is_object(j)) {
		snprintf(fbuf, size, "rules");
		return (LC_EVALIDATION);
	}
	if (data_rules_parse(j, r, &bad) != 0) {
		snprintf(fbuf, size, bad != NULL ? "rules.%s" : "rules",
		    bad != NULL ? bad : "");
		return (LC_EVALIDATION);
	}
	return (0);
}

/* ---- list ---- */

int
data_h_collections_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw    = data_worker(w);
	sqlite3_stmt       *st    = NULL;
	json_t             *items = NULL;
	int64_t             limit = DATA_LIMIT_DEFAULT;
	int64_t             page  = 1;
	int64_t             total = 0;
	int                 sr;
	int                 rv;

	if ((rv = data_posint(json_object_get(rq->query, "limit"),
	         DATA_LIMIT_MAX, &limit)) != 0) {
		return (data_fail(rp, rv, NULL, "limit"));
	}
	if ((rv = data_posint(json_object_get(rq->query, "page"), 1000000000LL,
	         &page)) != 0) {
		return (data_fail(rp, rv, NULL, "page"));
	}
	if ((rv = data_begin_read(dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	items = json_array();
	if ((st = data_stmt(dw, "SELECT count(*) FROM collections")) == NULL ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rv = LC_EINTERNAL;
		goto out;
	}
	total = sqlite3_column_int64(st, 0);
	lc_db_done(st);
	// By name: bytewise, as the UNIQUE index on name orders them.
	if ((st = data_stmt(dw,
	         "SELECT id, name, rules, created_at, updated_at"
	         " FROM collections ORDER BY name LIMIT ?1 OFFSET ?2")) ==
	    NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	(void) sqlite3_bind_int64(st, 1, limit);
	(void) sqlite3_bind_int64(st, 2, (page - 1) * limit);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t n = 0;
		json_t *rules =
		    json_loadb((const char *) sqlite3_column_text(st, 2),
		        (size_t) sqlite3_column_bytes(st, 2), 0, NULL);

		if ((rv = record_count(dw, sqlite3_column_int64(st, 0), &n)) !=
		    0) {
			json_decref(rules);
			goto out;
		}
		json_array_append_new(items,
		    json_pack("{s:s, s:o, s:I, s:I, s:I}", "name",
		        (const char *) sqlite3_column_text(st, 1), "rules",
		        rules != NULL ? rules : json_object(), "record_count",
		        (json_int_t) n, "created_at",
		        (json_int_t) sqlite3_column_int64(st, 3), "updated_at",
		        (json_int_t) sqlite3_column_int64(st, 4)));
	}
	if (sr != SQLITE_DONE) {
		lc_log_err("DATA-SQL", "collections list: %s",
		    sqlite3_errmsg(data_conn(dw)));
		rv = LC_EINTERNAL;
		goto out;
	}
	lc_rep_json(rp, 200,
	    json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total",
	        (json_int_t) total, "page", (json_int_t) page, "limit",
	        (json_int_t) limit));
	items = NULL;
out:
	if (st != NULL) {
		lc_db_done(st);
	}
	json_decref(items);
	data_end(dw);
	return (rv != 0 ? data_fail(rp, rv, NULL, NULL) : 0);
}

/* ---- create, get, update, delete ---- */

int
data_h_collections_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_rules   rules;
	struct data_coll   *c;
	const json_t       *name = json_object_get(rq->body, "name");
	const json_t       *rj   = json_object_get(rq->body, "rules");
	json_t             *out  = NULL;
	char                fbuf[32];
	int                 rv;

	if (rq->body != NULL && !json_is_object(rq->body)) {
		return (data_fail(rp, LC_EINVALID_BODY, NULL, NULL));
	}
	if (!json_is_string(name)) {
		return (data_fail(
		    rp, LC_EVALIDATION, "name is required.", "name"));
	}
	if (!data_coll_name_valid(
	        json_string_value(name), json_string_length(name))) {
		return (
		    data_fail(rp, LC_EINVALID_COLLECTION_NAME, NULL, NULL));
	}
	data_rules_default(&rules);
	if (rj != NULL && !json_is_null(rj) &&
	    (rv = rules_arg(rj, &rules, fbuf, sizeof(fbuf))) != 0) {
		return (data_fail(rp, rv, NULL, fbuf));
	}
	if ((rv = data_begin_write(dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (data_dedupe_find(dw, rq, rp)) {
		data_end(dw);
		return (0);
	}
	if (data_catalog_exists_ci(
	        dw, json_string_value(name), json_string_length(name))) {
		rv = LC_ECOLLECTION_EXISTS;
	} else if ((rv = data_catalog_create(dw, json_string_value(name),
	                json_string_length(name), &rules, &c)) == 0) {
		rv = coll_json(dw, c, &out);
	}
	if (rv != 0) {
		data_end(dw);
		return (data_fail(rp, rv, NULL, NULL));
	}
	return (data_admin_finish(dw, rq, rp, 201, out));
}

int
data_h_collections_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	json_t             *out = NULL;
	int                 rv;

	if ((rv = data_admin_open_read(dw, rq, &c)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	rv = coll_json(dw, c, &out);
	data_end(dw);
	if (rv != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	lc_rep_json(rp, 200, out);
	return (0);
}

int
data_h_collections_update(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_rules   rules;
	struct data_coll   *c;
	const json_t       *rj  = json_object_get(rq->body, "rules");
	json_t             *out = NULL;
	char                fbuf[32];
	int                 done;
	int                 rv;

	if (rq->body != NULL && !json_is_object(rq->body) &&
	    !json_is_null(rq->body)) {
		return (data_fail(rp, LC_EINVALID_BODY, NULL, NULL));
	}
	if ((rv = data_admin_open_write(dw, rq, rp, &c, &done)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (done) {
		return (0);
	}
	rules = c->rules; // a partial object merges
	if (rj != NULL && !json_is_null(rj)) {
		if ((rv = rules_arg(rj, &rules, fbuf, sizeof(fbuf))) != 0) {
			data_end(dw);
			return (data_fail(rp, rv, NULL, fbuf));
		}
		rv = data_catalog_set_rules(dw, c, &rules);
	}
	if (rv != 0 || (rv = coll_json(dw, c, &out)) != 0) {
		data_end(dw);
		return (data_fail(rp, rv, NULL, NULL));
	}
	return (data_admin_finish(dw, rq, rp, 200, out));
}

int
data_h_collections_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	int                 done;
	int                 rv;

	if ((rv = data_admin_open_write(dw, rq, rp, &c, &done)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (done) {
		return (0);
	}
	// Hooks of the collection are the hooks service's (§5.1 cascading
	// deletes): it hears collection.deleted {collection} after the
	// COMMIT. Records, indexes, validation and relations go here.
	data_emit(dw, LC_TOPIC_COLL_DELETED,
	    json_pack("{s:s}", "collection", c->name));
	if ((rv = data_catalog_drop(dw, c)) != 0) {
		data_end(dw);
		return (data_fail(rp, rv, NULL, NULL));
	}
	return (
	    data_admin_finish(dw, rq, rp, 200, json_pack("{s:b}", "ok", 1)));
}

/* ---- schema ---- */

int
data_index_items(
    struct data_worker *dw, const struct data_coll *c, json_t **out)
{
	sqlite3_stmt *st = data_stmt(dw,
	    "SELECT col_name, is_unique FROM indexes WHERE coll_id = ?1"
	    " ORDER BY created_at, rowid");
	json_t       *a;
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	a = json_array();
	(void) sqlite3_bind_int64(st, 1, c->id);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(a,
		    json_pack("{s:s, s:b}", "column",
		        (const char *) sqlite3_column_text(st, 0), "unique",
		        sqlite3_column_int(st, 1)));
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		json_decref(a);
		lc_log_err(
		    "DATA-SQL", "indexes: %s", sqlite3_errmsg(data_conn(dw)));
		return (LC_EINTERNAL);
	}
	*out = a;
	return (0);
}

// The relations from or to c (§5.6 Relation objects), oldest first.
static int
relation_items(struct data_worker *dw, const struct data_coll *c, json_t **out)
{
	sqlite3_stmt *st = data_stmt(dw,
	    "SELECT r.id, fc.name, r.from_field, tc.name, r.on_delete,"
	    " r.created_at FROM relations r"
	    " JOIN collections fc ON fc.id = r.from_coll"
	    " JOIN collections tc ON tc.id = r.to_coll"
	    " WHERE r.from_coll = ?1 OR r.to_coll = ?1 ORDER BY r.id");
	json_t       *a;
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	a = json_array();
	(void) sqlite3_bind_int64(st, 1, c->id);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(a,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id",
		        (const char *) sqlite3_column_text(st, 0),
		        "from_collection",
		        (const char *) sqlite3_column_text(st, 1),
		        "from_field",
		        (const char *) sqlite3_column_text(st, 2),
		        "to_collection",
		        (const char *) sqlite3_column_text(st, 3), "on_delete",
		        (const char *) sqlite3_column_text(st, 4),
		        "created_at",
		        (json_int_t) sqlite3_column_int64(st, 5)));
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		json_decref(a);
		lc_log_err("DATA-SQL", "relations: %s",
		    sqlite3_errmsg(data_conn(dw)));
		return (LC_EINTERNAL);
	}
	*out = a;
	return (0);
}

int
data_h_collections_schema(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	json_t             *fields;
	json_t             *idx  = NULL;
	json_t             *rels = NULL;
	json_t             *val;
	int                 rv;

	if ((rv = data_admin_open_read(dw, rq, &c)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if ((rv = data_index_items(dw, c, &idx)) != 0 ||
	    (rv = relation_items(dw, c, &rels)) != 0) {
		json_decref(idx);
		data_end(dw);
		return (data_fail(rp, rv, NULL, NULL));
	}
	fields = json_array();
	for (size_t i = 0; i < DATA_NSYS; i++) {
		json_array_append_new(fields,
		    json_pack("{s:s, s:s, s:b}", "name", sys_fields[i], "type",
		        sys_types[i], "system", 1));
	}
	for (size_t i = 0; i < c->ncols; i++) {
		json_array_append_new(fields,
		    json_pack("{s:s, s:s, s:b}", "name", c->cols[i].name,
		        "type", data_type_name(c->cols[i].type), "system", 0));
	}
	val = c->vrules != NULL
	    ? json_deep_copy(data_fieldrules_json(c->vrules))
	    : json_pack("{s:{}}", "fields");
	lc_rep_json(rp, 200,
	    json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "name", c->name,
	        "fields", fields, "rules", data_rules_pack(&c->rules),
	        "validation", val, "indexes", idx, "relations", rels));
	data_end(dw);
	return (0);
}

/* ---- drop a column ---- */

int
data_h_collections_drop_column(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	const char         *col;
	size_t              len;
	int                 done;
	int                 i;
	int                 rv;

	(void) data_param(rq, "column", &col, &len);
	if ((rv = data_admin_open_write(dw, rq, rp, &c, &done)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (done) {
		return (0);
	}
	if (data_is_system(col, len)) {
		rv = LC_ESYSTEM_FIELD;
	} else if ((i = data_coll_col(c, col, len)) < 0) {
		rv = LC_ENOT_FOUND;
	} else {
		rv = data_catalog_drop_column(dw, c, (size_t) i);
	}
	if (rv != 0) {
		data_end(dw);
		return (data_fail(rp, rv,
		    rv == LC_ENOT_FOUND ? "Column not found." : NULL, NULL));
	}
	return (
	    data_admin_finish(dw, rq, rp, 200, json_pack("{s:b}", "ok", 1)));
}

/* ---- validation rules (§3.9) ---- */

int
data_h_collections_set_rules(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker     *dw = data_worker(w);
	struct data_coll       *c;
	struct data_fieldrules *fr    = NULL;
	char                   *bad   = NULL;
	const char             *field = NULL;
	char                    fbuf[DATA_NAME_MAX + 1];
	json_t                 *out = NULL;
	int                     done;
	int                     rv;

	if ((rv = data_admin_open_write(dw, rq, rp, &c, &done)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (done) {
		return (0);
	}
	if ((rv = data_fieldrules_parse(rq->body, &c->schema, &fr, &bad)) !=
	    0) {
		data_end(dw);
		data_fail(rp, rv, NULL, bad);
		lc_free(bad);
		return (rv);
	}
	out = json_pack("{s:s, s:O}", "name", c->name, "fields",
	    json_object_get(data_fieldrules_json(fr), "fields"));
	if ((rv = data_catalog_set_validation(dw, c, &fr, &field)) != 0) {
		snprintf(fbuf, sizeof(fbuf), "%s", field != NULL ? field : "");
		data_end(dw);
		data_fieldrules_free(fr);
		json_decref(out);
		return (
		    data_fail(rp, rv, NULL, fbuf[0] != '\0' ? fbuf : NULL));
	}
	return (data_admin_finish(dw, rq, rp, 200, out));
}
