/*
 * emailflow.c -- e-mail tokens (API.md §2.8, §2.10): verify-email,
 * resend-verification, forgot/reset-password, magic links.
 *
 * A token is 32 random bytes in base64url (43 characters); email_tokens
 * keeps its SHA-256 with its kind, the user id (NULL for a sign-up magic
 * link), the e-mail at issue and the expiry. It is single use (redeeming
 * deletes it) and stale once the user's e-mail differs from the one it
 * was sent to; unknown, used, expired, stale and wrong-kind tokens all
 * get 400 invalid_email_token. Lookups and the writes they allow run in
 * one IMMEDIATE transaction, so a token cannot be redeemed twice.
 *
 * forgot-password and magic-link must not tell whether an account
 * exists, neither in the answer nor in its timing: both paths run the
 * same transaction (user lookup, purge, token insert; when nothing is to
 * be sent the inserted row is deleted again before the commit) and mail
 * goes to the asynchronous mailer (mailer.c), so delivery time never
 * shows. Expired tokens of the user (or of the e-mail, for sign-up links)
 * are purged whenever a new one is issued.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_settings.h"

#define KIND_VERIFY "verify_email"
#define KIND_RESET "reset_password"
#define KIND_MAGIC "magic_link"
#define TOKEN_BYTES 32
// A realtime reason of §2.3 for the revocations of a magic-link
// takeover: none fits exactly; the account's password is removed.
#define TAKEOVER_REASON "password_reset"

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

static int
reply_ok(struct lc_rep *rp)
{
	lc_rep_json(rp, 200, json_pack("{s:b}", "ok", 1));
	return (0);
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		lc_free(s);
	}
}

/* ---- links and mails ---- */

char *
auth_email_link(const char *path, const char *token)
{
	char  *base = lc_alloc(LC_SETTING_STR_MAX + 1);
	char  *out;
	size_t blen = 0;
	size_t n;

	if (lc_settings_str("app_url", base, LC_SETTING_STR_MAX + 1) == 0) {
		blen = strlen(base);
		if (blen > 0 && base[blen - 1] == '/') {
			base[--blen] = '\0';
		}
	} else {
		base[0] = '\0';
	}
	n   = blen + strlen(path) + strlen(token) + 8;
	out = lc_alloc(n);
	(void) snprintf(out, n, "%s%s?token=%s", base, path, token);
	lc_free(base);
	return (out);
}

// Queues the mail of one token (kind decides subject, path and text).
static void
send_token_mail(
    struct lc_worker *w, const char *kind, const char *to, const char *token)
{
	struct auth_state *st  = auth_state(w);
	char              *app = lc_alloc(LC_SETTING_STR_MAX + 1);
	const char        *path;
	const char        *what;
	const char        *intro;
	const char        *ttl;
	char              *link;
	char              *subject;
	char              *text;
	size_t             n;
	struct lc_mail     m = { 0 };

	if (lc_settings_str("app_name", app, LC_SETTING_STR_MAX + 1) != 0 ||
	    app[0] == '\0') {
		(void) snprintf(app, LC_SETTING_STR_MAX + 1, "%s", "BusBase");
	}
	if (strcmp(kind, KIND_VERIFY) == 0) {
		path  = "/verify-email";
		what  = "verify your email";
		intro = "Confirm your e-mail address by opening this link:";
		ttl   = "24 hours";
	} else if (strcmp(kind, KIND_RESET) == 0) {
		path  = "/reset-password";
		what  = "reset your password";
		intro = "Choose a new password by opening this link:";
		ttl   = "1 hour";
	} else {
		path  = "/magic-link";
		what  = "your sign-in link";
		intro = "Sign in by opening this link:";
		ttl   = "15 minutes";
	}
	link    = auth_email_link(path, token);
	n       = strlen(app) + strlen(what) + 3;
	subject = lc_alloc(n);
	(void) snprintf(subject, n, "%s: %s", app, what);
	n    = strlen(app) + strlen(intro) + strlen(link) + strlen(ttl) + 160;
	text = lc_alloc(n);
	(void) snprintf(text, n,
	    "%s\n\n%s\n\nThe link expires in %s and works once. If you did "
	    "not ask for it, ignore this message.\n\n-- %s\n",
	    intro, link, ttl, app);
	m.kind    = kind;
	m.to      = to;
	m.subject = subject;
	m.text    = text;
	m.link    = link;
	m.token   = token;
	auth_mailer_send(st != NULL ? st->mail : NULL, &m);
	wipe_free(text);
	wipe_free(link);
	lc_free(subject);
	lc_free(app);
}

/* ---- tokens ---- */

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

// Deletes the token with hash h; 0 or LC_EINTERNAL.
static int
token_delete(struct lc_worker *w, const uint8_t h[32])
{
	sqlite3_stmt *st =
	    auth_stmt(w, "DELETE FROM email_tokens WHERE hash = ?1");

	if (st == NULL ||
	    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	return (step_done(w, st, "email_token delete"));
}

// Issues a token of kind for uid (NULL: a sign-up link bound to email)
// and purges the expired ones of the same owner. *out gets the token
// (lc_free after wiping); with decoy set the row is deleted again at once
// (same work, nothing issued) and *out is NULL. 0 or LC_EINTERNAL.
static int
token_issue(struct lc_worker *w, const char *kind, const char *uid,
    const char *email, int64_t ttl_ms, int decoy, char **out)
{
	sqlite3_stmt *st;
	uint8_t       h[crypto_hash_sha256_BYTES];
	char         *tok = lc_random_token(TOKEN_BYTES);
	int64_t       now = lc_now_ms();
	int           rv  = LC_EINTERNAL;

	crypto_hash_sha256(h, (const unsigned char *) tok, strlen(tok));
	if (uid != NULL) {
		st = auth_stmt(w,
		    "DELETE FROM email_tokens WHERE user_id = ?1 AND "
		    "expires_at <= ?2");
	} else {
		st = auth_stmt(w,
		    "DELETE FROM email_tokens WHERE user_id IS NULL AND "
		    "email = ?1 AND expires_at <= ?2");
	}
	if (st == NULL ||
	    sqlite3_bind_text(st, 1, uid != NULL ? uid : email, -1,
	        SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, now) != SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	if (step_done(w, st, "email_token purge") != 0) {
		goto out;
	}
	st = auth_stmt(w,
	    "INSERT INTO email_tokens (hash, kind, user_id, email, "
	    "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	if (st == NULL ||
	    sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (uid != NULL ? sqlite3_bind_text(st, 3, uid, -1, SQLITE_STATIC)
	                 : sqlite3_bind_null(st, 3)) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, email, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, now) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, now + ttl_ms) != SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	if (step_done(w, st, "email_token insert") != 0) {
		goto out;
	}
	if (decoy && token_delete(w, h) != 0) {
		goto out;
	}
	rv = 0;
out:
	if (rv == 0 && !decoy) {
		*out = tok;
	} else {
		wipe_free(tok);
		if (rv == 0) {
			*out = NULL;
		}
	}
	return (rv);
}

struct etok {
	uint8_t h[crypto_hash_sha256_BYTES];
	char    uid[AUTH_ID_LEN + 1]; // "" for a sign-up link
	char    email[AUTH_EMAIL_MAX + 1];
};

// Finds a live token of kind: 0, LC_EINVALID_EMAIL_TOKEN or LC_EINTERNAL.
static int
token_find(
    struct lc_worker *w, const char *kind, const json_t *tv, struct etok *t)
{
	sqlite3_stmt        *st;
	const unsigned char *s;
	int                  sr;
	int                  rv = LC_EINTERNAL;

	crypto_hash_sha256(t->h, (const unsigned char *) json_string_value(tv),
	    json_string_length(tv));
	st = auth_stmt(w,
	    "SELECT user_id, email FROM email_tokens WHERE hash = ?1 AND "
	    "kind = ?2 AND used_at IS NULL AND expires_at > ?3");
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (sqlite3_bind_blob(st, 1, t->h, sizeof(t->h), SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, lc_now_ms()) != SQLITE_OK) {
		goto out;
	}
	if ((sr = sqlite3_step(st)) == SQLITE_DONE) {
		rv = LC_EINVALID_EMAIL_TOKEN;
		goto out;
	}
	if (sr != SQLITE_ROW) {
		lc_log_err("AUTH-SQL", "email_token find: %s",
		    sqlite3_errmsg(auth_conn(w)));
		goto out;
	}
	s = sqlite3_column_text(st, 0);
	(void) snprintf(
	    t->uid, sizeof(t->uid), "%s", s != NULL ? (const char *) s : "");
	s = sqlite3_column_text(st, 1);
	(void) snprintf(t->email, sizeof(t->email), "%s",
	    s != NULL ? (const char *) s : "");
	rv = 0;
out:
	lc_db_done(st);
	return (rv);
}

// The token's user, when it still exists and still has the e-mail the
// token was sent to: 0, LC_EINVALID_EMAIL_TOKEN or LC_EINTERNAL.
static int
token_user(struct lc_worker *w, const struct etok *t, struct auth_user *u)
{
	int rv;

	if (t->uid[0] == '\0') {
		return (LC_EINVALID_EMAIL_TOKEN);
	}
	if ((rv = auth_user_load(w, t->uid, u)) != 0) {
		return (rv == LC_ENOT_FOUND ? LC_EINVALID_EMAIL_TOKEN : rv);
	}
	if (strcmp(u->email, t->email) != 0) {
		auth_user_fini(u);
		memset(u, 0, sizeof(*u));
		return (LC_EINVALID_EMAIL_TOKEN); // stale
	}
	return (0);
}

static int
token_arg(const struct lc_req *rq, struct lc_rep *rp, const json_t **tv)
{
	*tv = json_object_get(rq->body, "token");
	if (!json_is_string(*tv) || json_string_length(*tv) == 0) {
		return (fail(
		    rp, LC_EVALIDATION, "token must be a string.", "token"));
	}
	return (0);
}

// The normalized "email" of the body into out; 0 or a validation error.
static int
email_arg(const struct lc_req *rq, struct lc_rep *rp, char *out, size_t cap)
{
	const json_t *ev = json_object_get(rq->body, "email");

	if (!json_is_string(ev) ||
	    auth_email_norm(
	        json_string_value(ev), json_string_length(ev), out, cap) < 0) {
		return (fail(rp, LC_EVALIDATION,
		    "A valid e-mail address is required.", "email"));
	}
	return (0);
}

/* ---- shared with users.c ---- */

void
auth_send_verify_email(struct lc_worker *w, const struct auth_user *u)
{
	char *tok = NULL;

	if (token_issue(w, KIND_VERIFY, u->id, u->email, AUTH_VERIFY_TTL_MS, 0,
	        &tok) != 0) {
		lc_log_warn("AUTH-MAIL-TOKEN",
		    "verify_email token for %s not issued", u->id);
		return;
	}
	send_token_mail(w, KIND_VERIFY, u->email, tok);
	wipe_free(tok);
}

void
auth_email_tokens_drop(struct lc_worker *w, const char *uid)
{
	sqlite3_stmt *st =
	    auth_stmt(w, "DELETE FROM email_tokens WHERE user_id = ?1");

	if (st == NULL ||
	    sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC) != SQLITE_OK) {
		lc_db_done(st);
		return;
	}
	(void) step_done(w, st, "email_tokens drop");
}

/* ---- handlers ---- */

// The start of forgot-password and magic-link: the switch (403 first,
// §2.7), the e-mail argument, then a write transaction (left open on 0)
// and the account of that e-mail, if any (*found).
static int
email_lookup(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp,
    const char *switch_key, char *email, size_t size, struct auth_user *u,
    int *found)
{
	int rv;

	if (!lc_settings_bool(switch_key)) {
		return (LC_EAUTH_METHOD_DISABLED);
	}
	if ((rv = email_arg(rq, rp, email, size)) != 0) {
		return (rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	rv = auth_user_by_email(w, email, u);
	if (rv != 0 && rv != LC_ENOT_FOUND) {
		auth_rollback(w);
		return (rv);
	}
	*found = rv == 0;
	return (0);
}

int
auth_h_forgot_password(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct auth_user u = { 0 };
	char             email[AUTH_EMAIL_MAX + 1];
	char            *tok = NULL;
	int              found;
	int              rv;

	if ((rv = email_lookup(w, rq, rp, "auth_password_enabled", email,
	         sizeof(email), &u, &found)) != 0) {
		return (rv);
	}
	// Same statements either way; without an account the row goes again.
	if ((rv = token_issue(w, KIND_RESET, found ? u.id : NULL, email,
	         AUTH_RESET_TTL_MS, !found, &tok)) != 0) {
		auth_rollback(w);
		auth_user_fini(&u);
		return (rv);
	}
	auth_user_fini(&u);
	if ((rv = auth_commit(w, rp)) != 0) {
		wipe_free(tok);
		return (rv);
	}
	if (tok != NULL) {
		send_token_mail(w, KIND_RESET, email, tok);
		wipe_free(tok);
	}
	return (reply_ok(rp));
}

int
auth_h_reset_password(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t    *tv;
	const json_t    *pv = json_object_get(rq->body, "password");
	struct etok      t  = { 0 };
	struct auth_user u  = { 0 };
	sqlite3_stmt    *st;
	char             hash[AUTH_PWHASH_STR];
	int              rv;

	if (!lc_settings_bool("auth_password_enabled")) {
		return (LC_EAUTH_METHOD_DISABLED);
	}
	if ((rv = token_arg(rq, rp, &tv)) != 0) {
		return (rv);
	}
	if (!json_is_string(pv) ||
	    !auth_password_ok(json_string_value(pv), json_string_length(pv))) {
		return (fail(rp, LC_EVALIDATION,
		    "password must have 8 to 128 characters.", "password"));
	}
	// A first look outside any transaction, so a bad token costs no
	// hashing; checked again below, inside the transaction.
	if ((rv = token_find(w, KIND_RESET, tv, &t)) != 0 ||
	    (rv = token_user(w, &t, &u)) != 0) {
		return (rv);
	}
	auth_user_fini(&u);
	memset(&u, 0, sizeof(u));
	// Argon2id is slow: never inside a transaction.
	if ((rv = auth_pw_hash(auth_state(w), json_string_value(pv),
	         json_string_length(pv), hash)) != 0) {
		return (rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		goto out;
	}
	if ((rv = token_find(w, KIND_RESET, tv, &t)) != 0 ||
	    (rv = token_user(w, &t, &u)) != 0 ||
	    (rv = auth_user_set_password(w, u.id, hash, 1)) != 0 ||
	    (rv = auth_revoke_all(w, u.id, "password_reset", NULL, NULL)) !=
	        0) {
		rv = rv == LC_ENOT_FOUND ? LC_EINVALID_EMAIL_TOKEN : rv;
		auth_rollback(w);
		goto out;
	}
	auth_lock_reset(w, u.email);
	// This token and the user's other reset tokens are used up.
	st = auth_stmt(
	    w, "DELETE FROM email_tokens WHERE user_id = ?1 AND kind = ?2");
	if (st == NULL ||
	    sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, KIND_RESET, -1, SQLITE_STATIC) !=
	        SQLITE_OK) {
		lc_db_done(st);
		auth_rollback(w);
		rv = LC_EINTERNAL;
		goto out;
	}
	if ((rv = step_done(w, st, "reset tokens")) != 0) {
		auth_rollback(w);
		goto out;
	}
	if ((rv = auth_commit(w, rp)) != 0) {
		goto out;
	}
	rv = reply_ok(rp);
out:
	auth_user_fini(&u);
	sodium_memzero(hash, sizeof(hash));
	return (rv);
}

int
auth_h_verify_email(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t    *tv;
	struct etok      t = { 0 };
	struct auth_user u = { 0 };
	int              rv;

	if ((rv = token_arg(rq, rp, &tv)) != 0) {
		return (rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = token_find(w, KIND_VERIFY, tv, &t)) != 0 ||
	    (rv = token_user(w, &t, &u)) != 0 ||
	    (rv = token_delete(w, t.h)) != 0 ||
	    (rv = auth_user_set_verified(w, u.id)) != 0) {
		rv = rv == LC_ENOT_FOUND ? LC_EINVALID_EMAIL_TOKEN : rv;
		auth_rollback(w);
		auth_user_fini(&u);
		return (rv);
	}
	auth_user_fini(&u);
	if ((rv = auth_commit(w, rp)) != 0) {
		return (rv);
	}
	return (reply_ok(rp));
}

int
auth_h_resend_verification(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct auth_user u   = { 0 };
	const char      *uid = caller_uid(rq);
	int              rv;

	if (uid == NULL) {
		return (LC_EAUTH_REQUIRED);
	}
	if ((rv = auth_user_load(w, uid, &u)) != 0) {
		if (rv != LC_ENOT_FOUND) {
			return (rv);
		}
		return (rq->caller_kind == LC_CALLER_APIKEY
		        ? LC_EINVALID_API_KEY
		        : LC_ESESSION_REVOKED);
	}
	if (u.is_verified) {
		auth_user_fini(&u);
		return (LC_EALREADY_VERIFIED);
	}
	// Earlier tokens stay valid until they expire (§2.10).
	auth_send_verify_email(w, &u);
	auth_user_fini(&u);
	return (reply_ok(rp));
}

int
auth_h_magic_link(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct auth_user u = { 0 };
	char             email[AUTH_EMAIL_MAX + 1];
	char            *tok = NULL;
	int              found;
	int              send;
	int              rv;

	if ((rv = email_lookup(w, rq, rp, "auth_magic_link_enabled", email,
	         sizeof(email), &u, &found)) != 0) {
		return (rv);
	}
	// An existing account gets a sign-in link; a missing one a sign-up
	// link while registration is open; otherwise nothing is sent (the
	// same statements still run: see the top of the file).
	send = found || lc_settings_bool("registration_open");
	if ((rv = token_issue(w, KIND_MAGIC, found ? u.id : NULL, email,
	         AUTH_MAGIC_TTL_MS, !send, &tok)) != 0) {
		auth_rollback(w);
		auth_user_fini(&u);
		return (rv);
	}
	auth_user_fini(&u);
	if ((rv = auth_commit(w, rp)) != 0) {
		wipe_free(tok);
		return (rv);
	}
	if (tok != NULL) {
		send_token_mail(w, KIND_MAGIC, email, tok);
		wipe_free(tok);
	}
	return (reply_ok(rp));
}

int
auth_h_magic_verify(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t    *tv;
	struct etok      t      = { 0 };
	struct auth_user u      = { 0 };
	json_t          *result = NULL;
	char             uid[AUTH_ID_LEN + 1];
	int              rv;

	if (!lc_settings_bool("auth_magic_link_enabled")) {
		return (LC_EAUTH_METHOD_DISABLED);
	}
	if ((rv = token_arg(rq, rp, &tv)) != 0) {
		return (rv);
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	if ((rv = token_find(w, KIND_MAGIC, tv, &t)) != 0) {
		goto fail;
	}
	if (t.uid[0] != '\0') {
		if ((rv = token_user(w, &t, &u)) != 0) {
			goto fail;
		}
	} else if ((rv = auth_user_by_email(w, t.email, &u)) ==
	    LC_ENOT_FOUND) {
		// A sign-up link: the account is created now, if allowed.
		if (!lc_settings_bool("registration_open")) {
			rv = LC_EREGISTRATION_CLOSED; // the token stays
			goto fail;
		}
		if ((rv = auth_user_create(w, t.email, NULL, 1, NULL, &u)) !=
		    0) {
			goto fail;
		}
	} else if (rv != 0) {
		goto fail;
	}
	// (A sign-up link whose address registered since signs in to that
	// account: the link proves control of the address all the same.)
	if ((rv = token_delete(w, t.h)) != 0) {
		goto fail;
	}
	if (!u.is_verified) {
		// Takeover (§2.8): the address is proven now; a password set
		// by whoever registered it unproven stops working, and so do
		// that account's sessions and keys.
		if ((rv = auth_user_set_password(w, u.id, NULL, 1)) != 0 ||
		    (rv = auth_revoke_all(
		         w, u.id, TAKEOVER_REASON, NULL, NULL)) != 0) {
			goto fail;
		}
		(void) snprintf(uid, sizeof(uid), "%s", u.id);
		auth_user_fini(&u);
		memset(&u, 0, sizeof(u));
		if ((rv = auth_user_load(w, uid, &u)) != 0) {
			goto fail;
		}
	}
	if (u.totp_enabled) {
		rv = auth_totp_challenge(w, &u, &result);
	} else {
		rv = auth_session_open(w, rq, &u, &result);
	}
	if (rv != 0) {
		goto fail;
	}
	auth_user_fini(&u);
	if ((rv = auth_commit(w, rp)) != 0) {
		json_decref(result);
		return (rv);
	}
	lc_rep_json(rp, 200, result);
	return (0);
fail:
	auth_rollback(w);
	auth_user_fini(&u);
	json_decref(result);
	return (rv == LC_ENOT_FOUND ? LC_EINVALID_EMAIL_TOKEN : rv);
}
