/*
 * validate_test.c -- the input rules of validate.c (API.md §2.5, §5.2):
 * e-mail trimming, lowercasing and validity (length in code points, one
 * '@', the domain's dots, whitespace and control characters anywhere),
 * the lockout key, password length in code points (not bytes), roles
 * (pattern, dedup keeping order, the 50 limit, wrong types) and the
 * metadata size limit on the compact serialization.
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

#include "auth.h"

static int
norm(const char *in, char *out)
{
	return (auth_email_norm(in, strlen(in), out, AUTH_EMAIL_MAX + 1));
}

static void
test_email_norm(void **state)
{
	char out[AUTH_EMAIL_MAX + 1];

	(void) state;
	assert_int_equal(norm("Alice@Example.COM", out), 17);
	assert_string_equal(out, "alice@example.com");
	assert_true(norm("  \t bob@example.com \r\n", out) > 0);
	assert_string_equal(out, "bob@example.com");
	// Unicode whitespace around it is trimmed too (U+00A0, U+3000).
	assert_true(norm("\xc2\xa0"
	                 "carol@example.com"
	                 "\xe3\x80\x80",
	                out) > 0);
	assert_string_equal(out, "carol@example.com");
	// Non-ASCII letters are kept as they are (no case folding).
	assert_true(norm("J\xc3\x9cRGEN@Example.de", out) > 0);
	assert_string_equal(out, "j\xc3\x9crgen@example.de");
	assert_true(norm("a@b.c", out) > 0);
	assert_true(norm("first.last+tag@sub.example.co.uk", out) > 0);
}

static void
test_email_invalid(void **state)
{
	static const char *bad[] = {
		"", "   ", "plain",
		"@example.com",   // empty local part
		"a@",             // empty domain
		"a@@example.com", // two '@'
		"a@b@example.com",
		"a@example",       // no dot
		"a@.example.com",  // starts with a dot
		"a@example.com.",  // ends with one
		"a b@example.com", // inner whitespace
		"a@exa mple.com", "a\t@example.com",
		"a\x01@example.com", // control characters
		"a\x7f@example.com",
		"a\xc2\x85@example.com",     // NEL (C1 control, whitespace)
		"a\xe2\x80\x83@example.com", // EM SPACE
		"a\xc3@example.com",         // truncated UTF-8
		"a\xff@example.com",         // not UTF-8 at all
	};
	char out[AUTH_EMAIL_MAX + 1];

	(void) state;
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		if (norm(bad[i], out) >= 0) {
			fail_msg("accepted: \"%s\"", bad[i]);
		}
	}
	// A NUL inside is a control character.
	assert_true(
	    auth_email_norm("a\0b@example.com", 15, out, sizeof(out)) < 0);
}

static void
test_email_length(void **state)
{
	char in[600];
	char out[AUTH_EMAIL_MAX + 1];
	char big[1024];

	(void) state;
	// 254 characters: 242 + "@example.com" (12).
	memset(in, 'a', 242);
	snprintf(in + 242, sizeof(in) - 242, "@example.com");
	assert_int_equal(strlen(in), 254);
	assert_int_equal(norm(in, out), 254);
	// 255: too long.
	memset(in, 'a', 243);
	snprintf(in + 243, sizeof(in) - 243, "@example.com");
	assert_true(norm(in, out) < 0);
	// Surrounding whitespace does not count.
	snprintf(big, sizeof(big), "   %.242s@example.com   ", in);
	assert_int_equal(norm(big, out), 254);
	// Far too long input never overflows the buffer.
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[10]              = '@';
	assert_true(norm(big, out) < 0);
	// A small buffer is respected.
	assert_true(auth_email_norm("alice@example.com", 17, out, 10) < 0);
}

static void
test_email_key(void **state)
{
	char out[AUTH_EMAIL_MAX + 1];

	(void) state;
	// The lockout key of a login e-mail, valid or not.
	assert_int_equal(
	    auth_email_key(" NotAnEmail ", 12, out, sizeof(out)), 10);
	assert_string_equal(out, "notanemail");
	assert_int_equal(auth_email_key("  ", 2, out, sizeof(out)), 0);
	assert_int_equal(auth_email_key("\xff", 1, out, sizeof(out)), -1);
}

static void
test_password(void **state)
{
	char buf[1024];

	(void) state;
	assert_false(auth_password_ok("", 0));
	assert_false(auth_password_ok("1234567", 7));
	assert_true(auth_password_ok("12345678", 8));
	// 7 code points in 14 bytes: too short, whatever the bytes say.
	snprintf(buf, sizeof(buf), "%s",
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	assert_int_equal(strlen(buf), 14);
	assert_false(auth_password_ok(buf, strlen(buf)));
	// 8 two-byte code points: fine.
	snprintf(buf, sizeof(buf), "%s",
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
	    "\xa9");
	assert_true(auth_password_ok(buf, strlen(buf)));
	// 128 code points of 4 bytes (512 bytes): fine; 129: too long.
	buf[0] = '\0';
	for (int i = 0; i < 128; i++) {
		memcpy(buf + 4 * i, "\xf0\x9f\x98\x80", 4);
	}
	assert_true(auth_password_ok(buf, 512));
	memcpy(buf + 512, "\xf0\x9f\x98\x80", 4);
	assert_false(auth_password_ok(buf, 516));
	// 128 ASCII: fine; 129: too long.
	memset(buf, 'p', 129);
	assert_true(auth_password_ok(buf, 128));
	assert_false(auth_password_ok(buf, 129));
	// Any characters, spaces and NULs included.
	assert_true(auth_password_ok("  \0  \0  ", 8));
	assert_int_equal(auth_utf8_count("a\xc3\xa9\xe2\x82\xac", 6), 3);
}

static json_t *
load(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	return (v);
}

static void
expect_roles(const char *in, const char *want)
{
	json_t *v   = load(in);
	json_t *got = auth_roles_clean(v);

	if (want == NULL) {
		if (got != NULL) {
			fail_msg("accepted: %s", in);
		}
	} else {
		json_t *w = load(want);

		assert_non_null(got);
		if (!json_equal(got, w)) {
			fail_msg("%s cleaned wrongly", in);
		}
		json_decref(w);
	}
	json_decref(got);
	json_decref(v);
}

static void
test_roles(void **state)
{
	char    buf[4096];
	size_t  n;
	json_t *v;
	json_t *got;

	(void) state;
	expect_roles("[]", "[]");
	expect_roles("[\"admin\",\"editor\"]", "[\"admin\",\"editor\"]");
	expect_roles("[\"b\",\"a\",\"b\",\"c\",\"a\"]", "[\"b\",\"a\",\"c\"]");
	expect_roles(
	    "[\"org:1:admin\",\"a_b-C9\"]", "[\"org:1:admin\",\"a_b-C9\"]");
	expect_roles("[\"\"]", NULL);
	expect_roles("[\"has space\"]", NULL);
	expect_roles("[\"dot.ted\"]", NULL);
	expect_roles("[\"caf\xc3\xa9\"]", NULL);
	expect_roles("[5]", NULL);
	expect_roles("[null]", NULL);
	expect_roles("[[\"a\"]]", NULL);
	expect_roles("\"admin\"", NULL);
	expect_roles("{\"a\":1}", NULL);
	expect_roles("null", NULL);
	assert_null(auth_roles_clean(NULL));
	// 64 characters are fine, 65 are not.
	n = (size_t) snprintf(buf, sizeof(buf), "[\"%064d\"]", 0);
	assert_true(n < sizeof(buf));
	expect_roles(buf, buf);
	snprintf(buf, sizeof(buf), "[\"%065d\"]", 0);
	expect_roles(buf, NULL);
	// 50 distinct roles fine, 51 not; duplicates do not count.
	v = json_array();
	for (int i = 0; i < 50; i++) {
		snprintf(buf, sizeof(buf), "r%d", i);
		json_array_append_new(v, json_string(buf));
		json_array_append_new(v, json_string(buf));
	}
	got = auth_roles_clean(v);
	assert_non_null(got);
	assert_int_equal(json_array_size(got), 50);
	assert_string_equal(json_string_value(json_array_get(got, 1)), "r1");
	json_decref(got);
	json_array_append_new(v, json_string("one-more"));
	assert_null(auth_roles_clean(v));
	json_decref(v);
}

static void
test_metadata(void **state)
{
	json_t *md;
	char   *big;
	size_t  n;

	(void) state;
	md = load("{}");
	assert_true(auth_metadata_ok(md));
	json_decref(md);
	md = load("{\"display_name\":\"Alice\",\"n\":[1,2,{\"x\":null}]}");
	assert_true(auth_metadata_ok(md));
	json_decref(md);
	for (const char *t = "[]\0\"x\"\0"
	                     "5\0null\0true\0";
	     *t != '\0'; t += strlen(t) + 1) {
		md = load(t);
		assert_false(auth_metadata_ok(md));
		json_decref(md);
	}
	assert_false(auth_metadata_ok(NULL));
	// {"k":"<v>"} is 8 bytes + v: exactly 65536 passes, 65537 fails.
	n   = AUTH_METADATA_MAX - 8;
	big = malloc(n + 2);
	assert_non_null(big);
	memset(big, 'v', n + 1);
	big[n] = '\0';
	md     = json_pack("{s:s}", "k", big);
	assert_true(auth_metadata_ok(md));
	json_decref(md);
	big[n]     = 'v';
	big[n + 1] = '\0';
	md         = json_pack("{s:s}", "k", big);
	assert_false(auth_metadata_ok(md));
	json_decref(md);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_email_norm),
		cmocka_unit_test(test_email_invalid),
		cmocka_unit_test(test_email_length),
		cmocka_unit_test(test_email_key),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_metadata),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
