/*
 * relations_test.c -- relations over a real database (a temp file, the
 * real migrations, one worker): the admin handlers (§5.6: validation,
 * 404, 409, paging, order, delete), the reference check of writes, the
 * on_delete actions (restrict, cascade, set_null; soft and hard; arrays of
 * ids; cycles and self references; the hits returned), and expand with
 * the target's read rule (owner, disabled, admin), through the JSON and
 * the row paths.
 *
 * Records are created through the real record handlers. Until write.c
 * calls this module, the tests call data_rel_check / data_rel_on_delete
 * inside their own write transactions, as write.c will.
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
#include "relations.h"

// The fixture's call without a request id.
static int
call(lc_handler_fn fn, const char *who, const char *params, const char *query,
    const char *body, json_t **out)
{
	return (fx_call(fn, who, NULL, params, query, body, out));
}

static const char *
str_of(json_t *o, const char *key)
{
	return (json_string_value(json_object_get(o, key)));
}

// Checks the reply of the call that gave status and releases it (the
// reference that call put into its out parameter).
static void
expect_error(int status, int want, const char *code, const char *field)
{
	json_t *r = fx_last;

	assert_int_equal(status, want);
	assert_string_equal(str_of(r, "code"), code);
	if (field != NULL) {
		assert_non_null(str_of(r, "field"));
		assert_string_equal(str_of(r, "field"), field);
	} else {
		assert_null(json_object_get(r, "field"));
	}
	json_decref(r);
}

// Creates a record of coll as user who (the collection is auto-created);
// the new _id goes to id.
static void
mk(const char *coll, const char *who, const char *body, char id[27])
{
	char    params[128];
	json_t *r;

	snprintf(params, sizeof(params), "{\"collection\":\"%s\"}", coll);
	assert_int_equal(
	    call(data_h_records_create, who, params, NULL, body, &r), 201);
	snprintf(id, 27, "%s", str_of(r, "_id"));
	json_decref(r);
}

// Makes sure collection coll exists (an empty record).
static void
ensure(const char *coll)
{
	char id[27];

	mk(coll, "U9", "{}", id);
}

// Creates a relation (on_delete NULL: default); returns its id in rid.
static void
relate(const char *from, const char *field, const char *to, const char *od,
    char rid[27])
{
	char    body[256];
	json_t *r;

	snprintf(body, sizeof(body),
	    "{\"from_collection\":\"%s\",\"from_field\":\"%s\","
	    "\"to_collection\":\"%s\"%s%s%s}",
	    from, field, to, od ? ",\"on_delete\":\"" : "", od ? od : "",
	    od ? "\"" : "");
	assert_int_equal(
	    call(data_h_relations_create, "admin", NULL, NULL, body, &r), 201);
	assert_string_equal(str_of(r, "on_delete"), od ? od : "set_null");
	if (rid != NULL) {
		snprintf(rid, 27, "%s", str_of(r, "id"));
	}
	json_decref(r);
}

static int64_t
coll_id(const char *name)
{
	struct data_worker *dw = data_worker(&worker);
	struct data_coll   *c;
	int64_t             id;

	assert_int_equal(data_begin_read(dw), 0);
	assert_int_equal(data_catalog_find(dw, name, strlen(name), &c), 0);
	id = c->id;
	data_end(dw);
	return (id);
}

// The record as the admin sees it (soft-deleted included), or NULL.
static json_t *
arec(const char *coll, const char *id)
{
	char    params[160];
	json_t *r;
	int     st;

	snprintf(params, sizeof(params), "{\"name\":\"%s\",\"id\":\"%s\"}",
	    coll, id);
	st = call(data_h_admin_records_get, "admin", params, NULL, NULL, &r);
	if (st == 404) {
		json_decref(r);
		return (NULL);
	}
	assert_int_equal(st, 200);
	return (r);
}

static int
is_deleted(const char *coll, const char *id)
{
	json_t *r = arec(coll, id);
	int     d;

	assert_non_null(r);
	d = json_is_integer(json_object_get(r, "_deleted_at"));
	json_decref(r);
	return (d);
}

// What write.c does on a (hard) delete of coll/id: on_delete first, then
// the row itself, in one write transaction. Returns on_delete's code.
static int
del(const char *coll, const char *id, int hard, struct data_rel_hit **hits,
    size_t *nhits)
{
	struct data_worker *dw = data_worker(&worker);
	char                sql[160];
	int64_t             cid = coll_id(coll);
	int                 rv;

	assert_int_equal(data_begin_write(dw), 0);
	rv = data_rel_on_delete(dw, cid, id, hard, hits, nhits);
	if (rv != 0) {
		data_end(dw);
		return (rv);
	}
	if (hard) {
		snprintf(sql, sizeof(sql),
		    "DELETE FROM r%lld WHERE _id = '%s'", (long long) cid, id);
	} else {
		snprintf(sql, sizeof(sql),
		    "UPDATE r%lld SET _deleted_at = 1 WHERE _id = '%s'",
		    (long long) cid, id);
	}
	assert_int_equal(
	    sqlite3_exec(data_conn(dw), sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(data_commit(dw), 0);
	return (0);
}

// data_rel_check of body for coll inside a (rolled back) write txn.
static int
check(const char *coll, const char *body, const char **field)
{
	struct data_worker *dw  = data_worker(&worker);
	json_t             *v   = json_loads(body, 0, NULL);
	int64_t             cid = coll_id(coll);
	static char         fbuf[64];
	int                 rv;

	assert_non_null(v);
	assert_int_equal(data_begin_write(dw), 0);
	rv = data_rel_check(dw, cid, v, field);
	data_end(dw);
	if (*field != NULL) {
		snprintf(fbuf, sizeof(fbuf), "%s", *field);
		*field = fbuf;
	}
	json_decref(v);
	return (rv);
}

// Sets the access rules of a collection (no admin handler here yet).
static void
set_rules(const char *coll, const char *rules)
{
	struct data_worker *dw = data_worker(&worker);
	sqlite3_stmt       *st;

	assert_int_equal(data_begin_write(dw), 0);
	st =
	    data_stmt(dw, "UPDATE collections SET rules = ?1 WHERE name = ?2");
	assert_non_null(st);
	sqlite3_bind_text(st, 1, rules, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	lc_db_done(st);
	st = data_stmt(dw, "UPDATE catalog_gen SET gen = gen + 1");
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	lc_db_done(st);
	assert_int_equal(data_commit(dw), 0);
}

/* ---- admin handlers ---- */

static void
test_handlers(void **state)
{
	json_t *r;
	char    a[27];
	char    r1[27];
	char    r2[27];
	char    r3[27];
	char    r4[27];
	char    params[64];

	(void) state;
	mk("hto", "U1", "{\"n\":1}", a);
	mk("hfrom", "U1", "{\"n\":1}", a);
	mk("hother", "U1", "{\"Title\":\"x\"}", a);
	// validation, in key order, before 404
	expect_error(
	    call(data_h_relations_create, "admin", NULL, NULL,
	        "{\"from_field\":\"a\",\"to_collection\":\"hto\"}", &r),
	    400, "validation_error", "from_collection");
	expect_error(
	    call(data_h_relations_create, "admin", NULL, NULL,
	        "{\"from_collection\":\"nx\",\"from_field\":\"_id\"}", &r),
	    400, "validation_error", "from_field");
	static const char *const bad[][2] = {
		{ "from_field", "\"_owner_id\"" },
		{ "from_field", "\"a-b\"" },
		{ "from_field", "5" },
		{ "from_field", "\"\"" },
		{ "on_delete", "\"delete\"" },
		{ "on_delete", "\"CASCADE\"" },
		{ "on_delete", "1" },
		{ "from_collection", "5" },
		{ "to_collection", "[\"x\"]" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char    body[256];
		json_t *b = json_pack("{s:s, s:s, s:s}", "from_collection",
		    "hfrom", "from_field", "author", "to_collection", "hto");
		char   *d;

		json_object_set_new(b, bad[i][0],
		    json_loads(bad[i][1], JSON_DECODE_ANY, NULL));
		d = json_dumps(b, JSON_COMPACT);
		snprintf(body, sizeof(body), "%s", d);
		free(d);
		json_decref(b);
		expect_error(call(data_h_relations_create, "admin", NULL, NULL,
		                 body, &r),
		    400, "validation_error", bad[i][0]);
	}
	expect_error(
	    call(data_h_relations_create, "admin", NULL, NULL, "[1]", &r), 400,
	    "invalid_body", NULL);
	expect_error(call(data_h_relations_create, "admin", NULL, NULL,
	                 "{\"from_collection\":\"nx\",\"from_field\":\"a\","
	                 "\"to_collection\":\"hto\"}",
	                 &r),
	    404, "collection_not_found", NULL);
	expect_error(call(data_h_relations_create, "admin", NULL, NULL,
	                 "{\"from_collection\":\"hfrom\",\"from_field\":\"a\","
	                 "\"to_collection\":\"no;pe\"}",
	                 &r),
	    404, "collection_not_found", NULL);
	// a field differing only in case from a column
	expect_error(call(data_h_relations_create, "admin", NULL, NULL,
	                 "{\"from_collection\":\"hother\",\"from_field\":"
	                 "\"title\",\"to_collection\":\"hto\"}",
	                 &r),
	    400, "validation_error", "from_field");
	relate("hfrom", "author", "hto", NULL, r1);
	relate("hfrom", "tags", "hto", "cascade", r2);
	relate("hto", "back", "hfrom", "restrict", r3);
	relate("hother", "x", "hother", NULL, r4); // self relation
	expect_error(call(data_h_relations_create, "admin", NULL, NULL,
	                 "{\"from_collection\":\"hfrom\",\"from_field\":"
	                 "\"author\",\"to_collection\":\"hother\"}",
	                 &r),
	    409, "relation_exists", NULL);
	expect_error(call(data_h_relations_create, "admin", NULL, NULL,
	                 "{\"from_collection\":\"hfrom\",\"from_field\":"
	                 "\"Author\",\"to_collection\":\"hto\"}",
	                 &r),
	    409, "relation_exists", NULL);
	// list: either end, newest first, paging
	assert_int_equal(call(data_h_relations_list, "admin", NULL,
	                     "{\"collection\":\"hfrom\"}", NULL, &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 3);
	assert_string_equal(
	    str_of(json_array_get(json_object_get(r, "items"), 0), "id"), r3);
	assert_string_equal(
	    str_of(json_array_get(json_object_get(r, "items"), 2), "id"), r1);
	assert_string_equal(
	    str_of(json_array_get(json_object_get(r, "items"), 0),
	        "from_collection"),
	    "hto");
	assert_int_equal(json_integer_value(json_object_get(r, "limit")), 50);
	json_decref(r);
	assert_int_equal(call(data_h_relations_list, "admin", NULL,
	                     "{\"collection\":\"hto\",\"limit\":\"1\","
	                     "\"page\":\"2\"}",
	                     NULL, &r),
	    200);
	assert_int_equal(json_array_size(json_object_get(r, "items")), 1);
	assert_string_equal(
	    str_of(json_array_get(json_object_get(r, "items"), 0), "id"), r2);
	assert_int_equal(json_integer_value(json_object_get(r, "page")), 2);
	json_decref(r);
	assert_int_equal(call(data_h_relations_list, "admin", NULL,
	                     "{\"limit\":\"9999\"}", NULL, &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 4);
	assert_int_equal(json_integer_value(json_object_get(r, "limit")), 500);
	assert_string_equal(
	    str_of(json_array_get(json_object_get(r, "items"), 0), "id"), r4);
	json_decref(r);
	assert_int_equal(call(data_h_relations_list, "admin", NULL,
	                     "{\"collection\":\"nx\"}", NULL, &r),
	    200);
	assert_int_equal(json_array_size(json_object_get(r, "items")), 0);
	json_decref(r);
	expect_error(call(data_h_relations_list, "admin", NULL,
	                 "{\"limit\":\"0\"}", NULL, &r),
	    400, "invalid_query", "limit");
	expect_error(call(data_h_relations_list, "admin", NULL,
	                 "{\"page\":\"1.5\"}", NULL, &r),
	    400, "invalid_query", "page");
	// data_rel_json (the schema's "relations")
	{
		struct data_worker *dw = data_worker(&worker);
		json_t             *arr;
		int64_t             hid = coll_id("hother");

		assert_int_equal(data_begin_read(dw), 0);
		assert_int_equal(data_rel_json(dw, hid, &arr), 0);
		data_end(dw);
		assert_int_equal(json_array_size(arr), 1);
		json_decref(arr);
	}
	// delete
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", r1);
	assert_int_equal(
	    call(data_h_relations_delete, "admin", params, NULL, NULL, &r),
	    200);
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	expect_error(
	    call(data_h_relations_delete, "admin", params, NULL, NULL, &r),
	    404, "not_found", NULL);
	expect_error(call(data_h_relations_delete, "admin",
	                 "{\"id\":\"nope\"}", NULL, NULL, &r),
	    404, "not_found", NULL);
	assert_int_equal(call(data_h_relations_list, "admin", NULL,
	                     "{\"collection\":\"hfrom\"}", NULL, &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 2);
	json_decref(r);
}

/* ---- writes ---- */

static void
test_check(void **state)
{
	const char *f;
	char        p1[27];
	char        p2[27];
	char        gone[27];
	char        post[27];
	char        body[256];

	(void) state;
	mk("cto", "U1", "{\"name\":\"p1\"}", p1);
	mk("cto", "U1", "{\"name\":\"p2\"}", p2);
	mk("cto", "U1", "{\"name\":\"gone\"}", gone);
	mk("cfrom", "U1", "{\"x\":1}", post);
	relate("cfrom", "author", "cto", NULL, NULL);
	relate("cfrom", "tags", "cto", NULL, NULL);
	assert_int_equal(del("cto", gone, 0, NULL, NULL), 0);
	snprintf(body, sizeof(body),
	    "{\"author\":\"%s\",\"tags\":[\"%s\",null,\"%s\"],\"x\":2}", p1,
	    p1, p2);
	assert_int_equal(check("cfrom", body, &f), 0);
	assert_null(f);
	assert_int_equal(
	    check("cfrom", "{\"author\":null,\"tags\":[]}", &f), 0);
	assert_int_equal(check("cfrom", "{\"other\":1}", &f), 0);
	assert_int_equal(check("cfrom", "{}", &f), 0);
	static const char *const bad[][2] = {
		{ "{\"author\":\"01HV0000000000000000000000\"}", "author" },
		{ "{\"author\":\"not-an-id\"}", "author" },
		{ "{\"author\":5}", "author" },
		{ "{\"author\":{\"id\":\"x\"}}", "author" },
		{ "{\"tags\":[5]}", "tags" },
		{ "{\"tags\":\"01HV0000000000000000000000\"}", "tags" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    check("cfrom", bad[i][0], &f), LC_EVALIDATION);
		assert_string_equal(f, bad[i][1]);
	}
	snprintf(body, sizeof(body), "{\"author\":\"%s\"}", gone);
	assert_int_equal(check("cfrom", body, &f), LC_EVALIDATION);
	assert_string_equal(f, "author");
	snprintf(body, sizeof(body), "{\"tags\":[\"%s\",\"%s\"]}", p1, gone);
	assert_int_equal(check("cfrom", body, &f), LC_EVALIDATION);
	assert_string_equal(f, "tags");
	// a record of another collection is not a record of the target
	snprintf(body, sizeof(body), "{\"author\":\"%s\"}", post);
	assert_int_equal(check("cfrom", body, &f), LC_EVALIDATION);
	// first failing field in name order
	snprintf(body, sizeof(body), "{\"tags\":[\"%s\"],\"author\":\"%s\"}",
	    gone, gone);
	assert_int_equal(check("cfrom", body, &f), LC_EVALIDATION);
	assert_string_equal(f, "author");
	// no relation on the target side
	assert_int_equal(check("cto", "{\"author\":5}", &f), 0);
}

/* ---- on_delete ---- */

static void
test_set_null(void **state)
{
	char                 a[27];
	char                 b[27];
	char                 p[27];
	char                 q[27];
	char                 d[27];
	char                 body[256];
	json_t              *r;
	struct data_rel_hit *hits = NULL;
	size_t               n    = 0;

	(void) state;
	mk("sto", "U1", "{\"n\":\"a\"}", a);
	mk("sto", "U1", "{\"n\":\"b\"}", b);
	ensure("sfrom");
	relate("sfrom", "author", "sto", NULL, NULL);
	relate("sfrom", "tags", "sto", "set_null", NULL);
	snprintf(body, sizeof(body),
	    "{\"author\":\"%s\",\"tags\":[\"%s\",\"%s\",\"%s\"]}", a, a, b, a);
	mk("sfrom", "U2", body, p);
	snprintf(
	    body, sizeof(body), "{\"author\":\"%s\",\"tags\":[\"%s\"]}", b, b);
	mk("sfrom", "U1", body, q);
	snprintf(body, sizeof(body), "{\"author\":\"%s\"}", a);
	mk("sfrom", "U1", body, d);
	assert_int_equal(del("sfrom", d, 0, NULL, NULL), 0); // soft-deleted
	assert_int_equal(del("sto", a, 0, &hits, &n), 0);
	// p changed twice (author, tags), d once but it is deleted: no hit
	assert_int_equal(n, 2);
	assert_string_equal(hits[0].coll, "sfrom");
	assert_string_equal(hits[0].id, p);
	assert_int_equal(hits[0].deleted, 0);
	lc_free(hits);
	r = arec("sfrom", p);
	assert_true(json_is_null(json_object_get(r, "author")));
	assert_int_equal(json_array_size(json_object_get(r, "tags")), 1);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(r, "tags"), 0)),
	    b);
	assert_true(json_is_null(json_object_get(r, "_deleted_at")));
	json_decref(r);
	r = arec("sfrom", d); // a soft-deleted referrer is cleared too
	assert_true(json_is_null(json_object_get(r, "author")));
	json_decref(r);
	r = arec("sfrom", q);
	assert_string_equal(str_of(r, "author"), b);
	json_decref(r);
	// hard delete
	assert_int_equal(del("sto", b, 1, NULL, NULL), 0);
	assert_null(arec("sto", b));
	r = arec("sfrom", p);
	assert_int_equal(json_array_size(json_object_get(r, "tags")), 0);
	json_decref(r);
	r = arec("sfrom", q);
	assert_true(json_is_null(json_object_get(r, "author")));
	assert_int_equal(json_array_size(json_object_get(r, "tags")), 0);
	json_decref(r);
}

static void
test_cascade(void **state)
{
	char                 a[27];
	char                 b[27];
	char                 p1[27];
	char                 p2[27];
	char                 p3[27];
	char                 c1[27];
	char                 arr[27];
	char                 body[256];
	struct data_rel_hit *hits = NULL;
	size_t               n    = 0;

	(void) state;
	mk("kto", "U1", "{\"n\":\"a\"}", a);
	mk("kto", "U1", "{\"n\":\"b\"}", b);
	ensure("kfrom");
	ensure("kchild");
	relate("kfrom", "author", "kto", "cascade", NULL);
	relate("kfrom", "refs", "kto", "cascade", NULL);
	relate("kchild", "post", "kfrom", "cascade", NULL); // two levels
	snprintf(body, sizeof(body), "{\"author\":\"%s\"}", a);
	mk("kfrom", "U2", body, p1);
	mk("kfrom", "U1", body, p2);
	snprintf(body, sizeof(body), "{\"author\":\"%s\"}", b);
	mk("kfrom", "U2", body, p3);
	snprintf(body, sizeof(body), "{\"refs\":[\"%s\",\"%s\"]}", b, a);
	mk("kfrom", "U2", body, arr);
	snprintf(body, sizeof(body), "{\"post\":\"%s\"}", p1);
	mk("kchild", "U3", body, c1);
	assert_int_equal(del("kto", a, 0, &hits, &n), 0);
	assert_int_equal(n, 4); // p1, p2, arr, then c1 (breadth first)
	assert_string_equal(hits[3].coll, "kchild");
	assert_string_equal(hits[3].id, c1);
	assert_true(hits[3].deleted);
	lc_free(hits);
	assert_true(is_deleted("kfrom", p1));
	assert_true(is_deleted("kfrom", p2));
	assert_true(is_deleted("kfrom", arr));
	assert_true(is_deleted("kchild", c1));
	assert_false(is_deleted("kfrom", p3));
	// hard: cascades as hard delete, soft-deleted referrers included
	assert_int_equal(del("kto", b, 1, NULL, NULL), 0);
	assert_null(arec("kfrom", p3));
	assert_null(arec("kfrom", arr));
	assert_int_equal(del("kto", a, 1, NULL, NULL), 0);
	assert_null(arec("kfrom", p1));
	assert_null(arec("kfrom", p2));
	assert_null(arec("kchild", c1));
}

static int64_t
index_count(const char *like)
{
	sqlite3_stmt *st;
	int64_t       n = -1;

	assert_int_equal(sqlite3_prepare_v2(worker.db,
	                     "SELECT count(*) FROM sqlite_schema WHERE"
	                     " type = 'index' AND name LIKE ?1 ESCAPE '\\'",
	                     -1, &st, NULL),
	    SQLITE_OK);
	(void) sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return (n);
}

// A relation's text from_field gets an index (x<id>_<pos>), made with the
// relation or when the column comes, dropped with the relation or the
// column; the lookup of referrers uses it; a json field gets none.
static void
test_field_index(void **state)
{
	char    rid[27];
	char    a[27];
	char    p[27];
	char    body[160];
	char    like[32];
	char   *plan;
	json_t *r;
	int64_t from;

	(void) state;
	mk("xto", "U1", "{}", a);
	snprintf(body, sizeof(body), "{\"author\":\"%s\"}", a);
	mk("xfrom", "U1", body, p);
	from = coll_id("xfrom");
	snprintf(like, sizeof(like), "x%lld\\_%%", (long long) from);
	assert_int_equal(index_count(like), 0);
	relate("xfrom", "author", "xto", "cascade", rid);
	assert_int_equal(index_count(like), 1);
	// a field that comes later gets it when it comes; a json one never
	relate("xfrom", "editor", "xto", NULL, NULL);
	relate("xfrom", "refs", "xto", NULL, NULL);
	assert_int_equal(index_count(like), 1);
	snprintf(
	    body, sizeof(body), "{\"editor\":\"%s\",\"refs\":[\"%s\"]}", a, a);
	mk("xfrom", "U1", body, p);
	assert_int_equal(index_count(like), 2);
	// the referrers' lookup reads it
	snprintf(body, sizeof(body),
	    "SELECT _rowid_ FROM r%lld WHERE \"author\" = ?1",
	    (long long) from);
	plan = plan_of(body);
	assert_non_null(strstr(plan, "USING COVERING INDEX x"));
	lc_free(plan);
	// gone with the relation, and with the column
	snprintf(body, sizeof(body), "{\"id\":\"%s\"}", rid);
	assert_int_equal(
	    call(data_h_relations_delete, "admin", body, NULL, NULL, &r), 200);
	json_decref(r);
	assert_int_equal(index_count(like), 1);
	assert_int_equal(
	    call(data_h_collections_drop_column, "admin",
	        "{\"name\":\"xfrom\",\"column\":\"editor\"}", NULL, NULL, &r),
	    200);
	json_decref(r);
	assert_int_equal(index_count(like), 0);
}

static void
test_cycles(void **state)
{
	char                 x[27];
	char                 y[27];
	char                 s[27];
	char                 body[128];
	struct data_rel_hit *hits = NULL;
	size_t               n    = 0;
	json_t              *r;
	char                 params[128];

	(void) state;
	// A <-> B cascade, created without relations, then related.
	mk("ya", "U1", "{\"n\":1}", x);
	snprintf(body, sizeof(body), "{\"a\":\"%s\"}", x);
	mk("yb", "U1", body, y);
	snprintf(params, sizeof(params),
	    "{\"collection\":\"ya\",\"id\":\"%s\"}", x);
	snprintf(body, sizeof(body), "{\"b\":\"%s\"}", y);
	assert_int_equal(
	    call(data_h_records_update, "U1", params, NULL, body, &r), 200);
	json_decref(r);
	relate("yb", "a", "ya", "cascade", NULL);
	relate("ya", "b", "yb", "cascade", NULL);
	assert_int_equal(del("ya", x, 0, &hits, &n), 0);
	assert_int_equal(n, 1); // y only: x is the caller's
	lc_free(hits);
	assert_true(is_deleted("yb", y));
	assert_int_equal(del("ya", x, 1, NULL, NULL), 0);
	assert_null(arec("yb", y));
	assert_null(arec("ya", x));
	// a self reference, cascade: ends
	mk("self", "U1", "{\"n\":1}", s);
	relate("self", "parent", "self", "cascade", NULL);
	snprintf(params, sizeof(params),
	    "{\"collection\":\"self\",\"id\":\"%s\"}", s);
	snprintf(body, sizeof(body), "{\"parent\":\"%s\"}", s);
	assert_int_equal(
	    call(data_h_records_update, "U1", params, NULL, body, &r), 200);
	json_decref(r);
	assert_int_equal(del("self", s, 0, &hits, &n), 0);
	assert_int_equal(n, 0);
	lc_free(hits);
	assert_int_equal(del("self", s, 1, NULL, NULL), 0);
	assert_null(arec("self", s));
}

static void
test_restrict(void **state)
{
	char                a[27];
	char                free_[27];
	char                p[27];
	char                c[27];
	char                t[27];
	char                body[128];
	struct data_worker *dw = data_worker(&worker);
	int64_t             rid;

	(void) state;
	mk("rto", "U1", "{\"n\":\"a\"}", a);
	mk("rto", "U1", "{\"n\":\"free\"}", free_);
	ensure("rfrom");
	ensure("rarr");
	ensure("rtop");
	relate("rfrom", "author", "rto", "restrict", NULL);
	relate("rarr", "refs", "rto", "restrict", NULL);
	snprintf(body, sizeof(body), "{\"author\":\"%s\"}", a);
	mk("rfrom", "U1", body, p);
	assert_int_equal(del("rto", a, 0, NULL, NULL), LC_ERELATION_RESTRICT);
	assert_int_equal(del("rto", a, 1, NULL, NULL), LC_ERELATION_RESTRICT);
	assert_false(is_deleted("rto", a));
	assert_int_equal(del("rto", free_, 0, NULL, NULL), 0);
	// a soft-deleted referrer no longer restricts
	assert_int_equal(del("rfrom", p, 0, NULL, NULL), 0);
	assert_int_equal(del("rto", a, 0, NULL, NULL), 0);
	assert_int_equal(del("rto", a, 1, NULL, NULL), 0);
	// arrays restrict too
	mk("rto", "U1", "{\"n\":\"c\"}", c);
	snprintf(body, sizeof(body), "{\"refs\":[\"%s\"]}", c);
	mk("rarr", "U1", body, p);
	assert_int_equal(del("rto", c, 0, NULL, NULL), LC_ERELATION_RESTRICT);
	// a restrict deep in a cascade fails the whole delete, and the
	// caller's rollback leaves everything as it was
	relate("rtop", "child", "rto", NULL, NULL);
	relate("rto", "top", "rtop", "cascade", NULL);
	mk("rtop", "U1", "{\"n\":1}", t);
	snprintf(body, sizeof(body), "{\"top\":\"%s\"}", t);
	{
		char    params[128];
		json_t *r;

		snprintf(params, sizeof(params),
		    "{\"collection\":\"rto\",\"id\":\"%s\"}", c);
		assert_int_equal(
		    call(data_h_records_update, "U1", params, NULL, body, &r),
		    200);
		json_decref(r);
	}
	assert_int_equal(del("rtop", t, 0, NULL, NULL), LC_ERELATION_RESTRICT);
	assert_false(is_deleted("rto", c));
	assert_false(is_deleted("rtop", t));
	// drop the relation by field: no longer restricts
	rid = coll_id("rarr");
	assert_int_equal(data_begin_write(dw), 0);
	assert_int_equal(data_rel_drop_field(dw, rid, "refs"), 0);
	assert_int_equal(data_commit(dw), 0);
	assert_int_equal(del("rtop", t, 0, NULL, NULL), 0);
	assert_true(is_deleted("rto", c));
}

/* ---- expand ---- */

static void
caller_of(struct data_caller *c, const char *who)
{
	memset(c, 0, sizeof(*c));
	c->verified = 1;
	if (who == NULL) {
		return;
	}
	if (strcmp(who, "admin") == 0) {
		c->admin = 1;
		return;
	}
	c->user = 1;
	c->uid  = who;
}

// Expands the full record coll/id for caller who; returns the "expand"
// object (new reference), or NULL with *rv set on a parse error.
static json_t *
expand(const char *coll, const char *id, const char *who, const char *names,
    int *rv)
{
	struct data_worker    *dw = data_worker(&worker);
	struct data_rel_expand e  = { 0 };
	struct data_caller     caller;
	json_t                *rec = arec(coll, id);
	json_t                *ex  = json_string(names);
	json_t                *out = NULL;

	int64_t cid = coll_id(coll);

	caller_of(&caller, who);
	assert_int_equal(data_begin_read(dw), 0);
	if ((*rv = data_rel_expand_parse(dw, cid, ex, &e)) == 0) {
		data_rel_expand_add(&e, rec, NULL);
		assert_int_equal(data_rel_expand_apply(dw, &e, &caller, 0), 0);
		out = json_incref(json_object_get(rec, "expand"));
	}
	data_end(dw);
	data_rel_expand_fini(&e);
	json_decref(ex);
	json_decref(rec);
	return (out);
}

static void
test_expand(void **state)
{
	char    mine[27];
	char    hers[27];
	char    mine2[27];
	char    gone[27];
	char    p[27];
	char    body[256];
	json_t *x;
	int     rv;

	(void) state;
	mk("eto", "U1", "{\"name\":\"alice's\"}", mine);
	mk("eto", "U2", "{\"name\":\"bob's\"}", hers);
	mk("eto", "U1", "{\"name\":\"alice's too\"}", mine2);
	mk("eto", "U1", "{\"name\":\"gone\"}", gone);
	ensure("efrom");
	relate("efrom", "author", "eto", NULL, NULL);
	relate("efrom", "none", "eto", NULL, NULL);
	// tags holds an id that names nothing: written before the relation
	// exists (existing data is not checked, §5.6).
	snprintf(body, sizeof(body),
	    "{\"title\":\"t\",\"author\":\"%s\",\"tags\":[\"%s\",\"%s\","
	    "\"%s\",\"%s\",\"01HV0000000000000000000000\"]}",
	    hers, mine, mine2, hers, gone);
	mk("efrom", "U1", body, p);
	relate("efrom", "tags", "eto", NULL, NULL);
	// a soft-deleted target is never expanded (relation removed first so
	// set_null keeps the id)
	{
		struct data_worker *dw = data_worker(&worker);
		char                sql[128];

		snprintf(sql, sizeof(sql),
		    "UPDATE r%lld SET _deleted_at = 1 WHERE _id = '%s'",
		    (long long) coll_id("eto"), gone);
		assert_int_equal(data_begin_write(dw), 0);
		assert_int_equal(
		    sqlite3_exec(data_conn(dw), sql, NULL, NULL, NULL),
		    SQLITE_OK);
		assert_int_equal(data_commit(dw), 0);
	}
	// public read: everything visible but missing / deleted ones
	x = expand("efrom", p, NULL, "author, tags,author,,none", &rv);
	assert_int_equal(rv, 0);
	assert_int_equal(json_object_size(x), 3);
	assert_string_equal(
	    str_of(json_object_get(x, "author"), "name"), "bob's");
	assert_int_equal(json_array_size(json_object_get(x, "tags")), 3);
	assert_string_equal(
	    str_of(json_array_get(json_object_get(x, "tags"), 2), "_id"),
	    hers);
	assert_true(json_is_null(json_object_get(x, "none")));
	json_decref(x);
	// owner read rule on the target
	set_rules("eto",
	    "{\"read\":\"owner\",\"create\":\"authenticated\","
	    "\"update\":\"owner\",\"delete\":\"owner\"}");
	x = expand("efrom", p, "U1", "author,tags", &rv);
	assert_true(json_is_null(json_object_get(x, "author")));
	assert_int_equal(json_array_size(json_object_get(x, "tags")), 2);
	assert_string_equal(
	    str_of(json_array_get(json_object_get(x, "tags"), 0), "_id"),
	    mine);
	json_decref(x);
	x = expand("efrom", p, "U2", "author,tags", &rv);
	assert_string_equal(str_of(json_object_get(x, "author"), "_id"), hers);
	assert_int_equal(json_array_size(json_object_get(x, "tags")), 1);
	json_decref(x);
	x = expand("efrom", p, NULL, "author,tags", &rv); // anonymous
	assert_int_equal(rv, 0);
	assert_true(json_is_null(json_object_get(x, "author")));
	assert_int_equal(json_array_size(json_object_get(x, "tags")), 0);
	json_decref(x);
	x = expand("efrom", p, "admin", "tags", &rv);
	assert_int_equal(json_array_size(json_object_get(x, "tags")), 3);
	json_decref(x);
	set_rules("eto",
	    "{\"read\":\"disabled\",\"create\":\"authenticated\","
	    "\"update\":\"owner\",\"delete\":\"owner\"}");
	x = expand("efrom", p, "U2", "author", &rv);
	assert_true(json_is_null(json_object_get(x, "author")));
	json_decref(x);
	// errors
	static const char *const bad[] = { "title", "nope", "author,nope",
		"a-b", "author,tags,none,f4,f5,f6,f7,f8,f9,f10,f11" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(expand("efrom", p, NULL, bad[i], &rv));
		assert_int_equal(rv, LC_EINVALID_QUERY);
	}
	assert_null(expand("eto", mine, NULL, "author", &rv)); // other end
	assert_int_equal(rv, LC_EINVALID_QUERY);
	x = expand("efrom", p, NULL, "", &rv); // empty: no expand
	assert_int_equal(rv, 0);
	assert_null(x);
	// at most 10 names
	{
		char names[128] = "";
		char f[16];

		for (int i = 0; i < 11; i++) {
			snprintf(f, sizeof(f), "f%02d", i);
			relate("efrom", f, "eto", NULL, NULL);
			if (i < 10) {
				strcat(names, i ? "," : "");
				strcat(names, f);
			}
		}
		x = expand("efrom", p, NULL, names, &rv);
		assert_int_equal(rv, 0);
		assert_int_equal(json_object_size(x), 10);
		json_decref(x);
		strcat(names, ",f10");
		assert_null(expand("efrom", p, NULL, names, &rv));
		assert_int_equal(rv, LC_EINVALID_QUERY);
	}
}

// The row path: `fields` leaves the expanded field out of the record.
static void
test_expand_rows(void **state)
{
	struct data_worker    *dw = data_worker(&worker);
	struct data_rel_expand e  = { 0 };
	struct data_caller     caller;
	struct data_coll      *c;
	struct data_query      q;
	struct data_qopts      o   = { 0 };
	json_t                *fl  = json_string("title");
	json_t                *ex  = json_string("author");
	json_t                *arr = json_array();
	json_t                *rec;
	sqlite3_stmt          *st;
	char                  *sql = NULL;
	char                   a[27];
	char                   p[27];
	char                   body[128];

	(void) state;
	mk("wto", "U1", "{\"name\":\"Ann\"}", a);
	ensure("wfrom");
	relate("wfrom", "author", "wto", NULL, NULL);
	snprintf(body, sizeof(body), "{\"title\":\"x\",\"author\":\"%s\"}", a);
	mk("wfrom", "U1", body, p);
	mk("wfrom", "U1", "{\"title\":\"y\",\"author\":null}", p);
	caller_of(&caller, NULL);
	assert_int_equal(data_begin_read(dw), 0);
	assert_int_equal(data_catalog_find(dw, "wfrom", 5, &c), 0);
	data_query_init(&q, &c->schema, &o);
	assert_int_equal(data_query_fields(&q, fl), 0);
	assert_int_equal(data_rel_expand_parse(dw, c->id, ex, &e), 0);
	data_rel_expand_select(&e, &q);
	data_query_sql_list(&q, 10, 0, &sql);
	st = data_stmt_dyn(dw, sql);
	assert_non_null(st);
	assert_int_equal(data_query_bind(&q, st), 0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		rec = data_proj_record(&q, st, 0);
		data_rel_expand_row(&e, &q, st, 0, rec);
		json_array_append_new(arr, rec);
	}
	lc_db_done(st);
	assert_int_equal(data_rel_expand_apply(dw, &e, &caller, 0), 0);
	data_end(dw);
	assert_int_equal(json_array_size(arr), 3); // ensure()d one first
	rec = json_array_get(arr, 1);
	assert_null(json_object_get(rec, "author"));
	assert_string_equal(
	    str_of(json_object_get(json_object_get(rec, "expand"), "author"),
	        "name"),
	    "Ann");
	rec = json_array_get(arr, 2);
	assert_true(json_is_null(
	    json_object_get(json_object_get(rec, "expand"), "author")));
	data_rel_expand_fini(&e);
	data_query_fini(&q);
	lc_free(sql);
	json_decref(arr);
	json_decref(fl);
	json_decref(ex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handlers),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_set_null),
		cmocka_unit_test(test_cascade),
		cmocka_unit_test(test_field_index),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_restrict),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_rows),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
