/*
 * sessions_test.c -- sessions.c against a real auth.db: the access
 * token's claims (exactly sub, email, roles, sid, iat, exp) and the
 * impersonation token's, refresh rotation, reuse (the revocation is
 * committed although the answer is 401) and unknown/expired tokens,
 * logout (session_required for keys and impersonation), logout-all and
 * its cut, single-session mode, auth.session_check, the snapshot, and the
 * admin sessions API; every revocation checked in the events it returns
 * as effects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
// cmocka needs the four above first
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_jwt.h"
#include "lc_msg.h"
#include "lc_settings.h"

#define PW "correct horse battery"
#define DAY_MS (86400 * 1000LL)

/* ---- fixture: fixture_test.h ---- */

#include "fixture_test.h"

struct caller {
	int         kind; // LC_CALLER_*
	const char *uid;
	const char *sid; // NULL: none
	int         imp;
};

static const struct caller ANON    = { LC_CALLER_ANON, NULL, NULL, 0 };
static const struct caller ADMIN   = { LC_CALLER_ADMIN, NULL, NULL, 0 };
static const struct caller SERVICE = { LC_CALLER_SERVICE, NULL, NULL, 0 };

// Runs a handler; body, query, params are JSON texts or NULL.
static int
call(struct fx *fx, lc_handler_fn fn, struct caller c, const char *body,
    const char *query, const char *params, struct lc_rep *rp)
{
	static const char *const kinds[] = { "anon", "user", "apikey", "admin",
		"service" };
	struct lc_req            rq;
	int                      rv;

	lc_req_init(&rq);
	lc_rep_init(rp);
	snprintf(rq.ip, sizeof(rq.ip), "203.0.113.7");
	snprintf(rq.ua, sizeof(rq.ua), "unit/1.0");
	rq.caller_kind = c.kind;
	rq.caller      = json_pack("{s:s}", "kind", kinds[c.kind]);
	if (c.uid != NULL) {
		json_object_set_new(rq.caller, "uid", json_string(c.uid));
	}
	if (c.sid != NULL) {
		json_object_set_new(rq.caller, "sid", json_string(c.sid));
	}
	if (c.imp) {
		json_object_set_new(rq.caller, "imp", json_true());
	}
	rq.params =
	    params != NULL ? json_loads(params, 0, NULL) : json_object();
	rq.query = query != NULL ? json_loads(query, 0, NULL) : json_object();
	rq.body  = json_loads(body != NULL ? body : "{}", 0, NULL);
	assert_non_null(rq.params);
	assert_non_null(rq.query);
	assert_non_null(rq.body);
	rv = fn(&fx->w, &rq, rp);
	lc_req_fini(&rq);
	if (rv != 0 && rp->status == 0) {
		lc_rep_error(rp, rv, NULL, NULL);
	}
	return (rv);
}

static void
expect_err(struct lc_rep *rp, int status, const char *code)
{
	assert_int_equal(rp->status, status);
	assert_string_equal(
	    json_string_value(json_object_get(rp->body, "code")), code);
}

// The payload of the n-th effect of topic in rp (borrowed), or NULL.
static json_t *
effect(const struct lc_rep *rp, int topic, size_t n)
{
	size_t  i;
	json_t *e;

	json_array_foreach(rp->fx, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "t")),
		        lc_topic_name(topic)) == 0 &&
		    n-- == 0) {
			return (json_object_get(e, "p"));
		}
	}
	return (NULL);
}

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

// A registered user's AuthResult (new reference).
static json_t *
reg(struct fx *fx, const char *email)
{
	struct lc_rep rp;
	char          body[256];
	json_t       *r;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, PW);
	assert_int_equal(
	    call(fx, auth_h_register, ANON, body, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 201);
	r = json_incref(rp.body);
	lc_rep_fini(&rp);
	return (r);
}

static json_t *
login(struct fx *fx, const char *email)
{
	struct lc_rep rp;
	char          body[256];
	json_t       *r;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, PW);
	assert_int_equal(
	    call(fx, auth_h_login, ANON, body, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	r = json_incref(rp.body);
	lc_rep_fini(&rp);
	return (r);
}

static const char *
sget(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static const char *
uid_of(const json_t *ar)
{
	return (sget(json_object_get(ar, "user"), "id"));
}

// The verified claims of a token (new reference).
static json_t *
claims_of(const char *tok)
{
	json_t *c = NULL;

	assert_int_equal(lc_jwt_verify(tok, strlen(tok), test_secret_key,
	                     sizeof(test_secret_key), lc_now_ms() / 1000, &c),
	    0);
	return (c);
}

static json_t *
refresh(struct fx *fx, const char *rt, int *status, struct lc_rep *rp)
{
	json_t *b = json_pack("{s:s}", "refresh_token", rt);
	char   *s = json_dumps(b, JSON_COMPACT);

	(void) call(fx, auth_h_refresh, ANON, s, NULL, NULL, rp);
	*status = rp->status;
	free(s);
	json_decref(b);
	return (rp->body);
}

/* ---- tests ---- */

static void
test_access_token(void **state)
{
	struct fx  *fx  = *state;
	json_t     *ar  = reg(fx, "Alice@Example.com");
	json_t     *c   = claims_of(sget(ar, "access_token"));
	const char *rt  = sget(ar, "refresh_token");
	const char *sid = sget(c, "sid");
	const char *k;
	json_t     *v;
	size_t      n = 0;

	// exactly these claims
	json_object_foreach(c, k, v)
	{
		assert_non_null(strstr(",sub,email,roles,sid,iat,exp,", k));
		n++;
	}
	assert_int_equal(n, 6);
	assert_string_equal(sget(c, "sub"), uid_of(ar));
	assert_string_equal(sget(c, "email"), "alice@example.com");
	assert_true(json_is_array(json_object_get(c, "roles")));
	assert_true(lc_ulid_valid(sid, strlen(sid)));
	assert_int_equal(json_integer_value(json_object_get(c, "exp")) -
	        json_integer_value(json_object_get(c, "iat")),
	    900);
	assert_int_equal(
	    json_integer_value(json_object_get(ar, "expires_in")), 900);
	// the refresh token: opaque URL-safe ASCII, at most 256
	assert_true(strlen(rt) >= 43 && strlen(rt) <= 256);
	assert_int_equal(strspn(rt,
	                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
	                     "wxyz0123456789-_"),
	    strlen(rt));
	// the session row, with ip and user agent
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM sessions WHERE id = ?1 AND "
	                     "ip = '203.0.113.7' AND user_agent = 'unit/1.0' "
	                     "AND expires_at = last_used_at + 30 * 86400000",
	                     sid),
	    1);
	// no secret in the clear: only hashes are stored
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM refresh_tokens WHERE "
	                     "length(hash) = 32 AND current = 1",
	                     NULL),
	    1);
	// the TTL setting at issue time
	settings_set("access_token_ttl_seconds", json_integer(60));
	json_decref(c);
	json_decref(ar);
	ar = login(fx, "alice@example.com");
	c  = claims_of(sget(ar, "access_token"));
	assert_int_equal(json_integer_value(json_object_get(c, "exp")) -
	        json_integer_value(json_object_get(c, "iat")),
	    60);
	assert_int_equal(
	    json_integer_value(json_object_get(ar, "expires_in")), 60);
	json_decref(c);
	json_decref(ar);
}

static void
test_session_active_effect(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	json_t       *p;
	json_t       *u;

	assert_int_equal(
	    call(fx, auth_h_register, ANON,
	        "{\"email\":\"bob@example.com\",\"password\":\"" PW "\"}",
	        NULL, NULL, &rp),
	    0);
	p = effect(&rp, LC_TOPIC_SESS_ACTIVE, 0);
	assert_non_null(p);
	assert_string_equal(sget(p, "uid"), uid_of(rp.body));
	assert_true(lc_ulid_valid(sget(p, "sid"), 26));
	u = json_object_get(p, "user");
	assert_string_equal(sget(u, "email"), "bob@example.com");
	assert_true(json_is_array(json_object_get(u, "roles")));
	assert_true(json_is_false(json_object_get(u, "verified")));
	assert_string_equal(sget(u, "cut"), "");
	lc_rep_fini(&rp);
}

static void
test_rotation_and_reuse(void **state)
{
	struct fx    *fx    = *state;
	json_t       *a     = reg(fx, "carol@example.com");
	json_t       *other = login(fx, "carol@example.com");
	struct lc_rep rb;
	struct lc_rep rc;
	struct lc_rep rp;
	json_t       *ca = claims_of(sget(a, "access_token"));
	json_t       *cb;
	json_t       *p;
	const char   *sid = sget(ca, "sid");
	int64_t       lu0;
	int           st;

	lu0 =
	    q_int(fx, "SELECT last_used_at FROM sessions WHERE id = ?1", sid);
	usleep(5000);
	refresh(fx, sget(a, "refresh_token"), &st, &rb);
	assert_int_equal(st, 200);
	assert_string_not_equal(
	    sget(rb.body, "refresh_token"), sget(a, "refresh_token"));
	cb = claims_of(sget(rb.body, "access_token"));
	assert_string_equal(sget(cb, "sid"), sid); // same session
	assert_string_equal(uid_of(rb.body), uid_of(a));
	assert_true(
	    q_int(fx, "SELECT last_used_at FROM sessions WHERE id = ?1", sid) >
	    lu0);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM sessions WHERE id = ?1 AND "
	                     "expires_at = last_used_at + 30 * 86400000",
	                     sid),
	    1);
	refresh(fx, sget(rb.body, "refresh_token"), &st, &rc);
	assert_int_equal(st, 200);
	// a, two generations back: the session is revoked, and that sticks
	refresh(fx, sget(a, "refresh_token"), &st, &rp);
	expect_err(&rp, 401, "refresh_token_reused");
	p = effect(&rp, LC_TOPIC_SESS_REVOKED, 0);
	assert_non_null(p);
	assert_string_equal(sget(p, "reason"), "session_revoked");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(p, "sids"), 0)),
	    sid);
	assert_null(json_object_get(p, "cut"));
	lc_rep_fini(&rp);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM sessions WHERE id = ?1", sid), 0);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM refresh_tokens WHERE "
	                     "session_id = ?1",
	                     sid),
	    0);
	// the newest token of the revoked session and the older ones: unknown
	refresh(fx, sget(rc.body, "refresh_token"), &st, &rp);
	expect_err(&rp, 401, "invalid_refresh_token");
	assert_null(rp.fx);
	lc_rep_fini(&rp);
	refresh(fx, sget(a, "refresh_token"), &st, &rp);
	expect_err(&rp, 401, "invalid_refresh_token");
	lc_rep_fini(&rp);
	// the other session is untouched
	refresh(fx, sget(other, "refresh_token"), &st, &rp);
	assert_int_equal(st, 200);
	lc_rep_fini(&rp);
	lc_rep_fini(&rb);
	lc_rep_fini(&rc);
	json_decref(ca);
	json_decref(cb);
	json_decref(a);
	json_decref(other);
}

static void
test_refresh_invalid(void **state)
{
	static const char *bad_body[] = { "{}", "{\"refresh_token\":5}",
		"{\"refresh_token\":null}", "{\"refresh_token\":[\"x\"]}",
		"{\"refresh_token\":{\"a\":1}}", "{\"refresh_token\":true}" };
	struct fx         *fx         = *state;
	json_t            *a          = reg(fx, "dave@example.com");
	struct lc_rep      rp;
	char               big[400];
	char               tok[80];
	int                st;

	for (size_t i = 0; i < LC_NELEM(bad_body); i++) {
		call(fx, auth_h_refresh, ANON, bad_body[i], NULL, NULL, &rp);
		expect_err(&rp, 400, "validation_error");
		assert_string_equal(sget(rp.body, "field"), "refresh_token");
		lc_rep_fini(&rp);
	}
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(tok, sizeof(tok), "%sx", sget(a, "refresh_token"));
	const char *unknown[] = { "x", big, tok, "bb_0123456789" };
	for (size_t i = 0; i < LC_NELEM(unknown); i++) {
		refresh(fx, unknown[i], &st, &rp);
		expect_err(&rp, 401, "invalid_refresh_token");
		lc_rep_fini(&rp);
	}
	refresh(fx, "", &st, &rp);
	expect_err(&rp, 401, "invalid_refresh_token");
	lc_rep_fini(&rp);
	refresh(fx, sget(a, "access_token"), &st, &rp);
	expect_err(&rp, 401, "invalid_refresh_token");
	lc_rep_fini(&rp);
	// an expired session: invalid, and nothing is revoked or rotated
	exec(fx, "UPDATE sessions SET expires_at = 1");
	refresh(fx, sget(a, "refresh_token"), &st, &rp);
	expect_err(&rp, 401, "invalid_refresh_token");
	assert_null(rp.fx);
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 1);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM refresh_tokens WHERE "
	                     "current = 1",
	                     NULL),
	    1);
	// switches and lockout do not apply to refresh
	exec(fx, "UPDATE sessions SET expires_at = 9000000000000");
	settings_set("auth_password_enabled", json_false());
	refresh(fx, sget(a, "refresh_token"), &st, &rp);
	assert_int_equal(st, 200);
	lc_rep_fini(&rp);
	json_decref(a);
}

static void
test_logout(void **state)
{
	struct fx    *fx  = *state;
	json_t       *a   = reg(fx, "erin@example.com");
	json_t       *b   = login(fx, "erin@example.com");
	json_t       *ca  = claims_of(sget(a, "access_token"));
	struct caller key = { LC_CALLER_APIKEY, uid_of(a), NULL, 0 };
	struct caller imp = { LC_CALLER_USER, uid_of(a), NULL, 1 };
	struct caller usr = { LC_CALLER_USER, uid_of(a), sget(ca, "sid"), 0 };
	struct lc_rep rp;
	json_t       *p;
	int           st;

	call(fx, auth_h_logout, key, NULL, NULL, NULL, &rp);
	expect_err(&rp, 400, "session_required");
	lc_rep_fini(&rp);
	call(fx, auth_h_logout, imp, NULL, NULL, NULL, &rp);
	expect_err(&rp, 400, "session_required");
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 2);
	assert_int_equal(
	    call(fx, auth_h_logout, usr, NULL, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_true(json_object_get(rp.body, "ok")));
	p = effect(&rp, LC_TOPIC_SESS_REVOKED, 0);
	assert_string_equal(sget(p, "reason"), "logout");
	assert_string_equal(sget(p, "uid"), uid_of(a));
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 1);
	refresh(fx, sget(a, "refresh_token"), &st, &rp);
	expect_err(&rp, 401, "invalid_refresh_token");
	lc_rep_fini(&rp);
	refresh(fx, sget(b, "refresh_token"), &st, &rp);
	assert_int_equal(st, 200);
	lc_rep_fini(&rp);
	json_decref(ca);
	json_decref(a);
	json_decref(b);
}

static void
test_logout_all_and_impersonation(void **state)
{
	struct fx    *fx = *state;
	json_t       *a  = reg(fx, "frank@example.com");
	json_t       *b  = login(fx, "frank@example.com");
	json_t       *c;
	struct caller key = { LC_CALLER_APIKEY, uid_of(a), NULL, 0 };
	struct lc_rep rp;
	struct lc_rep ri;
	char          params[64];
	char          body[128];
	const char   *k;
	json_t       *v;
	json_t       *p;
	size_t        n = 0;
	int           st;

	// impersonation: sub, email, roles, iat, exp (+900), imp, jti
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", uid_of(a));
	assert_int_equal(
	    call(fx, auth_h_users_impersonate, ADMIN, NULL, NULL, params, &ri),
	    0);
	assert_int_equal(ri.status, 200);
	assert_int_equal(
	    json_integer_value(json_object_get(ri.body, "expires_in")), 900);
	assert_null(json_object_get(ri.body, "refresh_token"));
	assert_string_equal(
	    sget(json_object_get(ri.body, "user"), "id"), uid_of(a));
	c = claims_of(sget(ri.body, "access_token"));
	json_object_foreach(c, k, v)
	{
		assert_non_null(
		    strstr(",sub,email,roles,iat,exp,imp,jti,", k));
		n++;
	}
	assert_int_equal(n, 7);
	assert_null(json_object_get(c, "sid"));
	assert_true(json_is_true(json_object_get(c, "imp")));
	assert_int_equal(json_integer_value(json_object_get(c, "exp")) -
	        json_integer_value(json_object_get(c, "iat")),
	    900);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 2);
	// session_check with the jti: fine until logout-all
	snprintf(body, sizeof(body), "{\"uid\":\"%s\",\"jti\":\"%s\"}",
	    uid_of(a), sget(c, "jti"));
	assert_int_equal(
	    call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp), 0);
	assert_string_equal(sget(rp.body, "uid"), uid_of(a));
	assert_string_equal(sget(rp.body, "email"), "frank@example.com");
	lc_rep_fini(&rp);
	// an API key to revoke as well
	exec(fx,
	    "INSERT INTO api_keys (id, user_id, name, prefix, hash, "
	    "created_at) SELECT '01HV0000000000000000000001', id, 'k', "
	    "'bb_x', randomblob(32), 1 FROM users");
	assert_int_equal(
	    call(fx, auth_h_logout_all, key, NULL, NULL, NULL, &rp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "sessions_revoked")),
	    2);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "api_keys_revoked")),
	    1);
	p = effect(&rp, LC_TOPIC_SESS_REVOKED, 0);
	assert_string_equal(sget(p, "reason"), "logout_all");
	assert_int_equal(json_array_size(json_object_get(p, "sids")), 2);
	assert_true(lc_ulid_valid(sget(p, "cut"), 26));
	assert_true(strcmp(sget(c, "jti"), sget(p, "cut")) < 0);
	assert_non_null(effect(&rp, LC_TOPIC_APIKEY_REVOKED, 0));
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM api_keys", NULL), 0);
	refresh(fx, sget(b, "refresh_token"), &st, &rp);
	expect_err(&rp, 401, "invalid_refresh_token");
	lc_rep_fini(&rp);
	// the impersonation token was issued before the cut
	call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp);
	expect_err(&rp, 401, "session_revoked");
	lc_rep_fini(&rp);
	// a new one works; with a deleted user: invalid_token
	json_decref(c);
	lc_rep_fini(&ri);
	assert_int_equal(
	    call(fx, auth_h_users_impersonate, ADMIN, NULL, NULL, params, &ri),
	    0);
	c = claims_of(sget(ri.body, "access_token"));
	snprintf(body, sizeof(body), "{\"uid\":\"%s\",\"jti\":\"%s\"}",
	    uid_of(a), sget(c, "jti"));
	assert_int_equal(
	    call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp), 0);
	lc_rep_fini(&rp);
	assert_int_equal(
	    call(fx, auth_h_users_delete, ADMIN, NULL, NULL, params, &rp), 0);
	lc_rep_fini(&rp);
	call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp);
	expect_err(&rp, 401, "invalid_token");
	lc_rep_fini(&rp);
	// logout-all of a user that is gone
	call(fx, auth_h_logout_all, key, NULL, NULL, NULL, &rp);
	expect_err(&rp, 401, "invalid_api_key");
	lc_rep_fini(&rp);
	// impersonating a missing or malformed id
	call(fx, auth_h_users_impersonate, ADMIN, NULL, NULL, params, &rp);
	expect_err(&rp, 404, "not_found");
	lc_rep_fini(&rp);
	call(fx, auth_h_users_impersonate, ADMIN, NULL, NULL,
	    "{\"id\":\"nope\"}", &rp);
	expect_err(&rp, 404, "not_found");
	lc_rep_fini(&rp);
	json_decref(c);
	lc_rep_fini(&ri);
	json_decref(a);
	json_decref(b);
}

static void
test_single_session(void **state)
{
	struct fx    *fx = *state;
	json_t       *a  = reg(fx, "gina@example.com");
	json_t       *b;
	struct lc_rep rp;
	json_t       *p;
	int           st;

	settings_set("single_session_mode", json_true());
	assert_int_equal(
	    call(fx, auth_h_login, ANON,
	        "{\"email\":\"gina@example.com\",\"password\":\"" PW "\"}",
	        NULL, NULL, &rp),
	    0);
	p = effect(&rp, LC_TOPIC_SESS_REVOKED, 0);
	assert_non_null(p);
	assert_string_equal(sget(p, "reason"), "single_session");
	assert_non_null(effect(&rp, LC_TOPIC_SESS_ACTIVE, 0));
	b = json_incref(rp.body);
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 1);
	refresh(fx, sget(a, "refresh_token"), &st, &rp);
	expect_err(&rp, 401, "invalid_refresh_token");
	lc_rep_fini(&rp);
	refresh(fx, sget(b, "refresh_token"), &st, &rp);
	assert_int_equal(st, 200);
	lc_rep_fini(&rp);
	json_decref(a);
	json_decref(b);
}

static void
test_session_check(void **state)
{
	struct fx    *fx  = *state;
	json_t       *a   = reg(fx, "hank@example.com");
	json_t       *c   = claims_of(sget(a, "access_token"));
	struct caller usr = { LC_CALLER_USER, uid_of(a), sget(c, "sid"), 0 };
	struct lc_rep rp;
	char          body[160];

	snprintf(body, sizeof(body), "{\"uid\":\"%s\",\"sid\":\"%s\"}",
	    uid_of(a), sget(c, "sid"));
	assert_int_equal(
	    call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_string_equal(sget(rp.body, "uid"), uid_of(a));
	assert_string_equal(sget(rp.body, "email"), "hank@example.com");
	assert_true(json_is_array(json_object_get(rp.body, "roles")));
	assert_true(json_is_false(json_object_get(rp.body, "verified")));
	lc_rep_fini(&rp);
	// only the gateway (a service caller) may ask
	call(fx, auth_h_session_check, usr, body, NULL, NULL, &rp);
	expect_err(&rp, 403, "forbidden");
	lc_rep_fini(&rp);
	// the session of another user, an unknown one: session_revoked
	snprintf(body, sizeof(body), "{\"uid\":\"%s\",\"sid\":\"%s\"}",
	    "01HV0000000000000000000000", sget(c, "sid"));
	call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp);
	expect_err(&rp, 401, "session_revoked");
	lc_rep_fini(&rp);
	snprintf(body, sizeof(body), "{\"uid\":\"%s\",\"sid\":\"%s\"}",
	    uid_of(a), "01HV0000000000000000000000");
	call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp);
	expect_err(&rp, 401, "session_revoked");
	lc_rep_fini(&rp);
	// malformed claims
	call(
	    fx, auth_h_session_check, SERVICE, "{\"uid\":5}", NULL, NULL, &rp);
	expect_err(&rp, 401, "invalid_token");
	lc_rep_fini(&rp);
	snprintf(
	    body, sizeof(body), "{\"uid\":\"%s\",\"jti\":\"x\"}", uid_of(a));
	call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp);
	expect_err(&rp, 401, "invalid_token");
	lc_rep_fini(&rp);
	// expired
	exec(fx, "UPDATE sessions SET expires_at = 1");
	snprintf(body, sizeof(body), "{\"uid\":\"%s\",\"sid\":\"%s\"}",
	    uid_of(a), sget(c, "sid"));
	call(fx, auth_h_session_check, SERVICE, body, NULL, NULL, &rp);
	expect_err(&rp, 401, "session_revoked");
	lc_rep_fini(&rp);
	json_decref(c);
	json_decref(a);
}

static void
test_snapshot(void **state)
{
	struct fx    *fx = *state;
	json_t       *a  = reg(fx, "ivy@example.com");
	json_t       *b  = reg(fx, "jack@example.com");
	json_t       *c  = reg(fx, "kate@example.com");
	struct lc_rep rp;
	json_t       *users;
	json_t       *sess;
	char          sql[200];

	json_decref(login(fx, "ivy@example.com"));
	json_decref(login(fx, "ivy@example.com"));
	snprintf(sql, sizeof(sql), "DELETE FROM sessions WHERE user_id = '%s'",
	    uid_of(b));
	exec(fx, sql);
	snprintf(sql, sizeof(sql),
	    "UPDATE sessions SET expires_at = 1 WHERE user_id = '%s'",
	    uid_of(c));
	exec(fx, sql);
	call(fx, auth_h_sessions_snapshot, ADMIN, NULL, NULL, NULL, &rp);
	expect_err(&rp, 403, "forbidden");
	lc_rep_fini(&rp);
	assert_int_equal(
	    call(fx, auth_h_sessions_snapshot, SERVICE, NULL, NULL, NULL, &rp),
	    0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "seq")), 0);
	assert_string_equal(sget(rp.body, "src"), "");
	users = json_object_get(rp.body, "users");
	sess  = json_object_get(rp.body, "sessions");
	// only users with live sessions, and only live sessions
	assert_int_equal(json_array_size(users), 1);
	assert_string_equal(sget(json_array_get(users, 0), "uid"), uid_of(a));
	assert_string_equal(
	    sget(json_array_get(users, 0), "email"), "ivy@example.com");
	assert_non_null(json_object_get(json_array_get(users, 0), "roles"));
	assert_non_null(json_object_get(json_array_get(users, 0), "verified"));
	assert_string_equal(sget(json_array_get(users, 0), "cut"), "");
	assert_int_equal(json_array_size(sess), 3);
	assert_string_equal(sget(json_array_get(sess, 1), "uid"), uid_of(a));
	assert_true(lc_ulid_valid(sget(json_array_get(sess, 1), "sid"), 26));
	lc_rep_fini(&rp);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void
test_admin_sessions(void **state)
{
	struct fx    *fx = *state;
	json_t       *a  = reg(fx, "liam@example.com");
	json_t       *b  = reg(fx, "mia@example.com");
	json_t       *ca = claims_of(sget(a, "access_token"));
	json_t       *cb = claims_of(sget(b, "access_token"));
	json_t       *items;
	json_t       *s;
	json_t       *p;
	struct lc_rep rp;
	char          q[128];
	char          params[64];
	const char   *k;
	json_t       *v;
	size_t        n = 0;

	json_decref(login(fx, "liam@example.com"));
	// newest first, the Session object of §2.3
	assert_int_equal(
	    call(fx, auth_h_sessions_list, ADMIN, NULL, NULL, NULL, &rp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "page")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "limit")), 50);
	items = json_object_get(rp.body, "items");
	assert_int_equal(json_array_size(items), 3);
	s = json_array_get(items, 0);
	json_object_foreach(s, k, v)
	{
		assert_non_null(strstr(",id,user_id,created_at,last_used_at,"
		                       "expires_at,ip,user_agent,",
		    k));
		n++;
	}
	assert_int_equal(n, 7);
	assert_string_equal(sget(s, "user_id"), uid_of(a));
	assert_string_equal(sget(s, "ip"), "203.0.113.7");
	assert_string_equal(sget(s, "user_agent"), "unit/1.0");
	assert_string_equal(
	    sget(json_array_get(items, 1), "id"), sget(cb, "sid"));
	assert_string_equal(
	    sget(json_array_get(items, 2), "id"), sget(ca, "sid"));
	lc_rep_fini(&rp);
	// pages, the user_id filter, bad queries
	assert_int_equal(call(fx, auth_h_sessions_list, ADMIN, NULL,
	                     "{\"limit\":\"2\",\"page\":\"2\"}", NULL, &rp),
	    0);
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "items")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 3);
	lc_rep_fini(&rp);
	snprintf(q, sizeof(q), "{\"user_id\":\"%s\",\"limit\":\"9999\"}",
	    uid_of(a));
	assert_int_equal(
	    call(fx, auth_h_sessions_list, ADMIN, NULL, q, NULL, &rp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "limit")), 500);
	lc_rep_fini(&rp);
	for (const char *bq = "{\"limit\":\"0\"}\0{\"limit\":\"x\"}\0"
	                      "{\"page\":\"0\"}\0{\"page\":\"-1\"}\0"
	                      "{\"page\":\"1.5\"}\0{\"limit\":\"\"}\0";
	     *bq != '\0'; bq += strlen(bq) + 1) {
		call(fx, auth_h_sessions_list, ADMIN, NULL, bq, NULL, &rp);
		expect_err(&rp, 400, "invalid_query");
		assert_string_equal(sget(rp.body, "field"),
		    strstr(bq, "limit") != NULL ? "limit" : "page");
		lc_rep_fini(&rp);
	}
	// a huge page is past the end
	assert_int_equal(
	    call(fx, auth_h_sessions_list, ADMIN, NULL,
	        "{\"page\":\"99999999999999999999999\"}", NULL, &rp),
	    0);
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "items")), 0);
	lc_rep_fini(&rp);
	// a user caller is refused (the gateway would have said so)
	call(fx, auth_h_sessions_list,
	    (struct caller) { LC_CALLER_USER, uid_of(a), sget(ca, "sid"), 0 },
	    NULL, NULL, NULL, &rp);
	expect_err(&rp, 403, "admin_required");
	lc_rep_fini(&rp);
	// delete: bad id and unknown id 404; a real one revokes
	call(fx, auth_h_sessions_delete, ADMIN, NULL, NULL, "{\"id\":\"zz\"}",
	    &rp);
	expect_err(&rp, 404, "not_found");
	lc_rep_fini(&rp);
	call(fx, auth_h_sessions_delete, ADMIN, NULL, NULL,
	    "{\"id\":\"01HV0000000000000000000000\"}", &rp);
	expect_err(&rp, 404, "not_found");
	lc_rep_fini(&rp);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", sget(cb, "sid"));
	assert_int_equal(
	    call(fx, auth_h_sessions_delete, ADMIN, NULL, NULL, params, &rp),
	    0);
	p = effect(&rp, LC_TOPIC_SESS_REVOKED, 0);
	assert_string_equal(sget(p, "reason"), "session_revoked");
	assert_string_equal(sget(p, "uid"), uid_of(b));
	lc_rep_fini(&rp);
	call(fx, auth_h_sessions_delete, ADMIN, NULL, NULL, params, &rp);
	expect_err(&rp, 404, "not_found");
	lc_rep_fini(&rp);
	// purge: only expired ones
	exec(fx,
	    "UPDATE sessions SET expires_at = 5 WHERE id = "
	    "(SELECT min(id) FROM sessions)");
	assert_int_equal(
	    call(fx, auth_h_sessions_purge, ADMIN, NULL, NULL, NULL, &rp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "purged")), 1);
	p = effect(&rp, LC_TOPIC_SESS_REVOKED, 0);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(p, "sids"), 0)),
	    sget(ca, "sid"));
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 1);
	assert_int_equal(
	    call(fx, auth_h_sessions_purge, ADMIN, NULL, NULL, NULL, &rp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "purged")), 0);
	assert_null(rp.fx);
	lc_rep_fini(&rp);
	json_decref(ca);
	json_decref(cb);
	json_decref(a);
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_access_token, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_session_active_effect, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rotation_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_refresh_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logout, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_logout_all_and_impersonation, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_single_session, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_session_check, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_admin_sessions, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
