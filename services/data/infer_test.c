/*
 * infer_test.c -- collection names (§3.1) and the planning of record
 * writes (§3.2, infer.c): column types of first values, type_mismatch,
 * dropped `_` keys and `_owner_id` for the admin, invalid and hostile
 * field names, case clashes, nulls, and the 200-column limit.
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
#include <string.h>

#include "data.h"
#include "lc_err.h"

static const struct data_col cols[] = {
	{ "title", DATA_T_TEXT, NULL, NULL },
	{ "views", DATA_T_INTEGER, NULL, NULL },
	{ "price", DATA_T_REAL, NULL, NULL },
	{ "published", DATA_T_BOOLEAN, NULL, NULL },
	{ "tags", DATA_T_JSON, NULL, NULL },
};
static const struct data_schema posts = { "r1", "f1", cols, LC_NELEM(cols),
	NULL };
static const struct data_schema empty = { "r2", NULL, NULL, 0, NULL };

static void
test_coll_names(void **state)
{
	(void) state;
	assert_true(data_coll_name_valid("posts", 5));
	assert_true(data_coll_name_valid("a", 1));
	assert_true(data_coll_name_valid("Auth_x", 6));
	assert_false(data_coll_name_valid("", 0));
	assert_false(data_coll_name_valid("1posts", 6));
	assert_false(data_coll_name_valid("_posts", 6));
	assert_false(data_coll_name_valid("po-sts", 6));
	assert_false(data_coll_name_valid("po\"sts", 6));
	assert_false(data_coll_name_valid("po;sts", 6));
	assert_false(data_coll_name_valid("pöst", 5));
	assert_false(data_coll_name_valid("__proto__", 9));
	assert_false(data_coll_name_valid("Admin", 5));
	assert_false(data_coll_name_valid("AUTH", 4));
	assert_false(data_coll_name_valid("storage", 7));
	assert_false(data_coll_name_valid("realtime", 8));
	assert_false(data_coll_name_valid("metrics", 7));
	assert_false(data_coll_name_valid("openapi", 7));
	assert_false(data_coll_name_valid("health", 6));
	assert_false(data_coll_name_valid("sqlite_x", 8));
	assert_false(data_coll_name_valid("SQLite_master", 13));
	assert_true(data_coll_name_valid("sqlitex", 7));
	// 63 characters pass, 64 do not.
	{
		char n[65];

		memset(n, 'a', sizeof(n));
		assert_true(data_coll_name_valid(n, 63));
		assert_false(data_coll_name_valid(n, 64));
	}
	// An embedded NUL is not a name character.
	assert_false(data_coll_name_valid("ab\0c", 4));
}

static void
test_types_of_first_values(void **state)
{
	struct data_plan p;
	json_t *j = json_loads("{\"s\":\"x\",\"i\":42,\"r\":1.5,\"e\":1e3,"
	                       "\"b\":true,\"f\":false,\"o\":{\"k\":1},"
	                       "\"a\":[1],\"n\":null,\"big\":1.0}",
	    0, NULL);
	static const enum data_type want[] = { DATA_T_TEXT, DATA_T_INTEGER,
		DATA_T_REAL, DATA_T_REAL, DATA_T_BOOLEAN, DATA_T_BOOLEAN,
		DATA_T_JSON, DATA_T_JSON, DATA_T_REAL };

	(void) state;
	assert_int_equal(data_plan_build(&p, &empty, j, 0), 0);
	// null for a key without a column is dropped (§3.2).
	assert_int_equal(p.nkeys, LC_NELEM(want));
	assert_int_equal(p.nnew, LC_NELEM(want));
	for (size_t i = 0; i < p.nkeys; i++) {
		assert_int_equal(p.keys[i].type, want[i]);
		assert_true(p.keys[i].is_new);
	}
	// Body order is kept (§1.13: columns in the order of the keys).
	assert_string_equal(p.keys[0].name, "s");
	assert_string_equal(p.keys[8].name, "big");
	data_plan_fini(&p);
	json_decref(j);
}

static void
test_existing_columns(void **state)
{
	struct data_plan p;
	json_t          *j = json_loads(
	             "{\"title\":\"t\",\"views\":1.5,\"price\":3,\"published\":false,"
	                      "\"tags\":{\"a\":1},\"title2\":null}",
	             0, NULL);

	(void) state;
	assert_int_equal(data_plan_build(&p, &posts, j, 0), 0);
	assert_int_equal(p.nkeys, 5);
	assert_int_equal(p.nnew, 0);
	assert_int_equal(p.keys[1].type, DATA_T_INTEGER); // column type
	assert_int_equal(p.keys[2].type, DATA_T_REAL);
	data_plan_fini(&p);
	json_decref(j);

	// null is accepted by every column and kept (PATCH stores null).
	j = json_loads(
	    "{\"title\":null,\"tags\":null,\"views\":null}", 0, NULL);
	assert_int_equal(data_plan_build(&p, &posts, j, 0), 0);
	assert_int_equal(p.nkeys, 3);
	data_plan_fini(&p);
	json_decref(j);
}

static void
test_type_mismatch(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"title\":1}", "title" },
		{ "{\"title\":true}", "title" },
		{ "{\"title\":[\"a\"]}", "title" },
		{ "{\"views\":\"1\"}", "views" },
		{ "{\"views\":true}", "views" },
		{ "{\"price\":{}}", "price" },
		{ "{\"published\":1}", "published" },
		{ "{\"published\":\"true\"}", "published" },
		{ "{\"tags\":\"[]\"}", "tags" },
		{ "{\"tags\":3}", "tags" },
		{ "{\"ok\":1,\"views\":\"x\"}", "views" },
	};

	(void) state;
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		struct data_plan p;
		json_t          *j = json_loads(bad[i][0], 0, NULL);

		assert_non_null(j);
		assert_int_equal(
		    data_plan_build(&p, &posts, j, 0), LC_ETYPE_MISMATCH);
		assert_string_equal(p.err_field, bad[i][1]);
		data_plan_fini(&p);
		json_decref(j);
	}
}

static void
test_field_names(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"1a\":1}", "1a" },
		{ "{\"a b\":1}", "a b" },
		{ "{\"a\\\"b\":1}", "a\"b" },
		{ "{\"a;DROP TABLE r1\":1}", "a;DROP TABLE r1" },
		{ "{\"caf\\u00e9\":1}", "caf\xc3\xa9" },
		{ "{\"\":1}", "" },
		{ "{\"Title\":\"x\"}", "Title" }, // differs only in case
		{ "{\"VIEWS\":1}", "VIEWS" },
		{ "{\"ok\":1,\"OK\":2}", "OK" }, // clash inside one body
		{ "{\"a-b\":1}", "a-b" },
	};

	(void) state;
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		struct data_plan p;
		json_t          *j = json_loads(bad[i][0], 0, NULL);

		assert_non_null(j);
		assert_int_equal(
		    data_plan_build(&p, &posts, j, 0), LC_EINVALID_FIELD_NAME);
		assert_string_equal(p.err_field, bad[i][1]);
		data_plan_fini(&p);
		json_decref(j);
	}
}

static void
test_long_and_proto_names(void **state)
{
	struct data_plan p;
	char             body[200];
	char             name[70];
	json_t          *j;

	(void) state;
	memset(name, 'x', 64);
	name[64] = '\0';
	snprintf(body, sizeof(body), "{\"%s\":1}", name);
	j = json_loads(body, 0, NULL);
	assert_int_equal(
	    data_plan_build(&p, &empty, j, 0), LC_EINVALID_FIELD_NAME);
	data_plan_fini(&p);
	json_decref(j);
	name[63] = '\0'; // 63 characters: fine
	snprintf(body, sizeof(body), "{\"%s\":1}", name);
	j = json_loads(body, 0, NULL);
	assert_int_equal(data_plan_build(&p, &empty, j, 0), 0);
	data_plan_fini(&p);
	json_decref(j);
	// `_` keys are dropped silently, __proto__ included.
	j = json_loads(
	    "{\"__proto__\":{\"x\":1},\"_id\":\"x\",\"a\":1}", 0, NULL);
	assert_int_equal(data_plan_build(&p, &empty, j, 0), 0);
	assert_int_equal(p.nkeys, 1);
	assert_string_equal(p.keys[0].name, "a");
	data_plan_fini(&p);
	json_decref(j);
}

static void
test_system_and_owner(void **state)
{
	struct data_plan p;
	json_t          *j = json_loads(
	             "{\"_owner_id\":\"forged\",\"_created_at\":1,\"title\":\"t\"}", 0,
	             NULL);

	(void) state;
	// Public endpoints drop _owner_id like any `_` key.
	assert_int_equal(data_plan_build(&p, &posts, j, 0), 0);
	assert_false(p.owner_set);
	assert_int_equal(p.nkeys, 1);
	data_plan_fini(&p);
	// The admin record endpoints take it.
	assert_int_equal(data_plan_build(&p, &posts, j, 1), 0);
	assert_true(p.owner_set);
	assert_string_equal(json_string_value(p.owner), "forged");
	data_plan_fini(&p);
	json_decref(j);

	j = json_loads("{\"_owner_id\":null}", 0, NULL);
	assert_int_equal(data_plan_build(&p, &posts, j, 1), 0);
	assert_true(p.owner_set);
	assert_true(json_is_null(p.owner));
	data_plan_fini(&p);
	json_decref(j);

	j = json_loads("{\"_owner_id\":5}", 0, NULL);
	assert_int_equal(data_plan_build(&p, &posts, j, 1), LC_EVALIDATION);
	assert_string_equal(p.err_field, "_owner_id");
	data_plan_fini(&p);
	json_decref(j);
}

static void
test_not_an_object(void **state)
{
	struct data_plan p;
	json_t          *j = json_loads("[1]", 0, NULL);

	(void) state;
	assert_int_equal(data_plan_build(&p, &posts, j, 0), LC_EINVALID_BODY);
	data_plan_fini(&p);
	json_decref(j);
	assert_int_equal(
	    data_plan_build(&p, &posts, NULL, 0), LC_EINVALID_BODY);
	data_plan_fini(&p);
}

// A key holding NUL is checked in full: "a\0b" is not the name "a", and
// "_owner_id\0x" is not _owner_id.
static void
test_nul_in_keys(void **state)
{
	struct data_plan p;
	json_t          *b = json_object();

	(void) state;
	json_object_setn_new(b, "a\0b", 3, json_integer(1));
	assert_int_equal(
	    data_plan_build(&p, &empty, b, 0), LC_EINVALID_FIELD_NAME);
	data_plan_fini(&p);
	json_decref(b);
	b = json_object();
	json_object_setn_new(b, "_owner_id\0x", 11, json_string("u"));
	assert_int_equal(data_plan_build(&p, &empty, b, 1), 0);
	assert_int_equal(p.owner_set, 0);
	assert_int_equal(p.nkeys, 0);
	data_plan_fini(&p);
	json_decref(b);
}

static void
test_too_many_fields(void **state)
{
	struct data_col    many[DATA_MAX_COLS];
	char               names[DATA_MAX_COLS][8];
	struct data_schema s = { "r3", NULL, many, 0, NULL };
	struct data_plan   p;
	json_t            *j;

	(void) state;
	for (size_t i = 0; i < DATA_MAX_COLS; i++) {
		snprintf(names[i], sizeof(names[i]), "c%zu", i);
		many[i].name = names[i];
		many[i].type = DATA_T_INTEGER;
	}
	s.ncols = DATA_MAX_COLS - 1;
	j       = json_loads("{\"c0\":1,\"new1\":1}", 0, NULL);
	assert_int_equal(data_plan_build(&p, &s, j, 0), 0); // the 200th
	data_plan_fini(&p);
	json_decref(j);
	j = json_loads("{\"new1\":1,\"new2\":2}", 0, NULL);
	assert_int_equal(data_plan_build(&p, &s, j, 0), LC_ETOO_MANY_FIELDS);
	assert_string_equal(p.err_field, "new2");
	data_plan_fini(&p);
	json_decref(j);
	// Nulls create nothing, existing columns are fine at the limit.
	s.ncols = DATA_MAX_COLS;
	j       = json_loads("{\"c5\":2,\"zzz\":null}", 0, NULL);
	assert_int_equal(data_plan_build(&p, &s, j, 0), 0);
	assert_int_equal(p.nkeys, 1);
	data_plan_fini(&p);
	json_decref(j);
}

static void
test_type_names(void **state)
{
	(void) state;
	for (int t = DATA_T_TEXT; t <= DATA_T_JSON; t++) {
		assert_int_equal(
		    data_type_parse(data_type_name((enum data_type) t)), t);
	}
	assert_int_equal(data_type_parse("varchar"), DATA_T_NONE);
}

static void
test_type_fits(void **state)
{
	json_t *i = json_integer(1);
	json_t *r = json_real(1.5);
	json_t *s = json_string("x");
	json_t *n = json_null();
	json_t *o = json_object();

	(void) state;
	assert_true(data_type_fits(DATA_T_REAL, i));
	assert_true(data_type_fits(DATA_T_INTEGER, r));
	assert_false(data_type_fits(DATA_T_TEXT, i));
	assert_true(data_type_fits(DATA_T_JSON, o));
	assert_false(data_type_fits(DATA_T_BOOLEAN, i));
	for (int t = DATA_T_TEXT; t <= DATA_T_JSON; t++) {
		assert_true(data_type_fits((enum data_type) t, n));
	}
	assert_false(data_type_fits(DATA_T_INTEGER, s));
	json_decref(i);
	json_decref(r);
	json_decref(s);
	json_decref(n);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coll_names),
		cmocka_unit_test(test_types_of_first_values),
		cmocka_unit_test(test_existing_columns),
		cmocka_unit_test(test_type_mismatch),
		cmocka_unit_test(test_field_names),
		cmocka_unit_test(test_long_and_proto_names),
		cmocka_unit_test(test_system_and_owner),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_nul_in_keys),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_type_fits),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
