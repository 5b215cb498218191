/*
 * auth.h -- private interface of the auth service (busbase-auth).
 *
 * The auth service owns auth.db (schema.c): users, sessions and their
 * refresh tokens, API keys, e-mail tokens, TOTP challenges and lockout
 * counters (API.md §2, §5.2, §5.3). It is the only process that reads or
 * writes them; the gateway keeps a local view of sessions and users, fed
 * by the events below (snapshot + stream, ARCHITECTURE.md §2).
 *
 * Files, one concern each:
 *   main.c      the lc_service_def, the op table, state set-up
 *   schema.c    auth_migrations[] (all tables)
 *   db.c        per-worker statement cache, transactions, pending events
 *   pwhash.c    Argon2id on a small pool of low-priority threads
 *   validate.c  e-mail normalization/validation, password, roles, metadata
 *   users.c     user rows and JSON; register, login, /auth/me, admin users
 *   sessions.c  sessions, refresh rotation/reuse, access and impersonation
 *               tokens, revocation, admin sessions, snapshot, session_check
 *   lockout.c   failure counters per normalized e-mail (§2.6)
 *   apikeys.c   API keys: create, list, delete, resolve (+ last_used_at)
 *   emailflow.c e-mail tokens: verify, resend, forgot/reset, magic links
 *   mailer.c    background delivery queue over lc_mail (never blocks a reply)
 *   totp.c      TOTP secrets, codes (liboath), challenges, 2FA endpoints
 *
 * Threading: handlers run on lc_bus worker threads. Each worker owns one
 * struct auth_db (w->user): its SQLite connection, prepared statements and
 * the events its current transaction will publish. struct auth_state
 * (w->svc->user) is shared and thread-safe.
 *
 * Events (published on auth's pub socket AFTER the write commits, and also
 * attached to the reply as effects, rp->fx, so the gateway that carries
 * the request applies them before it answers). Payloads carry state, so
 * applying one twice is harmless:
 *   session.active   {"sid","uid","user":{"email","roles","verified","cut"}}
 *                    a session was opened (register, login, 2FA, magic link)
 *   session.revoked  {"uid","sids":[...],"reason", "cut"?}
 *                    sessions deleted; "cut" is present when every token of
 *                    the user was revoked (logout-all, reset, deletion,
 *                    magic-link takeover): impersonation tokens whose jti
 *                    sorts before cut are refused. reason is the realtime
 *                    reason of API.md §2.3 (logout, logout_all, ...).
 *   user.changed     {"uid","email","roles","verified","cut"}
 *   user.deleted     {"uid"}
 *   apikey.revoked   {"uid","ids":[...]}
 * auth.sessions_snapshot answers {"seq","src","users":[{"uid","email",
 * "roles","verified","cut"}],"sessions":[{"sid","uid"}]} where seq is read
 * BEFORE the database, so every event with a higher seq is (re)applied.
 * auth.session_check takes {"uid","sid"} or {"uid","jti"} (impersonation)
 * and answers 200 {"uid","email","roles","verified"}, or 401
 * session_revoked / invalid_token exactly as API.md §1.3 and §1.13 say.
 *
 * Identifiers: ids are ULIDs (lc_ids). "cut" is a ULID from the same
 * process-wide monotonic generator as impersonation jti values, so "issued
 * before" is a string comparison with sub-millisecond order (§1.13).
 */
#ifndef AUTH_AUTH_H
#define AUTH_AUTH_H

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_bus.h"
#include "lc_common.h"
#include "lc_env.h"
#include "lc_ids.h"
#include "lc_mail.h"
#include "lc_service.h"

#define AUTH_ID_LEN 26
#define AUTH_EMAIL_MAX 254
#define AUTH_PASSWORD_MIN 8   // code points
#define AUTH_PASSWORD_MAX 128 // code points
#define AUTH_METADATA_MAX (64 * 1024)
#define AUTH_ROLES_MAX 50
#define AUTH_ROLE_LEN_MAX 64
#define AUTH_APIKEY_NAME_MAX 100
#define AUTH_IMP_TTL_S 900
#define AUTH_TOTP_TOKEN_TTL_MS (5 * 60 * 1000)
#define AUTH_VERIFY_TTL_MS (24 * 3600 * 1000LL)
#define AUTH_RESET_TTL_MS (3600 * 1000LL)
#define AUTH_MAGIC_TTL_MS (15 * 60 * 1000LL)
#define AUTH_PWHASH_STR crypto_pwhash_STRBYTES

extern const char *const auth_migrations[];
extern const size_t      auth_nmigrations;

/* ---- shared state (main.c) ---- */

struct auth_pwpool; // pwhash.c
struct auth_mailer; // mailer.c

struct auth_state {
	struct lc_service  *svc;
	struct auth_pwpool *pw;
	struct auth_mailer *mail;
	uint8_t            *secret_key; // SECRET_KEY (JWT signing)
	size_t              secret_key_len;
};

// The shared state of the worker's service.
struct auth_state *auth_state(struct lc_worker *w);

/* ---- db.c ---- */

// A cached prepared statement for sql on the connection in use (the
// writer's inside auth_begin, else the worker's). Ready to bind; the
// caller ends every use with lc_db_done(st). NULL on a prepare error
// (logged).
sqlite3_stmt *auth_stmt(struct lc_worker *w, const char *sql);
// The connection auth_stmt uses now (for sqlite3_errmsg, _changes).
sqlite3 *auth_conn(struct lc_worker *w);
// BEGIN IMMEDIATE on the process's writer (lc_store.h) / COMMIT / ROLLBACK.
// auth_commit publishes the events queued by auth_emit since auth_begin
// (in order, after the commit succeeded) and attaches them to rp->fx;
// auth_rollback drops them.
LC_NODISCARD int auth_begin(struct lc_worker *w);
LC_NODISCARD int auth_commit(struct lc_worker *w, struct lc_rep *rp);
void             auth_rollback(struct lc_worker *w);
// Queues an event for the current transaction (payload taken).
void auth_emit(struct lc_worker *w, int topic, json_t *payload);
// A new ULID from the process-wide monotonic generator (ids, cut, jti).
void auth_ulid(char out[AUTH_ID_LEN + 1]);
// (added) The worker's struct auth_db on w->user, over w->db (which must
// be open); main.c's worker_init/worker_fini and unit tests call these.
// auth_db_close finalizes every cached statement; NULL w->user is a no-op.
LC_NODISCARD int auth_db_open(struct lc_worker *w);
void             auth_db_close(struct lc_worker *w);
// (added) A deferred (read) transaction: one consistent view for several
// SELECTs; end it with auth_rollback.
LC_NODISCARD int auth_begin_read(struct lc_worker *w);

/* ---- pwhash.c ---- */

// Argon2id (libsodium crypto_pwhash_str, interactive limits), computed on
// the pool's low-priority threads so hashing never starves other requests.
// The calling worker blocks until done. 0 or LC_EINTERNAL.
LC_NODISCARD int auth_pw_hash(struct auth_state *st, const char *pw,
    size_t len, char out[AUTH_PWHASH_STR]);
// 0 when pw matches hash, LC_EINVALID_CREDENTIALS otherwise. A NULL hash
// runs a verification against a fixed dummy hash (same work) and fails.
// Both return LC_EUNAVAILABLE at once (nothing computed) while the pool
// already holds its maximum of jobs (see auth_pwpool_alloc); with no pool
// (st or st->pw NULL) they compute on the calling thread.
LC_NODISCARD int auth_pw_verify(
    struct auth_state *st, const char *hash, const char *pw, size_t len);
// (added) The pool main.c's init makes (st->pw): nthreads threads at nice
// 19; at most max_jobs jobs queued or running at once, so password work
// never holds more than max_jobs worker threads. 0 or LC_EINTERNAL.
// auth_pwpool_free joins the threads; NULL is a no-op.
#define AUTH_PW_THREADS 2
LC_NODISCARD int auth_pwpool_alloc(
    int nthreads, int max_jobs, struct auth_pwpool **out);
void auth_pwpool_free(struct auth_pwpool *p);

/* ---- validate.c ---- */

// Trims surrounding whitespace and lowercases into out (cap bytes).
// Returns the length, or -1 when the result is not a valid e-mail (§2.5).
int auth_email_norm(const char *in, size_t len, char *out, size_t cap);
// 1 if s (UTF-8, len bytes) has 8..128 code points.
int auth_password_ok(const char *s, size_t len);
// Validates and dedups a roles array (§5.2) into a new array, or NULL.
json_t *auth_roles_clean(const json_t *roles);
// 1 if metadata is an object whose serialized form is at most 64 KiB.
int auth_metadata_ok(const json_t *metadata);
// (added) The lockout key of a login e-mail: trimmed and lowercased like
// auth_email_norm, valid address or not. Length, or -1 when it does not
// fit cap or is not UTF-8.
int auth_email_key(const char *in, size_t len, char *out, size_t cap);
// (added) Code points of UTF-8 text (continuation bytes not counted).
size_t auth_utf8_count(const char *s, size_t len);

/* ---- users.c ---- */

struct auth_user {
	char    id[AUTH_ID_LEN + 1];
	char    email[AUTH_EMAIL_MAX + 1];
	char    cut[AUTH_ID_LEN + 1]; // "" when never revoked as a whole
	int     has_password;
	int     is_verified;
	int     totp_enabled;
	int64_t created_at;
	int64_t updated_at;
	json_t *roles;    // array (owned)
	json_t *metadata; // object (owned)
};

void auth_user_fini(struct auth_user *u);
// 0, or LC_ENOT_FOUND when there is no such user.
int auth_user_load(struct lc_worker *w, const char *id, struct auth_user *u);
int auth_user_by_email(
    struct lc_worker *w, const char *email_norm, struct auth_user *u);
// The password hash of user id into out (""= none). 0 or LC_ENOT_FOUND.
int auth_user_pw_hash(
    struct lc_worker *w, const char *id, char out[AUTH_PWHASH_STR]);
// The public User object of API.md §2.1.
json_t *auth_user_json(const struct auth_user *u);
// Inside a transaction: inserts a user (pw_hash may be NULL; metadata may
// be NULL for {}), fills *out. LC_EEMAIL_TAKEN when the e-mail exists.
int auth_user_create(struct lc_worker *w, const char *email_norm,
    const char *pw_hash, int verified, const json_t *metadata,
    struct auth_user *out);
// Inside a transaction: sets (or with NULL removes) the password hash,
// sets is_verified when verified is 1, bumps updated_at, queues
// user.changed. 0 or LC_ENOT_FOUND.
int auth_user_set_password(
    struct lc_worker *w, const char *id, const char *pw_hash, int verified);
// Inside a transaction: sets is_verified true (bumps updated_at when it
// changes) and queues user.changed. 0 or LC_ENOT_FOUND.
int auth_user_set_verified(struct lc_worker *w, const char *id);
// Queues user.changed with the user's current state (inside a txn).
void auth_user_changed(struct lc_worker *w, const char *id);
// Inside a transaction: deletes the user and everything it owns (sessions,
// keys, e-mail tokens, challenges), queues session.revoked (reason
// account_deleted), apikey.revoked and user.deleted. 0 or LC_ENOT_FOUND.
int auth_user_delete(struct lc_worker *w, const char *id);

// (added) Request and row helpers shared by users.c and sessions.c.
// Sets the error reply and returns err.
int auth__fail(struct lc_rep *rp, int err, const char *msg, const char *field);
// The caller's uid (a 26-character string), or NULL.
const char *auth__caller_uid(const struct lc_req *rq);
// The 401 for a caller whose user is gone (invalid_api_key for a key).
int auth__caller_gone(const struct lc_req *rq);
// 0 with *uid for a user or API-key caller; else auth_required (anon) or
// user_required (admin).
int auth__need_user(const struct lc_req *rq, const char **uid);
// 0 for the admin (or a bus service); else auth_required/admin_required.
int auth__need_admin(const struct lc_req *rq);
// The path parameter id when it is a ULID; else LC_ENOT_FOUND (§1.1).
int auth__path_id(const struct lc_req *rq, const char **out);
// limit and page of a §1.7 list; on error the 400 reply is set.
int auth__page(
    const struct lc_req *rq, struct lc_rep *rp, int64_t *limit, int64_t *page);
// {"items","total","page","limit"} (items taken).
json_t *auth__page_json(
    json_t *items, int64_t total, int64_t page, int64_t limit);
// The gateway's view of u: {"email","roles","verified","cut"}.
json_t *auth__user_state(const struct auth_user *u);
// Column helpers: copy text into out ("" when NULL or too long); a JSON
// string of a text column; a JSON array (want_array) or object column
// ([] / {} when corrupt, logged).
void    auth__col_copy(sqlite3_stmt *st, int col, char *out, size_t cap);
json_t *auth__col_str(sqlite3_stmt *st, int col);
json_t *auth__col_json(sqlite3_stmt *st, int col, int want_array);
// Steps a write to DONE and ends the statement; 0 or LC_EINTERNAL
// (logged with what). st NULL: LC_EINTERNAL.
int auth__step_done(struct lc_worker *w, sqlite3_stmt *st, const char *what);
// Binds a NUL-terminated string (copied); 0 or LC_EINTERNAL.
int auth__bind_text(sqlite3_stmt *st, int i, const char *s);

/* ---- sessions.c ---- */

// Inside a transaction: opens a session for u (revoking the user's other
// sessions first when single_session_mode is on, reason single_session),
// issues the refresh and access tokens and sets *result to the AuthResult
// of §2.1. Queues session.active. rq gives ip and user agent.
int auth_session_open(struct lc_worker *w, const struct lc_req *rq,
    const struct auth_user *u, json_t **result);
// Inside a transaction: revokes every session of uid (except except_sid
// when not NULL), queues session.revoked with reason. *n (may be NULL)
// gets the count.
int auth_sessions_revoke(struct lc_worker *w, const char *uid,
    const char *except_sid, const char *reason, int64_t *n);
// Inside a transaction: revokes all sessions and API keys of uid and sets
// a new cut (impersonation tokens issued before it die), queues
// session.revoked (with cut, even with no session) and apikey.revoked.
// Counts may be NULL. 0 or LC_ENOT_FOUND (no such user).
int auth_revoke_all(struct lc_worker *w, const char *uid, const char *reason,
    int64_t *nsessions, int64_t *nkeys);
// (added) An impersonation token for u (§2.2, §5.2): claims sub, email,
// roles, iat, exp = iat + 900, imp: true, jti = a new auth_ulid; no sid.
// *out is a new string (lc_free). 0 or LC_EINTERNAL.
LC_NODISCARD int auth_token_impersonate(
    struct lc_worker *w, const struct auth_user *u, char **out);

/* ---- lockout.c ---- */

// Lockout per normalized e-mail (§2.6); see lockout.c for the scheme.
// A login or 2FA attempt holds a ticket from auth_lock_enter to
// auth_lock_leave (both outside any transaction: the ticket lives on the
// caller's stack and keeps a pointer to key, which must outlive it).
struct auth_lock_ticket {
	const char              *key;
	int                      active; // counted as pending
	struct auth_lock_ticket *next;
};
enum auth_lock_outcome {
	AUTH_LOCK_FAILED,    // a wrong password/code, an unknown account
	AUTH_LOCK_SUCCEEDED, // an AuthResult: the counter resets
	AUTH_LOCK_NEUTRAL,   // neither (TotpChallenge, busy, error)
};
// 0: the attempt may go ahead (lockout off: a no-op ticket).
// LC_EACCOUNT_LOCKED with *retry_s (seconds left, rounded up, >= 1): the
// key is locked; nothing counted, the lock not extended. LC_EUNAVAILABLE:
// waited too long for the pending attempts of the key. LC_EINTERNAL.
// Every 0 must be followed by exactly one auth_lock_leave.
LC_NODISCARD int auth_lock_enter(struct lc_worker *w, const char *key,
    struct auth_lock_ticket *t, int64_t *retry_s);
void auth_lock_leave(struct lc_worker *w, struct auth_lock_ticket *t,
    enum auth_lock_outcome outcome);
// Clears the counter and any lock (password reset). Usable inside a txn.
void auth_lock_reset(struct lc_worker *w, const char *email_norm);

/* ---- apikeys.c ---- */

#define AUTH_APIKEY_LEN 43         // "bb_" + 40 [A-Za-z0-9]
#define AUTH_APIKEY_PREFIX_LEN 11  // shown in lists ("bb_a1B2c3D4")
#define AUTH_APIKEY_TOUCH_MS 60000 // least time between last_used_at writes

// Inside a transaction: deletes every API key of uid, queues
// apikey.revoked when there were any. *n gets the count (may be NULL).
int auth_apikeys_revoke_all(struct lc_worker *w, const char *uid, int64_t *n);
// (B) A new key: "bb_" + 40 characters of [A-Za-z0-9], each drawn
// uniformly (randombytes_uniform) from libsodium's generator.
void auth_apikey_new(char out[AUTH_APIKEY_LEN + 1]);
// (B) 1 if s has the key format (length, "bb_", alphabet).
int auth_apikey_format_ok(const char *s, size_t len);

/* ---- emailflow.c ---- */

// Issues a verify_email token for u and queues its delivery (after the
// caller's commit is fine: delivery is asynchronous). Failures are logged.
void auth_send_verify_email(struct lc_worker *w, const struct auth_user *u);
// Inside a transaction: deletes the user's pending e-mail tokens.
void auth_email_tokens_drop(struct lc_worker *w, const char *uid);
// (B) The link <app_url>/<path>?token=<token> (one trailing '/' of
// app_url dropped; just the path when app_url is unset). path starts
// with '/'. A new string (lc_free).
char *auth_email_link(const char *path, const char *token);

/* ---- mailer.c (B) ---- */

#define AUTH_MAILER_QUEUE 256 // mails waiting; more are dropped (logged)

// Starts the delivery thread. main.c calls auth_mailer_alloc in its init
// hook (st->mail) and auth_mailer_free in its fini hook. 0 or
// LC_EINTERNAL.
LC_NODISCARD int auth_mailer_alloc(struct auth_mailer **out);
// Stops the thread: mails still queued are written when the provider is
// console and dropped (logged) otherwise; a transfer in progress is
// aborted. NULL is a no-op.
void auth_mailer_free(struct auth_mailer *m);
// Queues a copy of mail (its service field is ignored: "auth") and
// returns at once; delivery uses the settings current when it happens.
// Failures, a full queue and m == NULL are logged, never returned.
void auth_mailer_send(struct auth_mailer *m, const struct lc_mail *mail);

/* ---- totp.c ---- */

// For a password or magic-link sign-in of a user with 2FA: stores a
// challenge and sets *out to the TotpChallenge of §2.1. Works inside or
// outside a transaction.
int auth_totp_challenge(
    struct lc_worker *w, const struct auth_user *u, json_t **out);

#define AUTH_TOTP_SECRET_LEN 32 // base32 of 20 bytes, no padding

// (B) A new secret: 20 random bytes, RFC 4648 base32.
void auth_totp_secret_new(char out[AUTH_TOTP_SECRET_LEN + 1]);
// (B) The 6-digit code of a base32 secret for a time step (t / 30).
// 0 or LC_EINTERNAL (bad secret).
LC_NODISCARD int auth_totp_code(
    const char *secret_b32, int64_t step, char out[7]);
// (B) Checks code against steps t-1, t, t+1 of now_s, accepting only a
// step later than last_step; 0 with *step (the accepted step), or
// LC_EINVALID_TOTP_CODE.
LC_NODISCARD int auth_totp_check(const char *secret_b32, const char code[7],
    int64_t now_s, int64_t last_step, int64_t *step);
// (B) A code from JSON: a string of exactly 6 ASCII digits, or an integer
// 0..999999 (left-padded). 0 or LC_EVALIDATION. _str: from a string
// (query parameter).
LC_NODISCARD int auth_totp_code_parse(const json_t *v, char out[7]);
LC_NODISCARD int auth_totp_code_parse_str(
    const char *s, size_t len, char out[7]);
// (B) otpauth://totp/<issuer>:<email>?secret=..&issuer=..&algorithm=SHA1
// &digits=6&period=30, issuer and e-mail percent-encoded (RFC 3986). A new
// string (lc_free).
char *auth_totp_url(const char *issuer, const char *email, const char *secret);

/* ---- handlers (one per op; the op table is in main.c) ---- */

#define AUTH_HANDLER(name) \
	int name(          \
	    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)

// users.c
AUTH_HANDLER(auth_h_register);
AUTH_HANDLER(auth_h_login);
AUTH_HANDLER(auth_h_me_get);
AUTH_HANDLER(auth_h_me_update);
AUTH_HANDLER(auth_h_me_delete);
AUTH_HANDLER(auth_h_users_list);
AUTH_HANDLER(auth_h_users_get);
AUTH_HANDLER(auth_h_users_update);
AUTH_HANDLER(auth_h_users_delete);
AUTH_HANDLER(auth_h_users_set_roles);
AUTH_HANDLER(auth_h_users_impersonate);
// sessions.c
AUTH_HANDLER(auth_h_refresh);
AUTH_HANDLER(auth_h_logout);
AUTH_HANDLER(auth_h_logout_all);
AUTH_HANDLER(auth_h_sessions_list);
AUTH_HANDLER(auth_h_sessions_delete);
AUTH_HANDLER(auth_h_sessions_purge);
AUTH_HANDLER(auth_h_sessions_snapshot);
AUTH_HANDLER(auth_h_session_check);
// apikeys.c
AUTH_HANDLER(auth_h_apikey_create);
AUTH_HANDLER(auth_h_apikey_list);
AUTH_HANDLER(auth_h_apikey_delete);
AUTH_HANDLER(auth_h_apikey_resolve);
// emailflow.c
AUTH_HANDLER(auth_h_forgot_password);
AUTH_HANDLER(auth_h_reset_password);
AUTH_HANDLER(auth_h_verify_email);
AUTH_HANDLER(auth_h_resend_verification);
AUTH_HANDLER(auth_h_magic_link);
AUTH_HANDLER(auth_h_magic_verify);
// totp.c
AUTH_HANDLER(auth_h_totp_setup);
AUTH_HANDLER(auth_h_totp_enable);
AUTH_HANDLER(auth_h_totp_disable);
AUTH_HANDLER(auth_h_totp_verify);

#endif // AUTH_AUTH_H
