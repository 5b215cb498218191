/*
 * sessions.c -- sessions and their refresh tokens, access and
 * impersonation tokens, revocation (API.md §2.2, §2.3, §2.10), the admin
 * sessions API (§5.3), and the two ops the gateway's session view uses:
 * auth.sessions_snapshot and auth.session_check (auth.h, top comment).
 *
 * Refresh tokens are 32 random bytes in base64url (43 characters); the
 * refresh_tokens table keeps the SHA-256 of every token a session was
 * given, with current = 1 for the one that works. A refresh runs in one
 * IMMEDIATE transaction, so of several parallel presentations of one
 * token exactly one rotates it and the others see a non-current token.
 * Presenting a non-current token of a live session revokes the session:
 * that revocation is committed (and published) before the 401
 * refresh_token_reused goes out; its session.revoked reason is
 * "session_revoked" (AUTH_REASON_REUSE), the reason §2.3 gives for a
 * session revoked from outside. Unknown tokens and tokens of expired or
 * deleted sessions are 401 invalid_refresh_token and change nothing.
 *
 * A session lives until last_used_at + refresh_token_ttl_days (the
 * setting at the time of the last refresh); expired sessions stay listed
 * until purged, and fail everywhere as if revoked.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_jwt.h"
#include "lc_log.h"
#include "lc_msg.h"
#include "lc_settings.h"

#define REFRESH_BYTES 32
#define REFRESH_MAX_LEN 256 // §2.1: what we hand out is far shorter
#define DAY_MS (86400 * 1000LL)
#define AUTH_REASON_REUSE "session_revoked"

#define SESSION_COLS \
	"id, user_id, created_at, last_used_at, expires_at, ip, user_agent"

/* ---- tokens ---- */

static int
sign(struct lc_worker *w, json_t *claims, char **out)
{
	struct auth_state *st = auth_state(w);
	int                rv;

	if (st == NULL || st->secret_key == NULL || claims == NULL) {
		lc_log_err("AUTH-TOKEN", "no signing key");
		json_decref(claims);
		return (LC_EINTERNAL);
	}
	rv = lc_jwt_sign(claims, st->secret_key, st->secret_key_len, out);
	json_decref(claims);
	return (rv);
}

// An access token for session sid of u: claims exactly sub, email,
// roles, sid, iat, exp (§2.2). *ttl gets its lifetime in seconds.
static int
token_access(struct lc_worker *w, const struct auth_user *u, const char *sid,
    char **out, int64_t *ttl)
{
	int64_t iat = lc_now_ms() / 1000;

	*ttl = lc_settings_int("access_token_ttl_seconds");
	if (*ttl < 1) {
		*ttl = 900; // the default; the setting is validated >= 1
	}
	return (sign(w,
	    json_pack("{s:s,s:s,s:o,s:s,s:I,s:I}", "sub", u->id, "email",
	        u->email, "roles", json_deep_copy(u->roles), "sid", sid, "iat",
	        (json_int_t) iat, "exp", (json_int_t) (iat + *ttl)),
	    out));
}

int
auth_token_impersonate(
    struct lc_worker *w, const struct auth_user *u, char **out)
{
	int64_t iat = lc_now_ms() / 1000;
	char    jti[AUTH_ID_LEN + 1];

	// jti comes from the generator of "cut": a logout-all or reset
	// after this moment makes a cut that sorts after it (§1.13).
	auth_ulid(jti);
	return (sign(w,
	    json_pack("{s:s,s:s,s:o,s:I,s:I,s:b,s:s}", "sub", u->id, "email",
	        u->email, "roles", json_deep_copy(u->roles), "iat",
	        (json_int_t) iat, "exp", (json_int_t) (iat + AUTH_IMP_TTL_S),
	        "imp", 1, "jti", jti),
	    out));
}

static void
token_free(char *tok)
{
	if (tok != NULL) {
		sodium_memzero(tok, strlen(tok));
		lc_free(tok);
	}
}

static void
token_hash(const char *tok, size_t len, uint8_t h[crypto_hash_sha256_BYTES])
{
	crypto_hash_sha256(h, (const unsigned char *) tok, len);
}

// Stores tok as the current refresh token of sid.
static int
refresh_store(
    struct lc_worker *w, const char *sid, int64_t now, const char *tok)
{
	sqlite3_stmt *st = auth_stmt(w,
	    "INSERT INTO refresh_tokens (hash, session_id, current, "
	    "created_at) VALUES (?1, ?2, 1, ?3)");
	uint8_t       h[crypto_hash_sha256_BYTES];

	token_hash(tok, strlen(tok), h);
	if (st == NULL ||
	    sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_TRANSIENT) !=
	        SQLITE_OK ||
	    auth__bind_text(st, 2, sid) != 0 ||
	    sqlite3_bind_int64(st, 3, now) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	return (auth__step_done(w, st, "refresh insert"));
}

// Inserts a new current refresh token for sid; *out gets it (token_free).
static int
refresh_new(struct lc_worker *w, const char *sid, int64_t now, char **out)
{
	char *tok = lc_random_token(REFRESH_BYTES);
	int   rv;

	if ((rv = refresh_store(w, sid, now, tok)) != 0) {
		token_free(tok);
		return (rv);
	}
	*out = tok;
	return (0);
}

// The AuthResult of §2.1 (takes nothing; copies the strings).
static int
auth_result(struct lc_worker *w, const struct auth_user *u, const char *sid,
    const char *refresh, json_t **out)
{
	char   *access = NULL;
	int64_t ttl;
	int     rv;

	if ((rv = token_access(w, u, sid, &access, &ttl)) != 0) {
		return (rv);
	}
	*out = json_pack("{s:s,s:s,s:I,s:o}", "access_token", access,
	    "refresh_token", refresh, "expires_in", (json_int_t) ttl, "user",
	    auth_user_json(u));
	token_free(access);
	return (0);
}

static int64_t
session_ttl_ms(void)
{
	int64_t days = lc_settings_int("refresh_token_ttl_days");

	return ((days > 0 ? days : 30) * DAY_MS);
}

/* ---- sessions ---- */

int
auth_session_open(struct lc_worker *w, const struct lc_req *rq,
    const struct auth_user *u, json_t **result)
{
	sqlite3_stmt *st;
	char          sid[AUTH_ID_LEN + 1];
	char         *refresh = NULL;
	json_t       *user;
	int64_t       now = lc_now_ms();
	int           rv;

	// §2.7/§1.13: the new session is the only one, decided now.
	if (lc_settings_bool("single_session_mode") &&
	    (rv = auth_sessions_revoke(
	         w, u->id, NULL, "single_session", NULL)) != 0) {
		return (rv);
	}
	auth_ulid(sid);
	st = auth_stmt(w,
	    "INSERT INTO sessions (" SESSION_COLS ") VALUES "
	    "(?1, ?2, ?3, ?3, ?4, ?5, ?6)");
	if (st == NULL || auth__bind_text(st, 1, sid) != 0 ||
	    auth__bind_text(st, 2, u->id) != 0 ||
	    sqlite3_bind_int64(st, 3, now) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, now + session_ttl_ms()) != SQLITE_OK ||
	    auth__bind_text(st, 5, rq != NULL ? rq->ip : "") != 0 ||
	    auth__bind_text(st, 6, rq != NULL ? rq->ua : "") != 0) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	if ((rv = auth__step_done(w, st, "session insert")) != 0 ||
	    (rv = refresh_new(w, sid, now, &refresh)) != 0 ||
	    (rv = auth_result(w, u, sid, refresh, result)) != 0) {
		token_free(refresh);
		return (rv);
	}
	token_free(refresh);
	user = auth__user_state(u);
	auth_emit(w, LC_TOPIC_SESS_ACTIVE,
	    json_pack(
	        "{s:s,s:s,s:o}", "sid", sid, "uid", u->id, "user", user));
	return (0);
}

// Deletes the sessions of uid (all but except, when not NULL); *ids (new
// array) gets their ids.
static int
sessions_drop(
    struct lc_worker *w, const char *uid, const char *except, json_t **ids)
{
	sqlite3_stmt *st  = auth_stmt(w,
	     "SELECT id FROM sessions WHERE user_id = ?1 AND "
	      "(?2 IS NULL OR id <> ?2) ORDER BY id");
	json_t       *out = json_array();
	int           sr;
	int           rv = LC_EINTERNAL;

	if (st == NULL || auth__bind_text(st, 1, uid) != 0 ||
	    (except != NULL ? auth__bind_text(st, 2, except) : 0) != 0) {
		lc_db_done(st);
		goto out;
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(out, auth__col_str(st, 0));
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("AUTH-SQL", "sessions of user: %s",
		    sqlite3_errmsg(auth_conn(w)));
		goto out;
	}
	if (json_array_size(out) > 0) {
		st = auth_stmt(w,
		    "DELETE FROM sessions WHERE user_id = ?1 AND "
		    "(?2 IS NULL OR id <> ?2)");
		if (st == NULL || auth__bind_text(st, 1, uid) != 0 ||
		    (except != NULL ? auth__bind_text(st, 2, except) : 0) !=
		        0) {
			lc_db_done(st);
			goto out;
		}
		if (auth__step_done(w, st, "sessions delete") != 0) {
			goto out;
		}
	}
	*ids = out;
	out  = NULL;
	rv   = 0;
out:
	json_decref(out);
	return (rv);
}

int
auth_sessions_revoke(struct lc_worker *w, const char *uid,
    const char *except_sid, const char *reason, int64_t *n)
{
	json_t *ids = NULL;
	int     rv;

	if ((rv = sessions_drop(w, uid, except_sid, &ids)) != 0) {
		return (rv);
	}
	if (n != NULL) {
		*n = (int64_t) json_array_size(ids);
	}
	if (json_array_size(ids) == 0) {
		json_decref(ids);
		return (0);
	}
	auth_emit(w, LC_TOPIC_SESS_REVOKED,
	    json_pack(
	        "{s:s,s:o,s:s}", "uid", uid, "sids", ids, "reason", reason));
	return (0);
}

int
auth_revoke_all(struct lc_worker *w, const char *uid, const char *reason,
    int64_t *nsessions, int64_t *nkeys)
{
	sqlite3_stmt *st =
	    auth_stmt(w, "UPDATE users SET cut = ?2 WHERE id = ?1");
	json_t *ids = NULL;
	char    cut[AUTH_ID_LEN + 1];
	int     rv;

	// Every impersonation token issued before this moment dies (§2.2).
	auth_ulid(cut);
	if (st == NULL || auth__bind_text(st, 1, uid) != 0 ||
	    auth__bind_text(st, 2, cut) != 0) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	if ((rv = auth__step_done(w, st, "cut")) != 0) {
		return (rv);
	}
	if (sqlite3_changes(auth_conn(w)) == 0) {
		return (LC_ENOT_FOUND);
	}
	if ((rv = sessions_drop(w, uid, NULL, &ids)) != 0) {
		return (rv);
	}
	if (nsessions != NULL) {
		*nsessions = (int64_t) json_array_size(ids);
	}
	// Sent even with no session: the cut matters on its own.
	auth_emit(w, LC_TOPIC_SESS_REVOKED,
	    json_pack("{s:s,s:o,s:s,s:s}", "uid", uid, "sids", ids, "reason",
	        reason, "cut", cut));
	return (auth_apikeys_revoke_all(w, uid, nkeys));
}

// Deletes one session (of uid) and queues its session.revoked.
static int
session_delete(struct lc_worker *w, const char *sid, const char *uid,
    const char *reason, int *found)
{
	sqlite3_stmt *st = auth_stmt(w, "DELETE FROM sessions WHERE id = ?1");
	int           rv;

	if (st == NULL || auth__bind_text(st, 1, sid) != 0) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	if ((rv = auth__step_done(w, st, "session delete")) != 0) {
		return (rv);
	}
	*found = sqlite3_changes(auth_conn(w)) > 0;
	if (*found) {
		auth_emit(w, LC_TOPIC_SESS_REVOKED,
		    json_pack("{s:s,s:[s],s:s}", "uid", uid, "sids", sid,
		        "reason", reason));
	}
	return (0);
}

/* ---- refresh ---- */

struct rt_row {
	int     current;
	char    sid[AUTH_ID_LEN + 1];
	char    uid[AUTH_ID_LEN + 1];
	int64_t expires_at;
};

// The session a refresh token hash belongs to; 0 or
// LC_EINVALID_REFRESH_TOKEN (unknown).
static int
rt_find(struct lc_worker *w, const uint8_t *h, struct rt_row *r)
{
	sqlite3_stmt *st = auth_stmt(w,
	    "SELECT t.current, s.id, s.user_id, s.expires_at FROM "
	    "refresh_tokens t JOIN sessions s ON s.id = t.session_id "
	    "WHERE t.hash = ?1");
	int           rv = LC_EINTERNAL;
	int           sr;

	if (st == NULL ||
	    sqlite3_bind_blob(st, 1, h, crypto_hash_sha256_BYTES,
	        SQLITE_TRANSIENT) != SQLITE_OK) {
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_DONE) {
		rv = LC_EINVALID_REFRESH_TOKEN;
	} else if (sr == SQLITE_ROW) {
		r->current = sqlite3_column_int(st, 0) != 0;
		auth__col_copy(st, 1, r->sid, sizeof(r->sid));
		auth__col_copy(st, 2, r->uid, sizeof(r->uid));
		r->expires_at = sqlite3_column_int64(st, 3);
		rv            = 0;
	} else {
		lc_log_err("AUTH-SQL", "refresh find: %s",
		    sqlite3_errmsg(auth_conn(w)));
	}
out:
	lc_db_done(st);
	return (rv);
}

// Rotates: the presented token stops being current, refresh (made
// before the transaction) becomes current, the session slides forward.
static int
rotate(struct lc_worker *w, const char *sid, const char *refresh)
{
	sqlite3_stmt *st;
	int64_t       now = lc_now_ms();
	int           rv;

	st = auth_stmt(w,
	    "UPDATE refresh_tokens SET current = 0 WHERE "
	    "session_id = ?1 AND current = 1");
	if (st == NULL || auth__bind_text(st, 1, sid) != 0) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	if ((rv = auth__step_done(w, st, "refresh retire")) != 0) {
		return (rv);
	}
	st = auth_stmt(w,
	    "UPDATE sessions SET last_used_at = ?2, "
	    "expires_at = ?3 WHERE id = ?1");
	if (st == NULL || auth__bind_text(st, 1, sid) != 0 ||
	    sqlite3_bind_int64(st, 2, now) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, now + session_ttl_ms()) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	if ((rv = auth__step_done(w, st, "session slide")) != 0) {
		return (rv);
	}
	return (refresh_store(w, sid, now, refresh));
}

// Revokes the session of a reused token and commits that (the answer is
// still the 401).
static int
reuse(struct lc_worker *w, struct lc_rep *rp, const struct rt_row *r)
{
	int found;
	int rv;

	if ((rv = session_delete(
	         w, r->sid, r->uid, AUTH_REASON_REUSE, &found)) != 0) {
		auth_rollback(w);
		return (rv);
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	lc_log_warn("AUTH-REFRESH-REUSE",
	    "earlier refresh token presented: session of user %s revoked",
	    r->uid);
	return (LC_EREFRESH_TOKEN_REUSED);
}

int
auth_h_refresh(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t    *tv = json_object_get(rq->body, "refresh_token");
	struct auth_user u  = { 0 };
	struct rt_row    r;
	uint8_t          h[crypto_hash_sha256_BYTES];
	char            *refresh = NULL;
	json_t          *result  = NULL;
	int              rv;

	if (!json_is_string(tv)) {
		return (auth__fail(rp, LC_EVALIDATION,
		    "refresh_token must be a string.", "refresh_token"));
	}
	if (json_string_length(tv) == 0 ||
	    json_string_length(tv) > REFRESH_MAX_LEN) {
		return (LC_EINVALID_REFRESH_TOKEN); // never one of ours
	}
	token_hash(json_string_value(tv), json_string_length(tv), h);
	memset(&r, 0, sizeof(r));
	// Only the reads and writes run under the writer (lc_store.h): the
	// new token is made before, the signed AuthResult after.
	refresh = lc_random_token(REFRESH_BYTES);
	if ((rv = auth_begin(w)) != 0) {
		goto out;
	}
	if ((rv = rt_find(w, h, &r)) != 0) {
		goto fail;
	}
	if (r.expires_at <= lc_now_ms()) {
		rv = LC_EINVALID_REFRESH_TOKEN; // expired: as if revoked
		goto fail;
	}
	if (!r.current) {
		rv = reuse(w, rp, &r);
		goto out;
	}
	if ((rv = auth_user_load(w, r.uid, &u)) != 0 ||
	    (rv = rotate(w, r.sid, refresh)) != 0) {
		rv = rv == LC_ENOT_FOUND ? LC_EINVALID_REFRESH_TOKEN : rv;
		goto fail;
	}
	if ((rv = auth_commit(w, rp)) != 0 ||
	    (rv = auth_result(w, &u, r.sid, refresh, &result)) != 0) {
		goto out;
	}
	lc_rep_json(rp, 200, result);
	result = NULL;
	goto out;
fail:
	auth_rollback(w);
out:
	token_free(refresh);
	json_decref(result);
	auth_user_fini(&u);
	return (rv);
}

/* ---- logout ---- */

int
auth_h_logout(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t *sv = json_object_get(rq->caller, "sid");
	const char   *uid;
	int           found;
	int           rv;

	if ((rv = auth__need_user(rq, &uid)) != 0) {
		return (rv);
	}
	// An API key or an impersonation token has no session to end.
	if (rq->caller_kind != LC_CALLER_USER || !json_is_string(sv) ||
	    json_string_length(sv) != AUTH_ID_LEN ||
	    json_is_true(json_object_get(rq->caller, "imp"))) {
		return (LC_ESESSION_REQUIRED);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = session_delete(
	         w, json_string_value(sv), uid, "logout", &found)) != 0) {
		auth_rollback(w);
		return (rv);
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200, json_pack("{s:b}", "ok", 1));
	return (0);
}

int
auth_h_logout_all(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const char *uid;
	int64_t     ns = 0;
	int64_t     nk = 0;
	int         rv;

	if ((rv = auth__need_user(rq, &uid)) != 0) {
		return (rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = auth_revoke_all(w, uid, "logout_all", &ns, &nk)) != 0) {
		auth_rollback(w);
		return (rv == LC_ENOT_FOUND ? auth__caller_gone(rq) : rv);
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200,
	    json_pack("{s:I,s:I}", "sessions_revoked", (json_int_t) ns,
	        "api_keys_revoked", (json_int_t) nk));
	return (0);
}

/* ---- admin: sessions ---- */

static json_t *
session_json(sqlite3_stmt *st)
{
	return (json_pack("{s:o,s:o,s:I,s:I,s:I,s:o,s:o}", "id",
	    auth__col_str(st, 0), "user_id", auth__col_str(st, 1),
	    "created_at", (json_int_t) sqlite3_column_int64(st, 2),
	    "last_used_at", (json_int_t) sqlite3_column_int64(st, 3),
	    "expires_at", (json_int_t) sqlite3_column_int64(st, 4), "ip",
	    auth__col_str(st, 5), "user_agent", auth__col_str(st, 6)));
}

int
auth_h_sessions_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t *uv  = json_object_get(rq->query, "user_id");
	const char   *uid = NULL;
	sqlite3_stmt *st;
	json_t       *items = NULL;
	int64_t       limit;
	int64_t       page;
	int64_t       total = 0;
	int           sr;
	int           rv;

	if ((rv = auth__need_admin(rq)) != 0 ||
	    (rv = auth__page(rq, rp, &limit, &page)) != 0) {
		return (rv);
	}
	if (uv != NULL && !json_is_string(uv)) {
		return (auth__fail(rp, LC_EINVALID_QUERY,
		    "user_id must be a string.", "user_id"));
	}
	if (uv != NULL && json_string_length(uv) > 0) {
		uid = json_string_value(uv);
	}
	rv = LC_EINTERNAL;
	st = auth_stmt(w,
	    "SELECT count(*) FROM sessions WHERE ?1 IS NULL OR user_id = ?1");
	if (st == NULL ||
	    (uid != NULL ? auth__bind_text(st, 1, uid) : 0) != 0) {
		lc_db_done(st);
		return (rv);
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		total = sqlite3_column_int64(st, 0);
	}
	lc_db_done(st);
	st = auth_stmt(w,
	    "SELECT " SESSION_COLS " FROM sessions WHERE ?1 IS NULL OR "
	    "user_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET "
	    "?3");
	if (st == NULL ||
	    (uid != NULL ? auth__bind_text(st, 1, uid) : 0) != 0 ||
	    sqlite3_bind_int64(st, 2, limit) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, (page - 1) * limit) != SQLITE_OK) {
		lc_db_done(st);
		return (rv);
	}
	items = json_array();
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(items, session_json(st));
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("AUTH-SQL", "sessions list: %s",
		    sqlite3_errmsg(auth_conn(w)));
		json_decref(items);
		return (rv);
	}
	lc_rep_json(rp, 200, auth__page_json(items, total, page, limit));
	return (0);
}

int
auth_h_sessions_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	sqlite3_stmt *st;
	const char   *sid;
	char          uid[AUTH_ID_LEN + 1];
	int           found = 0;
	int           sr;
	int           rv;

	if ((rv = auth__need_admin(rq)) != 0 ||
	    (rv = auth__path_id(rq, &sid)) != 0) {
		return (rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	st = auth_stmt(w, "SELECT user_id FROM sessions WHERE id = ?1");
	if (st == NULL || auth__bind_text(st, 1, sid) != 0) {
		lc_db_done(st);
		rv = LC_EINTERNAL;
		goto fail;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_ROW) {
		auth__col_copy(st, 0, uid, sizeof(uid));
	}
	lc_db_done(st);
	if (sr != SQLITE_ROW) {
		rv = sr == SQLITE_DONE ? LC_ENOT_FOUND : LC_EINTERNAL;
		goto fail;
	}
	if ((rv = session_delete(w, sid, uid, "session_revoked", &found)) !=
	    0) {
		goto fail;
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200, json_pack("{s:b}", "ok", 1));
	return (0);
fail:
	auth_rollback(w);
	return (rv);
}

// Queues one session.revoked for the sids of one user (taken).
static void
emit_revoked(struct lc_worker *w, const char *uid, json_t *sids)
{
	if (json_array_size(sids) == 0) {
		json_decref(sids);
		return;
	}
	auth_emit(w, LC_TOPIC_SESS_REVOKED,
	    json_pack("{s:s,s:o,s:s}", "uid", uid, "sids", sids, "reason",
	        "session_revoked"));
}

int
auth_h_sessions_purge(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	sqlite3_stmt *st;
	json_t       *sids                 = NULL;
	char          uid[AUTH_ID_LEN + 1] = "";
	char          row_uid[AUTH_ID_LEN + 1];
	int64_t       now = lc_now_ms();
	int64_t       n   = 0;
	int           sr;
	int           rv;

	if ((rv = auth__need_admin(rq)) != 0) {
		return (rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	// The gateway may still hold them: one session.revoked per user.
	st = auth_stmt(w,
	    "SELECT id, user_id FROM sessions WHERE expires_at <= ?1 "
	    "ORDER BY user_id, id");
	if (st == NULL || sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
		lc_db_done(st);
		rv = LC_EINTERNAL;
		goto fail;
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		auth__col_copy(st, 1, row_uid, sizeof(row_uid));
		if (strcmp(row_uid, uid) != 0) {
			emit_revoked(w, uid, sids);
			sids = json_array();
			memcpy(uid, row_uid, sizeof(uid));
		}
		json_array_append_new(sids, auth__col_str(st, 0));
		n++;
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		rv = LC_EINTERNAL;
		goto fail;
	}
	emit_revoked(w, uid, sids);
	sids = NULL;
	st   = auth_stmt(w, "DELETE FROM sessions WHERE expires_at <= ?1");
	if (st == NULL || sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
		lc_db_done(st);
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = auth__step_done(w, st, "sessions purge")) != 0) {
		goto fail;
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	lc_log_info("AUTH-SESSIONS-PURGE", "%lld expired sessions purged",
	    (long long) n);
	lc_rep_json(rp, 200, json_pack("{s:I}", "purged", (json_int_t) n));
	return (0);
fail:
	json_decref(sids);
	auth_rollback(w);
	return (rv);
}

/* ---- the gateway's view ---- */

static int
need_service(const struct lc_req *rq)
{
	return (rq->caller_kind == LC_CALLER_SERVICE ? 0 : LC_EFORBIDDEN);
}

// The users with live sessions and those sessions, as of one read
// transaction.
static int
snapshot_read(struct lc_worker *w, int64_t now, json_t *users, json_t *sess)
{
	sqlite3_stmt *st;
	int           sr;

	st = auth_stmt(w,
	    "SELECT id, email, roles, is_verified, cut FROM users WHERE id IN "
	    "(SELECT user_id FROM sessions WHERE expires_at > ?1)");
	if (st == NULL || sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(users,
		    json_pack("{s:o,s:o,s:o,s:b,s:o}", "uid",
		        auth__col_str(st, 0), "email", auth__col_str(st, 1),
		        "roles", auth__col_json(st, 2, 1), "verified",
		        sqlite3_column_int(st, 3) != 0, "cut",
		        auth__col_str(st, 4)));
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		return (LC_EINTERNAL);
	}
	st = auth_stmt(
	    w, "SELECT id, user_id FROM sessions WHERE expires_at > ?1");
	if (st == NULL || sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(sess,
		    json_pack("{s:o,s:o}", "sid", auth__col_str(st, 0), "uid",
		        auth__col_str(st, 1)));
	}
	lc_db_done(st);
	return (sr == SQLITE_DONE ? 0 : LC_EINTERNAL);
}

int
auth_h_sessions_snapshot(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct lc_pub *pub   = w->svc != NULL ? w->svc->pub : NULL;
	json_t        *users = json_array();
	json_t        *sess  = json_array();
	uint64_t       seq;
	int            rv;

	if ((rv = need_service(rq)) != 0) {
		goto out;
	}
	// The seq first: every event after it is (re)applied on top, so
	// whatever commits after this moment is covered by the stream.
	seq = pub != NULL ? lc_pub_seq(pub) : 0;
	if ((rv = auth_begin_read(w)) != 0) {
		goto out;
	}
	rv = snapshot_read(w, lc_now_ms(), users, sess);
	auth_rollback(w); // read only
	if (rv != 0) {
		lc_log_err(
		    "AUTH-SQL", "snapshot: %s", sqlite3_errmsg(auth_conn(w)));
		goto out;
	}
	lc_rep_json(rp, 200,
	    json_pack("{s:I,s:s,s:o,s:o}", "seq", (json_int_t) seq, "src",
	        pub != NULL ? lc_pub_src(pub) : "", "users", users, "sessions",
	        sess));
	return (0);
out:
	json_decref(users);
	json_decref(sess);
	return (rv);
}

static int
check_sid(struct lc_worker *w, const char *uid, const char *sid, json_t **out)
{
	sqlite3_stmt *st = auth_stmt(w,
	    "SELECT s.expires_at, u.email, u.roles, u.is_verified FROM "
	    "sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?1 "
	    "AND s.user_id = ?2");
	int           rv = LC_EINTERNAL;
	int           sr;

	if (st == NULL || auth__bind_text(st, 1, sid) != 0 ||
	    auth__bind_text(st, 2, uid) != 0) {
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_DONE ||
	    (sr == SQLITE_ROW && sqlite3_column_int64(st, 0) <= lc_now_ms())) {
		// Never existed, revoked, expired, or the user is gone.
		rv = LC_ESESSION_REVOKED;
	} else if (sr == SQLITE_ROW) {
		*out = json_pack("{s:s,s:o,s:o,s:b}", "uid", uid, "email",
		    auth__col_str(st, 1), "roles", auth__col_json(st, 2, 1),
		    "verified", sqlite3_column_int(st, 3) != 0);
		rv   = 0;
	} else {
		lc_log_err("AUTH-SQL", "session check: %s",
		    sqlite3_errmsg(auth_conn(w)));
	}
out:
	lc_db_done(st);
	return (rv);
}

static int
check_jti(struct lc_worker *w, const char *uid, const json_t *jv, json_t **out)
{
	struct auth_user u;
	int              rv;

	if (!json_is_string(jv) ||
	    !lc_ulid_valid(json_string_value(jv), json_string_length(jv))) {
		return (LC_EINVALID_TOKEN);
	}
	if ((rv = auth_user_load(w, uid, &u)) != 0) {
		return (rv == LC_ENOT_FOUND ? LC_EINVALID_TOKEN : rv);
	}
	// Issued before the user's last revoke-all (both are ULIDs of one
	// monotonic generator: string order is issue order, §1.13).
	if (u.cut[0] != '\0' && strcmp(json_string_value(jv), u.cut) < 0) {
		auth_user_fini(&u);
		return (LC_ESESSION_REVOKED);
	}
	*out = json_pack("{s:s,s:s,s:o,s:b}", "uid", u.id, "email", u.email,
	    "roles", json_deep_copy(u.roles), "verified", u.is_verified);
	auth_user_fini(&u);
	return (0);
}

int
auth_h_session_check(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t *uv  = json_object_get(rq->body, "uid");
	const json_t *sv  = json_object_get(rq->body, "sid");
	json_t       *out = NULL;
	int           rv;

	if ((rv = need_service(rq)) != 0) {
		return (rv);
	}
	if (!json_is_string(uv) || json_string_length(uv) != AUTH_ID_LEN) {
		return (LC_EINVALID_TOKEN); // claims of a token we never made
	}
	if (sv != NULL) {
		rv = json_is_string(sv) ? check_sid(w, json_string_value(uv),
		                              json_string_value(sv), &out)
		                        : LC_EINVALID_TOKEN;
	} else {
		rv = check_jti(w, json_string_value(uv),
		    json_object_get(rq->body, "jti"), &out);
	}
	if (rv != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200, out);
	return (0);
}
