/*
 * list.c -- records.list and records.count (API.md §3.4-§3.7) and the
 * admin record list of §5.1 (rules ignored, include_deleted defaulting to
 * true). The SQL comes from query.c, the one builder of read SQL; this
 * file adds the paging parameters (limit / per_page / perPage, page,
 * after, total), the rules (an owner read rule limits the rows to the
 * caller's own, so they are never counted, sorted or paged past), and the
 * envelope {"items","total","page","limit","next_cursor"}.
 *
 * Both run in one read transaction, so the items and the total come from
 * the same snapshot as the catalog.
 */
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_settings.h"
#include "relations.h"

#define PAGE_MAX 1000000000LL // keeps (page - 1) * limit far from overflow

json_t *
data_proj_record(const struct data_query *q, sqlite3_stmt *st, int off)
{
	json_t *rec = json_object();

	for (size_t i = 0; i < q->nproj; i++) {
		if (q->proj[i].hidden) {
			continue;
		}
		json_object_set_new_nocheck(rec, q->proj[i].name,
		    data_column_json(st, off + (int) i, q->proj[i].type));
	}
	return (rec);
}

int
data_posint(const json_t *v, int64_t max, int64_t *out)
{
	const char *s;
	size_t      len;
	int64_t     n = 0;

	if (v == NULL || json_is_null(v)) {
		return (0);
	}
	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n < 1) {
			return (LC_EINVALID_QUERY);
		}
		*out = n > max ? max : n;
		return (0);
	}
	if (!json_is_string(v) || (len = json_string_length(v)) == 0) {
		return (LC_EINVALID_QUERY);
	}
	s = json_string_value(v);
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return (LC_EINVALID_QUERY);
		}
		n = n > max ? n : n * 10 + (s[i] - '0');
	}
	if (n < 1) {
		return (LC_EINVALID_QUERY);
	}
	*out = n > max ? max : n;
	return (0);
}

struct paging {
	int64_t limit;
	int64_t page;
	int     total; // count the matches
	int     incl;  // include_deleted
};

// limit (aliases per_page, perPage when limit is absent), page, total,
// include_deleted. Returns 0 or LC_EINVALID_QUERY with *field.
static int
paging_parse(const struct lc_req *rq, int incl_def, struct paging *pg,
    const char **field)
{
	static const char *const lim[] = { "limit", "per_page", "perPage" };
	int                      rv;

	pg->limit = DATA_LIMIT_DEFAULT;
	pg->page  = 1;
	for (size_t i = 0; i < LC_NELEM(lim); i++) {
		const json_t *v = json_object_get(rq->query, lim[i]);

		if (v != NULL) {
			*field = lim[i];
			if ((rv = data_posint(
			         v, DATA_LIMIT_MAX, &pg->limit)) != 0) {
				return (rv);
			}
			break;
		}
	}
	*field = "page";
	if ((rv = data_posint(json_object_get(rq->query, "page"), PAGE_MAX,
	         &pg->page)) != 0) {
		return (rv);
	}
	*field = "total";
	if ((rv = data_query_bool(rq, "total", 1, &pg->total)) != 0) {
		return (rv);
	}
	*field = "include_deleted";
	if ((rv = data_query_bool(
	         rq, "include_deleted", incl_def, &pg->incl)) != 0) {
		return (rv);
	}
	*field = NULL;
	return (0);
}

// Runs sql (bound from q) for one integer; 0, or LC_EINTERNAL (logged).
static int
one_int(struct data_worker *dw, struct data_query *q, const char *sql,
    int64_t *out)
{
	sqlite3_stmt *st = data_stmt_dyn(dw, sql);
	int           rv = LC_EINTERNAL;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (data_query_bind(q, st) == 0 && sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rv   = 0;
	} else {
		lc_log_err(
		    "DATA-SQL", "count: %s", sqlite3_errmsg(data_conn(dw)));
	}
	lc_db_done(st);
	return (rv);
}

// The number of records q matches. A search alone on a collection
// without soft-deleted rows is counted on the FTS index (query.h); else
// every match is looked up.
static int
count_rows(struct data_worker *dw, struct data_query *q, int64_t *out)
{
	char   *any = NULL;
	char   *fts = NULL;
	char   *sql = NULL;
	int64_t deleted;
	int     rv;

	if (data_query_sql_count_fts(q, &any, &fts) &&
	    one_int(dw, q, any, &deleted) == 0 && deleted == 0) {
		rv = one_int(dw, q, fts, out);
	} else {
		data_query_sql_count(q, &sql);
		rv = one_int(dw, q, sql, out);
	}
	lc_free(any);
	lc_free(fts);
	lc_free(sql);
	return (rv);
}

// The ordered walk's budget in SQLite VM instructions (list_rows), and
// what page_run answers when it ran out (not an lc_err code).
#define SORTED_WALK_BUDGET 50000
#define OVER_BUDGET (-1)

static int
budget_spent(void *arg)
{
	LC_UNUSED(arg);
	return (1); // called once the budget is used up: interrupt
}

// Runs one statement of the page, appending to items up to the limit (and
// one more row, to know whether more follow: then *next is set); with
// budget > 0, gives up with OVER_BUDGET after about that many SQLite VM
// instructions.
static int
part_run(struct data_worker *dw, struct data_query *q, const struct paging *pg,
    int64_t offset, int budget, struct data_rel_expand *e, json_t *items,
    json_t **next)
{
	sqlite3      *db  = data_conn(dw);
	char         *sql = NULL;
	sqlite3_stmt *st;
	json_t       *rec;
	int           sr;
	int64_t       n = (int64_t) json_array_size(items);

	data_query_sql_list(q, pg->limit + 1 - n, offset, &sql);
	st = data_stmt_dyn(dw, sql);
	lc_free(sql);
	if (st == NULL || data_query_bind(q, st) != 0) {
		if (st != NULL) {
			lc_db_done(st);
		}
		return (LC_EINTERNAL);
	}
	if (budget > 0) {
		(void) sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1);
		sqlite3_progress_handler(db, budget, budget_spent, NULL);
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == pg->limit) {
			// One more follows: the cursor is the last item.
			json_t *last =
			    json_array_get(items, json_array_size(items) - 1);

			json_decref(*next);
			*next = json_incref(json_object_get(last, "_id"));
			break;
		}
		rec = data_proj_record(q, st, 0);
		data_rel_expand_row(e, q, st, 0, rec);
		json_array_append_new(items, rec);
	}
	if (budget > 0) {
		sqlite3_progress_handler(db, 0, NULL, NULL);
	}
	lc_db_done(st);
	if (sr == SQLITE_INTERRUPT && budget > 0) {
		return (OVER_BUDGET);
	}
	if (sr != SQLITE_ROW && sr != SQLITE_DONE) {
		lc_log_err("DATA-SQL", "list: %s", sqlite3_errmsg(db));
		return (LC_EINTERNAL);
	}
	return (0);
}

// The page: its statements in turn (data_query_parts) until it is full.
static int
page_run(struct data_worker *dw, struct data_query *q, const struct paging *pg,
    int64_t offset, int budget, struct data_rel_expand *e, json_t *items,
    json_t **next)
{
	int rv = 0;

	for (size_t i = 0; i < data_query_parts(q) && rv == 0; i++) {
		if (!json_is_null(*next)) {
			break; // full, and more follow
		}
		q->tail = i > 0;
		rv      = part_run(dw, q, pg, offset, budget, e, items, next);
	}
	q->tail = 0;
	return (rv);
}

// An estimate of the number of rows of q's table (its largest rowid),
// or -1.
static int64_t
rows_estimate(struct data_worker *dw, struct data_query *q)
{
	char         *sql = NULL;
	sqlite3_stmt *st;
	int64_t       n = -1;

	data_query_sql_max_rowid(q, &sql);
	if ((st = data_stmt_dyn(dw, sql)) != NULL) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			n = sqlite3_column_int64(st, 0);
		}
		lc_db_done(st);
	}
	lc_free(sql);
	return (n);
}

// The page of items; matches: how many records the filter matches (the
// total), or -1 when unknown.
//
// SQLite's planner, without statistics, reads a filtered and sorted page
// through the filter's index and sorts every match: 10,000 row lookups
// and a sort for a filter that matches 1% of a million records, where
// walking the sort field's index until the page is full reads about
// 2,100 rows. The walk reads about (limit + 1) * rows / matches rows, the
// planner's plan about `matches`: with the total known, the cheaper one
// runs. Without it, the walk is tried first with a budget (about
// SORTED_WALK_BUDGET VM instructions, a few ms) and the planner's plan
// runs when the walk runs out of it. The walk's statement names the
// index (INDEXED BY); if that fails to prepare, the planner's runs.
// Unless the planner's plan reads the page in order: an eq filter on a
// column whose index goes on with the sort field (indexes.c).
static int
list_rows(struct data_worker *dw, struct data_query *q,
    const struct paging *pg, int64_t matches, struct data_rel_expand *e,
    json_t *items, json_t **next)
{
	int64_t offset = q->after[0] != '\0' ? 0 : (pg->page - 1) * pg->limit;
	int     budget = SORTED_WALK_BUDGET;
	int64_t rows;
	int     rv;

	*next = json_null();
	if (offset != 0 || !data_query_has_filter(q) ||
	    data_query_sort_index(q) == NULL || data_query_filter_sorts(q)) {
		return (page_run(dw, q, pg, offset, 0, e, items, next));
	}
	if (matches >= 0) {
		rows = rows_estimate(dw, q);
		if (matches == 0 || rows < 0 ||
		    (double) (pg->limit + 1) * (double) rows /
		            (double) matches >
		        (double) matches) {
			return (
			    page_run(dw, q, pg, offset, 0, e, items, next));
		}
		budget = 0; // the walk is the cheaper plan
	}
	q->indexed_by = data_query_sort_index(q);
	rv            = page_run(dw, q, pg, offset, budget, e, items, next);
	q->indexed_by = NULL;
	if (rv != OVER_BUDGET && rv != LC_EINTERNAL) {
		return (rv);
	}
	json_array_clear(items);
	data_rel_expand_reset(e);
	json_decref(*next);
	*next = json_null();
	return (page_run(dw, q, pg, offset, 0, e, items, next));
}

const struct data_schema data_empty_schema = { "", NULL, NULL, 0, NULL };

int
data_resolve_read(struct data_worker *dw, const struct lc_req *rq,
    int admin_ep, const struct data_caller *caller, struct data_coll **c,
    int *own)
{
	const char *name;
	size_t      len;
	int         rv;

	*c   = NULL;
	*own = 0;
	(void) data_param(rq, admin_ep ? "name" : "collection", &name, &len);
	if (!data_coll_name_valid(name, len)) {
		return (LC_ECOLLECTION_NOT_FOUND);
	}
	rv = data_catalog_find(dw, name, len, c);
	if (rv == LC_ECOLLECTION_NOT_FOUND && !admin_ep &&
	    lc_settings_bool("auto_create_collections")) {
		*c = NULL;
		return (0); // §3.1: anyone may read it, and it is empty
	}
	if (rv != 0 || admin_ep) {
		return (rv);
	}
	return (data_rule_check(&(*c)->rules.read, caller, 0,
	    lc_settings_bool("require_email_verification"), own));
}

static sqlite3_stmt *
cursor_prepare(void *dw, const char *sql)
{
	return (data_stmt_dyn(dw, sql));
}

// The cursor record's sort values (data_query_cursor_load), its statement
// from the worker's cache: preparing it anew cost page 10,000 by `after`
// about 20% more than page 1.
static int
cursor_load(struct data_worker *dw, struct data_query *q)
{
	q->prepare     = cursor_prepare;
	q->prepare_arg = dw;
	return (data_query_cursor_load(q, data_conn(dw)));
}

static int
list(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp,
    int admin_ep)
{
	struct data_worker    *dw = data_worker(w);
	struct data_caller     caller;
	struct data_coll      *c;
	struct data_query      q;
	struct data_qopts      o     = { 0 };
	struct paging          pg    = { 0 };
	struct data_rel_expand e     = { 0 };
	const char            *field = NULL;
	json_t                *items = NULL;
	json_t                *next  = NULL;
	int64_t                total = 0;
	int                    own;
	int                    rv;

	data_caller_init(&caller, rq);
	if ((rv = data_begin_read(dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if ((rv = data_resolve_read(dw, rq, admin_ep, &caller, &c, &own)) !=
	    0) {
		data_end(dw);
		return (data_fail(rp, rv, NULL, NULL));
	}
	if ((rv = paging_parse(rq, admin_ep, &pg, &field)) != 0) {
		data_end(dw);
		return (data_fail(rp, rv, NULL, field));
	}
	if (pg.incl && !caller.admin && !admin_ep) {
		data_end(dw);
		return (data_fail(rp, LC_EFORBIDDEN,
		    "include_deleted is for the admin only.", NULL));
	}
	o.owner           = own ? caller.uid : NULL;
	o.include_deleted = pg.incl;
	data_query_init(&q, c != NULL ? &c->schema : &data_empty_schema, &o);
	items = json_array();
	// expand's invalid_query comes before the filter's errors.
	if ((rv = data_rel_expand_parse(dw, c != NULL ? c->id : 0,
	         json_object_get(rq->query, "expand"), &e)) != 0) {
		lc_rep_error(rp, rv, NULL, "expand");
		goto out;
	}
	if ((rv = data_query_parse(&q, rq->query)) != 0) {
		lc_rep_error(rp, rv, NULL, q.err_field);
		goto out;
	}
	data_rel_expand_select(&e, &q);
	if (c == NULL) {
		// An unknown collection: empty, but a cursor names no record.
		rv   = q.after[0] != '\0' ? LC_EINVALID_CURSOR : 0;
		next = json_null();
	} else if ((rv = cursor_load(dw, &q)) == 0 &&
	    (!pg.total || (rv = count_rows(dw, &q, &total)) == 0) &&
	    (rv = list_rows(
	         dw, &q, &pg, pg.total ? total : -1, &e, items, &next)) == 0) {
		rv = data_rel_expand_apply(dw, &e, &caller,
		    lc_settings_bool("require_email_verification"));
	}
	if (rv != 0) {
		lc_rep_error(rp, rv, NULL, NULL);
		goto out;
	}
	lc_rep_json(rp, 200,
	    json_pack("{s:o, s:o, s:I, s:I, s:o}", "items", items, "total",
	        pg.total ? json_integer(total) : json_null(), "page",
	        (json_int_t) (q.after[0] != '\0' ? 1 : pg.page), "limit",
	        (json_int_t) pg.limit, "next_cursor", next));
	items = next = NULL;
out:
	json_decref(items);
	json_decref(next);
	data_rel_expand_fini(&e);
	data_query_fini(&q);
	data_end(dw);
	return (rv);
}

int
data_h_records_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (list(w, rq, rp, 0));
}

int
data_h_admin_records_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (list(w, rq, rp, 1));
}

int
data_read_open(struct data_worker *dw, const struct lc_req *rq,
    struct lc_rep *rp, struct data_coll **c, struct data_query *q)
{
	struct data_caller caller;
	struct data_qopts  o = { 0 };
	int                own;
	int                incl;
	int                rv;

	data_caller_init(&caller, rq);
	if ((rv = data_begin_read(dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if ((rv = data_resolve_read(dw, rq, 0, &caller, c, &own)) != 0) {
		data_end(dw);
		return (data_fail(rp, rv, NULL, NULL));
	}
	if ((rv = data_query_bool(rq, "include_deleted", 0, &incl)) != 0) {
		data_end(dw);
		return (data_fail(rp, rv, NULL, "include_deleted"));
	}
	if (incl && !caller.admin) {
		data_end(dw);
		return (data_fail(rp, LC_EFORBIDDEN,
		    "include_deleted is for the admin only.", NULL));
	}
	o.owner           = own ? caller.uid : NULL; // borrowed from rq
	o.include_deleted = incl;
	data_query_init(
	    q, *c != NULL ? &(*c)->schema : &data_empty_schema, &o);
	return (0);
}

int
data_h_records_count(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_worker *dw = data_worker(w);
	struct data_coll   *c;
	struct data_query   q;
	int64_t             n = 0;
	int                 rv;

	if ((rv = data_read_open(dw, rq, rp, &c, &q)) != 0) {
		return (rv);
	}
	if ((rv = data_query_filter(
	         &q, json_object_get(rq->query, "filter"))) != 0 ||
	    (rv = data_query_search(
	         &q, json_object_get(rq->query, "search"))) != 0) {
		lc_rep_error(rp, rv, NULL, q.err_field);
	} else if (c != NULL && (rv = count_rows(dw, &q, &n)) != 0) {
		lc_rep_error(rp, rv, NULL, NULL);
	} else {
		lc_rep_json(
		    rp, 200, json_pack("{s:I}", "count", (json_int_t) n));
	}
	data_query_fini(&q);
	data_end(dw);
	return (rv);
}
