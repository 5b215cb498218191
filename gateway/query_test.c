/*
 * query_test.c -- the query string as the envelope's query object.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "gw.h"
#include "lc_err.h"

static void
expect_query(const char *qs, const char *json)
{
	json_t *q = NULL;
	json_t *want;
	int     rv = gw_query_parse(qs, strlen(qs), &q);

	if (rv != 0) {
		fail_msg("%s: rv %d", qs, rv);
	}
	want = json_loads(json, 0, NULL);
	assert_non_null(want);
	if (!json_equal(q, want)) {
		char *s = json_dumps(q, JSON_COMPACT | JSON_SORT_KEYS);

		fail_msg("%s: got %s, want %s", qs, s, json);
	}
	json_decref(q);
	json_decref(want);
}

static void
test_values(void **state)
{
	(void) state;
	expect_query("", "{}");
	expect_query("a=1", "{\"a\":\"1\"}");
	expect_query("a=1&b=two", "{\"a\":\"1\",\"b\":\"two\"}");
	expect_query("flag", "{\"flag\":\"\"}");
	expect_query("flag=", "{\"flag\":\"\"}");
	expect_query("&&a=1&", "{\"a\":\"1\"}");
	expect_query("a=x=y", "{\"a\":\"x=y\"}");
	expect_query("=v", "{\"\":\"v\"}");
}

static void
test_last_wins(void **state)
{
	(void) state;
	expect_query("limit=1&limit=2&limit=3", "{\"limit\":\"3\"}");
	expect_query("filter=a", "{\"filter\":\"a\"}");
	expect_query("filter=a&filter=b", "{\"filter\":[\"a\",\"b\"]}");
	expect_query("sort=-a&x=1&sort=b&sort=c",
	    "{\"sort\":[\"-a\",\"b\",\"c\"],\"x\":\"1\"}");
	expect_query("%66ilter=a&filter=b", "{\"filter\":[\"a\",\"b\"]}");
}

static void
test_decoding(void **state)
{
	(void) state;
	expect_query("q=a+b", "{\"q\":\"a b\"}");
	expect_query("q=a%2Bb", "{\"q\":\"a+b\"}");
	expect_query("q=%26%3D%25", "{\"q\":\"&=%\"}");
	expect_query("caf%C3%A9=%E2%82%AC", "{\"caf\\u00e9\":\"\\u20ac\"}");
	expect_query("filter=title%20%3D%20%22x%22",
	    "{\"filter\":\"title = \\\"x\\\"\"}");
}

static void
test_invalid(void **state)
{
	json_t *q = NULL;

	(void) state;
	assert_int_equal(gw_query_parse("a=%FF", 5, &q), LC_EINVALID_QUERY);
	assert_int_equal(gw_query_parse("a=%00", 5, &q), LC_EINVALID_QUERY);
	assert_int_equal(gw_query_parse("a=%", 3, &q), LC_EINVALID_QUERY);
	assert_int_equal(gw_query_parse("a=%4", 4, &q), LC_EINVALID_QUERY);
	assert_int_equal(gw_query_parse("%ZZ=1", 5, &q), LC_EINVALID_QUERY);
	assert_int_equal(gw_query_parse("a=%C0%80", 8, &q), LC_EINVALID_QUERY);
	assert_null(q);
}

static void
test_long_value(void **state)
{
	char    qs[4096];
	json_t *q = NULL;

	(void) state;
	memcpy(qs, "v=", 2);
	memset(qs + 2, 'x', sizeof(qs) - 2);
	assert_int_equal(gw_query_parse(qs, sizeof(qs), &q), 0);
	assert_int_equal(
	    json_string_length(json_object_get(q, "v")), sizeof(qs) - 2);
	json_decref(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_last_wins),
		cmocka_unit_test(test_decoding),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_long_value),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
