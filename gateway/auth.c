/*
 * auth.c -- credentials and callers (API.md §1.3).
 *
 * Authorization, when present, is the only header evaluated: its scheme
 * must be Bearer; the value is the admin secret (compared in constant
 * time: keyed BLAKE2b of both sides, so neither content nor length leaks),
 * an API key (bb_...), or an access token (JWT, HS256 under SECRET_KEY).
 * X-API-Key counts only without Authorization. API keys are resolved by
 * auth (auth.apikey_resolve) and positive answers are cached for a few
 * seconds, keyed by a keyed hash of the key (the key itself is not kept).
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

#define MAC_LEN 32
#define CACHE_SLOTS 1024 // direct-mapped
#define CACHE_TTL_MS 5000

struct kcache {
	uint8_t h[MAC_LEN];
	int64_t exp_ms; // 0: empty
	json_t *caller;
	char    uid[GW_UID_MAX + 1];
};

struct gw_auth {
	uint8_t         mac_key[crypto_generichash_KEYBYTES];
	uint8_t         admin_mac[MAC_LEN];
	int             has_admin;
	uint8_t        *secret_key;
	size_t          secret_key_len;
	pthread_mutex_t mu; // guards cache
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
	if (e->exp_ms > lc_mono_ms() && sodium_memcmp(e->h, h, MAC_LEN) == 0) {
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

// TODO(issue 3): auth keeps the sessions. The gateway will hold a local
// view of them as snapshot (auth.sessions_snapshot) + stream
// (session.revoked, user.deleted, ...; ARCHITECTURE.md §2) and answer here
// from that view, asking auth directly while the stream is out of sync
// (fail closed), and the caller will get the user's current roles and
// is_verified. Until then no session exists, and "a JWT whose session never
// existed -> 401 session_revoked" (API.md §1.13) is the exact answer.
int
gw_session_check(const json_t *claims)
{
	LC_UNUSED(claims);
	return (LC_ESESSION_REVOKED);
}

static void
jwt(struct gw *g, struct gw_req *r, lc_str tok)
{
	struct gw_auth *a      = g->auth;
	json_t         *claims = NULL;
	json_t         *sub;
	json_t         *sid;
	json_t         *caller;
	int             rv;

	rv = lc_jwt_verify(tok.ptr, tok.len, a->secret_key, a->secret_key_len,
	    lc_now_ms() / 1000, &claims);
	if (rv != 0) {
		r->cred_err = rv == LC_ETOKEN_EXPIRED ? rv : LC_EINVALID_TOKEN;
		return;
	}
	// An access token has a subject and a session (or is an
	// impersonation token); any other signed JWT is not one.
	sub = json_object_get(claims, "sub");
	sid = json_object_get(claims, "sid");
	if (!json_is_string(sub) || json_string_length(sub) == 0 ||
	    json_string_length(sub) > GW_UID_MAX ||
	    !(json_is_string(sid) ||
	        json_is_true(json_object_get(claims, "imp")))) {
		r->cred_err = LC_EINVALID_TOKEN;
		goto out;
	}
	if ((rv = gw_session_check(claims)) != 0) {
		r->cred_err = rv;
		goto out;
	}
	caller = json_pack("{s:s, s:O, s:O*, s:O*, s:O*}", "kind", "user",
	    "uid", sub, "sid", sid, "email", json_object_get(claims, "email"),
	    "roles", json_object_get(claims, "roles"));
	if (caller == NULL) {
		r->cred_err = LC_EINVALID_TOKEN;
		goto out;
	}
	set_caller(r, LC_CALLER_USER, caller, json_string_value(sub),
	    json_string_length(sub));
out:
	json_decref(claims);
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

	r->cred_err = 0;
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
			jwt(g, r, tok);
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

int
gw_auth_apikey_request(struct gw_req *r, void **out, size_t *out_len)
{
	struct lc_req rq;
	int           rv;

	lc_req_init(&rq);
	rq.v  = LC_ENV_VERSION;
	rq.op = LC_MSG_AUTH_APIKEY_RESOLVE;
	(void) snprintf(rq.op_name, sizeof(rq.op_name), "%s",
	    lc_msg_name(LC_MSG_AUTH_APIKEY_RESOLVE));
	(void) snprintf(rq.rid, sizeof(rq.rid), "%s", r->rid);
	(void) snprintf(rq.ip, sizeof(rq.ip), "%s", r->ip);
	rq.deadline    = lc_now_ms() + GW_CALL_TIMEOUT_MS;
	rq.caller_kind = LC_CALLER_SERVICE;
	rq.caller      = json_pack("{s:s}", "kind", "service");
	rq.params      = json_object();
	rq.query       = json_object();
	rq.body        = json_pack("{s:s%}", "key", r->apikey, r->apikey_len);
	rv             = rq.body == NULL ? LC_EINVALID_API_KEY
	                                 : lc_env_encode_req(&rq, out, out_len);
	lc_req_fini(&rq);
	return (rv);
}

void
gw_auth_apikey_reply(struct gw *g, struct gw_req *r, int rv, void *msg)
{
	struct gw_auth *a = g->auth;
	struct lc_rep   rp;
	json_t         *uid;
	json_t         *caller;
	struct kcache  *e;
	uint8_t         h[MAC_LEN];

	lc_rep_init(&rp);
	r->need_apikey = 0;
	if (rv != 0 || msg == NULL) {
		r->cred_err = LC_EUNAVAILABLE;
		goto out;
	}
	if (lc_client_reply(msg, &rp) != 0) {
		r->cred_err = LC_EINTERNAL;
		goto out;
	}
	if (rp.status >= 500) {
		r->cred_err =
		    rp.status == 503 ? LC_EUNAVAILABLE : LC_EINTERNAL;
		goto out;
	}
	if (rp.status != 200) {
		r->cred_err = LC_EINVALID_API_KEY; // 401/404: unknown key
		goto out;
	}
	uid = json_object_get(rp.body, "uid");
	if (!json_is_string(uid) || json_string_length(uid) == 0 ||
	    json_string_length(uid) > GW_UID_MAX) {
		lc_log_err("GW-APIKEY", "auth.apikey_resolve: no uid");
		r->cred_err = LC_EINTERNAL;
		goto out;
	}
	caller = json_pack("{s:s, s:O, s:O*, s:O*, s:O*}", "kind", "apikey",
	    "uid", uid, "email", json_object_get(rp.body, "email"), "roles",
	    json_object_get(rp.body, "roles"), "verified",
	    json_object_get(rp.body, "verified"));
	if (caller == NULL) {
		r->cred_err = LC_EINTERNAL;
		goto out;
	}
	set_caller(r, LC_CALLER_APIKEY, caller, json_string_value(uid),
	    json_string_length(uid));
	mac(a, r->apikey, r->apikey_len, h);
	e = slot_of(a, h);
	(void) pthread_mutex_lock(&a->mu);
	json_decref(e->caller);
	memcpy(e->h, h, MAC_LEN);
	e->caller = json_deep_copy(caller);
	e->exp_ms = lc_mono_ms() + CACHE_TTL_MS;
	(void) snprintf(e->uid, sizeof(e->uid), "%s", r->uid);
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
