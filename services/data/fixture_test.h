/*
 * fixture_test.h -- the cmocka fixture the data unit tests share: one
 * worker of a fake "data" service over a fresh data.db in a temp
 * directory (the real migrations), writing through a writer connection of
 * its own as the service does (lc_store.h), and fx_call, which runs a
 * handler as a given caller with params, query and body as JSON text.
 *
 * Header-only, for *_test.c files: include it once, after cmocka.h; use
 * setup/teardown as each test's fixture.
 */
#ifndef DATA_FIXTURE_TEST_H
#define DATA_FIXTURE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "lc_db.h"
#include "lc_service.h"
#include "lc_store.h"

static char              dir[64];
static struct lc_service fx_svc;
static struct lc_worker  worker;
static json_t           *fx_last; // the reply body of the last fx_call

static int
setup(void **state)
{
	char path[128];

	(void) state;
	snprintf(dir, sizeof(dir), "/tmp/data_test_XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/data.db", dir);
	memset(&worker, 0, sizeof(worker));
	memset(&fx_svc, 0, sizeof(fx_svc));
	fx_svc.name = "data";
	assert_int_equal(lc_db_open(path, &worker.db), 0);
	assert_int_equal(
	    lc_db_migrate(worker.db, data_migrations, data_nmigrations), 0);
	assert_int_equal(lc_writer_open(path, &fx_svc.writer), 0);
	worker.svc = &fx_svc;
	assert_int_equal(
	    data_dedupe_open(worker.db, (struct data_dedupe **) &fx_svc.user),
	    0);
	assert_int_equal(data_worker_open(&worker), 0);
	return (0);
}

static int
teardown(void **state)
{
	char cmd[128];

	(void) state;
	data_worker_close(&worker);
	data_dedupe_close(fx_svc.user);
	lc_writer_close(fx_svc.writer);
	lc_db_close(worker.db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return (0);
}

// Fills rq as fx_call sends it: caller who (NULL: anonymous; "admin";
// else a user id), request id rid (NULL: none), params, query and body as
// JSON text (NULL: {}, {}, absent). Release with lc_req_fini.
static void
fx_req(struct lc_req *rq, const char *who, const char *rid, const char *params,
    const char *query, const char *body)
{
	lc_req_init(rq);
	snprintf(rq->op_name, sizeof(rq->op_name), "test");
	snprintf(rq->rid, sizeof(rq->rid), "%s", rid != NULL ? rid : "");
	json_decref(rq->caller);
	if (who == NULL) {
		rq->caller_kind = LC_CALLER_ANON;
		rq->caller      = json_pack("{s:s}", "kind", "anon");
	} else if (strcmp(who, "admin") == 0) {
		rq->caller_kind = LC_CALLER_ADMIN;
		rq->caller      = json_pack("{s:s}", "kind", "admin");
	} else {
		rq->caller_kind = LC_CALLER_USER;
		rq->caller = json_pack("{s:s, s:s, s:[], s:b}", "kind", "user",
		    "uid", who, "roles", "verified", 1);
	}
	json_decref(rq->params);
	json_decref(rq->query);
	rq->params = json_loads(params != NULL ? params : "{}", 0, NULL);
	rq->query  = json_loads(query != NULL ? query : "{}", 0, NULL);
	rq->body =
	    body != NULL ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
	assert_non_null(rq->params);
	assert_non_null(rq->query);
}

// Runs handler fn with the request fx_req builds. Returns the status;
// *out gets the reply body (a new reference; fx_last is the same object,
// borrowed).
static int
fx_call(lc_handler_fn fn, const char *who, const char *rid, const char *params,
    const char *query, const char *body, json_t **out)
{
	struct lc_req rq;
	struct lc_rep rp;
	int           status;

	fx_req(&rq, who, rid, params, query, body);
	lc_rep_init(&rp);
	(void) fn(&worker, &rq, &rp);
	status  = rp.status;
	*out    = json_incref(rp.body);
	fx_last = rp.body;
	lc_rep_fini(&rp);
	lc_req_fini(&rq);
	return (status);
}

// The last line of SQLite's plan for sql (owned: lc_free).
static inline char *
plan_of(const char *sql_text)
{
	char          q[512];
	char         *plan = NULL;
	sqlite3_stmt *st;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql_text);
	assert_int_equal(
	    sqlite3_prepare_v2(worker.db, q, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		lc_free(plan);
		plan = lc_strdup((const char *) sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
	assert_non_null(plan);
	return (plan);
}

#endif // DATA_FIXTURE_TEST_H
