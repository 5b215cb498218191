/*
 * metrics.c -- the gateway's own series and GET /metrics (API.md §6).
 *
 * The gateway counts its requests in its registry (which labels every
 * series service="gateway"). /metrics asks every service for svc.metrics
 * in parallel (http.c suspends the request meanwhile), then merges the
 * gateway's export, busbase_service_up (one series per process, built
 * here because its service label names the target, not the gateway) and
 * each answering service's families into one Prometheus text.
 */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "lc_err.h"
#include "lc_log.h"

#define F_REQS "busbase_http_requests_total"
#define F_DUR "busbase_http_request_duration_seconds"
#define F_PENDING "busbase_pending_requests"
#define F_WS "busbase_pending_websockets"
#define F_RL "busbase_rate_limited_total"
#define F_RT "busbase_realtime_events_total"
#define F_UP "busbase_service_up"

static void
gw_metrics_rate_limited_add(struct gw *g, int cls, double v)
{
	char labels[64];

	(void) snprintf(
	    labels, sizeof(labels), "class=\"%s\"", gw_rl_class_name(cls));
	lc_metrics_add(g->metrics, F_RL, labels, v);
}

void
gw_metrics_init(struct gw *g)
{
	struct lc_metrics *m = g->metrics;
	int                cls;

	lc_metrics_family(m, F_REQS, LC_MT_COUNTER,
	    "HTTP requests answered by the gateway.");
	lc_metrics_family(m, F_DUR, LC_MT_HISTOGRAM,
	    "HTTP request duration at the gateway, in seconds.");
	lc_metrics_family(
	    m, F_PENDING, LC_MT_GAUGE, "HTTP requests in progress.");
	lc_metrics_family(m, F_WS, LC_MT_GAUGE, "Open realtime sockets.");
	lc_metrics_family(m, F_RL, LC_MT_COUNTER,
	    "Requests refused by a rate limit, by class.");
	lc_metrics_family(
	    m, F_RT, LC_MT_COUNTER, "Realtime event frames sent, by event.");
	lc_metrics_set(m, F_PENDING, "", 0);
	lc_metrics_set(m, F_WS, "", 0);
	for (cls = 0; cls < GW_RL_COUNT; cls++) {
		gw_metrics_rate_limited_add(g, cls, 0); // known labels: at 0
	}
}

void
gw_metrics_request(
    struct gw *g, int method, const char *route, unsigned status, double s)
{
	char        labels[256];
	const char *mn = gw_method_name(method);
	int         n;

	// Route labels are templates from routes.def or "unmatched": no
	// character in them needs escaping.
	n = snprintf(
	    labels, sizeof(labels), "method=\"%s\",route=\"%s\"", mn, route);
	if (n < 0 || (size_t) n >= sizeof(labels) - 20) {
		return;
	}
	lc_metrics_observe(g->metrics, F_DUR, labels, s);
	(void) snprintf(
	    labels + n, sizeof(labels) - (size_t) n, ",status=\"%u\"", status);
	lc_metrics_add(g->metrics, F_REQS, labels, 1);
}

void
gw_metrics_rate_limited(struct gw *g, int cls)
{
	gw_metrics_rate_limited_add(g, cls, 1);
}

json_t *
gw_metrics_export(struct gw *g, const int up[LC_SVC_COUNT])
{
	json_t *arr;
	json_t *samples = json_array();
	int     svc;

	lc_metrics_set(
	    g->metrics, F_PENDING, "", (double) atomic_load(&g->pending));
	arr = lc_metrics_export(g->metrics);
	for (svc = 0; svc < LC_SVC_COUNT; svc++) {
		char s[128];

		(void) snprintf(s, sizeof(s), F_UP "{service=\"%s\"} %d",
		    lc_svc_name(svc),
		    svc == LC_SVC_GATEWAY || up[svc] ? 1 : 0);
		(void) json_array_append_new(samples, json_string(s));
	}
	(void) json_array_append_new(arr,
	    json_pack("{s:s, s:s, s:s, s:o}", "name", F_UP, "type", "gauge",
	        "help", "1 if the process answered this scrape, else 0.",
	        "samples", samples));
	return (arr);
}

char *
gw_metrics_render(struct gw *g, struct gw_slot *slots, size_t *out_len)
{
	json_t *exports            = json_array();
	json_t *fams[LC_SVC_COUNT] = { NULL };
	int     up[LC_SVC_COUNT]   = { 0 };
	char   *text;
	int     svc;

	for (svc = 0; svc < LC_SVC_COUNT; svc++) {
		struct gw_slot *sl = &slots[svc];
		struct lc_rep   rp;
		json_t         *f;

		if (svc == LC_SVC_GATEWAY || sl->msg == NULL) {
			continue;
		}
		lc_rep_init(&rp);
		if (sl->rv == 0 && lc_client_reply(sl->msg, &rp) == 0 &&
		    rp.status == 200 &&
		    json_is_array(f = json_object_get(rp.body, "families"))) {
			fams[svc] = json_incref(f);
			up[svc]   = 1;
		}
		lc_rep_fini(&rp);
		lc_client_msg_free(sl->msg);
		sl->msg = NULL;
	}
	(void) json_array_append_new(exports, gw_metrics_export(g, up));
	for (svc = 0; svc < LC_SVC_COUNT; svc++) {
		if (fams[svc] != NULL) {
			(void) json_array_append_new(exports, fams[svc]);
		}
	}
	text = lc_metrics_render(exports, out_len);
	json_decref(exports);
	return (text);
}
