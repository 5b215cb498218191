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

// A cached prepared statement of this worker for sql (keyed by the
// pointer: pass string literals). Ready to bind; the caller ends every use
// with lc_db_done(st). NULL on a prepare error (logged).
sqlite3_stmt *auth_stmt(struct lc_worker *w, const char *sql);
// BEGIN IMMEDIATE / COMMIT / ROLLBACK on the worker's connection.
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

/* ---- pwhash.c ---- */

// Argon2id (libsodium crypto_pwhash_str, interactive limits), computed on
// the pool's low-priority threads so hashing never starves other requests.
// The calling worker blocks until done. 0 or LC_EINTERNAL.
LC_NODISCARD int auth_pw_hash(struct auth_state *st, const char *pw,
    size_t len, char out[AUTH_PWHASH_STR]);
// 0 when pw matches hash, LC_EINVALID_CREDENTIALS otherwise. A NULL hash
// runs a verification against a fixed dummy hash (same work) and fails.
LC_NODISCARD int auth_pw_verify(
    struct auth_state *st, const char *hash, const char *pw, size_t len);

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
int auth_user_pw_hash(struct lc_worker *w, const char *id,
    char out[AUTH_PWHASH_STR]);
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
// session.revoked (with cut) and apikey.revoked. Counts may be NULL.
int auth_revoke_all(struct lc_worker *w, const char *uid, const char *reason,
    int64_t *nsessions, int64_t *nkeys);

/* ---- lockout.c ---- */

// LC_EACCOUNT_LOCKED with *retry_s (seconds left, rounded up, >= 1) while
// email_norm is locked; 0 otherwise. Expired locks are cleared.
int auth_lock_check(
    struct lc_worker *w, const char *email_norm, int64_t *retry_s);
// Counts one failure (locks at lockout_max_attempts; 0 disables).
void auth_lock_fail(struct lc_worker *w, const char *email_norm);
void auth_lock_reset(struct lc_worker *w, const char *email_norm);

/* ---- apikeys.c ---- */

// Inside a transaction: deletes every API key of uid, queues
// apikey.revoked when there were any. *n gets the count (may be NULL).
int auth_apikeys_revoke_all(struct lc_worker *w, const char *uid, int64_t *n);

/* ---- emailflow.c ---- */

// Issues a verify_email token for u and queues its delivery (after the
// caller's commit is fine: delivery is asynchronous). Failures are logged.
void auth_send_verify_email(struct lc_worker *w, const struct auth_user *u);
// Inside a transaction: deletes the user's pending e-mail tokens.
void auth_email_tokens_drop(struct lc_worker *w, const char *uid);

/* ---- totp.c ---- */

// For a password or magic-link sign-in of a user with 2FA: stores a
// challenge and sets *out to the TotpChallenge of §2.1.
int auth_totp_challenge(
    struct lc_worker *w, const struct auth_user *u, json_t **out);

/* ---- handlers (one per op; the op table is in main.c) ---- */

#define AUTH_HANDLER(name)                                                     \
	int name(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)

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
