/*
 * metrics_test.c -- the gateway's series and /metrics rendering (API.md
 * §6): request counts and histograms per route, rate-limited classes at
 * zero, busbase_service_up for every process labelled with that process.
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

static int
count(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return (n);
}

static void
test_render(void **state)
{
	struct gw      g = { 0 };
	struct gw_slot slots[LC_SVC_COUNT];
	size_t         len;
	char          *text;

	(void) state;
	memset(slots, 0, sizeof(slots));
	g.metrics = lc_metrics_alloc("gateway");
	gw_metrics_init(&g);
	gw_metrics_request(&g, GW_M_GET, "/api/v1/:collection", 200, 0.003);
	gw_metrics_request(&g, GW_M_GET, "/api/v1/:collection", 200, 0.2);
	gw_metrics_request(&g, -1, "unmatched", 404, 0.0001);
	gw_metrics_rate_limited(&g, GW_RL_AUTH);
	// no service answered: every slot is empty
	text = gw_metrics_render(&g, slots, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text,
	    "busbase_http_requests_total{service=\"gateway\",method=\"GET\","
	    "route=\"/api/v1/:collection\",status=\"200\"} 2"));
	assert_non_null(strstr(text,
	    "busbase_http_requests_total{service=\"gateway\",method=\"OTHER\","
	    "route=\"unmatched\",status=\"404\"} 1"));
	assert_non_null(
	    strstr(text, "busbase_http_request_duration_seconds_bucket"));
	assert_non_null(strstr(text,
	    "busbase_rate_limited_total{service=\"gateway\",class=\"auth\"} "
	    "1"));
	assert_non_null(strstr(text,
	    "busbase_rate_limited_total{service=\"gateway\",class=\"public_"
	    "reads\"} 0"));
	assert_non_null(
	    strstr(text, "busbase_service_up{service=\"gateway\"} 1"));
	assert_non_null(
	    strstr(text, "busbase_service_up{service=\"auth\"} 0"));
	assert_non_null(
	    strstr(text, "busbase_service_up{service=\"admin\"} 0"));
	assert_non_null(strstr(text, "# TYPE busbase_service_up gauge"));
	assert_non_null(
	    strstr(text, "busbase_pending_websockets{service=\"gateway\"} 0"));
	assert_non_null(
	    strstr(text, "busbase_build_info{service=\"gateway\""));
	// one HELP and one TYPE line per family
	assert_int_equal(count(text, "# TYPE busbase_service_up "), 1);
	assert_int_equal(count(text, "# HELP busbase_service_up "), 1);
	assert_int_equal(
	    count(text, "# TYPE busbase_http_requests_total "), 1);
	assert_int_equal(count(text, "busbase_service_up{"), LC_SVC_COUNT);
	lc_free(text);
	lc_metrics_free(g.metrics);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
