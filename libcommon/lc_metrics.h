/*
 * lc_metrics.h -- a Prometheus metrics registry (API.md §6).
 *
 * A process has one registry (struct lc_metrics). Families are registered
 * once with a name, type and help; series are addressed by a preformatted
 * label string WITHOUT the service label, e.g. `op="auth.login",result="ok"`
 * (values escaped with lc_metrics_escape). The registry adds
 * service="<name>" to every series when it exports.
 *
 * Export produces a JSON array of families, the form svc.metrics carries
 * on the bus:
 *   [{"name":"busbase_bus_requests_total","type":"counter","help":"...",
 *     "samples":["busbase_bus_requests_total{service=\"auth\",op=\"x\",result=\"ok\"}
 * 3", ...]}] lc_metrics_render merges several such arrays (one per process) by
 * family name, so each family gets exactly one HELP and one TYPE line, and
 * renders Prometheus text format 0.0.4.
 *
 * All functions are thread-safe (one mutex per registry).
 */
#ifndef LC_METRICS_H
#define LC_METRICS_H

#include <jansson.h>
#include <stddef.h>

#include "lc_common.h"

enum lc_metric_type {
	LC_MT_COUNTER = 0,
	LC_MT_GAUGE,
	LC_MT_HISTOGRAM,
};

struct lc_metrics;

// Histogram buckets (seconds): 0.005 ... 10, as API.md §6.
extern const double lc_metrics_buckets[11];

struct lc_metrics *lc_metrics_alloc(const char *service);
void               lc_metrics_free(struct lc_metrics *m);

// Registers a family (idempotent for the same name).
void lc_metrics_family(
    struct lc_metrics *m, const char *name, int type, const char *help);
// Adds v to a counter (or gauge) series; creates the series at 0 first.
void lc_metrics_add(
    struct lc_metrics *m, const char *name, const char *labels, double v);
// Sets a gauge series.
void lc_metrics_set(
    struct lc_metrics *m, const char *name, const char *labels, double v);
// Observes a value (seconds) in a histogram series.
void lc_metrics_observe(
    struct lc_metrics *m, const char *name, const char *labels, double v);

// Escapes a label value (\\, \", \n) into buf; returns buf.
const char *lc_metrics_escape(const char *v, char *buf, size_t len);

// Updates the process_* gauges and busbase_build_info, then exports every
// family as described above (new reference).
json_t *lc_metrics_export(struct lc_metrics *m);

// Renders one or more exported arrays (a JSON array of arrays) as
// Prometheus text; returns a new NUL-terminated string (lc_free).
char *lc_metrics_render(const json_t *exports, size_t *out_len);

#endif // LC_METRICS_H
