/*
 * lc_jwt.c -- HS256 JWTs (see lc_jwt.h). Verification order: shape (three
 * base64url parts), header (a JSON object whose alg is exactly "HS256"),
 * signature (constant-time), then the payload (a JSON object with an
 * integer exp in the future). Every failure is LC_EINVALID_TOKEN except a
 * valid but expired token (LC_ETOKEN_EXPIRED); which check failed is never
 * told to the client.
 */
#include "lc_jwt.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "lc_err.h"
#include "lc_ids.h"

// Tokens longer than this are refused before any work.
#define JWT_MAX_LEN 8192

// base64url of {"alg":"HS256","typ":"JWT"}, the only header we sign with.
static const char jwt_header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

static void
hmac(const void *key, size_t keylen, const char *msg, size_t len,
    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;

	// init/update/final take a key of any length (the one-shot API
	// wants exactly 32 bytes).
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) msg, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

int
lc_jwt_sign(const json_t *claims, const void *key, size_t keylen, char **out)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char         *payload = NULL;
	char         *p64     = NULL;
	char         *s64     = NULL;
	char         *tok     = NULL;
	size_t        hlen    = sizeof(jwt_header_b64) - 1;
	size_t        plen, slen, n;
	int           rv = LC_EINTERNAL;

	if (claims == NULL || !json_is_object(claims) ||
	    (key == NULL && keylen > 0)) {
		return (LC_EINTERNAL);
	}
	if ((payload = json_dumps(claims, JSON_COMPACT)) == NULL) {
		goto out;
	}
	p64  = lc_b64url_encode(payload, strlen(payload));
	plen = strlen(p64);
	// header "." payload "." signature NUL
	n   = hlen + 1 + plen + 1 + 43 + 1;
	tok = lc_alloc(n);
	memcpy(tok, jwt_header_b64, hlen);
	tok[hlen] = '.';
	memcpy(tok + hlen + 1, p64, plen);
	hmac(key, keylen, tok, hlen + 1 + plen, mac);
	s64                  = lc_b64url_encode(mac, sizeof(mac));
	slen                 = strlen(s64);
	tok[hlen + 1 + plen] = '.';
	memcpy(tok + hlen + 1 + plen + 1, s64, slen + 1);
	*out = tok;
	tok  = NULL;
	rv   = 0;
out:
	free(payload); // json_dumps uses jansson's allocator (malloc)
	lc_free(p64);
	lc_free(s64);
	lc_free(tok);
	return (rv);
}

// Decodes a base64url part and parses it as a JSON object.
static int
part_json(const char *s, size_t len, json_t **out)
{
	uint8_t     *bin = NULL;
	size_t       n   = 0;
	json_t      *j;
	json_error_t e;

	if (len == 0 || lc_b64url_decode(s, len, &bin, &n) != 0) {
		return (LC_EINVALID_TOKEN);
	}
	j = json_loadb((const char *) bin, n, JSON_REJECT_DUPLICATES, &e);
	lc_free(bin);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return (LC_EINVALID_TOKEN);
	}
	*out = j;
	return (0);
}

int
lc_jwt_verify(const char *tok, size_t len, const void *key, size_t keylen,
    int64_t now_s, json_t **claims)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	const char   *d1, *d2;
	const json_t *alg, *exp;
	json_t       *hdr     = NULL;
	json_t       *payload = NULL;
	uint8_t      *sig     = NULL;
	size_t        siglen  = 0;
	int           rv      = LC_EINVALID_TOKEN;

	if (tok == NULL || len == 0 || len > JWT_MAX_LEN ||
	    (key == NULL && keylen > 0)) {
		return (LC_EINVALID_TOKEN);
	}
	// Exactly three parts: two dots, the second not in the last part.
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t) (d1 + 1 - tok))) ==
	        NULL ||
	    memchr(d2 + 1, '.', len - (size_t) (d2 + 1 - tok)) != NULL) {
		return (LC_EINVALID_TOKEN);
	}
	if (part_json(tok, (size_t) (d1 - tok), &hdr) != 0) {
		goto out;
	}
	alg = json_object_get(hdr, "alg");
	if (!json_is_string(alg) || json_string_length(alg) != 5 ||
	    memcmp(json_string_value(alg), "HS256", 5) != 0) {
		goto out; // "none", "hs256", "HS512", missing: all refused
	}
	if (lc_b64url_decode(
	        d2 + 1, len - (size_t) (d2 + 1 - tok), &sig, &siglen) != 0 ||
	    siglen != sizeof(mac)) {
		goto out;
	}
	hmac(key, keylen, tok, (size_t) (d2 - tok), mac);
	if (sodium_memcmp(mac, sig, sizeof(mac)) != 0) {
		goto out;
	}
	if (part_json(d1 + 1, (size_t) (d2 - d1 - 1), &payload) != 0) {
		goto out;
	}
	exp = json_object_get(payload, "exp");
	if (!json_is_integer(exp)) {
		goto out;
	}
	if (json_integer_value(exp) <= now_s) {
		rv = LC_ETOKEN_EXPIRED;
		goto out;
	}
	*claims = payload;
	payload = NULL;
	rv      = 0;
out:
	sodium_memzero(mac, sizeof(mac));
	json_decref(hdr);
	json_decref(payload);
	lc_free(sig);
	return (rv);
}
