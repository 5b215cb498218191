/*
 * lc_ids.c -- ULIDs, UUID v4, base64url and random tokens (see lc_ids.h).
 *
 * ULID: 48-bit Unix ms time, then 80 random bits, as 26 Crockford base32
 * characters (130 bits, the top two always 0, so the first char is <= '7').
 * Monotonic as in the ULID spec: within one ms (or if the wall clock steps
 * back) the previous randomness is incremented, so ids from one process are
 * strictly increasing as strings. The generator state is guarded by a mutex.
 */
#include "lc_ids.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc_err.h"
#include "lc_log.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The monotonic ULID generator (owned by lc_ulid_new).
static pthread_mutex_t ulid_mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t         ulid_last_ms;
static uint8_t         ulid_last_rand[10];

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void
sodium_start(void)
{
	// Idempotent and thread-safe; main calls it too. Failure means no
	// usable entropy source: nothing here can work, so stop.
	if (sodium_init() < 0) {
		lc_log_err("LC-SODIUM", "sodium_init failed");
		abort();
	}
}

static void
sodium_ready(void)
{
	pthread_once(&sodium_once, sodium_start);
}

// Encodes 16 bytes (6 time + 10 random) as 26 base32 chars: character i
// holds bits 5i-2 .. 5i+2 of the 128-bit big-endian value (2 leading 0s).
static void
ulid_encode(const uint8_t v[16], char out[LC_ULID_LEN + 1])
{
	for (int i = 0; i < LC_ULID_LEN; i++) {
		unsigned c = 0;

		for (int k = 0; k < 5; k++) {
			int      p   = 5 * i - 2 + k;
			unsigned bit = 0;

			if (p >= 0) {
				bit = ((unsigned) v[p / 8] >>
				          (unsigned) (7 - p % 8)) &
				    1u;
			}
			c = (c << 1) | bit;
		}
		out[i] = crockford[c];
	}
	out[LC_ULID_LEN] = '\0';
}

static void
ulid_build(int64_t ms, const uint8_t rnd[10], char out[LC_ULID_LEN + 1])
{
	uint8_t  v[16];
	uint64_t t = (uint64_t) ms & 0xffffffffffffull;

	for (int i = 0; i < 6; i++) {
		v[i] = (uint8_t) (t >> (8 * (5 - i)));
	}
	memcpy(v + 6, rnd, 10);
	ulid_encode(v, out);
}

void
lc_ulid_new(char out[LC_ULID_LEN + 1])
{
	int64_t now = lc_now_ms();
	int     carry;

	sodium_ready();
	pthread_mutex_lock(&ulid_mtx);
	if (now > ulid_last_ms) {
		ulid_last_ms = now;
		randombytes_buf(ulid_last_rand, sizeof(ulid_last_rand));
	} else {
		// Same ms, or the clock stepped back: stay on the last time
		// and add 1 to the 80-bit randomness.
		carry = 1;
		for (int i = 9; i >= 0 && carry; i--) {
			ulid_last_rand[i] = (uint8_t) (ulid_last_rand[i] + 1);
			carry             = ulid_last_rand[i] == 0;
		}
		if (carry) {
			// 2^80 ids in one ms cannot happen by chance; move to
			// the next ms rather than wrap around.
			ulid_last_ms++;
			randombytes_buf(
			    ulid_last_rand, sizeof(ulid_last_rand));
		}
	}
	ulid_build(ulid_last_ms, ulid_last_rand, out);
	pthread_mutex_unlock(&ulid_mtx);
}

void
lc_ulid_new_at(int64_t ms, char out[LC_ULID_LEN + 1])
{
	uint8_t rnd[10];

	sodium_ready();
	randombytes_buf(rnd, sizeof(rnd));
	ulid_build(ms < 0 ? 0 : ms, rnd, out);
}

int
lc_ulid_valid(const char *s, size_t len)
{
	if (s == NULL || len != LC_ULID_LEN || s[0] < '0' || s[0] > '7') {
		return (0);
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0' || strchr(crockford, s[i]) == NULL) {
			return (0);
		}
	}
	return (1);
}

void
lc_uuid4(char out[LC_UUID_LEN + 1])
{
	uint8_t b[16];

	sodium_ready();
	randombytes_buf(b, sizeof(b));
	b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40); // version 4
	b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80); // variant 10xx
	snprintf(out, LC_UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
}

char *
lc_b64url_encode(const void *bin, size_t len)
{
	static const unsigned char empty[1] = { 0 };
	size_t                     n;
	char                      *s;

	n = sodium_base64_ENCODED_LEN(
	    len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	s = lc_alloc(n);
	sodium_bin2base64(s, n, len > 0 ? bin : empty, len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return (s);
}

int
lc_b64url_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t *bin;
	size_t   n = 0;

	if (s == NULL && len > 0) {
		return (LC_EVALIDATION);
	}
	// libsodium maps some bytes >= 0x80 onto the alphabet: check the
	// alphabet ourselves so the decoding is strict (and canonical input is
	// the only input).
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char) s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) {
			return (LC_EVALIDATION);
		}
	}
	bin = lc_alloc(len / 4 * 3 + 3);
	// b64_end NULL: the whole input must be consumed, else -1 (with an
	// end pointer libsodium "succeeds" on a valid prefix).
	if (len > 0 &&
	    sodium_base642bin(bin, len / 4 * 3 + 3, s, len, NULL, &n, NULL,
	        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
		lc_free(bin);
		return (LC_EVALIDATION);
	}
	*out     = bin;
	*out_len = n;
	return (0);
}

char *
lc_random_token(size_t nbytes)
{
	uint8_t *b = lc_alloc(nbytes);
	char    *s;

	sodium_ready();
	randombytes_buf(b, nbytes);
	s = lc_b64url_encode(b, nbytes);
	sodium_memzero(b, nbytes);
	lc_free(b);
	return (s);
}
