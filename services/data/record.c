/*
 * record.c -- one record between SQLite and JSON (API.md §3.2 Output):
 * binding planned values to their column types, converting stored
 * columns back (booleans as true/false, json columns as objects or
 * arrays, numbers as stored), and loading a record by _id.
 */
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"

int
data_bind_value(sqlite3_stmt *st, int idx, enum data_type t, const json_t *v)
{
	char *d;
	int   sr;

	switch (json_typeof(v)) {
	case JSON_NULL:
		sr = sqlite3_bind_null(st, idx);
		break;
	case JSON_STRING:
		sr = sqlite3_bind_text(st, idx, json_string_value(v),
		    (int) json_string_length(v), SQLITE_TRANSIENT);
		break;
	case JSON_INTEGER:
		sr = t == DATA_T_REAL
		    ? sqlite3_bind_double(
		          st, idx, (double) json_integer_value(v))
		    : sqlite3_bind_int64(st, idx, json_integer_value(v));
		break;
	case JSON_REAL:
		sr = sqlite3_bind_double(st, idx, json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		sr = sqlite3_bind_int(st, idx, json_is_true(v));
		break;
	default: // object, array: stored as compact JSON text
		if ((d = json_dumps(v, JSON_COMPACT)) == NULL) {
			return (LC_EINTERNAL);
		}
		sr = sqlite3_bind_text(st, idx, d, -1, SQLITE_TRANSIENT);
		free(d);
		break;
	}
	return (sr == SQLITE_OK ? 0 : LC_EINTERNAL);
}

json_t *
data_column_json(sqlite3_stmt *st, int i, enum data_type t)
{
	const char *s;
	json_t     *j;

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return (json_null());
	case SQLITE_INTEGER:
		if (t == DATA_T_BOOLEAN) {
			return (
			    json_boolean(sqlite3_column_int64(st, i) != 0));
		}
		if (t == DATA_T_REAL) {
			return (json_real(sqlite3_column_double(st, i)));
		}
		return (json_integer(sqlite3_column_int64(st, i)));
	case SQLITE_FLOAT:
		return (json_real(sqlite3_column_double(st, i)));
	default:
		s = (const char *) sqlite3_column_text(st, i);
		if (s == NULL) {
			return (json_null());
		}
		if (t == DATA_T_JSON &&
		    (j = json_loadb(s, (size_t) sqlite3_column_bytes(st, i),
		         JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)) != NULL) {
			return (j);
		}
		return (json_stringn(s, (size_t) sqlite3_column_bytes(st, i)));
	}
}

void
data_row_fini(struct data_row *r)
{
	json_decref(r->record);
	lc_free(r->owner);
	memset(r, 0, sizeof(*r));
}

// Finds the row of id with the statement sql (?1: the id) and steps to
// it: 0 and *out_st (reset by the caller with lc_db_done), or an error.
static int
row_find(struct data_worker *dw, struct data_sql *sql, const char *id,
    size_t len, sqlite3_stmt **out_st)
{
	sqlite3_stmt *st = data_stmt_dyn(dw, sql->p);
	int           sr;

	data_sql_fini(sql);
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_text(st, 1, id, (int) len, SQLITE_STATIC);
	if ((sr = sqlite3_step(st)) != SQLITE_ROW) {
		lc_db_done(st);
		if (sr == SQLITE_DONE) {
			return (LC_ERECORD_NOT_FOUND);
		}
		lc_log_err(
		    "DATA-SQL", "row load: %s", sqlite3_errmsg(data_conn(dw)));
		return (LC_EINTERNAL);
	}
	*out_st = st;
	return (0);
}

static void
set_owner(struct data_row *out, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) != SQLITE_NULL) {
		out->owner =
		    lc_strdup((const char *) sqlite3_column_text(st, i));
	}
}

int
data_row_load(struct data_worker *dw, const struct data_coll *c,
    const char *id, size_t len, struct data_row *out)
{
	static const char *const sys[] = { "_id", "_created_at", "_updated_at",
		"_owner_id", "_deleted_at" };
	static const enum data_type sys_t[] = { DATA_T_TEXT, DATA_T_INTEGER,
		DATA_T_INTEGER, DATA_T_TEXT, DATA_T_INTEGER };
	struct data_sql             sql     = { 0 };
	sqlite3_stmt               *st;
	json_t                     *rec;
	int                         rv;

	memset(out, 0, sizeof(*out));
	if (!lc_ulid_valid(id, len)) {
		return (LC_ERECORD_NOT_FOUND); // §1.1: never 400
	}
	data_sql_select_id(&sql, c);
	if ((rv = row_find(dw, &sql, id, len, &st)) != 0) {
		return (rv);
	}
	rec = json_object();
	for (int i = 0; i < 5; i++) {
		json_object_set_new_nocheck(
		    rec, sys[i], data_column_json(st, i + 1, sys_t[i]));
	}
	for (size_t i = 0; i < c->ncols; i++) {
		json_object_set_new_nocheck(rec, c->cols[i].name,
		    data_column_json(st, (int) i + 6, c->cols[i].type));
	}
	out->rowid      = sqlite3_column_int64(st, 0);
	out->deleted_at = sqlite3_column_int64(st, 5);
	set_owner(out, st, 4);
	out->record = rec;
	lc_db_done(st);
	return (0);
}

int
data_row_head(struct data_worker *dw, const struct data_coll *c,
    const char *id, size_t len, struct data_row *out)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	int             rv;

	memset(out, 0, sizeof(*out));
	if (!lc_ulid_valid(id, len)) {
		return (LC_ERECORD_NOT_FOUND);
	}
	data_sql_select_head(&sql, c);
	if ((rv = row_find(dw, &sql, id, len, &st)) != 0) {
		return (rv);
	}
	out->rowid      = sqlite3_column_int64(st, 0);
	out->deleted_at = sqlite3_column_int64(st, 1);
	set_owner(out, st, 2);
	lc_db_done(st);
	return (0);
}
