/*
 * lc_ids_test.c -- ULID order and validity, UUID v4 shape, base64url
 * strictness, random tokens.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <stdlib.h>
#include <string.h>

#include "lc_err.h"
#include "lc_ids.h"

#define NULIDS 100000

static void
test_ulid_monotonic(void **state)
{
	char(*ids)[LC_ULID_LEN + 1] = lc_alloc(NULIDS * sizeof(*ids));

	(void) state;
	// A tight loop: many ids per millisecond, still strictly increasing.
	for (int i = 0; i < NULIDS; i++) {
		lc_ulid_new(ids[i]);
	}
	for (int i = 0; i < NULIDS; i++) {
		assert_int_equal(strlen(ids[i]), LC_ULID_LEN);
		assert_true(lc_ulid_valid(ids[i], LC_ULID_LEN));
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0) {
			fail_msg("not increasing at %d: %s >= %s", i,
			    ids[i - 1], ids[i]);
		}
	}
	lc_free(ids);
}

static void
test_ulid_time(void **state)
{
	char a[LC_ULID_LEN + 1], b[LC_ULID_LEN + 1];

	(void) state;
	lc_ulid_new_at(0, a);
	assert_memory_equal(a, "0000000000", 10);
	// The spec's example time 1469918176385 -> 01ARYZ6S41.
	lc_ulid_new_at(1469918176385, a);
	assert_memory_equal(a, "01ARYZ6S41", 10);
	// Max 48-bit time encodes as 7ZZZZZZZZZ.
	lc_ulid_new_at(0xffffffffffffLL, b);
	assert_memory_equal(b, "7ZZZZZZZZZ", 10);
	assert_true(lc_ulid_valid(b, LC_ULID_LEN));
	// Later time sorts later.
	lc_ulid_new_at(1469918176386, b);
	assert_true(strcmp(a, b) < 0);
}

static void
test_ulid_valid(void **state)
{
	(void) state;
	assert_true(lc_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAV", 26));
	assert_true(lc_ulid_valid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 26));
	assert_false(lc_ulid_valid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ", 26));
	assert_false(lc_ulid_valid("01arz3ndektsv4rrffq69g5fav", 26));
	assert_false(lc_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FA", 25));
	assert_false(lc_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAVX", 27));
	assert_false(lc_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAI", 26)); // I
	assert_false(lc_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAL", 26)); // L
	assert_false(lc_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAO", 26)); // O
	assert_false(lc_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAU", 26)); // U
	assert_false(lc_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5\0AV", 26));
	assert_false(lc_ulid_valid(NULL, 26));
}

static void
test_uuid4(void **state)
{
	char a[LC_UUID_LEN + 1], b[LC_UUID_LEN + 1];

	(void) state;
	lc_uuid4(a);
	lc_uuid4(b);
	assert_int_equal(strlen(a), 36);
	assert_string_not_equal(a, b);
	assert_int_equal(a[8], '-');
	assert_int_equal(a[13], '-');
	assert_int_equal(a[18], '-');
	assert_int_equal(a[23], '-');
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
}

static void
test_b64url(void **state)
{
	static const unsigned char bin[] = { 0xfb, 0xff, 0xfe, 0x00, 0x41 };
	char                      *s;
	uint8_t                   *out = NULL;
	size_t                     n   = 0;

	(void) state;
	s = lc_b64url_encode(bin, sizeof(bin));
	assert_string_equal(s, "-__-AEE");
	assert_int_equal(lc_b64url_decode(s, strlen(s), &out, &n), 0);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(out, bin, n);
	lc_free(out);
	lc_free(s);
	s = lc_b64url_encode(NULL, 0);
	assert_string_equal(s, "");
	lc_free(s);
	assert_int_equal(lc_b64url_decode("", 0, &out, &n), 0);
	assert_int_equal(n, 0);
	lc_free(out);
	// Strict: padding, standard alphabet, whitespace, bad length, and
	// non-zero trailing bits are all refused.
	assert_int_equal(
	    lc_b64url_decode("QUI=", 4, &out, &n), LC_EVALIDATION);
	assert_int_equal(
	    lc_b64url_decode("SflK+wRJ", 8, &out, &n), LC_EVALIDATION);
	assert_int_equal(
	    lc_b64url_decode("Sf/K", 4, &out, &n), LC_EVALIDATION);
	assert_int_equal(
	    lc_b64url_decode("QU I", 4, &out, &n), LC_EVALIDATION);
	assert_int_equal(lc_b64url_decode("Q", 1, &out, &n), LC_EVALIDATION);
	assert_int_equal(lc_b64url_decode("QR", 2, &out, &n), LC_EVALIDATION);
	assert_int_equal(
	    lc_b64url_decode("QUJD\n", 5, &out, &n), LC_EVALIDATION);
}

static void
test_random_token(void **state)
{
	char *a = lc_random_token(32);
	char *b = lc_random_token(32);

	(void) state;
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	for (const char *p = a; *p != '\0'; p++) {
		assert_non_null(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
		           "opqrstuvwxyz0123456789-_",
		        *p));
	}
	lc_free(a);
	lc_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ulid_monotonic),
		cmocka_unit_test(test_ulid_time),
		cmocka_unit_test(test_ulid_valid),
		cmocka_unit_test(test_uuid4),
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_random_token),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
