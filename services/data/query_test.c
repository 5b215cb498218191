/*
 * query_test.c -- the query language of the data service (query.c): the
 * parser for every operator and error, the exact SQL and the order of the
 * bound values, and the generated SQL executed against real in-memory
 * SQLite tables (typed and untyped columns, an FTS5 index) to check the
 * results: null semantics, typing, keyset paging with ties and mixed sorts,
 * visibility, and injection attempts that must stay inert.
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

#include "lc_err.h"
#include "query.h"

/* ---- fixtures ---------------------------------------------------------- */

static const struct data_col post_cols[] = {
	{ "title", DATA_T_TEXT, NULL, NULL },
	{ "views", DATA_T_INTEGER, NULL, NULL },
	{ "price", DATA_T_REAL, NULL, NULL },
	{ "published", DATA_T_BOOLEAN, NULL, NULL },
	{ "tags", DATA_T_JSON, NULL, NULL },
	{ "zip", DATA_T_TEXT, NULL, NULL },
	{ "rank", DATA_T_INTEGER, NULL, NULL },
};

// Same columns in two tables: declared types (affinity) and none, so the
// results cannot depend on SQLite's type affinity.
static const struct data_schema posts = { "posts", "posts_fts", post_cols,
	LC_NELEM(post_cols), NULL };
static const struct data_schema loose = { "loose", "loose_fts", post_cols,
	LC_NELEM(post_cols), NULL };
static const struct data_schema nofts = { "posts", NULL, post_cols,
	LC_NELEM(post_cols), NULL };

static const struct data_qopts all_rows = { NULL, 1 };
static const struct data_qopts live     = { NULL, 0 };

#define ID(n) "01HV000000000000000000000" #n

// id, created, owner, deleted, title, views, price, published, tags, zip,
// rank. "-" is null; views/rank/published integers, price real.
static const char *const rows[][11] = {
	{ ID(1), "1000", "u1", "-", "Hello World", "10", "9.5", "1",
	    "[\"a\",\"b\"]", "12345", "1" },
	{ ID(2), "2000", "u2", "-", "hello bun", "3", "10.0", "0", "[\"c\"]",
	    "54321", "2" },
	{ ID(3), "3000", "u1", "-", "Bun native", "-", "2.25", "1", "-", "-",
	    "1" },
	{ ID(4), "4000", "-", "-", "100% pure_fun", "10", "-", "-",
	    "{\"k\":\"v\"}", "12345", "-" },
	{ ID(5), "5000", "u2", "-", "-", "7", "1.0", "0", "-", "1e3", "3" },
	{ ID(6), "6000", "u1", "6500", "'; DROP TABLE posts; --", "0", "-1.5",
	    "1", "[]", "00123", "2" },
	{ ID(7), "7000", "u1", "-", "zeta", "10", "9.5", "1", "-", "-", "1" },
	{ ID(8), "8000", "-", "-", "Zeta", "3", "-", "0", "-", "x", "-" },
};

static sqlite3 *
db_exec_ok(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fail_msg("%s: %s", sql, err);
	}
	return (db);
}

static void
insert_rows(sqlite3 *db, const char *table)
{
	char          sql[256];
	sqlite3_stmt *st;
	size_t        r;
	int           c;

	snprintf(sql, sizeof(sql),
	    "INSERT INTO %s VALUES (?1,?2,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
	    table);
	assert_int_equal(
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	for (r = 0; r < LC_NELEM(rows); r++) {
		for (c = 0; c < 11; c++) {
			const char *v = rows[r][c];

			if (strcmp(v, "-") == 0) {
				sqlite3_bind_null(st, c + 1);
			} else if (c == 1 || c == 3 || c == 5 || c == 7 ||
			    c == 10) {
				sqlite3_bind_int64(st, c + 1, atoll(v));
			} else if (c == 6) {
				sqlite3_bind_double(st, c + 1, atof(v));
			} else {
				sqlite3_bind_text(
				    st, c + 1, v, -1, SQLITE_STATIC);
			}
		}
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

static sqlite3 *
db_open(void)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	db_exec_ok(db,
	    "CREATE TABLE posts (\"_id\" TEXT PRIMARY KEY, \"_created_at\" "
	    "INTEGER NOT NULL, \"_updated_at\" INTEGER NOT NULL, "
	    "\"_owner_id\" TEXT, \"_deleted_at\" INTEGER, \"title\" TEXT, "
	    "\"views\" INTEGER, \"price\" REAL, \"published\" INTEGER, "
	    "\"tags\" TEXT, \"zip\" TEXT, \"rank\" INTEGER);"
	    "CREATE TABLE loose (\"_id\" PRIMARY KEY, \"_created_at\", "
	    "\"_updated_at\", \"_owner_id\", \"_deleted_at\", \"title\", "
	    "\"views\", \"price\", \"published\", \"tags\", \"zip\", "
	    "\"rank\");"
	    "CREATE VIRTUAL TABLE posts_fts USING fts5(title, zip);"
	    "CREATE VIRTUAL TABLE loose_fts USING fts5(title, zip);");
	insert_rows(db, "posts");
	insert_rows(db, "loose");
	db_exec_ok(db,
	    "INSERT INTO posts_fts(rowid, title, zip) "
	    "SELECT rowid, title, zip FROM posts;"
	    "INSERT INTO loose_fts(rowid, title, zip) "
	    "SELECT rowid, title, zip FROM loose;");
	return (db);
}

static int
setup(void **state)
{
	*state = db_open();
	return (0);
}

static int
teardown(void **state)
{
	sqlite3_close(*state);
	return (0);
}

/* ---- helpers ----------------------------------------------------------- */

// Parses a query object given as JSON text.
static int
parse(struct data_query *q, const struct data_schema *s,
    const struct data_qopts *o, const char *query)
{
	json_t *j = json_loads(query, JSON_ALLOW_NUL, NULL);
	int     rv;

	if (j == NULL) {
		fail_msg("bad test JSON: %s", query);
	}
	data_query_init(q, s, o);
	rv = data_query_parse(q, j);
	json_decref(j);
	return (rv);
}

// The bound values as text: i:1 r:2.5 t:abc n b:3.
static void
vals_text(const struct data_query *q, char *out, size_t cap)
{
	size_t i;
	size_t o = 0;

	out[0] = '\0';
	for (i = 0; i < q->nvals && o < cap; i++) {
		const struct data_val *v   = &q->vals[i];
		const char            *sep = i > 0 ? " " : "";
		int                    n;

		switch (v->kind) {
		case DATA_V_INT:
			n = snprintf(out + o, cap - o, "%si:%lld", sep,
			    (long long) v->i);
			break;
		case DATA_V_REAL:
			n = snprintf(out + o, cap - o, "%sr:%g", sep, v->r);
			break;
		case DATA_V_TEXT:
			n = snprintf(out + o, cap - o, "%st:%s", sep, v->p);
			break;
		case DATA_V_BLOB:
			n = snprintf(out + o, cap - o, "%sb:%zu", sep, v->len);
			break;
		default:
			n = snprintf(out + o, cap - o, "%sn", sep);
			break;
		}
		o += (size_t) n;
	}
}

// One query, all rows visible: exact WHERE text and values.
static void
expect_where(const char *query, const char *where, const char *vals)
{
	struct data_query q;
	char              got[2048];
	int               rv = parse(&q, &posts, &all_rows, query);

	if (rv != 0) {
		fail_msg("%s: rv %d (%s) field %s", query, rv, lc_err_code(rv),
		    q.err_field ? q.err_field : "-");
	}
	if (strcmp(data_query_where(&q), where) != 0) {
		fail_msg("%s:\n got  %s\n want %s", query,
		    data_query_where(&q), where);
	}
	vals_text(&q, got, sizeof(got));
	if (strcmp(got, vals) != 0) {
		fail_msg("%s: values\n got  %s\n want %s", query, got, vals);
	}
	data_query_fini(&q);
}

// Checks what parsing query gave (rv, q's error field), then frees q.
static void
check_err(struct data_query *q, const char *query, int rv, int code,
    const char *field)
{
	if (rv != code) {
		fail_msg("%s: rv %d (%s), want %s", query, rv,
		    rv ? lc_err_code(rv) : "ok", lc_err_code(code));
	}
	if ((field == NULL) != (q->err_field == NULL) ||
	    (field != NULL && strcmp(field, q->err_field) != 0)) {
		fail_msg("%s: field %s, want %s", query,
		    q->err_field ? q->err_field : "(none)",
		    field ? field : "(none)");
	}
	data_query_fini(q);
}

static void
expect_err(const char *query, int code, const char *field)
{
	struct data_query q;
	int               rv = parse(&q, &posts, &all_rows, query);

	check_err(&q, query, rv, code, field);
}

// Runs a parsed query (after cursor load) and writes the row numbers
// (last digit of the ids) as "1 3 5". Returns the cursor rv.
static int
run_rows(
    sqlite3 *db, struct data_query *q, int64_t limit, char *out, size_t cap)
{
	sqlite3_stmt *st  = NULL;
	char         *sql = NULL;
	size_t        o   = 0;
	int64_t       n   = 0;
	int           rv;
	int           sr;

	out[0] = '\0';
	if ((rv = data_query_cursor_load(q, db)) != 0) {
		return (rv);
	}
	// the page's statements in turn, as list.c runs them
	for (size_t part = 0; part < data_query_parts(q) && n < limit;
	     part++) {
		q->tail = part > 0;
		data_query_sql_list(q, limit - n, 0, &sql);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
		}
		assert_int_equal(data_query_bind(q, st), 0);
		while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
			const char *id =
			    (const char *) sqlite3_column_text(st, 0);

			o += (size_t) snprintf(out + o, cap - o, "%s%s",
			    o > 0 ? " " : "", id + 24);
			n++;
		}
		if (sr != SQLITE_DONE) {
			fail_msg("step %s: %s", sql, sqlite3_errmsg(db));
		}
		sqlite3_finalize(st);
		lc_free(sql);
	}
	q->tail = 0;
	return (0);
}

// Runs sql bound from q for one integer.
static int
one_value(sqlite3 *db, struct data_query *q, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	}
	assert_int_equal(data_query_bind(q, st), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (0);
}

static int64_t
run_count(sqlite3 *db, struct data_query *q)
{
	char   *sql = NULL;
	int64_t n   = -1;

	data_query_sql_count(q, &sql);
	(void) one_value(db, q, sql, &n);
	lc_free(sql);
	return (n);
}

// The rows a query returns, on both tables, must be `want` (ids' last
// two digits, in order); count must agree.
static void
expect_rows_o(sqlite3 *db, const struct data_qopts *o, const char *query,
    const char *want)
{
	const struct data_schema *ss[] = { &posts, &loose };
	size_t                    i;

	for (i = 0; i < LC_NELEM(ss); i++) {
		struct data_query q;
		char              got[512];
		size_t            n = 0;
		const char       *p;
		int               rv = parse(&q, ss[i], o, query);

		if (rv != 0) {
			fail_msg("%s: rv %s field %s", query, lc_err_code(rv),
			    q.err_field ? q.err_field : "-");
		}
		assert_int_equal(run_rows(db, &q, 100, got, sizeof(got)), 0);
		if (strcmp(got, want) != 0) {
			fail_msg("%s on %s: got [%s], want [%s]\n where %s",
			    query, ss[i]->table, got, want,
			    data_query_where(&q));
		}
		for (p = want; *p != '\0'; p++) {
			n += *p == ' ';
		}
		n += *want != '\0';
		if (q.after[0] == '\0' && run_count(db, &q) != (int64_t) n) {
			fail_msg("%s: count differs", query);
		}
		data_query_fini(&q);
	}
}

static void
expect_rows(sqlite3 *db, const char *query, const char *want)
{
	expect_rows_o(db, &live, query, want);
}

/* ---- names ------------------------------------------------------------- */

static void
test_names(void **state)
{
	char long63[64];
	char long64[65];

	(void) state;
	memset(long63, 'a', 63);
	long63[63] = '\0';
	memset(long64, 'a', 64);
	long64[64] = '\0';
	assert_true(data_name_valid("a", 1));
	assert_true(data_name_valid("Title_2", 7));
	assert_true(data_name_valid(long63, 63));
	assert_false(data_name_valid(long64, 64));
	assert_false(data_name_valid("", 0));
	assert_false(data_name_valid("_id", 3));
	assert_false(data_name_valid("__proto__", 9));
	assert_false(data_name_valid("2x", 2));
	assert_false(data_name_valid("a-b", 3));
	assert_false(data_name_valid("a\"b", 3));
	assert_false(data_name_valid("a;b", 3));
	assert_false(data_name_valid("t\xc3\xadtle", 6));
	assert_false(data_name_valid("a\0b", 3));

	assert_int_equal(
	    data_schema_find(&posts, "views", 5, NULL), DATA_T_INTEGER);
	assert_int_equal(
	    data_schema_find(&posts, "_owner_id", 9, NULL), DATA_T_TEXT);
	assert_int_equal(
	    data_schema_find(&posts, "_deleted_at", 11, NULL), DATA_T_INTEGER);
	assert_int_equal(
	    data_schema_find(&posts, "Views", 5, NULL), DATA_T_NONE);
	assert_int_equal(
	    data_schema_find(&posts, "view", 4, NULL), DATA_T_NONE);
	assert_int_equal(
	    data_schema_find(&posts, "_rowid_", 7, NULL), DATA_T_NONE);

	// Write side (§3.2): valid, new, and never a case twin.
	assert_int_equal(data_field_name_check(&posts, "title", 5), 0);
	assert_int_equal(data_field_name_check(&posts, "subtitle", 8), 0);
	assert_int_equal(
	    data_field_name_check(&posts, "Title", 5), LC_EINVALID_FIELD_NAME);
	assert_int_equal(
	    data_field_name_check(&posts, "VIEWS", 5), LC_EINVALID_FIELD_NAME);
	assert_int_equal(data_field_name_check(&posts, "__proto__", 9),
	    LC_EINVALID_FIELD_NAME);
	assert_int_equal(
	    data_field_name_check(&posts, long64, 64), LC_EINVALID_FIELD_NAME);
	assert_int_equal(
	    data_field_name_check(&posts, "x y", 3), LC_EINVALID_FIELD_NAME);
}

/* ---- filter: SQL text -------------------------------------------------- */

static void
test_filter_ops_sql(void **state)
{
	(void) state;
	expect_where("{}", "1", "");
	expect_where("{\"filter\":\"views:eq:3\"}", "\"views\" = ?1", "i:3");
	expect_where(
	    "{\"filter\":\"views:ne:3\"}", "\"views\" IS NOT ?1", "i:3");
	expect_where(
	    "{\"filter\":\"views:neq:3\"}", "\"views\" IS NOT ?1", "i:3");
	expect_where("{\"filter\":\"views:gt:3\"}", "\"views\" > ?1", "i:3");
	expect_where("{\"filter\":\"views:gte:3\"}", "\"views\" >= ?1", "i:3");
	expect_where("{\"filter\":\"views:lt:3\"}", "\"views\" < ?1", "i:3");
	expect_where("{\"filter\":\"views:lte:3\"}", "\"views\" <= ?1", "i:3");
	expect_where(
	    "{\"filter\":\"title:like:b%n_\"}", "\"title\" LIKE ?1", "t:b%n_");
	expect_where("{\"filter\":\"title:contains:5%_x\\\\\"}",
	    "\"title\" LIKE ?1 ESCAPE '\\'", "t:%5\\%\\_x\\\\%");
	expect_where("{\"filter\":\"title:startsWith:bun\"}",
	    "\"title\" LIKE ?1 ESCAPE '\\'", "t:bun%");
	expect_where("{\"filter\":\"views:in:1,2,3\"}",
	    "\"views\" IN (?1, ?2, ?3)", "i:1 i:2 i:3");
	expect_where("{\"filter\":\"views:nin:1,2\"}",
	    "(\"views\" IS NULL OR \"views\" NOT IN (?1, ?2))", "i:1 i:2");
	expect_where("{\"filter\":\"views:in:1,null\"}",
	    "(\"views\" IS NULL OR \"views\" IN (?1))", "i:1");
	expect_where("{\"filter\":\"views:nin:null,1\"}",
	    "(\"views\" IS NOT NULL AND \"views\" NOT IN (?1))", "i:1");
	expect_where(
	    "{\"filter\":\"views:in:null\"}", "\"views\" IS NULL", "");
	expect_where(
	    "{\"filter\":\"views:nin:null\"}", "\"views\" IS NOT NULL", "");
	expect_where("{\"filter\":\"views:in:\"}", "0", "");
	expect_where("{\"filter\":\"views:nin:\"}", "1", "");
	expect_where("{\"filter\":\"views:in:[]\"}", "0", "");
	expect_where("{\"filter\":\"views:in:[1,\\\"2\\\",null,true]\"}",
	    "(\"views\" IS NULL OR \"views\" IN (?1, ?2, ?3))", "i:1 i:2 i:1");
	// Null semantics.
	expect_where(
	    "{\"filter\":\"title:eq:null\"}", "\"title\" IS NULL", "");
	expect_where(
	    "{\"filter\":\"title:ne:null\"}", "\"title\" IS NOT NULL", "");
	expect_where("{\"filter\":\"views:gt:null\"}", "0", "");
	// Several conditions: ANDed, values in order.
	expect_where("{\"filter\":[\"published:eq:true\","
	             "\"status:in:draft,review\",\"title:contains:bun\","
	             "\"editor:eq:null\"]}",
	    "\"published\" = ?1 AND 0 AND \"title\" LIKE ?2 ESCAPE '\\' AND 1",
	    "i:1 t:%bun%");
	// System fields.
	expect_where("{\"filter\":\"_owner_id:eq:01HV\"}",
	    "\"_owner_id\" = ?1", "t:01HV");
	expect_where("{\"filter\":\"_created_at:gte:1709900000000\"}",
	    "\"_created_at\" >= ?1", "i:1709900000000");
	// The value is split at the first two colons only.
	expect_where(
	    "{\"filter\":\"title:eq:a:b:c\"}", "\"title\" = ?1", "t:a:b:c");
	expect_where("{\"filter\":\"title:eq:\"}", "\"title\" = ?1", "t:");
}

static void
test_filter_typing_sql(void **state)
{
	(void) state;
	// Text columns bind the literal form.
	expect_where(
	    "{\"filter\":\"zip:eq:12345\"}", "\"zip\" = ?1", "t:12345");
	expect_where("{\"filter\":\"zip:eq:1e3\"}", "\"zip\" = ?1", "t:1e3");
	expect_where("{\"filter\":\"zip:eq:true\"}", "\"zip\" = ?1", "t:true");
	expect_where(
	    "{\"filter\":\"zip:eq:\\\"null\\\"\"}", "\"zip\" = ?1", "t:null");
	expect_where("{\"filter\":\"zip:eq:\\\"a\\\\u00e9\\\"\"}",
	    "\"zip\" = ?1", "t:a\xc3\xa9");
	// Numeric columns bind numbers.
	expect_where(
	    "{\"filter\":\"price:gt:2.5\"}", "\"price\" > ?1", "r:2.5");
	expect_where("{\"filter\":\"price:gt:2\"}", "\"price\" > ?1", "i:2");
	expect_where(
	    "{\"filter\":\"price:gt:-1e2\"}", "\"price\" > ?1", "r:-100");
	expect_where(
	    "{\"filter\":\"views:eq:\\\"42\\\"\"}", "\"views\" = ?1", "i:42");
	expect_where("{\"filter\":\"views:eq:99999999999999999999\"}",
	    "\"views\" = ?1", "r:1e+20");
	expect_where(
	    "{\"filter\":\"views:eq:true\"}", "\"views\" = ?1", "i:1");
	expect_where("{\"filter\":\"published:eq:false\"}",
	    "\"published\" = ?1", "i:0");
	// Not JSON number syntax: a string, which no number equals.
	expect_where("{\"filter\":\"views:eq:abc\"}", "0", "");
	expect_where("{\"filter\":\"views:ne:abc\"}", "1", "");
	expect_where("{\"filter\":\"views:lt:abc\"}", "0", "");
	expect_where("{\"filter\":\"views:eq:012\"}", "0", "");
	expect_where("{\"filter\":\"views:eq:1.\"}", "0", "");
	expect_where("{\"filter\":\"views:in:1,abc,2\"}",
	    "\"views\" IN (?1, ?2)", "i:1 i:2");
	expect_where("{\"filter\":\"views:nin:abc\"}", "1", "");
	// Pattern operators use the literal form, whatever the type.
	expect_where(
	    "{\"filter\":\"views:like:1%\"}", "\"views\" LIKE ?1", "t:1%");
	expect_where("{\"filter\":\"title:contains:null\"}",
	    "\"title\" LIKE ?1 ESCAPE '\\'", "t:%null%");
	// json columns: eq/ne null, like, contains.
	expect_where("{\"filter\":\"tags:eq:null\"}", "\"tags\" IS NULL", "");
	expect_where(
	    "{\"filter\":\"tags:ne:null\"}", "\"tags\" IS NOT NULL", "");
	expect_where(
	    "{\"filter\":\"tags:like:%a%\"}", "\"tags\" LIKE ?1", "t:%a%");
	expect_where("{\"filter\":\"tags:contains:\\\"a\\\"\"}",
	    "\"tags\" LIKE ?1 ESCAPE '\\'", "t:%a%");
	expect_where(
	    "{\"filter\":\"tags:contains:\\\"\\\\\\\"a\\\\\\\"\\\"\"}",
	    "\"tags\" LIKE ?1 ESCAPE '\\'", "t:%\"a\"%");
}

static void
test_filter_unknown_field(void **state)
{
	(void) state;
	// Valid name, no column: null in every record (§3.5).
	expect_where("{\"filter\":\"nope:eq:null\"}", "1", "");
	expect_where("{\"filter\":\"nope:eq:1\"}", "0", "");
	expect_where("{\"filter\":\"nope:ne:1\"}", "1", "");
	expect_where("{\"filter\":\"nope:ne:null\"}", "0", "");
	expect_where("{\"filter\":\"nope:gt:1\"}", "0", "");
	expect_where("{\"filter\":\"nope:lte:1\"}", "0", "");
	expect_where("{\"filter\":\"nope:like:%\"}", "0", "");
	expect_where("{\"filter\":\"nope:contains:a\"}", "0", "");
	expect_where("{\"filter\":\"nope:startsWith:a\"}", "0", "");
	expect_where("{\"filter\":\"nope:in:a,b\"}", "0", "");
	expect_where("{\"filter\":\"nope:in:a,null\"}", "1", "");
	expect_where("{\"filter\":\"nope:nin:a,b\"}", "1", "");
	expect_where("{\"filter\":\"nope:nin:a,null\"}", "0", "");
	expect_where("{\"filter\":\"nope:in:\"}", "0", "");
	expect_where("{\"filter\":\"nope:nin:\"}", "1", "");
	// Case matters: SQLite would resolve "Title" to title, so the name
	// must never reach SQL.
	expect_where("{\"filter\":\"Title:eq:x\"}", "0", "");
	expect_where("{\"filter\":{\"Views\":{\"gt\":1}}}", "0", "");
}

static void
test_filter_json_forms(void **state)
{
	(void) state;
	expect_where("{\"filter\":\"{\\\"published\\\":true,"
	             "\\\"views\\\":{\\\"gte\\\":10,\\\"lt\\\":20}}\"}",
	    "\"published\" = ?1 AND \"views\" >= ?2 AND \"views\" < ?3",
	    "i:1 i:10 i:20");
	expect_where("{\"filter\":\"[{\\\"field\\\":\\\"views\\\","
	             "\\\"op\\\":\\\"gte\\\",\\\"value\\\":10}]\"}",
	    "\"views\" >= ?1", "i:10");
	// JSON values keep their types: "42" on a text column is a string,
	// 42 is printed in its literal form.
	expect_where(
	    "{\"filter\":\"{\\\"zip\\\":12345,\\\"title\\\":\\\"true\\\"}\"}",
	    "\"zip\" = ?1 AND \"title\" = ?2", "t:12345 t:true");
	expect_where(
	    "{\"filter\":\"{\\\"zip\\\":0.1}\"}", "\"zip\" = ?1", "t:0.1");
	expect_where(
	    "{\"filter\":\"{\\\"zip\\\":null}\"}", "\"zip\" IS NULL", "");
	expect_where(
	    "{\"filter\":\"{\\\"zip\\\":{\\\"contains\\\":null}}\"}", "0", "");
	expect_where("{\"filter\":\"{\\\"views\\\":{\\\"in\\\":[1,2.5]}}\"}",
	    "\"views\" IN (?1, ?2)", "i:1 r:2.5");
	// A JSON object straight from a bus caller.
	expect_where("{\"filter\":{\"views\":{\"ne\":null}}}",
	    "\"views\" IS NOT NULL", "");
	// Mixed across repeated parameters.
	expect_where(
	    "{\"filter\":[\"views:gt:1\",\"{\\\"title\\\":\\\"x\\\"}\","
	    "\"[{\\\"field\\\":\\\"rank\\\",\\\"op\\\":\\\"in\\\","
	    "\\\"value\\\":[1]}]\"]}",
	    "\"views\" > ?1 AND \"title\" = ?2 AND \"rank\" IN (?3)",
	    "i:1 t:x i:1");
	expect_where("{\"filter\":\"{}\"}", "1", "");
	expect_where("{\"filter\":\"[]\"}", "1", "");
	expect_where("{\"filter\":\"\"}", "1", "");
	expect_where("{\"filter\":[]}", "1", "");
}

static void
test_filter_errors(void **state)
{
	char  big[4096];
	char *p;
	int   i;

	(void) state;
	expect_err("{\"filter\":\"views\"}", LC_EINVALID_FILTER, NULL);
	expect_err("{\"filter\":\"views:eq\"}", LC_EINVALID_FILTER, "views");
	expect_err(
	    "{\"filter\":\"views:equals:1\"}", LC_EINVALID_FILTER, "views");
	expect_err("{\"filter\":\"views:EQ:1\"}", LC_EINVALID_FILTER, "views");
	expect_err("{\"filter\":\"title:startswith:a\"}", LC_EINVALID_FILTER,
	    "title");
	expect_err("{\"filter\":\":eq:1\"}", LC_EINVALID_FILTER, "");
	expect_err("{\"filter\":\"1a:eq:1\"}", LC_EINVALID_FILTER, "1a");
	expect_err(
	    "{\"filter\":\"_secret:eq:1\"}", LC_EINVALID_FILTER, "_secret");
	expect_err("{\"filter\":\"__proto__:eq:1\"}", LC_EINVALID_FILTER,
	    "__proto__");
	expect_err(
	    "{\"filter\":\"ti\\\"tle:eq:1\"}", LC_EINVALID_FILTER, "ti\"tle");
	expect_err("{\"filter\":\"title;DROP TABLE posts:eq:1\"}",
	    LC_EINVALID_FILTER, "title;DROP TABLE posts");
	expect_err("{\"filter\":\"t\\u00edtle:eq:1\"}", LC_EINVALID_FILTER,
	    "t\xc3\xadtle");
	expect_err(
	    "{\"filter\":\"a\\u0000b:eq:1\"}", LC_EINVALID_FILTER, NULL);
	// json columns.
	expect_err("{\"filter\":\"tags:gt:1\"}", LC_EINVALID_FILTER, "tags");
	expect_err("{\"filter\":\"tags:eq:1\"}", LC_EINVALID_FILTER, "tags");
	expect_err("{\"filter\":\"tags:ne:x\"}", LC_EINVALID_FILTER, "tags");
	expect_err("{\"filter\":\"tags:in:a\"}", LC_EINVALID_FILTER, "tags");
	expect_err(
	    "{\"filter\":\"tags:startsWith:a\"}", LC_EINVALID_FILTER, "tags");
	// Bad values.
	expect_err("{\"filter\":\"title:eq:\\\"a\\\"b\\\"\"}",
	    LC_EINVALID_FILTER, "title");
	expect_err(
	    "{\"filter\":\"views:in:[1,[2]]\"}", LC_EINVALID_FILTER, "views");
	expect_err(
	    "{\"filter\":\"views:in:[1,\"}", LC_EINVALID_FILTER, "views");
	expect_err("{\"filter\":\"views:in:1,\\\"x\"}", 0, NULL);
	expect_err("{\"filter\":\"views:in:1,\\\"x\\\"y\\\"\"}",
	    LC_EINVALID_FILTER, "views");
	// JSON forms.
	expect_err("{\"filter\":\"{bad\"}", LC_EINVALID_FILTER, NULL);
	expect_err("{\"filter\":\"{\\\"a\\\":1,\\\"a\\\":2}\"}",
	    LC_EINVALID_FILTER, NULL);
	expect_err("{\"filter\":\"{\\\"views\\\":[1]}\"}", LC_EINVALID_FILTER,
	    "views");
	expect_err("{\"filter\":\"{\\\"views\\\":{}}\"}", LC_EINVALID_FILTER,
	    "views");
	expect_err("{\"filter\":\"{\\\"views\\\":{\\\"in\\\":1}}\"}",
	    LC_EINVALID_FILTER, "views");
	expect_err("{\"filter\":\"{\\\"views\\\":{\\\"eq\\\":{}}}\"}",
	    LC_EINVALID_FILTER, "views");
	expect_err("{\"filter\":\"{\\\"views\\\":{\\\"bogus\\\":1}}\"}",
	    LC_EINVALID_FILTER, "views");
	expect_err("{\"filter\":\"{\\\"__proto__\\\":1}\"}",
	    LC_EINVALID_FILTER, "__proto__");
	expect_err("{\"filter\":\"[1]\"}", LC_EINVALID_FILTER, NULL);
	expect_err(
	    "{\"filter\":\"[{\\\"op\\\":\\\"eq\\\",\\\"value\\\":1}]\"}",
	    LC_EINVALID_FILTER, NULL);
	expect_err("{\"filter\":\"[{\\\"field\\\":\\\"views\\\","
	           "\\\"value\\\":1}]\"}",
	    LC_EINVALID_FILTER, "views");
	expect_err("{\"filter\":\"[{\\\"field\\\":\\\"views\\\","
	           "\\\"op\\\":\\\"eq\\\"}]\"}",
	    LC_EINVALID_FILTER, "views");
	// Wrong JSON types from a bus caller.
	expect_err("{\"filter\":1}", LC_EINVALID_FILTER, NULL);
	expect_err("{\"filter\":[1]}", LC_EINVALID_FILTER, NULL);

	// At most 20 conditions, counted over every form.
	p = big;
	p += sprintf(p, "{\"filter\":[");
	for (i = 0; i < 20; i++) {
		p += sprintf(p, "%s\"views:gt:%d\"", i ? "," : "", i);
	}
	sprintf(p, "]}");
	expect_err(big, 0, NULL);
	sprintf(p, ",\"views:gt:1\"]}");
	expect_err(big, LC_EINVALID_FILTER, NULL);
	expect_err(
	    "{\"filter\":[\"views:gt:1\",\"{\\\"a\\\":1,\\\"b\\\":2,"
	    "\\\"c\\\":3,\\\"d\\\":4,\\\"e\\\":5,\\\"f\\\":6,\\\"g\\\":7,"
	    "\\\"h\\\":8,\\\"i\\\":9,\\\"j\\\":10,\\\"k\\\":11,"
	    "\\\"l\\\":12,\\\"m\\\":13,\\\"n\\\":14,\\\"o\\\":15,"
	    "\\\"p\\\":16,\\\"q\\\":17,\\\"r\\\":18,\\\"s\\\":{\\\"gt\\\":1,"
	    "\\\"lt\\\":2}}\"]}",
	    LC_EINVALID_FILTER, NULL);
	// At most 100 list items, in both list forms.
	p = big;
	p += sprintf(p, "{\"filter\":\"views:in:");
	for (i = 0; i < 100; i++) {
		p += sprintf(p, "%s%d", i ? "," : "", i);
	}
	sprintf(p, "\"}");
	expect_err(big, 0, NULL);
	sprintf(p, ",7\"}");
	expect_err(big, LC_EINVALID_FILTER, "views");
	p = big;
	p += sprintf(p, "{\"filter\":\"views:nin:[");
	for (i = 0; i < 101; i++) {
		p += sprintf(p, "%s%d", i ? "," : "", i);
	}
	sprintf(p, "]\"}");
	expect_err(big, LC_EINVALID_FILTER, "views");
}

/* ---- sort, fields, after ----------------------------------------------- */

static void
expect_order(const char *query, const char *order)
{
	struct data_query q;
	int               rv = parse(&q, &posts, &all_rows, query);

	if (rv != 0) {
		fail_msg("%s: rv %s", query, lc_err_code(rv));
	}
	if (strcmp(data_query_order(&q), order) != 0) {
		fail_msg("%s:\n got  %s\n want %s", query,
		    data_query_order(&q), order);
	}
	data_query_fini(&q);
}

static void
test_sort(void **state)
{
	(void) state;
	expect_order("{}", "\"_id\" ASC");
	expect_order("{\"sort\":\"\"}", "\"_id\" ASC");
	expect_order("{\"sort\":\"views\"}", "\"views\" ASC, \"_id\" ASC");
	expect_order("{\"sort\":\"+views\"}", "\"views\" ASC, \"_id\" ASC");
	expect_order("{\"sort\":\" views\"}", "\"views\" ASC, \"_id\" ASC");
	expect_order("{\"sort\":\"-views\"}", "\"views\" DESC, \"_id\" ASC");
	expect_order(
	    "{\"sort\":\"views:desc\"}", "\"views\" DESC, \"_id\" ASC");
	expect_order("{\"sort\":\"views:asc\"}", "\"views\" ASC, \"_id\" ASC");
	expect_order("{\"sort\":\"-views,title:asc,price:desc\"}",
	    "\"views\" DESC, \"title\" ASC, \"price\" DESC, \"_id\" ASC");
	// Repeated parameters are concatenated.
	expect_order("{\"sort\":[\"-views\",\"title\"]}",
	    "\"views\" DESC, \"title\" ASC, \"_id\" ASC");
	// _id given: no second tie-breaker; a repeated field adds nothing.
	expect_order("{\"sort\":\"-_id\"}", "\"_id\" DESC");
	expect_order("{\"sort\":\"views,-views,-_id,title\"}",
	    "\"views\" ASC, \"_id\" DESC");
	// Not a column: sorts as all-null, i.e. not at all.
	expect_order(
	    "{\"sort\":\"nope,-views\"}", "\"views\" DESC, \"_id\" ASC");
	expect_order("{\"sort\":\"_created_at:desc\"}",
	    "\"_created_at\" DESC, \"_id\" ASC");
	expect_order("{\"sort\":\"a,b,c,d,e\"}", "\"_id\" ASC");

	expect_err("{\"sort\":\"a,b,c,d,e,f\"}", LC_EINVALID_QUERY, "sort");
	expect_err(
	    "{\"sort\":[\"a,b,c\",\"d,e,f\"]}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"views:up\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"views:DESC\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"-views:desc\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"views,\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\",views\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"-\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"--views\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"ti\\\"tle\"}", LC_EINVALID_QUERY, "sort");
	expect_err(
	    "{\"sort\":\"views;DROP TABLE x\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"__proto__\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":\"views DESC\"}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":1}", LC_EINVALID_QUERY, "sort");
	expect_err("{\"sort\":[\"views\",2]}", LC_EINVALID_QUERY, "sort");
	// The contract's error order: sort before filter before search
	// before after.
	expect_err("{\"sort\":\"x:y\",\"filter\":\"x\",\"search\":\"(\","
	           "\"after\":\"x\"}",
	    LC_EINVALID_QUERY, "sort");
	expect_err("{\"filter\":\"x\",\"search\":\"(\",\"after\":\"x\"}",
	    LC_EINVALID_FILTER, NULL);
	expect_err(
	    "{\"search\":\"(\",\"after\":\"x\"}", LC_EINVALID_SEARCH, NULL);
	expect_err("{\"after\":\"x\"}", LC_EINVALID_CURSOR, NULL);
}

static void
expect_cols(const struct data_qopts *o, const char *query, const char *cols)
{
	struct data_query q;

	assert_int_equal(parse(&q, &posts, o, query), 0);
	if (strcmp(data_query_columns(&q), cols) != 0) {
		fail_msg("%s:\n got  %s\n want %s", query,
		    data_query_columns(&q), cols);
	}
	data_query_fini(&q);
}

static void
test_fields(void **state)
{
	struct data_query q;

	(void) state;
	expect_cols(&live, "{}",
	    "\"_id\", \"_created_at\", \"_updated_at\", \"_owner_id\", "
	    "\"_deleted_at\", \"title\", \"views\", \"price\", \"published\", "
	    "\"tags\", \"zip\", \"rank\"");
	expect_cols(&live, "{\"fields\":\"\"}",
	    "\"_id\", \"_created_at\", \"_updated_at\", \"_owner_id\", "
	    "\"_deleted_at\", \"title\", \"views\", \"price\", \"published\", "
	    "\"tags\", \"zip\", \"rank\"");
	expect_cols(&live, "{\"fields\":\"views,title\"}",
	    "\"_id\", \"views\", \"title\"");
	expect_cols(&live,
	    "{\"fields\":\"_owner_id,nope,views,views,_id,Title,x\\\"y,,"
	    "__proto__\"}",
	    "\"_id\", \"_owner_id\", \"views\"");
	expect_err("{\"fields\":3}", LC_EINVALID_QUERY, "fields");

	// A column the handler needs (expand), outside `fields`.
	assert_int_equal(
	    parse(&q, &posts, &live, "{\"fields\":\"views\"}"), 0);
	assert_int_equal(data_query_select_add(&q, "tags", 4), 1);
	assert_int_equal(data_query_select_add(&q, "views", 5), 1);
	assert_int_equal(data_query_select_add(&q, "nope", 4), 0);
	assert_int_equal(data_query_select_add(&q, "x\"", 2), 0);
	assert_string_equal(
	    data_query_columns(&q), "\"_id\", \"views\", \"tags\"");
	assert_int_equal(q.nproj, 3);
	assert_false(q.proj[1].hidden);
	assert_true(q.proj[2].hidden);
	assert_int_equal(q.proj[2].type, DATA_T_JSON);
	assert_true(q.proj[0].sys);
	data_query_fini(&q);
}

static void
test_after_syntax(void **state)
{
	struct data_query q;

	(void) state;
	expect_err("{\"after\":\"\"}", 0, NULL);
	expect_err("{\"after\":\"" ID(1) "\"}", 0, NULL);
	expect_err("{\"after\":\"01hv0000000000000000000001\"}",
	    LC_EINVALID_CURSOR, NULL);
	expect_err("{\"after\":\"01HV000000000000000000000\"}",
	    LC_EINVALID_CURSOR, NULL);
	expect_err("{\"after\":\"01HV0000000000000000000001X\"}",
	    LC_EINVALID_CURSOR, NULL);
	expect_err("{\"after\":\"81HV0000000000000000000001\"}",
	    LC_EINVALID_CURSOR, NULL);
	expect_err("{\"after\":\"01HV000000000000000000000U\"}",
	    LC_EINVALID_CURSOR, NULL);
	expect_err("{\"after\":\"' OR 1=1 --\"}", LC_EINVALID_CURSOR, NULL);
	expect_err("{\"after\":5}", LC_EINVALID_CURSOR, NULL);
	assert_int_equal(
	    parse(&q, &posts, &live, "{\"after\":\"" ID(3) "\"}"), 0);
	assert_string_equal(q.after, ID(3));
	data_query_fini(&q);
	// Not an object at all.
	data_query_init(&q, &posts, &live);
	assert_int_equal(data_query_parse(&q, NULL), 0);
	data_query_fini(&q);
}

/* ---- search ------------------------------------------------------------ */

static void
expect_match(const char *in, const char *out)
{
	char *m  = NULL;
	int   rv = data_search_compile(in, strlen(in), &m);

	if (out == NULL) {
		if (rv != LC_EINVALID_SEARCH) {
			fail_msg(
			    "[%s] compiled to [%s]", in, m ? m : "(null)");
		}
		return;
	}
	if (rv != 0) {
		fail_msg("[%s]: invalid_search", in);
	}
	if ((*out == '\0') != (m == NULL) || (m != NULL && strcmp(m, out))) {
		fail_msg("[%s]:\n got  [%s]\n want [%s]", in, m ? m : "(null)",
		    out);
	}
	lc_free(m);
}

static void
test_search_compile(void **state)
{
	char deep[64];
	int  i;

	(void) state;
	expect_match("", "");
	expect_match("   \t ", "");
	expect_match("bun", "\"bun\"");
	expect_match("bun*", "\"bun\"*");
	expect_match("\"bun native\"", "\"bun native\"");
	expect_match("\"bun nat\"*", "\"bun nat\"*");
	expect_match("\"say \"\"hi\"\"\"", "\"say \"\"hi\"\"\"");
	expect_match(
	    "a AND b OR c NOT d", "\"a\" AND \"b\" OR \"c\" NOT \"d\"");
	expect_match("a  b\tc", "\"a\" \"b\" \"c\"");
	expect_match("(a OR b) AND c", "(\"a\" OR \"b\") AND \"c\"");
	expect_match("((a))", "((\"a\"))");
	expect_match("a NOT (b c)", "\"a\" NOT (\"b\" \"c\")");
	// Lower-case keywords are terms; other FTS5 syntax is term text.
	expect_match("a and b", "\"a\" \"and\" \"b\"");
	expect_match("title:bun", "\"title:bun\"");
	expect_match("a-b", "\"a-b\"");
	expect_match("NEAR(a b)", NULL); // a phrase next to a group
	expect_match("^a +b {x}", "\"^a\" \"+b\" \"{x}\"");
	expect_match("x'; DROP TABLE posts; --",
	    "\"x';\" \"DROP\" \"TABLE\" \"posts;\" \"--\"");
	expect_match("x'); DROP TABLE posts; --", NULL); // unbalanced )
	expect_match("caf\xc3\xa9*", "\"caf\xc3\xa9\"*");
	expect_match("a**", "\"a*\"*");
	expect_match("\"a\"b", "\"a\" \"b\"");

	expect_match("\"bun", NULL);
	expect_match("bun\"", NULL);
	expect_match("(bun", NULL);
	expect_match("bun)", NULL);
	expect_match("()", NULL);
	expect_match("AND", NULL);
	expect_match("bun AND", NULL);
	expect_match("OR bun", NULL);
	expect_match("NOT bun", NULL);
	expect_match("a AND NOT b", NULL);
	expect_match("a OR OR b", NULL);
	expect_match("*", NULL);
	expect_match("a *", NULL);
	expect_match("(a) b", NULL);
	expect_match("a (b)", NULL);
	expect_match("(a)(b)", NULL);
	assert_int_equal(data_search_compile("a\0b", 3, &(char *) { NULL }),
	    LC_EINVALID_SEARCH);
	// Nesting is bounded (FTS5's parser stack is small).
	for (i = 0; i < DATA_SEARCH_DEPTH; i++) {
		deep[i]                         = '(';
		deep[DATA_SEARCH_DEPTH + 1 + i] = ')';
	}
	deep[DATA_SEARCH_DEPTH]         = 'a';
	deep[2 * DATA_SEARCH_DEPTH + 1] = '\0';
	expect_match(deep,
	    "((((((((\"a\"))))))))"); // DATA_SEARCH_DEPTH is 8
	memmove(deep + 1, deep, strlen(deep) + 1);
	deep[0] = '(';
	strcat(deep, ")");
	expect_match(deep, NULL);

	expect_err("{\"search\":\"a AND\"}", LC_EINVALID_SEARCH, NULL);
	expect_err("{\"search\":1}", LC_EINVALID_SEARCH, NULL);
	expect_where("{\"search\":\"\"}", "1", "");
	expect_where("{\"search\":\"bun*\",\"filter\":\"views:gt:1\"}",
	    "\"views\" > ?1 AND _rowid_ IN (SELECT rowid FROM \"posts_fts\" "
	    "WHERE \"posts_fts\" MATCH ?2)",
	    "i:1 t:\"bun\"*");
}

static void
test_search_exec(void **state)
{
	sqlite3          *db = *state;
	struct data_query q;
	char              got[128];

	expect_rows(db, "{\"search\":\"bun\"}", "02 03");
	expect_rows(db, "{\"search\":\"BUN\"}", "02 03");
	expect_rows(db, "{\"search\":\"bu*\"}", "02 03");
	expect_rows(db, "{\"search\":\"\\\"bun native\\\"\"}", "03");
	expect_rows(db, "{\"search\":\"\\\"native bun\\\"\"}", "");
	expect_rows(db, "{\"search\":\"hello NOT world\"}", "02");
	expect_rows(db, "{\"search\":\"(hello OR zeta) AND bun\"}", "02");
	expect_rows(db, "{\"search\":\"hello OR zeta\"}", "01 02 07 08");
	expect_rows(db, "{\"search\":\"hello world\"}", "01");
	expect_rows(db, "{\"search\":\"12345\"}", "01 04");
	expect_rows(db, "{\"search\":\"title:bun\"}", "");
	expect_rows(db, "{\"search\":\"a-b\"}", "");
	expect_rows(db, "{\"search\":\"+ OR bun\"}", "02 03");
	// Combined with filter and sort; search does not change the order.
	expect_rows(db,
	    "{\"search\":\"bun OR zeta\",\"filter\":\"published:eq:1\","
	    "\"sort\":\"-title\"}",
	    "07 03");
	// The injection row is soft-deleted: visible only with deleted.
	expect_rows(db, "{\"search\":\"DROP\"}", "");
	expect_rows_o(db, &all_rows, "{\"search\":\"DROP TABLE\"}", "06");
	// A search alone counts on the FTS index when no row is soft-deleted:
	// here one is (the injection row), so the count looks rows up.
	{
		char   *any;
		char   *fts;
		int64_t n = -1;

		assert_int_equal(
		    parse(&q, &posts, &live, "{\"search\":\"bun OR DROP\"}"),
		    0);
		assert_int_equal(data_query_sql_count_fts(&q, &any, &fts), 1);
		assert_string_equal(any,
		    "SELECT EXISTS (SELECT 1 FROM \"posts\" WHERE "
		    "\"_deleted_at\""
		    " IS NOT NULL)");
		assert_string_equal(fts,
		    "SELECT count(*) FROM \"posts_fts\" WHERE \"posts_fts\""
		    " MATCH ?1");
		assert_int_equal(one_value(db, &q, any, &n), 0);
		assert_int_equal(n, 1); // so not this way
		assert_int_equal(one_value(db, &q, fts, &n), 0);
		assert_int_equal(n, 3); // which counts the deleted row too
		assert_int_equal(run_count(db, &q), 2);
		lc_free(any);
		lc_free(fts);
		data_query_fini(&q);
		// not for a filter, an owner limit or include_deleted
		const char *no[] = {
			"{\"search\":\"bun\",\"filter\":\"views:gt:1\"}"
		};
		assert_int_equal(parse(&q, &posts, &live, no[0]), 0);
		assert_int_equal(data_query_sql_count_fts(&q, &any, &fts), 0);
		assert_null(any);
		data_query_fini(&q);
		assert_int_equal(
		    parse(&q, &posts, &(struct data_qopts) { "u1", 0 },
		        "{\"search\":\"bun\"}"),
		    0);
		assert_int_equal(data_query_sql_count_fts(&q, &any, &fts), 0);
		data_query_fini(&q);
		assert_int_equal(
		    parse(&q, &posts, &all_rows, "{\"search\":\"bun\"}"), 0);
		assert_int_equal(data_query_sql_count_fts(&q, &any, &fts), 0);
		data_query_fini(&q);
	}
	// Without an FTS table (no text column) nothing matches.
	assert_int_equal(parse(&q, &nofts, &live, "{\"search\":\"bun\"}"), 0);
	assert_int_equal(run_rows(db, &q, 100, got, sizeof(got)), 0);
	assert_string_equal(got, "");
	assert_string_equal(
	    data_query_where(&q), "\"_deleted_at\" IS NULL AND 0");
	data_query_fini(&q);
}

/* ---- execution --------------------------------------------------------- */

static void
test_exec_filters(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "{}", "01 02 03 04 05 07 08");
	expect_rows_o(db, &all_rows, "{}", "01 02 03 04 05 06 07 08");
	// eq / ne and nulls.
	expect_rows(db, "{\"filter\":\"views:eq:10\"}", "01 04 07");
	expect_rows(db, "{\"filter\":\"views:eq:10.0\"}", "01 04 07");
	expect_rows(db, "{\"filter\":\"views:eq:\\\"10\\\"\"}", "01 04 07");
	expect_rows(db, "{\"filter\":\"views:ne:10\"}", "02 03 05 08");
	expect_rows(db, "{\"filter\":\"views:eq:null\"}", "03");
	expect_rows(db, "{\"filter\":\"views:ne:null\"}", "01 02 04 05 07 08");
	expect_rows(db, "{\"filter\":\"views:eq:abc\"}", "");
	expect_rows(
	    db, "{\"filter\":\"views:ne:abc\"}", "01 02 03 04 05 07 08");
	// Ordered comparisons never match nulls.
	expect_rows(db, "{\"filter\":\"views:gt:3\"}", "01 04 05 07");
	expect_rows(db, "{\"filter\":\"views:gte:3\"}", "01 02 04 05 07 08");
	expect_rows(db, "{\"filter\":\"views:lt:7\"}", "02 08");
	expect_rows(db, "{\"filter\":\"views:lte:7\"}", "02 05 08");
	expect_rows(db, "{\"filter\":\"views:lt:abc\"}", "");
	expect_rows(db, "{\"filter\":\"price:gt:2.25\"}", "01 02 07");
	expect_rows(db, "{\"filter\":\"price:gte:2.25\"}", "01 02 03 07");
	expect_rows(db, "{\"filter\":\"price:eq:10\"}", "02");
	expect_rows(db, "{\"filter\":\"price:lt:1e1\"}", "01 03 05 07");
	// Booleans hold 1/0.
	expect_rows(db, "{\"filter\":\"published:eq:true\"}", "01 03 07");
	expect_rows(db, "{\"filter\":\"published:eq:1\"}", "01 03 07");
	expect_rows(db, "{\"filter\":\"published:eq:false\"}", "02 05 08");
	expect_rows(db, "{\"filter\":\"published:ne:true\"}", "02 04 05 08");
	expect_rows(
	    db, "{\"filter\":\"published:ne:null\"}", "01 02 03 05 07 08");
	// Text compares as text, by its literal form.
	expect_rows(db, "{\"filter\":\"zip:eq:12345\"}", "01 04");
	expect_rows(db, "{\"filter\":\"zip:eq:1e3\"}", "05");
	expect_rows(db, "{\"filter\":\"zip:eq:1000\"}", "");
	expect_rows_o(db, &all_rows, "{\"filter\":\"zip:eq:00123\"}", "06");
	expect_rows(db, "{\"filter\":\"zip:gt:2\"}", "02 08");
	expect_rows(db, "{\"filter\":\"title:eq:zeta\"}", "07");
	expect_rows(db, "{\"filter\":\"title:gt:Z\"}", "02 07 08");
	// like / contains / startsWith: ASCII case-insensitive.
	expect_rows(db, "{\"filter\":\"title:like:hello%\"}", "01 02");
	expect_rows(db, "{\"filter\":\"title:like:_eta\"}", "07 08");
	expect_rows(db, "{\"filter\":\"title:contains:BUN\"}", "02 03");
	expect_rows(db, "{\"filter\":\"title:contains:%\"}", "04");
	expect_rows(db, "{\"filter\":\"title:contains:e_f\"}", "04");
	expect_rows(db, "{\"filter\":\"title:contains:%25\"}", "");
	expect_rows(db, "{\"filter\":\"title:contains:0% \"}", "04");
	expect_rows(db, "{\"filter\":\"title:startsWith:ZET\"}", "07 08");
	expect_rows(db, "{\"filter\":\"title:startsWith:_\"}", "");
	expect_rows(db, "{\"filter\":\"title:like:%\"}", "01 02 03 04 07 08");
	expect_rows(db, "{\"filter\":\"views:like:1%\"}", "01 04 07");
	// in / nin.
	expect_rows(db, "{\"filter\":\"views:in:3,7\"}", "02 05 08");
	expect_rows(db, "{\"filter\":\"views:in:[3,\\\"7\\\"]\"}", "02 05 08");
	expect_rows(db, "{\"filter\":\"views:in:3,null\"}", "02 03 08");
	expect_rows(db, "{\"filter\":\"views:nin:3,7\"}", "01 03 04 07");
	expect_rows(db, "{\"filter\":\"views:nin:3,null\"}", "01 04 05 07");
	expect_rows(db, "{\"filter\":\"views:in:\"}", "");
	expect_rows(db, "{\"filter\":\"views:nin:\"}", "01 02 03 04 05 07 08");
	expect_rows(db, "{\"filter\":\"title:in:zeta,Zeta,nobody\"}", "07 08");
	expect_rows(db, "{\"filter\":\"zip:nin:12345,x\"}", "02 03 05 07");
	// json columns: null tests and text matching on the JSON text.
	expect_rows(db, "{\"filter\":\"tags:eq:null\"}", "03 05 07 08");
	expect_rows(db, "{\"filter\":\"tags:ne:null\"}", "01 02 04");
	expect_rows(db,
	    "{\"filter\":\"tags:contains:\\\"\\\\\\\"a\\\\\\\"\\\"\"}", "01");
	expect_rows(db, "{\"filter\":\"tags:like:{%\"}", "04");
	// Not a column: null everywhere.
	expect_rows(
	    db, "{\"filter\":\"nope:eq:null\"}", "01 02 03 04 05 07 08");
	expect_rows(db, "{\"filter\":\"nope:ne:1\"}", "01 02 03 04 05 07 08");
	expect_rows(db, "{\"filter\":\"nope:eq:1\"}", "");
	expect_rows(db, "{\"filter\":\"nope:gt:1\"}", "");
	// System fields.
	expect_rows(db, "{\"filter\":\"_owner_id:eq:u2\"}", "02 05");
	expect_rows(db, "{\"filter\":\"_owner_id:eq:null\"}", "04 08");
	expect_rows(db, "{\"filter\":\"_created_at:gte:7000\"}", "07 08");
	expect_rows(db, "{\"filter\":\"_id:eq:" ID(5) "\"}", "05");
	expect_rows_o(
	    db, &all_rows, "{\"filter\":\"_deleted_at:ne:null\"}", "06");
	// Several conditions, both forms.
	expect_rows(db,
	    "{\"filter\":[\"published:eq:true\",\"views:in:10,3\","
	    "\"{\\\"price\\\":{\\\"gt\\\":5}}\"]}",
	    "01 07");
}

static void
test_visibility(void **state)
{
	sqlite3                *db    = *state;
	const struct data_qopts owner = { "u1", 0 };
	const struct data_qopts ownd  = { "u1", 1 };
	struct data_query       q;
	char                    got[128];

	expect_rows_o(db, &owner, "{}", "01 03 07");
	expect_rows_o(db, &ownd, "{}", "01 03 06 07");
	expect_rows_o(db, &owner, "{\"filter\":\"views:eq:10\"}", "01 07");
	// A filter on _owner_id cannot widen what the rule shows.
	expect_rows_o(db, &owner, "{\"filter\":\"_owner_id:eq:u2\"}", "");
	// The where text: visibility first, the owner bound as ?1.
	assert_int_equal(
	    parse(&q, &posts, &owner, "{\"filter\":\"views:gt:1\"}"), 0);
	assert_string_equal(data_query_where(&q),
	    "\"_deleted_at\" IS NULL AND \"_owner_id\" = ?1 AND \"views\" > "
	    "?2");
	data_query_fini(&q);
	// Cursor: someone else's record is no cursor for an owner-rule
	// caller; a soft-deleted record of the collection is one.
	assert_int_equal(
	    parse(&q, &posts, &owner, "{\"after\":\"" ID(2) "\"}"), 0);
	assert_int_equal(
	    run_rows(db, &q, 10, got, sizeof(got)), LC_EINVALID_CURSOR);
	data_query_fini(&q);
	assert_int_equal(
	    parse(&q, &posts, &owner, "{\"after\":\"" ID(6) "\"}"), 0);
	assert_int_equal(run_rows(db, &q, 10, got, sizeof(got)), 0);
	assert_string_equal(got, "07");
	data_query_fini(&q);
	expect_rows(db, "{\"after\":\"" ID(6) "\"}", "07 08");
	expect_rows(db, "{\"after\":\"" ID(6) "\",\"sort\":\"-views\"}", "03");
	// Unknown id.
	assert_int_equal(parse(&q, &posts, &live,
	                     "{\"after\":\"01HV0000000000000000000099\"}"),
	    0);
	assert_int_equal(
	    run_rows(db, &q, 10, got, sizeof(got)), LC_EINVALID_CURSOR);
	data_query_fini(&q);
}

static void
test_injection(void **state)
{
	sqlite3          *db = *state;
	struct data_query q;
	char              got[128];
	char              name[300];
	char              longname[240];

	// Values with SQL stay values.
	expect_rows_o(db, &all_rows,
	    "{\"filter\":\"title:eq:'; DROP TABLE posts; --\"}", "06");
	expect_rows(db, "{\"filter\":\"title:eq:' OR '1'='1\"}", "");
	expect_rows(db, "{\"filter\":\"title:eq:\\\" OR 1=1 --\"}", "");
	expect_rows(db, "{\"filter\":\"views:eq:1 OR 1=1\"}", "");
	expect_rows(
	    db, "{\"filter\":\"zip:in:x') OR ('1'='1,12345\"}", "01 04");
	expect_rows(db, "{\"filter\":\"title:like:%' OR 1=1 --\"}", "");
	expect_rows(db,
	    "{\"filter\":\"{\\\"title\\\":\\\"x\\\\\\\"); DROP TABLE "
	    "posts;\\\"}\"}",
	    "");
	expect_err("{\"search\":\"x\\\"\\\" OR 1=1 --\\\"\"}",
	    LC_EINVALID_SEARCH, NULL);
	expect_rows(db, "{\"search\":\"x'; DROP TABLE posts; --\"}", "");
	expect_rows(db, "{\"search\":\"\\\"x\\\"\\\" OR 1=1 --\\\"\"}", "");
	expect_err("{\"filter\":\"title:contains:\\u0000\"}",
	    LC_EINVALID_FILTER, NULL);
	// Names: rejected before any SQL is built.
	expect_err("{\"filter\":\"title\\\" OR 1=1 --:eq:1\"}",
	    LC_EINVALID_FILTER, "title\" OR 1=1 --");
	expect_err("{\"filter\":\"{\\\"x\\\\\\\"\\\":1}\"}",
	    LC_EINVALID_FILTER, "x\"");
	expect_err("{\"filter\":\"constructor:eq:1\"}", 0, NULL);
	expect_err("{\"sort\":\"title\\\";--\"}", LC_EINVALID_QUERY, "sort");
	// A very long name, in both forms.
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	snprintf(name, sizeof(name), "{\"filter\":\"%s:eq:1\"}", longname);
	expect_err(name, LC_EINVALID_FILTER, longname);
	snprintf(name, sizeof(name), "{\"filter\":{\"%s\":1}}", longname);
	expect_err(name, LC_EINVALID_FILTER, longname);
	longname[DATA_NAME_MAX] = '\0';
	snprintf(name, sizeof(name), "{\"filter\":\"%s:eq:1\"}", longname);
	expect_err(name, 0, NULL);
	// The tables are intact.
	assert_int_equal(parse(&q, &posts, &all_rows, "{}"), 0);
	assert_int_equal(run_rows(db, &q, 100, got, sizeof(got)), 0);
	assert_string_equal(got, "01 02 03 04 05 06 07 08");
	data_query_fini(&q);
}

// Count and aggregate take only filter and search: the single steps.
static void
test_count_flow(void **state)
{
	sqlite3          *db = *state;
	struct data_query q;
	json_t           *f = json_string("views:gte:3");
	json_t           *s = json_string("hello OR zeta");
	json_t           *bad;

	data_query_init(&q, &posts, &live);
	assert_int_equal(data_query_filter(&q, f), 0);
	assert_int_equal(data_query_search(&q, s), 0);
	assert_int_equal(run_count(db, &q), 4);
	data_query_fini(&q);
	json_decref(f);
	json_decref(s);
	// The query object itself must be an object.
	bad = json_array();
	data_query_init(&q, &posts, &live);
	assert_int_equal(data_query_parse(&q, bad), LC_EINVALID_QUERY);
	data_query_fini(&q);
	json_decref(bad);
}

/* ---- plan hints --------------------------------------------------------- */

// data_query_filter_sorts: an eq condition with a value on a column whose
// index goes on (_deleted_at, X) yields live matches in X's order.
static void
test_filter_sorts(void **state)
{
	static const struct data_col cols[] = {
		{ "cat", DATA_T_INTEGER, "i1_1", "score" },
		{ "score", DATA_T_INTEGER, "i1_2", "cat" },
		{ "other", DATA_T_INTEGER, NULL, NULL },
	};
	static const struct data_schema s = { "r1", NULL, cols, LC_NELEM(cols),
		NULL };
	static const struct {
		const struct data_qopts *o;
		const char              *query;
		int                      sorts;
	} cases[] = {
		{ &live, "{\"filter\":\"cat:eq:4\",\"sort\":\"-score\"}", 1 },
		{ &live, "{\"filter\":\"cat:eq:4\",\"sort\":\"score:asc\"}",
		    1 },
		{ &live,
		    "{\"filter\":[\"other:gt:1\",\"score:eq:3\"],"
		    "\"sort\":\"cat\"}",
		    1 },
		{ &live, "{\"filter\":\"cat:eq:4\"}", 0 }, // _id order
		{ &live, "{\"filter\":\"cat:eq:4\",\"sort\":\"other\"}", 0 },
		{ &live, "{\"filter\":\"cat:gte:4\",\"sort\":\"score\"}", 0 },
		{ &live, "{\"filter\":\"cat:eq:null\",\"sort\":\"score\"}",
		    0 },
		{ &live, "{\"filter\":\"cat:eq:x\",\"sort\":\"score\"}", 0 },
		{ &live, "{\"filter\":\"cat:ne:4\",\"sort\":\"score\"}", 0 },
		{ &live, "{\"filter\":\"other:eq:4\",\"sort\":\"score\"}", 0 },
		// soft-deleted rows too: the index is ordered by
		// _deleted_at first
		{ &all_rows, "{\"filter\":\"cat:eq:4\",\"sort\":\"score\"}",
		    0 },
	};
	struct data_query q;

	(void) state;
	for (size_t i = 0; i < LC_NELEM(cases); i++) {
		assert_int_equal(parse(&q, &s, cases[i].o, cases[i].query), 0);
		if (data_query_filter_sorts(&q) != cases[i].sorts) {
			fail_msg(
			    "%s: want %d", cases[i].query, cases[i].sorts);
		}
		data_query_fini(&q);
	}
}

/* ---- binding ----------------------------------------------------------- */

static void
test_sql_and_binding(void **state)
{
	sqlite3                *db    = *state;
	const struct data_qopts owner = { "u1", 0 };
	struct data_query       q;
	sqlite3_stmt           *st;
	char                   *sql;
	char                   *ex;

	assert_int_equal(
	    parse(&q, &posts, &owner,
	        "{\"filter\":[\"title:contains:o\","
	        "\"price:in:9.5,2.25\"],\"sort\":\"-views,price\","
	        "\"fields\":\"title\",\"after\":\"" ID(7) "\"}"),
	    0);
	assert_int_equal(data_query_cursor_load(&q, db), 0);
	// descending from a value: a range on views, then the nulls
	assert_string_equal(data_query_keyset(&q),
	    "\"views\" <= ?5 AND (\"views\" < ?5 OR (\"views\" = ?5 AND "
	    "\"price\" > ?6) OR (\"views\" = ?5 AND \"price\" = ?6 AND "
	    "\"_id\" > ?7))");
	data_query_sql_list(&q, 21, 0, &sql);
	assert_string_equal(sql,
	    "SELECT \"_id\", \"title\" FROM \"posts\" WHERE \"_deleted_at\" "
	    "IS "
	    "NULL AND \"_owner_id\" = ?1 AND \"title\" LIKE ?2 ESCAPE '\\' "
	    "AND \"price\" IN (?3, ?4) AND (\"views\" <= ?5 AND (\"views\" < "
	    "?5 OR (\"views\" = ?5 AND \"price\" > ?6) OR (\"views\" = ?5 "
	    "AND \"price\" = ?6 AND \"_id\" > ?7))) ORDER BY \"views\" DESC, "
	    "\"price\" ASC, \"_id\" ASC LIMIT ?8 OFFSET ?9");
	assert_int_equal(
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(data_query_bind(&q, st), 0);
	ex = sqlite3_expanded_sql(st);
	assert_string_equal(ex,
	    "SELECT \"_id\", \"title\" FROM \"posts\" WHERE \"_deleted_at\" "
	    "IS "
	    "NULL AND \"_owner_id\" = 'u1' AND \"title\" LIKE '%o%' ESCAPE "
	    "'\\' AND \"price\" IN (9.5, 2.25) AND (\"views\" <= 10 AND "
	    "(\"views\" < 10 OR (\"views\" = 10 AND \"price\" > 9.5) OR "
	    "(\"views\" = 10 AND \"price\" = 9.5 AND \"_id\" > "
	    "'01HV0000000000000000000007'))) ORDER BY \"views\" DESC, "
	    "\"price\" ASC, \"_id\" ASC LIMIT 21 OFFSET 0");
	sqlite3_free(ex);
	sqlite3_finalize(st);
	lc_free(sql);
	assert_int_equal(data_query_parts(&q), 2);
	q.tail = 1;
	data_query_sql_list(&q, 21, 0, &sql);
	assert_string_equal(sql,
	    "SELECT \"_id\", \"title\" FROM \"posts\" WHERE \"_deleted_at\" "
	    "IS NULL AND \"_owner_id\" = ?1 AND \"title\" LIKE ?2 ESCAPE "
	    "'\\' AND \"price\" IN (?3, ?4) AND (\"views\" IS NULL) ORDER BY "
	    "\"views\" DESC, \"price\" ASC, \"_id\" ASC LIMIT ?10 OFFSET ?11");
	lc_free(sql);
	q.tail = 0;
	// The count statement has no keyset and no LIMIT; binding skips the
	// values it does not use.
	data_query_sql_count(&q, &sql);
	assert_string_equal(sql,
	    "SELECT count(*) FROM \"posts\" WHERE \"_deleted_at\" IS NULL AND "
	    "\"_owner_id\" = ?1 AND \"title\" LIKE ?2 ESCAPE '\\' AND "
	    "\"price\" IN (?3, ?4)");
	assert_int_equal(run_count(db, &q), 1);
	lc_free(sql);
	data_query_fini(&q);

	// Without a filter: nothing to bind in the count.
	assert_int_equal(parse(&q, &posts, &all_rows, "{}"), 0);
	assert_int_equal(run_count(db, &q), 8);
	data_query_fini(&q);

	// Hints: an ascending first term from a value gets a range bound; a
	// descending one from null a null test.
	assert_int_equal(parse(&q, &posts, &live,
	                     "{\"sort\":\"views\",\"after\":\"" ID(2) "\"}"),
	    0);
	assert_int_equal(data_query_cursor_load(&q, db), 0);
	assert_string_equal(data_query_keyset(&q),
	    "\"views\" >= ?1 AND (\"views\" > ?1 OR (\"views\" = ?1 AND "
	    "\"_id\" > ?2))");
	data_query_fini(&q);
	assert_int_equal(parse(&q, &posts, &live,
	                     "{\"sort\":\"-views\",\"after\":\"" ID(3) "\"}"),
	    0);
	assert_int_equal(data_query_cursor_load(&q, db), 0);
	assert_string_equal(data_query_keyset(&q),
	    "\"views\" IS NULL AND ((\"views\" IS NULL AND \"_id\" > ?1))");
	data_query_fini(&q);
	assert_int_equal(
	    parse(&q, &posts, &live, "{\"after\":\"" ID(3) "\"}"), 0);
	assert_int_equal(data_query_cursor_load(&q, db), 0);
	assert_string_equal(data_query_keyset(&q), "\"_id\" > ?1");
	assert_null(data_query_keyset(&(struct data_query) { 0 }));
	data_query_fini(&q);
}

/* ---- keyset paging ----------------------------------------------------- */

// A bigger table with many ties and nulls of every type.
static const struct data_col page_cols[] = {
	{ "a", DATA_T_INTEGER, NULL, NULL },
	{ "b", DATA_T_TEXT, NULL, NULL },
	{ "c", DATA_T_REAL, NULL, NULL },
	{ "d", DATA_T_BOOLEAN, NULL, NULL },
	{ "j", DATA_T_JSON, NULL, NULL },
};
static const struct data_schema pages = { "pages", NULL, page_cols,
	LC_NELEM(page_cols), NULL };

#define NPAGE 60

static void
page_fill(sqlite3 *db)
{
	static const char *const bs[] = { "x", "X", "y", "", "b b" };
	sqlite3_stmt            *st;
	uint32_t                 r = 12345;
	int                      i;

	db_exec_ok(db,
	    "CREATE TABLE pages (\"_id\" TEXT PRIMARY KEY, \"_created_at\" "
	    "INTEGER, \"_updated_at\" INTEGER, \"_owner_id\" TEXT, "
	    "\"_deleted_at\" INTEGER, a INTEGER, b TEXT, c REAL, d INTEGER, "
	    "j TEXT)");
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "INSERT INTO pages VALUES (?1, ?2, ?2, NULL, ?3, "
	                     "?4, ?5, ?6, ?7, ?8)",
	                     -1, &st, NULL),
	    SQLITE_OK);
	for (i = 0; i < NPAGE; i++) {
		char id[32];

		// Ids not in insertion order, so _id is a real tie-breaker.
		snprintf(id, sizeof(id), "01HV00000000000000000000%02d",
		    (i * 37) % NPAGE);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, 1000 + (i % 7));
		r = r * 1103515245u + 12345u;
		if ((r >> 16) % 9 == 0) {
			sqlite3_bind_int64(st, 3, 1);
		} else {
			sqlite3_bind_null(st, 3);
		}
		if ((r >> 8) % 5 == 0) {
			sqlite3_bind_null(st, 4);
		} else {
			sqlite3_bind_int64(st, 4, (r >> 10) % 4);
		}
		if ((r >> 12) % 6 == 0) {
			sqlite3_bind_null(st, 5);
		} else {
			sqlite3_bind_text(
			    st, 5, bs[(r >> 14) % 5], -1, SQLITE_STATIC);
		}
		if ((r >> 18) % 4 == 0) {
			sqlite3_bind_null(st, 6);
		} else if ((r >> 18) % 4 == 1) {
			sqlite3_bind_int64(
			    st, 6, 2); // integer in a real column
		} else {
			sqlite3_bind_double(st, 6, ((r >> 20) % 5) / 2.0);
		}
		if ((r >> 22) % 3 == 0) {
			sqlite3_bind_null(st, 7);
		} else {
			sqlite3_bind_int64(st, 7, (r >> 23) % 2);
		}
		if ((r >> 24) % 2 == 0) {
			sqlite3_bind_null(st, 8);
		} else {
			sqlite3_bind_text(st, 8, (r >> 25) % 2 ? "[1]" : "{}",
			    -1, SQLITE_STATIC);
		}
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

// Pages through `query` with `limit` rows per page, each page asking for
// the rows after the last id of the previous one, and compares the
// concatenation with one unpaged run.
static void
page_check(
    sqlite3 *db, const struct data_qopts *o, const char *query, int limit)
{
	struct data_query q;
	char              full[NPAGE * 3 + 1];
	char              paged[NPAGE * 3 + 1] = "";
	char              page[NPAGE * 3 + 1];
	char              last[27] = "";
	json_t           *j;
	size_t            o2     = 0;
	int               rounds = 0;

	assert_int_equal(parse(&q, &pages, o, query), 0);
	assert_int_equal(run_rows(db, &q, 1000, full, sizeof(full)), 0);
	data_query_fini(&q);
	for (;;) {
		j = json_loads(query, 0, NULL);
		if (last[0] != '\0') {
			json_object_set_new(j, "after", json_string(last));
		}
		data_query_init(&q, &pages, o);
		assert_int_equal(data_query_parse(&q, j), 0);
		json_decref(j);
		assert_int_equal(
		    run_rows(db, &q, limit, page, sizeof(page)), 0);
		data_query_fini(&q);
		if (page[0] == '\0') {
			break;
		}
		o2 += (size_t) snprintf(paged + o2, sizeof(paged) - o2, "%s%s",
		    o2 > 0 ? " " : "", page);
		snprintf(last, sizeof(last), "01HV00000000000000000000%s",
		    page + strlen(page) - 2);
		if (++rounds > NPAGE + 1) {
			fail_msg("%s: paging does not end", query);
		}
	}
	if (strcmp(full, paged) != 0) {
		fail_msg("%s limit %d:\n full  %s\n paged %s", query, limit,
		    full, paged);
	}
}

static void
test_keyset_paging(void **state)
{
	static const char *const sorts[] = {
		"",
		"a",
		"-a",
		"b",
		"-b",
		"c",
		"-c",
		"d",
		"-d",
		"j",
		"-j",
		"a,b",
		"-a,b",
		"a,-b",
		"-a,-b",
		"b,-c,a",
		"-c,a:desc,b",
		"d,-a,c,b:desc",
		"nope,-b,nope2,a",
		"-_id",
		"a,-_id",
		"_created_at,-d",
		"-_deleted_at,b",
		"b:desc,c:asc,d:desc,a:asc,_created_at:desc",
	};
	static const char *const filters[] = {
		"",
		",\"filter\":\"a:ne:1\"",
		",\"filter\":[\"b:nin:x,null\",\"c:gte:0.5\"]",
		",\"search\":\"\"",
	};
	static const int limits[] = { 1, 2, 3, 7, 100 };
	sqlite3         *db       = *state;
	size_t           s;
	size_t           f;
	size_t           l;
	char             query[256];

	page_fill(db);
	for (s = 0; s < LC_NELEM(sorts); s++) {
		for (f = 0; f < LC_NELEM(filters); f++) {
			snprintf(query, sizeof(query), "{\"sort\":\"%s\"%s}",
			    sorts[s], filters[f]);
			for (l = 0; l < LC_NELEM(limits); l++) {
				page_check(db, &live, query, limits[l]);
				page_check(db, &all_rows, query, limits[l]);
			}
		}
	}
}

// The ordering rules of §3.6, seen through the generated ORDER BY.
static void
test_sort_exec(void **state)
{
	sqlite3 *db = *state;

	// Nulls first ascending, last descending; ties by _id ascending.
	expect_rows(db, "{\"sort\":\"views\"}", "03 02 08 05 01 04 07");
	expect_rows(db, "{\"sort\":\"-views\"}", "01 04 07 05 02 08 03");
	expect_rows(
	    db, "{\"sort\":\"views:desc,-_id\"}", "07 04 01 05 08 02 03");
	// Text compares bytewise: "Zeta" before "zeta".
	expect_rows(db, "{\"sort\":\"title\"}", "05 04 03 01 08 02 07");
	expect_rows(
	    db, "{\"sort\":\"-published,price\"}", "03 01 07 08 05 02 04");
	expect_rows(db, "{\"sort\":\"nope\"}", "01 02 03 04 05 07 08");
	expect_rows(db, "{\"sort\":\"-rank\",\"after\":\"" ID(2) "\"}",
	    "01 03 07 04 08");
	expect_rows(db, "{\"sort\":\"rank\",\"after\":\"" ID(4) "\"}",
	    "08 01 03 07 02 05");
}

/* ---- aggregate --------------------------------------------------------- */

static int
agg_parse(struct data_query *q, const struct data_schema *s,
    const struct data_qopts *o, const char *query)
{
	json_t *j = json_loads(query, JSON_ALLOW_NUL, NULL);
	int     rv;

	if (j == NULL) {
		fail_msg("bad test JSON: %s", query);
	}
	data_query_init(q, s, o);
	rv = data_query_aggregate(q, j);
	json_decref(j);
	return (rv);
}

static void
expect_agg_err(const char *query, int code, const char *field)
{
	struct data_query q;
	int               rv = agg_parse(&q, &posts, &live, query);

	check_err(&q, query, rv, code, field);
}

// A column of a result row as text: n (null), i:3, r:2.5, t:abc.
static size_t
cell_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return ((size_t) snprintf(out, cap, "i:%lld",
		    (long long) sqlite3_column_int64(st, i)));
	case SQLITE_FLOAT:
		return ((size_t) snprintf(
		    out, cap, "r:%.17g", sqlite3_column_double(st, i)));
	case SQLITE_TEXT:
		return ((size_t) snprintf(
		    out, cap, "t:%s", sqlite3_column_text(st, i)));
	default:
		return ((size_t) snprintf(out, cap, "n"));
	}
}

// Runs an aggregate on both tables; the rows must read `want`: "i:43"
// ungrouped, "n=i:2 i:1=i:3" grouped (key=value, space-separated).
static void
expect_agg_o(sqlite3 *db, const struct data_schema *const *ss, size_t nss,
    const struct data_qopts *o, const char *query, const char *want)
{
	size_t i;

	for (i = 0; i < nss; i++) {
		struct data_query q;
		sqlite3_stmt     *st  = NULL;
		char             *sql = NULL;
		char              got[1024];
		size_t            n = 0;
		int               rv;
		int               sr;

		if ((rv = agg_parse(&q, ss[i], o, query)) != 0) {
			fail_msg("%s: rv %s field %s", query, lc_err_code(rv),
			    q.err_field ? q.err_field : "-");
		}
		data_query_sql_aggregate(&q, &sql);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
		}
		assert_int_equal(data_query_bind(&q, st), 0);
		got[0] = '\0';
		while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
			if (n > 0) {
				got[n++] = ' ';
			}
			if (q.agg.group_by[0] != '\0') {
				n +=
				    cell_text(st, 0, got + n, sizeof(got) - n);
				got[n++] = '=';
			}
			n += cell_text(st, q.agg.group_by[0] != '\0', got + n,
			    sizeof(got) - n);
		}
		if (sr != SQLITE_DONE) {
			fail_msg("step %s: %s", sql, sqlite3_errmsg(db));
		}
		if (strcmp(got, want) != 0) {
			fail_msg("%s on %s: got [%s], want [%s]\n sql %s",
			    query, ss[i]->table, got, want, sql);
		}
		sqlite3_finalize(st);
		lc_free(sql);
		data_query_fini(&q);
	}
}

static void
expect_agg(sqlite3 *db, const char *query, const char *want)
{
	const struct data_schema *ss[] = { &posts, &loose };

	expect_agg_o(db, ss, LC_NELEM(ss), &live, query, want);
}

static void
test_agg_errors(void **state)
{
	struct data_query q;
	json_t           *j;

	(void) state;
	// fn (alias op): missing, empty, unknown, wrong case, not a string.
	expect_agg_err("{}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"field\":\"views\"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"fn\":\"\"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"fn\":\"median\"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"fn\":\"SUM\"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"fn\":\"sum \"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"fn\":\"sum\\u0000\"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"fn\":1}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"fn\":[\"sum\"]}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"op\":\"bogus\"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err(
	    "{\"fn\":\"bogus\",\"op\":\"count\"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"fn\":2,\"op\":\"count\"}", LC_EINVALID_QUERY, "fn");
	expect_agg_err("{\"op\":\"count\"}", 0, NULL);
	expect_agg_err("{\"fn\":\"\",\"op\":\"count\"}", 0, NULL);
	expect_agg_err("{\"fn\":\"count\",\"op\":\"bogus\"}", 0, NULL);
	// field: required except for count; names; json columns.
	expect_agg_err("{\"fn\":\"sum\"}", LC_EINVALID_QUERY, "field");
	expect_agg_err("{\"fn\":\"avg\"}", LC_EINVALID_QUERY, "field");
	expect_agg_err("{\"fn\":\"min\"}", LC_EINVALID_QUERY, "field");
	expect_agg_err("{\"op\":\"max\"}", LC_EINVALID_QUERY, "field");
	expect_agg_err(
	    "{\"fn\":\"sum\",\"field\":\"\"}", LC_EINVALID_QUERY, "field");
	expect_agg_err(
	    "{\"fn\":\"sum\",\"field\":\"tags\"}", LC_EINVALID_QUERY, "field");
	expect_agg_err("{\"fn\":\"count\",\"field\":\"tags\"}",
	    LC_EINVALID_QUERY, "field");
	expect_agg_err(
	    "{\"fn\":\"min\",\"field\":\"tags\"}", LC_EINVALID_QUERY, "field");
	expect_agg_err(
	    "{\"fn\":\"sum\",\"field\":\"a-b\"}", LC_EINVALID_QUERY, "field");
	expect_agg_err("{\"fn\":\"sum\",\"field\":\"__proto__\"}",
	    LC_EINVALID_QUERY, "field");
	expect_agg_err("{\"fn\":\"sum\",\"field\":\"views\\u0000x\"}",
	    LC_EINVALID_QUERY, "field");
	expect_agg_err("{\"fn\":\"sum\",\"field\":\"v\\\"; DROP TABLE x\"}",
	    LC_EINVALID_QUERY, "field");
	expect_agg_err(
	    "{\"fn\":\"count\",\"field\":5}", LC_EINVALID_QUERY, "field");
	expect_agg_err(
	    "{\"fn\":\"sum\",\"field\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	    LC_EINVALID_QUERY, "field");
	expect_agg_err("{\"fn\":\"count\",\"field\":\"\"}", 0, NULL);
	expect_agg_err("{\"fn\":\"sum\",\"field\":\"_created_at\"}", 0, NULL);
	expect_agg_err("{\"fn\":\"sum\",\"field\":\"nope\"}", 0, NULL);
	// group_by.
	expect_agg_err("{\"fn\":\"count\",\"group_by\":\"1x\"}",
	    LC_EINVALID_QUERY, "group_by");
	expect_agg_err("{\"fn\":\"count\",\"group_by\":[\"rank\"]}",
	    LC_EINVALID_QUERY, "group_by");
	expect_agg_err("{\"fn\":\"count\",\"group_by\":\"rank,zip\"}",
	    LC_EINVALID_QUERY, "group_by");
	expect_agg_err("{\"fn\":\"count\",\"group_by\":\"tags\"}", 0, NULL);
	expect_agg_err("{\"fn\":\"count\",\"group_by\":\"\"}", 0, NULL);
	// Then filter and search, as for lists.
	expect_agg_err("{\"fn\":\"count\",\"filter\":\"views:zz:1\"}",
	    LC_EINVALID_FILTER, "views");
	expect_agg_err("{\"fn\":\"count\",\"filter\":\"tags:gt:1\"}",
	    LC_EINVALID_FILTER, "tags");
	expect_agg_err("{\"fn\":\"count\",\"search\":\"(bun\"}",
	    LC_EINVALID_SEARCH, NULL);
	expect_agg_err("{\"fn\":\"count\",\"filter\":\"views:zz:1\","
	               "\"search\":\"(bun\"}",
	    LC_EINVALID_FILTER, "views");
	// Error order: fn, field, group_by, filter (§3.8).
	expect_agg_err("{\"fn\":\"x\",\"field\":\"tags\",\"filter\":\"a:zz\"}",
	    LC_EINVALID_QUERY, "fn");
	expect_agg_err(
	    "{\"fn\":\"sum\",\"group_by\":\"1\",\"filter\":\"a:z\"}",
	    LC_EINVALID_QUERY, "field");
	expect_agg_err(
	    "{\"fn\":\"sum\",\"field\":\"views\",\"group_by\":\"1\","
	    "\"filter\":\"a:z\"}",
	    LC_EINVALID_QUERY, "group_by");
	// Not an object; no parameters at all.
	j = json_array();
	data_query_init(&q, &posts, &live);
	assert_int_equal(data_query_aggregate(&q, j), LC_EINVALID_QUERY);
	data_query_fini(&q);
	json_decref(j);
	data_query_init(&q, &posts, &live);
	assert_int_equal(data_query_aggregate(&q, NULL), LC_EINVALID_QUERY);
	assert_string_equal(q.err_field, "fn");
	data_query_fini(&q);
}

// The parsed parameters and the exact statements.
static void
test_agg_sql(void **state)
{
	const struct data_qopts owner = { "u1", 0 };
	struct data_query       q;
	char                   *sql;
	char                    vals[256];

	(void) state;
	assert_int_equal(agg_parse(&q, &posts, &live,
	                     "{\"op\":\"max\",\"field\":\"published\","
	                     "\"group_by\":\"nope\"}"),
	    0);
	assert_int_equal(q.agg.fn, DATA_AGG_MAX);
	assert_string_equal(q.agg.fn_name, "max");
	assert_string_equal(q.agg.field, "published");
	assert_int_equal(q.agg.field_type, DATA_T_BOOLEAN);
	assert_string_equal(q.agg.group_by, "nope");
	assert_int_equal(q.agg.group_type, DATA_T_NONE);
	assert_null(q.agg.group_col);
	data_query_sql_aggregate(&q, &sql);
	assert_string_equal(sql,
	    "SELECT NULL, max(\"published\") FROM \"posts\" WHERE "
	    "\"_deleted_at\" IS NULL GROUP BY NULL LIMIT ?1");
	vals_text(&q, vals, sizeof(vals));
	assert_string_equal(vals, "i:1000");
	lc_free(sql);
	data_query_fini(&q);

	assert_int_equal(agg_parse(&q, &posts, &owner,
	                     "{\"fn\":\"count\",\"group_by\":\"rank\","
	                     "\"filter\":\"views:gte:3\"}"),
	    0);
	assert_string_equal(q.agg.field, "");
	assert_int_equal(q.agg.field_type, DATA_T_NONE);
	data_query_sql_aggregate(&q, &sql);
	assert_string_equal(sql,
	    "SELECT \"rank\", count(*) FROM \"posts\" WHERE \"_deleted_at\" "
	    "IS NULL AND \"_owner_id\" = ?1 AND \"views\" >= ?2 GROUP BY "
	    "\"rank\" ORDER BY \"rank\" ASC LIMIT ?3");
	vals_text(&q, vals, sizeof(vals));
	assert_string_equal(vals, "t:u1 i:3 i:1000");
	lc_free(sql);
	data_query_fini(&q);

	assert_int_equal(agg_parse(&q, &posts, &all_rows,
	                     "{\"fn\":\"sum\",\"field\":\"views\"}"),
	    0);
	data_query_sql_aggregate(&q, &sql);
	assert_string_equal(sql,
	    "SELECT CASE WHEN count(CASE WHEN typeof(\"views\") IN ('real') "
	    "THEN \"views\" END) > 0 THEN total(CASE WHEN typeof(\"views\") "
	    "IN ('integer', 'real') THEN \"views\" END) ELSE "
	    "coalesce((sum(CASE WHEN typeof(\"views\") IN ('integer') THEN "
	    "\"views\" >> 32 END) + (sum(CASE WHEN typeof(\"views\") IN "
	    "('integer') THEN \"views\" & 4294967295 END) >> 32)) * "
	    "4294967296 + (sum(CASE WHEN typeof(\"views\") IN ('integer') "
	    "THEN \"views\" & 4294967295 END) & 4294967295), 0) END FROM "
	    "\"posts\" WHERE 1");
	assert_int_equal(q.nvals, 0);
	lc_free(sql);
	data_query_fini(&q);

	// Not numeric, or not a column: constants shaped as aggregates.
	assert_int_equal(agg_parse(&q, &posts, &all_rows,
	                     "{\"fn\":\"sum\",\"field\":\"title\"}"),
	    0);
	data_query_sql_aggregate(&q, &sql);
	assert_string_equal(
	    sql, "SELECT coalesce(sum(NULL), 0) FROM \"posts\" WHERE 1");
	lc_free(sql);
	data_query_fini(&q);
	assert_int_equal(agg_parse(&q, &posts, &all_rows,
	                     "{\"fn\":\"avg\",\"field\":\"published\"}"),
	    0);
	data_query_sql_aggregate(&q, &sql);
	assert_string_equal(sql, "SELECT avg(NULL) FROM \"posts\" WHERE 1");
	lc_free(sql);
	data_query_fini(&q);
	assert_int_equal(agg_parse(&q, &posts, &all_rows,
	                     "{\"fn\":\"min\",\"field\":\"nope\"}"),
	    0);
	data_query_sql_aggregate(&q, &sql);
	assert_string_equal(sql, "SELECT min(NULL) FROM \"posts\" WHERE 1");
	lc_free(sql);
	data_query_fini(&q);
	assert_int_equal(agg_parse(&q, &nofts, &all_rows,
	                     "{\"fn\":\"count\",\"field\":\"_owner_id\","
	                     "\"search\":\"bun\"}"),
	    0);
	data_query_sql_aggregate(&q, &sql);
	assert_string_equal(
	    sql, "SELECT count(\"_owner_id\") FROM \"posts\" WHERE 0");
	lc_free(sql);
	data_query_fini(&q);
}

// Results against the fixture (live rows: 1 2 3 4 5 7 8).
static void
test_agg_exec(void **state)
{
	sqlite3                  *db    = *state;
	const struct data_qopts   owner = { "u1", 0 };
	const struct data_schema *ss[]  = { &posts, &loose };
	const struct data_schema *nf[]  = { &nofts };

	expect_agg(db, "{\"fn\":\"count\"}", "i:7");
	expect_agg(db, "{\"fn\":\"count\",\"field\":\"views\"}", "i:6");
	expect_agg(db, "{\"fn\":\"count\",\"field\":\"nope\"}", "i:0");
	expect_agg(db, "{\"fn\":\"sum\",\"field\":\"views\"}", "i:43");
	expect_agg(
	    db, "{\"fn\":\"avg\",\"field\":\"views\"}", "r:7.166666666666667");
	expect_agg(db, "{\"fn\":\"min\",\"field\":\"views\"}", "i:3");
	expect_agg(db, "{\"fn\":\"max\",\"field\":\"views\"}", "i:10");
	expect_agg(db, "{\"fn\":\"sum\",\"field\":\"price\"}", "r:32.25");
	expect_agg(db, "{\"fn\":\"min\",\"field\":\"price\"}", "r:1");
	// Text: no numeric values; min/max bytewise.
	expect_agg(db, "{\"fn\":\"sum\",\"field\":\"title\"}", "i:0");
	expect_agg(db, "{\"fn\":\"avg\",\"field\":\"title\"}", "n");
	expect_agg(
	    db, "{\"fn\":\"min\",\"field\":\"title\"}", "t:100% pure_fun");
	expect_agg(db, "{\"fn\":\"max\",\"field\":\"title\"}", "t:zeta");
	// Booleans are not numbers; min/max give 0/1.
	expect_agg(db, "{\"fn\":\"sum\",\"field\":\"published\"}", "i:0");
	expect_agg(db, "{\"fn\":\"max\",\"field\":\"published\"}", "i:1");
	// Unknown fields are all-null.
	expect_agg(db, "{\"fn\":\"sum\",\"field\":\"nope\"}", "i:0");
	expect_agg(db, "{\"fn\":\"avg\",\"field\":\"nope\"}", "n");
	expect_agg(db, "{\"fn\":\"max\",\"field\":\"nope\"}", "n");
	// System fields.
	expect_agg(db, "{\"fn\":\"max\",\"field\":\"_created_at\"}", "i:8000");
	expect_agg(db, "{\"fn\":\"min\",\"field\":\"_id\"}", "t:" ID(1));
	// Empty set: sum and count 0, the others null (§3.8).
	expect_agg(db,
	    "{\"fn\":\"sum\",\"field\":\"views\","
	    "\"filter\":\"views:gt:100\"}",
	    "i:0");
	expect_agg(
	    db, "{\"fn\":\"count\",\"filter\":\"views:gt:100\"}", "i:0");
	expect_agg(db,
	    "{\"fn\":\"avg\",\"field\":\"views\","
	    "\"filter\":\"views:gt:100\"}",
	    "n");
	expect_agg(db,
	    "{\"fn\":\"min\",\"field\":\"title\","
	    "\"filter\":\"views:gt:100\"}",
	    "n");
	// Groups: key ascending, nulls first.
	expect_agg(db, "{\"fn\":\"count\",\"group_by\":\"rank\"}",
	    "n=i:2 i:1=i:3 i:2=i:1 i:3=i:1");
	expect_agg(db,
	    "{\"fn\":\"sum\",\"field\":\"views\",\"group_by\":\"published\"}",
	    "n=i:10 i:0=i:13 i:1=i:20");
	expect_agg(db,
	    "{\"fn\":\"max\",\"field\":\"title\",\"group_by\":\"zip\"}",
	    "n=t:zeta t:12345=t:Hello World t:1e3=n t:54321=t:hello bun "
	    "t:x=t:Zeta");
	expect_agg(db, "{\"fn\":\"count\",\"group_by\":\"tags\"}",
	    "n=i:4 t:[\"a\",\"b\"]=i:1 t:[\"c\"]=i:1 t:{\"k\":\"v\"}=i:1");
	expect_agg(db, "{\"fn\":\"count\",\"group_by\":\"nope\"}", "n=i:7");
	expect_agg(db,
	    "{\"fn\":\"count\",\"group_by\":\"nope\",\"filter\":\"views:gt:"
	    "99\"}",
	    "");
	expect_agg(db,
	    "{\"fn\":\"count\",\"group_by\":\"rank\",\"filter\":\"views:gt:"
	    "99\"}",
	    "");
	// Filter, search, visibility.
	expect_agg(db, "{\"fn\":\"count\",\"filter\":\"views:gte:5\"}", "i:4");
	expect_agg(db, "{\"fn\":\"count\",\"search\":\"bun\"}", "i:2");
	expect_agg(db,
	    "{\"fn\":\"count\",\"filter\":[\"title:contains:' OR 1=1 --\"]}",
	    "i:0");
	expect_agg_o(
	    db, nf, 1, &live, "{\"fn\":\"count\",\"search\":\"bun\"}", "i:0");
	expect_agg_o(
	    db, ss, LC_NELEM(ss), &all_rows, "{\"fn\":\"count\"}", "i:8");
	expect_agg_o(db, ss, LC_NELEM(ss), &all_rows,
	    "{\"fn\":\"min\",\"field\":\"price\"}", "r:-1.5");
	expect_agg_o(db, ss, LC_NELEM(ss), &owner,
	    "{\"fn\":\"sum\",\"field\":\"views\"}", "i:20");
	expect_agg_o(db, ss, LC_NELEM(ss), &owner,
	    "{\"fn\":\"count\",\"group_by\":\"_owner_id\"}", "t:u1=i:3");
}

// sum is exact for integers and never fails on overflow.
static void
test_agg_sum_range(void **state)
{
	static const struct data_col    c[]  = { { "v", DATA_T_INTEGER, NULL,
		                                     NULL },
		    { "g", DATA_T_INTEGER, NULL, NULL } };
	static const struct data_schema big  = { "big", NULL, c, 2, NULL };
	const struct data_schema       *ss[] = { &big };
	sqlite3                        *db   = *state;

	db_exec_ok(db,
	    "CREATE TABLE big (\"_id\" TEXT PRIMARY KEY, \"_created_at\", "
	    "\"_updated_at\", \"_owner_id\", \"_deleted_at\", v INTEGER, "
	    "g INTEGER);"
	    "INSERT INTO big VALUES ('a',1,1,NULL,NULL,9223372036854775807,1),"
	    "('b',1,1,NULL,NULL,-1,1),('c',1,1,NULL,NULL,1,1),"
	    "('d',1,1,NULL,NULL,9007199254740993,2),"
	    "('e',1,1,NULL,NULL,1,2),"
	    "('f',1,1,NULL,NULL,9223372036854775807,3),"
	    "('g',1,1,NULL,NULL,9223372036854775807,3),"
	    "('h',1,1,NULL,NULL,-9223372036854775807,4),"
	    "('i',1,1,NULL,NULL,-9223372036854775807,4),"
	    "('j',1,1,NULL,NULL,-9223372036854775807,4),"
	    "('k',1,1,NULL,NULL,1,5),('l',1,1,NULL,NULL,2.5,5),"
	    "('m',1,1,NULL,NULL,-9223372036854775807,6),"
	    "('n',1,1,NULL,NULL,-1,6);");
	expect_agg_o(db, ss, 1, &live,
	    "{\"fn\":\"sum\",\"field\":\"v\",\"filter\":\"g:eq:1\"}",
	    "i:9223372036854775807");
	expect_agg_o(db, ss, 1, &live,
	    "{\"fn\":\"sum\",\"field\":\"v\",\"filter\":\"g:eq:2\"}",
	    "i:9007199254740994");
	expect_agg_o(db, ss, 1, &live,
	    "{\"fn\":\"sum\",\"field\":\"v\",\"filter\":\"g:eq:3\"}",
	    "r:1.8446744073709552e+19");
	expect_agg_o(db, ss, 1, &live,
	    "{\"fn\":\"sum\",\"field\":\"v\",\"filter\":\"g:eq:4\"}",
	    "r:-2.7670116110564327e+19");
	expect_agg_o(db, ss, 1, &live,
	    "{\"fn\":\"sum\",\"field\":\"v\",\"filter\":\"g:eq:5\"}", "r:3.5");
	expect_agg_o(db, ss, 1, &live,
	    "{\"fn\":\"sum\",\"field\":\"v\",\"filter\":\"g:eq:6\"}",
	    "i:-9223372036854775808");
	expect_agg_o(db, ss, 1, &live, "{\"fn\":\"avg\",\"field\":\"v\"}",
	    "r:-6.5816891697143104e+17");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_filter_ops_sql),
		cmocka_unit_test(test_filter_typing_sql),
		cmocka_unit_test(test_filter_unknown_field),
		cmocka_unit_test(test_filter_json_forms),
		cmocka_unit_test(test_filter_errors),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_after_syntax),
		cmocka_unit_test(test_search_compile),
		cmocka_unit_test_setup_teardown(
		    test_search_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_exec_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_count_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sql_and_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_keyset_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sort_exec, setup, teardown),
		cmocka_unit_test(test_agg_errors),
		cmocka_unit_test(test_filter_sorts),
		cmocka_unit_test(test_agg_sql),
		cmocka_unit_test_setup_teardown(
		    test_agg_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_agg_sum_range, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
