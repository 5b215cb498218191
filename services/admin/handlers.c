/*
 * handlers.c -- one function per admin op (API.md §5.8, §5.9), and the op
 * table adm_ops[].
 *
 * Settings writes (patch, import) follow one path, settings_write: validate
 * the whole patch first (nothing is applied on any error), then under the
 * write lock apply it to the installed settings, store the result and its
 * audit rows in one transaction, install it locally, publish
 * settings.changed and wait for every process to confirm through the admin
 * survey. Only then does the handler reply, so the change is in effect for
 * every request that reaches the gateway after the 200.
 *
 * system.backup and svc.backup are not registered yet (the issue allows
 * them later): they answer 404 not_found like any unknown op.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_mail.h"
#include "lc_service.h"
#include "lc_settings.h"

// Longest wait for a test e-mail (the gateway gives up after 10 s).
#define ADM_TEST_EMAIL_TIMEOUT_MS 8000

const struct lc_op adm_ops[] = {
	{ LC_MSG_SETTINGS_GET, adm_h_settings_get },
	{ LC_MSG_SETTINGS_PATCH, adm_h_settings_patch },
	{ LC_MSG_SETTINGS_AUDIT, adm_h_settings_audit },
	{ LC_MSG_SETTINGS_EXPORT, adm_h_settings_export },
	{ LC_MSG_SETTINGS_IMPORT, adm_h_settings_import },
	{ LC_MSG_SETTINGS_TEST_EMAIL, adm_h_settings_test_email },
	{ LC_MSG_SETTINGS_SNAPSHOT, adm_h_settings_snapshot },
	{ LC_MSG_SYSTEM_HEALTH, adm_h_system_health },
	{ LC_MSG_SYSTEM_STATS, adm_h_system_stats },
	{ LC_MSG_SYSTEM_RESTART, adm_h_system_restart },
};
const size_t adm_nops = LC_NELEM(adm_ops);

struct adm_state *
adm__state(struct lc_worker *w)
{
	return (w->svc != NULL ? w->svc->user : NULL);
}

// Sets an error reply and returns its code (the server keeps our reply
// because its status is set).
static int
fail(struct lc_rep *rp, int err, const char *msg, const char *field)
{
	lc_rep_error(rp, err, msg, field);
	return (err);
}

// The state and this worker's database, or a 503 while the service is
// still starting (no state yet).
static int
ready(struct lc_worker *w, struct lc_rep *rp)
{
	if (adm__state(w) == NULL || w->user == NULL) {
		return (fail(rp, LC_EUNAVAILABLE,
		    "Service 'admin' is starting.", NULL));
	}
	return (0);
}

/* ---- settings ---- */

// The masked settings (a new object), copied from the cache when the
// installed version has not moved. Versions only grow and each names one
// content (every stored change bumps it), so the version is the cache key.
static json_t *
masked_current(struct adm_state *st)
{
	int64_t version;
	json_t *cur;
	json_t *m;

	if (st != NULL) {
		pthread_mutex_lock(&st->cache_mu);
		if (st->masked != NULL &&
		    st->masked_version == lc_settings_version()) {
			m = json_deep_copy(st->masked);
			pthread_mutex_unlock(&st->cache_mu);
			return (m);
		}
		pthread_mutex_unlock(&st->cache_mu);
	}
	cur = lc_settings_current(&version);
	m   = lc_settings_mask(cur);
	json_decref(cur);
	if (st != NULL) {
		pthread_mutex_lock(&st->cache_mu);
		if (st->masked == NULL || version > st->masked_version) {
			json_decref(st->masked);
			st->masked         = json_deep_copy(m); // not shared
			st->masked_version = version;
		}
		pthread_mutex_unlock(&st->cache_mu);
	}
	return (m);
}

void
adm__cache_fini(struct adm_state *st)
{
	json_decref(st->masked);
	st->masked = NULL;
}

int
adm_h_settings_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(rq);
	lc_rep_json(rp, 200, masked_current(adm__state(w)));
	return (0);
}

int
adm_h_settings_snapshot(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	int64_t version;
	json_t *cur;

	LC_UNUSED(w);
	LC_UNUSED(rq);
	// Bus-internal: followers need the secrets (auth sends mail with
	// them), so this answer is not masked. No HTTP route leads here.
	cur = lc_settings_current(&version);
	lc_rep_json(rp, 200,
	    json_pack("{s:I,s:o}", "version", (json_int_t) version, "settings",
	        cur));
	return (0);
}

// Tells every other process about a stored change and waits for their
// confirmation. Failures are logged, not returned: the change is stored
// and installed here, and followers that missed it resync from the
// snapshot (lc_settings.h), so the caller still gets its 200.
static void
propagate(struct lc_worker *w, const struct lc_req *rq, int64_t version,
    json_t *settings)
{
	struct adm_state *st      = adm__state(w);
	json_t           *payload = json_pack("{s:I,s:O}", "version",
	              (json_int_t) version, "settings", settings);
	json_t           *answers = NULL;
	size_t            i;
	json_t           *a;
	int               rv;

	if (w->svc != NULL && w->svc->pub != NULL) {
		(void) lc_pub_send(
		    w->svc->pub, LC_TOPIC_SETTINGS_CHANGED, payload);
	}
	if (st->survey == NULL) {
		goto out; // unit tests: nobody to confirm
	}
	rv = adm__survey(st->survey, LC_MSG_SVC_SETTINGS, payload, rq->rid,
	    ADM_CONFIRM_TIMEOUT_MS, &answers);
	if (rv != 0) {
		lc_log_warn("ADM-SETTINGS-CONFIRM",
		    "survey failed (%s); followers will resync",
		    lc_err_code(rv));
		goto out;
	}
	json_array_foreach(answers, i, a)
	{
		json_t *v = json_object_get(a, "version");

		if (!json_is_integer(v) || json_integer_value(v) < version) {
			lc_log_warn("ADM-SETTINGS-CONFIRM",
			    "%s confirmed version %lld < %lld",
			    json_string_value(json_object_get(a, "service")),
			    (long long) json_integer_value(v),
			    (long long) version);
		}
	}
	lc_log_info("ADM-SETTINGS-CONFIRM",
	    "version %lld confirmed by %zu of %d processes",
	    (long long) version, json_array_size(answers),
	    lc_survey_peers(st->survey));
out:
	json_decref(answers);
	json_decref(payload);
}

// The common path of PATCH and import. patch must be an object. On
// success *out_settings (new reference, unmasked) is the installed result
// and *out_changed the number of keys whose value changed.
static int
settings_write(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp,
    const json_t *patch, int import, size_t *out_changed,
    json_t **out_settings)
{
	struct adm_state *st      = adm__state(w);
	json_t           *cur     = NULL;
	json_t           *next    = NULL;
	json_t           *changes = NULL;
	char              field[128];
	char              msg[256];
	int64_t           version;
	size_t            i;
	json_t           *ch;
	int               rv;

	field[0] = '\0';
	msg[0]   = '\0';
	// Validate everything before touching anything: one bad key means
	// nothing is applied (API.md §5.8).
	if ((rv = lc_settings_validate(
	         patch, field, sizeof(field), msg, sizeof(msg))) != 0) {
		return (fail(rp, rv, msg[0] != '\0' ? msg : NULL,
		    field[0] != '\0' ? field : NULL));
	}

	pthread_mutex_lock(&st->wlock);
	cur = lc_settings_current(&version);
	lc_settings_apply(cur, patch, &next, &changes);
	if (json_array_size(changes) == 0) {
		goto done; // {} or nothing actually different
	}
	// A null in a PATCH is a reset; an import is an import whatever its
	// values (its nulls mean "unset" in the exported document).
	json_array_foreach(changes, i, ch)
	{
		const char *src = import                         ? "import"
		    : json_is_true(json_object_get(ch, "reset")) ? "reset"
		                                                 : "patch";

		json_object_set_new(ch, "source", json_string(src));
	}
	if ((rv = adm_store_save(w->user, next, changes, rq->rid, &version)) !=
	    0) {
		goto done;
	}
	if (w->svc != NULL && w->svc->metrics != NULL) {
		lc_metrics_add(w->svc->metrics, ADM_METRIC_SETTINGS_CHANGES,
		    "", (double) json_array_size(changes));
	}
	lc_log_info("ADM-SETTINGS-CHANGED", "version %lld: %zu key(s) (%s)",
	    (long long) version, json_array_size(changes),
	    import ? "import" : "patch");
	// lc_settings_install copies the object; we keep our reference.
	lc_settings_install(next, version);
	propagate(w, rq, version, next);
done:
	pthread_mutex_unlock(&st->wlock);
	if (rv == 0) {
		*out_changed  = json_array_size(changes);
		*out_settings = next;
		next          = NULL;
	}
	json_decref(cur);
	json_decref(next);
	json_decref(changes);
	return (rv);
}

int
adm_h_settings_patch(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	json_t *settings = NULL;
	size_t  changed;
	int     rv;

	if ((rv = ready(w, rp)) != 0) {
		return (rv);
	}
	if (!json_is_object(rq->body)) {
		return (fail(rp, LC_EINVALID_BODY,
		    "Request body must be a JSON object.", NULL));
	}
	if ((rv = settings_write(
	         w, rq, rp, rq->body, 0, &changed, &settings)) != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200, lc_settings_mask(settings));
	json_decref(settings);
	return (0);
}

int
adm_h_settings_import(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t *patch = rq->body;
	const json_t *inner;
	json_t       *settings = NULL;
	size_t        changed;
	int           rv;

	if ((rv = ready(w, rp)) != 0) {
		return (rv);
	}
	if (!json_is_object(patch)) {
		return (fail(rp, LC_EINVALID_BODY,
		    "Request body must be a JSON object.", NULL));
	}
	// An export document carries the keys under "settings"; anything
	// else is a flat object of keys.
	inner = json_object_get(patch, "settings");
	if (json_is_object(inner)) {
		patch = inner;
	}
	if ((rv = settings_write(w, rq, rp, patch, 1, &changed, &settings)) !=
	    0) {
		return (rv);
	}
	lc_rep_json(rp, 200,
	    json_pack("{s:I,s:o}", "changed", (json_int_t) changed, "settings",
	        lc_settings_mask(settings)));
	json_decref(settings);
	return (0);
}

int
adm_h_settings_export(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	int64_t version;
	json_t *cur;

	LC_UNUSED(w);
	LC_UNUSED(rq);
	cur = lc_settings_current(&version);
	lc_rep_json(rp, 200,
	    json_pack("{s:i,s:I,s:o}", "version", 1, "exported_at",
	        (json_int_t) lc_now_ms(), "settings", lc_settings_mask(cur)));
	lc_rep_header(rp, "Content-Disposition",
	    "attachment; filename=\"busbase-settings.json\"");
	json_decref(cur);
	return (0);
}

// Reads an integer query parameter: a decimal string (the gateway passes
// the query string as strings) or an integer (busbasectl --query). Below
// min -> LC_EINVALID_QUERY; above max it is clamped (API.md §1.7, §1.13).
static int
query_int(const struct lc_req *rq, const char *name, int64_t def, int64_t min,
    int64_t max, int64_t *out)
{
	const json_t *v = json_object_get(rq->query, name);
	int64_t       n;

	if (v == NULL) {
		*out = def;
		return (0);
	}
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (!json_is_string(v) ||
	    lc_parse_i64(json_string_value(v), json_string_length(v),
	        INT64_MIN, INT64_MAX, &n) != 0) {
		return (LC_EINVALID_QUERY);
	}
	if (n < min) {
		return (LC_EINVALID_QUERY);
	}
	*out = n > max ? max : n;
	return (0);
}

int
adm_h_settings_audit(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t *keyv  = json_object_get(rq->query, "key");
	const char   *key   = NULL;
	json_t       *items = NULL;
	int64_t       limit;
	int64_t       offset;
	int64_t       total;
	int           rv;

	if ((rv = ready(w, rp)) != 0) {
		return (rv);
	}
	if (query_int(rq, "limit", ADM_AUDIT_LIMIT_DEF, 1, ADM_AUDIT_LIMIT_MAX,
	        &limit) != 0) {
		return (fail(rp, LC_EINVALID_QUERY,
		    "limit must be an integer of at least 1.", "limit"));
	}
	if (query_int(rq, "offset", 0, 0, INT64_MAX, &offset) != 0) {
		return (fail(rp, LC_EINVALID_QUERY,
		    "offset must be an integer of at least 0.", "offset"));
	}
	if (keyv != NULL) {
		// An empty key= means no filter; a non-string is a bad query.
		if (!json_is_string(keyv)) {
			return (fail(rp, LC_EINVALID_QUERY,
			    "key must be a string.", "key"));
		}
		if (json_string_length(keyv) > 0) {
			key = json_string_value(keyv);
		}
	}
	if ((rv = adm_store_audit_list(
	         w->user, key, limit, offset, &items, &total)) != 0) {
		return (rv);
	}
	lc_rep_json(rp, 200,
	    json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total",
	        (json_int_t) total, "limit", (json_int_t) limit, "offset",
	        (json_int_t) offset));
	return (0);
}

/* ---- test e-mail ---- */

int
adm__email_valid(const char *s, size_t len)
{
	size_t at = len;
	size_t i;

	if (len == 0 || len > 254) {
		return (0);
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];

		// Whitespace and control characters (ASCII; bytes >= 0x80 are
		// UTF-8 and allowed).
		if (c <= 0x20 || c == 0x7f) {
			return (0);
		}
		if (c == '@') {
			if (at != len) {
				return (0); // a second '@'
			}
			at = i;
		}
	}
	if (at == len || at == 0 || at + 1 >= len) {
		return (0);
	}
	// The domain contains a '.' but neither starts nor ends with one.
	if (s[at + 1] == '.' || s[len - 1] == '.' ||
	    memchr(s + at + 1, '.', len - at - 1) == NULL) {
		return (0);
	}
	return (1);
}

// Trims surrounding ASCII whitespace and lowercases into buf (API.md §2.5).
// Returns the length, or -1 when it does not fit.
static long
email_normalize(const char *s, size_t len, char *buf, size_t cap)
{
	size_t i;

	while (len > 0 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))) {
		s++;
		len--;
	}
	while (len > 0 &&
	    (s[len - 1] == ' ' ||
	        (s[len - 1] >= '\t' && s[len - 1] <= '\r'))) {
		len--;
	}
	if (len >= cap) {
		return (-1);
	}
	for (i = 0; i < len; i++) {
		char c = s[i];

		buf[i] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
	}
	buf[len] = '\0';
	return ((long) len);
}

// The test e-mail (API.md §5.8): sent through lc_mail with the current
// settings, synchronously, so the answer reports the provider's verdict.
// The transfer must end before the gateway stops waiting (10 s): its
// timeout is what is left of the request's deadline, less a margin.
static int
test_email_timeout(const struct lc_req *rq)
{
	int64_t left;

	if (rq->deadline <= 0) {
		return (ADM_TEST_EMAIL_TIMEOUT_MS);
	}
	left = rq->deadline - lc_now_ms() - 500;
	if (left > ADM_TEST_EMAIL_TIMEOUT_MS) {
		return (ADM_TEST_EMAIL_TIMEOUT_MS);
	}
	return (left < 1000 ? 1000 : (int) left);
}

int
adm_h_settings_test_email(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	const json_t      *tov = json_object_get(rq->body, "to");
	struct lc_mail_cfg c;
	struct lc_mail     m = { 0 };
	char               to[256];
	char               app[LC_SETTING_STR_MAX + 1];
	char               subject[LC_SETTING_STR_MAX + 32];
	char               text[LC_SETTING_STR_MAX + 128];
	char               err[LC_MAIL_ERR_MAX];
	long               n;
	int                rv;

	LC_UNUSED(w);
	if (!json_is_object(rq->body)) {
		return (fail(rp, LC_EINVALID_BODY,
		    "Request body must be a JSON object.", NULL));
	}
	if (!json_is_string(tov) ||
	    (n = email_normalize(json_string_value(tov),
	         json_string_length(tov), to, sizeof(to))) < 0 ||
	    !adm__email_valid(to, (size_t) n)) {
		return (fail(rp, LC_EVALIDATION,
		    "A valid e-mail address is required.", "to"));
	}
	if (lc_settings_str("app_name", app, sizeof(app)) != 0 ||
	    app[0] == '\0') {
		snprintf(app, sizeof(app), "BusBase");
	}
	snprintf(subject, sizeof(subject), "%s: test email", app);
	snprintf(text, sizeof(text),
	    "This is a test email from %s.\n\nIf you can read it, e-mail "
	    "delivery works.\n",
	    app);
	lc_mail_cfg_init(&c);
	lc_mail_cfg_load(&c);
	c.timeout_ms = test_email_timeout(rq);
	m.service    = "admin";
	m.kind       = "test";
	m.to         = to;
	m.subject    = subject;
	m.text       = text;
	if ((rv = lc_mail_send(&c, &m, err, sizeof(err))) != 0) {
		if (rv != LC_EEMAIL_NOT_CONFIGURED) {
			rv = LC_EEMAIL_FAILED;
			lc_log_warn("ADM-EMAIL-FAILED", "test mail via %s: %s",
			    c.provider, err);
		}
		lc_mail_cfg_fini(&c);
		return (fail(rp, rv, err[0] != '\0' ? err : NULL, NULL));
	}
	lc_rep_json(
	    rp, 200, json_pack("{s:b,s:s}", "ok", 1, "provider", c.provider));
	lc_mail_cfg_fini(&c);
	return (0);
}

/* ---- system ---- */

// "ok"/"down" entry of one probed service in /admin/health.
static json_t *
health_entry(const struct adm_probe *p)
{
	if (p->rv == 0 && p->rep.status == 200) {
		return (json_pack("{s:s,s:I}", "status", "ok", "latency_ms",
		    (json_int_t) p->latency_ms));
	}
	// API.md §5.9 names "timeout" for a service that does not reply; a
	// refused connection (no peer) is the same thing seen sooner.
	return (json_pack("{s:s,s:n,s:s}", "status", "down", "latency_ms",
	    "error", "timeout"));
}

int
adm_h_system_health(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct adm_state *st = adm__state(w);
	struct adm_call   calls[LC_SVC_COUNT];
	json_t           *services;
	int               down = 0;
	int               svc;
	int               rv;

	if ((rv = ready(w, rp)) != 0) {
		return (rv);
	}
	memset(calls, 0, sizeof(calls));
	for (svc = LC_SVC_AUTH; svc <= LC_SVC_HOOKS; svc++) {
		calls[svc].svc = svc;
		calls[svc].cl  = st->cl[svc];
		calls[svc].msg = LC_MSG_SVC_HEALTH;
	}
	adm__gather(calls + LC_SVC_AUTH, LC_SVC_HOOKS - LC_SVC_AUTH + 1,
	    rq->rid, ADM_PROBE_TIMEOUT_MS);

	// In the order of API.md: gateway, auth, data, storage, hooks, admin.
	services = json_object();
	// The request came through a gateway (or busbasectl): that gateway
	// is up, and no bus round trip measures it.
	json_object_set_new(services, "gateway",
	    json_pack("{s:s,s:i}", "status", "ok", "latency_ms", 0));
	for (svc = LC_SVC_AUTH; svc <= LC_SVC_HOOKS; svc++) {
		json_t *e = health_entry(&calls[svc].probe);

		if (strcmp(json_string_value(json_object_get(e, "status")),
		        "ok") != 0) {
			down = 1;
		}
		json_object_set_new(services, lc_svc_name(svc), e);
	}
	// Until every running process has joined admin's survey, a settings
	// change could not be confirmed everywhere: not ready yet. Expected:
	// each live service plus at least one gateway.
	if (!down && st->survey != NULL &&
	    lc_survey_peers(st->survey) < LC_SVC_HOOKS - LC_SVC_AUTH + 2) {
		down = 1;
		json_object_set_new(services, "gateway",
		    json_pack("{s:s,s:i,s:s}", "status", "starting",
		        "latency_ms", 0, "error", "not connected"));
	}
	// Admin answers for itself: it is running this handler.
	json_object_set_new(services, "admin",
	    json_pack("{s:s,s:i}", "status", "ok", "latency_ms", 0));
	adm__calls_fini(calls + LC_SVC_AUTH, LC_SVC_HOOKS - LC_SVC_AUTH + 1);

	lc_rep_json(rp, down ? 503 : 200,
	    json_pack("{s:s,s:s,s:I,s:o}", "status", down ? "degraded" : "ok",
	        "version", LC_VERSION, "time", (json_int_t) lc_now_ms(),
	        "services", services));
	return (0);
}

// Copies an integer count from a svc.stats body, or null.
static void
stat_copy(json_t *out, const char *key, const struct adm_probe *p)
{
	const json_t *v = NULL;

	if (p->rv == 0 && p->rep.status == 200) {
		v = json_object_get(p->rep.body, key);
	}
	json_object_set_new(out, key,
	    json_is_integer(v) ? json_integer(json_integer_value(v))
	                       : json_null());
}

// {"status":"ok","uptime_s","requests"} from a svc.info body, or down.
static json_t *
info_entry(const json_t *info)
{
	const json_t *up  = json_object_get(info, "uptime_s");
	const json_t *req = json_object_get(info, "requests");

	if (!json_is_integer(up) || !json_is_integer(req)) {
		return (json_pack("{s:s,s:n,s:n}", "status", "down",
		    "uptime_s", "requests"));
	}
	return (json_pack("{s:s,s:I,s:I}", "status", "ok", "uptime_s",
	    (json_int_t) json_integer_value(up), "requests",
	    (json_int_t) json_integer_value(req)));
}

// The gateway's svc.info among the survey answers: the one with the
// largest uptime when several gateways run. Borrowed, or NULL.
static const json_t *
gateway_info(const json_t *answers)
{
	const json_t *best = NULL;
	size_t        i;
	json_t       *a;

	json_array_foreach(answers, i, a)
	{
		const char *name =
		    json_string_value(json_object_get(a, "service"));

		if (name == NULL || strcmp(name, "gateway") != 0 ||
		    !json_is_integer(json_object_get(a, "uptime_s"))) {
			continue;
		}
		if (best == NULL ||
		    json_integer_value(json_object_get(a, "uptime_s")) >
		        json_integer_value(
		            json_object_get(best, "uptime_s"))) {
			best = a;
		}
	}
	return (best);
}

int
adm_h_system_stats(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct adm_state  *st = adm__state(w);
	struct adm_call    calls[7]; // stats: auth data storage; info: 4
	struct adm_call   *stat = calls;
	struct adm_call   *info = calls + 3;
	struct adm_gather *g;
	json_t            *answers = NULL;
	json_t            *out;
	json_t            *services;
	const json_t      *gw;
	json_t            *body = json_object();
	int                svc;
	int                rv;

	if ((rv = ready(w, rp)) != 0) {
		json_decref(body);
		return (rv);
	}
	memset(calls, 0, sizeof(calls));
	for (svc = LC_SVC_AUTH; svc <= LC_SVC_STORAGE; svc++) {
		stat[svc - LC_SVC_AUTH] = (struct adm_call) {
			.svc = svc, .cl = st->cl[svc], .msg = LC_MSG_SVC_STATS
		};
	}
	for (svc = LC_SVC_AUTH; svc <= LC_SVC_HOOKS; svc++) {
		info[svc - LC_SVC_AUTH] = (struct adm_call) {
			.svc = svc, .cl = st->cl[svc], .msg = LC_MSG_SVC_INFO
		};
	}
	// The seven requests and the survey (for the gateways) run at once.
	g = adm__gather_start(
	    calls, LC_NELEM(calls), rq->rid, ADM_PROBE_TIMEOUT_MS);
	if (st->survey != NULL &&
	    adm__survey(st->survey, LC_MSG_SVC_INFO, body, rq->rid,
	        ADM_PROBE_TIMEOUT_MS, &answers) != 0) {
		answers = NULL;
	}
	adm__gather_wait(g);
	gw = gateway_info(answers);

	out = json_object();
	stat_copy(out, "users", &stat[0].probe);
	stat_copy(out, "sessions", &stat[0].probe);
	stat_copy(out, "api_keys", &stat[0].probe);
	stat_copy(out, "collections", &stat[1].probe);
	stat_copy(out, "records", &stat[1].probe);
	stat_copy(out, "files", &stat[2].probe);
	stat_copy(out, "storage_bytes", &stat[2].probe);
	json_object_set_new(out, "uptime_s",
	    gw != NULL ? json_integer(json_integer_value(
	                     json_object_get(gw, "uptime_s")))
	               : json_null());

	services = json_object();
	json_object_set_new(services, "gateway", info_entry(gw));
	for (svc = LC_SVC_AUTH; svc <= LC_SVC_HOOKS; svc++) {
		const struct adm_probe *p = &info[svc - LC_SVC_AUTH].probe;

		json_object_set_new(services, lc_svc_name(svc),
		    info_entry(p->rv == 0 && p->rep.status == 200 ? p->rep.body
		                                                  : NULL));
	}
	// Admin itself, from its own counters.
	json_object_set_new(services, "admin",
	    json_pack("{s:s,s:I,s:I}", "status", "ok", "uptime_s",
	        (json_int_t) ((lc_now_ms() - w->svc->started_ms) / 1000),
	        "requests", (json_int_t) lc_service_requests(w->svc)));
	json_object_set_new(out, "services", services);

	adm__calls_fini(calls, LC_NELEM(calls));
	json_decref(answers);
	json_decref(body);
	lc_rep_json(rp, 200, out);
	return (0);
}

// What the detached restart thread needs once the 202 has gone out.
struct restart_job {
	struct lc_service *svc;
	struct adm_state  *st;
	struct lc_survey  *survey;
	json_t            *body; // {"services":[...]}
	int                self; // admin is targeted
	char               rid[LC_RID_MAX + 1];
};

static void *
restart_main(void *arg)
{
	struct restart_job *job     = arg;
	struct timespec     ts      = { 0, 100 * 1000 * 1000 };
	json_t             *answers = NULL;
	int                 rv;

	lc_log_set_rid(job->rid);
	// Let the worker send the 202 before any process starts draining.
	nanosleep(&ts, NULL);
	if (job->survey != NULL) {
		rv = adm__survey(job->survey, LC_MSG_SYSTEM_RESTART, job->body,
		    job->rid, ADM_RESTART_SURVEY_MS, &answers);
		if (rv != 0) {
			lc_log_warn("ADM-RESTART", "survey failed: %s",
			    lc_err_code(rv));
		} else {
			lc_log_info("ADM-RESTART", "%zu process(es) answered",
			    json_array_size(answers));
		}
		json_decref(answers);
	}
	if (job->self) {
		lc_service_restart_soon(job->svc);
	}
	atomic_fetch_sub(&job->st->restart_jobs, 1);
	json_decref(job->body);
	lc_free(job);
	return (NULL);
}

int
adm_h_system_restart(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct adm_state   *st     = adm__state(w);
	const json_t       *q      = json_object_get(rq->query, "service");
	int                 target = -1;
	json_t             *list   = json_array();
	struct restart_job *job;
	pthread_attr_t      attr;
	pthread_t           tid;
	int                 svc;
	int                 rv;

	if ((rv = ready(w, rp)) != 0) {
		json_decref(list);
		return (rv);
	}
	if (q != NULL &&
	    (!json_is_string(q) ||
	        (target = lc_svc_find(
	             json_string_value(q), json_string_length(q))) < 0)) {
		json_decref(list);
		return (fail(rp, LC_EVALIDATION,
		    "service must be one of gateway, auth, data, storage, "
		    "hooks, admin.",
		    "service"));
	}
	for (svc = 0; svc < LC_SVC_COUNT; svc++) {
		if (target < 0 || target == svc) {
			json_array_append_new(
			    list, json_string(lc_svc_name(svc)));
		}
	}
	lc_rep_json(
	    rp, 202, json_pack("{s:b,s:O}", "ok", 1, "services", list));
	lc_log_info("ADM-RESTART", "restart requested: %s",
	    target < 0 ? "all" : lc_svc_name(target));

	job         = lc_calloc(1, sizeof(*job));
	job->svc    = w->svc;
	job->st     = st;
	job->survey = st->survey;
	job->body   = json_pack("{s:o}", "services", list); // takes list
	job->self   = target < 0 || target == LC_SVC_ADMIN;
	snprintf(job->rid, sizeof(job->rid), "%s", rq->rid);
	if (job->survey == NULL && (!job->self || w->svc->def == NULL)) {
		// Nothing to tell and no process of ours to restart (tests).
		json_decref(job->body);
		lc_free(job);
		return (0);
	}
	atomic_fetch_add(&st->restart_jobs, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, restart_main, job) != 0) {
		lc_log_err("ADM-RESTART", "cannot start the restart thread");
		atomic_fetch_sub(&st->restart_jobs, 1);
		json_decref(job->body);
		lc_free(job);
	}
	pthread_attr_destroy(&attr);
	return (0);
}
