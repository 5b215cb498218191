/*
 * lc_codec_test.c -- msgpack <-> JSON: round trips of every type and the
 * limits (depth, truncation, trailing bytes, ext, uint64, UTF-8, NaN, huge
 * container headers).
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lc_codec.h"
#include "lc_err.h"

// JSON -> msgpack -> JSON, which must be equal to the input.
static void
roundtrip(json_t *j)
{
	void   *buf  = NULL;
	size_t  len  = 0;
	json_t *back = NULL;

	assert_int_equal(lc_codec_encode_json(j, &buf, &len), 0);
	assert_int_equal(lc_codec_decode_json(buf, len, &back), 0);
	if (!json_equal(j, back)) {
		char *a = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
		char *b = json_dumps(back, JSON_ENCODE_ANY | JSON_COMPACT);

		print_error("in:  %.300s\nout: %.300s\n", a, b);
		free(a);
		free(b);
		fail();
	}
	json_decref(back);
	lc_free(buf);
	json_decref(j);
}

// Packs with a callback then decodes; returns the decode result.
static int
decode_bytes(const void *p, size_t len, json_t **out)
{
	return (lc_codec_decode_json(p, len, out));
}

static void
test_scalars(void **state)
{
	(void) state;
	roundtrip(json_null());
	roundtrip(json_true());
	roundtrip(json_false());
	roundtrip(json_integer(0));
	roundtrip(json_integer(1));
	roundtrip(json_integer(-1));
	roundtrip(json_integer(127));
	roundtrip(json_integer(-33));
	roundtrip(json_integer(65536));
	roundtrip(json_integer(INT64_MAX));
	roundtrip(json_integer(INT64_MIN));
	roundtrip(json_real(0.1));
	roundtrip(json_real(-1e300));
	roundtrip(json_real(2.0));
	roundtrip(json_string(""));
	roundtrip(json_string("hello"));
	roundtrip(json_string("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
	roundtrip(json_stringn("a\0b", 3)); // embedded NUL
}

static void
test_containers(void **state)
{
	json_t *j;

	(void) state;
	roundtrip(json_array());
	roundtrip(json_object());
	j = json_pack("{s:i, s:[i, s, {s:n}], s:{s:b}, s:f}", "a", 1, "b", 2,
	    "x", "k", "c", "d", 1, "e", 1.5);
	assert_non_null(j);
	roundtrip(j);
	// Unicode keys.
	j = json_object();
	json_object_set_new(j, "cl\xc3\xa9", json_integer(1));
	json_object_set_new(j, "\xe6\x97\xa5\xe6\x9c\xac", json_string("v"));
	roundtrip(j);
	// A NUL inside a key is refused both ways.
	j = json_object();
	json_object_setn_new(j, "k\0ey", 4, json_integer(2));
	{
		void  *out = NULL;
		size_t len = 0;

		assert_int_equal(
		    lc_codec_encode_json(j, &out, &len), LC_EPROTO);
	}
	json_decref(j);
	// A long array (array16/array32 headers) and a long string.
	j = json_array();
	for (int i = 0; i < 70000; i++) {
		json_array_append_new(j, json_integer(i));
	}
	roundtrip(j);
}

static void
test_int_encodings(void **state)
{
	// Every msgpack integer width decodes to the same JSON integer.
	static const struct {
		unsigned char b[9];
		size_t        n;
		json_int_t    v;
	} cases[] = {
		{ { 0xcc, 0xff }, 2, 255 },
		{ { 0xcd, 0x01, 0x00 }, 3, 256 },
		{ { 0xce, 0x00, 0x01, 0x00, 0x00 }, 5, 65536 },
		{ { 0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9,
		    INT64_MAX },
		{ { 0xd0, 0x80 }, 2, -128 },
		{ { 0xd1, 0x80, 0x00 }, 3, -32768 },
		{ { 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 9, INT64_MIN },
		{ { 0xff }, 1, -1 },
	};

	(void) state;
	for (size_t i = 0; i < LC_NELEM(cases); i++) {
		json_t *j = NULL;

		assert_int_equal(decode_bytes(cases[i].b, cases[i].n, &j), 0);
		assert_true(json_is_integer(j));
		assert_true(json_integer_value(j) == cases[i].v);
		json_decref(j);
	}
}

static void
test_float32(void **state)
{
	unsigned char b[] = { 0xca, 0x3f, 0xc0, 0x00, 0x00 }; // 1.5f
	json_t       *j   = NULL;

	(void) state;
	assert_int_equal(decode_bytes(b, sizeof(b), &j), 0);
	assert_true(json_is_real(j));
	assert_true(json_real_value(j) == 1.5);
	json_decref(j);
}

static void
test_bin(void **state)
{
	unsigned char b[] = { 0xc4, 0x03, 0x00, 0xff, 0x10 };
	unsigned char e[] = { 0xc4, 0x00 };
	json_t       *j   = NULL;
	void         *out = NULL;
	size_t        len = 0;

	(void) state;
	assert_int_equal(decode_bytes(b, sizeof(b), &j), 0);
	assert_string_equal(
	    json_string_value(json_object_get(j, "$bin")), "AP8Q");
	assert_int_equal(lc_codec_encode_json(j, &out, &len), 0);
	assert_int_equal(len, sizeof(b));
	assert_memory_equal(out, b, sizeof(b));
	lc_free(out);
	json_decref(j);
	// Empty bin.
	assert_int_equal(decode_bytes(e, sizeof(e), &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "$bin")), "");
	assert_int_equal(lc_codec_encode_json(j, &out, &len), 0);
	assert_int_equal(len, 2);
	lc_free(out);
	json_decref(j);
	// Not base64url, or more keys: stays an object.
	roundtrip(json_pack("{s:s}", "$bin", "not base64!"));
	roundtrip(json_pack("{s:s}", "$bin", "AB")); // non-canonical bits
	roundtrip(json_pack("{s:s, s:i}", "$bin", "AA", "x", 1));
	roundtrip(json_pack("{s:i}", "$bin", 1));
	// bin nested in containers.
	roundtrip(json_pack(
	    "[{s:s}, {s:{s:s}}]", "$bin", "AAEC", "k", "$bin", "_-8"));
}

// n nested one-element arrays around 1.
static unsigned char *
nested(int n, size_t *len)
{
	unsigned char *b = lc_alloc((size_t) n + 1);

	memset(b, 0x91, (size_t) n);
	b[n] = 0x01;
	*len = (size_t) n + 1;
	return (b);
}

static void
test_depth(void **state)
{
	unsigned char *b;
	size_t         len;
	json_t        *j   = NULL, *inner;
	void          *out = NULL;

	(void) state;
	b = nested(32, &len);
	assert_int_equal(decode_bytes(b, len, &j), 0);
	json_decref(j);
	lc_free(b);
	b = nested(33, &len);
	assert_int_equal(decode_bytes(b, len, &j), LC_EPROTO);
	lc_free(b);
	b = nested(1000, &len);
	assert_int_equal(decode_bytes(b, len, &j), LC_EPROTO);
	lc_free(b);
	// Same limit when packing JSON.
	j = json_integer(1);
	for (int i = 0; i < 32; i++) {
		inner = json_array();
		json_array_append_new(inner, j);
		j = inner;
	}
	assert_int_equal(lc_codec_encode_json(j, &out, &len), 0);
	lc_free(out);
	inner = json_array();
	json_array_append_new(inner, j);
	assert_int_equal(lc_codec_encode_json(inner, &out, &len), LC_EPROTO);
	json_decref(inner);
}

static void
test_rejects(void **state)
{
	static const struct {
		const char   *what;
		unsigned char b[12];
		size_t        n;
	} bad[] = {
		{ "empty", { 0 }, 0 },
		{ "truncated str", { 0xa5, 'a', 'b' }, 3 },
		{ "truncated map", { 0x82, 0xa1, 'a', 0x01 }, 4 },
		{ "truncated u32", { 0xce, 0x00, 0x01 }, 3 },
		{ "trailing", { 0x01, 0x02 }, 2 },
		{ "trailing after map", { 0x80, 0xc0 }, 2 },
		{ "fixext1", { 0xd4, 0x01, 0x00 }, 3 },
		{ "ext8", { 0xc7, 0x01, 0x05, 0x00 }, 4 },
		{ "never used", { 0xc1 }, 1 },
		{ "uint64 max",
		    { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		    9 },
		{ "int64max+1", { 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 9 },
		{ "bad utf8 str", { 0xa2, 0xc3, 0x28 }, 3 },
		{ "overlong utf8", { 0xa2, 0xc0, 0x80 }, 3 },
		{ "lone surrogate", { 0xa3, 0xed, 0xa0, 0x80 }, 4 },
		{ "bad utf8 key", { 0x81, 0xa1, 0xff, 0x01 }, 4 },
		{ "int key", { 0x81, 0x01, 0x01 }, 3 },
		{ "nil key", { 0x81, 0xc0, 0x01 }, 3 },
		{ "NUL in key", { 0x81, 0xa2, 'a', 0x00, 0x01 }, 5 },
		{ "NaN", { 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0 }, 9 },
		{ "+Inf", { 0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0 }, 9 },
		{ "-Inf f32", { 0xca, 0xff, 0x80, 0x00, 0x00 }, 5 },
		// Headers claiming far more elements than bytes follow: must
		// fail without msgpack-c allocating count * 24 bytes.
		{ "array32 4G", { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 }, 6 },
		{ "map32 4G", { 0xdf, 0xff, 0xff, 0xff, 0xff, 0x01 }, 6 },
		{ "array16 big", { 0xdc, 0x10, 0x00, 0x01, 0x01 }, 5 },
		{ "str32 4G", { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' }, 6 },
		{ "bin32 4G", { 0xc6, 0xff, 0xff, 0xff, 0xff, 'a' }, 6 },
	};

	(void) state;
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		json_t *j = NULL;
		int     rv;

		rv = decode_bytes(bad[i].b, bad[i].n, &j);
		if (rv == 0) {
			fail_msg("accepted: %s", bad[i].what);
		}
		assert_int_equal(rv, LC_EPROTO);
		assert_null(j);
	}
	assert_int_equal(lc_codec_decode_json(NULL, 0, NULL), LC_EPROTO);
}

static void
test_nan_pack(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;

	(void) state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	assert_int_equal(lc_codec_pack_json(&pk, NULL), LC_EPROTO);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_to_json_object(void **state)
{
	msgpack_sbuffer  sb;
	msgpack_packer   pk;
	msgpack_unpacked up;
	json_t          *j = NULL;

	(void) state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "n", 1);
	msgpack_pack_int64(&pk, -5);
	msgpack_unpacked_init(&up);
	assert_int_equal(lc_codec_unpack(sb.data, sb.size, &up), 0);
	assert_int_equal(lc_codec_to_json(&up.data, &j), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "n")), -5);
	json_decref(j);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

// Regression (fuzz_codec): {"$bin": s} with s a non-canonical base64url
// or non-ASCII string ("\xdc\x9ain" decoded as "__in") must stay that
// object on a round trip.
static void
test_bin_object_noncanonical(void **state)
{
	static const char *const cases[] = { "aGl", "YR", "YS", "Yf", "_w",
		"__", "AB", "AAB", "\xdc\x9ain" };

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *in  = json_pack("{s:s}", "$bin", cases[i]);
		json_t *out = NULL;
		void   *buf = NULL;
		size_t  len = 0;

		assert_int_equal(lc_codec_encode_json(in, &buf, &len), 0);
		assert_int_equal(lc_codec_decode_json(buf, len, &out), 0);
		assert_true(json_equal(in, out));
		json_decref(in);
		json_decref(out);
		lc_free(buf);
	}
}

static void
test_json_depth(void **state)
{
	json_t *j = json_integer(1);

	(void) state;
	assert_true(lc_json_depth_ok(j, 1));
	assert_false(lc_json_depth_ok(j, 0));
	// Objects and arrays alternating around 1: n of them, n + 1 levels.
	for (int n = 1; n <= 30; n++) {
		if (n % 2) {
			json_t *o = json_object();

			json_object_set_new(o, "k", j);
			j = o;
		} else {
			j = json_pack("[o]", j);
		}
		assert_true(lc_json_depth_ok(j, n + 1));
		assert_false(lc_json_depth_ok(j, n));
	}
	json_decref(j);
	j = json_pack("{s:[], s:{}}", "a", "b");
	assert_true(lc_json_depth_ok(j, 2));
	assert_false(lc_json_depth_ok(j, 1));
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_bin_object_noncanonical),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_int_encodings),
		cmocka_unit_test(test_float32),
		cmocka_unit_test(test_bin),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_nan_pack),
		cmocka_unit_test(test_to_json_object),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
