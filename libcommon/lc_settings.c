/*
 * lc_settings.c -- the settings table (validation, apply, mask) and the
 * per-process follower (snapshot + stream + survey). See lc_settings.h and
 * API.md §5.8; the propagation protocol is in team PLAN.md.
 */
#include "lc_settings.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lc_bus.h"
#include "lc_cfg.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"
#include "lc_msg.h"

#define SNAPSHOT_TIMEOUT_MS 2000
#define FOLLOW_MAX_INFLIGHT 4

const struct lc_setting_def lc_settings_table[] = {
#define LC_SETTING(key, type, def, min, max, allowed, flags) \
	{ #key, LC_ST_##type, def, min, max, allowed, flags },
#include "settings.def"
#undef LC_SETTING
};
const size_t lc_settings_count = LC_NELEM(lc_settings_table);

const struct lc_setting_def *
lc_settings_def_find(const char *key)
{
	for (size_t i = 0; i < lc_settings_count; i++) {
		if (strcmp(lc_settings_table[i].key, key) == 0) {
			return (&lc_settings_table[i]);
		}
	}
	return (NULL);
}

/* ---- defaults ---- */

// Parsed once from the def_json literals; never modified afterwards
// (owner: this file; only deep copies leave it).
static json_t        *defaults_obj;
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void
defaults_build(void)
{
	defaults_obj = json_object();
	for (size_t i = 0; i < lc_settings_count; i++) {
		const struct lc_setting_def *d = &lc_settings_table[i];
		json_error_t                 err;
		json_t                      *v;

		if ((v = json_loads(d->def_json, JSON_DECODE_ANY, &err)) ==
		    NULL) {
			// A typo in settings.def: a programmer error.
			lc_log_err("SETTINGS-DEF", "default of %s: %s", d->key,
			    err.text);
			v = json_null();
		}
		json_object_set_new(defaults_obj, d->key, v);
	}
}

static const json_t *
defaults_get(void)
{
	pthread_once(&defaults_once, defaults_build);
	return (defaults_obj);
}

json_t *
lc_settings_defaults(void)
{
	return (json_deep_copy(defaults_get()));
}

/* ---- validation ---- */

// jansson's iterators take a non-const object even to read it.
static json_t *
unconst(const json_t *j)
{
	union {
		const json_t *c;
		json_t       *m;
	} u = { .c = j };

	return (u.m);
}

// Unicode code points in a valid UTF-8 string (jansson guarantees UTF-8).
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (((unsigned char) s[i] & 0xC0) != 0x80) {
			n++;
		}
	}
	return (n);
}

static int
has_space_or_ctl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c <= 0x20 || c == 0x7f) {
			return (1);
		}
	}
	return (0);
}

static int
is_digit(char c)
{
	return (c >= '0' && c <= '9');
}

static int
is_alnum(char c)
{
	return (
	    is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

// ":<port>" with 1-5 digits, 1..65535; s points at the ':'.
static int
port_ok(const char *s, size_t len)
{
	long v = 0;

	if (len < 2 || len > 6 || s[0] != ':') {
		return (0);
	}
	for (size_t i = 1; i < len; i++) {
		if (!is_digit(s[i])) {
			return (0);
		}
		v = v * 10 + (s[i] - '0');
	}
	return (v >= 1 && v <= 65535);
}

// An absolute http:// or https:// URL with a host (reg-name, IPv4 or
// [IPv6]) and an optional port; no whitespace or control characters.
static int
url_ok(const char *s, size_t len)
{
	const char *auth;
	const char *end;
	const char *host;
	const char *p;
	size_t      skip;

	if (has_space_or_ctl(s, len)) {
		return (0);
	}
	if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
		skip = 7;
	} else if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
		skip = 8;
	} else {
		return (0);
	}
	auth = s + skip;
	end  = auth;
	while (end < s + len && *end != '/' && *end != '?' && *end != '#') {
		end++;
	}
	host = auth;
	for (p = auth; p < end; p++) { // skip "user:pass@"
		if (*p == '@') {
			host = p + 1;
		}
	}
	if (host >= end) {
		return (0);
	}
	if (*host == '[') {
		for (p = host + 1; p < end && *p != ']'; p++) {
			if (!is_alnum(*p) && *p != ':' && *p != '.') {
				return (0);
			}
		}
		if (p >= end || p == host + 1) {
			return (0);
		}
		p++; // past ']'
		return (p == end || port_ok(p, (size_t) (end - p)));
	}
	for (p = host; p < end && *p != ':'; p++) {
		unsigned char c = (unsigned char) *p;

		if (!is_alnum(*p) && *p != '-' && *p != '.' && *p != '_' &&
		    *p != '~' && *p != '%' && c < 0x80) {
			return (0);
		}
	}
	if (p == host) {
		return (0);
	}
	return (p == end || port_ok(p, (size_t) (end - p)));
}

// A plausible e-mail address: one '@', non-empty local part, a domain
// with a dot that is neither its first nor last character (and no empty
// label), no whitespace, control characters or angle brackets.
static int
email_ok(const char *s, size_t len)
{
	const char *at = NULL;
	const char *dom;
	size_t      dlen;
	int         dot = 0;

	if (len == 0 || has_space_or_ctl(s, len)) {
		return (0);
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '<' || s[i] == '>') {
			return (0);
		}
		if (s[i] == '@') {
			if (at != NULL) {
				return (0);
			}
			at = s + i;
		}
	}
	if (at == NULL || at == s) {
		return (0);
	}
	dom  = at + 1;
	dlen = len - (size_t) (dom - s);
	if (dlen < 3 || dom[0] == '.' || dom[dlen - 1] == '.') {
		return (0);
	}
	for (size_t i = 0; i < dlen; i++) {
		if (dom[i] == '.') {
			if (i > 0 && dom[i - 1] == '.') {
				return (0);
			}
			dot = 1;
		}
	}
	return (dot);
}

// "address" or "Name <address>" (the name may not contain control
// characters or angle brackets).
static int
from_ok(const char *s, size_t len)
{
	size_t lt;

	if (len == 0 || s[len - 1] != '>') {
		return (email_ok(s, len));
	}
	for (lt = len - 1; lt > 0 && s[lt - 1] != '<'; lt--) { }
	if (lt == 0) {
		return (0); // no '<'
	}
	lt--; // at '<'
	for (size_t i = 0; i < lt; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f || c == '<' || c == '>') {
			return (0);
		}
	}
	return (email_ok(s + lt + 1, len - lt - 2));
}

static int
enum_ok(const char *allowed, const char *s, size_t len)
{
	const char *p = allowed;

	while (*p != '\0') {
		const char *bar = strchr(p, '|');
		size_t      n   = bar != NULL ? (size_t) (bar - p) : strlen(p);

		if (n == len && memcmp(p, s, len) == 0) {
			return (1);
		}
		if (bar == NULL) {
			break;
		}
		p = bar + 1;
	}
	return (0);
}

// The message for a value of the wrong type or form.
static void
bad_msg(const struct lc_setting_def *d, char *msg, size_t msg_len)
{
	char list[256];

	switch (d->type) {
	case LC_ST_BOOL:
		snprintf(msg, msg_len, "'%s' must be a boolean.", d->key);
		break;
	case LC_ST_INT:
		snprintf(msg, msg_len,
		    "'%s' must be an integer between %" PRId64 " and %" PRId64
		    ".",
		    d->key, d->min, d->max);
		break;
	case LC_ST_ENUM:
		snprintf(list, sizeof(list), "%s", d->allowed);
		for (char *p = list; *p != '\0'; p++) {
			if (*p == '|') {
				*p = ',';
			}
		}
		snprintf(
		    msg, msg_len, "'%s' must be one of: %s.", d->key, list);
		break;
	case LC_ST_URL:
		snprintf(msg, msg_len,
		    "'%s' must be an absolute http(s) URL or null.", d->key);
		break;
	case LC_ST_FROM:
		snprintf(msg, msg_len,
		    "'%s' must be an e-mail address or \"Name <address>\", or "
		    "null.",
		    d->key);
		break;
	default:
		snprintf(
		    msg, msg_len, "'%s' must be a string or null.", d->key);
		break;
	}
}

// Checks one non-null value against its definition: 0 or LC_EVALIDATION
// with a message.
static int
value_ok(
    const struct lc_setting_def *d, const json_t *v, char *msg, size_t msg_len)
{
	const char *s;
	size_t      len;
	int64_t     max;
	int         ok;

	switch (d->type) {
	case LC_ST_BOOL:
		ok = json_is_boolean(v);
		break;
	case LC_ST_INT:
		// Exactly a JSON integer: 5.0 is a real and is refused.
		ok = json_is_integer(v) && json_integer_value(v) >= d->min &&
		    json_integer_value(v) <= d->max;
		break;
	default:
		if (!json_is_string(v)) {
			ok = 0;
			break;
		}
		s   = json_string_value(v);
		len = json_string_length(v);
		max = d->max > 0 && d->max < LC_SETTING_STR_MAX
		    ? d->max
		    : LC_SETTING_STR_MAX;
		if (utf8_chars(s, len) > (size_t) max) {
			snprintf(msg, msg_len,
			    "'%s' must be at most %" PRId64 " characters.",
			    d->key, max);
			return (LC_EVALIDATION);
		}
		switch (d->type) {
		case LC_ST_ENUM:
			ok = enum_ok(d->allowed, s, len);
			break;
		case LC_ST_URL:
			ok = url_ok(s, len);
			break;
		case LC_ST_FROM:
			ok = from_ok(s, len);
			break;
		default: // STR, SECRET ("********" included: means unchanged)
			ok = 1;
			break;
		}
		break;
	}
	if (!ok) {
		bad_msg(d, msg, msg_len);
		return (LC_EVALIDATION);
	}
	return (0);
}

int
lc_settings_validate(const json_t *patch, char *field, size_t field_len,
    char *msg, size_t msg_len)
{
	const char *key;
	json_t     *v;

	if (!json_is_object(patch)) {
		snprintf(field, field_len, "%s", "");
		snprintf(msg, msg_len, "Settings must be a JSON object.");
		return (LC_EVALIDATION);
	}
	// The first bad key in the object's order wins.
	json_object_foreach(unconst(patch), key, v)
	{
		const struct lc_setting_def *d = lc_settings_def_find(key);

		if (d == NULL) {
			snprintf(field, field_len, "%s", key);
			snprintf(msg, msg_len, "Unknown setting '%s'.", key);
			return (LC_EVALIDATION);
		}
		if (json_is_null(v)) {
			continue; // reset to the default
		}
		if (value_ok(d, v, msg, msg_len) != 0) {
			snprintf(field, field_len, "%s", key);
			return (LC_EVALIDATION);
		}
	}
	return (0);
}

/* ---- apply, mask ---- */

static int
is_secret(const struct lc_setting_def *d)
{
	return (d->type == LC_ST_SECRET || (d->flags & LC_SF_SECRET) != 0);
}

// A secret as it may be shown: "********" when set, null when not.
static json_t *
mask_value(const struct lc_setting_def *d, const json_t *v)
{
	if (is_secret(d)) {
		return (v == NULL || json_is_null(v)
		        ? json_null()
		        : json_string(LC_SETTINGS_MASK));
	}
	return (v != NULL ? json_deep_copy(v) : json_null());
}

// A full object: every key of the table, each from src when present and
// valid there (null or bad values fall back to the default). Unknown keys
// are dropped.
static json_t *
complete(const json_t *src)
{
	const json_t *defs = defaults_get();
	json_t       *out  = json_object();
	char          msg[256];

	for (size_t i = 0; i < lc_settings_count; i++) {
		const struct lc_setting_def *d = &lc_settings_table[i];
		json_t *v = src != NULL ? json_object_get(src, d->key) : NULL;

		if (v == NULL || json_is_null(v)) {
			v = json_object_get(defs, d->key);
		} else if (value_ok(d, v, msg, sizeof(msg)) != 0) {
			lc_log_warn("SETTINGS-BAD", "%s", msg);
			v = json_object_get(defs, d->key);
		}
		json_object_set_new(out, d->key, json_deep_copy(v));
	}
	return (out);
}

void
lc_settings_apply(const json_t *cur, const json_t *patch, json_t **out_new,
    json_t **out_changes)
{
	const json_t *defs    = defaults_get();
	json_t       *next    = complete(cur);
	json_t       *changes = json_array();
	const char   *key;
	json_t       *v;

	json_object_foreach(unconst(patch), key, v)
	{
		const struct lc_setting_def *d = lc_settings_def_find(key);
		json_t                      *old;
		json_t                      *nv;
		int                          reset = json_is_null(v);

		if (d == NULL) {
			continue; // validated before: cannot happen
		}
		if (reset) {
			nv = json_deep_copy(json_object_get(defs, key));
		} else if (is_secret(d) && json_is_string(v) &&
		    strcmp(json_string_value(v), LC_SETTINGS_MASK) == 0) {
			continue; // "********" keeps the secret
		} else {
			nv = json_deep_copy(v);
		}
		old = json_object_get(next, key);
		if (json_equal(old, nv)) {
			json_decref(nv);
			continue;
		}
		json_array_append_new(changes,
		    json_pack("{s:s, s:o, s:o, s:b}", "key", key, "old_value",
		        mask_value(d, old), "new_value", mask_value(d, nv),
		        "reset", reset));
		json_object_set_new(next, key, nv);
	}
	*out_new     = next;
	*out_changes = changes;
}

json_t *
lc_settings_mask(const json_t *settings)
{
	json_t *out = json_deep_copy(settings);

	if (out == NULL) {
		return (json_object());
	}
	for (size_t i = 0; i < lc_settings_count; i++) {
		const struct lc_setting_def *d = &lc_settings_table[i];
		json_t                      *v = json_object_get(out, d->key);

		if (v != NULL && is_secret(d)) {
			json_object_set_new(out, d->key, mask_value(d, v));
		}
	}
	return (out);
}

/* ---- the current settings ---- */

// The process-wide current settings; owner: this file. `cur` is never
// modified once installed: a change installs a new object and swaps the
// pointer under `mtx`, so readers hold the lock only for a lookup.
static struct {
	pthread_mutex_t        mtx;
	json_t                *cur; // NULL until first use (then defaults)
	int64_t                version;
	lc_settings_changed_fn on_change;
	void                  *on_change_arg;
} cur_st = { .mtx = PTHREAD_MUTEX_INITIALIZER };

// Returns the current object (borrowed); cur_st.mtx held.
static const json_t *
cur_locked(void)
{
	if (cur_st.cur == NULL) {
		cur_st.cur = complete(NULL);
	}
	return (cur_st.cur);
}

// Installs settings as version; with only_newer, only when version is
// above the current one. Returns 1 if installed.
static int
install(const json_t *settings, int64_t version, int only_newer)
{
	json_t                *full = complete(settings);
	json_t                *old;
	lc_settings_changed_fn fn;
	void                  *arg;
	int                    level;

	pthread_mutex_lock(&cur_st.mtx);
	if (only_newer && version <= cur_st.version) {
		pthread_mutex_unlock(&cur_st.mtx);
		json_decref(full);
		return (0);
	}
	old            = cur_st.cur;
	cur_st.cur     = full;
	cur_st.version = version;
	fn             = cur_st.on_change;
	arg            = cur_st.on_change_arg;
	pthread_mutex_unlock(&cur_st.mtx);
	json_decref(old);

	level = lc_log_level_parse(
	    json_string_value(json_object_get(full, "log_level")));
	if (level >= 0) {
		lc_log_set_level(level);
	}
	lc_log_info("SETTINGS-INSTALL", "settings version %" PRId64, version);
	if (fn != NULL) {
		fn(arg);
	}
	return (1);
}

// 1 once this process holds admin's settings (a snapshot, or the owner's
// own install); owner: this module.
static atomic_int settings_ready;

void
lc_settings_install(json_t *settings, int64_t version)
{
	// The owner (admin) installs unconditionally; the object is copied,
	// the caller keeps its reference.
	(void) install(settings, version, 0);
	atomic_store(&settings_ready, 1);
}

int
lc_settings_ready(void)
{
	return (atomic_load(&settings_ready));
}

json_t *
lc_settings_current(int64_t *version)
{
	json_t *copy;

	pthread_mutex_lock(&cur_st.mtx);
	copy = json_deep_copy(cur_locked());
	if (version != NULL) {
		*version = cur_st.version;
	}
	pthread_mutex_unlock(&cur_st.mtx);
	return (copy);
}

int64_t
lc_settings_version(void)
{
	int64_t v;

	pthread_mutex_lock(&cur_st.mtx);
	v = cur_st.version;
	pthread_mutex_unlock(&cur_st.mtx);
	return (v);
}

int
lc_settings_bool(const char *key)
{
	int v;

	pthread_mutex_lock(&cur_st.mtx);
	v = json_is_true(json_object_get(cur_locked(), key));
	pthread_mutex_unlock(&cur_st.mtx);
	return (v);
}

int64_t
lc_settings_int(const char *key)
{
	int64_t v;

	pthread_mutex_lock(&cur_st.mtx);
	v = (int64_t) json_integer_value(json_object_get(cur_locked(), key));
	pthread_mutex_unlock(&cur_st.mtx);
	return (v);
}

// Copies the string into buf. Returns -1 when the setting is null, not a
// string, or does not fit in buf (never truncated: a cut URL or key would
// be wrong silently).
int
lc_settings_str(const char *key, char *buf, size_t len)
{
	const json_t *v;
	int           rv = -1;

	pthread_mutex_lock(&cur_st.mtx);
	v = json_object_get(cur_locked(), key);
	if (json_is_string(v) && json_string_length(v) < len) {
		memcpy(buf, json_string_value(v), json_string_length(v) + 1);
		rv = 0;
	}
	pthread_mutex_unlock(&cur_st.mtx);
	return (rv);
}

void
lc_settings_on_change(lc_settings_changed_fn fn, void *arg)
{
	pthread_mutex_lock(&cur_st.mtx);
	cur_st.on_change     = fn;
	cur_st.on_change_arg = arg;
	pthread_mutex_unlock(&cur_st.mtx);
}

/* ---- the follower ---- */

// One per process; owner: lc_settings_follow/unfollow (called from the
// main thread only).
static struct {
	int                  following;
	char                 name[64];
	lc_settings_extra_fn extra;
	void                *extra_arg;
	struct lc_client    *client;
	struct lc_sub       *sub;
	struct lc_resp      *resp;
} fol;

// Installs {version, settings} when newer; returns 0 or LC_EPROTO when the
// object does not have that shape.
static int
install_doc(const json_t *doc, const char *from)
{
	const json_t *ver = json_object_get(doc, "version");
	const json_t *set = json_object_get(doc, "settings");

	if (!json_is_integer(ver) || !json_is_object(set)) {
		lc_log_warn(
		    "SETTINGS-BAD", "malformed settings from %s", from);
		return (LC_EPROTO);
	}
	if (install(set, (int64_t) json_integer_value(ver), 1)) {
		lc_log_debug("SETTINGS-FOLLOW",
		    "installed version %" JSON_INTEGER_FORMAT " from %s",
		    json_integer_value(ver), from);
	}
	return (0);
}

// Sub thread: settings.changed {version, settings}. Idempotent by version.
static void
follow_event(void *arg, int topic, uint64_t seq, const json_t *payload)
{
	LC_UNUSED(arg);
	LC_UNUSED(seq);
	if (topic == LC_TOPIC_SETTINGS_CHANGED) {
		(void) install_doc(payload, "event");
	}
}

// Sub thread: fetch settings.snapshot from admin (blocking is fine here).
static int
follow_resync(void *arg)
{
	struct lc_req rq;
	struct lc_rep rp;
	int           rv;

	LC_UNUSED(arg);
	lc_req_init(&rq);
	lc_rep_init(&rp);
	rq.v           = LC_ENV_VERSION;
	rq.op          = LC_MSG_SETTINGS_SNAPSHOT;
	rq.caller_kind = LC_CALLER_SERVICE;
	snprintf(rq.op_name, sizeof(rq.op_name), "%s",
	    lc_msg_name(LC_MSG_SETTINGS_SNAPSHOT));
	lc_uuid4(rq.rid);
	rq.deadline = lc_now_ms() + SNAPSHOT_TIMEOUT_MS;
	rq.caller   = json_pack("{s:s}", "kind", "service");
	if ((rv = lc_client_call(fol.client, &rq, SNAPSHOT_TIMEOUT_MS, &rp)) !=
	    0) {
		goto out;
	}
	if (rp.status != 200) {
		lc_log_warn(
		    "SETTINGS-SNAPSHOT", "admin answered %d", rp.status);
		rv = LC_EUNAVAILABLE;
		goto out;
	}
	if ((rv = install_doc(rp.body, "snapshot")) == 0) {
		atomic_store(&settings_ready, 1);
	}
out:
	lc_req_fini(&rq);
	lc_rep_fini(&rp);
	return (rv);
}

// Respondent thread: admin's survey. svc.settings installs a newer
// version before confirming; other ops go to the extra fn, which gets a
// worker whose `user` is extra_arg.
static int
follow_survey(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	char text[128];

	LC_UNUSED(w);
	if (rq->op == LC_MSG_SVC_SETTINGS) {
		if (rq->body != NULL && json_is_object(rq->body) &&
		    json_object_get(rq->body, "version") != NULL) {
			(void) install_doc(rq->body, "survey");
		}
		lc_rep_json(rp, 200,
		    json_pack("{s:s, s:I}", "service", fol.name, "version",
		        (json_int_t) lc_settings_version()));
		return (0);
	}
	if (fol.extra != NULL) {
		struct lc_worker ew = { .user = fol.extra_arg };

		return (fol.extra(&ew, rq, rp));
	}
	snprintf(text, sizeof(text), "Operation '%s' is not available.",
	    rq->op_name);
	lc_rep_error(rp, LC_ENOT_FOUND, text, NULL);
	return (0);
}

int
lc_settings_follow(const struct lc_cfg *cfg, const char *name,
    lc_settings_extra_fn extra, void *extra_arg)
{
	static const int topics[] = { LC_TOPIC_SETTINGS_CHANGED };
	struct lc_worker w        = { 0 };
	int              rv;

	if (fol.following) {
		lc_log_err("SETTINGS-FOLLOW", "already following");
		return (LC_EINTERNAL);
	}
	snprintf(fol.name, sizeof(fol.name), "%s", name);
	fol.extra     = extra;
	fol.extra_arg = extra_arg;
	if ((rv = lc_client_open(cfg->url[LC_SVC_ADMIN], "admin",
	         FOLLOW_MAX_INFLIGHT, &fol.client)) != 0 ||
	    (rv = lc_resp_open(
	         cfg->survey_url, follow_survey, &w, &fol.resp)) != 0 ||
	    (rv = lc_sub_open(cfg->events_url[LC_SVC_ADMIN], topics,
	         LC_NELEM(topics), follow_event, follow_resync, NULL,
	         &fol.sub)) != 0) {
		lc_resp_close(fol.resp);
		lc_client_close(fol.client);
		fol.resp   = NULL;
		fol.client = NULL;
		return (rv);
	}
	fol.following = 1;
	return (0);
}

void
lc_settings_unfollow(void)
{
	if (!fol.following) {
		return;
	}
	// The sub thread may be inside a snapshot call: close it first.
	lc_sub_close(fol.sub);
	lc_resp_close(fol.resp);
	lc_client_close(fol.client);
	fol.sub       = NULL;
	fol.resp      = NULL;
	fol.client    = NULL;
	fol.following = 0;
}
