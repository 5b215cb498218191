/*
 * totp_test.c -- TOTP codes and secrets (totp.c): the RFC 6238 SHA-1
 * test vectors cut to 6 digits (oathtool --totp -d 6 gives the same),
 * the t-1..t+1 window, replay protection through last_step, code
 * parsing (strings of 6 digits, integers 0..999999), base32 secrets and
 * the otpauth:// URL with RFC 3986 percent-encoding; then the /2fa
 * handlers against a real auth.db: setup, enable, verify (challenges,
 * replay, lockout, expiry, single use) and disable (body or query).
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
#include "lc_settings.h"

// "12345678901234567890" (the RFC 6238 SHA-1 seed) in base32.
#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static void
test_rfc6238_vectors(void **state)
{
	static const struct {
		int64_t     t;
		const char *code; // the RFC's 8-digit value, last 6 digits
	} v[] = {
		{ 59, "287082" },          // 94287082
		{ 1111111109, "081804" },  // 07081804
		{ 1111111111, "050471" },  // 14050471
		{ 1234567890, "005924" },  // 89005924
		{ 2000000000, "279037" },  // 69279037
		{ 20000000000, "353130" }, // 65353130
	};
	char out[8];

	(void) state;
	for (size_t i = 0; i < LC_NELEM(v); i++) {
		assert_int_equal(
		    auth_totp_code(RFC_SECRET, v[i].t / 30, out), 0);
		assert_string_equal(out, v[i].code);
	}
	assert_int_equal(auth_totp_code("not base32!", 1, out), LC_EINTERNAL);
}

static void
test_window_and_replay(void **state)
{
	const int64_t now = 1111111111; // step 37037037
	const int64_t t   = now / 30;
	char          code[8];
	int64_t       step = 0;

	(void) state;
	// t-1, t and t+1 are accepted and report their step.
	for (int64_t d = -1; d <= 1; d++) {
		assert_int_equal(auth_totp_code(RFC_SECRET, t + d, code), 0);
		assert_int_equal(
		    auth_totp_check(RFC_SECRET, code, now, -1, &step), 0);
		assert_int_equal(step, t + d);
	}
	// t-2 and t+2 are not.
	assert_int_equal(auth_totp_code(RFC_SECRET, t - 2, code), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, code, now, -1, &step),
	    LC_EINVALID_TOTP_CODE);
	assert_int_equal(auth_totp_code(RFC_SECRET, t + 2, code), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, code, now, -1, &step),
	    LC_EINVALID_TOTP_CODE);
	// A step at or before the last accepted one is a wrong code.
	assert_int_equal(auth_totp_code(RFC_SECRET, t, code), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, code, now, t, &step),
	    LC_EINVALID_TOTP_CODE);
	assert_int_equal(auth_totp_check(RFC_SECRET, code, now, t + 1, &step),
	    LC_EINVALID_TOTP_CODE);
	assert_int_equal(
	    auth_totp_check(RFC_SECRET, code, now, t - 1, &step), 0);
	assert_int_equal(step, t);
	// A wrong code: the first of 000000, 000001, ... that no step of
	// the window has.
	for (int c = 0;; c++) {
		char w[3][8];
		int  hit = 0;

		(void) snprintf(code, sizeof(code), "%06d", c % 1000000);
		for (int d = 0; d < 3; d++) {
			assert_int_equal(
			    auth_totp_code(RFC_SECRET, t - 1 + d, w[d]), 0);
			hit |= strcmp(w[d], code) == 0;
		}
		if (!hit) {
			break;
		}
	}
	assert_int_equal(auth_totp_check(RFC_SECRET, code, now, -1, &step),
	    LC_EINVALID_TOTP_CODE);
}

static void
test_code_parse(void **state)
{
	static const char *bad[] = { "\"12345\"", "\"1234567\"", "\"12a456\"",
		"\" 12345\"", "\"\"", "-1", "1000000", "12.0", "true", "null",
		"[\"123456\"]", "{}", "\"١٢٣٤٥٦\"" };
	char               out[8];

	(void) state;
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		json_t *v = json_loads(bad[i], JSON_DECODE_ANY, NULL);

		assert_non_null(v);
		assert_int_equal(auth_totp_code_parse(v, out), LC_EVALIDATION);
		json_decref(v);
	}
	assert_int_equal(auth_totp_code_parse(NULL, out), LC_EVALIDATION);
	{
		json_t *v = json_string("012345");

		assert_int_equal(auth_totp_code_parse(v, out), 0);
		assert_string_equal(out, "012345");
		json_decref(v);
		v = json_integer(42);
		assert_int_equal(auth_totp_code_parse(v, out), 0);
		assert_string_equal(out, "000042");
		json_decref(v);
		v = json_integer(999999);
		assert_int_equal(auth_totp_code_parse(v, out), 0);
		assert_string_equal(out, "999999");
		json_decref(v);
		v = json_integer(0);
		assert_int_equal(auth_totp_code_parse(v, out), 0);
		assert_string_equal(out, "000000");
		json_decref(v);
	}
	assert_int_equal(auth_totp_code_parse_str("123456", 6, out), 0);
	assert_string_equal(out, "123456");
	assert_int_equal(
	    auth_totp_code_parse_str("12345", 5, out), LC_EVALIDATION);
}

static void
test_secret(void **state)
{
	char a[AUTH_TOTP_SECRET_LEN + 1];
	char b[AUTH_TOTP_SECRET_LEN + 1];
	char code[8];

	(void) state;
	auth_totp_secret_new(a);
	auth_totp_secret_new(b);
	assert_int_equal(strlen(a), 32);
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < 32; i++) {
		assert_true((a[i] >= 'A' && a[i] <= 'Z') ||
		    (a[i] >= '2' && a[i] <= '7'));
	}
	// Decodes back (20 bytes) and yields codes.
	assert_int_equal(auth_totp_code(a, 1, code), 0);
	assert_int_equal(strlen(code), 6);
}

static void
test_url(void **state)
{
	char *u;

	(void) state;
	u = auth_totp_url("MyApp", "alice@example.com", RFC_SECRET);
	assert_string_equal(u,
	    "otpauth://totp/MyApp:alice%40example.com?secret=" RFC_SECRET
	    "&issuer=MyApp&algorithm=SHA1&digits=6&period=30");
	lc_free(u);
	u = auth_totp_url("My App & Co/é", "a+b@x.io", "AB");
	assert_string_equal(u,
	    "otpauth://totp/My%20App%20%26%20Co%2F%C3%A9:a%2Bb%40x.io?"
	    "secret=AB&issuer=My%20App%20%26%20Co%2F%C3%A9&algorithm=SHA1&"
	    "digits=6&period=30");
	lc_free(u);
}

/* ---- fixture: fixture_test.h ---- */

#include "calls_test.h"
#include "fixture_test.h"

/* ---- handlers ---- */

// The current step, after waiting out the last 5 s of a step so a test's
// steps do not move under it.
static int64_t
stable_step(void)
{
	while (lc_now_ms() / 1000 % 30 >= 25) {
		usleep(200000);
	}
	return (lc_now_ms() / 1000 / 30);
}

// {"code":"<code of secret at step>"}
static char *
code_body(const char *secret, int64_t step)
{
	char code[8];
	char b[64];

	assert_int_equal(auth_totp_code(secret, step, code), 0);
	snprintf(b, sizeof(b), "{\"code\":\"%s\"}", code);
	return (strdup(b));
}

// Sets up and enables 2FA for uid with the code of step; the secret into
// out.
static void
enable_2fa(struct fx *fx, const char *uid, int64_t step,
    char out[AUTH_TOTP_SECRET_LEN + 1])
{
	struct lc_rep rp;
	char         *b;

	assert_int_equal(call(fx, auth_h_totp_setup, LC_CALLER_USER, uid, NULL,
	                     NULL, NULL, &rp),
	    0);
	snprintf(out, AUTH_TOTP_SECRET_LEN + 1, "%s",
	    json_string_value(json_object_get(rp.body, "secret")));
	lc_rep_fini(&rp);
	b = code_body(out, step);
	assert_int_equal(call(fx, auth_h_totp_enable, LC_CALLER_USER, uid, b,
	                     NULL, NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	free(b);
}

static void
test_setup_enable(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          uid[AUTH_ID_LEN + 1];
	char          secret[AUTH_TOTP_SECRET_LEN + 1];
	char          url[256];
	char         *b;
	int64_t       t = stable_step();
	int64_t       upd;

	mkuser(fx, "alice@example.com", uid);
	upd = q_int(fx, "SELECT updated_at FROM users WHERE id = ?1", uid);

	settings_set("auth_totp_enabled", json_false());
	assert_int_not_equal(call(fx, auth_h_totp_setup, LC_CALLER_USER, uid,
	                         NULL, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
	assert_int_not_equal(call(fx, auth_h_totp_enable, LC_CALLER_USER, uid,
	                         "{}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
	settings_set("auth_totp_enabled", json_true());

	// enable before setup: setup_required comes before the code check.
	assert_int_not_equal(call(fx, auth_h_totp_enable, LC_CALLER_USER, uid,
	                         "{\"code\":\"x\"}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "totp_setup_required", NULL);

	settings_set("app_name", json_string("My App"));
	assert_int_equal(call(fx, auth_h_totp_setup, LC_CALLER_USER, uid, NULL,
	                     NULL, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	snprintf(secret, sizeof(secret), "%s",
	    json_string_value(json_object_get(rp.body, "secret")));
	assert_int_equal(strlen(secret), 32);
	snprintf(url, sizeof(url),
	    "otpauth://totp/My%%20App:alice%%40example.com?secret=%s&issuer="
	    "My%%20App&algorithm=SHA1&digits=6&period=30",
	    secret);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "otpauth_url")), url);
	lc_rep_fini(&rp);
	// A second setup replaces the pending secret.
	assert_int_equal(call(fx, auth_h_totp_setup, LC_CALLER_USER, uid, NULL,
	                     NULL, NULL, &rp),
	    0);
	assert_string_not_equal(
	    json_string_value(json_object_get(rp.body, "secret")), secret);
	snprintf(secret, sizeof(secret), "%s",
	    json_string_value(json_object_get(rp.body, "secret")));
	lc_rep_fini(&rp);
	assert_int_equal(
	    q_int(fx, "SELECT totp_enabled FROM users WHERE id = ?1", uid), 0);

	// enable: code validation, then the code.
	assert_int_not_equal(call(fx, auth_h_totp_enable, LC_CALLER_USER, uid,
	                         "{\"code\":\"12345\"}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "code");
	assert_int_not_equal(call(fx, auth_h_totp_enable, LC_CALLER_USER, uid,
	                         "{}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "code");
	b = code_body(secret, t - 3); // outside the window
	assert_int_not_equal(call(fx, auth_h_totp_enable, LC_CALLER_USER, uid,
	                         b, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "invalid_totp_code", NULL);
	free(b);
	b = code_body(secret, t - 1);
	assert_int_equal(call(fx, auth_h_totp_enable, LC_CALLER_USER, uid, b,
	                     NULL, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(rp.fx, 0), "t")),
	    "user.changed");
	lc_rep_fini(&rp);
	free(b);
	assert_int_equal(q_int(fx,
	                     "SELECT totp_enabled + (totp_pending IS NULL) + "
	                     "(totp_secret IS NOT NULL) FROM users WHERE id = "
	                     "?1",
	                     uid),
	    3);
	assert_int_equal(
	    q_int(fx, "SELECT totp_last_step FROM users WHERE id = ?1", uid),
	    t - 1);
	assert_true(q_int(fx, "SELECT updated_at FROM users WHERE id = ?1",
	                uid) >= upd);

	assert_int_not_equal(call(fx, auth_h_totp_enable, LC_CALLER_USER, uid,
	                         "{}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 409, "totp_already_enabled", NULL);
	assert_int_not_equal(call(fx, auth_h_totp_setup, LC_CALLER_USER, uid,
	                         NULL, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 409, "totp_already_enabled", NULL);
}

static void
test_verify(void **state)
{
	struct fx       *fx = *state;
	struct lc_rep    rp;
	struct auth_user u = { 0 };
	char             uid[AUTH_ID_LEN + 1];
	char             secret[AUTH_TOTP_SECRET_LEN + 1];
	char             tok[128];
	char             b[256];
	char             code[8];
	json_t          *ch = NULL;
	int64_t          t  = stable_step();

	mkuser(fx, "bob@example.com", uid);
	enable_2fa(fx, uid, t - 1, secret);
	assert_int_equal(auth_user_load(&fx->w, uid, &u), 0);
	assert_int_equal(auth_totp_challenge(&fx->w, &u, &ch), 0);
	auth_user_fini(&u);
	assert_true(json_is_true(json_object_get(ch, "totp_required")));
	snprintf(tok, sizeof(tok), "%s",
	    json_string_value(json_object_get(ch, "totp_token")));
	json_decref(ch);
	assert_true(strlen(tok) >= 43);

	// Validation.
	assert_int_not_equal(call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL,
	                         "{\"code\":\"123456\"}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "totp_token");
	snprintf(b, sizeof(b), "{\"totp_token\":\"%s\",\"code\":12.5}", tok);
	assert_int_not_equal(call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL,
	                         b, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "code");
	assert_int_not_equal(
	    call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL,
	        "{\"totp_token\":\"nope\",\"code\":\"123456\"}", NULL, NULL,
	        &rp),
	    0);
	expect_err(&rp, 401, "invalid_totp_token", NULL);

	// The code enable used is spent (same step): a wrong code.
	assert_int_equal(auth_totp_code(secret, t - 1, code), 0);
	snprintf(b, sizeof(b), "{\"totp_token\":\"%s\",\"code\":\"%s\"}", tok,
	    code);
	assert_int_not_equal(call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL,
	                         b, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 401, "invalid_totp_code", NULL);
	assert_int_equal(
	    q_int(fx, "SELECT failures FROM lockout WHERE email = ?1",
	        "bob@example.com"),
	    1);
	// Lockout: the second failure reaches the limit of 2, then 429.
	settings_set("lockout_max_attempts", json_integer(2));
	assert_int_not_equal(call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL,
	                         b, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 401, "invalid_totp_code", NULL);
	assert_int_equal(auth_totp_code(secret, t, code), 0);
	snprintf(b, sizeof(b), "{\"totp_token\":\"%s\",\"code\":\"%s\"}", tok,
	    code);
	assert_int_not_equal(call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL,
	                         b, NULL, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 429);
	assert_string_equal(code_of(&rp), "account_locked");
	assert_true(atoi(json_string_value(
	                json_object_get(rp.headers, "Retry-After"))) >= 1);
	lc_rep_fini(&rp);
	exec(fx, "DELETE FROM lockout");

	// The right code (as an integer): an AuthResult, lockout reset, the
	// challenge consumed.
	snprintf(b, sizeof(b), "{\"totp_token\":\"%s\",\"code\":%d}", tok,
	    atoi(code));
	assert_int_equal(call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL, b,
	                     NULL, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	assert_non_null(json_object_get(rp.body, "access_token"));
	lc_rep_fini(&rp);
	assert_int_equal(
	    q_int(fx, "SELECT totp_last_step FROM users WHERE id = ?1", uid),
	    t);
	assert_int_equal(
	    q_int(fx, "SELECT count(*) FROM totp_challenges", NULL), 0);
	assert_int_equal(call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL, b,
	                     NULL, NULL, &rp),
	    LC_EINVALID_TOTP_TOKEN);
	expect_err(&rp, 401, "invalid_totp_token", NULL);

	// An expired challenge.
	assert_int_equal(auth_user_load(&fx->w, uid, &u), 0);
	assert_int_equal(auth_totp_challenge(&fx->w, &u, &ch), 0);
	auth_user_fini(&u);
	snprintf(b, sizeof(b), "{\"totp_token\":\"%s\",\"code\":\"000000\"}",
	    json_string_value(json_object_get(ch, "totp_token")));
	json_decref(ch);
	exec(fx, "UPDATE totp_challenges SET expires_at = 1");
	assert_int_not_equal(call(fx, auth_h_totp_verify, LC_CALLER_ANON, NULL,
	                         b, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 401, "invalid_totp_token", NULL);
}

static void
test_disable(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          uid[AUTH_ID_LEN + 1];
	char          secret[AUTH_TOTP_SECRET_LEN + 1];
	char          code[8];
	char          q[64];
	char         *b;
	int64_t       t = stable_step();

	mkuser(fx, "carol@example.com", uid);
	assert_int_not_equal(call(fx, auth_h_totp_disable, LC_CALLER_USER, uid,
	                         "{\"code\":\"123456\"}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "totp_not_enabled", NULL);
	enable_2fa(fx, uid, t - 1, secret);
	// The switch does not stop disable.
	settings_set("auth_totp_enabled", json_false());
	assert_int_not_equal(call(fx, auth_h_totp_disable, LC_CALLER_USER, uid,
	                         "{}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "code");
	assert_int_not_equal(call(fx, auth_h_totp_disable, LC_CALLER_USER, uid,
	                         "{}", "{\"code\":\"12a456\"}", NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "code");
	b = code_body(secret, t - 1); // spent
	assert_int_not_equal(call(fx, auth_h_totp_disable, LC_CALLER_USER, uid,
	                         b, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "invalid_totp_code", NULL);
	free(b);
	// By query string.
	assert_int_equal(auth_totp_code(secret, t + 1, code), 0);
	snprintf(q, sizeof(q), "{\"code\":\"%s\"}", code);
	assert_int_equal(call(fx, auth_h_totp_disable, LC_CALLER_USER, uid,
	                     "{}", q, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	assert_int_equal(q_int(fx,
	                     "SELECT totp_enabled + (totp_secret IS NULL) + "
	                     "(totp_pending IS NULL) FROM users WHERE id = ?1",
	                     uid),
	    2);
	assert_int_not_equal(call(fx, auth_h_totp_disable, LC_CALLER_USER, uid,
	                         "{}", q, NULL, &rp),
	    0);
	expect_err(&rp, 400, "totp_not_enabled", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_window_and_replay),
		cmocka_unit_test(test_code_parse),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_url),
		cmocka_unit_test_setup_teardown(
		    test_setup_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
