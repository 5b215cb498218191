/*
 * calls_test.h -- handler helpers shared by the auth unit tests that call
 * handlers as any kind of caller (apikeys_test.c, totp_test.c): call,
 * code_of, expect_err, mkuser, q_int, exec. Header-only; include it after
 * fixture_test.h.
 */
#ifndef AUTH_CALLS_TEST_H
#define AUTH_CALLS_TEST_H

#include "fixture_test.h"

// Runs a handler as a caller of kind (LC_CALLER_*; uid for user and
// apikey callers); body, query and params are JSON texts or NULL.
static int
call(struct fx *fx, lc_handler_fn fn, int kind, const char *uid,
    const char *body, const char *query, const char *params, struct lc_rep *rp)
{
	static const char *const names[] = { "anon", "user", "apikey", "admin",
		"service" };
	struct lc_req            rq;
	int                      rv;

	lc_req_init(&rq);
	lc_rep_init(rp);
	snprintf(rq.ip, sizeof(rq.ip), "203.0.113.7");
	rq.caller_kind = kind;
	rq.caller      = json_pack("{s:s}", "kind", names[kind]);
	if (uid != NULL) {
		json_object_set_new(rq.caller, "uid", json_string(uid));
	}
	rq.params =
	    params != NULL ? json_loads(params, 0, NULL) : json_object();
	rq.query = query != NULL ? json_loads(query, 0, NULL) : json_object();
	assert_non_null(rq.params);
	assert_non_null(rq.query);
	if (body != NULL) {
		rq.body = json_loads(body, JSON_DECODE_ANY, NULL);
		assert_non_null(rq.body);
	}
	rv = fn(&fx->w, &rq, rp);
	lc_req_fini(&rq);
	if (rv != 0 && rp->status == 0) {
		lc_rep_error(rp, rv, NULL, NULL);
	}
	return (rv);
}

static const char *
code_of(const struct lc_rep *rp)
{
	return (json_string_value(json_object_get(rp->body, "code")));
}

static void
expect_err(struct lc_rep *rp, int status, const char *code, const char *field)
{
	assert_int_equal(rp->status, status);
	assert_string_equal(code_of(rp), code);
	if (field != NULL) {
		assert_string_equal(
		    json_string_value(json_object_get(rp->body, "field")),
		    field);
	}
	lc_rep_fini(rp);
}

// Creates a verified user without a password; its id into out.
static void
mkuser(struct fx *fx, const char *email, char out[AUTH_ID_LEN + 1])
{
	struct auth_user u = { 0 };
	struct lc_rep    rp;

	lc_rep_init(&rp);
	assert_int_equal(auth_begin(&fx->w), 0);
	assert_int_equal(
	    auth_user_create(&fx->w, email, NULL, 1, NULL, &u), 0);
	assert_int_equal(auth_commit(&fx->w, &rp), 0);
	lc_rep_fini(&rp);
	snprintf(out, AUTH_ID_LEN + 1, "%s", u.id);
	auth_user_fini(&u);
}

// One integer from a query with one text parameter (-1: no row, or NULL).
static int64_t
q_int(struct fx *fx, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	int64_t       v = -1;

	assert_int_equal(
	    sqlite3_prepare_v2(fx->w.db, sql, -1, &st, NULL), SQLITE_OK);
	if (arg != NULL) {
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL) {
		v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return (v);
}

static void
exec(struct fx *fx, const char *sql)
{
	assert_int_equal(
	    sqlite3_exec(fx->w.db, sql, NULL, NULL, NULL), SQLITE_OK);
}

#endif // AUTH_CALLS_TEST_H
