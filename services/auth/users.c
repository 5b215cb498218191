/*
 * users.c -- user rows and the User object (API.md §2.1); register,
 * login, /auth/me (§2.10); the admin users API (§5.2); and the request
 * helpers users.c and sessions.c share (auth__*).
 *
 * Login (§2.6, §2.10). The order of the answers is: 403 (password
 * sign-in disabled), 400 (email/password not strings), 429 (locked),
 * 401. The attempt holds a lockout ticket while the password is checked
 * (lockout.c): a parallel burst of failures cannot overshoot
 * lockout_max_attempts and a burst of right passwords never locks; a
 * success resets the counter, a TotpChallenge leaves it. Every path that
 * answers 401 (unknown e-mail, malformed e-mail, no password, a password
 * that could never be valid) does the same Argon2 verification, against
 * a dummy hash when there is nothing to check. Argon2 never runs inside a
 * transaction: after a match, the session opens in a short IMMEDIATE
 * transaction that first checks that the account still has the hash that
 * matched (a reset or deletion in between wins).
 *
 * Writes that change what the gateway holds about a user (e-mail, roles,
 * is_verified, TOTP) queue user.changed; updated_at moves only when one
 * of e-mail, password, is_verified, roles, metadata or totp_enabled
 * actually changes.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"
#include "lc_settings.h"

#define USER_COLS                                                            \
	"id, email, pw_hash IS NOT NULL, is_verified, totp_enabled, roles, " \
	"metadata, cut, created_at, updated_at"
#define LIST_LIMIT_DEF 50
#define LIST_LIMIT_MAX 500
#define LIST_PAGE_MAX 1000000000000LL // far past any end
#define PW_MAX_BYTES (4 * AUTH_PASSWORD_MAX)

static const char sql_user_by_id[] =
    "SELECT " USER_COLS " FROM users WHERE id = ?1";
static const char sql_user_by_email[] =
    "SELECT " USER_COLS " FROM users WHERE email = ?1";

/* ---- helpers shared with sessions.c ---- */

int
auth__fail(struct lc_rep *rp, int err, const char *msg, const char *field)
{
	lc_rep_error(rp, err, msg, field);
	return (err);
}

const char *
auth__caller_uid(const struct lc_req *rq)
{
	const json_t *v = json_object_get(rq->caller, "uid");

	return (json_is_string(v) && json_string_length(v) == AUTH_ID_LEN
	        ? json_string_value(v)
	        : NULL);
}

int
auth__caller_gone(const struct lc_req *rq)
{
	return (rq->caller_kind == LC_CALLER_APIKEY ? LC_EINVALID_API_KEY
	                                            : LC_ESESSION_REVOKED);
}

int
auth__need_user(const struct lc_req *rq, const char **uid)
{
	if (rq->caller_kind != LC_CALLER_USER &&
	    rq->caller_kind != LC_CALLER_APIKEY) {
		return (rq->caller_kind == LC_CALLER_ADMIN
		        ? LC_EUSER_REQUIRED
		        : LC_EAUTH_REQUIRED);
	}
	if ((*uid = auth__caller_uid(rq)) == NULL) {
		return (LC_EAUTH_REQUIRED);
	}
	return (0);
}

int
auth__need_admin(const struct lc_req *rq)
{
	switch (rq->caller_kind) {
	case LC_CALLER_ADMIN:
	case LC_CALLER_SERVICE:
		return (0);
	case LC_CALLER_ANON:
		return (LC_EAUTH_REQUIRED);
	default:
		return (LC_EADMIN_REQUIRED);
	}
}

int
auth__path_id(const struct lc_req *rq, const char **out)
{
	const json_t *v = json_object_get(rq->params, "id");

	// §1.1: a path id that is not a ULID is the resource's 404.
	if (!json_is_string(v) ||
	    !lc_ulid_valid(json_string_value(v), json_string_length(v))) {
		return (LC_ENOT_FOUND);
	}
	*out = json_string_value(v);
	return (0);
}

// An integer query parameter (§1.7, §1.13): a decimal string (the gateway
// sends the query as strings) or an integer (busbasectl). Above max it is
// clamped, even past the int64 range; below min or not an integer:
// LC_EINVALID_QUERY.
static int
query_int(const json_t *v, int64_t def, int64_t min, int64_t max, int64_t *out)
{
	const char *s;
	size_t      len;
	size_t      i   = 0;
	int64_t     n   = 0;
	int         big = 0;

	if (v == NULL) {
		*out = def;
		return (0);
	}
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		s   = json_string_value(v);
		len = json_string_length(v);
		if (len > 0 && (s[0] == '+' || s[0] == '-')) {
			i = 1;
		}
		if (i == len) {
			return (LC_EINVALID_QUERY);
		}
		for (; i < len; i++) {
			if (s[i] < '0' || s[i] > '9') {
				return (LC_EINVALID_QUERY);
			}
			if (n > (INT64_MAX - 9) / 10) {
				big = 1; // keeps scanning: all digits?
			} else {
				n = n * 10 + (s[i] - '0');
			}
		}
		if (s[0] == '-') {
			n = big ? INT64_MIN : -n;
		} else if (big) {
			n = INT64_MAX;
		}
	} else {
		return (LC_EINVALID_QUERY);
	}
	if (n < min) {
		return (LC_EINVALID_QUERY);
	}
	*out = n > max ? max : n;
	return (0);
}

int
auth__page(
    const struct lc_req *rq, struct lc_rep *rp, int64_t *limit, int64_t *page)
{
	if (query_int(json_object_get(rq->query, "limit"), LIST_LIMIT_DEF, 1,
	        LIST_LIMIT_MAX, limit) != 0) {
		return (auth__fail(rp, LC_EINVALID_QUERY,
		    "limit must be an integer of at least 1.", "limit"));
	}
	if (query_int(json_object_get(rq->query, "page"), 1, 1, LIST_PAGE_MAX,
	        page) != 0) {
		return (auth__fail(rp, LC_EINVALID_QUERY,
		    "page must be an integer of at least 1.", "page"));
	}
	return (0);
}

json_t *
auth__page_json(json_t *items, int64_t total, int64_t page, int64_t limit)
{
	return (json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total",
	    (json_int_t) total, "page", (json_int_t) page, "limit",
	    (json_int_t) limit));
}

void
auth__col_copy(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	int                  n = sqlite3_column_bytes(st, col);

	out[0] = '\0';
	if (s != NULL && n > 0 && (size_t) n < cap) {
		memcpy(out, s, (size_t) n);
		out[n] = '\0';
	}
}

json_t *
auth__col_str(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	json_t              *v;

	v = json_stringn(s != NULL ? (const char *) s : "",
	    (size_t) sqlite3_column_bytes(st, col));
	return (v != NULL ? v : json_string(""));
}

int
auth__step_done(struct lc_worker *w, sqlite3_stmt *st, const char *what)
{
	int sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("AUTH-SQL", "%s: %s (%d)", what,
		    sqlite3_errmsg(auth_conn(w)), sr);
		return (LC_EINTERNAL);
	}
	return (0);
}

int
auth__bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return (sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) == SQLITE_OK
	        ? 0
	        : LC_EINTERNAL);
}

/* ---- rows ---- */

json_t *
auth__col_json(sqlite3_stmt *st, int col, int want_array)
{
	const char  *txt = (const char *) sqlite3_column_text(st, col);
	json_error_t err;
	json_t      *v = NULL;

	if (txt != NULL) {
		v = json_loadb(
		    txt, (size_t) sqlite3_column_bytes(st, col), 0, &err);
	}
	if (want_array ? !json_is_array(v) : !json_is_object(v)) {
		lc_log_err("AUTH-SQL", "corrupt %s column",
		    want_array ? "roles" : "metadata");
		json_decref(v);
		v = want_array ? json_array() : json_object();
	}
	return (v);
}

// Fills u from a row of USER_COLS.
static void
user_row(sqlite3_stmt *st, struct auth_user *u)
{
	memset(u, 0, sizeof(*u));
	auth__col_copy(st, 0, u->id, sizeof(u->id));
	auth__col_copy(st, 1, u->email, sizeof(u->email));
	u->has_password = sqlite3_column_int(st, 2) != 0;
	u->is_verified  = sqlite3_column_int(st, 3) != 0;
	u->totp_enabled = sqlite3_column_int(st, 4) != 0;
	u->roles        = auth__col_json(st, 5, 1);
	u->metadata     = auth__col_json(st, 6, 0);
	auth__col_copy(st, 7, u->cut, sizeof(u->cut));
	u->created_at = sqlite3_column_int64(st, 8);
	u->updated_at = sqlite3_column_int64(st, 9);
}

void
auth_user_fini(struct auth_user *u)
{
	if (u == NULL) {
		return;
	}
	json_decref(u->roles);
	json_decref(u->metadata);
	u->roles    = NULL;
	u->metadata = NULL;
}

// One user by a text key; 0, LC_ENOT_FOUND or LC_EINTERNAL.
static int
user_get(
    struct lc_worker *w, const char *sql, const char *key, struct auth_user *u)
{
	sqlite3_stmt *st = auth_stmt(w, sql);
	int           rv = LC_EINTERNAL;
	int           sr;

	if (st == NULL || auth__bind_text(st, 1, key) != 0) {
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_DONE) {
		rv = LC_ENOT_FOUND;
	} else if (sr == SQLITE_ROW) {
		user_row(st, u);
		rv = 0;
	} else {
		lc_log_err("AUTH-SQL", "user load: %s (%d)",
		    sqlite3_errmsg(auth_conn(w)), sr);
	}
out:
	lc_db_done(st);
	return (rv);
}

int
auth_user_load(struct lc_worker *w, const char *id, struct auth_user *u)
{
	return (user_get(w, sql_user_by_id, id, u));
}

int
auth_user_by_email(
    struct lc_worker *w, const char *email_norm, struct auth_user *u)
{
	return (user_get(w, sql_user_by_email, email_norm, u));
}

int
auth_user_pw_hash(
    struct lc_worker *w, const char *id, char out[AUTH_PWHASH_STR])
{
	sqlite3_stmt *st =
	    auth_stmt(w, "SELECT pw_hash FROM users WHERE id = ?1");
	int rv = LC_EINTERNAL;
	int sr;

	if (st == NULL || auth__bind_text(st, 1, id) != 0) {
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_DONE) {
		rv = LC_ENOT_FOUND;
	} else if (sr == SQLITE_ROW) {
		auth__col_copy(st, 0, out, AUTH_PWHASH_STR);
		rv = 0;
	} else {
		lc_log_err(
		    "AUTH-SQL", "pw_hash: %s", sqlite3_errmsg(auth_conn(w)));
	}
out:
	lc_db_done(st);
	return (rv);
}

json_t *
auth_user_json(const struct auth_user *u)
{
	return (json_pack("{s:s,s:s,s:I,s:I,s:b,s:b,s:o,s:o}", "id", u->id,
	    "email", u->email, "created_at", (json_int_t) u->created_at,
	    "updated_at", (json_int_t) u->updated_at, "is_verified",
	    u->is_verified, "totp_enabled", u->totp_enabled, "roles",
	    json_deep_copy(u->roles), "metadata",
	    json_deep_copy(u->metadata)));
}

json_t *
auth__user_state(const struct auth_user *u)
{
	return (json_pack("{s:s,s:o,s:b,s:s}", "email", u->email, "roles",
	    json_deep_copy(u->roles), "verified", u->is_verified, "cut",
	    u->cut));
}

// Compact JSON text of v (lc_free).
static char *
json_text(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	char *out;

	if (s == NULL) {
		return (lc_strdup("{}"));
	}
	out = lc_strdup(s);
	free(s);
	return (out);
}

int
auth_user_create(struct lc_worker *w, const char *email_norm,
    const char *pw_hash, int verified, const json_t *metadata,
    struct auth_user *out)
{
	sqlite3_stmt *st = auth_stmt(w,
	    "INSERT INTO users (id, email, pw_hash, is_verified, roles, "
	    "metadata, cut, created_at, updated_at) VALUES "
	    "(?1, ?2, ?3, ?4, '[]', ?5, '', ?6, ?6)");
	json_t       *md =
            metadata != NULL ? json_deep_copy(metadata) : json_object();
	char   *text = json_text(md);
	char    id[AUTH_ID_LEN + 1];
	int64_t now = lc_now_ms();
	int     rv  = LC_EINTERNAL;
	int     sr;

	auth_ulid(id);
	if (st == NULL || auth__bind_text(st, 1, id) != 0 ||
	    auth__bind_text(st, 2, email_norm) != 0 ||
	    (pw_hash != NULL && pw_hash[0] != '\0'
	            ? auth__bind_text(st, 3, pw_hash)
	            : (sqlite3_bind_null(st, 3) == SQLITE_OK ? 0 : 1)) != 0 ||
	    sqlite3_bind_int(st, 4, verified ? 1 : 0) != SQLITE_OK ||
	    auth__bind_text(st, 5, text) != 0 ||
	    sqlite3_bind_int64(st, 6, now) != SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr != SQLITE_DONE) {
		rv = sqlite3_extended_errcode(auth_conn(w)) ==
		        SQLITE_CONSTRAINT_UNIQUE
		    ? LC_EEMAIL_TAKEN
		    : LC_EINTERNAL;
		if (rv == LC_EINTERNAL) {
			lc_log_err("AUTH-SQL", "user create: %s (%d)",
			    sqlite3_errmsg(auth_conn(w)), sr);
		}
		lc_db_done(st);
		goto out;
	}
	lc_db_done(st);
	memset(out, 0, sizeof(*out));
	(void) snprintf(out->id, sizeof(out->id), "%s", id);
	(void) snprintf(out->email, sizeof(out->email), "%s", email_norm);
	out->has_password = pw_hash != NULL && pw_hash[0] != '\0';
	out->is_verified  = verified ? 1 : 0;
	out->created_at   = now;
	out->updated_at   = now;
	out->roles        = json_array();
	out->metadata     = md;
	md                = NULL;
	rv                = 0;
out:
	json_decref(md);
	lc_free(text);
	return (rv);
}

void
auth_user_changed(struct lc_worker *w, const char *id)
{
	struct auth_user u;
	json_t          *p;

	if (auth_user_load(w, id, &u) != 0) {
		return;
	}
	p = auth__user_state(&u);
	json_object_set_new(p, "uid", json_string(u.id));
	auth_emit(w, LC_TOPIC_USER_CHANGED, p);
	auth_user_fini(&u);
}

// Runs st, an UPDATE of user id's row: LC_ENOT_FOUND when no row
// changed, else queues user.changed. 0 or an LC_E* code.
static int
user_update_done(
    struct lc_worker *w, sqlite3_stmt *st, const char *what, const char *id)
{
	int rv;

	if ((rv = auth__step_done(w, st, what)) != 0) {
		return (rv);
	}
	if (sqlite3_changes(auth_conn(w)) == 0) {
		return (LC_ENOT_FOUND);
	}
	auth_user_changed(w, id);
	return (0);
}

int
auth_user_set_password(
    struct lc_worker *w, const char *id, const char *pw_hash, int verified)
{
	// updated_at moves only when the hash or is_verified changes.
	sqlite3_stmt *st = auth_stmt(w,
	    "UPDATE users SET updated_at = CASE WHEN pw_hash IS ?2 AND "
	    "is_verified = max(is_verified, ?3) THEN updated_at ELSE ?4 END, "
	    "pw_hash = ?2, is_verified = max(is_verified, ?3) WHERE id = ?1");

	if (st == NULL || auth__bind_text(st, 1, id) != 0 ||
	    (pw_hash != NULL
	            ? auth__bind_text(st, 2, pw_hash)
	            : (sqlite3_bind_null(st, 2) == SQLITE_OK ? 0 : 1)) != 0 ||
	    sqlite3_bind_int(st, 3, verified == 1 ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, lc_now_ms()) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	return (user_update_done(w, st, "set_password", id));
}

int
auth_user_set_verified(struct lc_worker *w, const char *id)
{
	sqlite3_stmt *st = auth_stmt(w,
	    "UPDATE users SET updated_at = CASE WHEN is_verified = 1 THEN "
	    "updated_at ELSE ?2 END, is_verified = 1 WHERE id = ?1");

	if (st == NULL || auth__bind_text(st, 1, id) != 0 ||
	    sqlite3_bind_int64(st, 2, lc_now_ms()) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	return (user_update_done(w, st, "set_verified", id));
}

int
auth_user_delete(struct lc_worker *w, const char *id)
{
	sqlite3_stmt *st;
	int           rv;

	// Sessions, keys and a new cut first (their events), then the row;
	// ON DELETE CASCADE takes whatever else the user owns.
	if ((rv = auth_revoke_all(w, id, "account_deleted", NULL, NULL)) !=
	    0) {
		return (rv);
	}
	auth_email_tokens_drop(w, id);
	st = auth_stmt(w, "DELETE FROM users WHERE id = ?1");
	if (st == NULL || auth__bind_text(st, 1, id) != 0) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	if ((rv = auth__step_done(w, st, "user delete")) != 0) {
		return (rv);
	}
	if (sqlite3_changes(auth_conn(w)) == 0) {
		return (LC_ENOT_FOUND);
	}
	auth_emit(w, LC_TOPIC_USER_DELETED, json_pack("{s:s}", "uid", id));
	return (0);
}

/* ---- register ---- */

// The fields of a register request, validated (§2.10 order).
static int
register_args(const struct lc_req *rq, struct lc_rep *rp, char *email,
    size_t cap, const json_t **pw, const json_t **md)
{
	const json_t *ev = json_object_get(rq->body, "email");

	*pw = json_object_get(rq->body, "password");
	*md = json_object_get(rq->body, "metadata");
	if (!json_is_string(ev) ||
	    auth_email_norm(json_string_value(ev), json_string_length(ev),
	        email, cap) < 0) {
		return (auth__fail(rp, LC_EVALIDATION,
		    "A valid e-mail address is required.", "email"));
	}
	if (!json_is_string(*pw) ||
	    !auth_password_ok(
	        json_string_value(*pw), json_string_length(*pw))) {
		return (auth__fail(rp, LC_EVALIDATION,
		    "password must have 8 to 128 characters.", "password"));
	}
	if (json_is_null(*md)) {
		*md = NULL; // the default, {}
	}
	if (*md != NULL && !auth_metadata_ok(*md)) {
		return (auth__fail(rp, LC_EVALIDATION,
		    "metadata must be an object of at most 64 KiB.",
		    "metadata"));
	}
	return (0);
}

// 503 for a shed password job (the pool is full).
static int
busy(struct lc_rep *rp)
{
	lc_rep_error(rp, LC_EUNAVAILABLE, "Service 'auth' is busy.", NULL);
	lc_rep_header(rp, "Retry-After", "1");
	return (LC_EUNAVAILABLE);
}

int
auth_h_register(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct auth_user u      = { 0 };
	const json_t    *pw     = NULL;
	const json_t    *md     = NULL;
	json_t          *result = NULL;
	char             email[AUTH_EMAIL_MAX + 1];
	char             hash[AUTH_PWHASH_STR];
	int              rv;

	if (!lc_settings_bool("auth_password_enabled")) {
		return (LC_EAUTH_METHOD_DISABLED);
	}
	if (!lc_settings_bool("registration_open")) {
		return (LC_EREGISTRATION_CLOSED);
	}
	if ((rv = register_args(rq, rp, email, sizeof(email), &pw, &md)) !=
	    0) {
		return (rv);
	}
	// A taken address is told at once, without hashing (checked again
	// by the UNIQUE constraint below).
	if ((rv = auth_user_by_email(w, email, &u)) != LC_ENOT_FOUND) {
		auth_user_fini(&u);
		return (rv == 0 ? LC_EEMAIL_TAKEN : rv);
	}
	rv = auth_pw_hash(auth_state(w), json_string_value(pw),
	    json_string_length(pw), hash);
	if (rv != 0) {
		return (rv == LC_EUNAVAILABLE ? busy(rp) : rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		goto out;
	}
	if ((rv = auth_user_create(w, email, hash, 0, md, &u)) != 0 ||
	    (rv = auth_session_open(w, rq, &u, &result)) != 0) {
		auth_rollback(w);
		goto out;
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		goto out;
	}
	lc_log_info("AUTH-REGISTER", "user %s registered", u.id);
	auth_send_verify_email(w, &u);
	lc_rep_json(rp, 201, result);
	result = NULL;
out:
	json_decref(result);
	auth_user_fini(&u);
	sodium_memzero(hash, sizeof(hash));
	return (rv);
}

/* ---- login ---- */

struct login_row {
	char id[AUTH_ID_LEN + 1];
	char hash[AUTH_PWHASH_STR]; // "" when the account has no password
};

// The id and hash of the account with e-mail key; 0 or LC_ENOT_FOUND.
static int
login_row(struct lc_worker *w, const char *email, struct login_row *r)
{
	sqlite3_stmt *st =
	    auth_stmt(w, "SELECT id, pw_hash FROM users WHERE email = ?1");
	int rv = LC_EINTERNAL;
	int sr;

	if (st == NULL || auth__bind_text(st, 1, email) != 0) {
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_DONE) {
		rv = LC_ENOT_FOUND;
	} else if (sr == SQLITE_ROW) {
		auth__col_copy(st, 0, r->id, sizeof(r->id));
		auth__col_copy(st, 1, r->hash, sizeof(r->hash));
		rv = 0;
	} else {
		lc_log_err(
		    "AUTH-SQL", "login: %s", sqlite3_errmsg(auth_conn(w)));
	}
out:
	lc_db_done(st);
	return (rv);
}

static int
same_hash(const char *a, const char *b)
{
	size_t n = strlen(a);

	return (n > 0 && n == strlen(b) && sodium_memcmp(a, b, n) == 0);
}

// After a matching password: opens the session (or, with 2FA, answers a
// TotpChallenge, *challenge = 1). The account must still have the hash
// that matched.
static int
login_finish(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp,
    const struct login_row *r, int *challenge)
{
	struct auth_user u      = { 0 };
	json_t          *result = NULL;
	char             now_hash[AUTH_PWHASH_STR];
	int              rv;

	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = auth_user_load(w, r->id, &u)) != 0 ||
	    (rv = auth_user_pw_hash(w, r->id, now_hash)) != 0 ||
	    !same_hash(now_hash, r->hash)) {
		// Deleted or given a new password while we were hashing.
		rv = rv == 0 || rv == LC_ENOT_FOUND ? LC_EINVALID_CREDENTIALS
		                                    : rv;
		auth_rollback(w);
		goto out;
	}
	if (u.totp_enabled) {
		rv = auth_totp_challenge(w, &u, &result);
	} else {
		rv = auth_session_open(w, rq, &u, &result);
	}
	if (rv != 0) {
		auth_rollback(w);
		goto out;
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		goto out;
	}
	*challenge = u.totp_enabled;
	lc_rep_json(rp, 200, result);
	result = NULL;
out:
	sodium_memzero(now_hash, sizeof(now_hash));
	json_decref(result);
	auth_user_fini(&u);
	return (rv);
}

int
auth_h_login(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t           *ev = json_object_get(rq->body, "email");
	const json_t           *pv = json_object_get(rq->body, "password");
	struct login_row        r;
	struct auth_lock_ticket lt        = { 0 };
	int                     challenge = 0;
	char                    key[AUTH_EMAIL_MAX + 1];
	char                    norm[AUTH_EMAIL_MAX + 1];
	char                    ra[24];
	const char             *hash  = NULL;
	int64_t                 retry = 0;
	int                     keyed;
	size_t                  pwlen;
	int                     rv;

	if (!lc_settings_bool("auth_password_enabled")) {
		return (LC_EAUTH_METHOD_DISABLED);
	}
	if (!json_is_string(ev)) {
		return (auth__fail(
		    rp, LC_EVALIDATION, "email must be a string.", "email"));
	}
	if (!json_is_string(pv)) {
		return (auth__fail(rp, LC_EVALIDATION,
		    "password must be a string.", "password"));
	}
	memset(&r, 0, sizeof(r));
	// The lockout key is the normalized form, valid address or not
	// (one too long to be any account's is not counted).
	keyed = auth_email_key(json_string_value(ev), json_string_length(ev),
	            key, sizeof(key)) > 0;
	if (keyed && (rv = auth_lock_enter(w, key, &lt, &retry)) != 0) {
		if (rv == LC_EUNAVAILABLE) {
			return (busy(rp));
		}
		if (rv == LC_EACCOUNT_LOCKED) {
			(void) snprintf(ra, sizeof(ra), "%lld",
			    (long long) (retry > 0 ? retry : 1));
			lc_rep_header(rp, "Retry-After", ra);
		}
		return (rv);
	}
	pwlen = json_string_length(pv);
	// A malformed address is no account's: it just fails.
	if (keyed &&
	    auth_email_norm(key, strlen(key), norm, sizeof(norm)) > 0 &&
	    login_row(w, norm, &r) == 0 &&
	    auth_password_ok(json_string_value(pv), pwlen)) {
		hash = r.hash; // "" (no password) verifies like NULL
	}
	// Same Argon2 work on every path; a password that can never be
	// valid is cut to the longest valid size for the dummy check.
	rv = auth_pw_verify(auth_state(w), hash, json_string_value(pv),
	    pwlen > PW_MAX_BYTES ? PW_MAX_BYTES : pwlen);
	if (rv == 0) {
		rv = login_finish(w, rq, rp, &r, &challenge);
	} else if (rv == LC_EUNAVAILABLE) {
		rv = busy(rp);
	}
	auth_lock_leave(w, &lt,
	    rv == LC_EINVALID_CREDENTIALS ? AUTH_LOCK_FAILED
	        : rv == 0 && !challenge   ? AUTH_LOCK_SUCCEEDED
	                                  : AUTH_LOCK_NEUTRAL);
	sodium_memzero(r.hash, sizeof(r.hash));
	if (rv == LC_EINVALID_CREDENTIALS) {
		lc_log_info("AUTH-LOGIN-FAIL", "invalid credentials");
		return (auth__fail(rp, LC_EINVALID_CREDENTIALS,
		    "Invalid email or password.", NULL));
	}
	return (rv);
}

/* ---- /auth/me ---- */

int
auth_h_me_get(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct auth_user u;
	const char      *uid;
	int              rv;

	if ((rv = auth__need_user(rq, &uid)) != 0) {
		return (rv);
	}
	if ((rv = auth_user_load(w, uid, &u)) != 0) {
		return (rv == LC_ENOT_FOUND ? auth__caller_gone(rq) : rv);
	}
	lc_rep_json(rp, 200, auth_user_json(&u));
	auth_user_fini(&u);
	return (0);
}

// Sets metadata (and updated_at when it differs); 0 or LC_ENOT_FOUND.
static int
metadata_set(struct lc_worker *w, const char *uid, const json_t *md)
{
	sqlite3_stmt *st   = auth_stmt(w,
	      "UPDATE users SET updated_at = CASE WHEN metadata = ?2 THEN "
	        "updated_at ELSE ?3 END, metadata = ?2 WHERE id = ?1");
	char         *text = json_text(md);
	int           rv   = LC_EINTERNAL;

	if (st == NULL || auth__bind_text(st, 1, uid) != 0 ||
	    auth__bind_text(st, 2, text) != 0 ||
	    sqlite3_bind_int64(st, 3, lc_now_ms()) != SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	if ((rv = auth__step_done(w, st, "metadata")) == 0 &&
	    sqlite3_changes(auth_conn(w)) == 0) {
		rv = LC_ENOT_FOUND;
	}
out:
	lc_free(text);
	return (rv);
}

int
auth_h_me_update(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct auth_user u = { 0 };
	const json_t    *md;
	json_t          *empty = NULL;
	const char      *uid;
	int              rv;

	if ((rv = auth__need_user(rq, &uid)) != 0) {
		return (rv);
	}
	// {"metadata": {...}} replaces it; a body without the key is itself
	// the new metadata (an absent body is {}).
	md = rq->body != NULL ? rq->body : (empty = json_object());
	if (json_is_object(md) && json_object_get(md, "metadata") != NULL) {
		md = json_object_get(md, "metadata");
	}
	if (!auth_metadata_ok(md)) {
		json_decref(empty);
		return (auth__fail(rp, LC_EVALIDATION,
		    "metadata must be an object of at most 64 KiB.",
		    "metadata"));
	}
	if ((rv = auth_begin(w)) != 0) {
		goto out;
	}
	if ((rv = metadata_set(w, uid, md)) != 0 ||
	    (rv = auth_user_load(w, uid, &u)) != 0) {
		auth_rollback(w);
		rv = rv == LC_ENOT_FOUND ? auth__caller_gone(rq) : rv;
		goto out;
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		goto out;
	}
	lc_rep_json(rp, 200, auth_user_json(&u));
out:
	json_decref(empty);
	auth_user_fini(&u);
	return (rv);
}

static int
reply_ok(struct lc_rep *rp)
{
	lc_rep_json(rp, 200, json_pack("{s:b}", "ok", 1));
	return (0);
}

// Deletes a user in its own transaction; 0 or LC_ENOT_FOUND.
static int
user_delete_txn(struct lc_worker *w, struct lc_rep *rp, const char *id)
{
	int rv;

	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = auth_user_delete(w, id)) != 0) {
		auth_rollback(w);
		return (rv);
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	lc_log_info("AUTH-USER-DELETE", "user %s deleted", id);
	return (0);
}

int
auth_h_me_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const char *uid;
	int         rv;

	if ((rv = auth__need_user(rq, &uid)) != 0) {
		return (rv);
	}
	if ((rv = user_delete_txn(w, rp, uid)) != 0) {
		return (rv == LC_ENOT_FOUND ? auth__caller_gone(rq) : rv);
	}
	return (reply_ok(rp));
}

/* ---- admin: users ---- */

int
auth_h_users_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t *sv = json_object_get(rq->query, "search");
	sqlite3_stmt *st;
	json_t       *items  = NULL;
	char         *search = NULL;
	int64_t       limit;
	int64_t       page;
	int64_t       total = 0;
	int           sr;
	int           rv;

	if ((rv = auth__need_admin(rq)) != 0 ||
	    (rv = auth__page(rq, rp, &limit, &page)) != 0) {
		return (rv);
	}
	if (sv != NULL && !json_is_string(sv)) {
		return (auth__fail(rp, LC_EINVALID_QUERY,
		    "search must be a string.", "search"));
	}
	if (sv != NULL && json_string_length(sv) > 0) {
		// E-mails are stored with ASCII letters lowercased: so is the
		// search, and instr() is a plain substring test (no pattern
		// characters to escape).
		search =
		    lc_strndup(json_string_value(sv), json_string_length(sv));
		for (char *p = search; *p != '\0'; p++) {
			if (*p >= 'A' && *p <= 'Z') {
				*p = (char) (*p - 'A' + 'a');
			}
		}
	}
	rv = LC_EINTERNAL;
	st = auth_stmt(w,
	    "SELECT count(*) FROM users WHERE ?1 IS NULL OR "
	    "instr(email, ?1) > 0");
	if (st == NULL ||
	    (search != NULL ? auth__bind_text(st, 1, search) : 0) != 0) {
		lc_db_done(st);
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		total = sqlite3_column_int64(st, 0);
	}
	lc_db_done(st);
	st = auth_stmt(w,
	    "SELECT " USER_COLS " FROM users WHERE ?1 IS NULL OR "
	    "instr(email, ?1) > 0 ORDER BY created_at DESC, id DESC "
	    "LIMIT ?2 OFFSET ?3");
	if (st == NULL ||
	    (search != NULL ? auth__bind_text(st, 1, search) : 0) != 0 ||
	    sqlite3_bind_int64(st, 2, limit) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, (page - 1) * limit) != SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	items = json_array();
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		struct auth_user u;

		user_row(st, &u);
		json_array_append_new(items, auth_user_json(&u));
		auth_user_fini(&u);
	}
	lc_db_done(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("AUTH-SQL", "users list: %s",
		    sqlite3_errmsg(auth_conn(w)));
		goto out;
	}
	lc_rep_json(rp, 200, auth__page_json(items, total, page, limit));
	items = NULL;
	rv    = 0;
out:
	json_decref(items);
	lc_free(search);
	return (rv);
}

int
auth_h_users_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct auth_user u;
	const char      *id;
	int              rv;

	if ((rv = auth__need_admin(rq)) != 0 ||
	    (rv = auth__path_id(rq, &id)) != 0 ||
	    (rv = auth_user_load(w, id, &u)) != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200, auth_user_json(&u));
	auth_user_fini(&u);
	return (0);
}

// An admin PATCH, validated: each has_* tells whether the field came.
struct user_patch {
	int           has_email;
	char          email[AUTH_EMAIL_MAX + 1];
	int           has_verified;
	int           verified;
	json_t       *roles;    // cleaned (owned), or NULL
	const json_t *metadata; // borrowed from the body, or NULL
	const char   *field;    // the first bad field, or NULL
	const char   *msg;
};

static void
patch_parse(const json_t *body, struct user_patch *p)
{
	const json_t *v;

	memset(p, 0, sizeof(*p));
	if ((v = json_object_get(body, "email")) != NULL) {
		p->has_email = 1;
		if (!json_is_string(v) ||
		    auth_email_norm(json_string_value(v),
		        json_string_length(v), p->email,
		        sizeof(p->email)) < 0) {
			p->field = "email";
			p->msg   = "A valid e-mail address is required.";
			return;
		}
	}
	if ((v = json_object_get(body, "is_verified")) != NULL) {
		p->has_verified = 1;
		if (!json_is_boolean(v)) {
			p->field = "is_verified";
			p->msg   = "is_verified must be a boolean.";
			return;
		}
		p->verified = json_is_true(v);
	}
	if ((v = json_object_get(body, "roles")) != NULL &&
	    (p->roles = auth_roles_clean(v)) == NULL) {
		p->field = "roles";
		p->msg = "roles must be an array of at most 50 names matching "
		         "^[A-Za-z0-9_:-]{1,64}$.";
		return;
	}
	if ((v = json_object_get(body, "metadata")) != NULL) {
		if (!auth_metadata_ok(v)) {
			p->field = "metadata";
			p->msg =
			    "metadata must be an object of at most 64 KiB.";
			return;
		}
		p->metadata = v;
	}
}

// Writes the patched user (u is the current row); *changed tells whether
// anything the User object shows changed. 0, LC_EEMAIL_TAKEN or
// LC_EINTERNAL.
static int
patch_apply(struct lc_worker *w, const struct auth_user *u,
    const struct user_patch *p, int *changed)
{
	sqlite3_stmt *st       = auth_stmt(w,
	          "UPDATE users SET email = ?2, is_verified = ?3, roles = ?4, "
	                "metadata = ?5, updated_at = ?6 WHERE id = ?1");
	const char   *email    = u->email;
	int           verified = u->is_verified;
	const json_t *roles    = p->roles != NULL ? p->roles : u->roles;
	const json_t *md    = p->metadata != NULL ? p->metadata : u->metadata;
	char         *rtext = json_text(roles);
	char         *mtext = json_text(md);
	int           rv    = LC_EINTERNAL;
	int           sr;

	if (p->has_email && strcmp(p->email, u->email) != 0) {
		email    = p->email;
		verified = 0; // a new address is not verified ...
	}
	if (p->has_verified) {
		verified = p->verified; // ... unless this request says so
	}
	*changed = email != u->email || verified != u->is_verified ||
	    !json_equal(roles, u->roles) || !json_equal(md, u->metadata);
	if (st == NULL || auth__bind_text(st, 1, u->id) != 0 ||
	    auth__bind_text(st, 2, email) != 0 ||
	    sqlite3_bind_int(st, 3, verified) != SQLITE_OK ||
	    auth__bind_text(st, 4, rtext) != 0 ||
	    auth__bind_text(st, 5, mtext) != 0 ||
	    sqlite3_bind_int64(
	        st, 6, *changed ? lc_now_ms() : u->updated_at) != SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr != SQLITE_DONE &&
	    sqlite3_extended_errcode(auth_conn(w)) ==
	        SQLITE_CONSTRAINT_UNIQUE) {
		rv = LC_EEMAIL_TAKEN;
	} else if (sr != SQLITE_DONE) {
		lc_log_err("AUTH-SQL", "user patch: %s",
		    sqlite3_errmsg(auth_conn(w)));
	} else {
		rv = 0;
	}
	lc_db_done(st);
out:
	lc_free(rtext);
	lc_free(mtext);
	return (rv);
}

// The admin write of one user: 404 first, then the patch's validation,
// then the write (409 on a taken e-mail). Answers the User.
static int
user_patch_txn(struct lc_worker *w, struct lc_rep *rp, const char *id,
    struct user_patch *p)
{
	struct auth_user u = { 0 };
	int              changed;
	int              rv;

	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = auth_user_load(w, id, &u)) != 0) {
		goto fail;
	}
	if (p->field != NULL) {
		rv = auth__fail(rp, LC_EVALIDATION, p->msg, p->field);
		goto fail;
	}
	if ((rv = patch_apply(w, &u, p, &changed)) != 0) {
		goto fail;
	}
	if (changed) {
		auth_user_changed(w, id);
	}
	auth_user_fini(&u);
	if ((rv = auth_user_load(w, id, &u)) != 0) {
		goto fail;
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		auth_user_fini(&u);
		return (rv);
	}
	lc_rep_json(rp, 200, auth_user_json(&u));
	auth_user_fini(&u);
	return (0);
fail:
	auth_rollback(w);
	auth_user_fini(&u);
	return (rv);
}

int
auth_h_users_update(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct user_patch p;
	const char       *id;
	int               rv;

	if ((rv = auth__need_admin(rq)) != 0 ||
	    (rv = auth__path_id(rq, &id)) != 0) {
		return (rv);
	}
	patch_parse(rq->body, &p);
	rv = user_patch_txn(w, rp, id, &p);
	json_decref(p.roles);
	return (rv);
}

int
auth_h_users_set_roles(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct user_patch p;
	const char       *id;
	int               rv;

	if ((rv = auth__need_admin(rq)) != 0 ||
	    (rv = auth__path_id(rq, &id)) != 0) {
		return (rv);
	}
	memset(&p, 0, sizeof(p));
	// roles is required here; it replaces all of them.
	if ((p.roles = auth_roles_clean(json_object_get(rq->body, "roles"))) ==
	    NULL) {
		p.field = "roles";
		p.msg = "roles must be an array of at most 50 names matching "
		        "^[A-Za-z0-9_:-]{1,64}$.";
	}
	rv = user_patch_txn(w, rp, id, &p);
	json_decref(p.roles);
	return (rv);
}

int
auth_h_users_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const char *id;
	int         rv;

	if ((rv = auth__need_admin(rq)) != 0 ||
	    (rv = auth__path_id(rq, &id)) != 0 ||
	    (rv = user_delete_txn(w, rp, id)) != 0) {
		return (rv);
	}
	return (reply_ok(rp));
}

int
auth_h_users_impersonate(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct auth_user u;
	const char      *id;
	char            *tok = NULL;
	int              rv;

	if ((rv = auth__need_admin(rq)) != 0 ||
	    (rv = auth__path_id(rq, &id)) != 0 ||
	    (rv = auth_user_load(w, id, &u)) != 0) {
		return (rv);
	}
	if ((rv = auth_token_impersonate(w, &u, &tok)) == 0) {
		lc_log_info(
		    "AUTH-IMPERSONATE", "token issued for user %s", id);
		lc_rep_json(rp, 200,
		    json_pack("{s:s,s:i,s:o}", "access_token", tok,
		        "expires_in", AUTH_IMP_TTL_S, "user",
		        auth_user_json(&u)));
		sodium_memzero(tok, strlen(tok));
		lc_free(tok);
	}
	auth_user_fini(&u);
	return (rv);
}
