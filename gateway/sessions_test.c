/*
 * sessions_test.c -- the session view (sessions.c): every event applied
 * and looked up, tombstones against late events and stale snapshots, the
 * snapshot swap, the impersonation cut, malformed payloads, reply effects
 * (gw_fx_apply and the fx key of a bus reply in gw_resp_msg), and the
 * subscriber end to end over inproc:// (a publisher and a fake auth that
 * answers auth.sessions_snapshot).
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on
#include <nng/nng.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "lc_err.h"

#define WAIT_FOR(cond, ms)                                 \
	do {                                               \
		int64_t until_ = lc_mono_ms() + (ms);      \
		while (!(cond) && lc_mono_ms() < until_) { \
			sleep_ms(5);                       \
		}                                          \
	} while (0)

static struct gw gw;

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	(void) nanosleep(&ts, NULL);
}

static int
setup(void **state)
{
	(void) state;
	memset(&gw, 0, sizeof(gw));
	gw.auth = gw_auth_alloc(&gw.cfg);
	gw.view = gw_view_alloc();
	gw_view_set_sync(gw.view, NULL, 1);
	return (0);
}

static int
teardown(void **state)
{
	(void) state;
	gw_view_free(gw.view);
	gw_auth_free(gw.auth);
	return (0);
}

static int
apply(int topic, const char *payload)
{
	json_t *p =
	    json_loads(payload, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	int rv;

	assert_non_null(p);
	rv = gw_view_apply(gw.view, topic, p);
	json_decref(p);
	return (rv);
}

static void
active(const char *sid, const char *uid, const char *cut)
{
	char p[512];

	(void) snprintf(p, sizeof(p),
	    "{\"sid\":\"%s\",\"uid\":\"%s\",\"user\":{\"email\":\"%s@x.io\","
	    "\"roles\":[\"r1\",\"\",\"r3\"],\"verified\":true,\"cut\":\"%s\"}"
	    "}",
	    sid, uid, uid, cut);
	assert_int_equal(apply(LC_TOPIC_SESS_ACTIVE, p), 0);
}

static lc_str
S(const char *s)
{
	return ((lc_str) { s, strlen(s) });
}

// The view's answer for a session token; the caller is checked and freed.
static int
check(const char *uid, const char *sid)
{
	json_t *c  = NULL;
	int     rv = gw_view_check(gw.view, S(uid), S(sid), 0, &c);

	if (rv == GW_VIEW_OK) {
		assert_non_null(c);
		assert_string_equal(
		    json_string_value(json_object_get(c, "uid")), uid);
		assert_string_equal(
		    json_string_value(json_object_get(c, "sid")), sid);
		json_decref(c);
	} else {
		assert_null(c);
	}
	return (rv);
}

static int
check_imp(const char *uid, const char *jti)
{
	json_t *c  = NULL;
	int     rv = gw_view_check(gw.view, S(uid), S(jti), 1, &c);

	if (rv == GW_VIEW_OK) {
		assert_true(json_is_true(json_object_get(c, "imp")));
		assert_null(json_object_get(c, "sid"));
		json_decref(c);
	}
	return (rv);
}

static void
test_active(void **state)
{
	json_t *c = NULL;
	json_t *roles;

	(void) state;
	active("S1", "U1", "");
	assert_int_equal(gw_view_sessions(gw.view), 1);
	assert_int_equal(gw_view_users(gw.view), 1);
	assert_int_equal(
	    gw_view_check(gw.view, S("U1"), S("S1"), 0, &c), GW_VIEW_OK);
	assert_string_equal(
	    json_string_value(json_object_get(c, "kind")), "user");
	assert_string_equal(
	    json_string_value(json_object_get(c, "email")), "U1@x.io");
	assert_true(json_is_true(json_object_get(c, "verified")));
	roles = json_object_get(c, "roles");
	assert_int_equal(json_array_size(roles), 3);
	assert_string_equal(json_string_value(json_array_get(roles, 0)), "r1");
	assert_string_equal(json_string_value(json_array_get(roles, 1)), "");
	assert_string_equal(json_string_value(json_array_get(roles, 2)), "r3");
	json_decref(c);
	// twice is harmless
	active("S1", "U1", "");
	assert_int_equal(gw_view_sessions(gw.view), 1);
	active("S2", "U1", "");
	assert_int_equal(gw_view_sessions(gw.view), 2);
	assert_int_equal(gw_view_users(gw.view), 1);
	assert_int_equal(check("U1", "S2"), GW_VIEW_OK);
	// another user's token for S1, an unknown sid
	assert_int_equal(check("U2", "S1"), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U1", "S3"), GW_VIEW_UNKNOWN);
	// impersonation: the user is known, no cut
	assert_int_equal(check_imp("U1", "01A"), GW_VIEW_OK);
	assert_int_equal(check_imp("U2", "01A"), GW_VIEW_UNKNOWN);
	// out of sync: the view does not answer
	gw_view_set_sync(gw.view, NULL, 0);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	assert_int_equal(check_imp("U1", "01A"), GW_VIEW_UNKNOWN);
	gw_view_set_sync(gw.view, NULL, 1);
	// ids we never store
	assert_int_equal(check("U1", ""), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U1", "S123456789012345678901234567890123"),
	    GW_VIEW_UNKNOWN);
}

static void
test_revoked(void **state)
{
	(void) state;
	active("S1", "U1", "");
	active("S2", "U1", "");
	active("S3", "U2", "");
	assert_int_equal(apply(LC_TOPIC_SESS_REVOKED,
	                     "{\"uid\":\"U1\",\"sids\":[\"S1\"],"
	                     "\"reason\":\"logout\"}"),
	    0);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U1", "S2"), GW_VIEW_OK);
	assert_int_equal(check("U2", "S3"), GW_VIEW_OK);
	// a late session.active for S1 (stream behind the effect): ignored
	active("S1", "U1", "");
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	// twice is harmless; an unknown sid too
	assert_int_equal(apply(LC_TOPIC_SESS_REVOKED,
	                     "{\"uid\":\"U1\",\"sids\":[\"S1\",\"S9\"],"
	                     "\"reason\":\"logout\"}"),
	    0);
	assert_int_equal(gw_view_sessions(gw.view), 2);
}

static void
test_cut(void **state)
{
	(void) state;
	active("S1", "U1", "01B");
	active("S2", "U1", "01B");
	active("S3", "U2", "");
	assert_int_equal(check_imp("U1", "01A"), GW_VIEW_REVOKED); // < cut
	assert_int_equal(check_imp("U1", "01B"), GW_VIEW_OK);      // = cut
	assert_int_equal(check_imp("U1", "01C"), GW_VIEW_OK);
	// logout-all: every session goes, the cut moves
	assert_int_equal(apply(LC_TOPIC_SESS_REVOKED,
	                     "{\"uid\":\"U1\",\"sids\":[\"S1\"],"
	                     "\"reason\":\"logout_all\",\"cut\":\"01D\"}"),
	    0);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U1", "S2"), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U2", "S3"), GW_VIEW_OK);
	assert_int_equal(check_imp("U1", "01C"), GW_VIEW_REVOKED);
	assert_int_equal(check_imp("U1", "01E"), GW_VIEW_OK);
	// a session opened before the cut, arriving late: ignored
	active("S4", "U1", "01B");
	assert_int_equal(check("U1", "S4"), GW_VIEW_UNKNOWN);
	// one opened after it (its user's cut is the new one): kept
	active("S5", "U1", "01D");
	assert_int_equal(check("U1", "S5"), GW_VIEW_OK);
	assert_int_equal(check_imp("U1", "01C"), GW_VIEW_REVOKED);
	// an older user.changed does not lower the cut
	assert_int_equal(
	    apply(LC_TOPIC_USER_CHANGED,
	        "{\"uid\":\"U1\",\"email\":\"a@x.io\",\"roles\":[],"
	        "\"verified\":false,\"cut\":\"01B\"}"),
	    0);
	assert_int_equal(check_imp("U1", "01C"), GW_VIEW_REVOKED);
	assert_int_equal(check("U1", "S5"), GW_VIEW_OK);
	// a cut for a user the view does not know is remembered
	assert_int_equal(apply(LC_TOPIC_SESS_REVOKED,
	                     "{\"uid\":\"U7\",\"sids\":[],"
	                     "\"reason\":\"password_reset\",\"cut\":\"01F\"}"),
	    0);
	assert_int_equal(check_imp("U7", "01G"), GW_VIEW_UNKNOWN);
	assert_int_equal(apply(LC_TOPIC_USER_CHANGED,
	                     "{\"uid\":\"U7\",\"email\":\"u7@x.io\","
	                     "\"roles\":[],\"verified\":true,\"cut\":\"\"}"),
	    0);
	assert_int_equal(check_imp("U7", "01E"), GW_VIEW_REVOKED);
	assert_int_equal(check_imp("U7", "01G"), GW_VIEW_OK);
}

static void
test_changed(void **state)
{
	json_t *c = NULL;

	(void) state;
	active("S1", "U1", "");
	assert_int_equal(apply(LC_TOPIC_USER_CHANGED,
	                     "{\"uid\":\"U1\",\"email\":\"new@x.io\","
	                     "\"roles\":[\"admin\"],\"verified\":false,"
	                     "\"cut\":\"\"}"),
	    0);
	assert_int_equal(
	    gw_view_check(gw.view, S("U1"), S("S1"), 0, &c), GW_VIEW_OK);
	assert_string_equal(
	    json_string_value(json_object_get(c, "email")), "new@x.io");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(c, "roles"), 0)),
	    "admin");
	assert_int_equal(json_array_size(json_object_get(c, "roles")), 1);
	assert_true(json_is_false(json_object_get(c, "verified")));
	json_decref(c);
	// an unknown user is added (impersonation can use it)
	assert_int_equal(apply(LC_TOPIC_USER_CHANGED,
	                     "{\"uid\":\"U2\",\"email\":null,\"roles\":null,"
	                     "\"verified\":true}"),
	    0);
	assert_int_equal(gw_view_users(gw.view), 2);
	assert_int_equal(
	    gw_view_check(gw.view, S("U2"), S("01A"), 1, &c), GW_VIEW_OK);
	assert_null(json_object_get(c, "email"));
	assert_int_equal(json_array_size(json_object_get(c, "roles")), 0);
	json_decref(c);
	// a cut carried by user.changed drops the sessions too
	assert_int_equal(
	    apply(LC_TOPIC_USER_CHANGED,
	        "{\"uid\":\"U1\",\"email\":\"new@x.io\","
	        "\"roles\":[],\"verified\":true,\"cut\":\"01C\"}"),
	    0);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	assert_int_equal(check_imp("U1", "01B"), GW_VIEW_REVOKED);
}

static void
test_deleted(void **state)
{
	(void) state;
	active("S1", "U1", "");
	active("S2", "U1", "");
	active("S3", "U2", "");
	assert_int_equal(apply(LC_TOPIC_USER_DELETED, "{\"uid\":\"U1\"}"), 0);
	assert_int_equal(gw_view_users(gw.view), 1);
	assert_int_equal(gw_view_sessions(gw.view), 1);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	assert_int_equal(check_imp("U1", "01Z"), GW_VIEW_UNKNOWN);
	// late events about the deleted user are ignored
	active("S9", "U1", "");
	assert_int_equal(apply(LC_TOPIC_USER_CHANGED,
	                     "{\"uid\":\"U1\",\"email\":\"a@x.io\","
	                     "\"roles\":[],\"verified\":true,\"cut\":\"\"}"),
	    0);
	assert_int_equal(gw_view_users(gw.view), 1);
	assert_int_equal(check("U1", "S9"), GW_VIEW_UNKNOWN);
	assert_int_equal(apply(LC_TOPIC_USER_DELETED, "{\"uid\":\"U1\"}"), 0);
	assert_int_equal(check("U2", "S3"), GW_VIEW_OK);
}

static json_t *
snapshot(const char *users, const char *sessions)
{
	char    buf[2048];
	json_t *j;

	(void) snprintf(buf, sizeof(buf),
	    "{\"seq\":42,\"src\":\"auth:x\",\"users\":%s,\"sessions\":%s}",
	    users, sessions);
	j = json_loads(buf, 0, NULL);
	assert_non_null(j);
	return (j);
}

#define U(id, cut)                                                         \
	"{\"uid\":\"" id "\",\"email\":\"" id "@x.io\",\"roles\":[\"r\"]," \
	"\"verified\":true,\"cut\":\"" cut "\"}"
#define SS(sid, uid) "{\"sid\":\"" sid "\",\"uid\":\"" uid "\"}"

static void
test_snapshot(void **state)
{
	json_t *s;

	(void) state;
	active("S0", "U0", "");
	s = snapshot("[" U("U1", "") "," U("U2", "01A") "]",
	    "[" SS("S1", "U1") "," SS("S2", "U1") "," SS("S3", "U2") "]");
	assert_int_equal(gw_view_install(gw.view, s), 0);
	json_decref(s);
	// swapped whole: S0 is gone
	assert_int_equal(gw_view_users(gw.view), 2);
	assert_int_equal(gw_view_sessions(gw.view), 3);
	assert_int_equal(check("U0", "S0"), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U1", "S1"), GW_VIEW_OK);
	assert_int_equal(check("U2", "S3"), GW_VIEW_OK);
	assert_int_equal(check_imp("U2", "019"), GW_VIEW_REVOKED);
	// revocations applied now (effects) ...
	assert_int_equal(apply(LC_TOPIC_SESS_REVOKED,
	                     "{\"uid\":\"U1\",\"sids\":[\"S1\"],"
	                     "\"reason\":\"logout\"}"),
	    0);
	assert_int_equal(apply(LC_TOPIC_SESS_REVOKED,
	                     "{\"uid\":\"U2\",\"sids\":[\"S3\"],"
	                     "\"reason\":\"logout_all\",\"cut\":\"01C\"}"),
	    0);
	// ... survive a snapshot that was read before them
	s = snapshot("[" U("U1", "") "," U("U2", "01A") "," U("U3", "") "]",
	    "[" SS("S1", "U1") "," SS("S2", "U1") "," SS("S3", "U2") "," SS(
	        "S4", "U2") "," SS("S5", "U3") "]");
	assert_int_equal(gw_view_install(gw.view, s), 0);
	json_decref(s);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U1", "S2"), GW_VIEW_OK);
	assert_int_equal(check("U2", "S3"), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U2", "S4"), GW_VIEW_UNKNOWN);
	assert_int_equal(check_imp("U2", "01B"), GW_VIEW_REVOKED);
	assert_int_equal(check("U3", "S5"), GW_VIEW_OK);
	// a snapshot read after the cut keeps the sessions opened since
	s = snapshot("[" U("U2", "01C") "]", "[" SS("S6", "U2") "]");
	assert_int_equal(gw_view_install(gw.view, s), 0);
	json_decref(s);
	assert_int_equal(check("U2", "S6"), GW_VIEW_OK);
	// a deleted user does not come back either
	assert_int_equal(apply(LC_TOPIC_USER_DELETED, "{\"uid\":\"U2\"}"), 0);
	s = snapshot("[" U("U2", "01C") "]", "[" SS("S6", "U2") "]");
	assert_int_equal(gw_view_install(gw.view, s), 0);
	json_decref(s);
	assert_int_equal(gw_view_users(gw.view), 0);
	assert_int_equal(check("U2", "S6"), GW_VIEW_UNKNOWN);
	// malformed entries are skipped (their sessions stay unknown)
	s = snapshot("[" U("U4", "") ",{\"uid\":5},{\"uid\":\"U5\","
	                             "\"roles\":\"x\"},7]",
	    "[" SS("S7", "U4") "," SS("S8", "U5") ",{\"sid\":\"S9\"},"
	                                          "\"S10\"," SS(
	                                              "S11", "NOBODY") "]");
	assert_int_equal(gw_view_install(gw.view, s), 0);
	json_decref(s);
	assert_int_equal(gw_view_users(gw.view), 1);
	assert_int_equal(gw_view_sessions(gw.view), 1);
	assert_int_equal(check("U4", "S7"), GW_VIEW_OK);
	// a malformed snapshot changes nothing
	s = json_pack("{s:[], s:{}}", "users", "sessions");
	assert_int_equal(gw_view_install(gw.view, s), LC_EPROTO);
	json_decref(s);
	s = json_pack("[]");
	assert_int_equal(gw_view_install(gw.view, s), LC_EPROTO);
	json_decref(s);
	assert_int_equal(gw_view_install(gw.view, NULL), LC_EPROTO);
	assert_int_equal(check("U4", "S7"), GW_VIEW_OK);
}

// A large snapshot: the tables grow; lookups stay right.
static void
test_many(void **state)
{
	json_t *users = json_array();
	json_t *sess  = json_array();
	json_t *s;
	char    uid[32];
	char    sid[32];
	int     i;

	(void) state;
	for (i = 0; i < 5000; i++) {
		(void) snprintf(uid, sizeof(uid), "U%05d", i);
		(void) json_array_append_new(users,
		    json_pack("{s:s, s:[], s:b}", "uid", uid, "roles",
		        "verified", 1));
		(void) snprintf(sid, sizeof(sid), "S%05d", i);
		(void) json_array_append_new(
		    sess, json_pack("{s:s, s:s}", "sid", sid, "uid", uid));
	}
	s = json_pack("{s:o, s:o}", "users", users, "sessions", sess);
	assert_int_equal(gw_view_install(gw.view, s), 0);
	json_decref(s);
	for (i = 0; i < 3000; i++) { // events past the snapshot's size
		(void) snprintf(uid, sizeof(uid), "V%05d", i);
		(void) snprintf(sid, sizeof(sid), "T%05d", i);
		active(sid, uid, "");
	}
	assert_int_equal(gw_view_sessions(gw.view), 8000);
	assert_int_equal(gw_view_users(gw.view), 8000);
	assert_int_equal(check("U04999", "S04999"), GW_VIEW_OK);
	assert_int_equal(check("V02999", "T02999"), GW_VIEW_OK);
	assert_int_equal(check("U00001", "S00002"), GW_VIEW_UNKNOWN);
}

static void
test_malformed(void **state)
{
	json_t *p;

	(void) state;
	active("S1", "U1", "");
	assert_int_equal(apply(LC_TOPIC_SESS_ACTIVE, "[]"), LC_EPROTO);
	assert_int_equal(apply(LC_TOPIC_SESS_ACTIVE, "null"), LC_EPROTO);
	assert_int_equal(
	    gw_view_apply(gw.view, LC_TOPIC_SESS_ACTIVE, NULL), LC_EPROTO);
	assert_int_equal(
	    apply(LC_TOPIC_SESS_ACTIVE, "{\"sid\":\"S2\"}"), LC_EPROTO);
	assert_int_equal(
	    apply(LC_TOPIC_SESS_ACTIVE, "{\"sid\":\"S2\",\"uid\":\"U1\"}"),
	    LC_EPROTO); // no user
	assert_int_equal(apply(LC_TOPIC_SESS_ACTIVE,
	                     "{\"sid\":\"S2\",\"uid\":\"U1\",\"user\":"
	                     "{\"roles\":[1]}}"),
	    LC_EPROTO);
	assert_int_equal(apply(LC_TOPIC_SESS_ACTIVE,
	                     "{\"sid\":\"S2\",\"uid\":\"U1\",\"user\":"
	                     "{\"verified\":\"yes\"}}"),
	    LC_EPROTO);
	assert_int_equal(apply(LC_TOPIC_SESS_ACTIVE,
	                     "{\"sid\":\"S2\",\"uid\":\"U1\",\"user\":"
	                     "{\"email\":\"a\\u0000b\"}}"),
	    LC_EPROTO);
	assert_int_equal(
	    apply(LC_TOPIC_SESS_ACTIVE,
	        "{\"sid\":\"S1234567890123456789012345678901234\",\"uid\":"
	        "\"U1\",\"user\":{}}"),
	    LC_EPROTO);
	assert_int_equal(
	    apply(LC_TOPIC_USER_CHANGED, "{\"uid\":3}"), LC_EPROTO);
	assert_int_equal(
	    apply(LC_TOPIC_USER_CHANGED, "{\"uid\":\"U1\",\"cut\":5}"),
	    LC_EPROTO);
	assert_int_equal(apply(LC_TOPIC_USER_DELETED, "{}"), LC_EPROTO);
	assert_int_equal(
	    apply(LC_TOPIC_SESS_REVOKED, "{\"sids\":5}"), LC_EPROTO);
	assert_int_equal(gw_view_sessions(gw.view), 1);
	// a revocation with a bad uid still kills the sids it names
	assert_int_equal(apply(LC_TOPIC_SESS_REVOKED,
	                     "{\"uid\":7,\"sids\":[\"S1\",3,\"\"],"
	                     "\"cut\":\"01X\"}"),
	    LC_EPROTO);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	// topics the view does not keep
	assert_int_equal(
	    apply(LC_TOPIC_APIKEY_REVOKED, "{\"uid\":\"U1\"}"), 0);
	assert_int_equal(apply(LC_TOPIC_RECORD_CREATED, "[1]"), 0);
	// the bad ones also go through gw_event_apply without harm
	p = json_pack("{s:i}", "uid", 1);
	gw_event_apply(&gw, LC_TOPIC_USER_DELETED, p);
	gw_event_apply(&gw, LC_TOPIC_SESS_REVOKED, NULL);
	json_decref(p);
}

static void
test_fx(void **state)
{
	json_t *fx;

	(void) state;
	fx = json_loads(
	    "[1, {\"t\":5}, {\"t\":\"no.such.topic\",\"p\":{}},"
	    " {\"t\":\"session.active\"},"
	    " {\"t\":\"session.active\",\"p\":{\"sid\":\"S1\",\"uid\":\"U1\","
	    "  \"user\":{\"email\":\"a@x.io\",\"roles\":[],\"verified\":true,"
	    "  \"cut\":\"\"}}},"
	    " {\"t\":\"session.active\",\"p\":{\"sid\":\"S2\",\"uid\":\"U1\","
	    "  \"user\":{\"email\":\"a@x.io\",\"roles\":[],\"verified\":true,"
	    "  \"cut\":\"\"}}},"
	    " {\"t\":\"session.revoked\",\"p\":{\"uid\":\"U1\",\"sids\":"
	    "  [\"S2\"],\"reason\":\"logout\"}}]",
	    0, NULL);
	assert_non_null(fx);
	gw_fx_apply(&gw, fx);
	json_decref(fx);
	assert_int_equal(check("U1", "S1"), GW_VIEW_OK);
	assert_int_equal(check("U1", "S2"), GW_VIEW_UNKNOWN);
	gw_fx_apply(&gw, NULL); // nothing
	fx = json_object();
	gw_fx_apply(&gw, fx); // not an array: nothing
	json_decref(fx);
}

// A bus reply with an fx key: applied before the response exists.
static void *
reply_msg(const struct lc_rep *rp)
{
	nng_msg *m   = NULL;
	void    *buf = NULL;
	size_t   len = 0;

	assert_int_equal(lc_env_encode_rep(rp, &buf, &len), 0);
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, buf, len), 0);
	lc_free(buf);
	return (m);
}

static void
test_reply_fx(void **state)
{
	struct lc_rep        rp;
	struct MHD_Response *resp;
	unsigned             status = 0;

	(void) state;
	active("S1", "U1", "");
	active("S2", "U1", "");
	// a logout: 200 OK with its effect
	lc_rep_init(&rp);
	lc_rep_json(&rp, 200, json_pack("{s:b}", "ok", 1));
	lc_rep_effect(&rp, LC_TOPIC_SESS_REVOKED,
	    json_pack("{s:s, s:[s], s:s}", "uid", "U1", "sids", "S1", "reason",
	        "logout"));
	resp = gw_resp_msg(&gw, reply_msg(&rp), &status);
	lc_rep_fini(&rp);
	assert_non_null(resp);
	assert_int_equal(status, 200);
	MHD_destroy_response(resp);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	assert_int_equal(check("U1", "S2"), GW_VIEW_OK);
	// on an error reply too (a reused refresh token revokes)
	lc_rep_init(&rp);
	lc_rep_effect(&rp, LC_TOPIC_SESS_REVOKED,
	    json_pack("{s:s, s:[s], s:s}", "uid", "U1", "sids", "S2", "reason",
	        "session_revoked"));
	lc_rep_error(&rp, LC_EREFRESH_TOKEN_REUSED, NULL, NULL);
	resp = gw_resp_msg(&gw, reply_msg(&rp), &status);
	lc_rep_fini(&rp);
	assert_non_null(resp);
	assert_int_equal(status, 401);
	MHD_destroy_response(resp);
	assert_int_equal(check("U1", "S2"), GW_VIEW_UNKNOWN);
	// fx that is not an array: ignored, the reply still goes out
	lc_rep_init(&rp);
	lc_rep_json(&rp, 200, json_object());
	rp.fx = json_object();
	resp  = gw_resp_msg(&gw, reply_msg(&rp), &status);
	lc_rep_fini(&rp);
	assert_non_null(resp);
	MHD_destroy_response(resp);
}

/* ---- end to end: publisher, fake auth, subscriber ---- */

static json_t         *snap_body; // what the fake auth answers
static pthread_mutex_t snap_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int      snap_calls;

static int
fake_snapshot(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(w);
	LC_UNUSED(rq);
	atomic_fetch_add(&snap_calls, 1);
	pthread_mutex_lock(&snap_mu);
	lc_rep_json(rp, 200, json_deep_copy(snap_body));
	pthread_mutex_unlock(&snap_mu);
	return (0);
}

static void
publish(struct lc_pub *pub, int topic, const char *payload)
{
	json_t *p = json_loads(payload, 0, NULL);

	assert_non_null(p);
	(void) lc_pub_send(pub, topic, p);
	json_decref(p);
}

// 1 if the view knows session sid of uid with that e-mail.
static int
has_email(const char *uid, const char *sid, const char *email)
{
	json_t *c = NULL;
	int     yes;

	if (gw_view_check(gw.view, S(uid), S(sid), 0, &c) != GW_VIEW_OK) {
		return (0);
	}
	yes =
	    strcmp(json_string_value(json_object_get(c, "email")), email) == 0;
	json_decref(c);
	return (yes);
}

static void
test_follow(void **state)
{
	static const struct lc_op ops[] = {
		{ LC_MSG_AUTH_SESSIONS_SNAPSHOT, fake_snapshot },
	};
	struct lc_bus_server_cfg cfg;
	struct lc_bus_server    *srv = NULL;
	struct lc_pub           *pub = NULL;

	(void) state;
	snap_body = snapshot("[" U("U1", "") "]", "[" SS("S1", "U1") "]");
	memset(&cfg, 0, sizeof(cfg));
	cfg.url      = "inproc://gw-auth";
	cfg.nworkers = 1;
	cfg.ops      = ops;
	cfg.nops     = LC_NELEM(ops);
	assert_int_equal(lc_bus_server_open(&cfg, &srv), 0);
	assert_int_equal(lc_pub_open("inproc://gw-auth-ev", "auth", &pub), 0);
	assert_int_equal(lc_client_open("inproc://gw-auth", "auth", 8,
	                     &gw.client[LC_SVC_AUTH][0]),
	    0);
	(void) snprintf(gw.cfg.events_url[LC_SVC_AUTH],
	    sizeof(gw.cfg.events_url[0]), "inproc://gw-auth-ev");
	gw_view_set_sync(gw.view, NULL, 0);
	assert_int_equal(gw_sessions_follow(&gw), 0);
	// in sync after the first heartbeat and its snapshot
	WAIT_FOR(gw_view_in_sync(gw.view), 4000);
	assert_true(gw_view_in_sync(gw.view));
	assert_true(atomic_load(&snap_calls) >= 1);
	assert_int_equal(check("U1", "S1"), GW_VIEW_OK);
	// events
	publish(pub, LC_TOPIC_SESS_ACTIVE,
	    "{\"sid\":\"S2\",\"uid\":\"U2\",\"user\":{\"email\":\"b@x.io\","
	    "\"roles\":[],\"verified\":false,\"cut\":\"\"}}");
	WAIT_FOR(gw_view_sessions(gw.view) == 2, 2000);
	assert_int_equal(check("U2", "S2"), GW_VIEW_OK);
	publish(pub, LC_TOPIC_SESS_REVOKED,
	    "{\"uid\":\"U1\",\"sids\":[\"S1\"],\"reason\":\"logout\"}");
	WAIT_FOR(gw_view_sessions(gw.view) == 1, 2000);
	assert_int_equal(check("U1", "S1"), GW_VIEW_UNKNOWN);
	publish(pub, LC_TOPIC_USER_CHANGED,
	    "{\"uid\":\"U2\",\"email\":\"c@x.io\",\"roles\":[\"x\"],"
	    "\"verified\":true,\"cut\":\"\"}");
	WAIT_FOR(has_email("U2", "S2", "c@x.io"), 2000);
	assert_true(has_email("U2", "S2", "c@x.io"));
	gw_sessions_unfollow(&gw);
	assert_false(gw_view_in_sync(gw.view));
	lc_client_close(gw.client[LC_SVC_AUTH][0]);
	gw.client[LC_SVC_AUTH][0] = NULL;
	lc_pub_close(pub);
	lc_bus_server_close(srv, 1000);
	json_decref(snap_body);
	snap_body = NULL;
}

// Without an auth to ask, the resync fails and the view stays out of sync.
static void
test_resync_fails_closed(void **state)
{
	(void) state;
	gw_view_set_sync(gw.view, NULL, 0);
	assert_int_equal(gw_sessions_resync(&gw), LC_EUNAVAILABLE);
	assert_int_equal(lc_client_open("inproc://gw-nobody", "auth", 8,
	                     &gw.client[LC_SVC_AUTH][0]),
	    0);
	assert_int_equal(gw_sessions_resync(&gw), LC_EUNAVAILABLE);
	lc_client_close(gw.client[LC_SVC_AUTH][0]);
	gw.client[LC_SVC_AUTH][0] = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_active, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fx, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reply_fx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_resync_fails_closed, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
