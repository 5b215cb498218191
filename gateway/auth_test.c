/*
 * auth_test.c -- credentials (API.md §1.3): the Bearer scheme, the admin
 * secret, API-key detection, JWT outcomes, and the access table.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "lc_err.h"
#include "lc_jwt.h"

#define SECRET "0123456789abcdef0123456789abcdef-secret"
#define ADMIN "admin-secret-0123456789"

static struct gw      gw;
static struct gw_req *req;

static int
setup(void **state)
{
	(void) state;
	if (sodium_init() < 0) {
		return (-1);
	}
	memset(&gw, 0, sizeof(gw));
	(void) snprintf(gw.cfg.secret_key, sizeof(gw.cfg.secret_key), SECRET);
	gw.cfg.secret_key_len = strlen(SECRET);
	(void) snprintf(
	    gw.cfg.admin_secret, sizeof(gw.cfg.admin_secret), ADMIN);
	gw.cfg.admin_secret_len = strlen(ADMIN);
	gw.auth                 = gw_auth_alloc(&gw.cfg);
	req                     = lc_calloc(1, sizeof(*req) + 1);
	return (0);
}

static int
teardown(void **state)
{
	(void) state;
	json_decref(req->caller);
	lc_free(req);
	gw_auth_free(gw.auth);
	return (0);
}

// Resolves like http.c does; returns the gw_cred_rv.
static int
resolve(const char *authz, const char *xkey)
{
	req->admin_secret = gw_auth_is_admin(gw.auth, authz);
	req->need_apikey  = 0;
	req->cred_err     = 0;
	return (gw_auth_resolve(&gw, req, authz, xkey));
}

static char *
token(const char *claims_json)
{
	json_t *claims = json_loads(claims_json, 0, NULL);
	char   *tok    = NULL;

	assert_non_null(claims);
	assert_int_equal(lc_jwt_sign(claims, SECRET, strlen(SECRET), &tok), 0);
	json_decref(claims);
	return (tok);
}

static void
test_bearer(void **state)
{
	lc_str t;

	(void) state;
	assert_int_equal(gw_auth_bearer("Bearer abc", &t), 0);
	assert_int_equal(t.len, 3);
	assert_memory_equal(t.ptr, "abc", 3);
	assert_int_equal(gw_auth_bearer("bEaReR   abc  ", &t), 0);
	assert_int_equal(t.len, 3);
	assert_int_equal(gw_auth_bearer("Bearer", &t), LC_EINVALID_TOKEN);
	assert_int_equal(gw_auth_bearer("Bearer   ", &t), LC_EINVALID_TOKEN);
	assert_int_equal(gw_auth_bearer("Basic abc", &t), LC_EINVALID_TOKEN);
	assert_int_equal(gw_auth_bearer("Bearerabc", &t), LC_EINVALID_TOKEN);
	assert_int_equal(gw_auth_bearer("", &t), LC_EINVALID_TOKEN);
}

static void
test_admin(void **state)
{
	(void) state;
	assert_true(gw_auth_is_admin(gw.auth, "Bearer " ADMIN));
	assert_true(gw_auth_is_admin(gw.auth, "bearer " ADMIN));
	assert_false(gw_auth_is_admin(gw.auth, "Bearer " ADMIN "x"));
	assert_false(gw_auth_is_admin(gw.auth, "Bearer admin"));
	assert_false(gw_auth_is_admin(gw.auth, "Basic " ADMIN));
	assert_false(gw_auth_is_admin(gw.auth, NULL));
	assert_int_equal(resolve("Bearer " ADMIN, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, 0);
	assert_int_equal(req->caller_kind, LC_CALLER_ADMIN);
	assert_string_equal(
	    json_string_value(json_object_get(req->caller, "kind")), "admin");
	// X-API-Key cannot carry the admin secret
	assert_int_equal(resolve(NULL, ADMIN), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_API_KEY);
}

static void
test_anon_and_scheme(void **state)
{
	(void) state;
	assert_int_equal(resolve(NULL, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, 0);
	assert_int_equal(req->caller_kind, LC_CALLER_ANON);
	assert_int_equal(resolve("Basic dXNlcjpwYXNz", NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	assert_int_equal(resolve("", "bb_x"), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
}

static void
test_apikey(void **state)
{
	(void) state;
	assert_int_equal(resolve("Bearer bb_abc", NULL), GW_CRED_NEED_APIKEY);
	assert_true(req->need_apikey);
	assert_string_equal(req->apikey, "bb_abc");
	assert_int_equal(resolve(NULL, "bb_def"), GW_CRED_NEED_APIKEY);
	assert_string_equal(req->apikey, "bb_def");
	// Authorization wins over X-API-Key
	assert_int_equal(resolve("Bearer junk", "bb_def"), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	assert_int_equal(resolve(NULL, "xx_def"), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_API_KEY);
	assert_int_equal(resolve(NULL, ""), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_API_KEY);
}

static void
test_jwt(void **state)
{
	char  authz[1024];
	char *t;
	long  now = (long) (lc_now_ms() / 1000);
	char  claims[256];

	(void) state;
	// valid access token: no session exists yet -> session_revoked
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	t = token(claims);
	(void) snprintf(authz, sizeof(authz), "Bearer %s", t);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_ESESSION_REVOKED);
	lc_free(t);
	// expired
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}",
	    now - 1000, now - 1);
	t = token(claims);
	(void) snprintf(authz, sizeof(authz), "Bearer %s", t);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_ETOKEN_EXPIRED);
	lc_free(t);
	// signed, but not an access token
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"iat\":%ld,\"exp\":%ld}", now, now + 900);
	t = token(claims);
	(void) snprintf(authz, sizeof(authz), "Bearer %s", t);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	lc_free(t);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}", now, now + 900);
	t = token(claims);
	(void) snprintf(authz, sizeof(authz), "Bearer %s", t);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	lc_free(t);
	// impersonation token (imp, no sid): the session check decides
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"imp\":true,\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	t = token(claims);
	(void) snprintf(authz, sizeof(authz), "Bearer %s", t);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_ESESSION_REVOKED);
	// a tampered signature
	t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
	(void) snprintf(authz, sizeof(authz), "Bearer %s", t);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	lc_free(t);
	assert_int_equal(resolve("Bearer not.a.jwt", NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
}

static void
test_access(void **state)
{
	(void) state;
	assert_int_equal(
	    gw_access_check(GW_ACC_USER, LC_CALLER_ANON), LC_EAUTH_REQUIRED);
	assert_int_equal(
	    gw_access_check(GW_ACC_USER, LC_CALLER_ADMIN), LC_EUSER_REQUIRED);
	assert_int_equal(gw_access_check(GW_ACC_USER, LC_CALLER_USER), 0);
	assert_int_equal(gw_access_check(GW_ACC_USER, LC_CALLER_APIKEY), 0);
	assert_int_equal(gw_access_check(GW_ACC_USER_ADMIN, LC_CALLER_ANON),
	    LC_EAUTH_REQUIRED);
	assert_int_equal(
	    gw_access_check(GW_ACC_USER_ADMIN, LC_CALLER_ADMIN), 0);
	assert_int_equal(
	    gw_access_check(GW_ACC_USER_ADMIN, LC_CALLER_USER), 0);
	assert_int_equal(
	    gw_access_check(GW_ACC_USER_ADMIN_RULE, LC_CALLER_ANON),
	    LC_EAUTH_REQUIRED);
	assert_int_equal(
	    gw_access_check(GW_ACC_ADMIN, LC_CALLER_ANON), LC_EAUTH_REQUIRED);
	assert_int_equal(
	    gw_access_check(GW_ACC_ADMIN, LC_CALLER_USER), LC_EADMIN_REQUIRED);
	assert_int_equal(gw_access_check(GW_ACC_ADMIN, LC_CALLER_APIKEY),
	    LC_EADMIN_REQUIRED);
	assert_int_equal(gw_access_check(GW_ACC_ADMIN, LC_CALLER_ADMIN), 0);
	assert_int_equal(gw_access_check(GW_ACC_NONE, LC_CALLER_ANON), 0);
	assert_int_equal(gw_access_check(GW_ACC_RULE, LC_CALLER_ANON), 0);
	assert_int_equal(gw_access_check(GW_ACC_FILE, LC_CALLER_ANON), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_anon_and_scheme),
		cmocka_unit_test(test_apikey),
		cmocka_unit_test(test_jwt),
		cmocka_unit_test(test_access),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
