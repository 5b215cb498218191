/*
 * lc_jwt_test.c -- HS256: the jwt.io vector, sign/verify round trip, and
 * the refusals (alg none, other algs, tampering, expiry, garbage).
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc_err.h"
#include "lc_ids.h"
#include "lc_jwt.h"

#define KEY "your-256-bit-secret"
#define KEYLEN (sizeof(KEY) - 1)

// The jwt.io example token.
static const char jwtio[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIy"
    "fQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

// Builds header.payload.signature for a crafted header, signed with key
// (or with an empty signature when key is NULL).
static char *
forge(const char *hdr, const char *payload, const char *key)
{
	crypto_auth_hmacsha256_state st;
	unsigned char                mac[crypto_auth_hmacsha256_BYTES];
	char                        *h = lc_b64url_encode(hdr, strlen(hdr));
	char  *p   = lc_b64url_encode(payload, strlen(payload));
	char  *sig = NULL;
	char  *out;
	size_t n;

	n   = strlen(h) + strlen(p) + 2 + 44;
	out = lc_alloc(n);
	snprintf(out, n, "%s.%s", h, p);
	if (key != NULL) {
		crypto_auth_hmacsha256_init(
		    &st, (const unsigned char *) key, strlen(key));
		crypto_auth_hmacsha256_update(
		    &st, (const unsigned char *) out, strlen(out));
		crypto_auth_hmacsha256_final(&st, mac);
		sig = lc_b64url_encode(mac, sizeof(mac));
	}
	snprintf(out, n, "%s.%s.%s", h, p, sig != NULL ? sig : "");
	lc_free(sig);
	lc_free(h);
	lc_free(p);
	return (out);
}

static void
test_jwtio_vector(void **state)
{
	json_t *claims = json_pack("{s:s, s:s, s:i}", "sub", "1234567890",
	    "name", "John Doe", "iat", 1516239022);
	char   *tok    = NULL;
	json_t *got    = NULL;

	(void) state;
	assert_int_equal(lc_jwt_sign(claims, KEY, KEYLEN, &tok), 0);
	assert_string_equal(tok, jwtio);
	lc_free(tok);
	json_decref(claims);
	// It has no exp: verification refuses it (every token we accept
	// must expire), but only after a valid signature.
	assert_int_equal(
	    lc_jwt_verify(jwtio, strlen(jwtio), KEY, KEYLEN, 1700000000, &got),
	    LC_EINVALID_TOKEN);
	assert_null(got);
}

static void
test_roundtrip(void **state)
{
	json_t *claims = json_pack("{s:s, s:I, s:s}", "sub", "01HV", "exp",
	    (json_int_t) 2000, "sid", "x");
	char   *tok    = NULL;
	json_t *got    = NULL;

	(void) state;
	assert_int_equal(lc_jwt_sign(claims, "k", 1, &tok), 0);
	assert_int_equal(
	    lc_jwt_verify(tok, strlen(tok), "k", 1, 1999, &got), 0);
	assert_true(json_equal(claims, got));
	json_decref(got);
	got = NULL;
	// exp <= now is expired.
	assert_int_equal(lc_jwt_verify(tok, strlen(tok), "k", 1, 2000, &got),
	    LC_ETOKEN_EXPIRED);
	assert_null(got);
	assert_int_equal(lc_jwt_verify(tok, strlen(tok), "k", 1, 5000, &got),
	    LC_ETOKEN_EXPIRED);
	// Wrong key.
	assert_int_equal(lc_jwt_verify(tok, strlen(tok), "K", 1, 1999, &got),
	    LC_EINVALID_TOKEN);
	// A long key (> 64 bytes, hashed by HMAC) works too.
	lc_free(tok);
	{
		char key[200];

		memset(key, 'z', sizeof(key));
		assert_int_equal(
		    lc_jwt_sign(claims, key, sizeof(key), &tok), 0);
		assert_int_equal(lc_jwt_verify(tok, strlen(tok), key,
		                     sizeof(key), 1999, &got),
		    0);
		json_decref(got);
		lc_free(tok);
	}
	json_decref(claims);
}

static void
test_tampered(void **state)
{
	json_t *claims = json_pack(
	    "{s:s, s:I}", "sub", "a", "exp", (json_int_t) 4000000000);
	char   *tok = NULL;
	json_t *got = NULL;
	char   *dot;
	size_t  n;

	(void) state;
	assert_int_equal(lc_jwt_sign(claims, KEY, KEYLEN, &tok), 0);
	n = strlen(tok);
	// Flip a signature character (still valid base64url).
	tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(
	    lc_jwt_verify(tok, n, KEY, KEYLEN, 0, &got), LC_EINVALID_TOKEN);
	tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
	// Truncated signature.
	assert_int_equal(lc_jwt_verify(tok, n - 1, KEY, KEYLEN, 0, &got),
	    LC_EINVALID_TOKEN);
	// Change the payload.
	dot    = strchr(tok, '.');
	dot[3] = dot[3] == 'x' ? 'y' : 'x';
	assert_int_equal(
	    lc_jwt_verify(tok, n, KEY, KEYLEN, 0, &got), LC_EINVALID_TOKEN);
	assert_null(got);
	lc_free(tok);
	json_decref(claims);
}

static void
test_alg_none(void **state)
{
	char   *t;
	json_t *got = NULL;
	size_t  n;

	(void) state;
	// {"alg":"none"} with an empty signature.
	t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    "{\"sub\":\"a\",\"exp\":4000000000}", NULL);
	n = strlen(t);
	assert_int_equal(
	    lc_jwt_verify(t, n, KEY, KEYLEN, 0, &got), LC_EINVALID_TOKEN);
	// Without the trailing dot (two parts).
	assert_int_equal(
	    lc_jwt_verify(t, n - 1, KEY, KEYLEN, 0, &got), LC_EINVALID_TOKEN);
	lc_free(t);
	// A correctly signed token whose header says none, another alg, a
	// different case, or nothing: the alg check refuses them all.
	{
		static const char *const hdrs[] = {
			"{\"alg\":\"none\",\"typ\":\"JWT\"}",
			"{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
			"{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
			"{\"alg\":\"HS256\\u0000\",\"typ\":\"JWT\"}",
			"{\"typ\":\"JWT\"}",
			"[\"HS256\"]",
			"{\"alg\":\"HS256\",\"alg\":\"none\"}",
		};

		for (size_t i = 0; i < LC_NELEM(hdrs); i++) {
			t = forge(hdrs[i], "{\"exp\":4000000000}", KEY);
			assert_int_equal(
			    lc_jwt_verify(t, strlen(t), KEY, KEYLEN, 0, &got),
			    LC_EINVALID_TOKEN);
			lc_free(t);
		}
	}
	// The same construction with the standard header is accepted, so
	// the refusals above are about the header alone.
	t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"exp\":4000000000}", KEY);
	assert_int_equal(lc_jwt_verify(t, strlen(t), KEY, KEYLEN, 0, &got), 0);
	json_decref(got);
	got = NULL;
	lc_free(t);
	// Extra header fields (kid) are fine.
	t = forge(
	    "{\"alg\":\"HS256\",\"kid\":\"1\"}", "{\"exp\":4000000000}", KEY);
	assert_int_equal(lc_jwt_verify(t, strlen(t), KEY, KEYLEN, 0, &got), 0);
	json_decref(got);
	got = NULL;
	lc_free(t);
	assert_null(got);
}

static void
test_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		".",
		"..",
		"a.b.c",
		"a.b",
		"a.b.c.d",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30."
		"SflKxwRJSMeKKF2QT4fwpMeJf"
		"36POk6yJV_adQssw5c",
		// Padded / standard alphabet signature.
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.SflK+"
		"wRJSMeKKF2QT4fwpMeJ"
		"f36POk6yJV/adQssw5c=",
		"not a token at all",
	};
	json_t *got = NULL;

	(void) state;
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		assert_int_equal(lc_jwt_verify(bad[i], strlen(bad[i]), KEY,
		                     KEYLEN, 0, &got),
		    LC_EINVALID_TOKEN);
	}
	assert_int_equal(
	    lc_jwt_verify(NULL, 0, KEY, KEYLEN, 0, &got), LC_EINVALID_TOKEN);
	assert_null(got);
}

// A token whose payload is valid except exp (string, float, missing) or
// which is not an object: all invalid even with a good signature.
static void
test_bad_exp(void **state)
{
	static const char *const payloads[] = {
		"{\"exp\":\"4000000000\"}",
		"{\"exp\":4000000000.5}",
		"{\"sub\":\"x\"}",
	};
	json_t *got = NULL;

	(void) state;
	for (size_t i = 0; i < LC_NELEM(payloads); i++) {
		json_t *c   = json_loads(payloads[i], 0, NULL);
		char   *tok = NULL;

		assert_non_null(c);
		assert_int_equal(lc_jwt_sign(c, KEY, KEYLEN, &tok), 0);
		assert_int_equal(
		    lc_jwt_verify(tok, strlen(tok), KEY, KEYLEN, 0, &got),
		    LC_EINVALID_TOKEN);
		lc_free(tok);
		json_decref(c);
	}
	// Signing refuses a non-object.
	{
		json_t *a   = json_array();
		char   *tok = NULL;

		assert_int_not_equal(lc_jwt_sign(a, KEY, KEYLEN, &tok), 0);
		json_decref(a);
	}
	assert_null(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwtio_vector),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_bad_exp),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
