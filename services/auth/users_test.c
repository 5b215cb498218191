/*
 * users_test.c -- users.c and lockout.c against a real auth.db:
 * register (switches, validation in the order of §2.10, 409, defaults),
 * login (the exact 401 message on every failing path, 2FA challenge,
 * lockout: a sequence, Retry-After, expiry, and a parallel burst from
 * several workers that gives exactly lockout_max_attempts 401s), /auth/me
 * (get, metadata replace rules, delete with its events), and the admin
 * users API (list order, pages, search with LIKE wildcards taken
 * literally, PATCH rules, roles, delete), plus hostile bodies that must
 * change nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
// cmocka needs the four above first
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_msg.h"
#include "lc_settings.h"

#define PW "correct horse battery"

/* ---- fixture: fixture_test.h ---- */

#include "fixture_test.h"

struct caller {
	int         kind; // LC_CALLER_*
	const char *uid;
};

static const struct caller ANON  = { LC_CALLER_ANON, NULL };
static const struct caller ADMIN = { LC_CALLER_ADMIN, NULL };

static int
call_on(struct lc_worker *w, lc_handler_fn fn, struct caller c, json_t *body,
    const char *query, const char *params, struct lc_rep *rp)
{
	static const char *const kinds[] = { "anon", "user", "apikey", "admin",
		"service" };
	struct lc_req            rq;
	int                      rv;

	lc_req_init(&rq);
	lc_rep_init(rp);
	snprintf(rq.ip, sizeof(rq.ip), "198.51.100.4");
	rq.caller_kind = c.kind;
	rq.caller      = json_pack("{s:s}", "kind", kinds[c.kind]);
	if (c.uid != NULL) {
		json_object_set_new(rq.caller, "uid", json_string(c.uid));
		json_object_set_new(rq.caller, "sid",
		    json_string("01HV0000000000000000000000"));
	}
	rq.params =
	    params != NULL ? json_loads(params, 0, NULL) : json_object();
	rq.query = query != NULL ? json_loads(query, 0, NULL) : json_object();
	rq.body  = body != NULL ? body : json_object();
	assert_non_null(rq.params);
	assert_non_null(rq.query);
	rv = fn(w, &rq, rp);
	lc_req_fini(&rq);
	if (rv != 0 && rp->status == 0) {
		lc_rep_error(rp, rv, NULL, NULL);
	}
	return (rv);
}

// body: JSON text or NULL ({}).
static int
call(struct fx *fx, lc_handler_fn fn, struct caller c, const char *body,
    const char *query, const char *params, struct lc_rep *rp)
{
	json_t *b = NULL;

	if (body != NULL) {
		b = json_loads(body, JSON_DECODE_ANY, NULL);
		assert_non_null(b);
	}
	return (call_on(&fx->w, fn, c, b, query, params, rp));
}

static const char *
sget(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static void
expect_err(struct lc_rep *rp, int status, const char *code, const char *field)
{
	assert_int_equal(rp->status, status);
	assert_string_equal(sget(rp->body, "code"), code);
	if (field != NULL) {
		assert_non_null(sget(rp->body, "field"));
		assert_string_equal(sget(rp->body, "field"), field);
	}
	lc_rep_fini(rp);
}

static int
has_effect(const struct lc_rep *rp, int topic)
{
	size_t  i;
	json_t *e;

	json_array_foreach(rp->fx, i, e)
	{
		if (strcmp(sget(e, "t"), lc_topic_name(topic)) == 0) {
			return (1);
		}
	}
	return (0);
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

static char *
creds(const char *email, const char *pw)
{
	json_t *j = json_pack("{s:s,s:s}", "email", email, "password", pw);
	char   *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return (s);
}

// Registers email; its id into out.
static void
reg(struct fx *fx, const char *email, char out[AUTH_ID_LEN + 1])
{
	struct lc_rep rp;
	char         *b = creds(email, PW);

	assert_int_equal(
	    call(fx, auth_h_register, ANON, b, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 201);
	snprintf(out, AUTH_ID_LEN + 1, "%s",
	    sget(json_object_get(rp.body, "user"), "id"));
	lc_rep_fini(&rp);
	free(b);
}

// A login; returns the status and leaves rp for the caller to check.
static int
login(struct fx *fx, const char *email, const char *pw, struct lc_rep *rp)
{
	char *b = creds(email, pw);

	(void) call(fx, auth_h_login, ANON, b, NULL, NULL, rp);
	free(b);
	return (rp->status);
}

/* ---- register ---- */

static void
test_register(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	json_t       *u;
	char          big[70000];
	char          body[70100];
	char          id[AUTH_ID_LEN + 1];

	assert_int_equal(
	    call(fx, auth_h_register, ANON,
	        "{\"email\":\"  Zed@Example.COM \",\"password\":"
	        "\"" PW "\",\"metadata\":{\"display_name\":\"Z\"}}",
	        NULL, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 201);
	u = json_object_get(rp.body, "user");
	assert_string_equal(sget(u, "email"), "zed@example.com");
	assert_true(json_is_false(json_object_get(u, "is_verified")));
	assert_true(json_is_false(json_object_get(u, "totp_enabled")));
	assert_int_equal(json_array_size(json_object_get(u, "roles")), 0);
	assert_string_equal(
	    sget(json_object_get(u, "metadata"), "display_name"), "Z");
	assert_int_equal(json_integer_value(json_object_get(u, "created_at")),
	    json_integer_value(json_object_get(u, "updated_at")));
	assert_null(json_object_get(u, "pw_hash"));
	assert_int_equal(json_object_size(u), 8);
	lc_rep_fini(&rp);
	// 409 on the normalized address; metadata default {}
	call(fx, auth_h_register, ANON,
	    "{\"email\":\"ZED@example.com\",\"password\":\"" PW "\"}", NULL,
	    NULL, &rp);
	expect_err(&rp, 409, "email_taken", NULL);
	reg(fx, "yves@example.com", id);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM users WHERE id = ?1 AND "
	                     "metadata = '{}' AND pw_hash LIKE '$argon2id$%'",
	                     id),
	    1);
	// validation, field by field, in order
	call(fx, auth_h_register, ANON, "{}", NULL, NULL, &rp);
	expect_err(&rp, 400, "validation_error", "email");
	call(fx, auth_h_register, ANON, "{\"email\":5,\"password\":5}", NULL,
	    NULL, &rp);
	expect_err(&rp, 400, "validation_error", "email");
	call(fx, auth_h_register, ANON,
	    "{\"email\":\"a@b\",\"password\":\"" PW "\"}", NULL, NULL, &rp);
	expect_err(&rp, 400, "validation_error", "email");
	call(fx, auth_h_register, ANON, "{\"email\":\"new@example.com\"}",
	    NULL, NULL, &rp);
	expect_err(&rp, 400, "validation_error", "password");
	call(fx, auth_h_register, ANON,
	    "{\"email\":\"new@example.com\",\"password\":\"short\"}", NULL,
	    NULL, &rp);
	expect_err(&rp, 400, "validation_error", "password");
	call(fx, auth_h_register, ANON,
	    "{\"email\":\"new@example.com\",\"password\":[\"" PW "\"]}", NULL,
	    NULL, &rp);
	expect_err(&rp, 400, "validation_error", "password");
	call(fx, auth_h_register, ANON,
	    "{\"email\":\"new@example.com\",\"password\":\"" PW
	    "\",\"metadata\":[1]}",
	    NULL, NULL, &rp);
	expect_err(&rp, 400, "validation_error", "metadata");
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(body, sizeof(body),
	    "{\"email\":\"new@example.com\",\"password\":\"" PW
	    "\",\"metadata\":{\"k\":\"%s\"}}",
	    big);
	call(fx, auth_h_register, ANON, body, NULL, NULL, &rp);
	expect_err(&rp, 400, "validation_error", "metadata");
	// 409 comes after validation
	call(fx, auth_h_register, ANON,
	    "{\"email\":\"zed@example.com\",\"password\":\"x\"}", NULL, NULL,
	    &rp);
	expect_err(&rp, 400, "validation_error", "password");
	assert_int_equal(q_int(fx, "SELECT count(*) FROM users", NULL), 2);
	// switches come before validation
	settings_set("registration_open", json_false());
	call(fx, auth_h_register, ANON, "{}", NULL, NULL, &rp);
	expect_err(&rp, 403, "registration_closed", NULL);
	settings_set("auth_password_enabled", json_false());
	call(fx, auth_h_register, ANON, "{\"email\":5}", NULL, NULL, &rp);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM users", NULL), 2);
}

/* ---- login ---- */

static void
expect_bad_creds(struct lc_rep *rp)
{
	assert_int_equal(rp->status, 401);
	assert_string_equal(sget(rp->body, "code"), "invalid_credentials");
	assert_string_equal(
	    sget(rp->body, "error"), "Invalid email or password.");
	assert_null(json_object_get(rp->body, "field"));
	lc_rep_fini(rp);
}

static void
test_login(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          id[AUTH_ID_LEN + 1];
	char          pw129[140];

	reg(fx, "ann@example.com", id);
	assert_int_equal(login(fx, " ANN@example.com ", PW, &rp), 200);
	assert_non_null(sget(rp.body, "access_token"));
	assert_non_null(sget(rp.body, "refresh_token"));
	assert_string_equal(sget(json_object_get(rp.body, "user"), "id"), id);
	lc_rep_fini(&rp);
	login(fx, "ann@example.com", "wrong password", &rp);
	expect_bad_creds(&rp);
	login(fx, "nobody@example.com", PW, &rp);
	expect_bad_creds(&rp);
	login(fx, "not-an-email", PW, &rp);
	expect_bad_creds(&rp);
	login(fx, "", PW, &rp);
	expect_bad_creds(&rp);
	memset(pw129, 'p', 129);
	pw129[129] = '\0';
	login(fx, "ann@example.com", pw129, &rp);
	expect_bad_creds(&rp);
	// presence and type only
	call(fx, auth_h_login, ANON, "{\"password\":\"x\"}", NULL, NULL, &rp);
	expect_err(&rp, 400, "validation_error", "email");
	call(fx, auth_h_login, ANON, "{\"email\":\"a@b.c\"}", NULL, NULL, &rp);
	expect_err(&rp, 400, "validation_error", "password");
	call(fx, auth_h_login, ANON, "{\"email\":[],\"password\":1}", NULL,
	    NULL, &rp);
	expect_err(&rp, 400, "validation_error", "email");
	// an account without a password
	exec(fx, "UPDATE users SET pw_hash = NULL");
	login(fx, "ann@example.com", PW, &rp);
	expect_bad_creds(&rp);
	// no session was opened by any failure
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 2);
	settings_set("auth_password_enabled", json_false());
	call(fx, auth_h_login, ANON, "{}", NULL, NULL, &rp);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
}

static void
test_login_totp(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          id[AUTH_ID_LEN + 1];

	reg(fx, "tim@example.com", id);
	exec(fx,
	    "UPDATE users SET totp_enabled = 1, "
	    "totp_secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'");
	settings_set("lockout_max_attempts", json_integer(2));
	login(fx, "tim@example.com", "wrong password", &rp);
	expect_bad_creds(&rp);
	// a correct password: a challenge, no session, and the attempt is
	// not a failure (the one before still is)
	assert_int_equal(login(fx, "tim@example.com", PW, &rp), 200);
	assert_true(json_is_true(json_object_get(rp.body, "totp_required")));
	assert_non_null(sget(rp.body, "totp_token"));
	assert_null(json_object_get(rp.body, "access_token"));
	assert_null(json_object_get(rp.body, "user"));
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 1);
	assert_int_equal(q_int(fx, "SELECT failures FROM lockout", NULL), 1);
	// a second challenge at the limit's edge still works
	assert_int_equal(login(fx, "tim@example.com", PW, &rp), 200);
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT failures FROM lockout", NULL), 1);
}

static void
expect_locked(struct lc_rep *rp, int64_t max_s)
{
	const char *ra = sget(rp->headers, "Retry-After");
	long        s;

	assert_int_equal(rp->status, 429);
	assert_string_equal(sget(rp->body, "code"), "account_locked");
	assert_non_null(ra);
	s = strtol(ra, NULL, 10);
	assert_true(s >= 1 && s <= max_s);
	lc_rep_fini(rp);
}

static void
test_lockout_sequence(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          id[AUTH_ID_LEN + 1];

	reg(fx, "lou@example.com", id);
	settings_set("lockout_max_attempts", json_integer(3));
	settings_set("lockout_duration_ms", json_integer(1000));
	for (int i = 0; i < 3; i++) {
		login(fx, "LOU@example.com", "wrong password", &rp);
		expect_bad_creds(&rp); // the third still 401
	}
	login(fx, "lou@example.com", "wrong password", &rp);
	expect_locked(&rp, 1);
	login(fx, " lou@example.com", PW, &rp); // not even checked
	expect_locked(&rp, 1);
	// the lock is not extended by attempts while locked
	assert_int_equal(q_int(fx, "SELECT failures FROM lockout", NULL), 3);
	// other keys are free; unknown accounts are counted too
	login(fx, "other@example.com", "x", &rp);
	expect_bad_creds(&rp);
	assert_int_equal(q_int(fx,
	                     "SELECT failures FROM lockout WHERE email = "
	                     "'other@example.com'",
	                     NULL),
	    1);
	usleep(1100 * 1000);
	// expired: a success resets the counter
	assert_int_equal(login(fx, "lou@example.com", PW, &rp), 200);
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM lockout WHERE email = "
	                     "'lou@example.com'",
	                     NULL),
	    0);
	// lockout off: nothing stored
	settings_set("lockout_max_attempts", json_integer(0));
	for (int i = 0; i < 4; i++) {
		login(fx, "lou@example.com", "wrong password", &rp);
		expect_bad_creds(&rp);
	}
	assert_int_equal(login(fx, "lou@example.com", PW, &rp), 200);
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM lockout WHERE email = "
	                     "'lou@example.com'",
	                     NULL),
	    0);
}

struct burst {
	struct fx       *fx;
	struct lc_worker w;
	int              status;
	char             retry[16];
};

static void *
burst_main(void *arg)
{
	struct burst *b = arg;
	struct lc_rep rp;

	(void) call_on(&b->w, auth_h_login, ANON,
	    json_pack("{s:s,s:s}", "email", "pat@example.com", "password",
	        "wrong password"),
	    NULL, NULL, &rp);
	b->status = rp.status;
	if (sget(rp.headers, "Retry-After") != NULL) {
		snprintf(b->retry, sizeof(b->retry), "%s",
		    sget(rp.headers, "Retry-After"));
	}
	lc_rep_fini(&rp);
	return (NULL);
}

static void
test_lockout_burst(void **state)
{
	struct fx   *fx = *state;
	struct burst b[12];
	pthread_t    t[12];
	char         id[AUTH_ID_LEN + 1];
	int          n401 = 0;
	int          n429 = 0;

	reg(fx, "pat@example.com", id);
	settings_set("lockout_max_attempts", json_integer(4));
	settings_set("lockout_duration_ms", json_integer(60000));
	// Each thread is a worker with its own connection, as in the service.
	for (int i = 0; i < 12; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].fx    = fx;
		b[i].w.svc = &fx->svc;
		b[i].w.idx = i + 1;
		assert_int_equal(lc_db_open(fx->path, &b[i].w.db), 0);
		assert_int_equal(auth_db_open(&b[i].w), 0);
	}
	for (int i = 0; i < 12; i++) {
		assert_int_equal(
		    pthread_create(&t[i], NULL, burst_main, &b[i]), 0);
	}
	for (int i = 0; i < 12; i++) {
		pthread_join(t[i], NULL);
		n401 += b[i].status == 401;
		if (b[i].status == 429) {
			n429++;
			assert_true(
			    atoi(b[i].retry) >= 1 && atoi(b[i].retry) <= 60);
		}
		auth_db_close(&b[i].w);
		lc_db_close(b[i].w.db);
	}
	assert_int_equal(n401, 4);
	assert_int_equal(n429, 8);
}

/* ---- /auth/me ---- */

static void
test_me(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          id[AUTH_ID_LEN + 1];
	struct caller me;
	int64_t       t0;

	reg(fx, "meg@example.com", id);
	me = (struct caller) { LC_CALLER_USER, id };
	assert_int_equal(
	    call(fx, auth_h_me_get, me, NULL, NULL, NULL, &rp), 0);
	assert_string_equal(sget(rp.body, "email"), "meg@example.com");
	t0 = json_integer_value(json_object_get(rp.body, "updated_at"));
	lc_rep_fini(&rp);
	usleep(3000);
	// {"metadata": {...}} replaces; other keys are ignored
	assert_int_equal(call(fx, auth_h_me_update, me,
	                     "{\"metadata\":{\"a\":1},\"email\":\"x@y.z\"}",
	                     NULL, NULL, &rp),
	    0);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(rp.body, "metadata"), "a")),
	    1);
	assert_string_equal(sget(rp.body, "email"), "meg@example.com");
	assert_true(
	    json_integer_value(json_object_get(rp.body, "updated_at")) > t0);
	t0 = json_integer_value(json_object_get(rp.body, "updated_at"));
	lc_rep_fini(&rp);
	// the same metadata again: updated_at stays
	usleep(3000);
	call(fx, auth_h_me_update, me, "{\"metadata\":{\"a\":1}}", NULL, NULL,
	    &rp);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "updated_at")), t0);
	lc_rep_fini(&rp);
	// a body without the key is the metadata itself
	call(fx, auth_h_me_update, me, "{\"b\":[true]}", NULL, NULL, &rp);
	assert_int_equal(rp.status, 200);
	assert_non_null(
	    json_object_get(json_object_get(rp.body, "metadata"), "b"));
	assert_null(
	    json_object_get(json_object_get(rp.body, "metadata"), "a"));
	lc_rep_fini(&rp);
	for (const char *b = "{\"metadata\":5}\0{\"metadata\":null}\0"
	                     "{\"metadata\":[]}\0{\"metadata\":\"x\"}\0";
	     *b != '\0'; b += strlen(b) + 1) {
		call(fx, auth_h_me_update, me, b, NULL, NULL, &rp);
		expect_err(&rp, 400, "validation_error", "metadata");
	}
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM users WHERE metadata = "
	                     "'{\"b\":[true]}'",
	                     NULL),
	    1);
	// an admin is not a user
	call(fx, auth_h_me_get, ADMIN, NULL, NULL, NULL, &rp);
	expect_err(&rp, 403, "user_required", NULL);
	// delete: the user and everything it owns, with the events
	exec(fx,
	    "INSERT INTO api_keys (id, user_id, name, prefix, hash, "
	    "created_at) SELECT '01HV0000000000000000000001', id, 'k', "
	    "'bb_x', randomblob(32), 1 FROM users");
	assert_int_equal(
	    call(fx, auth_h_me_delete, me, NULL, NULL, NULL, &rp), 0);
	assert_true(json_is_true(json_object_get(rp.body, "ok")));
	assert_true(has_effect(&rp, LC_TOPIC_SESS_REVOKED));
	assert_true(has_effect(&rp, LC_TOPIC_APIKEY_REVOKED));
	assert_true(has_effect(&rp, LC_TOPIC_USER_DELETED));
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM users", NULL), 0);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 0);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM api_keys", NULL), 0);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM email_tokens", NULL), 0);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM refresh_tokens", NULL), 0);
	call(fx, auth_h_me_get, me, NULL, NULL, NULL, &rp);
	expect_err(&rp, 401, "session_revoked", NULL);
	// the address may register again
	reg(fx, "meg@example.com", id);
}

/* ---- admin ---- */

static void
test_admin_list(void **state)
{
	static const char *emails[] = { "a_1@example.com", "ab1@example.com",
		"c%d@example.com", "cxd@example.com", "BIG@Example.com" };
	struct fx         *fx       = *state;
	struct lc_rep      rp;
	char               ids[5][AUTH_ID_LEN + 1];
	json_t            *items;

	for (int i = 0; i < 5; i++) {
		reg(fx, emails[i], ids[i]);
	}
	assert_int_equal(
	    call(fx, auth_h_users_list, ADMIN, NULL, NULL, NULL, &rp), 0);
	items = json_object_get(rp.body, "items");
	assert_int_equal(json_array_size(items), 5);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 5);
	// newest first
	for (int i = 0; i < 5; i++) {
		assert_string_equal(
		    sget(json_array_get(items, (size_t) i), "id"), ids[4 - i]);
	}
	lc_rep_fini(&rp);
	call(fx, auth_h_users_list, ADMIN, NULL,
	    "{\"limit\":\"2\",\"page\":\"3\"}", NULL, &rp);
	items = json_object_get(rp.body, "items");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(sget(json_array_get(items, 0), "id"), ids[0]);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "page")), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "limit")), 2);
	lc_rep_fini(&rp);
	// search: case-insensitive substring; % and _ are plain characters
	call(fx, auth_h_users_list, ADMIN, NULL, "{\"search\":\"A_1\"}", NULL,
	    &rp);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 1);
	lc_rep_fini(&rp);
	call(fx, auth_h_users_list, ADMIN, NULL, "{\"search\":\"c%d\"}", NULL,
	    &rp);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 1);
	assert_string_equal(
	    sget(
	        json_array_get(json_object_get(rp.body, "items"), 0), "email"),
	    "c%d@example.com");
	lc_rep_fini(&rp);
	call(fx, auth_h_users_list, ADMIN, NULL, "{\"search\":\"big@\"}", NULL,
	    &rp);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 1);
	lc_rep_fini(&rp);
	call(fx, auth_h_users_list, ADMIN, NULL,
	    "{\"search\":\"EXAMPLE\",\"limit\":\"1\"}", NULL, &rp);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 5);
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "items")), 1);
	lc_rep_fini(&rp);
	call(fx, auth_h_users_list, ADMIN, NULL, "{\"search\":\"'; DROP\"}",
	    NULL, &rp);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 0);
	lc_rep_fini(&rp);
	call(fx, auth_h_users_list, ADMIN, NULL, "{\"limit\":\"abc\"}", NULL,
	    &rp);
	expect_err(&rp, 400, "invalid_query", "limit");
	call(
	    fx, auth_h_users_list, ADMIN, NULL, "{\"page\":\"0\"}", NULL, &rp);
	expect_err(&rp, 400, "invalid_query", "page");
	call(fx, auth_h_users_list, ANON, NULL, NULL, NULL, &rp);
	expect_err(&rp, 401, "auth_required", NULL);
}

static char *
params_of(const char *id)
{
	json_t *j = json_pack("{s:s}", "id", id);
	char   *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return (s);
}

static void
test_admin_update(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          id[AUTH_ID_LEN + 1];
	char          id2[AUTH_ID_LEN + 1];
	char         *pa;
	int64_t       t0;

	reg(fx, "olga@example.com", id);
	reg(fx, "pete@example.com", id2);
	pa = params_of(id);
	exec(fx, "UPDATE users SET is_verified = 1");
	t0 = q_int(fx, "SELECT updated_at FROM users WHERE id = ?1", id);
	usleep(3000);
	// a new e-mail: normalized, and unverified
	assert_int_equal(
	    call(fx, auth_h_users_update, ADMIN,
	        "{\"email\":\" OLGA2@Example.com\",\"x\":1}", NULL, pa, &rp),
	    0);
	assert_string_equal(sget(rp.body, "email"), "olga2@example.com");
	assert_true(json_is_false(json_object_get(rp.body, "is_verified")));
	assert_true(
	    json_integer_value(json_object_get(rp.body, "updated_at")) > t0);
	assert_true(has_effect(&rp, LC_TOPIC_USER_CHANGED));
	lc_rep_fini(&rp);
	// unless the same request sets it
	call(fx, auth_h_users_update, ADMIN,
	    "{\"email\":\"olga3@example.com\",\"is_verified\":true,"
	    "\"roles\":[\"a\",\"b\",\"a\"],\"metadata\":{\"m\":1}}",
	    NULL, pa, &rp);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_true(json_object_get(rp.body, "is_verified")));
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "roles")), 2);
	assert_non_null(
	    json_object_get(json_object_get(rp.body, "metadata"), "m"));
	t0 = json_integer_value(json_object_get(rp.body, "updated_at"));
	lc_rep_fini(&rp);
	// nothing different: updated_at stays, no event
	usleep(3000);
	call(fx, auth_h_users_update, ADMIN,
	    "{\"email\":\"OLGA3@example.com\",\"roles\":[\"a\",\"b\"]}", NULL,
	    pa, &rp);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "updated_at")), t0);
	assert_true(json_is_true(json_object_get(rp.body, "is_verified")));
	assert_false(has_effect(&rp, LC_TOPIC_USER_CHANGED));
	lc_rep_fini(&rp);
	// 409, and 400s with their fields; nothing changes
	call(fx, auth_h_users_update, ADMIN,
	    "{\"email\":\"PETE@example.com\"}", NULL, pa, &rp);
	expect_err(&rp, 409, "email_taken", NULL);
	call(fx, auth_h_users_update, ADMIN, "{\"email\":\"bad\"}", NULL, pa,
	    &rp);
	expect_err(&rp, 400, "validation_error", "email");
	call(
	    fx, auth_h_users_update, ADMIN, "{\"email\":null}", NULL, pa, &rp);
	expect_err(&rp, 400, "validation_error", "email");
	call(fx, auth_h_users_update, ADMIN, "{\"is_verified\":\"true\"}",
	    NULL, pa, &rp);
	expect_err(&rp, 400, "validation_error", "is_verified");
	call(fx, auth_h_users_update, ADMIN, "{\"roles\":[\"a b\"]}", NULL, pa,
	    &rp);
	expect_err(&rp, 400, "validation_error", "roles");
	call(fx, auth_h_users_update, ADMIN, "{\"metadata\":[]}", NULL, pa,
	    &rp);
	expect_err(&rp, 400, "validation_error", "metadata");
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM users WHERE email = "
	                     "'olga3@example.com' AND roles = '[\"a\",\"b\"]'",
	                     NULL),
	    1);
	// 404 before validation
	call(fx, auth_h_users_update, ADMIN, "{\"email\":\"bad\"}", NULL,
	    "{\"id\":\"01HV0000000000000000000000\"}", &rp);
	expect_err(&rp, 404, "not_found", NULL);
	call(fx, auth_h_users_update, ADMIN, "{}", NULL, "{\"id\":\"short\"}",
	    &rp);
	expect_err(&rp, 404, "not_found", NULL);
	// roles: required, replaces, dedups in order
	call(fx, auth_h_users_set_roles, ADMIN, "{}", NULL, pa, &rp);
	expect_err(&rp, 400, "validation_error", "roles");
	assert_int_equal(call(fx, auth_h_users_set_roles, ADMIN,
	                     "{\"roles\":[\"editor\",\"admin\",\"editor\"]}",
	                     NULL, pa, &rp),
	    0);
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(rp.body, "roles"), 0)),
	    "editor");
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "roles")), 2);
	assert_true(has_effect(&rp, LC_TOPIC_USER_CHANGED));
	lc_rep_fini(&rp);
	// get and delete
	assert_int_equal(
	    call(fx, auth_h_users_get, ADMIN, NULL, NULL, pa, &rp), 0);
	assert_string_equal(sget(rp.body, "id"), id);
	lc_rep_fini(&rp);
	assert_int_equal(
	    call(fx, auth_h_users_delete, ADMIN, NULL, NULL, pa, &rp), 0);
	assert_true(has_effect(&rp, LC_TOPIC_USER_DELETED));
	lc_rep_fini(&rp);
	call(fx, auth_h_users_get, ADMIN, NULL, NULL, pa, &rp);
	expect_err(&rp, 404, "not_found", NULL);
	call(fx, auth_h_users_delete, ADMIN, NULL, NULL, pa, &rp);
	expect_err(&rp, 404, "not_found", NULL);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM users", NULL), 1);
	free(pa);
}

static void
test_hostile(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          id[AUTH_ID_LEN + 1];
	char         *huge = malloc(1 << 20);
	json_t       *deep = json_object();
	json_t       *cur  = deep;
	char         *pa;

	assert_non_null(huge);
	memset(huge, 'A', (1 << 20) - 1);
	huge[(1 << 20) - 1] = '\0';
	reg(fx, "quin@example.com", id);
	pa = params_of(id);
	// a 1 MiB e-mail and password
	call_on(&fx->w, auth_h_register, ANON,
	    json_pack("{s:s,s:s}", "email", huge, "password", PW), NULL, NULL,
	    &rp);
	expect_err(&rp, 400, "validation_error", "email");
	call_on(&fx->w, auth_h_register, ANON,
	    json_pack("{s:s,s:s}", "email", "r@example.com", "password", huge),
	    NULL, NULL, &rp);
	expect_err(&rp, 400, "validation_error", "password");
	call_on(&fx->w, auth_h_login, ANON,
	    json_pack("{s:s,s:s}", "email", huge, "password", huge), NULL,
	    NULL, &rp);
	expect_bad_creds(&rp);
	// deep nesting within the size limit is fine as metadata, a huge
	// object is not
	for (int i = 0; i < 500; i++) {
		json_t *n = json_object();

		json_object_set_new(cur, "d", n);
		cur = n;
	}
	call_on(&fx->w, auth_h_users_update, ADMIN,
	    json_pack("{s:o}", "metadata", deep), NULL, pa, &rp);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	call_on(&fx->w, auth_h_users_update, ADMIN,
	    json_pack("{s:{s:s}}", "metadata", "k", huge), NULL, pa, &rp);
	expect_err(&rp, 400, "validation_error", "metadata");
	call_on(&fx->w, auth_h_users_set_roles, ADMIN,
	    json_pack("{s:[s]}", "roles", huge), NULL, pa, &rp);
	expect_err(&rp, 400, "validation_error", "roles");
	// SQL in values is data
	call(fx, auth_h_users_update, ADMIN,
	    "{\"metadata\":{\"q\":\"'); DROP TABLE users; --\"}}", NULL, pa,
	    &rp);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM users", NULL), 1);
	// the row is as the last good write left it
	assert_int_equal(
	    q_int(fx,
	        "SELECT count(*) FROM users WHERE roles = '[]' AND "
	        "email = 'quin@example.com'",
	        NULL),
	    1);
	free(pa);
	free(huge);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_login_totp, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lockout_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lockout_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_me, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_admin_list, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_admin_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
