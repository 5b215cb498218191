/*
 * openapi_test.c -- the OpenAPI document generated from the route table
 * (API.md §7): version, title, templates, unique operationIds, security.
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

static json_t *doc;

static int
setup(void **state)
{
	size_t len;
	char  *s = gw_openapi_build(&len);

	(void) state;
	doc = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
	lc_free(s);
	return (doc == NULL ? -1 : 0);
}

static int
teardown(void **state)
{
	(void) state;
	json_decref(doc);
	return (0);
}

static json_t *
op(const char *path, const char *method)
{
	return (json_object_get(
	    json_object_get(json_object_get(doc, "paths"), path), method));
}

static void
test_header(void **state)
{
	json_t *sch;

	(void) state;
	assert_string_equal(
	    json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(doc, "info"), "title")),
	    "BusBase API");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(doc, "info"), "version")),
	    LC_VERSION);
	sch = json_object_get(
	    json_object_get(doc, "components"), "securitySchemes");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(sch, "bearerAuth"), "scheme")),
	    "bearer");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(sch, "apiKey"), "name")),
	    "X-API-Key");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(sch, "adminSecret"), "type")),
	    "http");
}

static void
test_paths(void **state)
{
	const struct gw_route *rt;
	size_t                 n;
	size_t                 i;
	json_t                *ids = json_object();
	json_t                *o;

	(void) state;
	assert_non_null(op("/api/v1/{collection}/{id}", "get"));
	assert_non_null(op("/api/v1/{collection}/{id}", "patch"));
	assert_non_null(op("/api/v1/auth/login", "post"));
	assert_null(op("/api/v1/:collection", "get"));
	assert_null(op("/api/v1/{collection}", "head"));
	o = op("/api/v1/admin/collections/{name}/schema/{column}", "delete");
	assert_string_equal(
	    json_string_value(json_object_get(o, "operationId")),
	    "collections.drop_column");
	assert_int_equal(
	    json_array_size(json_object_get(
	        json_object_get(json_object_get(doc, "paths"),
	            "/api/v1/admin/collections/{name}/schema/{column}"),
	        "parameters")),
	    2);
	// every route is there, and operationIds are unique
	rt = gw_routes(&n);
	for (i = 0; i < n; i++) {
		char                     p[256];
		const char              *s = rt[i].tmpl;
		size_t                   k = 0;
		const char              *id;
		int                      param = 0;
		static const char *const m[] = { "get", "head", "post", "put",
			"patch", "delete", "options" };

		for (; *s != '\0'; s++) {
			if (*s == ':') {
				p[k++] = '{';
				param  = 1;
				continue;
			}
			if (*s == '/' && param) {
				p[k++] = '}';
				param  = 0;
			}
			p[k++] = *s;
		}
		if (param) {
			p[k++] = '}';
		}
		p[k] = '\0';
		o    = op(p, m[rt[i].method]);
		if (o == NULL) {
			fail_msg("no operation for %s %s", m[rt[i].method], p);
		}
		id = json_string_value(json_object_get(o, "operationId"));
		assert_non_null(id);
		assert_null(json_object_get(ids, id));
		(void) json_object_set_new(ids, id, json_true());
		assert_true(json_is_array(json_object_get(o, "security")));
		assert_non_null(json_object_get(
		    json_object_get(o, "responses"), "default"));
	}
	assert_non_null(json_object_get(ids, "files.get"));
	assert_non_null(json_object_get(ids, "files.get.2"));
	json_decref(ids);
}

static void
test_security(void **state)
{
	json_t *s;

	(void) state;
	s = json_object_get(op("/api/v1/admin/settings", "get"), "security");
	assert_int_equal(json_array_size(s), 1);
	assert_non_null(json_object_get(json_array_get(s, 0), "adminSecret"));
	s = json_object_get(op("/api/v1/auth/login", "post"), "security");
	assert_int_equal(json_array_size(s), 0);
	s = json_object_get(op("/api/v1/auth/me", "get"), "security");
	assert_int_equal(json_array_size(s), 2);
	assert_non_null(json_object_get(
	    json_object_get(
	        op("/api/v1/{collection}/bulk", "post"), "requestBody"),
	    "content"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_security),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
