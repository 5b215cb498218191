/*
 * lc_metrics_test.c -- registry, export and rendering: exact text for a
 * counter, a gauge and a histogram; merging of two processes' exports;
 * escaping; and, when promtool is available, its lint passes.
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

#include "lc_metrics.h"

static const char expect_auth[] =
    "# HELP busbase_bus_requests_total Bus requests handled.\n"
    "# TYPE busbase_bus_requests_total counter\n"
    "busbase_bus_requests_total{service=\"auth\",op=\"auth.login\","
    "result=\"ok\"} 3\n"
    "busbase_bus_requests_total{service=\"auth\",op=\"auth.login\","
    "result=\"error\"} 1\n"
    "# HELP busbase_db_size_bytes Size of the database file and its WAL.\n"
    "# TYPE busbase_db_size_bytes gauge\n"
    "busbase_db_size_bytes{service=\"auth\"} 4096\n"
    "# HELP busbase_bus_request_duration_seconds Time to handle a bus "
    "request.\n"
    "# TYPE busbase_bus_request_duration_seconds histogram\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"0.005\"} 1\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"0.01\"} 2\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"0.025\"} 2\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"0.05\"} 2\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"0.1\"} 2\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"0.25\"} 2\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"0.5\"} 3\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"1\"} 3\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"2.5\"} 3\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"5\"} 3\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"10\"} 3\n"
    "busbase_bus_request_duration_seconds_bucket{service=\"auth\","
    "op=\"auth.login\",le=\"+Inf\"} 4\n"
    "busbase_bus_request_duration_seconds_sum{service=\"auth\","
    "op=\"auth.login\"} 20.511\n"
    "busbase_bus_request_duration_seconds_count{service=\"auth\","
    "op=\"auth.login\"} 4\n";

static struct lc_metrics *
auth_registry(void)
{
	struct lc_metrics *m  = lc_metrics_alloc("auth");
	const char        *ok = "op=\"auth.login\",result=\"ok\"";

	lc_metrics_family(m, "busbase_bus_requests_total", LC_MT_COUNTER,
	    "Bus requests handled.");
	lc_metrics_family(m, "busbase_db_size_bytes", LC_MT_GAUGE,
	    "Size of the database file and its WAL.");
	lc_metrics_family(m, "busbase_bus_request_duration_seconds",
	    LC_MT_HISTOGRAM, "Time to handle a bus request.");
	// Registering twice is harmless.
	lc_metrics_family(m, "busbase_bus_requests_total", LC_MT_COUNTER,
	    "Bus requests handled.");
	lc_metrics_add(m, "busbase_bus_requests_total", ok, 1);
	lc_metrics_add(m, "busbase_bus_requests_total", ok, 2);
	lc_metrics_add(m, "busbase_bus_requests_total",
	    "op=\"auth.login\",result=\"error\"", 1);
	lc_metrics_set(m, "busbase_db_size_bytes", "", 1);
	lc_metrics_set(m, "busbase_db_size_bytes", "", 4096);
	lc_metrics_observe(m, "busbase_bus_request_duration_seconds",
	    "op=\"auth.login\"", 0.001);
	lc_metrics_observe(m, "busbase_bus_request_duration_seconds",
	    "op=\"auth.login\"", 0.01);
	lc_metrics_observe(m, "busbase_bus_request_duration_seconds",
	    "op=\"auth.login\"", 0.5);
	lc_metrics_observe(m, "busbase_bus_request_duration_seconds",
	    "op=\"auth.login\"", 20);
	return (m);
}

static char *
render1(json_t *exp)
{
	json_t *all = json_array();
	char   *txt;
	size_t  n = 0;

	json_array_append(all, exp);
	txt = lc_metrics_render(all, &n);
	assert_int_equal(n, strlen(txt));
	json_decref(all);
	return (txt);
}

static void
test_exact_text(void **state)
{
	struct lc_metrics *m = auth_registry();
	json_t            *exp;
	char              *txt;

	(void) state;
	exp = lc_metrics_export(m);
	txt = render1(exp);
	// Our families come first, exactly; the process families follow.
	if (strncmp(txt, expect_auth, strlen(expect_auth)) != 0) {
		fail_msg("got:\n%s", txt);
	}
	assert_non_null(
	    strstr(txt, "# TYPE process_cpu_seconds_total counter\n"));
	assert_non_null(strstr(txt,
	    "process_resident_memory_bytes{service="
	    "\"auth\"} "));
	assert_non_null(strstr(txt, "process_open_fds{service=\"auth\"} "));
	assert_non_null(strstr(txt,
	    "process_start_time_seconds{service="
	    "\"auth\"} "));
	assert_non_null(strstr(txt,
	    "busbase_build_info{service=\"auth\","
	    "version=\"1.0.0\"} 1\n"));
	// The export form: name, type, help, samples.
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(exp, 0), "type")),
	    "counter");
	lc_free(txt);
	json_decref(exp);
	lc_metrics_free(m);
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
		n++;
	}
	return (n);
}

static void
test_merge(void **state)
{
	struct lc_metrics *a   = auth_registry();
	struct lc_metrics *d   = lc_metrics_alloc("data");
	json_t            *all = json_array();
	char              *txt;
	const char        *p_auth, *p_data, *p_hist;

	(void) state;
	lc_metrics_family(d, "busbase_data_record_writes_total", LC_MT_COUNTER,
	    "Record writes.");
	lc_metrics_family(d, "busbase_bus_requests_total", LC_MT_COUNTER,
	    "Help text of a later process is ignored.");
	lc_metrics_add(
	    d, "busbase_data_record_writes_total", "op=\"create\"", 2);
	lc_metrics_add(d, "busbase_bus_requests_total",
	    "op=\"records.create\",result=\"ok\"", 2);
	json_array_append_new(all, lc_metrics_export(a));
	json_array_append_new(all, lc_metrics_export(d));
	txt = lc_metrics_render(all, NULL);
	assert_int_equal(count(txt, "# HELP busbase_bus_requests_total "), 1);
	assert_int_equal(count(txt, "# TYPE busbase_bus_requests_total "), 1);
	assert_int_equal(count(txt, "# TYPE process_open_fds "), 1);
	assert_int_equal(count(txt, "# TYPE busbase_build_info "), 1);
	assert_int_equal(count(txt, "busbase_build_info{"), 2);
	assert_int_equal(count(txt, "Help text of a later process"), 0);
	// All samples of a family follow its header, auth's then data's.
	p_auth = strstr(txt, "busbase_bus_requests_total{service=\"auth\"");
	p_data = strstr(txt, "busbase_bus_requests_total{service=\"data\"");
	p_hist = strstr(txt, "# HELP busbase_db_size_bytes");
	assert_non_null(p_auth);
	assert_non_null(p_data);
	assert_true(p_auth < p_data && p_data < p_hist);
	// First-occurrence order: data's own family comes after auth's.
	assert_true(strstr(txt, "# HELP busbase_data_record_writes_total") >
	    strstr(txt, "# HELP busbase_build_info"));
	lc_free(txt);
	json_decref(all);
	lc_metrics_free(a);
	lc_metrics_free(d);
}

static void
test_escape_and_values(void **state)
{
	struct lc_metrics *m = lc_metrics_alloc("ga\"te");
	char               esc[64], lab[96];
	json_t            *exp, *all;
	char              *txt;

	(void) state;
	assert_string_equal(lc_metrics_escape("a\\b\"c\nd", esc, sizeof(esc)),
	    "a\\\\b\\\"c\\nd");
	// Truncation never splits an escape.
	assert_string_equal(lc_metrics_escape("ab\"", esc, 4), "ab");
	lc_metrics_family(
	    m, "x_total", LC_MT_COUNTER, "Line one\nback\\slash \"q\"");
	snprintf(lab, sizeof(lab), "route=\"%s\"",
	    lc_metrics_escape("/a\"b", esc, sizeof(esc)));
	lc_metrics_add(m, "x_total", lab, 0.5);
	lc_metrics_set(m, "y", "", 1e21);
	lc_metrics_set(m, "z", "", -3);
	exp = lc_metrics_export(m);
	all = json_array();
	json_array_append_new(all, exp);
	txt = lc_metrics_render(all, NULL);
	assert_non_null(
	    strstr(txt, "# HELP x_total Line one\\nback\\\\slash \"q\"\n"));
	assert_non_null(strstr(
	    txt, "x_total{service=\"ga\\\"te\",route=\"/a\\\"b\"} 0.5\n"));
	assert_non_null(strstr(txt, "y{service=\"ga\\\"te\"} 1e+21\n"));
	assert_non_null(strstr(txt, "z{service=\"ga\\\"te\"} -3\n"));
	// An unregistered family gets its name as help, and a type.
	assert_non_null(strstr(txt, "# TYPE y gauge\n"));
	lc_free(txt);
	json_decref(all);
	lc_metrics_free(m);
}

static void
test_render_malformed(void **state)
{
	json_t *all = json_loads(
	    "[[{\"name\":\"ok_total\",\"type\":\"counter\",\"help\":\"h\","
	    "\"samples\":[\"ok_total{service=\\\"a\\\"} 1\","
	    "\"evil 1\\n# TYPE x gauge\"]},"
	    "{\"name\":\"bad name\",\"type\":\"counter\",\"samples\":[]},"
	    "{\"name\":\"t\",\"type\":\"weird\",\"samples\":[\"t 1\"]},"
	    "{\"name\":\"empty\",\"type\":\"gauge\",\"samples\":[]},"
	    "7],\"notarray\"]",
	    0, NULL);
	char *txt;

	(void) state;
	assert_non_null(all);
	txt = lc_metrics_render(all, NULL);
	assert_string_equal(txt,
	    "# HELP ok_total h\n"
	    "# TYPE ok_total counter\n"
	    "ok_total{service=\"a\"} 1\n");
	lc_free(txt);
	json_decref(all);
}

// promtool check metrics, when it is installed (deploy/install-deps.sh
// --test puts it in build/tools).
static void
test_promtool(void **state)
{
	static const char *const tools[] = { "build/tools/usr/bin/promtool",
		"/usr/bin/promtool", "/usr/local/bin/promtool" };
	const char              *tool    = NULL;
	struct lc_metrics       *a       = auth_registry();
	struct lc_metrics       *g       = lc_metrics_alloc("gateway");
	json_t                  *all     = json_array();
	char                     path[]  = "/tmp/lc_metrics_test_XXXXXX";
	char                     cmd[512];
	char                    *txt;
	FILE                    *fp;
	int                      fd, rc;

	(void) state;
	for (size_t i = 0; i < LC_NELEM(tools); i++) {
		if (access(tools[i], X_OK) == 0) {
			tool = tools[i];
			break;
		}
	}
	lc_metrics_family(g, "busbase_service_up", LC_MT_GAUGE,
	    "1 if the process answered the last metrics collection.");
	lc_metrics_set(g, "busbase_service_up", "", 1);
	json_array_append_new(all, lc_metrics_export(a));
	json_array_append_new(all, lc_metrics_export(g));
	txt = lc_metrics_render(all, NULL);
	if (tool == NULL) {
		lc_free(txt);
		json_decref(all);
		lc_metrics_free(a);
		lc_metrics_free(g);
		skip();
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs(txt, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s", tool, path);
	rc = system(cmd);
	unlink(path);
	if (rc != 0) {
		fail_msg("promtool failed on:\n%s", txt);
	}
	lc_free(txt);
	json_decref(all);
	lc_metrics_free(a);
	lc_metrics_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_escape_and_values),
		cmocka_unit_test(test_render_malformed),
		cmocka_unit_test(test_promtool),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
