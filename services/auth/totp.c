/*
 * totp.c -- two-factor authentication (API.md §2.9, §2.10): secrets,
 * codes, challenges and the /auth/2fa endpoints.
 *
 * Codes are RFC 6238 TOTP: HMAC-SHA1, 6 digits, 30 s steps, T0 = 0,
 * computed with liboath. A code is checked against steps t-1, t and t+1
 * (all three are computed and compared in constant time) and accepted
 * only for a step later than users.totp_last_step, which the accepting
 * write stores (enable, verify, disable), so a code works at most once.
 *
 * A secret is 20 random bytes in base32 (32 characters). /2fa/setup
 * stores it as totp_pending; /2fa/enable moves it to totp_secret once a
 * code for it is right. Checks and the write that depends on them run in
 * one IMMEDIATE transaction, so concurrent requests cannot both accept.
 *
 * A TotpChallenge token (login or magic link of a 2FA user) is 32 random
 * bytes, base64url; only its SHA-256 is stored, with the account and the
 * e-mail its failures count against (lockout, §2.6), for 5 minutes.
 */
#include <liboath/oath.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_settings.h"

#define TOTP_STEP_S 30
#define TOTP_DIGITS 6
#define TOTP_SECRET_BYTES 20

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int            oath_ok;

static void
oath_start(void)
{
	int rc = oath_init();

	if (rc != OATH_OK) {
		lc_log_err("AUTH-TOTP", "oath_init: %s", oath_strerror(rc));
		return;
	}
	oath_ok = 1;
}

// Sets the error reply and returns its code.
static int
fail(struct lc_rep *rp, int err, const char *msg, const char *field)
{
	lc_rep_error(rp, err, msg, field);
	return (err);
}

static const char *
caller_uid(const struct lc_req *rq)
{
	const char *uid =
	    json_string_value(json_object_get(rq->caller, "uid"));

	return (uid != NULL && strlen(uid) == AUTH_ID_LEN ? uid : NULL);
}

// The answer for a credential whose user no longer exists.
static int
caller_gone(const struct lc_req *rq)
{
	return (rq->caller_kind == LC_CALLER_APIKEY ? LC_EINVALID_API_KEY
	                                            : LC_ESESSION_REVOKED);
}

/* ---- secrets and codes ---- */

void
auth_totp_secret_new(char out[AUTH_TOTP_SECRET_LEN + 1])
{
	char   raw[TOTP_SECRET_BYTES];
	char  *b32 = NULL;
	size_t len = 0;

	(void) pthread_once(&oath_once, oath_start);
	randombytes_buf(raw, sizeof(raw));
	// 160 bits are exactly 32 base32 characters: no padding.
	if (oath_base32_encode(raw, sizeof(raw), &b32, &len) != OATH_OK ||
	    len != AUTH_TOTP_SECRET_LEN) {
		lc_log_err("AUTH-TOTP", "base32 encoding failed");
		abort(); // cannot happen with a valid input
	}
	memcpy(out, b32, AUTH_TOTP_SECRET_LEN);
	out[AUTH_TOTP_SECRET_LEN] = '\0';
	sodium_memzero(b32, len);
	free(b32);
	sodium_memzero(raw, sizeof(raw));
}

int
auth_totp_code(const char *secret_b32, int64_t step, char out[7])
{
	char  *key = NULL;
	size_t len = 0;
	int    rc;

	(void) pthread_once(&oath_once, oath_start);
	if (!oath_ok || step < 0 ||
	    oath_base32_decode(secret_b32, strlen(secret_b32), &key, &len) !=
	        OATH_OK) {
		return (LC_EINTERNAL);
	}
	rc = oath_totp_generate(key, len, (time_t) (step * TOTP_STEP_S),
	    TOTP_STEP_S, OATH_TOTP_DEFAULT_START_TIME, TOTP_DIGITS, out);
	sodium_memzero(key, len);
	free(key);
	if (rc != OATH_OK) {
		lc_log_err(
		    "AUTH-TOTP", "oath_totp_generate: %s", oath_strerror(rc));
		return (LC_EINTERNAL);
	}
	out[TOTP_DIGITS] = '\0';
	return (0);
}

int
auth_totp_check(const char *secret_b32, const char code[7], int64_t now_s,
    int64_t last_step, int64_t *step)
{
	int64_t t     = now_s / TOTP_STEP_S;
	int64_t found = -1;
	char    want[8];

	for (int64_t s = t - 1; s <= t + 1; s++) {
		if (auth_totp_code(secret_b32, s, want) != 0) {
			continue;
		}
		// Every step is computed and compared: no early exit.
		if (sodium_memcmp(want, code, TOTP_DIGITS) == 0 &&
		    s > last_step) {
			found = s;
		}
	}
	sodium_memzero(want, sizeof(want));
	if (found < 0) {
		return (LC_EINVALID_TOTP_CODE);
	}
	*step = found;
	return (0);
}

int
auth_totp_code_parse(const json_t *v, char out[7])
{
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 0 || n > 999999) {
			return (LC_EVALIDATION);
		}
		(void) snprintf(out, 7, "%06d", (int) n);
		return (0);
	}
	if (!json_is_string(v)) {
		return (LC_EVALIDATION);
	}
	return (auth_totp_code_parse_str(
	    json_string_value(v), json_string_length(v), out));
}

int
auth_totp_code_parse_str(const char *s, size_t len, char out[7])
{
	if (len != TOTP_DIGITS) {
		return (LC_EVALIDATION);
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return (LC_EVALIDATION);
		}
	}
	memcpy(out, s, TOTP_DIGITS);
	out[TOTP_DIGITS] = '\0';
	return (0);
}

// RFC 3986 percent-encoding: everything but the unreserved characters.
static void
pct(char **p, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			*(*p)++ = (char) c;
		} else {
			*(*p)++ = '%';
			*(*p)++ = hex[c >> 4];
			*(*p)++ = hex[c & 15];
		}
	}
}

char *
auth_totp_url(const char *issuer, const char *email, const char *secret)
{
	size_t n =
	    3 * (2 * strlen(issuer) + strlen(email)) + strlen(secret) + 128;
	char *out = lc_alloc(n);
	char *p   = out;

	memcpy(p, "otpauth://totp/", 15);
	p += 15;
	pct(&p, issuer);
	*p++ = ':';
	pct(&p, email);
	memcpy(p, "?secret=", 8);
	p += 8;
	memcpy(p, secret, strlen(secret));
	p += strlen(secret);
	memcpy(p, "&issuer=", 8);
	p += 8;
	pct(&p, issuer);
	(void) snprintf(p, n - (size_t) (p - out), "%s",
	    "&algorithm=SHA1&digits=6&period=30");
	return (out);
}

/* ---- the user's TOTP columns ---- */

struct totp_row {
	int     enabled;
	char    secret[AUTH_TOTP_SECRET_LEN + 1];  // "" when none
	char    pending[AUTH_TOTP_SECRET_LEN + 1]; // "" when none
	int64_t last_step;
	char    email[AUTH_EMAIL_MAX + 1];
};

static void
copy_col(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	int                  n = sqlite3_column_bytes(st, col);

	out[0] = '\0';
	if (s != NULL && n > 0 && (size_t) n < cap) {
		memcpy(out, s, (size_t) n);
		out[n] = '\0';
	}
}

// 0, LC_ENOT_FOUND or LC_EINTERNAL.
static int
totp_load(struct lc_worker *w, const char *uid, struct totp_row *r)
{
	sqlite3_stmt *st = auth_stmt(w,
	    "SELECT totp_enabled, totp_secret, totp_pending, totp_last_step, "
	    "email FROM users WHERE id = ?1");
	int           rv = LC_EINTERNAL;
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		goto out;
	}
	if ((sr = sqlite3_step(st)) == SQLITE_DONE) {
		rv = LC_ENOT_FOUND;
		goto out;
	}
	if (sr != SQLITE_ROW) {
		lc_log_err(
		    "AUTH-SQL", "totp_load: %s", sqlite3_errmsg(auth_conn(w)));
		goto out;
	}
	r->enabled = sqlite3_column_int(st, 0) != 0;
	copy_col(st, 1, r->secret, sizeof(r->secret));
	copy_col(st, 2, r->pending, sizeof(r->pending));
	r->last_step = sqlite3_column_int64(st, 3);
	copy_col(st, 4, r->email, sizeof(r->email));
	rv = 0;
out:
	lc_db_done(st);
	return (rv);
}

static void
totp_row_wipe(struct totp_row *r)
{
	sodium_memzero(r->secret, sizeof(r->secret));
	sodium_memzero(r->pending, sizeof(r->pending));
}

// Runs a prepared write; 0 or LC_EINTERNAL (logged).
static int
step_done(struct lc_worker *w, sqlite3_stmt *st, const char *what)
{
	int sr = sqlite3_step(st);

	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err(
		    "AUTH-SQL", "%s: %s", what, sqlite3_errmsg(auth_conn(w)));
		return (LC_EINTERNAL);
	}
	return (0);
}

/* ---- challenges ---- */

int
auth_totp_challenge(
    struct lc_worker *w, const struct auth_user *u, json_t **out)
{
	sqlite3_stmt *st;
	uint8_t       h[crypto_hash_sha256_BYTES];
	char         *tok = lc_random_token(32);
	int64_t       now = lc_now_ms();
	int           rv  = LC_EINTERNAL;

	crypto_hash_sha256(h, (const unsigned char *) tok, strlen(tok));
	// Spent and expired challenges of this user go first.
	st = auth_stmt(w,
	    "DELETE FROM totp_challenges WHERE user_id = ?1 AND "
	    "(expires_at <= ?2 OR used_at IS NOT NULL)");
	if (st == NULL ||
	    sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, now) != SQLITE_OK ||
	    step_done(w, st, "totp_challenge purge") != 0) {
		lc_db_done(st);
		goto out;
	}
	st = auth_stmt(w,
	    "INSERT INTO totp_challenges (hash, user_id, email, expires_at) "
	    "VALUES (?1, ?2, ?3, ?4)");
	if (st == NULL ||
	    sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(st, 2, u->id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, u->email, -1, SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, now + AUTH_TOTP_TOKEN_TTL_MS) !=
	        SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	if ((rv = step_done(w, st, "totp_challenge insert")) != 0) {
		goto out;
	}
	*out = json_pack("{s:b,s:s}", "totp_required", 1, "totp_token", tok);
	rv   = 0;
out:
	sodium_memzero(tok, strlen(tok));
	lc_free(tok);
	return (rv);
}

struct challenge {
	char    uid[AUTH_ID_LEN + 1];
	char    email[AUTH_EMAIL_MAX + 1];
	int64_t expires_at;
	int     used;
};

// Finds a live challenge by token hash: 0, LC_EINVALID_TOTP_TOKEN
// (unknown, expired, used) or LC_EINTERNAL.
static int
challenge_find(struct lc_worker *w, const uint8_t h[32], struct challenge *c)
{
	sqlite3_stmt *st = auth_stmt(w,
	    "SELECT user_id, email, expires_at, used_at IS NOT NULL "
	    "FROM totp_challenges WHERE hash = ?1");
	int           rv = LC_EINTERNAL;
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC) != SQLITE_OK) {
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_DONE) {
		rv = LC_EINVALID_TOTP_TOKEN;
		goto out;
	}
	if (sr != SQLITE_ROW) {
		lc_log_err("AUTH-SQL", "challenge_find: %s",
		    sqlite3_errmsg(auth_conn(w)));
		goto out;
	}
	copy_col(st, 0, c->uid, sizeof(c->uid));
	copy_col(st, 1, c->email, sizeof(c->email));
	c->expires_at = sqlite3_column_int64(st, 2);
	c->used       = sqlite3_column_int(st, 3) != 0;
	rv = c->used || c->expires_at <= lc_now_ms() ? LC_EINVALID_TOTP_TOKEN
	                                             : 0;
out:
	lc_db_done(st);
	return (rv);
}

/* ---- handlers ---- */

// The issuer: app_name, or BusBase when unset.
static void
issuer(char *buf, size_t len)
{
	if (lc_settings_str("app_name", buf, len) != 0 || buf[0] == '\0') {
		(void) snprintf(buf, len, "%s", "BusBase");
	}
}

int
auth_h_totp_setup(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct totp_row r   = { 0 };
	const char     *uid = caller_uid(rq);
	char            secret[AUTH_TOTP_SECRET_LEN + 1];
	char            iss[LC_SETTING_STR_MAX + 1];
	sqlite3_stmt   *st;
	char           *url;
	int             rv;

	if (!lc_settings_bool("auth_totp_enabled")) {
		return (LC_EAUTH_METHOD_DISABLED);
	}
	if (uid == NULL) {
		return (LC_EAUTH_REQUIRED);
	}
	if ((rv = totp_load(w, uid, &r)) != 0) {
		return (rv == LC_ENOT_FOUND ? caller_gone(rq) : rv);
	}
	totp_row_wipe(&r);
	if (r.enabled) {
		return (LC_ETOTP_ALREADY_ENABLED);
	}
	auth_totp_secret_new(secret);
	// A pending secret replaces any earlier one; nothing user-visible
	// changes (totp_enabled stays false), so updated_at stays.
	st = auth_stmt(w,
	    "UPDATE users SET totp_pending = ?1 WHERE id = ?2 AND "
	    "totp_enabled = 0");
	if (st == NULL ||
	    sqlite3_bind_text(st, 1, secret, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		sodium_memzero(secret, sizeof(secret));
		return (LC_EINTERNAL);
	}
	if ((rv = step_done(w, st, "totp_setup")) != 0) {
		sodium_memzero(secret, sizeof(secret));
		return (rv);
	}
	if (sqlite3_changes(auth_conn(w)) == 0) {
		// Enabled (or deleted) since the read above.
		sodium_memzero(secret, sizeof(secret));
		return (LC_ETOTP_ALREADY_ENABLED);
	}
	issuer(iss, sizeof(iss));
	url = auth_totp_url(iss, r.email, secret);
	lc_rep_json(rp, 200,
	    json_pack("{s:s,s:s}", "secret", secret, "otpauth_url", url));
	sodium_memzero(url, strlen(url));
	lc_free(url);
	sodium_memzero(secret, sizeof(secret));
	return (0);
}

// The end of a 2FA change of user uid: user.changed, COMMIT, {"ok":true}.
static int
change_commit(struct lc_worker *w, struct lc_rep *rp, const char *uid)
{
	int rv;

	auth_user_changed(w, uid);
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200, json_pack("{s:b}", "ok", 1));
	return (0);
}

int
auth_h_totp_enable(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct totp_row r   = { 0 };
	const char     *uid = caller_uid(rq);
	sqlite3_stmt   *st;
	char            code[8];
	int64_t         step;
	int             rv;

	if (!lc_settings_bool("auth_totp_enabled")) {
		return (LC_EAUTH_METHOD_DISABLED);
	}
	if (uid == NULL) {
		return (LC_EAUTH_REQUIRED);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = totp_load(w, uid, &r)) != 0) {
		rv = rv == LC_ENOT_FOUND ? caller_gone(rq) : rv;
		goto fail;
	}
	if (r.enabled) {
		rv = LC_ETOTP_ALREADY_ENABLED;
		goto fail;
	}
	if (r.pending[0] == '\0') {
		rv = LC_ETOTP_SETUP_REQUIRED;
		goto fail;
	}
	if (auth_totp_code_parse(json_object_get(rq->body, "code"), code) !=
	    0) {
		auth_rollback(w);
		totp_row_wipe(&r);
		return (fail(rp, LC_EVALIDATION,
		    "code must be a string of 6 digits.", "code"));
	}
	if (auth_totp_check(r.pending, code, lc_now_ms() / 1000, r.last_step,
	        &step) != 0) {
		rv = LC_EINVALID_TOTP_CODE_SETUP;
		goto fail;
	}
	st = auth_stmt(w,
	    "UPDATE users SET totp_enabled = 1, totp_secret = totp_pending, "
	    "totp_pending = NULL, totp_last_step = ?1, updated_at = ?2 "
	    "WHERE id = ?3");
	if (st == NULL || sqlite3_bind_int64(st, 1, step) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, lc_now_ms()) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = step_done(w, st, "totp_enable")) != 0) {
		goto fail;
	}
	totp_row_wipe(&r);
	return (change_commit(w, rp, uid));
fail:
	auth_rollback(w);
	totp_row_wipe(&r);
	return (rv);
}

int
auth_h_totp_disable(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct totp_row r   = { 0 };
	const char     *uid = caller_uid(rq);
	const json_t   *bc  = json_object_get(rq->body, "code");
	const json_t   *qc  = json_object_get(rq->query, "code");
	sqlite3_stmt   *st;
	char            code[8];
	int64_t         step;
	int             bad;
	int             rv;

	if (uid == NULL) {
		return (LC_EAUTH_REQUIRED);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = totp_load(w, uid, &r)) != 0) {
		rv = rv == LC_ENOT_FOUND ? caller_gone(rq) : rv;
		goto fail;
	}
	if (!r.enabled) {
		rv = LC_ETOTP_NOT_ENABLED;
		goto fail;
	}
	// The code comes in the body, or else in the query string.
	if (bc != NULL && !json_is_null(bc)) {
		bad = auth_totp_code_parse(bc, code) != 0;
	} else if (json_is_string(qc)) {
		bad = auth_totp_code_parse_str(json_string_value(qc),
		          json_string_length(qc), code) != 0;
	} else {
		bad = 1;
	}
	if (bad) {
		auth_rollback(w);
		totp_row_wipe(&r);
		return (fail(rp, LC_EVALIDATION,
		    "code must be a string of 6 digits.", "code"));
	}
	if (auth_totp_check(
	        r.secret, code, lc_now_ms() / 1000, r.last_step, &step) != 0) {
		rv = LC_EINVALID_TOTP_CODE_SETUP;
		goto fail;
	}
	st = auth_stmt(w,
	    "UPDATE users SET totp_enabled = 0, totp_secret = NULL, "
	    "totp_pending = NULL, totp_last_step = ?1, updated_at = ?2 "
	    "WHERE id = ?3");
	if (st == NULL || sqlite3_bind_int64(st, 1, step) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, lc_now_ms()) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = step_done(w, st, "totp_disable")) != 0) {
		goto fail;
	}
	// Outstanding challenges die with the secret.
	st = auth_stmt(w, "DELETE FROM totp_challenges WHERE user_id = ?1");
	if (st == NULL ||
	    sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = step_done(w, st, "totp_disable challenges")) != 0) {
		goto fail;
	}
	totp_row_wipe(&r);
	return (change_commit(w, rp, uid));
fail:
	auth_rollback(w);
	totp_row_wipe(&r);
	return (rv);
}

int
auth_h_totp_verify(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t           *tv = json_object_get(rq->body, "totp_token");
	struct challenge        c  = { 0 };
	struct totp_row         r  = { 0 };
	struct auth_user        u  = { 0 };
	json_t                 *result = NULL;
	sqlite3_stmt           *st;
	uint8_t                 h[crypto_hash_sha256_BYTES];
	char                    code[8];
	char                    ra[24];
	int64_t                 retry = 0;
	struct auth_lock_ticket lt    = { 0 };
	int64_t                 step;
	int                     rv;

	if (!json_is_string(tv) || json_string_length(tv) == 0) {
		return (fail(rp, LC_EVALIDATION, "totp_token is required.",
		    "totp_token"));
	}
	if (auth_totp_code_parse(json_object_get(rq->body, "code"), code) !=
	    0) {
		return (fail(rp, LC_EVALIDATION,
		    "code must be a string of 6 digits.", "code"));
	}
	crypto_hash_sha256(h, (const unsigned char *) json_string_value(tv),
	    json_string_length(tv));
	if ((rv = challenge_find(w, h, &c)) != 0) {
		return (rv);
	}
	// A lockout ticket while the code is checked; 429 while locked.
	if ((rv = auth_lock_enter(w, c.email, &lt, &retry)) != 0) {
		if (rv == LC_EACCOUNT_LOCKED) {
			(void) snprintf(ra, sizeof(ra), "%lld",
			    (long long) (retry > 0 ? retry : 1));
			lc_rep_header(rp, "Retry-After", ra);
		}
		return (rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		auth_lock_leave(w, &lt, AUTH_LOCK_NEUTRAL);
		return (rv);
	}
	// Again inside the transaction: a parallel verify may have used it.
	if ((rv = challenge_find(w, h, &c)) != 0) {
		goto undo;
	}
	if ((rv = totp_load(w, c.uid, &r)) != 0 || !r.enabled) {
		// The account went away or turned 2FA off since the
		// challenge: not a wrong code.
		rv = rv == 0 || rv == LC_ENOT_FOUND ? LC_EINVALID_TOTP_TOKEN
		                                    : rv;
		goto undo;
	}
	if (auth_totp_check(
	        r.secret, code, lc_now_ms() / 1000, r.last_step, &step) != 0) {
		auth_rollback(w);
		totp_row_wipe(&r);
		auth_lock_leave(w, &lt, AUTH_LOCK_FAILED);
		return (LC_EINVALID_TOTP_CODE);
	}
	st =
	    auth_stmt(w, "UPDATE users SET totp_last_step = ?1 WHERE id = ?2");
	if (st == NULL || sqlite3_bind_int64(st, 1, step) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, c.uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = step_done(w, st, "totp_verify step")) != 0) {
		goto fail;
	}
	st = auth_stmt(w, "DELETE FROM totp_challenges WHERE hash = ?1");
	if (st == NULL ||
	    sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_STATIC) !=
	        SQLITE_OK) {
		lc_db_done(st);
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = step_done(w, st, "totp_verify consume")) != 0) {
		goto fail;
	}
	if ((rv = auth_user_load(w, c.uid, &u)) != 0 ||
	    (rv = auth_session_open(w, rq, &u, &result)) != 0) {
		rv = rv == LC_ENOT_FOUND ? LC_EINVALID_TOTP_TOKEN : rv;
		goto fail;
	}
	totp_row_wipe(&r);
	auth_user_fini(&u);
	if ((rv = auth_commit(w, rp)) != 0) {
		json_decref(result);
		auth_lock_leave(w, &lt, AUTH_LOCK_NEUTRAL);
		return (rv);
	}
	lc_rep_json(rp, 200, result);
	auth_lock_leave(w, &lt, AUTH_LOCK_SUCCEEDED);
	return (0);
undo:
	auth_rollback(w);
	totp_row_wipe(&r);
	auth_lock_leave(w, &lt, AUTH_LOCK_NEUTRAL);
	return (rv);
fail:
	auth_rollback(w);
	auth_lock_leave(w, &lt, AUTH_LOCK_NEUTRAL);
	totp_row_wipe(&r);
	auth_user_fini(&u);
	json_decref(result);
	return (rv);
}
