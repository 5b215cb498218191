/*
 * gw.h -- the gateway's private state and the functions its files share.
 *
 * The gateway (ARCHITECTURE.md §3) is libmicrohttpd in front of the bus:
 * http.c runs the per-request pipeline of API.md §1.4 and never waits on a
 * service (a connection is suspended while its request is on the bus and
 * resumed from the nng callback); auth.c resolves credentials (§1.3) and
 * keeps the API-key cache; sessions.c keeps the local view of auth's
 * sessions and users (snapshot + stream + reply effects); ratelimit.c
 * keeps the fixed windows of §1.10; reply.c builds responses; query.c
 * turns the query string into the envelope's query object; metrics.c
 * keeps the gateway's series and answers /metrics (§6); openapi.c writes
 * the OpenAPI document (§7); control.c is the process: start, the admin
 * survey (svc.info, system.restart), drain and stop.
 *
 * One struct gw per process; it outlives every request. A struct gw_req is
 * one HTTP request: allocated in MHD's URI callback, hung on *con_cls and
 * freed in the NOTIFY_COMPLETED callback (STYLE.md §4).
 */
#ifndef GW_GW_H
#define GW_GW_H

#include <jansson.h>
#include <microhttpd.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_bus.h"
#include "lc_cfg.h"
#include "lc_env.h"
#include "lc_ids.h"
#include "lc_metrics.h"
#include "lc_msg.h"
#include "routes.h"

#define GW_URL_MAX 8192          // path + query (API.md §1.8)
#define GW_INFLIGHT_MAX 256      // bus calls in flight per service
#define GW_CALL_TIMEOUT_MS 10000 // API.md §1.11
#define GW_STREAM_TIMEOUT_MS 600000
#define GW_METRICS_TIMEOUT_MS 1000
#define GW_APIKEY_MAX 256
#define GW_UID_MAX 64
#define GW_ID_MAX 32 // a sid, uid or cut held by the session view (ULID: 26)
#define GW_DRAIN_MS 10000
#define GW_CLIENTS 4 // bus clients per service, at most

struct gw_rl;
struct gw_auth;
struct gw_view;
struct lc_sub;

struct gw {
	struct lc_cfg      cfg;
	struct MHD_Daemon *mhd;
	// GW_CLIENTS bus clients per service ([LC_SVC_GATEWAY] unused): each
	// MHD thread uses its own (gw_client), so they do not contend on one
	// nng socket's lock.
	struct lc_client  *client[LC_SVC_COUNT][GW_CLIENTS];
	int                nclients;
	struct lc_metrics *metrics;
	struct gw_rl      *rl;
	struct gw_auth    *auth;
	struct gw_view    *view;     // sessions and users (sessions.c)
	struct lc_sub     *auth_sub; // auth's events, feeding view
	char              *openapi;  // the OpenAPI document, built at start
	size_t             openapi_len;
	int64_t            started_ms;
	int                threads;
	json_free_t        json_free; // frees json_dumps output

	atomic_uint_least64_t requests;  // HTTP requests received
	atomic_int            pending;   // requests between URI and COMPLETED
	atomic_int            suspended; // connections suspended right now
	atomic_int            stopping;  // 1 once the drain has begun
	atomic_int            restart;   // 1 when system.restart asked for it

	int    argc;
	char **argv;
};

// What a suspended request waits for.
enum gw_wait {
	GW_WAIT_NONE = 0,
	GW_WAIT_APIKEY,  // auth.apikey_resolve
	GW_WAIT_SESSION, // auth.session_check
	GW_WAIT_CALL,    // the route's op
	GW_WAIT_METRICS, // svc.metrics from every service
};

// Pipeline steps still to run (API.md §1.4), in order.
enum gw_step {
	GW_STEP_CRED = 0, // 3. credential resolution
	GW_STEP_RATE,     // 4.-6. rate limit, 401, access
	GW_STEP_BODY,     // 7. body checks, then dispatch
};

struct gw_req;

// One outstanding bus call of a request.
struct gw_slot {
	struct gw_req *r;
	void          *msg; // reply message (lc_client_msg_free), or NULL
	int            rv;  // 0, LC_ETIMEDOUT or LC_EUNAVAILABLE
};

struct gw_req {
	struct gw             *gw;
	struct MHD_Connection *con;
	int64_t                t0_ns;
	size_t                 uri_len;
	int                    ncalls; // access-handler calls so far
	int                    method; // enum gw_method, or -1
	const char            *method_str;
	int                    mrv; // enum gw_match_rv
	struct gw_match        m;
	int                    step; // enum gw_step
	int                    cors; // the request carries Origin
	int                    answered;
	unsigned               status;

	// An answer decided on the first call, queued on a later one.
	struct MHD_Response *pend;
	unsigned             pend_status;

	// Credentials (auth.c).
	int      admin_secret; // Authorization carries the admin secret
	int      need_apikey;  // apikey[] must be resolved by auth
	int      need_session; // the JWT's session must be checked by auth
	int      imp;          // the JWT is an impersonation token
	uint64_t kc_epoch;     // API-key cache epoch when resolution began
	int      cred_err;     // LC_E* from resolution, 0 if none
	int      caller_kind;  // enum lc_caller_kind
	json_t  *caller;       // the envelope's caller object (owned)
	char     uid[GW_UID_MAX + 1];
	char     sid[GW_UID_MAX + 1]; // the JWT's sid (imp: its jti)
	char     apikey[GW_APIKEY_MAX + 1];
	size_t   apikey_len;

	// Body (http.c).
	char    *body;
	size_t   body_len;
	size_t   body_cap;
	size_t   body_max;  // 0: the route takes no body
	int      body_over; // more than body_max arrived
	uint64_t body_seen; // bytes received, kept or not

	// Bus calls.
	int            wait; // enum gw_wait
	atomic_int     left; // calls (+1 while sending) not yet answered
	struct gw_slot slot[LC_SVC_COUNT];

	char rid[LC_RID_MAX + 1];
	char ip[LC_IP_MAX + 1];
	char buf[]; // decoded path parameters (uri_len + 1 bytes)
};

/* ---- control.c ---- */

// Runs the gateway process; returns the exit code.
int gw_main(int argc, char **argv);
// Answers admin survey ops other than svc.settings (lc_settings_extra_fn).
int gw_survey_extra(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);

/* ---- http.c ---- */

// The calling thread's bus client for svc, or another thread's when only
// that one is connected (NULL if none is open).
struct lc_client *gw_client(struct gw *g, int svc);

// Copies the User-Agent header ua (or NULL) into out for the envelope's
// ua: cut to LC_UA_MAX bytes, every byte outside printable ASCII
// (0x20..0x7e) replaced by '?'. out is "" when ua is NULL.
void gw_ua_clean(const char *ua, char out[LC_UA_MAX + 1]);

// Starts libmicrohttpd on g->cfg.port with g->threads threads.
LC_NODISCARD int gw_http_start(struct gw *g);
// Stops accepting; waits up to ms for requests in progress; fails the bus
// calls still out; then stops MHD (never with suspended connections).
void gw_http_stop(struct gw *g, int ms);

/* ---- accesslog.c ---- */

// Logs one answered request (GW-REQ, info level, lc_log's line format),
// batched per thread; see accesslog.c. Thread-safe.
void gw_alog_request(const char *method, const char *route, unsigned status,
    double ms, const char *rid);
// Writes out buffered lines older than 100 ms, or all of them (all_lines).
// The main thread calls it every 100 ms and before exiting.
void gw_alog_flush(int all_lines);

/* ---- reply.c ---- */

// A response with a JSON body (json_dumps of body, which is taken).
struct MHD_Response *gw_resp_json(struct gw *g, json_t *body);
// The error response {"error","code","field"?} for err (lc_rep_error).
struct MHD_Response *gw_resp_error(
    struct gw *g, int err, const char *msg, const char *field);
// The OPTIONS answer: 204 with the CORS preflight headers.
struct MHD_Response *gw_resp_preflight(void);
// Adds what every response carries (X-Request-Id, nosniff, CORS).
void gw_resp_common(struct gw_req *r, struct MHD_Response *resp);
// Writes a new request id (UUID v4) and a NUL into out[37]. Thread-safe.
void gw_rid_new(char out[LC_UUID_LEN + 1]);
// 1 if s is a valid incoming X-Request-Id (^[A-Za-z0-9._:-]{1,128}$).
int gw_rid_valid(const char *s);

// A response straight from a bus reply message (msg is taken: freed, or
// kept by the response for a raw body, which is served without a copy).
// The JSON body is written from msgpack without a jansson tree. The
// reply's effects (fx), if any, are applied to g first (gw_fx_apply), so
// they are in force before the response is queued. Returns NULL when the
// reply is malformed (msg freed).
struct MHD_Response *gw_resp_msg(struct gw *g, void *msg, unsigned *status);

/* ---- json.c ---- */

// A growable byte buffer (lc_alloc'd; the owner lc_frees p).
struct gw_buf {
	char  *p;
	size_t len;
	size_t cap;
};

void gw_buf_reserve(struct gw_buf *b, size_t n);
void gw_buf_put(struct gw_buf *b, const void *s, size_t n);
// Appends o as JSON text (lc_codec's mapping; see json.c). Returns 0, or
// LC_EPROTO with b unchanged.
LC_NODISCARD int gw_json_write(struct gw_buf *b, const msgpack_object *o);
// (request side) A copy of the JSON text in, in which every integer literal
// that does not fit in int64 gets ".0" appended, so jansson reads it as a
// real (API.md §3.2: such a number makes a real column) instead of failing
// with "too big integer". Strings are left alone. *out (lc_free) and
// *out_len; returns the number of literals changed.
size_t gw_json_big_ints_real(
    const char *in, size_t len, char **out, size_t *out_len);

/* ---- query.c ---- */

// Builds the envelope's query object from the request's query string:
// keys and values percent-decoded ('+' is a space); the last value wins,
// except filter and sort, which become arrays when repeated. Returns 0
// with *out (new reference) or LC_EINVALID_QUERY (bad escape, NUL or
// invalid UTF-8).
LC_NODISCARD int gw_query_build(struct MHD_Connection *con, json_t **out);
// The same from a raw query string (no leading '?'); used by tests.
LC_NODISCARD int gw_query_parse(const char *qs, size_t len, json_t **out);

/* ---- auth.c ---- */

enum gw_cred_rv {
	GW_CRED_DONE = 0,     // r->caller_kind/caller/uid or r->cred_err set
	GW_CRED_NEED_APIKEY,  // r->apikey must be resolved by auth first
	GW_CRED_NEED_SESSION, // r->uid/sid/imp must be checked by auth first
};

struct gw_auth *gw_auth_alloc(const struct lc_cfg *cfg);
void            gw_auth_free(struct gw_auth *a);
// 1 if authz (the Authorization header, or NULL) is "Bearer <ADMIN_SECRET>"
// (constant time, length not leaked).
int gw_auth_is_admin(struct gw_auth *a, const char *authz);
// Parses "Bearer <token>" (scheme case-insensitive). 0 with the token, or
// LC_EINVALID_TOKEN.
LC_NODISCARD int gw_auth_bearer(const char *authz, lc_str *out);
// Resolves the credential of r (API.md §1.3) from its headers: admin,
// user (JWT: checked against the session view; GW_CRED_NEED_SESSION when
// the view cannot tell), API key (cache, or GW_CRED_NEED_APIKEY),
// anonymous, or an error in r->cred_err. Tokens are never logged.
int gw_auth_resolve(
    struct gw *g, struct gw_req *r, const char *authz, const char *xapikey);
// For access NONE: credentials are not evaluated; the caller is the admin
// when r->admin_secret, else anonymous.
void gw_auth_none(struct gw *g, struct gw_req *r);
// Encodes the auth.apikey_resolve request for r->apikey (lc_free *out)
// and notes the cache epoch (see gw_auth_drop_uid).
LC_NODISCARD int gw_auth_apikey_request(
    struct gw_req *r, void **out, size_t *out_len);
// Applies auth's answer (rv and msg from the slot; msg is freed). The
// answer is cached unless an entry was dropped since the request began.
// Caller: {kind:"apikey",uid,email,roles,verified,key_id}.
void gw_auth_apikey_reply(struct gw *g, struct gw_req *r, int rv, void *msg);
// Encodes the auth.session_check request for r (body {"uid","sid"}, or
// {"uid","jti"} for an impersonation token; lc_free *out).
LC_NODISCARD int gw_auth_session_request(
    struct gw_req *r, void **out, size_t *out_len);
// Applies auth's answer to a session check (rv and msg from the slot; msg
// is freed; its effects are applied first). 200: the caller, built from
// the answer; 401: its code (session_revoked, invalid_token); no answer
// or 404/5xx: LC_EUNAVAILABLE (503 for auth: fail closed); anything
// else LC_EINTERNAL. The answer is never put into the view.
void gw_auth_session_reply(struct gw *g, struct gw_req *r, int rv, void *msg);
// Drops the cached API keys of user uid (len bytes) / every cached key,
// and advances the epoch so a resolution in flight is not cached.
// Thread-safe.
void gw_auth_drop_uid(struct gw_auth *a, const char *uid, size_t len);
void gw_auth_flush(struct gw_auth *a);
// Cached API keys (tests).
size_t gw_auth_cached(struct gw_auth *a);
// The endpoint access check (step 6): 0, LC_EAUTH_REQUIRED,
// LC_EUSER_REQUIRED or LC_EADMIN_REQUIRED.
int gw_access_check(int access, int caller_kind);
// The auth-method switch of op msg (API.md §2.7), a boolean setting such
// as "auth_password_enabled", or NULL when msg has none. Constant table.
const char *gw_switch_setting(int msg);
// Step 6, after the access check: LC_EAUTH_METHOD_DISABLED when msg's
// switch is off (lc_settings_bool), else 0. Thread-safe.
int gw_switch_check(int msg);

/* ---- sessions.c ---- */

// What the view says about a token (gw_view_check).
enum gw_view_rv {
	GW_VIEW_OK = 0,  // known and valid: *caller is set
	GW_VIEW_UNKNOWN, // the view cannot tell (out of sync, unknown sid or
	                 // user): ask auth (auth.session_check)
	GW_VIEW_REVOKED, // impersonation token issued before the user's cut
};

// The view: sid -> uid, uid -> {email, roles, verified, cut}, fed by
// auth's snapshot (gw_view_install), events and reply effects
// (gw_view_apply). Readers take a read lock and allocate only the caller
// object; writers swap a snapshot in whole. Thread-safe.
struct gw_view *gw_view_alloc(void);
void            gw_view_free(struct gw_view *v);
// 1 while the stream feeding v is known complete (lc_sub_in_sync of sub;
// without a sub, the value given to gw_view_set_sync, for tests).
int  gw_view_in_sync(struct gw_view *v);
void gw_view_set_sync(struct gw_view *v, struct lc_sub *sub, int in_sync);
// Applies one auth event (enum lc_topic and its payload, auth.h): 0, or
// LC_EPROTO for a malformed payload (v unchanged). Idempotent. Topics
// the view does not keep are ignored (0).
LC_NODISCARD int gw_view_apply(
    struct gw_view *v, int topic, const json_t *payload);
// Replaces the view by an auth.sessions_snapshot body. Revocations
// applied in the last GW_VIEW_TOMB_MS (tombstones) are applied again to
// it, so a snapshot read before a revocation cannot bring it back. 0, or
// LC_EPROTO (v unchanged).
LC_NODISCARD int gw_view_install(struct gw_view *v, const json_t *snap);
// The view's answer for a verified token of user uid: imp 0: id is the
// sid, imp 1: id is the jti of an impersonation token. GW_VIEW_OK sets
// *caller (new object {kind:"user",uid,sid,email,roles,verified}, with
// "imp":true and no sid for impersonation) from the view's current state.
int gw_view_check(
    struct gw_view *v, lc_str uid, lc_str id, int imp, json_t **caller);
// Sizes (tests, logs).
size_t gw_view_sessions(struct gw_view *v);
size_t gw_view_users(struct gw_view *v);

#define GW_VIEW_TOMB_MS 60000
#define GW_SNAPSHOT_TIMEOUT_MS 5000

// Applies an event to g's state: the view and the API-key cache (dropped
// for the uid on apikey.revoked, user.changed, user.deleted and
// session.revoked with a cut). Used by the subscriber and for effects.
void gw_event_apply(struct gw *g, int topic, const json_t *payload);
// Applies the effects of a bus reply: fx is an array of {"t": topic name,
// "p": payload}; malformed or unknown entries are skipped (logged).
void gw_fx_apply(struct gw *g, const json_t *fx);
// Subscribes to auth's events (g->cfg.events_url) into g->view; each
// resync flushes the API-key cache and fetches auth.sessions_snapshot
// (blocking, on the subscriber's thread). Call before HTTP starts;
// unfollow after it stopped (before the bus clients close).
LC_NODISCARD int gw_sessions_follow(struct gw *g);
void             gw_sessions_unfollow(struct gw *g);
// The resync callback (lc_sub_resync_fn; arg is the struct gw).
int gw_sessions_resync(void *arg);

/* ---- ratelimit.c ---- */

enum gw_rl_class {
	GW_RL_AUTH = 0,
	GW_RL_ADMIN,
	GW_RL_UPLOAD,
	GW_RL_AUTHENTICATED,
	GW_RL_PUBLIC,
	GW_RL_COUNT,
};

struct gw_rl *gw_rl_alloc(void);
void          gw_rl_free(struct gw_rl *rl);
// "auth", "admin", "file_upload", "authenticated", "public_reads".
const char *gw_rl_class_name(int cls);
// The setting holding the class's limit ("rate_limit_auth", ...).
const char *gw_rl_setting(int cls);
// The class of a request (API.md §1.10) or -1 when it is exempt. *by_uid
// is 1 when the key is the caller's user id, 0 for the client IP.
int gw_rl_classify(const struct gw_route *rt, int admin_secret,
    int caller_kind, int cred_err, int *by_uid);
// Counts one request of (cls, key) in a fixed 60 s window that starts at
// the key's first counted request. Returns 0 when admitted (counted; or
// limit <= 0, unlimited, nothing counted), or when over the limit the
// seconds left in the window, rounded up, >= 1 (not counted). Thread-safe.
int gw_rl_hit(struct gw_rl *rl, int cls, const char *key, size_t keylen,
    int64_t limit, int64_t now_ms);
// Entries currently held (tests).
size_t gw_rl_size(struct gw_rl *rl);

/* ---- metrics.c ---- */

// Registers the gateway's families in g->metrics.
void gw_metrics_init(struct gw *g);
// Counts one answered request.
void gw_metrics_request(
    struct gw *g, int method, const char *route, unsigned status, double s);
void gw_metrics_rate_limited(struct gw *g, int cls);
// The gateway's export plus busbase_service_up (up[svc] for each process;
// the gateway is always up); a new JSON array of families.
json_t *gw_metrics_export(struct gw *g, const int up[LC_SVC_COUNT]);
// Renders /metrics from the svc.metrics replies in slots[svc] (consumed:
// each msg is freed). A new NUL-terminated string (lc_free).
char *gw_metrics_render(struct gw *g, struct gw_slot *slots, size_t *out_len);

/* ---- openapi.c ---- */

// Builds the OpenAPI 3.1.0 document from the route table (a new
// NUL-terminated string, lc_free).
char *gw_openapi_build(size_t *out_len);

#endif // GW_GW_H
