/*
 * lc_ids.h -- identifiers and encodings: ULIDs (26 chars of Crockford
 * base32, strictly increasing within a process, even within one ms),
 * UUID v4 request ids, base64url (no padding) via libsodium.
 * Thread-safe (the ULID generator is guarded by a mutex).
 */
#ifndef LC_IDS_H
#define LC_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"

#define LC_ULID_LEN 26
#define LC_UUID_LEN 36

// Writes a new ULID and a NUL into out[27].
void lc_ulid_new(char out[LC_ULID_LEN + 1]);
// Same, for a given time (tests).
void lc_ulid_new_at(int64_t ms, char out[LC_ULID_LEN + 1]);
// 1 if s is 26 uppercase Crockford base32 chars with a valid time part.
int lc_ulid_valid(const char *s, size_t len);

// Writes a random UUID v4 and a NUL into out[37].
void lc_uuid4(char out[LC_UUID_LEN + 1]);

// base64url without padding. encode returns a new NUL-terminated string
// (lc_free). decode is strict (rejects padding and bad chars): 0 or
// LC_EVALIDATION; *out is lc_alloc'd, *out_len its length.
char            *lc_b64url_encode(const void *bin, size_t len);
LC_NODISCARD int lc_b64url_decode(
    const char *s, size_t len, uint8_t **out, size_t *out_len);

// Random token: n random bytes as base64url (n=32 gives 43 chars).
char *lc_random_token(size_t nbytes);

#endif // LC_IDS_H
