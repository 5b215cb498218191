/*
 * auth.c -- credentials and callers (API.md §1.3).
 *
 * Authorization, when present, is the only header evaluated: its scheme
 * must be Bearer; the value is the admin secret (compared in constant
 * time: keyed BLAKE2b of both sides, so neither content nor length leaks),
 * an API key (bb_...), or an access token (JWT, HS256 under SECRET_KEY).
 * X-API-Key counts only without Authorization. API keys are resolved by
 * auth (auth.apikey_resolve) and positive answers are cached for a few
 * seconds (never past the key's expires_at, which the answer carries),
 * keyed by a keyed hash of the key (the key itself is not kept).
 * The cache is used only while the session view is in sync with auth's
 * stream; a user's entries are dropped on apikey.revoked, user.changed,
 * user.deleted and session.revoked with a cut (stream and reply effects),
 * and all of them at every resync. A drop advances an epoch, and an answer
 * to a resolution that began before a drop is used but not cached, so a
 * revocation racing with a resolution cannot leave a stale entry.
 *
 * JWTs (§2.2): lc_jwt_verify checks the signature, alg and exp. An access
 * token has sub and sid; an impersonation token has "imp":true, a jti and
 * no sid; any other signed JWT is invalid_token. The session view
 * (sessions.c) decides when it can; otherwise auth is asked per request
 * (auth.session_check, GW_CRED_NEED_SESSION), failing closed. The caller
 * is always built from auth's current state (view or answer), never from
 * the claims. Tokens are never logged. Each thread remembers the last
 * tokens it verified (keyed hash of the token -> sub, sid/jti, exp), so a
 * client's repeated requests skip the signature check and claims parse
 * until exp; the mac key is random per process, so hashes cannot be
 * forged to collide.
 *
 * A json_t is never shared between threads: jansson's json_incref reads
 * the count without an atomic load (a data race under TSan), so every
 * request builds its own caller object and the cache hands out deep
 * copies, made under its mutex.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "lc_err.h"
#include "lc_jwt.h"
#include "lc_log.h"
#include "lc_settings.h"

#define MAC_LEN 32
#define CACHE_SLOTS 1024 // direct-mapped
#define CACHE_TTL_MS 5000
#define JCACHE_SLOTS 64 // verified tokens, per thread, direct-mapped

struct kcache {
	uint8_t h[MAC_LEN];
	int64_t exp_ms; // 0: empty
	json_t *caller;
	char    uid[GW_UID_MAX + 1];
};

// A token that verified, with the claims that matter, as this thread saw
// it; keyed by the keyed hash of the whole token (the token is not kept).
struct jcache {
	uint8_t h[MAC_LEN];
	int64_t exp_s; // 0: empty
	int     imp;
	char    sub[GW_UID_MAX + 1];
	char    id[GW_UID_MAX + 1]; // sid, or jti when imp
};

// Owner: the thread (each MHD thread its own); see jwt().
static _Thread_local struct jcache jcache[JCACHE_SLOTS];

struct gw_auth {
	uint8_t         mac_key[crypto_generichash_KEYBYTES];
	uint8_t         admin_mac[MAC_LEN];
	int             has_admin;
	uint8_t        *secret_key;
	size_t          secret_key_len;
	pthread_mutex_t mu;    // guards cache and epoch
	uint64_t        epoch; // advanced by every drop
	struct kcache   cache[CACHE_SLOTS];
};

static void
mac(const struct gw_auth *a, const void *p, size_t len, uint8_t out[MAC_LEN])
{
	(void) crypto_generichash(
	    out, MAC_LEN, p, len, a->mac_key, sizeof(a->mac_key));
}

struct gw_auth *
gw_auth_alloc(const struct lc_cfg *cfg)
{
	struct gw_auth *a = lc_calloc(1, sizeof(*a));

	randombytes_buf(a->mac_key, sizeof(a->mac_key));
	if (cfg->admin_secret_len > 0) {
		mac(a, cfg->admin_secret, cfg->admin_secret_len, a->admin_mac);
		a->has_admin = 1;
	}
	a->secret_key_len = cfg->secret_key_len;
	a->secret_key     = lc_alloc(cfg->secret_key_len + 1);
	memcpy(a->secret_key, cfg->secret_key, cfg->secret_key_len);
	(void) pthread_mutex_init(&a->mu, NULL);
	return (a);
}

void
gw_auth_free(struct gw_auth *a)
{
	size_t i;

	if (a == NULL) {
		return;
	}
	for (i = 0; i < CACHE_SLOTS; i++) {
		json_decref(a->cache[i].caller);
	}
	sodium_memzero(a->secret_key, a->secret_key_len);
	lc_free(a->secret_key);
	(void) pthread_mutex_destroy(&a->mu);
	sodium_memzero(a, sizeof(*a));
	lc_free(a);
}

int
gw_auth_bearer(const char *authz, lc_str *out)
{
	const char *p;
	size_t      len;

	if (strncasecmp(authz, "Bearer", 6) != 0 ||
	    (authz[6] != ' ' && authz[6] != '\t')) {
		return (LC_EINVALID_TOKEN);
	}
	for (p = authz + 7; *p == ' ' || *p == '\t'; p++) { }
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
		len--;
	}
	if (len == 0) {
		return (LC_EINVALID_TOKEN);
	}
	*out = (lc_str) { p, len };
	return (0);
}

int
gw_auth_is_admin(struct gw_auth *a, const char *authz)
{
	uint8_t h[MAC_LEN];
	lc_str  tok;

	if (authz == NULL || !a->has_admin ||
	    gw_auth_bearer(authz, &tok) != 0) {
		return (0);
	}
	mac(a, tok.ptr, tok.len, h);
	return (sodium_memcmp(h, a->admin_mac, MAC_LEN) == 0);
}

static void
set_caller(struct gw_req *r, int kind, json_t *caller, const char *uid,
    size_t uid_len)
{
	json_decref(r->caller);
	r->caller_kind = kind;
	r->caller      = caller;
	if (uid_len > GW_UID_MAX) {
		uid_len = GW_UID_MAX;
	}
	memcpy(r->uid, uid, uid_len);
	r->uid[uid_len] = '\0';
}

static struct kcache *
slot_of(struct gw_auth *a, const uint8_t h[MAC_LEN])
{
	return (&a->cache[(h[0] | ((unsigned) h[1] << 8)) % CACHE_SLOTS]);
}

static int
apikey(struct gw *g, struct gw_req *r, lc_str key)
{
	struct gw_auth *a = g->auth;
	struct kcache  *e;
	uint8_t         h[MAC_LEN];

	if (key.len > GW_APIKEY_MAX) {
		r->cred_err = LC_EINVALID_API_KEY;
		return (GW_CRED_DONE);
	}
	mac(a, key.ptr, key.len, h);
	e = slot_of(a, h);
	(void) pthread_mutex_lock(&a->mu);
	// While out of sync a revocation may have been missed: ask auth.
	if (e->exp_ms > lc_mono_ms() && sodium_memcmp(e->h, h, MAC_LEN) == 0 &&
	    gw_view_in_sync(g->view)) {
		set_caller(r, LC_CALLER_APIKEY, json_deep_copy(e->caller),
		    e->uid, strlen(e->uid));
		(void) pthread_mutex_unlock(&a->mu);
		return (GW_CRED_DONE);
	}
	(void) pthread_mutex_unlock(&a->mu);
	memcpy(r->apikey, key.ptr, key.len);
	r->apikey[key.len] = '\0';
	r->apikey_len      = key.len;
	r->need_apikey     = 1;
	return (GW_CRED_NEED_APIKEY);
}

// 1 if v is a string of 1..max bytes without NUL.
static int
claim_ok(const json_t *v, size_t max)
{
	return (json_is_string(v) && json_string_length(v) > 0 &&
	    json_string_length(v) <= max &&
	    strlen(json_string_value(v)) == json_string_length(v));
}

// Decides a verified token of user uid (id: its sid, or its jti when
// imp) from the session view, or defers it to auth.
static int
session(struct gw *g, struct gw_req *r, lc_str uid, lc_str id, int imp)
{
	json_t *caller = NULL;

	switch (gw_view_check(g->view, uid, id, imp, &caller)) {
	case GW_VIEW_OK:
		set_caller(r, LC_CALLER_USER, caller, uid.ptr, uid.len);
		return (GW_CRED_DONE);
	case GW_VIEW_REVOKED:
		r->cred_err = LC_ESESSION_REVOKED;
		return (GW_CRED_DONE);
	default: // the view cannot tell: ask auth (fail closed)
		memcpy(r->uid, uid.ptr, uid.len);
		r->uid[uid.len] = '\0';
		memcpy(r->sid, id.ptr, id.len);
		r->sid[id.len]  = '\0';
		r->imp          = imp;
		r->need_session = 1;
		return (GW_CRED_NEED_SESSION);
	}
}

static int
jwt(struct gw *g, struct gw_req *r, lc_str tok)
{
	struct gw_auth *a      = g->auth;
	json_t         *claims = NULL;
	int64_t         now_s  = lc_now_ms() / 1000;
	struct jcache  *c;
	const json_t   *sub;
	const json_t   *sid;
	const json_t   *id;
	uint8_t         h[MAC_LEN];
	int             imp;
	int             rv;

	// A token this thread verified before and that has not expired
	// needs no second signature check and claims parse; the session is
	// checked all the same.
	mac(a, tok.ptr, tok.len, h);
	c = &jcache[(h[0] | ((unsigned) h[1] << 8)) % JCACHE_SLOTS];
	if (c->exp_s > now_s && sodium_memcmp(c->h, h, MAC_LEN) == 0) {
		return (session(g, r, (lc_str) { c->sub, strlen(c->sub) },
		    (lc_str) { c->id, strlen(c->id) }, c->imp));
	}
	rv = lc_jwt_verify(tok.ptr, tok.len, a->secret_key, a->secret_key_len,
	    now_s, &claims);
	if (rv != 0) {
		r->cred_err = rv == LC_ETOKEN_EXPIRED ? rv : LC_EINVALID_TOKEN;
		return (GW_CRED_DONE);
	}
	// An access token has a subject and a session; an impersonation
	// token a subject, imp:true, a jti and no session. Any other signed
	// JWT (a refresh token would not even verify) is not one.
	sub = json_object_get(claims, "sub");
	sid = json_object_get(claims, "sid");
	imp = json_is_true(json_object_get(claims, "imp"));
	id  = imp ? json_object_get(claims, "jti") : sid;
	if (!claim_ok(sub, GW_UID_MAX) || !claim_ok(id, GW_UID_MAX) ||
	    (imp && sid != NULL && !json_is_null(sid))) {
		r->cred_err = LC_EINVALID_TOKEN;
		rv          = GW_CRED_DONE;
		goto out;
	}
	memcpy(c->h, h, MAC_LEN);
	c->exp_s = json_integer_value(json_object_get(claims, "exp"));
	c->imp   = imp;
	(void) snprintf(c->sub, sizeof(c->sub), "%s", json_string_value(sub));
	(void) snprintf(c->id, sizeof(c->id), "%s", json_string_value(id));
	rv = session(g, r,
	    (lc_str) { json_string_value(sub), json_string_length(sub) },
	    (lc_str) { json_string_value(id), json_string_length(id) }, imp);
out:
	json_decref(claims);
	return (rv);
}

void
gw_auth_none(struct gw *g, struct gw_req *r)
{
	LC_UNUSED(g);
	r->cred_err = 0;
	if (r->admin_secret) {
		set_caller(r, LC_CALLER_ADMIN,
		    json_pack("{s:s}", "kind", "admin"), "", 0);
	} else {
		set_caller(r, LC_CALLER_ANON,
		    json_pack("{s:s}", "kind", "anon"), "", 0);
	}
}

int
gw_auth_resolve(
    struct gw *g, struct gw_req *r, const char *authz, const char *xapikey)
{
	lc_str tok;

	r->cred_err     = 0;
	r->need_session = 0;
	r->imp          = 0;
	set_caller(
	    r, LC_CALLER_ANON, json_pack("{s:s}", "kind", "anon"), "", 0);
	if (authz != NULL) {
		if (gw_auth_bearer(authz, &tok) != 0) {
			r->cred_err = LC_EINVALID_TOKEN;
		} else if (r->admin_secret) {
			set_caller(r, LC_CALLER_ADMIN,
			    json_pack("{s:s}", "kind", "admin"), "", 0);
		} else if (tok.len >= 3 && memcmp(tok.ptr, "bb_", 3) == 0) {
			return (apikey(g, r, tok));
		} else {
			return (jwt(g, r, tok));
		}
		return (GW_CRED_DONE);
	}
	if (xapikey != NULL) {
		tok = (lc_str) { xapikey, strlen(xapikey) };
		if (tok.len < 3 || memcmp(tok.ptr, "bb_", 3) != 0) {
			r->cred_err = LC_EINVALID_API_KEY;
			return (GW_CRED_DONE);
		}
		return (apikey(g, r, tok));
	}
	return (GW_CRED_DONE);
}

// Encodes an auth request of r's for msg with body (taken).
static int
auth_request(
    struct gw_req *r, int msg, json_t *body, void **out, size_t *out_len)
{
	struct lc_req rq;
	int           rv;

	lc_req_init(&rq);
	rq.v  = LC_ENV_VERSION;
	rq.op = msg;
	(void) snprintf(
	    rq.op_name, sizeof(rq.op_name), "%s", lc_msg_name(msg));
	(void) snprintf(rq.rid, sizeof(rq.rid), "%s", r->rid);
	(void) snprintf(rq.ip, sizeof(rq.ip), "%s", r->ip);
	rq.deadline    = lc_now_ms() + GW_CALL_TIMEOUT_MS;
	rq.caller_kind = LC_CALLER_SERVICE;
	rq.caller      = json_pack("{s:s}", "kind", "service");
	rq.params      = json_object();
	rq.query       = json_object();
	rq.body        = body;
	rv             = LC_EINTERNAL;
	if (rq.body != NULL) {
		rv = lc_env_encode_req(&rq, out, out_len);
	}
	lc_req_fini(&rq);
	return (rv);
}

int
gw_auth_apikey_request(struct gw_req *r, void **out, size_t *out_len)
{
	struct gw_auth *a = r->gw->auth;
	int             rv;

	(void) pthread_mutex_lock(&a->mu);
	r->kc_epoch = a->epoch;
	(void) pthread_mutex_unlock(&a->mu);
	rv = auth_request(r, LC_MSG_AUTH_APIKEY_RESOLVE,
	    json_pack("{s:s%}", "key", r->apikey, r->apikey_len), out,
	    out_len);
	return (rv == LC_EINTERNAL ? LC_EINVALID_API_KEY : rv);
}

// The caller object for user uid from auth's answer body: kind, uid,
// email, roles, verified (what the body has of them).
static json_t *
caller_from(const char *kind, const json_t *body, const json_t *uid)
{
	json_t *c = json_pack("{s:s, s:O}", "kind", kind, "uid", uid);
	json_t *v;

	if (c == NULL) {
		return (NULL);
	}
	if (json_is_string(v = json_object_get(body, "email"))) {
		(void) json_object_set_nocheck(c, "email", v);
	}
	if (json_is_array(v = json_object_get(body, "roles"))) {
		(void) json_object_set_nocheck(c, "roles", v);
	}
	(void) json_object_set_new_nocheck(c, "verified",
	    json_boolean(json_is_true(json_object_get(body, "verified"))));
	return (c);
}

// Decodes a reply of auth's to a credential check and applies its
// effects. Returns 0 with rp filled, or the credential error.
static int
cred_reply(struct gw *g, int rv, void *msg, struct lc_rep *rp)
{
	if (rv != 0 || msg == NULL) {
		return (LC_EUNAVAILABLE);
	}
	if (lc_client_reply(msg, rp) != 0) {
		lc_log_err("GW-AUTH", "malformed reply from auth");
		return (LC_EINTERNAL);
	}
	if (rp->fx != NULL) {
		gw_fx_apply(g, rp->fx);
	}
	if (rp->status >= 500) {
		return (rp->status == 503 ? LC_EUNAVAILABLE : LC_EINTERNAL);
	}
	return (0);
}

void
gw_auth_apikey_reply(struct gw *g, struct gw_req *r, int rv, void *msg)
{
	struct gw_auth *a = g->auth;
	struct lc_rep   rp;
	const json_t   *uid;
	json_t         *kid;
	json_t         *caller;
	const json_t   *exp;
	int64_t         ttl = CACHE_TTL_MS;
	struct kcache  *e;
	uint8_t         h[MAC_LEN];

	lc_rep_init(&rp);
	r->need_apikey = 0;
	if ((r->cred_err = cred_reply(g, rv, msg, &rp)) != 0) {
		goto out;
	}
	if (rp.status != 200) {
		r->cred_err = LC_EINVALID_API_KEY; // 401/404: unknown key
		goto out;
	}
	uid = json_object_get(rp.body, "uid");
	if (!claim_ok(uid, GW_UID_MAX)) {
		lc_log_err("GW-APIKEY", "auth.apikey_resolve: no uid");
		r->cred_err = LC_EINTERNAL;
		goto out;
	}
	if ((caller = caller_from("apikey", rp.body, uid)) == NULL) {
		r->cred_err = LC_EINTERNAL;
		goto out;
	}
	kid = json_object_get(rp.body, "key_id");
	if (!json_is_string(kid)) {
		kid = json_object_get(rp.body, "id");
	}
	if (json_is_string(kid)) {
		(void) json_object_set_nocheck(caller, "key_id", kid);
	}
	set_caller(r, LC_CALLER_APIKEY, caller, json_string_value(uid),
	    json_string_length(uid));
	// Cached for CACHE_TTL_MS, and never past the key's own expiry.
	exp = json_object_get(rp.body, "expires_at");
	if (json_is_integer(exp)) {
		int64_t left = (int64_t) json_integer_value(exp) - lc_now_ms();

		ttl = left < ttl ? left : ttl;
	}
	mac(a, r->apikey, r->apikey_len, h);
	e = slot_of(a, h);
	(void) pthread_mutex_lock(&a->mu);
	if (a->epoch == r->kc_epoch && ttl > 0) { // nothing dropped meanwhile
		json_decref(e->caller);
		memcpy(e->h, h, MAC_LEN);
		e->caller = json_deep_copy(caller);
		e->exp_ms = lc_mono_ms() + ttl;
		(void) snprintf(e->uid, sizeof(e->uid), "%s", r->uid);
	}
	(void) pthread_mutex_unlock(&a->mu);
out:
	if (msg != NULL) {
		lc_client_msg_free(msg);
	}
	lc_rep_fini(&rp);
	sodium_memzero(r->apikey, sizeof(r->apikey));
	r->apikey_len = 0;
}

int
gw_auth_session_request(struct gw_req *r, void **out, size_t *out_len)
{
	return (auth_request(r, LC_MSG_AUTH_SESSION_CHECK,
	    json_pack(
	        "{s:s, s:s}", "uid", r->uid, r->imp ? "jti" : "sid", r->sid),
	    out, out_len));
}

void
gw_auth_session_reply(struct gw *g, struct gw_req *r, int rv, void *msg)
{
	struct lc_rep rp;
	const json_t *uid;
	const json_t *code;
	json_t       *caller;
	int           err;

	lc_rep_init(&rp);
	r->need_session = 0;
	if ((r->cred_err = cred_reply(g, rv, msg, &rp)) != 0) {
		goto out;
	}
	if (rp.status == 404) {
		// An auth that does not serve the op cannot vouch.
		r->cred_err = LC_EUNAVAILABLE;
		goto out;
	}
	if (rp.status == 401) {
		// session_revoked / invalid_token (/ token_expired), as is.
		code = json_object_get(rp.body, "code");
		err  = json_is_string(code)
		     ? lc_err_from_code(
		           json_string_value(code), json_string_length(code))
		     : LC_EINVALID_TOKEN;
		r->cred_err =
		    lc_err_status(err) == 401 ? err : LC_EINVALID_TOKEN;
		goto out;
	}
	uid = json_object_get(rp.body, "uid");
	if (rp.status != 200 || !json_is_string(uid) ||
	    strcmp(json_string_value(uid), r->uid) != 0) {
		lc_log_err("GW-SESSION", "auth.session_check answered %d%s",
		    rp.status, rp.status == 200 ? " for another user" : "");
		r->cred_err = LC_EINTERNAL;
		goto out;
	}
	if ((caller = caller_from("user", rp.body, uid)) == NULL) {
		r->cred_err = LC_EINTERNAL;
		goto out;
	}
	if (r->imp) {
		(void) json_object_set_new_nocheck(caller, "imp", json_true());
	} else {
		(void) json_object_set_new_nocheck(
		    caller, "sid", json_string(r->sid));
	}
	set_caller(r, LC_CALLER_USER, caller, r->uid, strlen(r->uid));
out:
	if (msg != NULL) {
		lc_client_msg_free(msg);
	}
	lc_rep_fini(&rp);
}

static void
kc_clear(struct kcache *e)
{
	json_decref(e->caller);
	e->caller = NULL;
	e->exp_ms = 0;
	e->uid[0] = '\0';
	sodium_memzero(e->h, sizeof(e->h));
}

void
gw_auth_drop_uid(struct gw_auth *a, const char *uid, size_t len)
{
	size_t i;

	(void) pthread_mutex_lock(&a->mu);
	a->epoch++;
	for (i = 0; i < CACHE_SLOTS; i++) {
		struct kcache *e = &a->cache[i];

		if (e->exp_ms != 0 && strlen(e->uid) == len &&
		    memcmp(e->uid, uid, len) == 0) {
			kc_clear(e);
		}
	}
	(void) pthread_mutex_unlock(&a->mu);
}

void
gw_auth_flush(struct gw_auth *a)
{
	size_t i;

	(void) pthread_mutex_lock(&a->mu);
	a->epoch++;
	for (i = 0; i < CACHE_SLOTS; i++) {
		if (a->cache[i].exp_ms != 0) {
			kc_clear(&a->cache[i]);
		}
	}
	(void) pthread_mutex_unlock(&a->mu);
}

size_t
gw_auth_cached(struct gw_auth *a)
{
	size_t  i;
	size_t  n   = 0;
	int64_t now = lc_mono_ms();

	(void) pthread_mutex_lock(&a->mu);
	for (i = 0; i < CACHE_SLOTS; i++) {
		n += a->cache[i].exp_ms > now;
	}
	(void) pthread_mutex_unlock(&a->mu);
	return (n);
}

int
gw_access_check(int access, int caller_kind)
{
	int user =
	    caller_kind == LC_CALLER_USER || caller_kind == LC_CALLER_APIKEY;
	int anon = caller_kind == LC_CALLER_ANON;

	switch (access) {
	case GW_ACC_USER:
		if (anon) {
			return (LC_EAUTH_REQUIRED);
		}
		return (user ? 0 : LC_EUSER_REQUIRED);
	case GW_ACC_USER_ADMIN:
	case GW_ACC_USER_ADMIN_RULE:
		return (anon ? LC_EAUTH_REQUIRED : 0);
	case GW_ACC_ADMIN:
		if (anon) {
			return (LC_EAUTH_REQUIRED);
		}
		return (
		    caller_kind == LC_CALLER_ADMIN ? 0 : LC_EADMIN_REQUIRED);
	default: // NONE, RULE, FILE: the service decides
		return (0);
	}
}

/* ---- auth-method switches (API.md §2.7) ---- */

// By op: the boolean setting that must be true for the op to be served.
static const char *const switches[LC_MSG_COUNT] = {
	[LC_MSG_AUTH_REGISTER]        = "auth_password_enabled",
	[LC_MSG_AUTH_LOGIN]           = "auth_password_enabled",
	[LC_MSG_AUTH_FORGOT_PASSWORD] = "auth_password_enabled",
	[LC_MSG_AUTH_RESET_PASSWORD]  = "auth_password_enabled",
	[LC_MSG_AUTH_MAGIC_LINK]      = "auth_magic_link_enabled",
	[LC_MSG_AUTH_MAGIC_VERIFY]    = "auth_magic_link_enabled",
	[LC_MSG_AUTH_TOTP_SETUP]      = "auth_totp_enabled",
	[LC_MSG_AUTH_TOTP_ENABLE]     = "auth_totp_enabled",
	[LC_MSG_AUTH_APIKEY_CREATE]   = "auth_api_keys_enabled",
};

const char *
gw_switch_setting(int msg)
{
	return (msg >= 0 && msg < LC_MSG_COUNT ? switches[msg] : NULL);
}

int
gw_switch_check(int msg)
{
	const char *key = gw_switch_setting(msg);

	return (key != NULL && !lc_settings_bool(key)
	        ? LC_EAUTH_METHOD_DISABLED
	        : 0);
}
