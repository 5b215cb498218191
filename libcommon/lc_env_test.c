/*
 * lc_env_test.c -- envelope round trips (request, reply, event) and strict
 * decoding of hostile input.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <msgpack.h>
#include <string.h>

#include "lc_env.h"
#include "lc_err.h"
#include "lc_msg.h"

// Packs a map built by the caller's callback into a fresh buffer.
struct mp {
	msgpack_sbuffer sb;
	msgpack_packer  pk;
};

static void
mp_init(struct mp *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void
mp_str(struct mp *m, const char *s)
{
	msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

static void
test_req_roundtrip(void **state)
{
	struct lc_req rq, back;
	void         *buf = NULL;
	size_t        len = 0;

	(void) state;
	lc_req_init(&rq);
	rq.op = LC_MSG_AUTH_LOGIN;
	snprintf(rq.rid, sizeof(rq.rid), "01HVABC:req-1");
	snprintf(rq.ip, sizeof(rq.ip), "203.0.113.9");
	snprintf(rq.ua, sizeof(rq.ua), "curl/8.5.0");
	rq.deadline = 1790000000123;
	rq.caller   = json_pack("{s:s, s:s, s:s, s:[s], s:b}", "kind", "user",
	      "uid", "01HV", "sid", "s1", "roles", "admin", "verified", 1);
	rq.params   = json_pack("{s:s}", "id", "42");
	rq.query    = json_pack("{s:s}", "page", "2");
	rq.body = json_pack("{s:s, s:s}", "email", "a@b.c", "password", "pw");
	assert_int_equal(lc_env_encode_req(&rq, &buf, &len), 0);
	assert_int_equal(lc_env_decode_req(buf, len, &back), 0);
	assert_int_equal(back.v, 1);
	assert_int_equal(back.op, LC_MSG_AUTH_LOGIN);
	assert_string_equal(back.op_name, "auth.login");
	assert_string_equal(back.rid, "01HVABC:req-1");
	assert_string_equal(back.ip, "203.0.113.9");
	assert_string_equal(back.ua, "curl/8.5.0");
	assert_true(back.deadline == 1790000000123);
	assert_int_equal(back.caller_kind, LC_CALLER_USER);
	assert_true(json_equal(rq.caller, back.caller));
	assert_true(json_equal(rq.params, back.params));
	assert_true(json_equal(rq.query, back.query));
	assert_true(json_equal(rq.body, back.body));
	assert_null(back.raw);
	lc_req_fini(&back);
	lc_free(buf);
	lc_req_fini(&rq);
}

static void
test_req_minimal(void **state)
{
	struct lc_req rq, back;
	void         *buf = NULL;
	size_t        len = 0;

	(void) state;
	// Defaults: anon caller, empty params/query, no body.
	lc_req_init(&rq);
	rq.op = LC_MSG_SVC_HEALTH;
	assert_int_equal(lc_env_encode_req(&rq, &buf, &len), 0);
	assert_int_equal(lc_env_decode_req(buf, len, &back), 0);
	assert_int_equal(back.caller_kind, LC_CALLER_ANON);
	assert_string_equal(
	    json_string_value(json_object_get(back.caller, "kind")), "anon");
	assert_true(json_is_object(back.params));
	assert_int_equal(json_object_size(back.params), 0);
	assert_true(json_is_object(back.query));
	assert_null(back.body);
	assert_string_equal(back.rid, "");
	assert_true(back.deadline == 0);
	lc_req_fini(&back);
	lc_free(buf);
	// caller_kind without a caller object is sent as {kind}.
	rq.caller_kind = LC_CALLER_SERVICE;
	assert_int_equal(lc_env_encode_req(&rq, &buf, &len), 0);
	assert_int_equal(lc_env_decode_req(buf, len, &back), 0);
	assert_int_equal(back.caller_kind, LC_CALLER_SERVICE);
	lc_req_fini(&back);
	lc_free(buf);
	// An unknown op can be sent by name; it decodes with op -1.
	rq.op = -1;
	snprintf(rq.op_name, sizeof(rq.op_name), "no.such_op");
	assert_int_equal(lc_env_encode_req(&rq, &buf, &len), 0);
	assert_int_equal(lc_env_decode_req(buf, len, &back), 0);
	assert_int_equal(back.op, -1);
	assert_string_equal(back.op_name, "no.such_op");
	lc_req_fini(&back);
	lc_free(buf);
	rq.op_name[0] = '\0';
	assert_int_equal(lc_env_encode_req(&rq, &buf, &len), LC_EPROTO);
	lc_req_fini(&rq);
}

static void
test_req_raw(void **state)
{
	static const unsigned char data[] = { 0, 1, 2, 0xff };
	struct lc_req              rq, back;
	void                      *buf = NULL;
	size_t                     len = 0;

	(void) state;
	lc_req_init(&rq);
	rq.op      = LC_MSG_FILES_UPLOAD;
	rq.raw     = data;
	rq.raw_len = sizeof(data);
	assert_int_equal(lc_env_encode_req(&rq, &buf, &len), 0);
	assert_int_equal(lc_env_decode_req(buf, len, &back), 0);
	assert_null(back.body);
	assert_int_equal(back.raw_len, sizeof(data));
	assert_memory_equal(back.raw, data, sizeof(data));
	// Borrowed: points into buf.
	assert_true((const char *) back.raw >= (const char *) buf &&
	    (const char *) back.raw < (const char *) buf + len);
	lc_req_fini(&back);
	lc_free(buf);
	// An empty raw body stays a (non-NULL) raw body.
	rq.raw_len = 0;
	assert_int_equal(lc_env_encode_req(&rq, &buf, &len), 0);
	assert_int_equal(lc_env_decode_req(buf, len, &back), 0);
	assert_non_null(back.raw);
	assert_int_equal(back.raw_len, 0);
	lc_req_fini(&back);
	lc_free(buf);
}

// Request maps with one field altered; each must be refused.
static void
test_req_hostile(void **state)
{
	struct mp     m;
	struct lc_req rq;
	int           i;

	(void) state;
	for (i = 0; i < 14; i++) {
		mp_init(&m);
		msgpack_pack_map(&m.pk, 3);
		mp_str(&m, "v");
		msgpack_pack_int(&m.pk, i == 0 ? 2 : 1); // 0: unknown version
		mp_str(&m, "op");
		switch (i) {
		case 1:
			msgpack_pack_int(&m.pk, 5); // op not a string
			break;
		case 2:
			mp_str(&m, ""); // empty op
			break;
		case 3:
			mp_str(&m,
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaaaaaaaa"); // 64 chars
			break;
		case 4:
			mp_str(&m, "auth.login\n"); // control char
			break;
		default:
			mp_str(&m, "auth.login");
			break;
		}
		switch (i) {
		case 5:
			mp_str(&m, "params");
			msgpack_pack_array(&m.pk, 0); // params not a map
			break;
		case 6:
			mp_str(&m, "query");
			mp_str(&m, "a=b");
			break;
		case 7:
			mp_str(&m, "caller");
			msgpack_pack_int(&m.pk, 1);
			break;
		case 8:
			mp_str(&m, "caller");
			msgpack_pack_map(&m.pk, 1);
			mp_str(&m, "kind");
			msgpack_pack_int(&m.pk, 3); // kind not a string
			break;
		case 9:
			mp_str(&m, "ip");
			mp_str(&m,
			    "01234567890123456789012345678901234567890123456"
			    "789012345678901234"); // 65 chars
			break;
		case 10:
			mp_str(&m, "deadline");
			msgpack_pack_int(&m.pk, -1);
			break;
		case 11:
			mp_str(&m, "deadline");
			mp_str(&m, "soon");
			break;
		case 12:
			mp_str(&m, "op"); // duplicate known key
			mp_str(&m, "auth.login");
			break;
		case 13:
			mp_str(&m, "rid");
			msgpack_pack_int(&m.pk, 7);
			break;
		default:
			mp_str(&m, "x"); // unknown key: ignored
			msgpack_pack_int(&m.pk, 1);
			break;
		}
		lc_req_init(&rq);
		if (lc_env_decode_req(m.sb.data, m.sb.size, &rq) !=
		    LC_EPROTO) {
			fail_msg("case %d accepted", i);
		}
		assert_null(rq.caller);
		assert_null(rq.params);
		msgpack_sbuffer_destroy(&m.sb);
	}
	// Not a map, missing op, missing v.
	mp_init(&m);
	msgpack_pack_array(&m.pk, 0);
	assert_int_equal(
	    lc_env_decode_req(m.sb.data, m.sb.size, &rq), LC_EPROTO);
	msgpack_sbuffer_destroy(&m.sb);
	mp_init(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_str(&m, "v");
	msgpack_pack_int(&m.pk, 1);
	assert_int_equal(
	    lc_env_decode_req(m.sb.data, m.sb.size, &rq), LC_EPROTO);
	msgpack_sbuffer_destroy(&m.sb);
	mp_init(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_str(&m, "op");
	mp_str(&m, "svc.health");
	assert_int_equal(
	    lc_env_decode_req(m.sb.data, m.sb.size, &rq), LC_EPROTO);
	msgpack_sbuffer_destroy(&m.sb);
}

static void
test_req_rid_cleared(void **state)
{
	static const char *const bad[] = { "has space", "semi;colon",
		"new\nline", "\xc3\xa9" };
	struct mp                m;
	struct lc_req            rq;
	char                     long_rid[130];

	(void) state;
	memset(long_rid, 'a', 129);
	long_rid[129] = '\0';
	for (size_t i = 0; i <= LC_NELEM(bad); i++) {
		mp_init(&m);
		msgpack_pack_map(&m.pk, 3);
		mp_str(&m, "v");
		msgpack_pack_int(&m.pk, 1);
		mp_str(&m, "op");
		mp_str(&m, "svc.health");
		mp_str(&m, "rid");
		mp_str(&m, i < LC_NELEM(bad) ? bad[i] : long_rid);
		assert_int_equal(
		    lc_env_decode_req(m.sb.data, m.sb.size, &rq), 0);
		assert_string_equal(rq.rid, "");
		lc_req_fini(&rq);
		msgpack_sbuffer_destroy(&m.sb);
	}
	// 128 chars of the allowed alphabet are kept.
	memset(long_rid, 'Z', 128);
	long_rid[128] = '\0';
	mp_init(&m);
	msgpack_pack_map(&m.pk, 3);
	mp_str(&m, "v");
	msgpack_pack_int(&m.pk, 1);
	mp_str(&m, "op");
	mp_str(&m, "svc.health");
	mp_str(&m, "rid");
	mp_str(&m, long_rid);
	assert_int_equal(lc_env_decode_req(m.sb.data, m.sb.size, &rq), 0);
	assert_string_equal(rq.rid, long_rid);
	lc_req_fini(&rq);
	msgpack_sbuffer_destroy(&m.sb);
}

static void
test_rep_roundtrip(void **state)
{
	struct lc_rep rp, back;
	void         *buf = NULL;
	size_t        len = 0;

	(void) state;
	lc_rep_init(&rp);
	lc_rep_json(&rp, 201, json_pack("{s:s}", "id", "01HV"));
	lc_rep_header(&rp, "Location", "/api/v1/x/01HV");
	lc_rep_header(&rp, "Bad\r\nName", "x");               // refused
	lc_rep_header(&rp, "X-Inject", "a\r\nSet-Cookie: x"); // refused
	assert_int_equal(json_object_size(rp.headers), 1);
	assert_int_equal(lc_env_encode_rep(&rp, &buf, &len), 0);
	assert_int_equal(lc_env_decode_rep(buf, len, &back), 0);
	assert_int_equal(back.status, 201);
	assert_true(json_equal(rp.body, back.body));
	assert_true(json_equal(rp.headers, back.headers));
	lc_rep_fini(&back);
	lc_free(buf);
	lc_rep_fini(&rp);
}

static void
test_rep_error(void **state)
{
	struct lc_rep rp, back;
	void         *buf = NULL;
	size_t        len = 0;

	(void) state;
	lc_rep_init(&rp);
	lc_rep_json(&rp, 200, json_object());
	lc_rep_error(
	    &rp, LC_ENOT_FOUND, "Operation 'x' is not available.", NULL);
	assert_int_equal(rp.status, 404);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "code")), "not_found");
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "error")),
	    "Operation 'x' is not available.");
	assert_null(json_object_get(rp.body, "field"));
	lc_rep_error(&rp, LC_EVALIDATION, NULL, "email");
	assert_int_equal(rp.status, 400);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "error")),
	    "Validation failed.");
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "field")), "email");
	assert_int_equal(lc_env_encode_rep(&rp, &buf, &len), 0);
	assert_int_equal(lc_env_decode_rep(buf, len, &back), 0);
	assert_true(json_equal(rp.body, back.body));
	lc_rep_fini(&back);
	lc_free(buf);
	// Internal codes map to an API code.
	lc_rep_error(&rp, LC_EPROTO, NULL, NULL);
	assert_int_equal(rp.status, 500);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "code")),
	    "internal_error");
	lc_rep_fini(&rp);
	// Status 0 (never set) cannot be encoded.
	lc_rep_init(&rp);
	assert_int_equal(lc_env_encode_rep(&rp, &buf, &len), LC_EPROTO);
}

static void
test_rep_raw(void **state)
{
	struct lc_rep rp, back;
	void         *buf = NULL;
	size_t        len = 0;

	(void) state;
	lc_rep_init(&rp);
	rp.status  = 200;
	rp.raw_len = 5;
	rp.raw     = lc_alloc(5);
	memcpy(rp.raw, "\x89PNG", 5);
	snprintf(rp.content_type, sizeof(rp.content_type), "image/png");
	assert_int_equal(lc_env_encode_rep(&rp, &buf, &len), 0);
	lc_free(rp.raw);
	rp.raw = NULL;
	assert_int_equal(lc_env_decode_rep(buf, len, &back), 0);
	// Copied, so it survives the buffer.
	memset(buf, 0, len);
	assert_int_equal(back.raw_len, 5);
	assert_memory_equal(back.raw, "\x89PNG", 5);
	assert_string_equal(back.content_type, "image/png");
	assert_null(back.body);
	lc_rep_fini(&back);
	lc_free(buf);
	lc_rep_fini(&rp);
}

static void
test_rep_hostile(void **state)
{
	struct mp     m;
	struct lc_rep rp;

	(void) state;
	for (int i = 0; i < 6; i++) {
		mp_init(&m);
		msgpack_pack_map(&m.pk, 3);
		mp_str(&m, "v");
		msgpack_pack_int(&m.pk, 1);
		mp_str(&m, "status");
		msgpack_pack_int(&m.pk, i == 0 ? 99 : i == 1 ? 600 : 200);
		switch (i) {
		case 2:
			mp_str(&m, "headers");
			msgpack_pack_map(&m.pk, 1);
			mp_str(&m, "X-A");
			msgpack_pack_int(&m.pk, 1); // value not a string
			break;
		case 3:
			mp_str(&m, "headers");
			msgpack_pack_map(&m.pk, 1);
			mp_str(&m, "X-A");
			mp_str(&m, "a\r\nb"); // CRLF
			break;
		case 4:
			mp_str(&m, "ctype");
			mp_str(&m, "text/html\r\nX: y");
			break;
		case 5:
			mp_str(&m, "headers");
			mp_str(&m, "X-A: b");
			break;
		default:
			mp_str(&m, "zz");
			msgpack_pack_nil(&m.pk);
			break;
		}
		if (lc_env_decode_rep(m.sb.data, m.sb.size, &rp) !=
		    LC_EPROTO) {
			fail_msg("case %d accepted", i);
		}
		assert_null(rp.body);
		assert_null(rp.headers);
		msgpack_sbuffer_destroy(&m.sb);
	}
}

static void
test_event(void **state)
{
	json_t *p = json_pack(
	    "{s:I, s:{s:b}}", "version", (json_int_t) 7, "settings", "x", 1);
	json_t  *got = NULL;
	void    *buf = NULL;
	size_t   len = 0;
	int      topic;
	uint64_t seq;
	int64_t  ts;
	char     src[16];

	(void) state;
	assert_int_equal(
	    lc_env_encode_event(LC_TOPIC_SETTINGS_CHANGED, UINT64_MAX,
	        1790000000000, "admin:boot-1234567890", p, &buf, &len),
	    0);
	assert_memory_equal(buf, "set.", 4);
	assert_int_equal(lc_env_decode_event(buf, len, &topic, &seq, &ts, src,
	                     sizeof(src), &got),
	    0);
	assert_int_equal(topic, LC_TOPIC_SETTINGS_CHANGED);
	assert_true(seq == UINT64_MAX);
	assert_true(ts == 1790000000000);
	assert_string_equal(src, "admin:boot-1234"); // truncated to 15
	assert_true(json_equal(p, got));
	json_decref(got);
	// The tag and t must agree.
	memcpy(buf, "ses.", 4);
	got = NULL;
	assert_int_equal(lc_env_decode_event(buf, len, &topic, &seq, &ts, src,
	                     sizeof(src), &got),
	    LC_EPROTO);
	memcpy(buf, "zzz.", 4);
	assert_int_equal(lc_env_decode_event(buf, len, &topic, &seq, &ts, src,
	                     sizeof(src), &got),
	    LC_EPROTO);
	assert_int_equal(lc_env_decode_event(buf, 3, &topic, &seq, &ts, src,
	                     sizeof(src), &got),
	    LC_EPROTO);
	assert_null(got);
	lc_free(buf);
	// NULL payload: p is nil.
	assert_int_equal(lc_env_encode_event(LC_TOPIC_HEARTBEAT, 3, 0, "auth",
	                     NULL, &buf, &len),
	    0);
	assert_int_equal(
	    lc_env_decode_event(buf, len, &topic, &seq, NULL, NULL, 0, &got),
	    0);
	assert_true(json_is_null(got));
	assert_int_equal(seq, 3);
	json_decref(got);
	lc_free(buf);
	assert_int_equal(
	    lc_env_encode_event(LC_TOPIC_COUNT, 1, 0, "x", NULL, &buf, &len),
	    LC_EPROTO);
	json_decref(p);
}

// The user agent: printable ASCII up to LC_UA_MAX; anything else refused.
static void
test_req_ua(void **state)
{
	char          long_ua[LC_UA_MAX + 2];
	const char   *bad[] = { "tab\there", "\xc3\xa9", long_ua };
	struct mp     m;
	struct lc_req rq;

	(void) state;
	memset(long_ua, 'u', LC_UA_MAX + 1);
	long_ua[LC_UA_MAX + 1] = '\0';
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		mp_init(&m);
		msgpack_pack_map(&m.pk, 3);
		mp_str(&m, "v");
		msgpack_pack_int(&m.pk, 1);
		mp_str(&m, "op");
		mp_str(&m, "svc.health");
		mp_str(&m, "ua");
		mp_str(&m, bad[i]);
		lc_req_init(&rq);
		assert_int_equal(
		    lc_env_decode_req(m.sb.data, m.sb.size, &rq), LC_EPROTO);
		lc_req_fini(&rq);
		msgpack_sbuffer_destroy(&m.sb);
	}
}

// The body error a gateway leaves to the service (keys be, bem): round
// trip, and only the three body errors of API.md §1.4 step 7 decode.
static void
test_req_body_err(void **state)
{
	const char   *bad[] = { "internal_error", "forbidden", "nope" };
	struct lc_req rq, back;
	struct mp     m;
	void         *buf = NULL;
	size_t        len = 0;

	(void) state;
	lc_req_init(&rq);
	rq.op       = LC_MSG_RECORDS_CREATE;
	rq.body_err = LC_EINVALID_JSON;
	snprintf(rq.body_err_msg, sizeof(rq.body_err_msg), "bad at byte 1");
	assert_int_equal(lc_env_encode_req(&rq, &buf, &len), 0);
	lc_req_init(&back);
	assert_int_equal(lc_env_decode_req(buf, len, &back), 0);
	assert_int_equal(back.body_err, LC_EINVALID_JSON);
	assert_string_equal(back.body_err_msg, "bad at byte 1");
	assert_null(back.body);
	lc_req_fini(&back);
	lc_free(buf);
	lc_req_fini(&rq);
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		mp_init(&m);
		msgpack_pack_map(&m.pk, 3);
		mp_str(&m, "v");
		msgpack_pack_int(&m.pk, 1);
		mp_str(&m, "op");
		mp_str(&m, "records.create");
		mp_str(&m, "be");
		mp_str(&m, bad[i]);
		lc_req_init(&back);
		assert_int_equal(
		    lc_env_decode_req(m.sb.data, m.sb.size, &back), LC_EPROTO);
		lc_req_fini(&back);
		msgpack_sbuffer_destroy(&m.sb);
	}
}

// Effects travel with the reply, also on an error reply.
static void
test_rep_fx(void **state)
{
	struct lc_rep rp, back;
	void         *buf = NULL;
	size_t        len = 0;
	json_t       *e;

	(void) state;
	lc_rep_init(&rp);
	lc_rep_effect(&rp, LC_TOPIC_SESS_REVOKED,
	    json_pack("{s:s, s:[s]}", "uid", "U1", "sids", "S1"));
	lc_rep_effect(&rp, LC_TOPIC_USER_DELETED, NULL);
	lc_rep_error(&rp, LC_EREFRESH_TOKEN_REUSED, NULL, NULL);
	assert_int_equal(lc_env_encode_rep(&rp, &buf, &len), 0);
	assert_int_equal(lc_env_decode_rep(buf, len, &back), 0);
	assert_int_equal(back.status, 401);
	assert_int_equal(json_array_size(back.fx), 2);
	e = json_array_get(back.fx, 0);
	assert_string_equal(
	    json_string_value(json_object_get(e, "t")), "session.revoked");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(e, "p"), "uid")),
	    "U1");
	assert_true(
	    json_is_null(json_object_get(json_array_get(back.fx, 1), "p")));
	lc_rep_fini(&back);
	lc_free(buf);
	lc_rep_fini(&rp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_req_roundtrip),
		cmocka_unit_test(test_req_minimal),
		cmocka_unit_test(test_req_raw),
		cmocka_unit_test(test_req_hostile),
		cmocka_unit_test(test_req_rid_cleared),
		cmocka_unit_test(test_req_ua),
		cmocka_unit_test(test_rep_fx),
		cmocka_unit_test(test_rep_roundtrip),
		cmocka_unit_test(test_rep_error),
		cmocka_unit_test(test_rep_raw),
		cmocka_unit_test(test_rep_hostile),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_req_body_err),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
