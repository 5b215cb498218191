/*
 * apikeys.c -- API keys (API.md §2.4, §2.10): create, list, delete, and
 * auth.apikey_resolve for the gateway.
 *
 * A key is "bb_" + 40 characters of [A-Za-z0-9], each drawn with
 * randombytes_uniform(62) (no modulo bias: 238 bits of entropy). It is
 * shown once; the table keeps its SHA-256 (looked up by that hash, which
 * reveals nothing about other keys) and its first 11 characters as the
 * prefix. A deleted key is gone at once: the delete queues apikey.revoked,
 * which rides on the reply as an effect, so the gateway that carried the
 * request drops its cached answer before it replies.
 *
 * last_used_at: resolve writes it only when the stored value is missing
 * or AUTH_APIKEY_TOUCH_MS old, so a busy key costs one small write a
 * minute, not one per request (the contract allows 60 s of lag). The
 * stored value itself is the per-key "last write" clock: nothing in
 * memory, correct across workers and restarts.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"
#include "lc_settings.h"

#define APIKEY_EXPIRES_MAX 315360000 // seconds (10 years)

static const char alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

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

void
auth_apikey_new(char out[AUTH_APIKEY_LEN + 1])
{
	memcpy(out, "bb_", 3);
	for (size_t i = 3; i < AUTH_APIKEY_LEN; i++) {
		out[i] = alnum[randombytes_uniform(sizeof(alnum) - 1)];
	}
	out[AUTH_APIKEY_LEN] = '\0';
}

int
auth_apikey_format_ok(const char *s, size_t len)
{
	if (len != AUTH_APIKEY_LEN || memcmp(s, "bb_", 3) != 0) {
		return (0);
	}
	for (size_t i = 3; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9'))) {
			return (0);
		}
	}
	return (1);
}

// Code points of a valid UTF-8 string (jansson checked it).
static size_t
utf8_len(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		n += ((unsigned char) s[i] & 0xc0) != 0x80;
	}
	return (n);
}

// A nullable integer column as JSON.
static json_t *
int_or_null(sqlite3_stmt *st, int col)
{
	return (sqlite3_column_type(st, col) == SQLITE_NULL
	        ? json_null()
	        : json_integer(sqlite3_column_int64(st, col)));
}

static json_t *
text_col(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return (json_stringn(s != NULL ? (const char *) s : "",
	    (size_t) sqlite3_column_bytes(st, col)));
}

/* ---- create, list, delete ---- */

int
auth_h_apikey_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t *nv       = json_object_get(rq->body, "name");
	const json_t *ev       = json_object_get(rq->body, "expires_in");
	const char   *uid      = caller_uid(rq);
	const char   *name     = "";
	size_t        name_len = 0;
	sqlite3_stmt *st;
	char          id[AUTH_ID_LEN + 1];
	char          key[AUTH_APIKEY_LEN + 1];
	uint8_t       h[crypto_hash_sha256_BYTES];
	int64_t       now;
	int64_t       expires = 0;
	int           sr;
	int           rv = LC_EINTERNAL;

	if (!lc_settings_bool("auth_api_keys_enabled")) {
		return (LC_EAUTH_METHOD_DISABLED);
	}
	if (uid == NULL) {
		return (LC_EAUTH_REQUIRED);
	}
	if (nv != NULL && !json_is_null(nv)) {
		if (!json_is_string(nv) ||
		    utf8_len(json_string_value(nv), json_string_length(nv)) >
		        AUTH_APIKEY_NAME_MAX) {
			return (fail(rp, LC_EVALIDATION,
			    "name must be a string of at most 100 characters.",
			    "name"));
		}
		name     = json_string_value(nv);
		name_len = json_string_length(nv);
	}
	if (ev != NULL && !json_is_null(ev)) {
		if (!json_is_integer(ev) || json_integer_value(ev) < 1 ||
		    json_integer_value(ev) > APIKEY_EXPIRES_MAX) {
			return (fail(rp, LC_EVALIDATION,
			    "expires_in must be an integer from 1 to "
			    "315360000.",
			    "expires_in"));
		}
		expires = (int64_t) json_integer_value(ev);
	}
	auth_apikey_new(key);
	crypto_hash_sha256(h, (const unsigned char *) key, AUTH_APIKEY_LEN);
	auth_ulid(id);
	now = lc_now_ms();
	st  = auth_stmt(w,
	     "INSERT INTO api_keys (id, user_id, name, prefix, hash, "
	      "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (st == NULL) {
		goto out;
	}
	if (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, uid, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, name, (int) name_len, SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(st, 4, key, AUTH_APIKEY_PREFIX_LEN,
	        SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 5, h, sizeof(h), SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, now) != SQLITE_OK ||
	    (expires > 0 ? sqlite3_bind_int64(st, 7, now + expires * 1000)
	                 : sqlite3_bind_null(st, 7)) != SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr == SQLITE_CONSTRAINT) {
		// The owner was deleted after the gateway admitted the call.
		rv = rq->caller_kind == LC_CALLER_APIKEY ? LC_EINVALID_API_KEY
		                                         : LC_ESESSION_REVOKED;
		goto out;
	}
	if (sr != SQLITE_DONE) {
		lc_log_err("AUTH-SQL", "apikey_create: %s",
		    sqlite3_errmsg(auth_conn(w)));
		goto out;
	}
	lc_rep_json(rp, 201,
	    json_pack("{s:s,s:s%,s:s,s:s%,s:I,s:o,s:n}", "id", id, "name",
	        name, name_len, "key", key, "prefix", key,
	        (size_t) AUTH_APIKEY_PREFIX_LEN, "created_at",
	        (json_int_t) now, "expires_at",
	        expires > 0 ? json_integer(now + expires * 1000) : json_null(),
	        "last_used_at"));
	rv = 0;
out:
	sodium_memzero(key, sizeof(key));
	return (rv);
}

int
auth_h_apikey_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const char   *uid = caller_uid(rq);
	sqlite3_stmt *st;
	json_t       *items;
	int           sr;

	if (uid == NULL) {
		return (LC_EAUTH_REQUIRED);
	}
	// ULIDs increase with creation: id order is creation order.
	st = auth_stmt(w,
	    "SELECT id, name, prefix, created_at, expires_at, last_used_at "
	    "FROM api_keys WHERE user_id = ?1 ORDER BY id DESC");
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	items = json_array();
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(items,
		    json_pack("{s:o,s:o,s:o,s:I,s:o,s:o}", "id",
		        text_col(st, 0), "name", text_col(st, 1), "prefix",
		        text_col(st, 2), "created_at",
		        (json_int_t) sqlite3_column_int64(st, 3), "expires_at",
		        int_or_null(st, 4), "last_used_at",
		        int_or_null(st, 5)));
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("AUTH-SQL", "apikey_list: %s",
		    sqlite3_errmsg(auth_conn(w)));
		json_decref(items);
		return (LC_EINTERNAL);
	}
	lc_rep_json(rp, 200, json_pack("{s:o}", "items", items));
	return (0);
}

int
auth_h_apikey_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const char   *uid = caller_uid(rq);
	const json_t *iv  = json_object_get(rq->params, "id");
	const char   *id  = json_string_value(iv);
	sqlite3_stmt *st;
	int           sr;
	int           rv;

	if (uid == NULL) {
		return (LC_EAUTH_REQUIRED);
	}
	if (id == NULL || !lc_ulid_valid(id, json_string_length(iv))) {
		return (LC_ENOT_FOUND);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	st = auth_stmt(
	    w, "DELETE FROM api_keys WHERE id = ?1 AND user_id = ?2");
	if (st == NULL ||
	    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		auth_rollback(w);
		return (LC_EINTERNAL);
	}
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("AUTH-SQL", "apikey_delete: %s",
		    sqlite3_errmsg(auth_conn(w)));
		auth_rollback(w);
		return (LC_EINTERNAL);
	}
	if (sqlite3_changes(auth_conn(w)) == 0) {
		auth_rollback(w); // unknown, or another user's key
		return (LC_ENOT_FOUND);
	}
	auth_emit(w, LC_TOPIC_APIKEY_REVOKED,
	    json_pack("{s:s,s:[s]}", "uid", uid, "ids", id));
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200, json_pack("{s:b}", "ok", 1));
	return (0);
}

int
auth_apikeys_revoke_all(struct lc_worker *w, const char *uid, int64_t *n)
{
	sqlite3_stmt *st;
	json_t       *ids = json_array();
	int           sr;

	st = auth_stmt(w, "SELECT id FROM api_keys WHERE user_id = ?1");
	if (st == NULL ||
	    sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		goto fail;
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_array_append_new(ids, text_col(st, 0));
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		goto fail;
	}
	if (json_array_size(ids) > 0) {
		st = auth_stmt(w, "DELETE FROM api_keys WHERE user_id = ?1");
		if (st == NULL ||
		    sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC) !=
		        SQLITE_OK) {
			goto fail;
		}
		sr = sqlite3_step(st);
		lc_db_done(st);
		if (sr != SQLITE_DONE) {
			goto fail;
		}
	}
	if (n != NULL) {
		*n = (int64_t) json_array_size(ids);
	}
	if (json_array_size(ids) > 0) {
		auth_emit(w, LC_TOPIC_APIKEY_REVOKED,
		    json_pack("{s:s,s:o}", "uid", uid, "ids", ids));
	} else {
		json_decref(ids);
	}
	return (0);
fail:
	lc_db_done(st);
	lc_log_err("AUTH-SQL", "apikeys_revoke_all: %s",
	    sqlite3_errmsg(auth_conn(w)));
	json_decref(ids);
	return (LC_EINTERNAL);
}

/* ---- resolve (gateway) ---- */

// Writes last_used_at = now unless the stored value is recent. Outside
// any transaction (autocommit); a failure only delays the update.
static void
touch(struct lc_worker *w, const char *id, int64_t now)
{
	sqlite3_stmt *st;

	// A write transaction first: statements then come from the
	// process's writer connection (lc_store.h), not the worker's.
	if (auth_begin(w) != 0) {
		return;
	}
	st = auth_stmt(w,
	    "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND "
	    "(last_used_at IS NULL OR last_used_at <= ?3)");
	if (st == NULL) {
		auth_rollback(w);
		return;
	}
	if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, now - AUTH_APIKEY_TOUCH_MS) !=
	        SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE) {
		lc_log_warn("AUTH-APIKEY-TOUCH", "last_used_at: %s",
		    sqlite3_errmsg(auth_conn(w)));
	}
	lc_db_done(st);
	if (auth_commit(w, NULL) != 0) {
		lc_log_warn("AUTH-APIKEY-TOUCH", "last_used_at not saved");
	}
}

int
auth_h_apikey_resolve(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t *kv = json_object_get(rq->body, "key");
	sqlite3_stmt *st;
	uint8_t       h[crypto_hash_sha256_BYTES];
	json_t       *roles = NULL;
	json_t       *out   = NULL;
	char          id[AUTH_ID_LEN + 1];
	int64_t       now   = lc_now_ms();
	int           stale = 0;
	int           sr;
	int           rv = LC_EINTERNAL;

	if (rq->caller_kind != LC_CALLER_SERVICE) {
		return (LC_EFORBIDDEN); // the gateway's op, not a client's
	}
	if (!json_is_string(kv) ||
	    !auth_apikey_format_ok(
	        json_string_value(kv), json_string_length(kv))) {
		return (LC_EINVALID_API_KEY);
	}
	crypto_hash_sha256(
	    h, (const unsigned char *) json_string_value(kv), AUTH_APIKEY_LEN);
	st = auth_stmt(w,
	    "SELECT k.id, k.expires_at, k.last_used_at, u.id, u.email, "
	    "u.roles, u.is_verified FROM api_keys k JOIN users u ON "
	    "u.id = k.user_id WHERE k.hash = ?1");
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_STATIC) !=
	    SQLITE_OK) {
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_DONE) {
		rv = LC_EINVALID_API_KEY; // unknown, deleted, owner gone
		goto out;
	}
	if (sr != SQLITE_ROW) {
		lc_log_err("AUTH-SQL", "apikey_resolve: %s",
		    sqlite3_errmsg(auth_conn(w)));
		goto out;
	}
	if (sqlite3_column_type(st, 1) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 1) <= now) {
		rv = LC_EINVALID_API_KEY; // expired
		goto out;
	}
	(void) snprintf(
	    id, sizeof(id), "%s", (const char *) sqlite3_column_text(st, 0));
	stale = sqlite3_column_type(st, 2) == SQLITE_NULL ||
	    sqlite3_column_int64(st, 2) <= now - AUTH_APIKEY_TOUCH_MS;
	roles = sqlite3_column_text(st, 5) != NULL
	    ? json_loads((const char *) sqlite3_column_text(st, 5), 0, NULL)
	    : NULL;
	if (!json_is_array(roles)) {
		json_decref(roles);
		roles = json_array();
	}
	out = json_pack("{s:o,s:o,s:o,s:b,s:s}", "uid", text_col(st, 3),
	    "email", text_col(st, 4), "roles", roles, "verified",
	    sqlite3_column_int(st, 6) != 0, "key_id", id);
	rv  = out != NULL ? 0 : LC_EINTERNAL;
	// The gateway caches the answer no longer than the key is valid.
	if (out != NULL && sqlite3_column_type(st, 1) != SQLITE_NULL) {
		(void) json_object_set_new(out, "expires_at",
		    json_integer((json_int_t) sqlite3_column_int64(st, 1)));
	}
out:
	lc_db_done(st);
	if (rv != 0) {
		return (rv);
	}
	if (stale) {
		touch(w, id, now);
	}
	lc_rep_json(rp, 200, out);
	return (0);
}
