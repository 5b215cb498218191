/*
 * emailflow_test.c -- e-mail token flows (emailflow.c, API.md §2.8,
 * §2.10) against a real auth.db under a temp dir: links, forgot/reset
 * password (no account -> same answer, no mail, no row left), verify,
 * resend, magic links (sign-in, sign-up, registration closed since the
 * link was sent, takeover of an unverified account, 2FA challenge),
 * single use, staleness, expiry, kinds, switches. Mails go through the
 * real mailer with the console provider into EMAIL_CONSOLE_FILE.
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
#include "lc_msg.h"
#include "lc_settings.h"

/* ---- fixture: fixture_test.h ---- */

#include "fixture_test.h"

// Runs a handler. caller: NULL (anonymous) or a uid (a user session);
// body and query are JSON texts or NULL. rp is initialised here.
static int
call(struct fx *fx, lc_handler_fn fn, const char *uid, const char *body,
    const char *query, struct lc_rep *rp)
{
	struct lc_req rq;
	int           rv;

	lc_req_init(&rq);
	lc_rep_init(rp);
	snprintf(rq.ip, sizeof(rq.ip), "203.0.113.7");
	snprintf(rq.ua, sizeof(rq.ua), "test/1");
	if (uid != NULL) {
		rq.caller_kind = LC_CALLER_USER;
		rq.caller = json_pack("{s:s,s:s,s:s}", "kind", "user", "uid",
		    uid, "sid", "01HV0000000000000000000000");
	} else {
		rq.caller_kind = LC_CALLER_ANON;
		rq.caller      = json_pack("{s:s}", "kind", "anon");
	}
	rq.params = json_object();
	rq.query  = query != NULL ? json_loads(query, 0, NULL) : json_object();
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

static const char *
field_of(const struct lc_rep *rp)
{
	return (json_string_value(json_object_get(rp->body, "field")));
}

// Checks an error reply (field: NULL when none is expected to matter).
static void
expect_err(
    const struct lc_rep *rp, int status, const char *code, const char *field)
{
	assert_int_equal(rp->status, status);
	assert_string_equal(code_of(rp), code);
	if (field != NULL) {
		assert_non_null(field_of(rp));
		assert_string_equal(field_of(rp), field);
	}
}

// Creates a user (pw: a password or NULL) and returns its id in out.
static void
mkuser(struct fx *fx, const char *email, const char *pw, int verified,
    char out[AUTH_ID_LEN + 1])
{
	struct auth_user u = { 0 };
	struct lc_rep    rp;
	char             hash[AUTH_PWHASH_STR];

	if (pw != NULL) {
		assert_int_equal(
		    auth_pw_hash(&fx->st, pw, strlen(pw), hash), 0);
	}
	lc_rep_init(&rp);
	assert_int_equal(auth_begin(&fx->w), 0);
	assert_int_equal(auth_user_create(&fx->w, email,
	                     pw != NULL ? hash : NULL, verified, NULL, &u),
	    0);
	assert_int_equal(auth_commit(&fx->w, &rp), 0);
	lc_rep_fini(&rp);
	snprintf(out, AUTH_ID_LEN + 1, "%s", u.id);
	auth_user_fini(&u);
}

// One integer from a query with one text parameter (-1: no row).
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
	if (sqlite3_step(st) == SQLITE_ROW) {
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

// Waits for the mailer to deliver what is queued (stops and restarts it).
static void
flush_mail(struct fx *fx)
{
	auth_mailer_free(fx->st.mail);
	assert_int_equal(auth_mailer_alloc(&fx->st.mail), 0);
}

static int
count_mails(struct fx *fx)
{
	FILE *fp;
	char  line[8192];
	int   n = 0;

	flush_mail(fx);
	if ((fp = fopen(fx->mails, "r")) == NULL) {
		return (0);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		n++;
	}
	fclose(fp);
	return (n);
}

// The last mail delivered (a JSON object; the caller decrefs), checked to
// be of kind and to "to".
static json_t *
last_mail(struct fx *fx, const char *kind, const char *to)
{
	FILE   *fp;
	char    line[8192];
	json_t *j = NULL;

	flush_mail(fx);
	fp = fopen(fx->mails, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		json_decref(j);
		j = json_loads(line, 0, NULL);
	}
	fclose(fp);
	assert_non_null(j);
	assert_string_equal(
	    json_string_value(json_object_get(j, "kind")), kind);
	assert_string_equal(json_string_value(json_object_get(j, "to")), to);
	assert_string_equal(
	    json_string_value(json_object_get(j, "service")), "auth");
	return (j);
}

// The token of the last mail (a static buffer).
static const char *
last_token(struct fx *fx, const char *kind, const char *to)
{
	static char tok[128];
	json_t     *j = last_mail(fx, kind, to);

	snprintf(tok, sizeof(tok), "%s",
	    json_string_value(json_object_get(j, "token")));
	json_decref(j);
	assert_true(strlen(tok) >= 43);
	return (tok);
}

static char *
body1(const char *k, const char *v)
{
	json_t *j = json_pack("{s:s}", k, v);
	char   *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return (s);
}

// Whether the reply carries an effect of topic.
static int
has_effect(const struct lc_rep *rp, int topic)
{
	size_t  i;
	json_t *e;

	json_array_foreach(rp->fx, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "t")),
		        lc_topic_name(topic)) == 0) {
			return (1);
		}
	}
	return (0);
}

/* ---- tests ---- */

static void
test_links(void **state)
{
	char *l;

	(void) state;
	l = auth_email_link("/verify-email", "TOK");
	assert_string_equal(l, "/verify-email?token=TOK");
	lc_free(l);
	settings_set("app_url", json_string("https://app.example/"));
	l = auth_email_link("/reset-password", "TOK");
	assert_string_equal(l, "https://app.example/reset-password?token=TOK");
	lc_free(l);
	settings_set("app_url", json_string("https://app.example/base"));
	l = auth_email_link("/magic-link", "TOK");
	assert_string_equal(
	    l, "https://app.example/base/magic-link?token=TOK");
	lc_free(l);
}

static void
test_forgot_reset(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          uid[AUTH_ID_LEN + 1];
	char          body[512];
	char          tok[128];
	char          tok2[128];
	json_t       *m;

	mkuser(fx, "alice@example.com", "old-password", 0, uid);
	// A session and an API key that the reset revokes.
	exec(fx,
	    "INSERT INTO sessions (id, user_id, created_at, "
	    "last_used_at, expires_at) SELECT 'S1', id, 1, 1, "
	    "9999999999999 FROM users");
	exec(fx,
	    "INSERT INTO api_keys (id, user_id, name, prefix, hash, "
	    "created_at) SELECT 'K1', id, '', 'bb_x', x'00', 1 FROM users");

	// Validation and switches.
	assert_int_not_equal(
	    call(fx, auth_h_forgot_password, NULL, "{}", NULL, &rp), 0);
	expect_err(&rp, 400, "validation_error", "email");
	lc_rep_fini(&rp);
	assert_int_not_equal(call(fx, auth_h_forgot_password, NULL,
	                         "{\"email\":\"nope\"}", NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "email");
	lc_rep_fini(&rp);
	settings_set("auth_password_enabled", json_false());
	assert_int_not_equal(
	    call(fx, auth_h_forgot_password, NULL, "{}", NULL, &rp), 0);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
	lc_rep_fini(&rp);
	assert_int_not_equal(
	    call(fx, auth_h_reset_password, NULL, "{}", NULL, &rp), 0);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
	lc_rep_fini(&rp);
	settings_set("auth_password_enabled", json_true());

	// No account: the same 200, no mail, no row left behind.
	assert_int_equal(call(fx, auth_h_forgot_password, NULL,
	                     "{\"email\":\"bob@example.com\"}", NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_true(json_object_get(rp.body, "ok")));
	lc_rep_fini(&rp);
	assert_int_equal(count_mails(fx), 0);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM email_tokens", NULL), 0);

	// The account: a reset_password mail (e-mail normalized).
	assert_int_equal(call(fx, auth_h_forgot_password, NULL,
	                     "{\"email\":\" Alice@Example.COM \"}", NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	m = last_mail(fx, "reset_password", "alice@example.com");
	assert_string_equal(json_string_value(json_object_get(m, "subject")),
	    "BusBase: reset your password");
	snprintf(tok, sizeof(tok), "%s",
	    json_string_value(json_object_get(m, "token")));
	snprintf(body, sizeof(body), "/reset-password?token=%s", tok);
	assert_string_equal(
	    json_string_value(json_object_get(m, "link")), body);
	json_decref(m);
	assert_int_equal(strlen(tok), 43);
	// Stored hashed, not in the clear.
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM email_tokens WHERE "
	                     "kind = 'reset_password' AND length(hash) = 32",
	                     NULL),
	    1);
	// A second one.
	assert_int_equal(call(fx, auth_h_forgot_password, NULL,
	                     "{\"email\":\"alice@example.com\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	snprintf(tok2, sizeof(tok2), "%s",
	    last_token(fx, "reset_password", "alice@example.com"));
	assert_string_not_equal(tok, tok2);

	// reset-password: validation order, then the token.
	assert_int_not_equal(call(fx, auth_h_reset_password, NULL,
	                         "{\"password\":\"new-password\"}", NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "token");
	lc_rep_fini(&rp);
	snprintf(body, sizeof(body),
	    "{\"token\":\"%s\",\"password\":\"short\"}", tok);
	assert_int_not_equal(
	    call(fx, auth_h_reset_password, NULL, body, NULL, &rp), 0);
	expect_err(&rp, 400, "validation_error", "password");
	lc_rep_fini(&rp);
	assert_int_not_equal(
	    call(fx, auth_h_reset_password, NULL,
	        "{\"token\":\"bogus-token-bogus-token-bogus-"
	        "token-bogus\",\"password\":\"new-password\"}",
	        NULL, &rp),
	    0);
	expect_err(&rp, 400, "invalid_email_token", NULL);
	lc_rep_fini(&rp);

	snprintf(body, sizeof(body),
	    "{\"token\":\"%s\",\"password\":\"new-password\"}", tok);
	assert_int_equal(
	    call(fx, auth_h_reset_password, NULL, body, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_true(has_effect(&rp, LC_TOPIC_SESS_REVOKED));
	assert_true(has_effect(&rp, LC_TOPIC_APIKEY_REVOKED));
	lc_rep_fini(&rp);
	assert_int_equal(
	    q_int(fx, "SELECT is_verified FROM users WHERE id = ?1", uid), 1);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM users WHERE id = ?1 AND "
	                     "pw_hash LIKE '$argon2id$%'",
	                     uid),
	    1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 0);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM api_keys", NULL), 0);
	// Single use, and the other reset token died with it.
	assert_int_not_equal(
	    call(fx, auth_h_reset_password, NULL, body, NULL, &rp), 0);
	expect_err(&rp, 400, "invalid_email_token", NULL);
	lc_rep_fini(&rp);
	snprintf(body, sizeof(body),
	    "{\"token\":\"%s\",\"password\":\"new-password\"}", tok2);
	assert_int_not_equal(
	    call(fx, auth_h_reset_password, NULL, body, NULL, &rp), 0);
	expect_err(&rp, 400, "invalid_email_token", NULL);
	lc_rep_fini(&rp);
}

static void
test_token_stale_expired_kind(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          uid[AUTH_ID_LEN + 1];
	char          tok[128];
	char         *body;

	mkuser(fx, "carol@example.com", "password-1", 0, uid);
	assert_int_equal(call(fx, auth_h_forgot_password, NULL,
	                     "{\"email\":\"carol@example.com\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	snprintf(tok, sizeof(tok), "%s",
	    last_token(fx, "reset_password", "carol@example.com"));

	// A reset token is no verify token.
	body = body1("token", tok);
	assert_int_not_equal(
	    call(fx, auth_h_verify_email, NULL, body, NULL, &rp), 0);
	expect_err(&rp, 400, "invalid_email_token", NULL);
	lc_rep_fini(&rp);
	free(body);

	// Stale: the address changed since the token was sent.
	exec(fx, "UPDATE users SET email = 'carol2@example.com'");
	{
		char b[256];

		snprintf(b, sizeof(b),
		    "{\"token\":\"%s\",\"password\":\"password-2\"}", tok);
		assert_int_not_equal(
		    call(fx, auth_h_reset_password, NULL, b, NULL, &rp), 0);
		expect_err(&rp, 400, "invalid_email_token", NULL);
		lc_rep_fini(&rp);
		exec(fx, "UPDATE users SET email = 'carol@example.com'");
		// Expired.
		exec(fx, "UPDATE email_tokens SET expires_at = 1");
		assert_int_not_equal(
		    call(fx, auth_h_reset_password, NULL, b, NULL, &rp), 0);
		expect_err(&rp, 400, "invalid_email_token", NULL);
		lc_rep_fini(&rp);
	}
	// Expired tokens are purged when the next one is issued.
	assert_int_equal(call(fx, auth_h_forgot_password, NULL,
	                     "{\"email\":\"carol@example.com\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM email_tokens", NULL), 1);
}

static void
test_verify_resend(void **state)
{
	struct fx       *fx = *state;
	struct lc_rep    rp;
	struct auth_user u = { 0 };
	char             uid[AUTH_ID_LEN + 1];
	char             tok[128];
	char            *body;
	json_t          *m;

	settings_set("app_name", json_string("MyApp"));
	settings_set("app_url", json_string("https://app.example/"));
	mkuser(fx, "dave@example.com", "password-1", 0, uid);
	assert_int_equal(auth_user_load(&fx->w, uid, &u), 0);
	auth_send_verify_email(&fx->w, &u);
	auth_user_fini(&u);
	m = last_mail(fx, "verify_email", "dave@example.com");
	assert_string_equal(json_string_value(json_object_get(m, "subject")),
	    "MyApp: verify your email");
	snprintf(tok, sizeof(tok), "%s",
	    json_string_value(json_object_get(m, "token")));
	{
		char link[256];

		snprintf(link, sizeof(link),
		    "https://app.example/verify-email?token=%s", tok);
		assert_string_equal(
		    json_string_value(json_object_get(m, "link")), link);
	}
	json_decref(m);

	// resend-verification while unverified: a second, different token;
	// both work until used.
	assert_int_equal(
	    call(fx, auth_h_resend_verification, uid, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	assert_string_not_equal(
	    last_token(fx, "verify_email", "dave@example.com"), tok);

	assert_int_not_equal(
	    call(fx, auth_h_verify_email, NULL, "{}", NULL, &rp), 0);
	expect_err(&rp, 400, "validation_error", "token");
	lc_rep_fini(&rp);
	body = body1("token", tok);
	assert_int_equal(
	    call(fx, auth_h_verify_email, NULL, body, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_true(has_effect(&rp, LC_TOPIC_USER_CHANGED));
	lc_rep_fini(&rp);
	assert_int_equal(
	    q_int(fx, "SELECT is_verified FROM users WHERE id = ?1", uid), 1);
	// Used.
	assert_int_not_equal(
	    call(fx, auth_h_verify_email, NULL, body, NULL, &rp), 0);
	expect_err(&rp, 400, "invalid_email_token", NULL);
	lc_rep_fini(&rp);
	free(body);

	assert_int_not_equal(
	    call(fx, auth_h_resend_verification, uid, NULL, NULL, &rp), 0);
	expect_err(&rp, 400, "already_verified", NULL);
	lc_rep_fini(&rp);
}

static void
test_magic_signup(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          tok[128];
	char         *body;
	json_t       *m;

	// Switch first.
	settings_set("auth_magic_link_enabled", json_false());
	assert_int_not_equal(
	    call(fx, auth_h_magic_link, NULL, "{}", NULL, &rp), 0);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
	lc_rep_fini(&rp);
	assert_int_not_equal(
	    call(fx, auth_h_magic_verify, NULL, "{}", NULL, &rp), 0);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
	lc_rep_fini(&rp);
	settings_set("auth_magic_link_enabled", json_true());
	assert_int_not_equal(
	    call(fx, auth_h_magic_link, NULL, "{\"email\":5}", NULL, &rp), 0);
	expect_err(&rp, 400, "validation_error", "email");
	lc_rep_fini(&rp);

	// Registration closed: 200, nothing sent, nothing stored.
	settings_set("registration_open", json_false());
	assert_int_equal(call(fx, auth_h_magic_link, NULL,
	                     "{\"email\":\"erin@example.com\"}", NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	assert_int_equal(count_mails(fx), 0);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM email_tokens", NULL), 0);

	// Open: a sign-up link.
	settings_set("registration_open", json_true());
	assert_int_equal(call(fx, auth_h_magic_link, NULL,
	                     "{\"email\":\"erin@example.com\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	m = last_mail(fx, "magic_link", "erin@example.com");
	assert_string_equal(json_string_value(json_object_get(m, "subject")),
	    "BusBase: your sign-in link");
	snprintf(tok, sizeof(tok), "%s",
	    json_string_value(json_object_get(m, "token")));
	json_decref(m);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM email_tokens WHERE "
	                     "user_id IS NULL",
	                     NULL),
	    1);

	// Registration closed since: 403, and the link stays usable.
	body = body1("token", tok);
	settings_set("registration_open", json_false());
	assert_int_not_equal(
	    call(fx, auth_h_magic_verify, NULL, body, NULL, &rp), 0);
	expect_err(&rp, 403, "registration_closed", NULL);
	lc_rep_fini(&rp);
	settings_set("registration_open", json_true());
	assert_int_equal(
	    call(fx, auth_h_magic_verify, NULL, body, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_non_null(json_object_get(rp.body, "access_token"));
	assert_true(json_is_true(
	    json_object_get(json_object_get(rp.body, "user"), "is_verified")));
	assert_true(has_effect(&rp, LC_TOPIC_SESS_ACTIVE));
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM users WHERE email = ?1 AND "
	                     "pw_hash IS NULL AND is_verified = 1",
	                     "erin@example.com"),
	    1);
	// Single use.
	assert_int_not_equal(
	    call(fx, auth_h_magic_verify, NULL, body, NULL, &rp), 0);
	expect_err(&rp, 400, "invalid_email_token", NULL);
	lc_rep_fini(&rp);
	free(body);
}

static void
test_magic_takeover(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          uid[AUTH_ID_LEN + 1];
	char         *body;

	// Someone registered the address without proving it.
	mkuser(fx, "frank@example.com", "squatter-pw", 0, uid);
	exec(fx,
	    "INSERT INTO sessions (id, user_id, created_at, "
	    "last_used_at, expires_at) SELECT 'S-OLD', id, 1, 1, "
	    "9999999999999 FROM users");
	exec(fx,
	    "INSERT INTO api_keys (id, user_id, name, prefix, hash, "
	    "created_at) SELECT 'K-OLD', id, '', 'bb_x', x'01', 1 FROM "
	    "users");
	assert_int_equal(call(fx, auth_h_magic_link, NULL,
	                     "{\"email\":\"frank@example.com\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	body =
	    body1("token", last_token(fx, "magic_link", "frank@example.com"));
	assert_int_equal(
	    call(fx, auth_h_magic_verify, NULL, body, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(rp.body, "user"), "id")),
	    uid);
	assert_true(has_effect(&rp, LC_TOPIC_SESS_REVOKED));
	assert_true(has_effect(&rp, LC_TOPIC_APIKEY_REVOKED));
	lc_rep_fini(&rp);
	free(body);
	assert_int_equal(q_int(fx,
	                     "SELECT count(*) FROM users WHERE id = ?1 AND "
	                     "pw_hash IS NULL AND is_verified = 1",
	                     uid),
	    1);
	assert_int_equal(
	    q_int(
	        fx, "SELECT count(*) FROM sessions WHERE id = 'S-OLD'", NULL),
	    0);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 1);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM api_keys", NULL), 0);

	// A verified account keeps its password and other sessions.
	exec(fx, "UPDATE users SET pw_hash = 'x'");
	assert_int_equal(call(fx, auth_h_magic_link, NULL,
	                     "{\"email\":\"frank@example.com\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	body =
	    body1("token", last_token(fx, "magic_link", "frank@example.com"));
	assert_int_equal(
	    call(fx, auth_h_magic_verify, NULL, body, NULL, &rp), 0);
	assert_false(has_effect(&rp, LC_TOPIC_SESS_REVOKED));
	lc_rep_fini(&rp);
	free(body);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 2);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM users WHERE pw_hash = 'x'", NULL),
	    1);
}

static void
test_magic_2fa(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          uid[AUTH_ID_LEN + 1];
	char         *body;

	mkuser(fx, "gina@example.com", NULL, 1, uid);
	exec(fx,
	    "UPDATE users SET totp_enabled = 1, totp_secret = "
	    "'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'");
	assert_int_equal(call(fx, auth_h_magic_link, NULL,
	                     "{\"email\":\"gina@example.com\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	body =
	    body1("token", last_token(fx, "magic_link", "gina@example.com"));
	assert_int_equal(
	    call(fx, auth_h_magic_verify, NULL, body, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_true(json_object_get(rp.body, "totp_required")));
	assert_true(
	    json_string_length(json_object_get(rp.body, "totp_token")) >= 43);
	assert_null(json_object_get(rp.body, "access_token"));
	lc_rep_fini(&rp);
	free(body);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sessions", NULL), 0);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM totp_challenges", NULL), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_links, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_forgot_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_token_stale_expired_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_verify_resend, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_magic_signup, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_magic_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_magic_2fa, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
