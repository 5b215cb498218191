/*
 * json_test.c -- json.c writes what json_dumps(lc_codec_to_json(o),
 * JSON_COMPACT) writes, and refuses what lc_codec refuses; request ids.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "gw.h"
#include "lc_codec.h"
#include "lc_err.h"

// Packs JSON text with lc_codec, then compares both writers.
static void
same_as_jansson(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	json_t *back;
	void   *mp;
	size_t  len;
	msgpack_unpacked up;
	struct gw_buf    b = { 0 };
	char            *want;

	if (j == NULL) {
		fail_msg("bad test JSON %s: %s", text, e.text);
	}
	assert_int_equal(lc_codec_encode_json(j, &mp, &len), 0);
	msgpack_unpacked_init(&up);
	assert_int_equal(lc_codec_unpack(mp, len, &up), 0);
	assert_int_equal(lc_codec_to_json(&up.data, &back), 0);
	want = json_dumps(back, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_int_equal(gw_json_write(&b, &up.data), 0);
	gw_buf_put(&b, "", 1);
	if (strcmp(b.p, want) != 0) {
		fail_msg("%s: got %s, want %s", text, b.p, want);
	}
	free(want);
	lc_free(b.p);
	json_decref(back);
	json_decref(j);
	msgpack_unpacked_destroy(&up);
	lc_free(mp);
}

static void
test_values(void **state)
{
	(void) state;
	same_as_jansson("null");
	same_as_jansson("true");
	same_as_jansson("false");
	same_as_jansson("0");
	same_as_jansson("-1");
	same_as_jansson("9223372036854775807");
	same_as_jansson("-9223372036854775808");
	same_as_jansson("1.5");
	same_as_jansson("-0.0");
	same_as_jansson("1e300");
	same_as_jansson("1e-300");
	same_as_jansson("-2.5e-7");
	same_as_jansson("1e22");
	same_as_jansson("123456789012345680000.0");
	same_as_jansson("3.0");
	same_as_jansson("0.1");
	same_as_jansson("123456789.125");
	same_as_jansson("\"\"");
	same_as_jansson("\"plain\"");
	same_as_jansson(
	    "\"q\\\" b\\\\ s/ \\n\\r\\t\\b\\f \\u0001 \\u001f \\u007f\"");
	same_as_jansson("\"caf\\u00e9 \\u20ac \\ud83d\\ude00\"");
	same_as_jansson("\"nul \\u0000 inside\"");
	same_as_jansson("[]");
	same_as_jansson("{}");
	same_as_jansson("[1,\"a\",null,[true,{}]]");
	same_as_jansson(
	    "{\"b\":1,\"a\":{\"z\":[1,2],\"y\":\"x\"},\"k\\\"\":2}");
	same_as_jansson("{\"$bin\":\"AAEC_-8\"}");
	same_as_jansson("{\"x\":{\"$bin\":\"\"}}");
}

static void
test_settings_shape(void **state)
{
	(void) state;
	same_as_jansson(
	    "{\"maintenance_mode\":false,\"log_level\":\"info\","
	    "\"lockout_duration_ms\":900000,\"storage_cdn_url\":null,"
	    "\"resend_api_key\":\"********\",\"rate_limit_auth\":10}");
}

static void
test_refused(void **state)
{
	char             buf[64];
	msgpack_sbuffer  sb;
	msgpack_packer   pk;
	msgpack_unpacked up;
	struct gw_buf    b = { 0 };
	size_t           off;
	(void) state;
	(void) buf;
	// invalid UTF-8 string
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	(void) msgpack_pack_str(&pk, 2);
	(void) msgpack_pack_str_body(&pk, "\xC3\x28", 2);
	msgpack_unpacked_init(&up);
	assert_true(msgpack_unpack_next(&up, sb.data, sb.size,
	                (off = 0, &off)) == MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(gw_json_write(&b, &up.data), LC_EPROTO);
	assert_int_equal(b.len, 0);
	msgpack_sbuffer_clear(&sb);
	// uint64 above INT64_MAX
	(void) msgpack_pack_uint64(&pk, UINT64_MAX);
	assert_true(msgpack_unpack_next(&up, sb.data, sb.size,
	                (off = 0, &off)) == MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(gw_json_write(&b, &up.data), LC_EPROTO);
	msgpack_sbuffer_clear(&sb);
	// non-string key
	(void) msgpack_pack_map(&pk, 1);
	(void) msgpack_pack_int(&pk, 1);
	(void) msgpack_pack_int(&pk, 2);
	assert_true(msgpack_unpack_next(&up, sb.data, sb.size,
	                (off = 0, &off)) == MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(gw_json_write(&b, &up.data), LC_EPROTO);
	msgpack_sbuffer_clear(&sb);
	// (too deep cannot be built: msgpack-c stops at 32 levels itself)
	// a key with NUL (jansson refuses it; values may hold NUL)
	(void) msgpack_pack_map(&pk, 1);
	(void) msgpack_pack_str(&pk, 3);
	(void) msgpack_pack_str_body(&pk, "a\0b", 3);
	(void) msgpack_pack_int(&pk, 2);
	assert_true(msgpack_unpack_next(&up, sb.data, sb.size,
	                (off = 0, &off)) == MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(gw_json_write(&b, &up.data), LC_EPROTO);
	msgpack_sbuffer_clear(&sb);
	// NaN
	(void) msgpack_pack_double(&pk, 0.0 / 0.0);
	assert_true(msgpack_unpack_next(&up, sb.data, sb.size,
	                (off = 0, &off)) == MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(gw_json_write(&b, &up.data), LC_EPROTO);
	assert_int_equal(b.len, 0);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	lc_free(b.p);
}

static void
test_rid(void **state)
{
	char a[LC_UUID_LEN + 1];
	char b[LC_UUID_LEN + 1];
	int  i;

	(void) state;
	for (i = 0; i < 200; i++) { // crosses a pool refill
		gw_rid_new(a);
		assert_int_equal(strlen(a), 36);
		assert_true(gw_rid_valid(a));
		assert_int_equal(a[14], '4');
		assert_non_null(strchr("89ab", a[19]));
		assert_int_equal(a[8], '-');
		assert_int_equal(a[23], '-');
		gw_rid_new(b);
		assert_string_not_equal(a, b);
	}
	assert_true(gw_rid_valid("abc-123_x.y:z"));
	assert_false(gw_rid_valid(""));
	assert_false(gw_rid_valid("a b"));
	assert_false(gw_rid_valid("a/b"));
	memset(a, 'x', 36);
	a[36] = '\0';
	assert_true(gw_rid_valid(a));
	{
		char long_id[130];

		memset(long_id, 'x', 129);
		long_id[129] = '\0';
		assert_false(gw_rid_valid(long_id));
		long_id[128] = '\0';
		assert_true(gw_rid_valid(long_id));
	}
}

static void
test_big_ints_real(void **state)
{
	static const struct {
		const char *in, *out;
		size_t      changed;
	} v[] = {
		{ "{\"a\":9223372036854775807}", "{\"a\":9223372036854775807}",
		    0 },
		{ "{\"a\":9223372036854775808}",
		    "{\"a\":9223372036854775808.0}", 1 },
		{ "[-9223372036854775808,-9223372036854775809]",
		    "[-9223372036854775808,-9223372036854775809.0]", 1 },
		{ "[1e30,100000000000000000000.5,1000000000000000000000]",
		    "[1e30,100000000000000000000.5,1000000000000000000000.0]",
		    1 },
		// Digits inside strings (escapes included) are text.
		{ "{\"99999999999999999999\":\"\\\"99999999999999999999\"}",
		    "{\"99999999999999999999\":\"\\\"99999999999999999999\"}",
		    0 },
		{ "", "", 0 },
	};
	char  *out;
	size_t n;

	(void) state;
	for (size_t i = 0; i < LC_NELEM(v); i++) {
		assert_int_equal(
		    gw_json_big_ints_real(v[i].in, strlen(v[i].in), &out, &n),
		    v[i].changed);
		assert_int_equal(n, strlen(v[i].out));
		assert_string_equal(out, v[i].out);
		lc_free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_settings_shape),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_rid),
		cmocka_unit_test(test_big_ints_real),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
