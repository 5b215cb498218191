/*
 * routes_test.c -- the router: matching, literal-vs-parameter precedence,
 * 404, 405 Allow strings, HEAD, trailing slash, percent decoding.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <string.h>

#include "lc_msg.h"
#include "routes.h"

static char            buf[16384];
static struct gw_match m;

static int
match(int method, const char *path)
{
	return (
	    gw_route_match(method, path, strlen(path), buf, sizeof(buf), &m));
}

// Asserts method+path routes to msg.
static void
expect_msg(int method, const char *path, int msg)
{
	int rv = match(method, path);

	if (rv != GW_MATCH_OK || m.route->msg != msg) {
		fail_msg("%s %s: rv %d, op %s, expected %s",
		    gw_method_name(method), path, rv,
		    m.route != NULL ? m.route->op : "-", lc_msg_name(msg));
	}
}

static void
expect_rv(int method, const char *path, int want)
{
	int rv = match(method, path);

	if (rv != want) {
		fail_msg("%s %s: rv %d, expected %d", gw_method_name(method),
		    path, rv, want);
	}
}

static void
expect_param(int i, const char *name, const char *value)
{
	assert_true(i < m.nparams);
	assert_int_equal(m.name[i].len, strlen(name));
	assert_memory_equal(m.name[i].ptr, name, m.name[i].len);
	assert_int_equal(m.value[i].len, strlen(value));
	assert_memory_equal(m.value[i].ptr, value, m.value[i].len);
	assert_int_equal(m.value[i].ptr[m.value[i].len], '\0');
}

static void
expect_allow(int method, const char *path, const char *allow)
{
	expect_rv(method, path, GW_MATCH_NO_METHOD);
	assert_non_null(m.path);
	assert_string_equal(m.path->allow, allow);
}

static void
test_basic(void **state)
{
	(void) state;
	expect_msg(GW_M_GET, "/healthz", LC_MSG_GW_HEALTHZ);
	expect_msg(GW_M_GET, "/metrics", LC_MSG_GW_METRICS);
	expect_msg(GW_M_GET, "/api/v1/openapi.json", LC_MSG_GW_OPENAPI);
	expect_msg(GW_M_GET, "/api/v1/admin/settings", LC_MSG_SETTINGS_GET);
	expect_msg(
	    GW_M_PATCH, "/api/v1/admin/settings", LC_MSG_SETTINGS_PATCH);
	expect_msg(GW_M_POST, "/api/v1/auth/login", LC_MSG_AUTH_LOGIN);
	expect_msg(GW_M_GET, "/api/v1/posts", LC_MSG_RECORDS_LIST);
	assert_int_equal(m.nparams, 1);
	expect_param(0, "collection", "posts");
	expect_msg(GW_M_GET, "/api/v1/posts/01HV6ZJ6R1Q8Z1Y0M4W3XK2B7C",
	    LC_MSG_RECORDS_GET);
	assert_int_equal(m.nparams, 2);
	expect_param(0, "collection", "posts");
	expect_param(1, "id", "01HV6ZJ6R1Q8Z1Y0M4W3XK2B7C");
	// a path id that is not a ULID is still routed
	expect_msg(
	    GW_M_DELETE, "/api/v1/posts/not-a-ulid", LC_MSG_RECORDS_DELETE);
	expect_msg(
	    GW_M_POST, "/api/v1/posts/abc/restore", LC_MSG_RECORDS_RESTORE);
	expect_msg(GW_M_DELETE, "/api/v1/admin/collections/posts/schema/title",
	    LC_MSG_COLLECTIONS_DROP_COLUMN);
	expect_param(0, "name", "posts");
	expect_param(1, "column", "title");
	assert_string_equal(m.route->op, "collections.drop_column");
	assert_int_equal(m.route->svc, LC_SVC_DATA);
	assert_int_equal(m.route->access, GW_ACC_ADMIN);
	expect_msg(GW_M_GET, "/api/v1/storage/F1/photo.png", LC_MSG_FILES_GET);
	expect_param(0, "id", "F1");
	expect_param(1, "filename", "photo.png");
}

static void
test_literal_wins(void **state)
{
	(void) state;
	expect_msg(GW_M_GET, "/api/v1/posts/count", LC_MSG_RECORDS_COUNT);
	expect_msg(
	    GW_M_GET, "/api/v1/posts/aggregate", LC_MSG_RECORDS_AGGREGATE);
	expect_msg(GW_M_POST, "/api/v1/posts/bulk", LC_MSG_RECORDS_BULK);
	expect_msg(GW_M_POST, "/api/v1/posts/batch", LC_MSG_RECORDS_BATCH);
	expect_msg(GW_M_GET, "/api/v1/auth/me", LC_MSG_AUTH_ME_GET);
	expect_msg(GW_M_POST, "/api/v1/storage/sign", LC_MSG_FILES_SIGN);
	expect_msg(GW_M_GET, "/api/v1/storage", LC_MSG_FILES_LIST);
	expect_msg(GW_M_GET, "/api/v1/admin/storage", LC_MSG_FILES_ADMIN_LIST);
	expect_msg(GW_M_POST, "/api/v1/admin/storage/upload",
	    LC_MSG_FILES_ADMIN_UPLOAD);
	expect_msg(
	    GW_M_POST, "/api/v1/admin/sessions/purge", LC_MSG_SESSIONS_PURGE);
	expect_msg(
	    GW_M_DELETE, "/api/v1/admin/sessions/S1", LC_MSG_SESSIONS_DELETE);
	expect_msg(GW_M_PUT, "/api/v1/storage/upload/tok",
	    LC_MSG_FILES_UPLOAD_SIGNED);
	// auth, admin, storage, openapi.json are never collection names
	expect_rv(GW_M_GET, "/api/v1/auth", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_POST, "/api/v1/auth", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1/auth/unknown", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1/admin", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1/admin/nothing", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1/openapi.json/x", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1/auth/2fa", GW_MATCH_NOT_FOUND);
	// count etc. are never record ids; upload/sign never file ids
	expect_rv(
	    GW_M_POST, "/api/v1/posts/count/restore", GW_MATCH_NOT_FOUND);
	expect_allow(GW_M_DELETE, "/api/v1/posts/count", "GET, HEAD, OPTIONS");
	expect_allow(GW_M_GET, "/api/v1/posts/bulk", "POST, OPTIONS");
	expect_allow(GW_M_GET, "/api/v1/storage/upload", "POST, OPTIONS");
	expect_allow(GW_M_GET, "/api/v1/storage/sign", "POST, OPTIONS");
	expect_allow(GW_M_GET, "/api/v1/storage/upload/tok", "PUT, OPTIONS");
	expect_rv(GW_M_GET, "/api/v1/storage/sign/x", GW_MATCH_NOT_FOUND);
	// /api/v1/storage is a literal with its own methods
	expect_allow(GW_M_POST, "/api/v1/storage", "GET, HEAD, OPTIONS");
}

static void
test_not_found(void **state)
{
	(void) state;
	expect_rv(GW_M_GET, "", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "//", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "healthz", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/nothing", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v2/posts", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api//v1/posts", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1//posts", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1/posts/a/b/c", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r",
	    GW_MATCH_NOT_FOUND);
	// the buffer must hold the path
	assert_int_equal(gw_route_match(GW_M_GET, "/healthz", 8, buf, 8, &m),
	    GW_MATCH_NOT_FOUND);
	assert_int_equal(
	    gw_route_match(GW_M_GET, "/healthz", 8, buf, 9, &m), GW_MATCH_OK);
}

static void
test_405(void **state)
{
	(void) state;
	expect_allow(GW_M_PUT, "/api/v1/posts", "GET, HEAD, POST, OPTIONS");
	expect_allow(GW_M_POST, "/healthz", "GET, HEAD, OPTIONS");
	expect_allow(
	    GW_M_POST, "/api/v1/posts/x", "GET, HEAD, PATCH, DELETE, OPTIONS");
	expect_allow(GW_M_DELETE, "/api/v1/admin/settings",
	    "GET, HEAD, PATCH, OPTIONS");
	expect_allow(GW_M_GET, "/api/v1/auth/login", "POST, OPTIONS");
	expect_allow(GW_M_HEAD, "/api/v1/auth/login", "POST, OPTIONS");
	expect_allow(GW_M_GET, "/api/v1/auth/2fa/disable", "DELETE, OPTIONS");
	expect_allow(
	    GW_M_PUT, "/api/v1/auth/me", "GET, HEAD, PATCH, DELETE, OPTIONS");
	expect_allow(
	    GW_M_OPTIONS, "/api/v1/posts", "GET, HEAD, POST, OPTIONS");
	expect_allow(-1, "/api/v1/posts", "GET, HEAD, POST, OPTIONS");
	expect_allow(
	    GW_M_GET, "/api/v1/admin/collections/c/rules", "PUT, OPTIONS");
}

static void
test_head(void **state)
{
	(void) state;
	expect_msg(GW_M_HEAD, "/api/v1/posts", LC_MSG_RECORDS_LIST);
	assert_int_equal(m.route->method, GW_M_GET);
	expect_msg(GW_M_HEAD, "/healthz", LC_MSG_GW_HEALTHZ);
}

static void
test_trailing_slash(void **state)
{
	(void) state;
	expect_msg(GW_M_GET, "/healthz/", LC_MSG_GW_HEALTHZ);
	expect_msg(GW_M_GET, "/api/v1/posts/", LC_MSG_RECORDS_LIST);
	expect_param(0, "collection", "posts");
	expect_msg(GW_M_GET, "/api/v1/posts/X/", LC_MSG_RECORDS_GET);
	expect_param(1, "id", "X");
	expect_rv(GW_M_GET, "/api/v1/posts//", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/healthz//", GW_MATCH_NOT_FOUND);
}

static void
test_percent(void **state)
{
	(void) state;
	expect_msg(GW_M_GET, "/api/v1/my%20posts/a%2Fb", LC_MSG_RECORDS_GET);
	expect_param(0, "collection", "my posts");
	expect_param(1, "id", "a/b");
	expect_msg(GW_M_GET, "/api/v1/caf%C3%A9", LC_MSG_RECORDS_LIST);
	expect_param(0, "collection", "caf\xC3\xA9");
	expect_msg(GW_M_GET, "/api/v1/a+b", LC_MSG_RECORDS_LIST);
	expect_param(0, "collection", "a+b");
	// literals match after decoding
	expect_msg(GW_M_GET, "/api/v1/%61uth/me", LC_MSG_AUTH_ME_GET);
	expect_msg(GW_M_GET, "/%68ealthz", LC_MSG_GW_HEALTHZ);
	expect_msg(GW_M_GET, "/api/v1/posts/%63ount", LC_MSG_RECORDS_COUNT);
	// undecodable parameter: the route's 404, naming the parameter
	expect_rv(GW_M_GET, "/api/v1/%FF", GW_MATCH_BAD_PARAM);
	assert_int_equal(m.bad_param, 0);
	assert_string_equal(m.path->tmpl, "/api/v1/:collection");
	expect_rv(GW_M_GET, "/api/v1/posts/%00", GW_MATCH_BAD_PARAM);
	assert_int_equal(m.bad_param, 1);
	expect_rv(GW_M_GET, "/api/v1/posts/a%G1", GW_MATCH_BAD_PARAM);
	expect_rv(GW_M_GET, "/api/v1/posts/a%4", GW_MATCH_BAD_PARAM);
	expect_rv(GW_M_GET, "/api/v1/posts/%", GW_MATCH_BAD_PARAM);
	expect_rv(GW_M_GET, "/api/v1/%C0%80", GW_MATCH_BAD_PARAM);
	expect_rv(GW_M_GET, "/api/v1/%ED%A0%80", GW_MATCH_BAD_PARAM);
	// ...even with a method the path lacks
	expect_rv(GW_M_PUT, "/api/v1/%FF", GW_MATCH_BAD_PARAM);
	// no parameter at that level: plain 404
	expect_rv(GW_M_GET, "/api/v1/auth/%FF", GW_MATCH_NOT_FOUND);
	expect_rv(GW_M_GET, "/api/v1/%FF/x/y/z", GW_MATCH_NOT_FOUND);
	assert_int_equal(m.bad_param, -1);
}

static void
test_decode_utf8(void **state)
{
	char   out[32];
	size_t n;

	(void) state;
	assert_int_equal(gw_pct_decode("a%41%62+", 8, out, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "aAb+", 4);
	assert_int_equal(gw_pct_decode("%", 1, out, &n), -1);
	assert_int_equal(gw_pct_decode("%a", 2, out, &n), -1);
	assert_int_equal(gw_pct_decode("%zz", 3, out, &n), -1);
	assert_int_equal(gw_pct_decode("", 0, out, &n), 0);
	assert_int_equal(n, 0);

	assert_true(gw_utf8_valid("", 0));
	assert_true(gw_utf8_valid("plain", 5));
	assert_true(gw_utf8_valid("\xC3\xA9", 2));
	assert_true(gw_utf8_valid("\xE2\x82\xAC", 3));
	assert_true(gw_utf8_valid("\xF0\x9F\x98\x80", 4));
	assert_true(gw_utf8_valid("\xF4\x8F\xBF\xBF", 4));
	assert_false(gw_utf8_valid("a\0b", 3));
	assert_false(gw_utf8_valid("\xC0\x80", 2));
	assert_false(gw_utf8_valid("\xC3", 1));
	assert_false(gw_utf8_valid("\xE0\x80\x80", 3));
	assert_false(gw_utf8_valid("\xED\xA0\x80", 3));
	assert_false(gw_utf8_valid("\xF0\x8F\xBF\xBF", 4));
	assert_false(gw_utf8_valid("\xF4\x90\x80\x80", 4));
	assert_false(gw_utf8_valid("\x80", 1));
	assert_false(gw_utf8_valid("\xFF", 1));
	assert_false(gw_utf8_valid("\xE2\x82", 2));
}

// Every row of routes.def is reachable by its own template.
static void
test_table_roundtrip(void **state)
{
	const struct gw_route *rt;
	size_t                 n;
	size_t                 i;

	(void) state;
	rt = gw_routes(&n);
	assert_true(n > 90);
	for (i = 0; i < n; i++) {
		char        path[256];
		const char *s = rt[i].tmpl;
		size_t      o = 0;

		while (*s != '\0') {
			if (*s == ':') {
				path[o++] = 'X'; // any value for a parameter
				while (*s != '\0' && *s != '/') {
					s++;
				}
				continue;
			}
			path[o++] = *s++;
		}
		path[o] = '\0';
		expect_rv(rt[i].method, path, GW_MATCH_OK);
		if (m.route != &rt[i]) {
			fail_msg("%s %s routed to %s",
			    gw_method_name(rt[i].method), rt[i].tmpl,
			    m.route->tmpl);
		}
		assert_non_null(
		    strstr(m.path->allow, gw_method_name(rt[i].method)));
		assert_non_null(rt[i].op);
	}
}

static void
test_methods(void **state)
{
	(void) state;
	assert_int_equal(gw_method_parse("GET"), GW_M_GET);
	assert_int_equal(gw_method_parse("HEAD"), GW_M_HEAD);
	assert_int_equal(gw_method_parse("POST"), GW_M_POST);
	assert_int_equal(gw_method_parse("PUT"), GW_M_PUT);
	assert_int_equal(gw_method_parse("PATCH"), GW_M_PATCH);
	assert_int_equal(gw_method_parse("DELETE"), GW_M_DELETE);
	assert_int_equal(gw_method_parse("OPTIONS"), GW_M_OPTIONS);
	assert_int_equal(gw_method_parse("get"), -1);
	assert_int_equal(gw_method_parse("TRACE"), -1);
	assert_int_equal(gw_method_parse("PURGE"), -1);
	assert_int_equal(gw_method_parse(""), -1);
	assert_string_equal(gw_method_name(-1), "OTHER");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_literal_wins),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_405),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_trailing_slash),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_decode_utf8),
		cmocka_unit_test(test_table_roundtrip),
		cmocka_unit_test(test_methods),
	};

	gw_routes_init();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
