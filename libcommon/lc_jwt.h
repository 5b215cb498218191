/*
 * lc_jwt.h -- compact JWS with HS256 only (API.md §2.2). The key may have
 * any length (libsodium HMAC-SHA256 init/update/final). The header is
 * exactly {"alg":"HS256","typ":"JWT"} when signing; when verifying, any
 * "alg" other than "HS256" (including "none") is rejected. Signatures are
 * compared in constant time. Thread-safe.
 */
#ifndef LC_JWT_H
#define LC_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"

// Signs claims; *out is a new NUL-terminated string (lc_free).
LC_NODISCARD int lc_jwt_sign(
    const json_t *claims, const void *key, size_t keylen, char **out);

// Verifies format, alg and signature, then exp against now_s (seconds).
// Returns 0 with *claims (new reference), LC_EINVALID_TOKEN, or
// LC_ETOKEN_EXPIRED (exp <= now_s; *claims is still not set).
LC_NODISCARD int lc_jwt_verify(const char *tok, size_t len, const void *key,
    size_t keylen, int64_t now_s, json_t **claims);

#endif // LC_JWT_H
