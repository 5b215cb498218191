/*
 * aggregate.c -- GET /:c/aggregate (API.md §3.8): sum, avg, min, max and
 * count over a collection, optionally grouped by one field, under the same
 * filter, search, include_deleted and read rules as a list (an owner read
 * rule limits the rows to the caller's own). The SQL comes from query.c
 * (data_query_aggregate, data_query_sql_aggregate); this file runs it in
 * one read transaction and renders the values like record values
 * (booleans true/false, numbers as stored).
 *
 * An unknown collection under auto_create_collections reads as the empty
 * set (§3.1): sum and count 0, the others null, no groups. Its parameters
 * are still checked.
 */
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"

// The value of an aggregate over the empty set.
static json_t *
empty_value(const struct data_agg *a)
{
	return (a->fn == DATA_AGG_SUM || a->fn == DATA_AGG_COUNT
	        ? json_integer(0)
	        : json_null());
}

// The value in column i of st: count and sum as stored (integer or
// real), avg real, min and max typed by the field's column.
static json_t *
agg_value(const struct data_agg *a, sqlite3_stmt *st, int i)
{
	if (a->fn == DATA_AGG_MIN || a->fn == DATA_AGG_MAX) {
		return (data_column_json(st, i, a->field_type));
	}
	return (data_column_json(st, i, DATA_T_NONE));
}

// Runs the aggregate of q into *out: the value, or the groups array.
static int
agg_run(struct data_worker *dw, struct data_query *q, json_t **out)
{
	const struct data_agg *a      = &q->agg;
	int                    groups = a->group_by[0] != '\0';
	char                  *sql    = NULL;
	sqlite3_stmt          *st;
	json_t                *res = NULL;
	int                    sr;

	data_query_sql_aggregate(q, &sql);
	st = data_stmt_dyn(dw, sql);
	lc_free(sql);
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (data_query_bind(q, st) != 0) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	if (groups) {
		res = json_array();
		while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
			json_array_append_new(res,
			    json_pack("{s:o, s:o}", "key",
			        data_column_json(st, 0, a->group_type),
			        "value", agg_value(a, st, 1)));
		}
	} else if ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		res = agg_value(a, st, 0);
		sr  = SQLITE_DONE;
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("DATA-SQL", "aggregate: %s",
		    sqlite3_errmsg(data_conn(dw)));
		json_decref(res);
		return (LC_EINTERNAL);
	}
	*out = res != NULL ? res : empty_value(a);
	return (0);
}

int
data_h_records_aggregate(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	struct data_query   q;
	json_t             *res = NULL;
	json_t             *body;
	int                 rv;

	if ((rv = data_read_open(dw, rq, rp, &c, &q)) != 0) {
		return (rv);
	}
	if ((rv = data_query_aggregate(&q, rq->query)) != 0) {
		lc_rep_error(rp, rv, NULL, q.err_field);
		goto out;
	}
	if (c == NULL) {
		res = q.agg.group_by[0] != '\0' ? json_array()
		                                : empty_value(&q.agg);
	} else if ((rv = agg_run(dw, &q, &res)) != 0) {
		lc_rep_error(rp, rv, NULL, NULL);
		goto out;
	}
	body = json_pack("{s:s, s:o}", "fn", q.agg.fn_name, "field",
	    q.agg.field[0] != '\0' ? json_string(q.agg.field) : json_null());
	if (q.agg.group_by[0] != '\0') {
		json_object_set_new(
		    body, "group_by", json_string(q.agg.group_by));
		json_object_set_new(body, "groups", res);
	} else {
		json_object_set_new(body, "value", res);
	}
	lc_rep_json(rp, 200, body);
out:
	data_query_fini(&q);
	data_end(dw);
	return (rv);
}
