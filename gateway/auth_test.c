/*
 * auth_test.c -- credentials (API.md §1.3): the Bearer scheme, the admin
 * secret, API-key detection and cache, JWT outcomes against the session
 * view and auth's session check (hostile tokens included), the access
 * table, the auth-method switches (§2.7) and the User-Agent cleaning.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on
#include <nng/nng.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "lc_err.h"
#include "lc_jwt.h"
#include "lc_settings.h"

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
	gw.view                 = gw_view_alloc();
	req                     = lc_calloc(1, sizeof(*req) + 1);
	req->gw                 = &gw;
	return (0);
}

static int
teardown(void **state)
{
	(void) state;
	json_decref(req->caller);
	lc_free(req);
	gw_view_free(gw.view);
	gw_auth_free(gw.auth);
	return (0);
}

// Resolves like http.c does; returns the gw_cred_rv.
static int
resolve(const char *authz, const char *xkey)
{
	req->admin_secret = gw_auth_is_admin(gw.auth, authz);
	req->need_apikey  = 0;
	req->need_session = 0;
	req->cred_err     = 0;
	return (gw_auth_resolve(&gw, req, authz, xkey));
}

// "Bearer <token for claims>" into authz.
static void bearer(char *authz, size_t len, const char *claims_json);

// A reply message as the bus client would hand it over (nng_msg).
static void *
reply_msg(int status, json_t *body, json_t *fx)
{
	struct lc_rep rp;
	nng_msg      *m   = NULL;
	void         *buf = NULL;
	size_t        len = 0;

	lc_rep_init(&rp);
	lc_rep_json(&rp, status, body);
	rp.fx = fx;
	assert_int_equal(lc_env_encode_rep(&rp, &buf, &len), 0);
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, buf, len), 0);
	lc_free(buf);
	lc_rep_fini(&rp);
	return (m);
}

static const char *
caller_str(const char *key)
{
	return (json_string_value(json_object_get(req->caller, key)));
}

static void
view_put(const char *json_payload, int topic)
{
	json_t *p = json_loads(json_payload, 0, NULL);

	assert_non_null(p);
	gw_event_apply(&gw, topic, p);
	json_decref(p);
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
bearer(char *authz, size_t len, const char *claims_json)
{
	char *t = token(claims_json);

	(void) snprintf(authz, len, "Bearer %s", t);
	lc_free(t);
}

static void
test_jwt(void **state)
{
	char  authz[1024];
	char *t;
	long  now = (long) (lc_now_ms() / 1000);
	char  claims[256];

	(void) state;
	gw_view_set_sync(gw.view, NULL, 0);
	// valid access token, view out of sync: auth must be asked
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":\"S1\",\"email\":\"old@x.io\","
	    "\"roles\":[\"admin\"],\"iat\":%ld,\"exp\":%ld}",
	    now, now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_SESSION);
	assert_int_equal(req->cred_err, 0);
	assert_true(req->need_session);
	assert_false(req->imp);
	assert_string_equal(req->uid, "U1");
	assert_string_equal(req->sid, "S1");
	assert_int_equal(req->caller_kind, LC_CALLER_ANON);
	// in sync, but the view does not know S1: still asked
	gw_view_set_sync(gw.view, NULL, 1);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_SESSION);
	// known: the caller comes from the view, never from the claims
	view_put("{\"sid\":\"S1\",\"uid\":\"U1\",\"user\":{\"email\":"
	         "\"a@x.io\",\"roles\":[\"member\"],\"verified\":true,"
	         "\"cut\":\"\"}}",
	    LC_TOPIC_SESS_ACTIVE);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, 0);
	assert_false(req->need_session);
	assert_int_equal(req->caller_kind, LC_CALLER_USER);
	assert_string_equal(req->uid, "U1");
	assert_string_equal(caller_str("kind"), "user");
	assert_string_equal(caller_str("uid"), "U1");
	assert_string_equal(caller_str("sid"), "S1");
	assert_string_equal(caller_str("email"), "a@x.io");
	assert_int_equal(
	    json_array_size(json_object_get(req->caller, "roles")), 1);
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(req->caller, "roles"), 0)),
	    "member");
	assert_true(json_is_true(json_object_get(req->caller, "verified")));
	assert_null(json_object_get(req->caller, "imp"));
	// a token naming S1 for another user: not vouched for
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U2\",\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_SESSION);
	// revoked (logout): unknown again, auth decides
	view_put("{\"uid\":\"U1\",\"sids\":[\"S1\"],\"reason\":\"logout\"}",
	    LC_TOPIC_SESS_REVOKED);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_SESSION);

	// expired
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}",
	    now - 1000, now - 1);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_ETOKEN_EXPIRED);
	// signed, but not an access token
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"iat\":%ld,\"exp\":%ld}", now, now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}", now, now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":7,\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":\"\",\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	// impersonation without a jti, or with a sid: invalid
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"imp\":true,\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"imp\":true,\"sid\":\"S1\",\"jti\":\"J1\","
	    "\"iat\":%ld,\"exp\":%ld}",
	    now, now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	// a tampered signature
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	t                = token(claims);
	t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
	(void) snprintf(authz, sizeof(authz), "Bearer %s", t);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	lc_free(t);
	assert_int_equal(resolve("Bearer not.a.jwt", NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	gw_view_set_sync(gw.view, NULL, 0);
}

// Impersonation tokens: user known and jti >= cut, or refused.
static void
test_jwt_imp(void **state)
{
	char authz[1024];
	char claims[256];
	long now = (long) (lc_now_ms() / 1000);

	(void) state;
	gw_view_set_sync(gw.view, NULL, 1);
	view_put("{\"uid\":\"U5\",\"email\":\"e@x.io\",\"roles\":[],"
	         "\"verified\":false,\"cut\":\"01B\"}",
	    LC_TOPIC_USER_CHANGED);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U5\",\"imp\":true,\"jti\":\"01C\",\"iat\":%ld,"
	    "\"exp\":%ld}",
	    now, now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, 0);
	assert_int_equal(req->caller_kind, LC_CALLER_USER);
	assert_true(json_is_true(json_object_get(req->caller, "imp")));
	assert_null(json_object_get(req->caller, "sid"));
	assert_string_equal(caller_str("email"), "e@x.io");
	// issued before the cut
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U5\",\"imp\":true,\"jti\":\"01A\",\"iat\":%ld,"
	    "\"exp\":%ld}",
	    now, now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_ESESSION_REVOKED);
	// unknown user: ask auth, with the jti
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U6\",\"imp\":true,\"jti\":\"01C\",\"iat\":%ld,"
	    "\"exp\":%ld}",
	    now, now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_SESSION);
	assert_true(req->imp);
	assert_string_equal(req->sid, "01C");
	gw_view_set_sync(gw.view, NULL, 0);
}

// The per-thread cache of verified tokens: hits still go through the
// view, and end at exp.
static void
test_jwt_cache(void **state)
{
	char            authz[1024];
	char            claims[256];
	long            now = (long) (lc_now_ms() / 1000);
	struct timespec ts  = { 3, 100 * 1000000L };

	(void) state;
	gw_view_set_sync(gw.view, NULL, 1);
	view_put("{\"sid\":\"SC\",\"uid\":\"UC\",\"user\":{\"email\":"
	         "\"c@x.io\",\"roles\":[],\"verified\":true,\"cut\":\"\"}}",
	    LC_TOPIC_SESS_ACTIVE);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"UC\",\"sid\":\"SC\",\"iat\":%ld,\"exp\":%ld}", now,
	    now + 2);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->caller_kind, LC_CALLER_USER);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE); // a hit
	assert_int_equal(req->caller_kind, LC_CALLER_USER);
	assert_string_equal(caller_str("sid"), "SC");
	// a hit is still checked against the view
	view_put("{\"uid\":\"UC\",\"sids\":[\"SC\"],\"reason\":\"logout\"}",
	    LC_TOPIC_SESS_REVOKED);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_SESSION);
	gw_view_set_sync(gw.view, NULL, 0);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_SESSION);
	// and ends at exp
	(void) nanosleep(&ts, NULL);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_ETOKEN_EXPIRED);
}

static char *
b64(const char *s)
{
	size_t cap = sodium_base64_ENCODED_LEN(
	    strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = lc_alloc(cap);

	(void) sodium_bin2base64(out, cap, (const unsigned char *) s,
	    strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return (out);
}

// alg none, a refresh token, huge and odd tokens: 401, never a crash.
static void
test_jwt_hostile(void **state)
{
	char   authz[1024];
	char  *h;
	char  *p;
	char  *big;
	size_t n   = 200 * 1024;
	long   now = (long) (lc_now_ms() / 1000);
	char   claims[256];

	(void) state;
	gw_view_set_sync(gw.view, NULL, 1);
	h = b64("{\"alg\":\"none\",\"typ\":\"JWT\"}");
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U1\",\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	p = b64(claims);
	(void) snprintf(authz, sizeof(authz), "Bearer %s.%s.", h, p);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	(void) snprintf(authz, sizeof(authz), "Bearer %s.%s", h, p);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	lc_free(h);
	lc_free(p);
	// an opaque refresh token presented as the bearer
	assert_int_equal(
	    resolve(
	        "Bearer rt_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", NULL),
	    GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	assert_int_equal(resolve("Bearer ...", NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	// huge
	big = lc_alloc(n + 8);
	memcpy(big, "Bearer ", 7);
	memset(big + 7, 'A', n);
	big[7 + n / 3]     = '.';
	big[7 + 2 * n / 3] = '.';
	big[7 + n]         = '\0';
	assert_int_equal(resolve(big, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	lc_free(big);
	// a sub longer than any id we keep
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"%0100d\",\"sid\":\"S1\",\"iat\":%ld,\"exp\":%ld}", 7,
	    now, now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	gw_view_set_sync(gw.view, NULL, 0);
}

// auth.session_check: the request, and every kind of answer.
static void
test_session_reply(void **state)
{
	void         *buf = NULL;
	size_t        len = 0;
	json_t       *body;
	struct lc_req rq;

	(void) state;
	req->caller_kind = LC_CALLER_ANON;
	(void) snprintf(req->uid, sizeof(req->uid), "U1");
	(void) snprintf(req->sid, sizeof(req->sid), "S9");
	req->imp = 0;
	assert_int_equal(gw_auth_session_request(req, &buf, &len), 0);
	lc_req_init(&rq);
	assert_int_equal(lc_env_decode_req(buf, len, &rq), 0);
	assert_int_equal(rq.op, LC_MSG_AUTH_SESSION_CHECK);
	assert_int_equal(rq.caller_kind, LC_CALLER_SERVICE);
	assert_string_equal(
	    json_string_value(json_object_get(rq.body, "uid")), "U1");
	assert_string_equal(
	    json_string_value(json_object_get(rq.body, "sid")), "S9");
	lc_req_fini(&rq);
	lc_free(buf);

	// 200: caller from the answer, with the token's sid
	req->need_session = 1;
	gw_auth_session_reply(&gw, req, 0,
	    reply_msg(200,
	        json_pack("{s:s, s:s, s:[s], s:b}", "uid", "U1", "email",
	            "a@x.io", "roles", "r1", "verified", 0),
	        NULL));
	assert_false(req->need_session);
	assert_int_equal(req->cred_err, 0);
	assert_int_equal(req->caller_kind, LC_CALLER_USER);
	assert_string_equal(caller_str("sid"), "S9");
	assert_string_equal(caller_str("email"), "a@x.io");
	assert_true(json_is_false(json_object_get(req->caller, "verified")));
	// 200 about another user: refused
	req->caller_kind = LC_CALLER_ANON;
	gw_auth_session_reply(&gw, req, 0,
	    reply_msg(200, json_pack("{s:s}", "uid", "U2"), NULL));
	assert_int_equal(req->cred_err, LC_EINTERNAL);
	assert_int_equal(req->caller_kind, LC_CALLER_ANON);
	// 401 codes pass through
	body =
	    json_pack("{s:s, s:s}", "error", "x", "code", "session_revoked");
	gw_auth_session_reply(&gw, req, 0, reply_msg(401, body, NULL));
	assert_int_equal(req->cred_err, LC_ESESSION_REVOKED);
	body = json_pack("{s:s, s:s}", "error", "x", "code", "invalid_token");
	gw_auth_session_reply(&gw, req, 0, reply_msg(401, body, NULL));
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	body = json_pack("{s:s, s:s}", "error", "x", "code", "not_found");
	gw_auth_session_reply(&gw, req, 0, reply_msg(401, body, NULL));
	assert_int_equal(req->cred_err, LC_EINVALID_TOKEN);
	// fail closed: no answer, no op, auth down
	gw_auth_session_reply(&gw, req, LC_ETIMEDOUT, NULL);
	assert_int_equal(req->cred_err, LC_EUNAVAILABLE);
	gw_auth_session_reply(&gw, req, LC_EUNAVAILABLE, NULL);
	assert_int_equal(req->cred_err, LC_EUNAVAILABLE);
	body = json_pack("{s:s, s:s}", "error", "x", "code", "not_found");
	gw_auth_session_reply(&gw, req, 0, reply_msg(404, body, NULL));
	assert_int_equal(req->cred_err, LC_EUNAVAILABLE);
	body = json_pack("{s:s}", "code", "service_unavailable");
	gw_auth_session_reply(&gw, req, 0, reply_msg(503, body, NULL));
	assert_int_equal(req->cred_err, LC_EUNAVAILABLE);
	gw_auth_session_reply(&gw, req, 0, reply_msg(500, NULL, NULL));
	assert_int_equal(req->cred_err, LC_EINTERNAL);
	gw_auth_session_reply(&gw, req, 0, reply_msg(400, NULL, NULL));
	assert_int_equal(req->cred_err, LC_EINTERNAL);
	assert_int_equal(req->caller_kind, LC_CALLER_ANON);

	// impersonation: jti in the request, imp in the caller
	req->imp = 1;
	assert_int_equal(gw_auth_session_request(req, &buf, &len), 0);
	lc_req_init(&rq);
	assert_int_equal(lc_env_decode_req(buf, len, &rq), 0);
	assert_string_equal(
	    json_string_value(json_object_get(rq.body, "jti")), "S9");
	assert_null(json_object_get(rq.body, "sid"));
	lc_req_fini(&rq);
	lc_free(buf);
	gw_auth_session_reply(&gw, req, 0,
	    reply_msg(200, json_pack("{s:s}", "uid", "U1"), NULL));
	assert_int_equal(req->cred_err, 0);
	assert_true(json_is_true(json_object_get(req->caller, "imp")));
	assert_null(json_object_get(req->caller, "sid"));
	req->imp = 0;
}

// The API-key cache: filled by answers, used only in sync, dropped by
// uid (stream and effects), never filled by an answer older than a drop.
static void
test_apikey_cache(void **state)
{
	const char *key = "bb_0123456789012345678901234567890123456789";
	char        authz[128];
	void       *buf = NULL;
	size_t      len = 0;
	json_t     *fx;

	(void) state;
	gw_auth_flush(gw.auth);
	gw_view_set_sync(gw.view, NULL, 1);
	(void) snprintf(authz, sizeof(authz), "Bearer %s", key);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_APIKEY);
	assert_int_equal(gw_auth_apikey_request(req, &buf, &len), 0);
	lc_free(buf);
	gw_auth_apikey_reply(&gw, req, 0,
	    reply_msg(200,
	        json_pack("{s:s, s:s, s:[], s:b, s:s}", "uid", "UK", "email",
	            "k@x.io", "roles", "verified", 1, "key_id", "K1"),
	        NULL));
	assert_int_equal(req->cred_err, 0);
	assert_int_equal(req->caller_kind, LC_CALLER_APIKEY);
	assert_string_equal(caller_str("kind"), "apikey");
	assert_string_equal(caller_str("key_id"), "K1");
	assert_string_equal(req->uid, "UK");
	assert_int_equal(req->apikey_len, 0);
	assert_int_equal(gw_auth_cached(gw.auth), 1);
	// a hit, while in sync
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_int_equal(req->caller_kind, LC_CALLER_APIKEY);
	assert_string_equal(caller_str("key_id"), "K1");
	// out of sync: auth is asked
	gw_view_set_sync(gw.view, NULL, 0);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_APIKEY);
	gw_view_set_sync(gw.view, NULL, 1);
	// another user's events leave it; the owner's drop it
	view_put("{\"uid\":\"UX\",\"ids\":[\"K9\"]}", LC_TOPIC_APIKEY_REVOKED);
	assert_int_equal(gw_auth_cached(gw.auth), 1);
	view_put("{\"uid\":\"UK\",\"sids\":[],\"reason\":\"logout\"}",
	    LC_TOPIC_SESS_REVOKED); // no cut: keys stay
	assert_int_equal(gw_auth_cached(gw.auth), 1);
	fx = json_pack("[{s:s, s:{s:s, s:[s]}}]", "t", "apikey.revoked", "p",
	    "uid", "UK", "ids", "K1");
	gw_fx_apply(&gw, fx);
	json_decref(fx);
	assert_int_equal(gw_auth_cached(gw.auth), 0);
	assert_int_equal(resolve(authz, NULL), GW_CRED_NEED_APIKEY);

	// a drop while the resolution is in flight: used, not cached
	assert_int_equal(gw_auth_apikey_request(req, &buf, &len), 0);
	lc_free(buf);
	view_put("{\"uid\":\"UK\"}", LC_TOPIC_USER_DELETED);
	gw_auth_apikey_reply(&gw, req, 0,
	    reply_msg(200, json_pack("{s:s}", "uid", "UK"), NULL));
	assert_int_equal(req->cred_err, 0);
	assert_int_equal(req->caller_kind, LC_CALLER_APIKEY);
	assert_int_equal(gw_auth_cached(gw.auth), 0);

	// user.changed and a cut drop; a flush drops all
	resolve(authz, NULL);
	assert_int_equal(gw_auth_apikey_request(req, &buf, &len), 0);
	lc_free(buf);
	gw_auth_apikey_reply(&gw, req, 0,
	    reply_msg(200, json_pack("{s:s}", "uid", "UL"), NULL));
	assert_int_equal(gw_auth_cached(gw.auth), 1);
	view_put("{\"uid\":\"UL\",\"email\":\"l@x.io\",\"roles\":[],"
	         "\"verified\":true,\"cut\":\"\"}",
	    LC_TOPIC_USER_CHANGED);
	assert_int_equal(gw_auth_cached(gw.auth), 0);
	resolve(authz, NULL);
	assert_int_equal(gw_auth_apikey_request(req, &buf, &len), 0);
	lc_free(buf);
	gw_auth_apikey_reply(&gw, req, 0,
	    reply_msg(200, json_pack("{s:s}", "uid", "UL"), NULL));
	assert_int_equal(gw_auth_cached(gw.auth), 1);
	view_put("{\"uid\":\"UL\",\"sids\":[],\"reason\":\"logout_all\","
	         "\"cut\":\"01Z\"}",
	    LC_TOPIC_SESS_REVOKED);
	assert_int_equal(gw_auth_cached(gw.auth), 0);

	// unknown key, auth down
	resolve(authz, NULL);
	gw_auth_apikey_reply(&gw, req, 0,
	    reply_msg(
	        401, json_pack("{s:s}", "code", "invalid_api_key"), NULL));
	assert_int_equal(req->cred_err, LC_EINVALID_API_KEY);
	resolve(authz, NULL);
	gw_auth_apikey_reply(&gw, req, 0,
	    reply_msg(404, json_pack("{s:s}", "code", "not_found"), NULL));
	assert_int_equal(req->cred_err, LC_EINVALID_API_KEY);
	resolve(authz, NULL);
	gw_auth_apikey_reply(&gw, req, LC_EUNAVAILABLE, NULL);
	assert_int_equal(req->cred_err, LC_EUNAVAILABLE);
	gw_view_set_sync(gw.view, NULL, 0);
	gw_auth_flush(gw.auth);
}

// Effects that come with a credential answer are applied first.
static void
test_reply_effects(void **state)
{
	char    authz[1024];
	char    claims[256];
	long    now = (long) (lc_now_ms() / 1000);
	json_t *fx;

	(void) state;
	gw_view_set_sync(gw.view, NULL, 1);
	fx = json_pack("[{s:s, s:{s:s, s:s, s:{s:s, s:[], s:b}}}]", "t",
	    "session.active", "p", "sid", "S77", "uid", "U77", "user", "email",
	    "z@x.io", "roles", "verified", 1);
	(void) snprintf(req->uid, sizeof(req->uid), "U77");
	(void) snprintf(req->sid, sizeof(req->sid), "S77");
	gw_auth_session_reply(
	    &gw, req, 0, reply_msg(200, json_pack("{s:s}", "uid", "U77"), fx));
	assert_int_equal(req->cred_err, 0);
	(void) snprintf(claims, sizeof(claims),
	    "{\"sub\":\"U77\",\"sid\":\"S77\",\"iat\":%ld,\"exp\":%ld}", now,
	    now + 900);
	bearer(authz, sizeof(authz), claims);
	assert_int_equal(resolve(authz, NULL), GW_CRED_DONE);
	assert_string_equal(caller_str("email"), "z@x.io");
	gw_view_set_sync(gw.view, NULL, 0);
}

static void
test_switches(void **state)
{
	static const struct {
		int         msg;
		const char *key;
	} want[] = {
		{ LC_MSG_AUTH_REGISTER, "auth_password_enabled" },
		{ LC_MSG_AUTH_LOGIN, "auth_password_enabled" },
		{ LC_MSG_AUTH_FORGOT_PASSWORD, "auth_password_enabled" },
		{ LC_MSG_AUTH_RESET_PASSWORD, "auth_password_enabled" },
		{ LC_MSG_AUTH_MAGIC_LINK, "auth_magic_link_enabled" },
		{ LC_MSG_AUTH_MAGIC_VERIFY, "auth_magic_link_enabled" },
		{ LC_MSG_AUTH_TOTP_SETUP, "auth_totp_enabled" },
		{ LC_MSG_AUTH_TOTP_ENABLE, "auth_totp_enabled" },
		{ LC_MSG_AUTH_APIKEY_CREATE, "auth_api_keys_enabled" },
	};
	json_t *s;
	size_t  i;
	int     m;
	int     n = 0;

	(void) state;
	for (i = 0; i < LC_NELEM(want); i++) {
		assert_non_null(gw_switch_setting(want[i].msg));
		assert_string_equal(
		    gw_switch_setting(want[i].msg), want[i].key);
		assert_non_null(lc_settings_def_find(want[i].key));
	}
	for (m = 0; m < LC_MSG_COUNT; m++) {
		n += gw_switch_setting(m) != NULL;
	}
	assert_int_equal(n, (int) LC_NELEM(want)); // nothing else
	assert_null(gw_switch_setting(LC_MSG_AUTH_TOTP_VERIFY));
	assert_null(gw_switch_setting(LC_MSG_AUTH_TOTP_DISABLE));
	assert_null(gw_switch_setting(LC_MSG_AUTH_REFRESH));
	assert_null(gw_switch_setting(LC_MSG_AUTH_APIKEY_LIST));
	assert_null(gw_switch_setting(-1));
	assert_null(gw_switch_setting(LC_MSG_COUNT));
	// defaults: everything on
	for (i = 0; i < LC_NELEM(want); i++) {
		assert_int_equal(gw_switch_check(want[i].msg), 0);
	}
	s = lc_settings_defaults();
	(void) json_object_set_new(s, "auth_password_enabled", json_false());
	(void) json_object_set_new(s, "auth_totp_enabled", json_false());
	lc_settings_install(s, 2);
	assert_int_equal(
	    gw_switch_check(LC_MSG_AUTH_LOGIN), LC_EAUTH_METHOD_DISABLED);
	assert_int_equal(gw_switch_check(LC_MSG_AUTH_RESET_PASSWORD),
	    LC_EAUTH_METHOD_DISABLED);
	assert_int_equal(
	    gw_switch_check(LC_MSG_AUTH_TOTP_SETUP), LC_EAUTH_METHOD_DISABLED);
	assert_int_equal(gw_switch_check(LC_MSG_AUTH_MAGIC_LINK), 0);
	assert_int_equal(gw_switch_check(LC_MSG_AUTH_APIKEY_CREATE), 0);
	assert_int_equal(gw_switch_check(LC_MSG_AUTH_TOTP_VERIFY), 0);
	assert_int_equal(gw_switch_check(LC_MSG_RECORDS_LIST), 0);
	assert_int_equal(lc_err_status(LC_EAUTH_METHOD_DISABLED), 403);
	json_decref(s);
	s = lc_settings_defaults();
	lc_settings_install(s, 3);
	json_decref(s);
	assert_int_equal(gw_switch_check(LC_MSG_AUTH_LOGIN), 0);
}

static void
test_ua(void **state)
{
	char out[LC_UA_MAX + 1];
	char in[LC_UA_MAX + 100];

	(void) state;
	gw_ua_clean(NULL, out);
	assert_string_equal(out, "");
	gw_ua_clean("curl/8.5.0", out);
	assert_string_equal(out, "curl/8.5.0");
	gw_ua_clean("Mozilla/5.0 (X11; Linux)", out);
	assert_string_equal(out, "Mozilla/5.0 (X11; Linux)");
	gw_ua_clean("a\tb\x01\x7f\xc3\xa9z", out);
	assert_string_equal(out, "a?b????z");
	memset(in, 'u', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	gw_ua_clean(in, out);
	assert_int_equal(strlen(out), LC_UA_MAX);
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
		cmocka_unit_test(test_jwt_imp),
		cmocka_unit_test(test_jwt_hostile),
		cmocka_unit_test(test_jwt_cache),
		cmocka_unit_test(test_session_reply),
		cmocka_unit_test(test_apikey_cache),
		cmocka_unit_test(test_reply_effects),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_switches),
		cmocka_unit_test(test_ua),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
