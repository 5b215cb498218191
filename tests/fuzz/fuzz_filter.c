/*
 * fuzz_filter.c -- libFuzzer target for the data service's query language
 * (services/data/query.c): filter (text and JSON forms), sort, search,
 * after and fields, as the envelope's query object carries them.
 *
 * Input: lines. The first byte of a line names the parameter and the rest
 * is its value: 'f' filter, 's' sort, 'q' search, 'a' after, 'F' fields;
 * 'o' makes the caller an owner-rule user, 'd' includes deleted records.
 * Aggregate mode (GET /:c/aggregate) when any of these is present: 'n' fn,
 * 'p' op (its alias), 'e' field, 'g' group_by, 'A' (no value).
 * Repeated f/s lines become arrays, as the gateway builds them; an `after`
 * of one character names an existing record (so cursors load).
 * Lines that are not valid UTF-8 are skipped (the codec rejects them).
 *
 * Checks: parsing returns 0 or the code of a list parameter, with a field
 * only where the contract names one; on success the generated list and
 * count statements prepare, bind and run without any SQLite error against
 * an in-memory table with an FTS5 index (so no SQL or MATCH expression we
 * generate is malformed), the counts agree, and a cursor loads or gives
 * invalid_cursor. Each search value's compiled form compiles to itself.
 * Aggregates: parsing returns 0, invalid_query with field fn/field/
 * group_by, invalid_filter or invalid_search; the statement runs; a plain
 * count equals the count statement's, and grouped counts add up to it.
 * Seeds: tests/fuzz/seeds/fuzz_filter/.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/data/query.h"
#include "lc_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct data_col cols[] = {
	{ "title", DATA_T_TEXT, NULL, NULL },
	{ "views", DATA_T_INTEGER, "iv", "price" },
	{ "price", DATA_T_REAL, NULL, NULL },
	{ "ok", DATA_T_BOOLEAN, NULL, NULL },
	{ "meta", DATA_T_JSON, NULL, NULL },
	{ "a", DATA_T_TEXT, NULL, NULL },
};
static const struct data_schema schema = { "t", "t_fts", cols,
	sizeof(cols) / sizeof(cols[0]), NULL };

#define NROWS 10
static sqlite3 *db;

static void
die(const char *what, const char *sql)
{
	fprintf(stderr, "%s: %s\n  sql: %s\n", what, sqlite3_errmsg(db),
	    sql != NULL ? sql : "-");
	abort();
}

static void
db_init(void)
{
	static const char *const ddl =
	    "CREATE TABLE t (\"_id\" TEXT PRIMARY KEY, \"_created_at\" "
	    "INTEGER, \"_updated_at\" INTEGER, \"_owner_id\" TEXT, "
	    "\"_deleted_at\" INTEGER, title TEXT, views INTEGER, price REAL, "
	    "ok INTEGER, meta TEXT, a TEXT);"
	    "CREATE VIRTUAL TABLE t_fts USING fts5(title, a);"
	    "INSERT INTO t VALUES"
	    "('01HV0000000000000000000000',1,1,'u1',NULL,'Hello bun',3,1.5,1,"
	    "'[1,2]','x'),"
	    "('01HV0000000000000000000001',2,2,'u2',NULL,'bun native',NULL,"
	    "2,0,NULL,'12345'),"
	    "('01HV0000000000000000000002',3,3,NULL,9,NULL,3,NULL,NULL,'{}',"
	    "NULL),"
	    "('01HV0000000000000000000003',4,4,'u1',NULL,'Zeta',-7,-0.5,1,"
	    "'{\"k\":\"v\"}','y'),"
	    "('01HV0000000000000000000004',5,5,'u1',NULL,'zeta 100%',10,1e3,"
	    "0,'[]','a_b'),"
	    "('01HV0000000000000000000005',6,6,'u2',NULL,'',0,0.0,1,NULL,''),"
	    "('01HV0000000000000000000006',7,7,NULL,NULL,'x''y',3,1.5,NULL,"
	    "'[\"x\"]',NULL),"
	    "('01HV0000000000000000000007',8,8,'u1',8,'caf\xc3\xa9',99,NULL,"
	    "0,NULL,'z'),"
	    "('01HV0000000000000000000008',9,9,'u2',NULL,'Hello',3,1.5,1,"
	    "NULL,'x'),"
	    "('01HV0000000000000000000009',9,9,'u1',NULL,NULL,NULL,NULL,NULL,"
	    "NULL,NULL);"
	    "INSERT INTO t_fts(rowid, title, a) SELECT rowid, title, a FROM "
	    "t;";
	char *err = NULL;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db, ddl, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "setup: %s\n", err != NULL ? err : "open");
		abort();
	}
}

// Runs sql with q's values; returns the row count. Any error aborts.
static int64_t
run(const struct data_query *q, const char *sql, int count)
{
	sqlite3_stmt *st = NULL;
	int64_t       n  = 0;
	int           sr;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		die("prepare", sql);
	}
	if (data_query_bind(q, st) != 0) {
		die("bind", sql);
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		n = count ? sqlite3_column_int64(st, 0) : n + 1;
	}
	if (sr != SQLITE_DONE) {
		die("step", sql);
	}
	sqlite3_finalize(st);
	return (n);
}

// A compiled search expression must compile to itself and run in FTS5.
static void
check_search(const char *s, size_t len)
{
	sqlite3_stmt *st = NULL;
	char         *m  = NULL;
	char         *m2 = NULL;
	int           sr;

	if (data_search_compile(s, len, &m) != 0 || m == NULL) {
		return;
	}
	if (data_search_compile(m, strlen(m), &m2) != 0 || m2 == NULL ||
	    strcmp(m, m2) != 0) {
		fprintf(stderr, "not canonical: [%s] -> [%s]\n", m,
		    m2 ? m2 : "(err)");
		abort();
	}
	if (sqlite3_prepare_v2(db,
	        "SELECT count(*) FROM t_fts WHERE t_fts MATCH ?1", -1, &st,
	        NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, m, -1, SQLITE_STATIC) != SQLITE_OK) {
		die("fts prepare", m);
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) { }
	if (sr != SQLITE_DONE) {
		die("fts match", m);
	}
	sqlite3_finalize(st);
	lc_free(m);
	lc_free(m2);
}

static void
add(json_t *query, const char *key, json_t *v, int many)
{
	json_t *old = json_object_get(query, key);

	if (many && old != NULL) {
		if (!json_is_array(old)) {
			json_t *arr = json_array();

			json_array_append(arr, old);
			json_object_set_new(query, key, arr);
			old = arr;
		}
		json_array_append_new(old, v);
		return;
	}
	json_object_set_new(query, key, v);
}

// Runs an aggregate statement: the sum of column `col` over its rows
// (count: the total over groups), or -1 when a value is not an integer.
static int64_t
run_agg(const struct data_query *q, const char *sql, int col)
{
	sqlite3_stmt *st  = NULL;
	int64_t       n   = 0;
	int           bad = 0;
	int           sr;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		die("prepare", sql);
	}
	if (data_query_bind(q, st) != 0) {
		die("bind", sql);
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, col) != SQLITE_INTEGER) {
			bad = 1;
		}
		n += sqlite3_column_int64(st, col);
	}
	if (sr != SQLITE_DONE) {
		die("step", sql);
	}
	sqlite3_finalize(st);
	return (bad ? -1 : n);
}

static void
check_aggregate(const struct data_qopts *o, json_t *query)
{
	struct data_query q;
	char             *sql = NULL;
	int64_t           total;
	int64_t           v;
	int               grouped;
	int               rv;

	data_query_init(&q, &schema, o);
	rv = data_query_aggregate(&q, query);
	switch (rv) {
	case 0:
		break;
	case LC_EINVALID_QUERY:
		if (q.err_field == NULL ||
		    (strcmp(q.err_field, "fn") != 0 &&
		        strcmp(q.err_field, "field") != 0 &&
		        strcmp(q.err_field, "group_by") != 0)) {
			abort();
		}
		break;
	case LC_EINVALID_FILTER:
		break;
	case LC_EINVALID_SEARCH:
		if (q.err_field != NULL) {
			abort();
		}
		break;
	default:
		abort();
	}
	if (rv == 0) {
		grouped = q.agg.group_by[0] != '\0';
		data_query_sql_aggregate(&q, &sql);
		v = run_agg(&q, sql, grouped);
		lc_free(sql);
		if (q.agg.fn == DATA_AGG_COUNT && q.agg.field[0] == '\0') {
			data_query_sql_count(&q, &sql);
			total = run(&q, sql, 1);
			lc_free(sql);
			if (v != total) {
				fprintf(stderr,
				    "aggregate count %lld != %lld\n",
				    (long long) v, (long long) total);
				abort();
			}
		}
	}
	data_query_fini(&q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_qopts o = { NULL, 0 };
	struct data_query q;
	json_t           *query = json_object();
	const char       *p     = (const char *) data;
	const char       *end   = p + size;
	char             *sql   = NULL;
	int64_t           nlist;
	int               agg = 0;
	int               rv;

	if (db == NULL) {
		db_init();
	}
	while (p < end) {
		const char *nl  = memchr(p, '\n', (size_t) (end - p));
		const char *e   = nl != NULL ? nl : end;
		const char *v   = p + 1;
		size_t      len = e > p ? (size_t) (e - v) : 0;
		json_t     *s;

		if (e > p) {
			if (*p == 'a' && len == 1) {
				char id[27];

				memcpy(id, "01HV000000000000000000000", 25);
				id[25] =
				    (char) ('0' + (unsigned char) *v % NROWS);
				id[26] = '\0';
				json_object_set_new(
				    query, "after", json_string(id));
			} else if ((s = json_stringn(v, len)) != NULL) {
				switch (*p) {
				case 'f':
					add(query, "filter", s, 1);
					break;
				case 's':
					add(query, "sort", s, 1);
					break;
				case 'q':
					check_search(v, len);
					add(query, "search", s, 0);
					break;
				case 'a':
					add(query, "after", s, 0);
					break;
				case 'F':
					add(query, "fields", s, 0);
					break;
				case 'o':
					o.owner = "u1";
					json_decref(s);
					break;
				case 'd':
					o.include_deleted = 1;
					json_decref(s);
					break;
				case 'n':
					agg = 1;
					add(query, "fn", s, 0);
					break;
				case 'p':
					agg = 1;
					add(query, "op", s, 0);
					break;
				case 'e':
					agg = 1;
					add(query, "field", s, 0);
					break;
				case 'g':
					agg = 1;
					add(query, "group_by", s, 0);
					break;
				case 'A':
					agg = 1;
					json_decref(s);
					break;
				default:
					json_decref(s);
					break;
				}
			}
		}
		p = nl != NULL ? nl + 1 : end;
	}

	if (agg) {
		check_aggregate(&o, query);
		json_decref(query);
		return (0);
	}
	data_query_init(&q, &schema, &o);
	rv = data_query_parse(&q, query);
	switch (rv) {
	case 0:
	case LC_EINVALID_FILTER:
		break;
	case LC_EINVALID_QUERY:
		if (q.err_field == NULL || strcmp(q.err_field, "sort") != 0) {
			abort();
		}
		break;
	case LC_EINVALID_SEARCH:
	case LC_EINVALID_CURSOR:
		if (q.err_field != NULL) {
			abort();
		}
		break;
	default:
		abort();
	}
	if (rv == 0 && data_query_filter_sorts(&q) != 0 &&
	    (q.neq == 0 || strcmp(q.sort[0].name, "price") != 0)) {
		abort(); // only an eq on views sorted by price
	}
	if (rv == 0) {
		rv = data_query_cursor_load(&q, db);
		if (rv != 0 && rv != LC_EINVALID_CURSOR) {
			abort();
		}
	}
	if (rv == 0) {
		data_query_sql_list(&q, 1000, 0, &sql);
		nlist = run(&q, sql, 0);
		lc_free(sql);
		data_query_sql_count(&q, &sql);
		if (run(&q, sql, 1) < nlist ||
		    (q.after[0] == '\0' && run(&q, sql, 1) != nlist)) {
			fprintf(stderr, "count differs: %s\n", sql);
			abort();
		}
		lc_free(sql);
	}
	data_query_fini(&q);
	json_decref(query);
	return (0);
}
