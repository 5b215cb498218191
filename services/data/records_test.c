/*
 * records_test.c -- the record handlers over a real database (a temp
 * file, the real migrations, one worker): auto-creation, system fields,
 * forged `_owner_id`, type_mismatch leaving nothing behind (DDL rolled
 * back), PATCH semantics, the FTS index following new text columns and
 * updates, owner rules, soft delete and restore, idempotency by request,
 * bulk atomicity, and list paging with next_cursor.
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

#define call fx_call

static const char *
code_of(json_t *b)
{
	return (json_string_value(json_object_get(b, "code")));
}

static void
test_create_get(void **state)
{
	json_t *r;
	json_t *g;
	char    params[128];

	(void) state;
	// Anonymous: default create rule is authenticated.
	assert_int_equal(call(data_h_records_create, NULL, NULL,
	                     "{\"collection\":\"posts\"}", NULL, "{}", &r),
	    401);
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_create, "U1", NULL,
	        "{\"collection\":\"posts\"}", NULL,
	        "{\"title\":\"Hello\",\"views\":3,\"price\":10,"
	        "\"published\":true,\"tags\":[\"a\"],\"_owner_id\":\"forged\","
	        "\"_id\":\"x\",\"_created_at\":5}",
	        &r),
	    201);
	assert_string_equal(
	    json_string_value(json_object_get(r, "_owner_id")), "U1");
	assert_int_equal(
	    json_string_length(json_object_get(r, "_id")), LC_ULID_LEN);
	assert_true(json_is_null(json_object_get(r, "_deleted_at")));
	assert_true(json_is_true(json_object_get(r, "published")));
	assert_true(json_is_array(json_object_get(r, "tags")));
	assert_int_equal(json_integer_value(json_object_get(r, "views")), 3);
	// price is a real column from a real first value? No: 10 is an
	// integer, so the column is integer.
	assert_true(json_is_integer(json_object_get(r, "price")));
	assert_true(
	    json_integer_value(json_object_get(r, "_created_at")) != 5);
	snprintf(params, sizeof(params),
	    "{\"collection\":\"posts\",\"id\":\"%s\"}",
	    json_string_value(json_object_get(r, "_id")));
	assert_int_equal(
	    call(data_h_records_get, NULL, NULL, params, NULL, NULL, &g), 200);
	assert_true(json_equal(r, g));
	json_decref(g);
	json_decref(r);
	// Bad ids and names: 404, never 400.
	assert_int_equal(
	    call(data_h_records_get, NULL, NULL,
	        "{\"collection\":\"posts\",\"id\":\"nope\"}", NULL, NULL, &g),
	    404);
	assert_string_equal(code_of(g), "record_not_found");
	json_decref(g);
	assert_int_equal(
	    call(data_h_records_get, NULL, NULL,
	        "{\"collection\":\"po;sts\",\"id\":\"x\"}", NULL, NULL, &g),
	    404);
	assert_string_equal(code_of(g), "collection_not_found");
	json_decref(g);
	assert_int_equal(call(data_h_records_create, "U1", NULL,
	                     "{\"collection\":\"p\\\"; DROP TABLE r1; --\"}",
	                     NULL, "{}", &g),
	    400);
	assert_string_equal(code_of(g), "invalid_collection_name");
	json_decref(g);
}

static void
test_failed_write_changes_nothing(void **state)
{
	json_t *r;

	(void) state;
	// The new column "extra" would be created, then "views" fails.
	assert_int_equal(call(data_h_records_create, "U1", NULL,
	                     "{\"collection\":\"posts\"}", NULL,
	                     "{\"extra\":\"x\",\"views\":\"3\"}", &r),
	    400);
	assert_string_equal(code_of(r), "type_mismatch");
	assert_string_equal(
	    json_string_value(json_object_get(r, "field")), "views");
	json_decref(r);
	// No column, no record, and an unknown collection stays unknown.
	assert_int_equal(
	    call(data_h_records_create, "U1", NULL,
	        "{\"collection\":\"posts\"}", NULL, "{\"EXTRA\":1}", &r),
	    201);
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_create, "U1", NULL,
	        "{\"collection\":\"fresh\"}", NULL, "{\"a\":1,\"A\":2}", &r),
	    400);
	assert_string_equal(code_of(r), "invalid_field_name");
	json_decref(r);
	assert_int_equal(call(data_h_records_get, "admin", NULL,
	                     "{\"collection\":\"fresh\",\"id\":"
	                     "\"01HV0000000000000000000000\"}",
	                     NULL, NULL, &r),
	    404);
	assert_string_equal(code_of(r), "collection_not_found");
	json_decref(r);
	// A name differing only in case from an existing collection.
	assert_int_equal(call(data_h_records_create, "U1", NULL,
	                     "{\"collection\":\"Posts\"}", NULL, "{}", &r),
	    409);
	assert_string_equal(code_of(r), "collection_exists");
	json_decref(r);
}

static int64_t
count(const char *who, const char *coll, const char *query)
{
	char    params[128];
	json_t *r;
	int64_t n;

	snprintf(params, sizeof(params), "{\"collection\":\"%s\"}", coll);
	assert_int_equal(
	    call(data_h_records_count, who, NULL, params, query, NULL, &r),
	    200);
	n = json_integer_value(json_object_get(r, "count"));
	json_decref(r);
	return (n);
}

static void
test_patch_search_owner(void **state)
{
	json_t *r;
	char    params[128];

	(void) state;
	assert_int_equal(
	    call(data_h_records_create, "U1", NULL,
	        "{\"collection\":\"notes\"}", NULL, "{\"n\":1}", &r),
	    201);
	snprintf(params, sizeof(params),
	    "{\"collection\":\"notes\",\"id\":\"%s\"}",
	    json_string_value(json_object_get(r, "_id")));
	json_decref(r);
	assert_int_equal(
	    count(NULL, "notes", "{\"search\":\"zebra\"}"), 0); // no FTS yet
	// PATCH adds a text column: the FTS index is created and rebuilt.
	assert_int_equal(call(data_h_records_update, "U1", NULL, params, NULL,
	                     "{\"body\":\"a zebra crossing\"}", &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r, "n")), 1);
	json_decref(r);
	assert_int_equal(count(NULL, "notes", "{\"search\":\"zebra\"}"), 1);
	// A second text column joins; the old text stays indexed.
	assert_int_equal(call(data_h_records_update, "U1", NULL, params, NULL,
	                     "{\"title\":\"lion\"}", &r),
	    200);
	json_decref(r);
	assert_int_equal(count(NULL, "notes", "{\"search\":\"zebra\"}"), 1);
	assert_int_equal(count(NULL, "notes", "{\"search\":\"lion\"}"), 1);
	// Updates keep the index in sync.
	assert_int_equal(call(data_h_records_update, "U1", NULL, params, NULL,
	                     "{\"body\":null,\"n\":2}", &r),
	    200);
	assert_true(json_is_null(json_object_get(r, "body")));
	json_decref(r);
	assert_int_equal(count(NULL, "notes", "{\"search\":\"zebra\"}"), 0);
	// Other users: 403 (read is public), anonymous 401.
	assert_int_equal(call(data_h_records_update, "U2", NULL, params, NULL,
	                     "{\"n\":3}", &r),
	    403);
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_delete, NULL, NULL, params, NULL, NULL, &r),
	    401);
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_delete, "U1", NULL, params, NULL, NULL, &r),
	    200);
	json_decref(r);
	assert_int_equal(count(NULL, "notes", NULL), 0);
	assert_int_equal(
	    count("admin", "notes", "{\"include_deleted\":\"true\"}"), 1);
	assert_int_equal(
	    call(data_h_records_update, "U1", NULL, params, NULL, "{}", &r),
	    404);
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_restore, "U2", NULL, params, NULL, NULL, &r),
	    403);
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_restore, "U1", NULL, params, NULL, NULL, &r),
	    200);
	assert_true(json_is_null(json_object_get(r, "_deleted_at")));
	json_decref(r);
	assert_int_equal(count(NULL, "notes", NULL), 1);
}

// records.create of body in collection "once" by who with request id rid;
// *out gets the reply body. Returns the status.
static int
create_once(const char *who, const char *rid, const char *body, json_t **out)
{
	return (call(data_h_records_create, who, rid,
	    "{\"collection\":\"once\"}", NULL, body, out));
}

static void
test_idempotent(void **state)
{
	json_t *a;
	json_t *b;

	(void) state;
	assert_int_equal(create_once("U1", "rid-1", "{\"v\":1}", &a), 201);
	assert_int_equal(create_once("U1", "rid-1", "{\"v\":1}", &b), 201);
	assert_true(json_equal(a, b));
	json_decref(b);
	assert_int_equal(count(NULL, "once", NULL), 1);
	// Same rid, other body or caller: a different request.
	assert_int_equal(create_once("U2", "rid-1", "{\"v\":1}", &b), 201);
	assert_false(json_equal(a, b));
	json_decref(b);
	// A restarted process finds the replies in data.db.
	data_dedupe_close(fx_svc.user);
	assert_int_equal(
	    data_dedupe_open(worker.db, (struct data_dedupe **) &fx_svc.user),
	    0);
	assert_int_equal(create_once("U1", "rid-1", "{\"v\":1}", &b), 201);
	assert_true(json_equal(a, b));
	json_decref(b);
	json_decref(a);
	assert_int_equal(count(NULL, "once", NULL), 2);
}

// A reply stored by a write that then rolled back answers nothing: the
// map's entry names a row that is gone, or (the id reused) another's.
static void
test_idempotent_rollback(void **state)
{
	struct data_worker *dw = data_worker(&worker);
	struct lc_req       rq;
	struct lc_rep       rp;
	json_t             *a;
	json_t             *b;

	(void) state;
	fx_req(&rq, "U1", "rid-2", "{\"collection\":\"once\"}", NULL,
	    "{\"v\":2}");
	lc_rep_init(&rp);
	assert_int_equal(data_begin_write(dw), 0);
	assert_int_equal(data_dedupe_find(dw, &rq, &rp), 0);
	assert_int_equal(data_dedupe_store(dw, &rq, 201, rq.body), 0);
	data_end(dw); // rolled back
	lc_rep_fini(&rp);
	lc_req_fini(&rq);
	// another request takes the row id the rolled-back one had
	assert_int_equal(create_once("U1", "rid-3", "{\"v\":3}", &a), 201);
	assert_int_equal(create_once("U1", "rid-2", "{\"v\":2}", &b), 201);
	assert_int_equal(json_integer_value(json_object_get(b, "v")), 2);
	assert_false(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	assert_int_equal(count(NULL, "once", NULL), 4); // 2 of test_idempotent
}

static void
test_bulk_and_list(void **state)
{
	json_t *r;
	char    body[8192];
	size_t  o = 0;

	(void) state;
	assert_int_equal(
	    call(data_h_records_bulk, "U1", NULL, "{\"collection\":\"many\"}",
	        NULL, "[{\"i\":1},{\"i\":2},{\"i\":\"x\"}]", &r),
	    400);
	assert_string_equal(code_of(r), "type_mismatch");
	assert_non_null(strstr(
	    json_string_value(json_object_get(r, "error")), "Item 2: "));
	json_decref(r);
	assert_int_equal(count(NULL, "many", NULL), 0);
	o += (size_t) snprintf(body, sizeof(body), "{\"records\":[");
	for (int i = 0; i < 25; i++) {
		o += (size_t) snprintf(body + o, sizeof(body) - o,
		    "%s{\"i\":%d}", i ? "," : "", i);
	}
	snprintf(body + o, sizeof(body) - o, "]}");
	assert_int_equal(call(data_h_records_bulk, "U1", NULL,
	                     "{\"collection\":\"many\"}", NULL, body, &r),
	    201);
	assert_int_equal(json_array_size(json_object_get(r, "items")), 25);
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_list, NULL, NULL, "{\"collection\":\"many\"}",
	        "{\"limit\":\"10\",\"sort\":\"-i\"}", NULL, &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 25);
	assert_int_equal(json_array_size(json_object_get(r, "items")), 10);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_array_get(json_object_get(r, "items"), 0), "i")),
	    24);
	assert_true(json_is_string(json_object_get(r, "next_cursor")));
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_list, NULL, NULL, "{\"collection\":\"many\"}",
	        "{\"limit\":\"10\",\"page\":\"3\"}", NULL, &r),
	    200);
	assert_int_equal(json_array_size(json_object_get(r, "items")), 5);
	assert_true(json_is_null(json_object_get(r, "next_cursor")));
	json_decref(r);
	assert_int_equal(
	    call(data_h_records_list, NULL, NULL, "{\"collection\":\"many\"}",
	        "{\"limit\":\"0\"}", NULL, &r),
	    400);
	assert_string_equal(
	    json_string_value(json_object_get(r, "field")), "limit");
	json_decref(r);
	// Unknown collection reads as empty.
	assert_int_equal(call(data_h_records_list, NULL, NULL,
	                     "{\"collection\":\"never\"}", NULL, NULL, &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 0);
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_get),
		cmocka_unit_test(test_failed_write_changes_nothing),
		cmocka_unit_test(test_patch_search_owner),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_idempotent_rollback),
		cmocka_unit_test(test_bulk_and_list),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
