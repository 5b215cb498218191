/*
 * http.c -- libmicrohttpd glue and the request pipeline of API.md §1.4.
 *
 * MHD calls the access handler several times per request: first with the
 * headers only, then once per chunk of body, then once with no data (the
 * "final" call), and again after each resume. We never queue a response on
 * the first call: MHD would answer "Connection: close" and keep-alive would
 * be lost (LIBRARIES.md §4c). So the first call runs every check that needs
 * only the headers (route, maintenance, credentials, rate limit, access)
 * and keeps the answer it decides in r->pend; a later call queues it.
 *
 * Checks, in order: 1 route (404/405; OPTIONS answered here) -> 2
 * maintenance -> 3 credential resolution -> 4 rate limit -> 5 invalid
 * credential (401) -> 6 access (401/403) -> 7 body: 413 -> 415 ->
 * invalid_json -> invalid_body -> the envelope goes to the route's service.
 *
 * Bus calls never block a gateway thread: the connection is suspended
 * before the request is sent, the nng callback (on_reply) only stores the
 * reply and resumes the connection, and the handler, called again, builds
 * the response. An API key that is not in the cache is resolved the same
 * way (auth.apikey_resolve) before step 4, and so is a JWT whose session
 * the local view cannot vouch for (auth.session_check); /metrics asks
 * every service at once and resumes when the last one answered or timed
 * out. Step 6 also refuses an op whose auth method is switched off
 * (§2.7). The envelope carries the client's User-Agent (cleaned).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "lc_codec.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"
#include "lc_settings.h"

// A body we do not keep is still read and dropped up to this size, so
// the client gets its answer; beyond it the connection is closed.
#define DRAIN_MAX (GW_BODY_BULK_MAX + 16 * 1024 * 1024)
#define BODY_INITIAL (16 * 1024)
#define CONN_LIMIT 4096
#define CONN_MEMORY (16 * 1024)
#define CONN_TIMEOUT_S 60

static const char healthz_body[] = "{\"status\":\"ok\"}";

enum { PRE_CONTINUE = 0, PRE_ANSWERED, PRE_DEFER };

/* ---- per-request state ---- */

static struct gw_req *
req_new(struct gw *g, struct MHD_Connection *con, size_t uri_len)
{
	struct gw_req *r = lc_calloc(1, sizeof(*r) + uri_len + 1);

	r->gw      = g;
	r->con     = con;
	r->uri_len = uri_len;
	r->t0_ns   = lc_mono_ns();
	r->method  = -1;
	r->mrv     = GW_MATCH_NOT_FOUND;
	atomic_fetch_add_explicit(&g->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&g->pending, 1, memory_order_relaxed);
	return (r);
}

static void
req_free(struct gw_req *r)
{
	struct gw *g = r->gw;
	int        i;

	if (r->pend != NULL) {
		MHD_destroy_response(r->pend);
	}
	for (i = 0; i < LC_SVC_COUNT; i++) {
		if (r->slot[i].msg != NULL) {
			lc_client_msg_free(r->slot[i].msg);
		}
	}
	if (r->apikey_len > 0) {
		sodium_memzero(r->apikey, sizeof(r->apikey));
	}
	json_decref(r->caller);
	lc_free(r->body);
	lc_free(r);
	atomic_fetch_sub_explicit(&g->pending, 1, memory_order_relaxed);
}

// MHD_OPTION_URI_LOG_CALLBACK: the request's state, before its headers.
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	return (req_new(cls, con, strlen(uri)));
}

// MHD_OPTION_NOTIFY_COMPLETED: the only place a request's state is freed.
static void
on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct gw_req *r = *con_cls;

	LC_UNUSED(cls);
	LC_UNUSED(con);
	if (r == NULL) {
		return;
	}
	if (!r->answered && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		lc_log_debug("GW-ABORT", "request ended before an answer (%d)",
		    (int) toe);
	}
	req_free(r);
	*con_cls = NULL;
}

// The daemon hands us raw paths and query strings: routes.c decodes each
// path segment on its own (so %2F stays inside its segment), query.c
// each key and value.
static size_t
unescape_none(void *cls, struct MHD_Connection *con, char *s)
{
	LC_UNUSED(cls);
	LC_UNUSED(con);
	return (strlen(s));
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	int  n;

	LC_UNUSED(cls);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	while (n > 0 && (size_t) n < sizeof(buf) && buf[n - 1] == '\n') {
		buf[--n] = '\0';
	}
	lc_log_warn("GW-MHD", "%s", buf);
}

static const char *
hdr(struct gw_req *r, const char *name)
{
	return (MHD_lookup_connection_value(r->con, MHD_HEADER_KIND, name));
}

// The client IP (API.md §1.10), computed once per request when needed.
static const char *
req_ip(struct gw_req *r)
{
	const union MHD_ConnectionInfo *ci;
	const char                     *v;

	if (r->ip[0] != '\0') {
		return (r->ip);
	}
	if (r->gw->cfg.trust_proxy &&
	    (v = hdr(r, "X-Forwarded-For")) != NULL) {
		size_t len;

		v += strspn(v, " \t");
		len = strcspn(v, ", \t");
		if (len > 0) {
			if (len > LC_IP_MAX) {
				len = LC_IP_MAX;
			}
			memcpy(r->ip, v, len);
			r->ip[len] = '\0';
			return (r->ip);
		}
	}
	ci = MHD_get_connection_info(
	    r->con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		if (ci->client_addr->sa_family == AF_INET) {
			struct sockaddr_in sin;

			memcpy(&sin, ci->client_addr, sizeof(sin));
			(void) inet_ntop(
			    AF_INET, &sin.sin_addr, r->ip, sizeof(r->ip));
		} else if (ci->client_addr->sa_family == AF_INET6) {
			struct sockaddr_in6 sin6;

			memcpy(&sin6, ci->client_addr, sizeof(sin6));
			if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
				(void) inet_ntop(AF_INET,
				    &sin6.sin6_addr.s6_addr[12], r->ip,
				    sizeof(r->ip));
			} else {
				(void) inet_ntop(AF_INET6, &sin6.sin6_addr,
				    r->ip, sizeof(r->ip));
			}
		}
	}
	if (r->ip[0] == '\0') {
		(void) snprintf(r->ip, sizeof(r->ip), "unknown");
	}
	return (r->ip);
}

/* ---- answering ---- */

// Queues resp (taken) now: only ever on the second or a later call.
static void
finish(struct gw_req *r, unsigned status, struct MHD_Response *resp)
{
	const char *route = r->m.path != NULL ? r->m.path->tmpl : "unmatched";
	double      secs;

	gw_resp_common(r, resp);
	if (MHD_queue_response(r->con, status, resp) != MHD_YES) {
		lc_log_warn("GW-QUEUE", "cannot queue a %u response", status);
	}
	MHD_destroy_response(resp);
	r->answered = 1;
	r->status   = status;
	secs        = (double) (lc_mono_ns() - r->t0_ns) / 1e9;
	gw_metrics_request(r->gw, r->method, route, status, secs);
	gw_alog_request(r->method_str, route, status, secs * 1e3, r->rid);
}

// 1 if the request announces a body larger than we are willing to drain.
static int
huge_body(struct gw_req *r)
{
	const char *v = hdr(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int64_t     n;

	return (v != NULL &&
	    (lc_parse_i64(v, strlen(v), 0, INT64_MAX, &n) != 0 ||
	        n > DRAIN_MAX));
}

// Answers r. On a later call at once. On the first call the answer is kept
// for the final call, and a body that arrives meanwhile is read and
// dropped, so the client (which may still be sending) gets its answer and
// keep-alive survives. Only a body beyond DRAIN_MAX is not read: then we
// answer at once and MHD closes the connection (MHD 0.9.75 takes a
// response on the first or the final call, never while a body arrives).
static void
answer(struct gw_req *r, unsigned status, struct MHD_Response *resp)
{
	if (r->ncalls <= 1 && !huge_body(r)) {
		r->pend        = resp;
		r->pend_status = status;
		return;
	}
	finish(r, status, resp);
}

static void
answer_error(struct gw_req *r, int err, const char *msg)
{
	answer(r, (unsigned) lc_err_status(err),
	    gw_resp_error(r->gw, err, msg, NULL));
}

static void
answer_unavailable(struct gw_req *r, int svc)
{
	char msg[64];

	(void) snprintf(msg, sizeof(msg), "Service '%s' is unavailable.",
	    lc_svc_name(svc));
	answer_error(r, LC_EUNAVAILABLE, msg);
}

static void
answer_retry(struct gw_req *r, int err, int secs)
{
	struct MHD_Response *resp = gw_resp_error(r->gw, err, NULL, NULL);
	char                 v[16];

	(void) snprintf(v, sizeof(v), "%d", secs);
	(void) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
	answer(r, (unsigned) lc_err_status(err), resp);
}

static void
answer_too_large(struct gw_req *r)
{
	int b = r->m.route->body;

	answer_error(r,
	    b == GW_BODY_MULTIPART || b == GW_BODY_RAW ? LC_EFILE_TOO_LARGE
	                                               : LC_EBODY_TOO_LARGE,
	    NULL);
}

// A path parameter that does not decode: the route's 404. For a
// collection name that is collection_not_found (API.md §1.13).
static void
answer_bad_param(struct gw_req *r)
{
	lc_str name = r->m.name[r->m.bad_param];

	if (lc_str_eqz(name, "collection")) {
		answer_error(r, LC_ECOLLECTION_NOT_FOUND, NULL);
	} else {
		answer_error(r, LC_ENOT_FOUND, NULL);
	}
}

/* ---- bus calls ---- */

struct lc_client *
gw_client(struct gw *g, int svc)
{
	static atomic_int        next;
	static _Thread_local int mine = -1;
	struct lc_client        *c;

	if (mine < 0) { // a thread's first call: take the next slot
		mine = atomic_fetch_add(&next, 1);
	}
	if (svc <= LC_SVC_GATEWAY || svc >= LC_SVC_COUNT || g->nclients == 0) {
		return (NULL);
	}
	c = g->client[svc][mine % g->nclients];
	// This thread's socket may have no connection yet (its dialer keeps
	// trying) while another's has: use that one rather than answer 503.
	// Seen right after start: the readiness probe went through one
	// thread's socket, the next request through the other's.
	for (int i = 1; lc_client_peers(c) == 0 && i < g->nclients; i++) {
		struct lc_client *o = g->client[svc][(mine + i) % g->nclients];

		if (o != NULL && lc_client_peers(o) > 0) {
			return (o);
		}
	}
	return (c);
}

static void
resume(struct gw_req *r)
{
	struct gw *g = r->gw;

	// From here on r belongs to the MHD thread again (it may be freed).
	MHD_resume_connection(r->con);
	atomic_fetch_sub(&g->suspended, 1);
}

// The nng callback: store, and resume when the last call has answered.
static void
on_reply(void *arg, int rv, void *msg)
{
	struct gw_slot *s = arg;
	struct gw_req  *r = s->r;

	s->msg = msg;
	s->rv  = rv;
	if (atomic_fetch_sub_explicit(&r->left, 1, memory_order_acq_rel) ==
	    1) {
		resume(r);
	}
}

// Suspends r (unless the gateway is closing: then 0 is returned and r was
// not suspended). Returns 1 when suspended.
static int
suspend(struct gw_req *r)
{
	struct gw *g = r->gw;

	// Count first, then look: gw_http_stop() sets stopping to 2 and then
	// waits for suspended to reach 0 (both seq_cst), so either it sees
	// us or we see it.
	atomic_fetch_add(&g->suspended, 1);
	if (atomic_load(&g->stopping) >= 2) {
		atomic_fetch_sub(&g->suspended, 1);
		return (0);
	}
	MHD_suspend_connection(r->con);
	return (1);
}

// Sends buf to each service of svcs[0..n) (slot i for svcs[i], or slot
// svcs[i] when by_svc) and suspends r until all have answered. Services
// without a peer fail at once (rv LC_EUNAVAILABLE in their slot).
static void
call(struct gw_req *r, const int *svcs, int n, int by_svc, const void *buf,
    size_t len, int timeout_ms)
{
	struct gw *g = r->gw;
	int        i;

	if (!suspend(r)) {
		answer_error(r, LC_EUNAVAILABLE, "The gateway is restarting.");
		return;
	}
	atomic_store(&r->left, n + 1); // +1 until every call is sent
	for (i = 0; i < n; i++) {
		struct gw_slot   *s = &r->slot[by_svc ? svcs[i] : i];
		struct lc_client *c = gw_client(g, svcs[i]);

		s->r   = r;
		s->msg = NULL;
		s->rv  = 0;
		if (c == NULL ||
		    lc_client_call_async(
		        c, buf, len, timeout_ms, on_reply, s) != 0) {
			s->rv = LC_EUNAVAILABLE;
			(void) atomic_fetch_sub(&r->left, 1);
		}
	}
	if (atomic_fetch_sub_explicit(&r->left, 1, memory_order_acq_rel) ==
	    1) {
		resume(r); // every call failed (or already answered)
	}
}

static void
req_init(struct gw_req *r, struct lc_req *rq, int msg, int timeout_ms)
{
	lc_req_init(rq);
	rq->v  = LC_ENV_VERSION;
	rq->op = msg;
	(void) snprintf(
	    rq->op_name, sizeof(rq->op_name), "%s", lc_msg_name(msg));
	memcpy(rq->rid, r->rid, sizeof(rq->rid));
	(void) snprintf(rq->ip, sizeof(rq->ip), "%s", req_ip(r));
	gw_ua_clean(hdr(r, MHD_HTTP_HEADER_USER_AGENT), rq->ua);
	rq->deadline = lc_now_ms() + timeout_ms;
}

void
gw_ua_clean(const char *ua, char out[LC_UA_MAX + 1])
{
	size_t i;

	for (i = 0; ua != NULL && ua[i] != '\0' && i < LC_UA_MAX; i++) {
		unsigned char c = (unsigned char) ua[i];

		out[i] = c >= 0x20 && c < 0x7f ? (char) c : '?';
	}
	out[i] = '\0';
}

/* ---- steps 3-6: credentials, rate limit, 401, access ---- */

static int
pre_checks(struct gw_req *r)
{
	struct gw             *g  = r->gw;
	const struct gw_route *rt = r->m.route;
	int                    cls;
	int                    by_uid;
	int                    retry;
	int                    rv;

	if (r->step == GW_STEP_CRED) {
		if (rt->access == GW_ACC_NONE) {
			// Credentials are ignored here; only a valid admin
			// secret mattered (maintenance, the admin class).
			gw_auth_none(g, r);
		} else if (gw_auth_resolve(g, r,
		               hdr(r, MHD_HTTP_HEADER_AUTHORIZATION),
		               hdr(r, "X-API-Key")) != GW_CRED_DONE) {
			return (PRE_DEFER); // asked of auth on the final call
		}
		r->step = GW_STEP_RATE;
	}
	if (r->step != GW_STEP_RATE) {
		return (PRE_CONTINUE);
	}
	r->step = GW_STEP_BODY;
	if (r->cred_err != 0 && lc_err_status(r->cred_err) != 401) {
		if (r->cred_err == LC_EUNAVAILABLE) {
			answer_unavailable(r, LC_SVC_AUTH);
		} else {
			answer_error(r, r->cred_err, NULL);
		}
		return (PRE_ANSWERED);
	}
	cls = gw_rl_classify(
	    rt, r->admin_secret, r->caller_kind, r->cred_err, &by_uid);
	if (cls >= 0) {
		const char *key = by_uid ? r->uid : req_ip(r);

		retry = gw_rl_hit(g->rl, cls, key, strlen(key),
		    lc_settings_int(gw_rl_setting(cls)), lc_mono_ms());
		if (retry > 0) {
			gw_metrics_rate_limited(g, cls);
			answer_retry(r, LC_ERATE_LIMITED, retry);
			return (PRE_ANSWERED);
		}
	}
	if (r->cred_err != 0) {
		answer_error(r, r->cred_err, NULL);
		return (PRE_ANSWERED);
	}
	if ((rv = gw_access_check(rt->access, r->caller_kind)) != 0 ||
	    (rv = gw_switch_check(rt->msg)) != 0) {
		answer_error(r, rv, NULL);
		return (PRE_ANSWERED);
	}
	return (PRE_CONTINUE);
}

static size_t
body_limit(struct gw *g, int kind)
{
	size_t up;

	switch (kind) {
	case GW_BODY_JSON:
		return (GW_BODY_JSON_MAX);
	case GW_BODY_JSON_BULK:
		return (GW_BODY_BULK_MAX);
	case GW_BODY_MULTIPART:
	case GW_BODY_RAW:
		// TODO(storage issue): stream uploads to storage in 1 MiB
		// chunks; until then they travel whole, up to 16 MiB.
		up = (size_t) g->cfg.max_upload_bytes;
		return (
		    up > 0 && up < GW_BODY_BULK_MAX ? up : GW_BODY_BULK_MAX);
	default:
		return (0);
	}
}

/* ---- the calls of the access handler ---- */

static void
first_call(struct gw_req *r, const char *url, const char *method)
{
	struct gw             *g = r->gw;
	const struct gw_route *rt;
	struct MHD_Response   *resp;
	const char            *v;

	r->method_str = method;
	r->method     = gw_method_parse(method);
	v             = hdr(r, "X-Request-Id");
	if (v != NULL && gw_rid_valid(v)) {
		(void) snprintf(r->rid, sizeof(r->rid), "%s", v);
	} else {
		gw_rid_new(r->rid);
	}
	r->cors = hdr(r, "Origin") != NULL;

	// 1. Route. OPTIONS is answered for any path; the match still
	// names the route in metrics.
	r->mrv = gw_route_match(
	    r->method, url, strlen(url), r->buf, r->uri_len + 1, &r->m);
	if (r->method == GW_M_OPTIONS) {
		answer(r, 204, gw_resp_preflight());
		return;
	}
	if (r->uri_len > GW_URL_MAX) {
		answer_error(r, LC_EINVALID_QUERY, "URL too long.");
		return;
	}
	switch (r->mrv) {
	case GW_MATCH_OK:
		break;
	case GW_MATCH_BAD_PARAM:
		answer_bad_param(r);
		return;
	case GW_MATCH_NO_METHOD:
		resp = gw_resp_error(g, LC_EMETHOD_NOT_ALLOWED, NULL, NULL);
		(void) MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_ALLOW, r->m.path->allow);
		answer(r, 405, resp);
		return;
	default:
		answer_error(r, LC_ENOT_FOUND, NULL);
		return;
	}
	rt = r->m.route;

	// 2. Maintenance; the admin secret and EXEMPT routes pass.
	r->admin_secret =
	    gw_auth_is_admin(g->auth, hdr(r, MHD_HTTP_HEADER_AUTHORIZATION));
	if (rt->rate != GW_RATE_EXEMPT && !r->admin_secret &&
	    lc_settings_bool("maintenance_mode")) {
		answer_retry(r, LC_EMAINTENANCE, 60);
		return;
	}

	// 3.-6.
	r->body_max = body_limit(g, rt->body);
	r->step     = GW_STEP_CRED;
	if (pre_checks(r) != PRE_CONTINUE) {
		return;
	}
	// 7. A declared length beyond the limit is known now.
	if (r->body_max > 0 &&
	    (v = hdr(r, MHD_HTTP_HEADER_CONTENT_LENGTH)) != NULL) {
		int64_t n;

		if (lc_parse_i64(v, strlen(v), 0, INT64_MAX, &n) != 0) {
			return; // MHD has refused a bad length already
		}
		if ((uint64_t) n > r->body_max) {
			r->body_over = 1;
			answer_too_large(r);
		} else {
			r->body_cap = (size_t) n; // allocate once, exactly
		}
	}
}

// Takes one chunk of body. Returns 0, or -1 to drop the connection (a
// body we discard grew past DRAIN_MAX).
static int
body_chunk(struct gw_req *r, const char *data, size_t n)
{
	r->body_seen += n;
	if (r->pend != NULL || r->answered || r->body_max == 0 ||
	    r->body_over) {
		// Discarded: the answer is known, the route takes no body, or
		// the body is already too large. The answer waits for the
		// final call; an endless body ends the connection instead.
		return (r->body_seen > DRAIN_MAX ? -1 : 0);
	}
	if (n > r->body_max - r->body_len) {
		r->body_over = 1; // 413 on the final call
		lc_free(r->body);
		r->body     = NULL;
		r->body_len = 0;
		return (0);
	}
	if (r->body == NULL || r->body_len + n > r->body_cap) {
		// body_cap may hold the declared Content-Length.
		size_t cap = r->body_cap > 0 ? r->body_cap : BODY_INITIAL;

		while (cap < r->body_len + n) {
			cap *= 2;
		}
		if (cap > r->body_max) {
			cap = r->body_max;
		}
		r->body     = lc_realloc(r->body, cap);
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	return (0);
}

// Content-Type for the route's body kind (step 7, 415).
static int
check_ctype(struct gw_req *r, int kind)
{
	const char *ct = hdr(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *p;
	size_t      len;

	if (kind == GW_BODY_RAW) {
		return (0);
	}
	if (ct == NULL) {
		return (kind == GW_BODY_MULTIPART ? LC_EUNSUPPORTED_MEDIA_TYPE
		                                  : 0);
	}
	ct += strspn(ct, " \t");
	len = strcspn(ct, ";");
	while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t')) {
		len--;
	}
	if (kind != GW_BODY_MULTIPART) {
		return (
		    len == 16 && strncasecmp(ct, "application/json", 16) == 0
		        ? 0
		        : LC_EUNSUPPORTED_MEDIA_TYPE);
	}
	if (len != 19 || strncasecmp(ct, "multipart/form-data", 19) != 0) {
		return (LC_EUNSUPPORTED_MEDIA_TYPE);
	}
	// A non-empty boundary parameter.
	for (p = strchr(ct, ';'); p != NULL; p = strchr(p + 1, ';')) {
		const char *q = p + 1 + strspn(p + 1, " \t");

		if (strncasecmp(q, "boundary=", 9) == 0 && q[9] != '\0' &&
		    q[9] != ';' && q[9] != ' ') {
			return (0);
		}
	}
	return (LC_EUNSUPPORTED_MEDIA_TYPE);
}

// Parses the JSON body (step 7: invalid_json, invalid_body): 0 with *out
// (a new reference), or the error with its message in msg.
static int
parse_body(struct gw_req *r, int kind, json_t **out, char *msg, size_t size)
{
	json_error_t e;
	json_t      *j;

	*out = NULL;
	if (r->body_len == 0) {
		*out = json_object(); // an empty body counts as {}
		return (0);
	}
	// \u0000 is valid JSON (RFC 8259); strings travel with their length.
	j = json_loadb(r->body, r->body_len,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (j == NULL && strncmp(e.text, "too big", 7) == 0) {
		// An integer beyond int64 is a real number (API.md §3.2).
		char  *t;
		size_t tlen;

		if (gw_json_big_ints_real(r->body, r->body_len, &t, &tlen) >
		    0) {
			j = json_loadb(t, tlen,
			    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
			        JSON_ALLOW_NUL,
			    &e);
		}
		lc_free(t);
	}
	if (j == NULL) {
		(void) snprintf(msg, size,
		    "Request body is not valid JSON: %s (at byte %d).", e.text,
		    e.position);
		return (LC_EINVALID_JSON);
	}
	if (!lc_json_depth_ok(j, LC_JSON_BODY_MAX_DEPTH)) {
		json_decref(j);
		(void) snprintf(msg, size,
		    "Request body is nested too deeply (at most %d levels).",
		    LC_JSON_BODY_MAX_DEPTH);
		return (LC_EINVALID_BODY);
	}
	if (!json_is_object(j) &&
	    !(kind == GW_BODY_JSON_BULK && json_is_array(j))) {
		json_decref(j);
		(void) snprintf(msg, size, "%s",
		    kind == GW_BODY_JSON_BULK
		        ? "Request body must be a JSON object or array."
		        : "Request body must be a JSON object.");
		return (LC_EINVALID_BODY);
	}
	*out = j;
	return (0);
}

static json_t *
params_object(const struct gw_match *m)
{
	json_t *o = json_object();
	int     i;

	for (i = 0; i < m->nparams; i++) {
		(void) json_object_setn_new_nocheck(o, m->name[i].ptr,
		    m->name[i].len,
		    json_stringn_nocheck(m->value[i].ptr, m->value[i].len));
	}
	return (o);
}

static void
metrics_start(struct gw_req *r)
{
	static const int svcs[] = { LC_SVC_AUTH, LC_SVC_DATA, LC_SVC_STORAGE,
		LC_SVC_HOOKS, LC_SVC_ADMIN };
	struct lc_req    rq;
	void            *buf = NULL;
	size_t           len = 0;

	req_init(r, &rq, LC_MSG_SVC_METRICS, GW_METRICS_TIMEOUT_MS);
	rq.caller_kind = LC_CALLER_SERVICE;
	rq.caller      = json_pack("{s:s}", "kind", "service");
	rq.params      = json_object();
	rq.query       = json_object();
	if (lc_env_encode_req(&rq, &buf, &len) != 0) {
		lc_req_fini(&rq);
		answer_error(r, LC_EINTERNAL, NULL);
		return;
	}
	lc_req_fini(&rq);
	r->wait = GW_WAIT_METRICS;
	call(
	    r, svcs, (int) LC_NELEM(svcs), 1, buf, len, GW_METRICS_TIMEOUT_MS);
	lc_free(buf);
}

static void
metrics_done(struct gw_req *r)
{
	struct MHD_Response *resp;
	size_t               len  = 0;
	char                *text = gw_metrics_render(r->gw, r->slot, &len);

	resp = MHD_create_response_from_buffer_with_free_callback(
	    len, text, lc_free);
	if (resp == NULL) {
		abort();
	}
	(void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; version=0.0.4; charset=utf-8");
	(void) MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	answer(r, 200, resp);
}

static void
local_route(struct gw_req *r, int msg)
{
	struct MHD_Response *resp;
	const char          *p;
	size_t               len;

	if (msg == LC_MSG_GW_METRICS) {
		metrics_start(r);
		return;
	}
	if (msg == LC_MSG_GW_OPENAPI) {
		p   = r->gw->openapi;
		len = r->gw->openapi_len;
	} else {
		p   = healthz_body;
		len = sizeof(healthz_body) - 1;
	}
	resp = MHD_create_response_from_buffer(
	    len, (void *) (uintptr_t) p, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		abort();
	}
	(void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json; charset=utf-8");
	(void) MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	answer(r, 200, resp);
}

// Step 7 and the dispatch to the route's service.
static void
dispatch(struct gw_req *r)
{
	struct gw             *g     = r->gw;
	const struct gw_route *rt    = r->m.route;
	json_t                *body  = NULL;
	json_t                *query = NULL;
	struct lc_req          rq;
	void                  *buf  = NULL;
	size_t                 len  = 0;
	int                    berr = 0; // a body error left to the service
	char                   bmsg[LC_BODY_ERR_MSG_MAX + 1] = "";
	int                    rv;

	if (rt->body != GW_BODY_NONE) {
		if (r->body_over) {
			answer_too_large(r);
			return;
		}
		if ((berr = check_ctype(r, rt->body)) != 0) {
			bmsg[0] = '\0';
		} else if (rt->body == GW_BODY_JSON ||
		    rt->body == GW_BODY_JSON_BULK) {
			berr =
			    parse_body(r, rt->body, &body, bmsg, sizeof(bmsg));
		}
		// Where the service decides access (RULE), that decision
		// (step 6) comes before the body's errors (step 7): they go
		// to the service with the request (lc_req.body_err).
		if (berr != 0 && rt->access != GW_ACC_RULE) {
			answer_error(r, berr, bmsg[0] != '\0' ? bmsg : NULL);
			return;
		}
	}
	if (rt->svc == LC_SVC_GATEWAY) {
		json_decref(body);
		local_route(r, rt->msg);
		return;
	}
	if (gw_client(g, rt->svc) == NULL ||
	    lc_client_peers(gw_client(g, rt->svc)) == 0) {
		json_decref(body);
		answer_unavailable(r, rt->svc); // fast, without suspending
		return;
	}
	if ((rv = gw_query_build(r->con, &query)) != 0) {
		json_decref(body);
		answer_error(r, rv, NULL);
		return;
	}
	req_init(r, &rq, rt->msg,
	    (lc_msg_flags(rt->msg) & LC_MF_STREAM) ? GW_STREAM_TIMEOUT_MS
	                                           : GW_CALL_TIMEOUT_MS);
	rq.caller_kind = r->caller_kind;
	rq.caller      = json_incref(r->caller);
	rq.params      = params_object(&r->m);
	rq.query       = query;
	rq.body        = body;
	rq.body_err    = berr;
	(void) snprintf(rq.body_err_msg, sizeof(rq.body_err_msg), "%s", bmsg);
	if (rt->body == GW_BODY_MULTIPART || rt->body == GW_BODY_RAW) {
		rq.raw     = r->body; // borrowed until encoded
		rq.raw_len = r->body_len;
	}
	rv     = lc_env_encode_req(&rq, &buf, &len);
	rq.raw = NULL;
	lc_req_fini(&rq);
	lc_free(r->body); // not needed while we wait
	r->body     = NULL;
	r->body_len = 0;
	if (rv != 0) {
		// The codec refuses what JSON allows but msgpack cannot carry
		// (nesting deeper than LC_CODEC_MAX_DEPTH).
		answer_error(
		    r, LC_EINVALID_BODY, "Request body is nested too deeply.");
		return;
	}
	r->wait = GW_WAIT_CALL;
	call(r, &rt->svc, 1, 0, buf, len,
	    (lc_msg_flags(rt->msg) & LC_MF_STREAM) ? GW_STREAM_TIMEOUT_MS
	                                           : GW_CALL_TIMEOUT_MS);
	lc_free(buf);
}

static void
call_done(struct gw_req *r)
{
	struct gw_slot      *s = &r->slot[0];
	struct MHD_Response *resp;
	unsigned             status = 0;
	void                *msg    = s->msg;

	s->msg = NULL;
	if (s->rv != 0 || msg == NULL) {
		lc_client_msg_free(msg);
		answer_unavailable(r, r->m.route->svc);
		return;
	}
	if ((resp = gw_resp_msg(r->gw, msg, &status)) == NULL) {
		lc_log_err("GW-REPLY", "malformed reply from %s to %s",
		    lc_svc_name(r->m.route->svc), r->m.route->op);
		answer_error(r, LC_EINTERNAL, NULL);
		return;
	}
	answer(r, status, resp);
}

// Step 3 asks auth: an API key not in the cache, or a JWT session the
// view cannot vouch for. Fails closed: no auth, no caller (503).
static void
cred_call(struct gw_req *r)
{
	int    session = r->need_session;
	void  *buf     = NULL;
	size_t len     = 0;
	int    rv;

	rv = session ? gw_auth_session_request(r, &buf, &len)
	             : gw_auth_apikey_request(r, &buf, &len);
	if (rv != 0) {
		answer_error(r, LC_EINTERNAL, NULL);
		return;
	}
	if (gw_client(r->gw, LC_SVC_AUTH) == NULL ||
	    lc_client_peers(gw_client(r->gw, LC_SVC_AUTH)) == 0) {
		lc_free(buf);
		answer_unavailable(r, LC_SVC_AUTH);
		return;
	}
	r->wait = session ? GW_WAIT_SESSION : GW_WAIT_APIKEY;
	call(r, (const int[]) { LC_SVC_AUTH }, 1, 0, buf, len,
	    GW_CALL_TIMEOUT_MS);
	lc_free(buf);
}

static void
final_call(struct gw_req *r)
{
	struct gw_slot *s = &r->slot[0];

	if (r->answered) {
		return;
	}
	if (r->pend != NULL) {
		struct MHD_Response *resp = r->pend;

		r->pend = NULL;
		finish(r, r->pend_status, resp);
		return;
	}
	switch (r->wait) {
	case GW_WAIT_APIKEY:
		r->wait = GW_WAIT_NONE;
		gw_auth_apikey_reply(r->gw, r, s->rv, s->msg);
		s->msg  = NULL;
		r->step = GW_STEP_RATE;
		break;
	case GW_WAIT_SESSION:
		r->wait = GW_WAIT_NONE;
		gw_auth_session_reply(r->gw, r, s->rv, s->msg);
		s->msg  = NULL;
		r->step = GW_STEP_RATE;
		break;
	case GW_WAIT_CALL:
		r->wait = GW_WAIT_NONE;
		call_done(r);
		return;
	case GW_WAIT_METRICS:
		r->wait = GW_WAIT_NONE;
		metrics_done(r);
		return;
	default:
		break;
	}
	if (r->step == GW_STEP_CRED && (r->need_apikey || r->need_session)) {
		cred_call(r);
		return;
	}
	if (pre_checks(r) != PRE_CONTINUE) {
		return;
	}
	dispatch(r);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *con, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct gw_req *r = *con_cls;

	LC_UNUSED(version);
	if (r == NULL) { // no URI callback ran: be safe anyway
		r        = req_new(cls, con, strlen(url));
		*con_cls = r;
	}
	r->con = con;
	if (r->ncalls++ == 0) {
		first_call(r, url, method);
	} else if (*upload_data_size > 0) {
		if (body_chunk(r, upload_data, *upload_data_size) != 0) {
			lc_log_warn("GW-BODY", "body over %d bytes dropped",
			    DRAIN_MAX);
			return (MHD_NO); // MHD closes the connection
		}
		*upload_data_size = 0;
	} else {
		final_call(r);
	}
	return (MHD_YES);
}

/* ---- start and stop ---- */

static struct MHD_Daemon *
start(struct gw *g, unsigned extra_flags)
{
	struct MHD_OptionItem pool[] = {
		{ MHD_OPTION_THREAD_POOL_SIZE, g->threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	// A pool of 1 logs a warning: leave the option out instead.
	return (MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD |
	        MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | extra_flags,
	    (uint16_t) g->cfg.port, NULL, NULL, on_request, g,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *) NULL,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned) CONN_LIMIT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONN_MEMORY,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) CONN_TIMEOUT_S,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned) 1024,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, g,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, (void *) NULL,
	    MHD_OPTION_ARRAY, g->threads > 1 ? pool : &pool[1],
	    MHD_OPTION_END));
}

int
gw_http_start(struct gw *g)
{
	// IPv6 and IPv4 on one socket; IPv4 alone where IPv6 is off.
	if ((g->mhd = start(g, MHD_USE_DUAL_STACK)) == NULL &&
	    (g->mhd = start(g, 0)) == NULL) {
		lc_log_err(
		    "GW-LISTEN", "cannot listen on port %d", g->cfg.port);
		return (LC_EUNAVAILABLE);
	}
	return (0);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	(void) nanosleep(&ts, NULL);
}

void
gw_http_stop(struct gw *g, int ms)
{
	MHD_socket fd;
	int64_t    deadline;

	if (g->mhd == NULL) {
		return;
	}
	// Stop accepting; answers now carry Connection: close.
	atomic_store(&g->stopping, 1);
	fd = MHD_quiesce_daemon(g->mhd);
	if (fd != MHD_INVALID_SOCKET) {
		(void) close(fd);
	}
	deadline = lc_mono_ms() + ms;
	while (atomic_load(&g->pending) > 0 && lc_mono_ms() < deadline) {
		sleep_ms(10);
	}
	// No new suspensions from now on; the ones left end by their bus
	// deadline (the call's callback resumes them).
	atomic_store(&g->stopping, 2);
	deadline = lc_mono_ms() + GW_CALL_TIMEOUT_MS + 1000;
	while (atomic_load(&g->suspended) > 0 && lc_mono_ms() < deadline) {
		sleep_ms(10);
	}
	if (atomic_load(&g->suspended) > 0) {
		// MHD_stop_daemon would abort with suspended connections.
		lc_log_err("GW-STOP",
		    "%d requests still on the bus; not "
		    "stopping the HTTP daemon",
		    atomic_load(&g->suspended));
		return;
	}
	MHD_stop_daemon(g->mhd);
	g->mhd = NULL;
}
