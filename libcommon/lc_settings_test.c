/*
 * lc_settings_test.c -- the settings table (API.md §5.8): types, ranges,
 * enums, URL and sender formats, lengths, secrets, null resets, unknown
 * keys, first-error-wins, apply's change list, masking, the current
 * settings and the follower over inproc:// against a fake admin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
// cmocka needs the four above first
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lc_bus.h"
#include "lc_cfg.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"
#include "lc_settings.h"

/* ---- helpers ---- */

// Validates {key: <json literal>}; returns 0 or the error, checking that
// a failure names the key.
static int
check(const char *key, const char *literal)
{
	char    field[128] = "";
	char    msg[256]   = "";
	json_t *v          = json_loads(literal, JSON_DECODE_ANY, NULL);
	json_t *patch;
	int     rv;

	assert_non_null(v);
	patch = json_object();
	json_object_set_new(patch, key, v);
	rv = lc_settings_validate(
	    patch, field, sizeof(field), msg, sizeof(msg));
	if (rv != 0) {
		assert_int_equal(rv, LC_EVALIDATION);
		assert_string_equal(field, key);
		assert_true(strlen(msg) > 0);
	}
	json_decref(patch);
	return (rv);
}

#define OK(k, lit) assert_int_equal(check(k, lit), 0)
#define BAD(k, lit) assert_int_equal(check(k, lit), LC_EVALIDATION)

// A JSON string literal of n copies of the UTF-8 character c.
static char *
repeat_lit(const char *c, size_t n)
{
	size_t clen = strlen(c);
	char  *s    = lc_alloc(n * clen + 3);
	char  *p    = s;

	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		memcpy(p, c, clen);
		p += clen;
	}
	*p++ = '"';
	*p   = '\0';
	return (s);
}

/* ---- the table ---- */

static void
test_defaults(void **state)
{
	json_t *d = lc_settings_defaults();

	LC_UNUSED(state);
	assert_int_equal(json_object_size(d), lc_settings_count);
	assert_true(json_is_false(json_object_get(d, "maintenance_mode")));
	assert_true(json_is_true(json_object_get(d, "registration_open")));
	assert_string_equal(
	    json_string_value(json_object_get(d, "log_level")), "info");
	assert_string_equal(
	    json_string_value(json_object_get(d, "email_provider")),
	    "console");
	assert_int_equal(
	    json_integer_value(json_object_get(d, "smtp_port")), 587);
	assert_int_equal(
	    json_integer_value(json_object_get(d, "lockout_duration_ms")),
	    900000);
	assert_true(json_is_null(json_object_get(d, "app_name")));
	assert_true(json_is_null(json_object_get(d, "smtp_pass")));
	// every default passes its own validation
	assert_int_equal(lc_settings_validate(d, NULL, 0, NULL, 0), 0);
	json_decref(d);
	assert_non_null(lc_settings_def_find("smtp_pass"));
	assert_int_equal(
	    lc_settings_def_find("smtp_pass")->type, LC_ST_SECRET);
	assert_null(lc_settings_def_find("nope"));
}

static void
test_bool(void **state)
{
	LC_UNUSED(state);
	OK("maintenance_mode", "true");
	OK("maintenance_mode", "false");
	BAD("maintenance_mode", "\"true\"");
	BAD("maintenance_mode", "1");
	BAD("registration_open", "0");
	BAD("smtp_secure", "{}");
}

static void
test_int(void **state)
{
	LC_UNUSED(state);
	OK("lockout_max_attempts", "0");
	OK("lockout_max_attempts", "1000");
	BAD("lockout_max_attempts", "1001");
	BAD("lockout_max_attempts", "-1");
	BAD("lockout_max_attempts", "10.0"); // a real, not an integer
	BAD("lockout_max_attempts", "\"10\"");
	BAD("lockout_max_attempts", "true");
	OK("lockout_duration_ms", "1000");
	BAD("lockout_duration_ms", "999");
	OK("lockout_duration_ms", "86400000");
	BAD("lockout_duration_ms", "86400001");
	OK("smtp_port", "1");
	OK("smtp_port", "65535");
	BAD("smtp_port", "0");
	BAD("smtp_port", "65536");
	OK("rate_limit_auth", "0");
	OK("rate_limit_auth", "1000000");
	BAD("rate_limit_auth", "1000001");
	BAD("access_log_max_age_days", "3651");
	BAD("refresh_token_ttl_days", "9223372036854775807");
}

static void
test_enum(void **state)
{
	LC_UNUSED(state);
	OK("log_level", "\"debug\"");
	OK("log_level", "\"info\"");
	OK("log_level", "\"warn\"");
	OK("log_level", "\"error\"");
	OK("log_level", "\"off\"");
	BAD("log_level", "\"DEBUG\"");
	BAD("log_level", "\"verbose\"");
	BAD("log_level", "\"\"");
	BAD("log_level", "\"debug|info\"");
	BAD("log_level", "1");
	OK("email_provider", "\"smtp\"");
	OK("email_provider", "\"resend\"");
	BAD("email_provider", "\"sendgrid\"");
}

static void
test_str_lengths(void **state)
{
	char *s;

	LC_UNUSED(state);
	OK("app_name", "\"My App\"");
	OK("app_name", "\"\"");
	BAD("app_name", "5");
	BAD("app_name", "[\"x\"]");
	s = repeat_lit("a", 100);
	OK("app_name", s);
	lc_free(s);
	s = repeat_lit("a", 101);
	BAD("app_name", s);
	lc_free(s);
	// counted in characters, not bytes: 100 two-byte and 100 four-byte
	s = repeat_lit("\xc3\xa9", 100);
	OK("app_name", s);
	lc_free(s);
	s = repeat_lit("\xf0\x9f\x98\x80", 100);
	OK("app_name", s);
	lc_free(s);
	s = repeat_lit("\xc3\xa9", 101);
	BAD("app_name", s);
	lc_free(s);
	s = repeat_lit("h", 2048);
	OK("smtp_host", s);
	lc_free(s);
	s = repeat_lit("h", 2049);
	BAD("smtp_host", s);
	lc_free(s);
	OK("smtp_user", "\"user\"");
	BAD("smtp_user", "false");
}

static void
test_url(void **state)
{
	char *s;

	LC_UNUSED(state);
	OK("app_url", "\"https://example.com\"");
	OK("app_url", "\"http://localhost:8080/path?x=1#frag\"");
	OK("app_url", "\"https://cdn.example.com/files/\"");
	OK("app_url", "\"HTTPS://Example.COM\"");
	OK("app_url", "\"http://127.0.0.1\"");
	OK("app_url", "\"https://[::1]:8443/\"");
	OK("app_url", "\"https://user:pw@example.com/\"");
	OK("storage_cdn_url", "\"https://cdn.example.com\"");
	BAD("app_url", "\"ftp://example.com\"");
	BAD("app_url", "\"example.com\"");
	BAD("app_url", "\"//example.com\"");
	BAD("app_url", "\"/relative/path\"");
	BAD("app_url", "\"http://\"");
	BAD("app_url", "\"https:///path\"");
	BAD("app_url", "\"https://:80/\"");
	BAD("app_url", "\"http://exa mple.com\"");
	BAD("app_url", "\"http://example.com/a b\"");
	BAD("app_url", "\"http://example.com\\n\"");
	BAD("app_url", "\"http://host:99999\"");
	BAD("app_url", "\"http://host:0\"");
	BAD("app_url", "\"http://host:abc\"");
	BAD("app_url", "\"https://[::1\"");
	BAD("app_url", "\"javascript:alert(1)\"");
	BAD("app_url", "\"\"");
	BAD("app_url", "42");
	BAD("storage_cdn_url", "true");
	s = lc_alloc(2100);
	snprintf(s, 2100, "\"https://example.com/%02040d\"", 0);
	BAD("app_url", s); // 2060 characters
	lc_free(s);
}

static void
test_from(void **state)
{
	LC_UNUSED(state);
	OK("email_from", "\"noreply@example.com\"");
	OK("email_from", "\"BusBase <noreply@example.com>\"");
	OK("email_from", "\"My App Team <team@mail.example.co.uk>\"");
	OK("email_from", "\"\\\"Acme, Inc\\\" <a@b.co>\"");
	OK("email_from", "\"first.last+tag@example.com\"");
	BAD("email_from", "\"noreply\"");
	BAD("email_from", "\"noreply@localhost\"");
	BAD("email_from", "\"@example.com\"");
	BAD("email_from", "\"a@@example.com\"");
	BAD("email_from", "\"a@b@example.com\"");
	BAD("email_from", "\"a@.com\"");
	BAD("email_from", "\"a@com.\"");
	BAD("email_from", "\"a@exa..com\"");
	BAD("email_from", "\"a b@example.com\"");
	BAD("email_from", "\"a@example.com \"");
	BAD("email_from", "\"a@exam\\tple.com\"");
	BAD("email_from", "\"Name <a@example.com\"");
	BAD("email_from", "\"Name <bad>\"");
	BAD("email_from", "\"Name a@example.com>\"");
	BAD("email_from", "\"Na\\u0001me <a@example.com>\"");
	BAD("email_from", "\"\"");
	BAD("email_from", "7");
}

static void
test_secret(void **state)
{
	char *s;

	LC_UNUSED(state);
	OK("smtp_pass", "\"hunter2\"");
	OK("smtp_pass", "\"********\"");
	OK("resend_api_key", "\"re_123\"");
	BAD("smtp_pass", "5");
	BAD("resend_api_key", "{}");
	s = repeat_lit("k", 2049);
	BAD("resend_api_key", s);
	lc_free(s);
}

static void
test_null_everywhere(void **state)
{
	LC_UNUSED(state);
	for (size_t i = 0; i < lc_settings_count; i++) {
		OK(lc_settings_table[i].key, "null");
	}
}

static void
test_unknown_and_shape(void **state)
{
	char    field[64];
	char    msg[128];
	json_t *p;

	LC_UNUSED(state);
	BAD("no_such_setting", "true");
	BAD("Maintenance_Mode", "true");
	p = json_array();
	assert_int_equal(
	    lc_settings_validate(p, field, sizeof(field), msg, sizeof(msg)),
	    LC_EVALIDATION);
	json_decref(p);
	p = json_object(); // {} is a no-op and valid
	assert_int_equal(
	    lc_settings_validate(p, field, sizeof(field), msg, sizeof(msg)),
	    0);
	json_decref(p);
}

static void
test_first_error_wins(void **state)
{
	char    field[64];
	char    msg[128];
	json_t *p;

	LC_UNUSED(state);
	p = json_loads("{\"app_name\":\"ok\",\"maintenance_mode\":\"yes\","
	               "\"smtp_port\":0,\"bogus\":1}",
	    0, NULL);
	assert_int_equal(
	    lc_settings_validate(p, field, sizeof(field), msg, sizeof(msg)),
	    LC_EVALIDATION);
	assert_string_equal(field, "maintenance_mode");
	json_decref(p);
	p = json_loads("{\"bogus\":1,\"smtp_port\":0,\"maintenance_mode\":"
	               "\"yes\"}",
	    0, NULL);
	assert_int_equal(
	    lc_settings_validate(p, field, sizeof(field), msg, sizeof(msg)),
	    LC_EVALIDATION);
	assert_string_equal(field, "bogus");
	json_decref(p);
	p = json_loads(
	    "{\"smtp_port\":0,\"maintenance_mode\":\"yes\"}", 0, NULL);
	assert_int_equal(
	    lc_settings_validate(p, field, sizeof(field), msg, sizeof(msg)),
	    LC_EVALIDATION);
	assert_string_equal(field, "smtp_port");
	assert_non_null(strstr(msg, "between 1 and 65535"));
	json_decref(p);
}

/* ---- apply, mask ---- */

static json_t *
change_for(json_t *changes, const char *key)
{
	size_t  i;
	json_t *c;

	json_array_foreach(changes, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "key")),
		        key) == 0) {
			return (c);
		}
	}
	return (NULL);
}

static void
test_apply(void **state)
{
	json_t *cur = lc_settings_defaults();
	json_t *p;
	json_t *next;
	json_t *ch;
	json_t *c;

	LC_UNUSED(state);
	json_object_set_new(cur, "app_name", json_string("Old"));
	json_object_set_new(cur, "smtp_pass", json_string("s3cret"));
	json_object_set_new(cur, "smtp_port", json_integer(2525));
	p = json_loads("{\"maintenance_mode\":true,\"registration_open\":true,"
	               "\"app_name\":null,\"smtp_port\":null,"
	               "\"smtp_pass\":\"********\",\"resend_api_key\":\"rk\"}",
	    0, NULL);
	assert_int_equal(lc_settings_validate(p, NULL, 0, NULL, 0), 0);
	lc_settings_apply(cur, p, &next, &ch);

	// the new full object
	assert_int_equal(json_object_size(next), lc_settings_count);
	assert_true(json_is_true(json_object_get(next, "maintenance_mode")));
	assert_true(json_is_null(json_object_get(next, "app_name")));
	assert_int_equal(
	    json_integer_value(json_object_get(next, "smtp_port")), 587);
	assert_string_equal(
	    json_string_value(json_object_get(next, "smtp_pass")), "s3cret");
	assert_string_equal(
	    json_string_value(json_object_get(next, "resend_api_key")), "rk");
	// cur is untouched
	assert_string_equal(
	    json_string_value(json_object_get(cur, "app_name")), "Old");

	// changes: only keys whose value changed, in patch order
	assert_int_equal(json_array_size(ch), 4);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(ch, 0), "key")),
	    "maintenance_mode");
	assert_null(change_for(ch, "registration_open")); // already true
	assert_null(change_for(ch, "smtp_pass"));         // kept
	c = change_for(ch, "maintenance_mode");
	assert_true(json_is_false(json_object_get(c, "old_value")));
	assert_true(json_is_true(json_object_get(c, "new_value")));
	assert_true(json_is_false(json_object_get(c, "reset")));
	c = change_for(ch, "app_name");
	assert_string_equal(
	    json_string_value(json_object_get(c, "old_value")), "Old");
	assert_true(json_is_null(json_object_get(c, "new_value")));
	assert_true(json_is_true(json_object_get(c, "reset")));
	c = change_for(ch, "smtp_port");
	assert_int_equal(
	    json_integer_value(json_object_get(c, "new_value")), 587);
	assert_true(json_is_true(json_object_get(c, "reset")));
	// a secret is masked in the change list
	c = change_for(ch, "resend_api_key");
	assert_true(json_is_null(json_object_get(c, "old_value")));
	assert_string_equal(
	    json_string_value(json_object_get(c, "new_value")), "********");
	json_decref(p);
	json_decref(ch);

	// resetting a secret; "********" on an unset secret keeps it unset
	p = json_loads(
	    "{\"smtp_pass\":null,\"resend_api_key\":\"********\"}", 0, NULL);
	lc_settings_apply(next, p, &c, &ch);
	assert_true(json_is_null(json_object_get(c, "smtp_pass")));
	assert_string_equal(
	    json_string_value(json_object_get(c, "resend_api_key")), "rk");
	assert_int_equal(json_array_size(ch), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(ch, 0), "old_value")),
	    "********");
	assert_true(
	    json_is_null(json_object_get(json_array_get(ch, 0), "new_value")));
	json_decref(p);
	json_decref(ch);
	json_decref(c);

	// {} changes nothing
	p = json_object();
	lc_settings_apply(next, p, &c, &ch);
	assert_true(json_equal(c, next));
	assert_int_equal(json_array_size(ch), 0);
	json_decref(p);
	json_decref(ch);
	json_decref(c);
	json_decref(next);
	json_decref(cur);
}

// The admin flow: validate, and only on success apply. A bad key anywhere
// means nothing at all changes.
static void
test_nothing_applied_on_error(void **state)
{
	json_t *cur    = lc_settings_defaults();
	json_t *before = json_deep_copy(cur);
	json_t *p;
	char    field[64];
	char    msg[128];

	LC_UNUSED(state);
	p = json_loads(
	    "{\"maintenance_mode\":true,\"smtp_port\":70000}", 0, NULL);
	assert_int_equal(
	    lc_settings_validate(p, field, sizeof(field), msg, sizeof(msg)),
	    LC_EVALIDATION);
	assert_string_equal(field, "smtp_port");
	assert_true(json_equal(cur, before));
	json_decref(p);
	json_decref(cur);
	json_decref(before);
}

static void
test_mask(void **state)
{
	json_t *s = lc_settings_defaults();
	json_t *m;

	LC_UNUSED(state);
	json_object_set_new(s, "smtp_pass", json_string("pw"));
	json_object_set_new(s, "app_name", json_string("App"));
	m = lc_settings_mask(s);
	assert_string_equal(
	    json_string_value(json_object_get(m, "smtp_pass")), "********");
	assert_true(json_is_null(json_object_get(m, "resend_api_key")));
	assert_string_equal(
	    json_string_value(json_object_get(m, "app_name")), "App");
	// the original keeps the secret
	assert_string_equal(
	    json_string_value(json_object_get(s, "smtp_pass")), "pw");
	json_decref(m);
	json_decref(s);
}

/* ---- current settings ---- */

static int changed_calls;

static void
on_changed(void *arg)
{
	LC_UNUSED(arg);
	changed_calls++;
}

static void
test_install_and_readers(void **state)
{
	json_t *s = json_object();
	json_t *cur;
	char    buf[64];
	int64_t v;

	LC_UNUSED(state);
	lc_settings_on_change(on_changed, NULL);
	json_object_set_new(s, "maintenance_mode", json_true());
	json_object_set_new(s, "smtp_port", json_integer(2525));
	json_object_set_new(s, "app_name", json_string("Demo"));
	json_object_set_new(s, "log_level", json_string("error"));
	json_object_set_new(s, "smtp_secure", json_string("bad")); // ignored
	lc_settings_install(s, 7);
	json_decref(s);
	assert_int_equal(changed_calls, 1);
	assert_int_equal(lc_settings_version(), 7);
	assert_true(lc_settings_bool("maintenance_mode"));
	assert_true(lc_settings_bool("registration_open")); // default filled
	assert_false(lc_settings_bool("smtp_secure"));      // bad -> default
	assert_int_equal(lc_settings_int("smtp_port"), 2525);
	assert_int_equal(lc_settings_str("app_name", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Demo");
	assert_int_equal(lc_settings_str("app_name", buf, 4), -1); // no room
	assert_int_equal(lc_settings_str("app_url", buf, sizeof(buf)), -1);
	assert_int_equal(lc_log_get_level(), LC_LOG_ERR);
	cur = lc_settings_current(&v);
	assert_int_equal(v, 7);
	assert_int_equal(json_object_size(cur), lc_settings_count);
	json_decref(cur);
	lc_settings_on_change(NULL, NULL);
	lc_log_set_level(LC_LOG_WARN);
}

/* ---- the follower against a fake admin ---- */

static int64_t snap_version = 3;

static int
h_snapshot(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(w);
	LC_UNUSED(rq);
	lc_rep_json(rp, 200,
	    json_pack("{s:I, s:{s:b, s:s}}", "version",
	        (json_int_t) snap_version, "settings", "maintenance_mode", 1,
	        "app_name", "From snapshot"));
	return (0);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
wait_version(int64_t v)
{
	for (int i = 0; i < 600 && lc_settings_version() != v; i++) {
		sleep_ms(5);
	}
	assert_int_equal(lc_settings_version(), v);
}

static void
test_follower(void **state)
{
	static const struct lc_op ops[] = {
		{ LC_MSG_SETTINGS_SNAPSHOT, h_snapshot },
	};
	struct lc_bus_server_cfg sc;
	struct lc_bus_server    *srv;
	struct lc_pub           *pub;
	struct lc_survey        *sv;
	struct lc_cfg            cfg;
	struct lc_req            rq;
	json_t                  *out;
	json_t                  *doc;
	char                     buf[64];

	LC_UNUSED(state);
	lc_settings_install(NULL, 0); // back to defaults, version 0
	assert_false(lc_settings_bool("maintenance_mode"));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.url[LC_SVC_ADMIN], sizeof(cfg.url[0]), "inproc://adm");
	snprintf(cfg.events_url[LC_SVC_ADMIN], sizeof(cfg.events_url[0]),
	    "inproc://adm-events");
	snprintf(
	    cfg.survey_url, sizeof(cfg.survey_url), "inproc://adm-survey");
	memset(&sc, 0, sizeof(sc));
	sc.url      = cfg.url[LC_SVC_ADMIN];
	sc.nworkers = 2;
	sc.ops      = ops;
	sc.nops     = LC_NELEM(ops);
	assert_int_equal(lc_bus_server_open(&sc, &srv), 0);
	assert_int_equal(
	    lc_pub_open(cfg.events_url[LC_SVC_ADMIN], "admin", &pub), 0);
	assert_int_equal(lc_survey_open(cfg.survey_url, &sv), 0);

	assert_int_equal(lc_settings_follow(&cfg, "tester", NULL, NULL), 0);
	// The snapshot arrives.
	wait_version(3);
	assert_true(lc_settings_bool("maintenance_mode"));
	assert_int_equal(lc_settings_str("app_name", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "From snapshot");

	// A survey installs a newer version before it answers.
	for (int i = 0; i < 400 && lc_survey_peers(sv) < 1; i++) {
		sleep_ms(5);
	}
	lc_req_init(&rq);
	rq.op   = LC_MSG_SVC_SETTINGS;
	rq.body = json_pack(
	    "{s:i, s:{s:b}}", "version", 4, "settings", "maintenance_mode", 0);
	assert_int_equal(lc_survey_ask(sv, &rq, 2000, &out), 0);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(out, 0), "service")),
	    "tester");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(out, 0), "version")),
	    4);
	assert_int_equal(lc_settings_version(), 4);
	assert_false(lc_settings_bool("maintenance_mode"));
	json_decref(out);
	lc_req_fini(&rq);

	// An older version is ignored.
	lc_req_init(&rq);
	rq.op   = LC_MSG_SVC_SETTINGS;
	rq.body = json_pack(
	    "{s:i, s:{s:b}}", "version", 2, "settings", "maintenance_mode", 1);
	assert_int_equal(lc_survey_ask(sv, &rq, 2000, &out), 0);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(out, 0), "version")),
	    4);
	assert_false(lc_settings_bool("maintenance_mode"));
	json_decref(out);
	lc_req_fini(&rq);

	// Other survey ops with no extra fn: 404.
	lc_req_init(&rq);
	rq.op = LC_MSG_SVC_INFO;
	assert_int_equal(lc_survey_ask(sv, &rq, 2000, &out), 0);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(out, 0), "code")),
	    "not_found");
	json_decref(out);
	lc_req_fini(&rq);

	// settings.changed on the stream.
	for (int i = 0; i < 300; i++) { // wait until the sub is in sync
		sleep_ms(5);
	}
	doc = json_pack(
	    "{s:i, s:{s:s}}", "version", 5, "settings", "log_level", "debug");
	(void) lc_pub_send(pub, LC_TOPIC_SETTINGS_CHANGED, doc);
	json_decref(doc);
	wait_version(5);
	assert_int_equal(lc_log_get_level(), LC_LOG_DEBUG);
	assert_false(lc_settings_bool("maintenance_mode"));
	lc_log_set_level(LC_LOG_WARN);

	lc_settings_unfollow();
	lc_survey_close(sv);
	lc_pub_close(pub);
	lc_bus_server_close(srv, 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_str_lengths),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_from),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_null_everywhere),
		cmocka_unit_test(test_unknown_and_shape),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_nothing_applied_on_error),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_install_and_readers),
		cmocka_unit_test(test_follower),
	};

	lc_log_init("settings-test");
	lc_log_set_level(LC_LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
