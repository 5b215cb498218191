/*
 * collections_test.c -- the admin endpoints of §5.1 and the aggregate of
 * §3.8 over a real database (a temp file, the real migrations, one
 * worker): collections (create, list paging, get, merged rules, delete
 * with everything hanging off it), the schema (fields, validation,
 * indexes, relations), dropping a column (indexes, validation rule,
 * relations and the FTS index follow), admin hard delete (the FTS row
 * goes too), admin indexes (generated names, index_exists,
 * unique_violation), validation rules (§3.9: definition errors, unique
 * creating its column, enforcement and error order on every write path)
 * and aggregates under the owner rule.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "fixture_test.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_msg.h"

// The fixture's call without a request id.
static int
call(lc_handler_fn fn, const char *who, const char *params, const char *query,
    const char *body, json_t **out)
{
	return (fx_call(fn, who, NULL, params, query, body, out));
}

// Expects status and (when code is not NULL) code and field (NULL: no
// field) of an admin call on collection name.
static void
expect(lc_handler_fn fn, const char *who, const char *params,
    const char *query, const char *body, int status, const char *code,
    const char *field)
{
	json_t *r;

	assert_int_equal(call(fn, who, params, query, body, &r), status);
	if (code != NULL) {
		assert_string_equal(
		    json_string_value(json_object_get(r, "code")), code);
		if (field != NULL) {
			assert_string_equal(
			    json_string_value(json_object_get(r, "field")),
			    field);
		} else {
			assert_null(json_object_get(r, "field"));
		}
	}
	json_decref(r);
}

static json_t *
ok(lc_handler_fn fn, const char *who, const char *params, const char *query,
    const char *body, int status)
{
	json_t *r;

	assert_int_equal(call(fn, who, params, query, body, &r), status);
	return (r);
}

// A new record in collection coll by user who; returns its _id (static).
static const char *
mk(const char *coll, const char *who, const char *body)
{
	static char id[32];
	char        params[128];
	json_t     *r;

	snprintf(params, sizeof(params), "{\"collection\":\"%s\"}", coll);
	r = ok(data_h_records_create, who, params, NULL, body, 201);
	snprintf(id, sizeof(id), "%s",
	    json_string_value(json_object_get(r, "_id")));
	json_decref(r);
	return (id);
}

static int64_t
count_of(const char *coll, const char *query)
{
	char    params[128];
	json_t *r;
	int64_t n;

	snprintf(params, sizeof(params), "{\"collection\":\"%s\"}", coll);
	r = ok(data_h_records_count, "admin", params, query, NULL, 200);
	n = json_integer_value(json_object_get(r, "count"));
	json_decref(r);
	return (n);
}

static void
sql(const char *s)
{
	char *err = NULL;

	if (sqlite3_exec(worker.db, s, NULL, NULL, &err) != SQLITE_OK) {
		fail_msg("%s: %s", s, err);
	}
}

static int
sql_int(const char *s)
{
	sqlite3_stmt *st;
	int           v = -1;

	assert_int_equal(sqlite3_prepare_v2(worker.db, s, -1, &st, NULL), 0);
	if (sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return (v);
}

#define N(x) "{\"name\":\"" x "\"}"

static void
test_collections(void **state)
{
	json_t *r;

	(void) state;
	r = ok(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"posts\",\"rules\":{\"read\":\"owner\","
	    "\"delete\":{\"role\":\"ops\"}}}",
	    201);
	assert_string_equal(
	    json_string_value(json_object_get(r, "name")), "posts");
	assert_int_equal(
	    json_integer_value(json_object_get(r, "record_count")), 0);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(r, "rules"), "create")),
	    "authenticated");
	json_decref(r);
	// Errors, in order: name, rules, exists.
	expect(data_h_collections_create, "admin", "{}", NULL, "{}", 400,
	    "validation_error", "name");
	expect(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"a-b\",\"rules\":{\"read\":\"x\"}}", 400,
	    "invalid_collection_name", NULL);
	expect(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"Admin\"}", 400, "invalid_collection_name", NULL);
	expect(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"ok\",\"rules\":{\"update\":{\"role\":5}}}", 400,
	    "validation_error", "rules.update");
	expect(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"ok\",\"rules\":\"public\"}", 400, "validation_error",
	    "rules");
	expect(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"POSTS\"}", 409, "collection_exists", NULL);
	json_decref(ok(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"Alpha\"}", 201));
	// record_count: non-deleted records only.
	mk("posts", "U1", "{\"n\":1}");
	mk("posts", "U1", "{\"n\":2}");
	sql("UPDATE r1 SET _deleted_at = 5 WHERE rowid = 1");
	r = ok(data_h_collections_get, "admin", N("posts"), NULL, NULL, 200);
	assert_int_equal(
	    json_integer_value(json_object_get(r, "record_count")), 1);
	json_decref(r);
	expect(data_h_collections_get, "admin", N("nope"), NULL, NULL, 404,
	    "collection_not_found", NULL);
	expect(data_h_collections_get, "admin", N("a;b"), NULL, NULL, 404,
	    "collection_not_found", NULL);
	// List: by name (bytewise), §1.7 paging.
	r = ok(data_h_collections_list, "admin", "{}",
	    "{\"limit\":\"1\",\"page\":\"2\"}", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(r, "items"), 0), "name")),
	    "posts");
	json_decref(r);
	expect(data_h_collections_list, "admin", "{}", "{\"page\":\"0\"}",
	    NULL, 400, "invalid_query", "page");
	// Update: merged; nothing applied on an error.
	r = ok(data_h_collections_update, "admin", N("posts"), NULL,
	    "{\"rules\":{\"create\":\"public\"}}", 200);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(r, "rules"), "read")),
	    "owner");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(r, "rules"), "create")),
	    "public");
	json_decref(r);
	expect(data_h_collections_update, "admin", N("posts"), NULL,
	    "{\"rules\":{\"read\":\"public\",\"update\":7}}", 400,
	    "validation_error", "rules.update");
	expect(data_h_records_create, NULL, "{\"collection\":\"posts\"}", NULL,
	    "{}", 201, NULL, NULL); // create is public now
	expect(data_h_records_list, NULL, "{\"collection\":\"posts\"}", NULL,
	    NULL, 401, "auth_required", NULL); // read stayed owner
	// Delete: tables, catalog rows and indexes go; the name is free.
	json_decref(ok(data_h_collections_index_create, "admin", N("posts"),
	    NULL, "{\"column\":\"n\"}", 201));
	expect(data_h_collections_delete, "admin", N("posts"), NULL, NULL, 200,
	    NULL, NULL);
	assert_int_equal(sql_int("SELECT count(*) FROM sqlite_master WHERE"
	                         " name IN ('r1', 'i1_1')"),
	    0);
	assert_int_equal(sql_int("SELECT count(*) FROM columns"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM indexes"), 0);
	expect(data_h_collections_delete, "admin", N("posts"), NULL, NULL, 404,
	    "collection_not_found", NULL);
	expect(data_h_records_get, "admin",
	    "{\"collection\":\"posts\",\"id\":\"01HV0000000000000000000000\"}",
	    NULL, NULL, 404, "collection_not_found", NULL);
	mk("posts", "U1", "{\"n\":\"now text\"}");
	assert_int_equal(count_of("posts", NULL), 1);
}

static void
test_schema_drop_column(void **state)
{
	json_t     *r;
	json_t     *f;
	const char *id;
	char        params[128];

	(void) state;
	id = mk("docs", "U1",
	    "{\"title\":\"zebra\",\"body\":\"lion\",\"n\":1,\"ok\":true}");
	snprintf(params, sizeof(params),
	    "{\"collection\":\"docs\",\"id\":\"%s\"}", id);
	json_decref(ok(data_h_collections_set_rules, "admin", N("docs"), NULL,
	    "{\"fields\":{\"body\":{\"maxLength\":10},\"n\":{\"min\":0}}}",
	    200));
	json_decref(ok(data_h_collections_index_create, "admin", N("docs"),
	    NULL, "{\"column\":\"body\"}", 201));
	sql("INSERT INTO collections (name, name_lc, rules, created_at,"
	    " updated_at) VALUES ('other', 'other', '{}', 1, 1);"
	    "INSERT INTO relations VALUES ('01HV0000000000000000000001', 1,"
	    " 'body', 2, 'set_null', 7),"
	    " ('01HV0000000000000000000002', 2, 'x', 1, 'cascade', 8)");
	r = ok(data_h_collections_schema, "admin", N("docs"), NULL, NULL, 200);
	f = json_object_get(r, "fields");
	assert_int_equal(json_array_size(f), 9);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(f, 3), "name")),
	    "_owner_id");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(f, 6), "name")),
	    "body");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(f, 8), "type")),
	    "boolean");
	assert_int_equal(json_array_size(json_object_get(r, "indexes")), 1);
	assert_int_equal(json_array_size(json_object_get(r, "relations")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(r, "relations"), 1),
	        "from_collection")),
	    "other");
	json_decref(r);
	// Errors, in order.
	expect(data_h_collections_drop_column, "admin",
	    "{\"name\":\"nope\",\"column\":\"_id\"}", NULL, NULL, 404,
	    "collection_not_found", NULL);
	expect(data_h_collections_drop_column, "admin",
	    "{\"name\":\"docs\",\"column\":\"_owner_id\"}", NULL, NULL, 400,
	    "system_field", NULL);
	expect(data_h_collections_drop_column, "admin",
	    "{\"name\":\"docs\",\"column\":\"Body\"}", NULL, NULL, 404,
	    "not_found", NULL);
	// Dropping an indexed text column with a rule and a relation.
	assert_int_equal(count_of("docs", "{\"search\":\"lion\"}"), 1);
	expect(data_h_collections_drop_column, "admin",
	    "{\"name\":\"docs\",\"column\":\"body\"}", NULL, NULL, 200, NULL,
	    NULL);
	r = ok(data_h_collections_schema, "admin", N("docs"), NULL, NULL, 200);
	assert_int_equal(json_array_size(json_object_get(r, "fields")), 8);
	assert_int_equal(json_array_size(json_object_get(r, "indexes")), 0);
	assert_int_equal(json_array_size(json_object_get(r, "relations")), 1);
	assert_null(json_object_get(
	    json_object_get(json_object_get(r, "validation"), "fields"),
	    "body"));
	assert_non_null(json_object_get(
	    json_object_get(json_object_get(r, "validation"), "fields"), "n"));
	json_decref(r);
	// The FTS index follows the remaining text column.
	assert_int_equal(count_of("docs", "{\"search\":\"lion\"}"), 0);
	assert_int_equal(count_of("docs", "{\"search\":\"zebra\"}"), 1);
	r = ok(data_h_records_get, NULL, params, NULL, NULL, 200);
	assert_null(json_object_get(r, "body"));
	json_decref(r);
	// The name is free again, with another type; the rule of n stays.
	mk("docs", "U1", "{\"body\":5}");
	expect(data_h_records_create, "U1", "{\"collection\":\"docs\"}", NULL,
	    "{\"n\":-1}", 400, "validation_error", "n");
	// A non-text column while the FTS triggers exist.
	expect(data_h_collections_drop_column, "admin",
	    "{\"name\":\"docs\",\"column\":\"ok\"}", NULL, NULL, 200, NULL,
	    NULL);
	assert_int_equal(count_of("docs", "{\"search\":\"zebra\"}"), 1);
	// The last text column: no FTS table remains, search finds nothing.
	expect(data_h_collections_drop_column, "admin",
	    "{\"name\":\"docs\",\"column\":\"title\"}", NULL, NULL, 200, NULL,
	    NULL);
	assert_int_equal(
	    sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'f1'"),
	    0);
	assert_int_equal(count_of("docs", "{\"search\":\"zebra\"}"), 0);
	// Admin hard delete: the row goes, a second delete is 404.
	expect(data_h_admin_records_delete, "admin",
	    "{\"name\":\"docs\",\"id\":\"nope\"}", NULL, NULL, 404,
	    "record_not_found", NULL);
	snprintf(
	    params, sizeof(params), "{\"name\":\"docs\",\"id\":\"%s\"}", id);
	expect(data_h_admin_records_delete, "admin", params, NULL, NULL, 200,
	    NULL, NULL);
	expect(data_h_admin_records_get, "admin", params, NULL, NULL, 404,
	    "record_not_found", NULL);
	expect(data_h_admin_records_delete, "admin", params, NULL, NULL, 404,
	    "record_not_found", NULL);
	// Deleting the collection removes the relations to it as well.
	assert_int_equal(sql_int("SELECT count(*) FROM relations"), 1);
	expect(data_h_collections_delete, "admin", N("docs"), NULL, NULL, 200,
	    NULL, NULL);
	assert_int_equal(sql_int("SELECT count(*) FROM relations"), 0);
}

static void
test_hard_delete_fts(void **state)
{
	const char *id;
	char        params[128];
	json_t     *r;

	(void) state;
	id = mk("notes", "U1", "{\"t\":\"walrus\"}");
	snprintf(
	    params, sizeof(params), "{\"name\":\"notes\",\"id\":\"%s\"}", id);
	r = ok(data_h_admin_records_get, "admin", params, "{\"fields\":\"t\"}",
	    NULL, 200);
	assert_int_equal(json_object_size(r), 2); // _id and t
	json_decref(r);
	assert_int_equal(count_of("notes", "{\"search\":\"walrus\"}"), 1);
	expect(data_h_admin_records_delete, "admin", params, NULL, NULL, 200,
	    NULL, NULL);
	assert_int_equal(sql_int("SELECT count(*) FROM f1 WHERE f1 MATCH"
	                         " 'walrus'"),
	    0);
	assert_int_equal(count_of("notes", "{\"include_deleted\":\"1\"}"), 0);
}

// A collection made before the FTS stage (migration 4) wrote f<N> from
// its triggers; data_catalog_upgrade gives it the stage, and the
// index keeps following writes.
static void
test_fts_stage_upgrade(void **state)
{
	char     id[LC_ULID_LEN + 1];
	char     params[128];
	char     path[128];
	sqlite3 *db;

	(void) state;
	// mk's answer lives until its next call
	snprintf(
	    id, sizeof(id), "%s", mk("notes", "U1", "{\"t\":\"walrus\"}"));
	assert_int_equal(sql_int("SELECT count(*) FROM s1"), 0); // applied
	assert_int_equal(sql_int("SELECT count(*) FROM fts_dirty"), 0);
	// back to the old shape: no stage, triggers writing f1 directly
	assert_int_equal(lc_db_exec(worker.db,
	                     "DROP TABLE s1; DROP TRIGGER f1_ai;"
	                     "CREATE TRIGGER f1_ai AFTER INSERT ON r1 BEGIN"
	                     " INSERT INTO f1 (rowid, c0) VALUES"
	                     " (new._rowid_, new.t); END;"),
	    0);
	snprintf(path, sizeof(path), "%s/data.db", dir);
	assert_int_equal(lc_db_open(path, &db), 0);
	assert_int_equal(data_catalog_upgrade(db), 0);
	assert_int_equal(data_catalog_upgrade(db), 0); // nothing left
	lc_db_close(db);
	assert_int_equal(sql_int("SELECT count(*) FROM sqlite_schema WHERE"
	                         " name = 'f1_ai' AND sql LIKE '%\"s1\"%'"),
	    1);
	(void) mk("notes", "U1", "{\"t\":\"narwhal\"}");
	snprintf(params, sizeof(params),
	    "{\"collection\":\"notes\",\"id\":\"%s\"}", id);
	expect(data_h_records_update, "U1", params, NULL, "{\"t\":\"beluga\"}",
	    200, NULL, NULL);
	assert_int_equal(count_of("notes", "{\"search\":\"narwhal\"}"), 1);
	assert_int_equal(count_of("notes", "{\"search\":\"beluga\"}"), 1);
	assert_int_equal(count_of("notes", "{\"search\":\"walrus\"}"), 0);
}

static void
test_indexes(void **state)
{
	json_t *r;

	(void) state;
	mk("items", "U1", "{\"title\":\"a\",\"n\":1,\"code\":\"x\"}");
	mk("items", "U1", "{\"title\":\"a\",\"n\":2,\"code\":\"x\"}");
	r = ok(data_h_collections_index_create, "admin", N("items"), NULL,
	    "{\"column\":\"title\"}", 201);
	assert_false(json_is_true(json_object_get(r, "unique")));
	json_decref(r);
	json_decref(ok(data_h_collections_index_create, "admin", N("items"),
	    NULL, "{\"column\":\"n\",\"unique\":true}", 201));
	// Generated names only.
	assert_int_equal(
	    sql_int("SELECT count(*) FROM sqlite_master WHERE"
	            " type = 'index' AND name IN ('i1_1', 'i1_2')"),
	    2);
	r = ok(data_h_collections_index_list, "admin", N("items"), NULL, NULL,
	    200);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(r, "items"), 1), "column")),
	    "n");
	json_decref(r);
	expect(data_h_collections_index_create, "admin", N("items"), NULL,
	    "{\"column\":\"_id\"}", 400, "system_field", NULL);
	expect(data_h_collections_index_create, "admin", N("items"), NULL,
	    "{\"column\":\"Title\"}", 400, "validation_error", "column");
	expect(data_h_collections_index_create, "admin", N("items"), NULL,
	    "{\"column\":5}", 400, "validation_error", "column");
	expect(data_h_collections_index_create, "admin", N("items"), NULL,
	    "{\"column\":\"n\",\"unique\":\"yes\"}", 400, "validation_error",
	    "unique");
	expect(data_h_collections_index_create, "admin", N("items"), NULL,
	    "{\"column\":\"title\",\"unique\":true}", 409, "index_exists",
	    NULL);
	expect(data_h_collections_index_create, "admin", N("items"), NULL,
	    "{\"column\":\"code\",\"unique\":true}", 409, "unique_violation",
	    "column");
	assert_int_equal(sql_int("SELECT count(*) FROM indexes"), 2);
	// The unique index holds on writes, with the field.
	expect(data_h_records_create, "U1", "{\"collection\":\"items\"}", NULL,
	    "{\"n\":2}", 409, "unique_violation", "n");
	mk("items", "U1", "{\"n\":null}");
	mk("items", "U1", "{\"n\":null}");
	expect(data_h_collections_index_delete, "admin",
	    "{\"name\":\"items\",\"column\":\"n\"}", NULL, NULL, 200, NULL,
	    NULL);
	expect(data_h_collections_index_delete, "admin",
	    "{\"name\":\"items\",\"column\":\"n\"}", NULL, NULL, 404,
	    "not_found", NULL);
	mk("items", "U1", "{\"n\":2}");
}

// The columns of index name, comma-separated, as pragma_index_info
// lists them ("" when there is no such index).
static const char *
index_cols(const char *name)
{
	static char   out[256];
	sqlite3_stmt *st;

	out[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(worker.db,
	                     "SELECT group_concat(name, ',') FROM (SELECT name"
	                     " FROM pragma_index_info(?1) ORDER BY seqno)",
	                     -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		snprintf(out, sizeof(out), "%s", sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return (out);
}

static void
index_add(const char *col, int unique)
{
	char body[96];

	snprintf(body, sizeof(body), "{\"column\":\"%s\",\"unique\":%s}", col,
	    unique ? "true" : "false");
	json_decref(ok(data_h_collections_index_create, "admin", N("shape"),
	    NULL, body, 201));
}

// A non-unique admin index on X is (X, _deleted_at, up to
// DATA_INDEX_COVER other admin-indexed columns in creation order); a
// unique one is on X alone; every index change reshapes the others, and
// so does a dropped column. A filter on one indexed column sorted by
// another is then read without a row lookup per index entry.
static void
test_index_shape(void **state)
{
	char   *plan;
	json_t *r;
	json_t *items;

	(void) state;
	for (int i = 0; i < 30; i++) {
		char body[192];

		snprintf(body, sizeof(body),
		    "{\"a\":%d,\"b\":%d,\"c\":\"c%d\",\"d\":%d,"
		    "\"e\":%d,\"f\":%d,\"g\":%d}",
		    i % 3, 100 - i, i, i, i, i, i);
		mk("shape", "U1", body);
	}
	// columns a..g are at positions 1..7 of collection 1
	index_add("a", 0);
	assert_string_equal(index_cols("i1_1"), "a,_deleted_at");
	index_add("b", 0);
	assert_string_equal(index_cols("i1_1"), "a,_deleted_at,b");
	assert_string_equal(index_cols("i1_2"), "b,_deleted_at,a");
	index_add("c", 1);
	assert_string_equal(index_cols("i1_3"), "c");
	assert_string_equal(index_cols("i1_1"), "a,_deleted_at,b,c");
	assert_string_equal(index_cols("i1_2"), "b,_deleted_at,a,c");
	index_add("d", 0);
	index_add("e", 0);
	index_add("f", 0);
	// at most DATA_INDEX_COVER others
	assert_string_equal(index_cols("i1_1"), "a,_deleted_at,b,c,d,e");
	assert_string_equal(index_cols("i1_6"), "f,_deleted_at,a,b,c,d");
	// the filter is tested on the sort field's index entries
	plan = plan_of("SELECT * FROM r1 INDEXED BY i1_2 WHERE \"a\" = 1"
	               " AND \"_deleted_at\" IS NULL ORDER BY \"b\" DESC");
	assert_non_null(strstr(plan, "USING INDEX i1_2"));
	lc_free(plan);
	// gone: the others lose it
	expect(data_h_collections_index_delete, "admin",
	    "{\"name\":\"shape\",\"column\":\"b\"}", NULL, NULL, 200, NULL,
	    NULL);
	assert_string_equal(index_cols("i1_2"), "");
	assert_string_equal(index_cols("i1_1"), "a,_deleted_at,c,d,e,f");
	// a dropped column leaves every index it was in
	expect(data_h_collections_drop_column, "admin",
	    "{\"name\":\"shape\",\"column\":\"c\"}", NULL, NULL, 200, NULL,
	    NULL);
	assert_string_equal(index_cols("i1_3"), "");
	assert_string_equal(index_cols("i1_1"), "a,_deleted_at,d,e,f");
	assert_string_equal(index_cols("i1_4"), "d,_deleted_at,a,e,f");
	// the list's answer is the same whichever index reads it
	r     = ok(data_h_records_list, "U1", "{\"collection\":\"shape\"}",
	        "{\"filter\":\"a:eq:1\",\"sort\":\"-d\",\"limit\":3}", NULL, 200);
	items = json_object_get(r, "items");
	assert_int_equal(json_array_size(items), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(items, 0), "d")),
	    28);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(items, 2), "d")),
	    22);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 10);
	json_decref(r);
	// a start reshapes indexes made before (an older, narrower one)
	sql("DROP INDEX i1_1; CREATE INDEX i1_1 ON r1 (\"a\")");
	assert_int_equal(data_catalog_upgrade(worker.db), 0);
	assert_string_equal(index_cols("i1_1"), "a,_deleted_at,d,e,f");
}

static void
test_validation(void **state)
{
	json_t     *r;
	const char *id;
	char        params[128];

	(void) state;
	json_decref(ok(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"v\"}", 201));
	mk("v", "U1", "{\"dup\":\"x\"}");
	mk("v", "U1", "{\"dup\":\"x\"}");
	expect(data_h_collections_set_rules, "admin", N("nx"), NULL,
	    "{\"fields\":{}}", 404, "collection_not_found", NULL);
	expect(data_h_collections_set_rules, "admin", N("v"), NULL,
	    "{\"fields\":{\"p\":{\"min\":\"0\"}}}", 400, "validation_error",
	    "fields.p.min");
	expect(data_h_collections_set_rules, "admin", N("v"), NULL,
	    "{\"fields\":{\"_id\":{}}}", 400, "validation_error",
	    "fields._id");
	r = ok(data_h_collections_set_rules, "admin", N("v"), NULL,
	    "{\"fields\":{\"title\":{\"required\":true,\"maxLength\":3},"
	    "\"a\":{\"min\":5},\"slug\":{\"unique\":true},"
	    "\"num\":{\"unique\":true,\"type\":\"integer\"}}}",
	    200);
	assert_string_equal(
	    json_string_value(json_object_get(r, "name")), "v");
	assert_non_null(json_object_get(json_object_get(r, "fields"), "slug"));
	json_decref(r);
	// Unique rules created their columns with the rule's type.
	assert_int_equal(sql_int("SELECT count(*) FROM columns WHERE"
	                         " (name = 'slug' AND type = 'text') OR"
	                         " (name = 'num' AND type = 'integer')"),
	    2);
	// Existing duplicates refuse a unique rule; the old set stays.
	expect(data_h_collections_set_rules, "admin", N("v"), NULL,
	    "{\"fields\":{\"dup\":{\"unique\":true}}}", 409,
	    "unique_violation", "dup");
	expect(data_h_records_create, "U1", "{\"collection\":\"v\"}", NULL,
	    "{}", 400, "validation_error", "title");
	// Ascending name order, type checks first, unique last.
	expect(data_h_records_create, "U1", "{\"collection\":\"v\"}", NULL,
	    "{\"title\":\"long\",\"a\":1}", 400, "validation_error", "a");
	expect(data_h_records_create, "U1", "{\"collection\":\"v\"}", NULL,
	    "{\"title\":5,\"num\":\"x\"}", 400, "type_mismatch", "num");
	id = mk("v", "U1", "{\"title\":\"ok\",\"slug\":\"s\"}");
	expect(data_h_records_create, "U1", "{\"collection\":\"v\"}", NULL,
	    "{\"title\":\"ok\",\"slug\":\"s\"}", 409, "unique_violation",
	    "slug");
	expect(data_h_records_create, "U1", "{\"collection\":\"v\"}", NULL,
	    "{\"title\":\"ok\",\"slug\":\"s\",\"a\":0}", 400,
	    "validation_error", "a");
	// Update: only present fields; required means non-null.
	snprintf(params, sizeof(params),
	    "{\"collection\":\"v\",\"id\":\"%s\"}", id);
	expect(data_h_records_update, "U1", params, NULL, "{\"z\":1}", 200,
	    NULL, NULL);
	expect(data_h_records_update, "U1", params, NULL, "{\"title\":null}",
	    400, "validation_error", "title");
	expect(data_h_records_update, "U1", params, NULL, "{\"slug\":\"s\"}",
	    200, NULL, NULL);
	// Bulk (item prefix) and the admin endpoint validate too.
	r = ok(data_h_records_bulk, "U1", "{\"collection\":\"v\"}", NULL,
	    "[{\"title\":\"a\"},{\"title\":\"b\",\"slug\":\"s\"}]", 409);
	assert_string_equal(
	    json_string_value(json_object_get(r, "field")), "slug");
	assert_non_null(strstr(
	    json_string_value(json_object_get(r, "error")), "Item 1: "));
	json_decref(r);
	expect(data_h_admin_records_create, "admin", N("v"), NULL, "{\"a\":1}",
	    400, "validation_error", "a");
	// Clearing the set drops the unique index.
	json_decref(ok(data_h_collections_set_rules, "admin", N("v"), NULL,
	    "{\"fields\":{}}", 200));
	mk("v", "U1", "{\"slug\":\"s\"}");
	r = ok(data_h_collections_schema, "admin", N("v"), NULL, NULL, 200);
	assert_int_equal(json_object_size(json_object_get(
	                     json_object_get(r, "validation"), "fields")),
	    0);
	json_decref(r);
}

static void
test_aggregate(void **state)
{
	json_t *r;

	(void) state;
	json_decref(ok(data_h_collections_create, "admin", "{}", NULL,
	    "{\"name\":\"agg\",\"rules\":{\"read\":\"owner\"}}", 201));
	mk("agg", "U1", "{\"cat\":\"a\",\"p\":1.5,\"q\":1,\"b\":true}");
	mk("agg", "U1", "{\"cat\":\"b\",\"p\":2,\"q\":2,\"b\":false}");
	mk("agg", "U2", "{\"cat\":\"a\",\"p\":100,\"q\":3}");
	r = ok(data_h_records_aggregate, "U1", "{\"collection\":\"agg\"}",
	    "{\"fn\":\"sum\",\"field\":\"q\"}", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(r, "value")), 3);
	assert_string_equal(
	    json_string_value(json_object_get(r, "field")), "q");
	json_decref(r);
	r = ok(data_h_records_aggregate, "admin", "{\"collection\":\"agg\"}",
	    "{\"op\":\"sum\",\"field\":\"p\",\"group_by\":\"cat\"}", NULL,
	    200);
	assert_int_equal(json_array_size(json_object_get(r, "groups")), 2);
	assert_true(json_number_value(json_object_get(
	                json_array_get(json_object_get(r, "groups"), 0),
	                "value")) == 101.5);
	json_decref(r);
	r = ok(data_h_records_aggregate, "U1", "{\"collection\":\"agg\"}",
	    "{\"fn\":\"max\",\"field\":\"b\"}", NULL, 200);
	assert_true(json_is_true(json_object_get(r, "value")));
	json_decref(r);
	r = ok(data_h_records_aggregate, "U1", "{\"collection\":\"agg\"}",
	    "{\"fn\":\"count\"}", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(r, "value")), 2);
	assert_true(json_is_null(json_object_get(r, "field")));
	json_decref(r);
	expect(data_h_records_aggregate, NULL, "{\"collection\":\"agg\"}",
	    "{\"fn\":\"count\"}", NULL, 401, "auth_required", NULL);
	expect(data_h_records_aggregate, "U1", "{\"collection\":\"agg\"}",
	    "{\"fn\":\"count\",\"include_deleted\":\"true\"}", NULL, 403,
	    "forbidden", NULL);
	expect(data_h_records_aggregate, "U1", "{\"collection\":\"agg\"}",
	    "{\"fn\":\"median\"}", NULL, 400, "invalid_query", "fn");
	// An unknown collection is the empty set.
	r = ok(data_h_records_aggregate, NULL, "{\"collection\":\"never\"}",
	    "{\"fn\":\"sum\",\"field\":\"x\"}", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(r, "value")), 0);
	json_decref(r);
	r = ok(data_h_records_aggregate, NULL, "{\"collection\":\"never\"}",
	    "{\"fn\":\"min\",\"field\":\"x\",\"group_by\":\"y\"}", NULL, 200);
	assert_int_equal(json_array_size(json_object_get(r, "groups")), 0);
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_collections, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_schema_drop_column, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_hard_delete_fts, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fts_stage_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_index_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_aggregate, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
