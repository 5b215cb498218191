/*
 * handlers_test.c -- the admin handlers, called directly on a worker whose
 * database is a temporary file with the real migrations. No bus: the
 * survey is NULL, so a settings write skips the confirmation step, and
 * there is no publisher.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// cmocka needs these first, in this order.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "admin.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_service.h"
#include "lc_settings.h"

struct fx {
	char              dir[64];
	char              path[128];
	sqlite3          *conn;
	struct adm_db    *db;
	struct adm_state  st;
	struct lc_service svc;
	struct lc_worker  w;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	json_t    *d;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/adm-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/admin.db", fx->dir);
	assert_int_equal(lc_db_open(fx->path, &fx->conn), 0);
	assert_int_equal(
	    lc_db_migrate(fx->conn, adm_migrations, adm_nmigrations), 0);
	assert_int_equal(adm_store_open(fx->conn, &fx->db), 0);
	pthread_mutex_init(&fx->st.wlock, NULL);
	pthread_mutex_init(&fx->st.cache_mu, NULL);
	fx->svc.name       = "admin";
	fx->svc.user       = &fx->st;
	fx->svc.started_ms = lc_now_ms();
	fx->w.svc          = &fx->svc;
	fx->w.db           = fx->conn;
	fx->w.user         = fx->db;
	// The settings module is process-global: start every test from the
	// defaults.
	d = lc_settings_defaults();
	lc_settings_install(d, 0);
	json_decref(d);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char       p[160];

	adm_store_close(fx->db);
	lc_db_close(fx->conn);
	adm__cache_fini(&fx->st);
	pthread_mutex_destroy(&fx->st.cache_mu);
	pthread_mutex_destroy(&fx->st.wlock);
	unlink(fx->path);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return (0);
}

// Runs a handler with a JSON body and query (either may be NULL) and the
// request id "rid-test"; rp is initialised here, the caller finis it.
static int
call(struct fx *fx, lc_handler_fn fn, const char *body, const char *query,
    struct lc_rep *rp)
{
	struct lc_req rq;
	json_error_t  err;
	int           rv;

	lc_req_init(&rq);
	lc_rep_init(rp);
	snprintf(rq.rid, sizeof(rq.rid), "rid-test");
	rq.caller_kind = LC_CALLER_ADMIN;
	rq.params      = json_object();
	rq.query = query != NULL ? json_loads(query, 0, &err) : json_object();
	assert_non_null(rq.query);
	if (body != NULL) {
		rq.body = json_loads(body, JSON_DECODE_ANY, &err);
		assert_non_null(rq.body);
	}
	rv = fn(&fx->w, &rq, rp);
	lc_req_fini(&rq);
	if (rv != 0 && rp->status == 0) {
		lc_rep_error(rp, rv, NULL, NULL);
	}
	return (rv);
}

static const char *
err_code(const struct lc_rep *rp)
{
	return (json_string_value(json_object_get(rp->body, "code")));
}

static const char *
err_field(const struct lc_rep *rp)
{
	return (json_string_value(json_object_get(rp->body, "field")));
}

// The total of the audit log (optionally for one key).
static int64_t
audit_total(struct fx *fx, const char *key)
{
	json_t *items = NULL;
	int64_t total = -1;

	assert_int_equal(
	    adm_store_audit_list(fx->db, key, 500, 0, &items, &total), 0);
	json_decref(items);
	return (total);
}

static void
assert_settings_default(struct fx *fx)
{
	struct lc_rep rp;
	json_t       *d = lc_settings_defaults();

	assert_int_equal(call(fx, adm_h_settings_get, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_true(json_equal(rp.body, d));
	json_decref(d);
	lc_rep_fini(&rp);
}

static void
test_get_defaults(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;

	assert_int_equal(call(fx, adm_h_settings_get, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_int_equal(
	    json_object_size(rp.body), (int64_t) lc_settings_count);
	assert_true(
	    json_is_false(json_object_get(rp.body, "maintenance_mode")));
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "log_level")), "info");
	assert_true(json_is_null(json_object_get(rp.body, "smtp_pass")));
	lc_rep_fini(&rp);
}

static void
test_patch_invalid_nothing_applied(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;

	// Unknown key, after a valid one: nothing is applied.
	assert_int_not_equal(
	    call(fx, adm_h_settings_patch,
	        "{\"registration_open\":false,\"nope\":1}", NULL, &rp),
	    0);
	assert_int_equal(rp.status, 400);
	assert_string_equal(err_code(&rp), "validation_error");
	assert_string_equal(err_field(&rp), "nope");
	lc_rep_fini(&rp);

	// Wrong type (a boolean as a string).
	assert_int_not_equal(call(fx, adm_h_settings_patch,
	                         "{\"app_name\":\"x\",\"maintenance_mode\":"
	                         "\"true\"}",
	                         NULL, &rp),
	    0);
	assert_int_equal(rp.status, 400);
	assert_string_equal(err_code(&rp), "validation_error");
	assert_string_equal(err_field(&rp), "maintenance_mode");
	lc_rep_fini(&rp);

	// Out of range.
	assert_int_not_equal(
	    call(fx, adm_h_settings_patch, "{\"smtp_port\":0}", NULL, &rp), 0);
	assert_int_equal(rp.status, 400);
	assert_string_equal(err_field(&rp), "smtp_port");
	lc_rep_fini(&rp);

	// Not an object.
	assert_int_not_equal(
	    call(fx, adm_h_settings_patch, "[1]", NULL, &rp), 0);
	assert_int_equal(rp.status, 400);
	assert_string_equal(err_code(&rp), "invalid_body");
	lc_rep_fini(&rp);

	assert_settings_default(fx);
	assert_int_equal(audit_total(fx, NULL), 0);
	assert_int_equal(lc_settings_version(), 0);
}

static void
test_patch_audit_and_reset(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	json_t       *item;
	json_t       *loaded  = NULL;
	int64_t       version = 0;

	// {} is a no-op.
	assert_int_equal(call(fx, adm_h_settings_patch, "{}", NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	assert_int_equal(audit_total(fx, NULL), 0);

	assert_int_equal(call(fx, adm_h_settings_patch,
	                     "{\"registration_open\":false,\"smtp_port\":2525,"
	                     "\"log_level\":\"info\"}",
	                     NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	assert_true(
	    json_is_false(json_object_get(rp.body, "registration_open")));
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "smtp_port")), 2525);
	lc_rep_fini(&rp);
	// log_level did not change: two audit rows, one version.
	assert_int_equal(audit_total(fx, NULL), 2);
	assert_int_equal(audit_total(fx, "smtp_port"), 1);
	assert_int_equal(lc_settings_version(), 1);
	assert_false(lc_settings_bool("registration_open"));

	// The audit entry has the API shape.
	assert_int_equal(call(fx, adm_h_settings_audit, NULL,
	                     "{\"key\":\"registration_open\"}", &rp),
	    0);
	assert_int_equal(rp.status, 200);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "limit")), 50);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "offset")), 0);
	item = json_array_get(json_object_get(rp.body, "items"), 0);
	assert_non_null(item);
	assert_int_equal(
	    strlen(json_string_value(json_object_get(item, "id"))),
	    LC_ULID_LEN);
	assert_string_equal(json_string_value(json_object_get(item, "key")),
	    "registration_open");
	assert_true(json_is_true(json_object_get(item, "old_value")));
	assert_true(json_is_false(json_object_get(item, "new_value")));
	assert_string_equal(
	    json_string_value(json_object_get(item, "source")), "patch");
	assert_string_equal(
	    json_string_value(json_object_get(item, "request_id")),
	    "rid-test");
	assert_true(json_is_integer(json_object_get(item, "changed_at")));
	lc_rep_fini(&rp);

	// null resets to the default, with source "reset".
	assert_int_equal(call(fx, adm_h_settings_patch,
	                     "{\"registration_open\":null}", NULL, &rp),
	    0);
	assert_true(
	    json_is_true(json_object_get(rp.body, "registration_open")));
	lc_rep_fini(&rp);
	assert_int_equal(
	    call(fx, adm_h_settings_audit, NULL,
	        "{\"key\":\"registration_open\",\"limit\":\"1\"}", &rp),
	    0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 2);
	item = json_array_get(json_object_get(rp.body, "items"), 0); // newest
	assert_string_equal(
	    json_string_value(json_object_get(item, "source")), "reset");
	assert_true(json_is_true(json_object_get(item, "new_value")));
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "items")), 1);
	lc_rep_fini(&rp);

	// Stored durably: a fresh load sees version 2 and the port.
	assert_int_equal(adm_store_load(fx->db, &loaded, &version), 0);
	assert_int_equal(version, 2);
	assert_int_equal(
	    json_integer_value(json_object_get(loaded, "smtp_port")), 2525);
	assert_true(
	    json_is_true(json_object_get(loaded, "registration_open")));
	json_decref(loaded);
}

static void
test_secret_masking(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	json_t       *item;

	assert_int_equal(call(fx, adm_h_settings_patch,
	                     "{\"smtp_pass\":\"hunter2\"}", NULL, &rp),
	    0);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "smtp_pass")),
	    LC_SETTINGS_MASK);
	lc_rep_fini(&rp);

	// The audit log never holds the secret.
	assert_int_equal(call(fx, adm_h_settings_audit, NULL, NULL, &rp), 0);
	item = json_array_get(json_object_get(rp.body, "items"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(item, "new_value")),
	    LC_SETTINGS_MASK);
	assert_true(json_is_null(json_object_get(item, "old_value")));
	lc_rep_fini(&rp);

	// Writing the mask keeps the secret: no change, no audit row.
	assert_int_equal(call(fx, adm_h_settings_patch,
	                     "{\"smtp_pass\":\"********\"}", NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	assert_int_equal(audit_total(fx, NULL), 1);

	// The bus snapshot is not masked (followers need the value).
	assert_int_equal(
	    call(fx, adm_h_settings_snapshot, NULL, NULL, &rp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "version")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(rp.body, "settings"), "smtp_pass")),
	    "hunter2");
	lc_rep_fini(&rp);

	// Export is masked and carries the download header.
	assert_int_equal(call(fx, adm_h_settings_export, NULL, NULL, &rp), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "version")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(rp.body, "settings"), "smtp_pass")),
	    LC_SETTINGS_MASK);
	assert_string_equal(json_string_value(json_object_get(
	                        rp.headers, "Content-Disposition")),
	    "attachment; filename=\"busbase-settings.json\"");
	lc_rep_fini(&rp);
}

static void
test_import_export_document(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	json_t       *doc;
	char         *txt;
	json_t       *item;

	assert_int_equal(
	    call(fx, adm_h_settings_patch,
	        "{\"smtp_pass\":\"s3cret\",\"app_name\":\"A\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	assert_int_equal(call(fx, adm_h_settings_export, NULL, NULL, &rp), 0);
	doc = json_incref(rp.body);
	lc_rep_fini(&rp);

	// Change two keys in the exported document and import it whole.
	json_object_set_new(
	    json_object_get(doc, "settings"), "app_name", json_string("B"));
	json_object_set_new(
	    json_object_get(doc, "settings"), "maintenance_mode", json_true());
	txt = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_int_equal(call(fx, adm_h_settings_import, txt, NULL, &rp), 0);
	free(txt);
	assert_int_equal(rp.status, 200);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "changed")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(rp.body, "settings"), "app_name")),
	    "B");
	lc_rep_fini(&rp);
	// The masked secret in the document kept the secret.
	assert_int_equal(
	    call(fx, adm_h_settings_snapshot, NULL, NULL, &rp), 0);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(rp.body, "settings"), "smtp_pass")),
	    "s3cret");
	lc_rep_fini(&rp);

	assert_int_equal(call(fx, adm_h_settings_audit, NULL,
	                     "{\"key\":\"app_name\"}", &rp),
	    0);
	item = json_array_get(json_object_get(rp.body, "items"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(item, "source")), "import");
	assert_string_equal(
	    json_string_value(json_object_get(item, "old_value")), "A");
	lc_rep_fini(&rp);

	// A flat object works too; an invalid one applies nothing.
	assert_int_equal(call(fx, adm_h_settings_import,
	                     "{\"maintenance_mode\":false}", NULL, &rp),
	    0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "changed")), 1);
	lc_rep_fini(&rp);
	assert_int_not_equal(call(fx, adm_h_settings_import,
	                         "{\"settings\":{\"app_name\":\"C\","
	                         "\"lockout_max_attempts\":5000}}",
	                         NULL, &rp),
	    0);
	assert_string_equal(err_code(&rp), "validation_error");
	assert_string_equal(err_field(&rp), "lockout_max_attempts");
	lc_rep_fini(&rp);
	assert_int_equal(call(fx, adm_h_settings_get, NULL, NULL, &rp), 0);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "app_name")), "B");
	lc_rep_fini(&rp);
}

static void
test_audit_paging(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          body[64];
	int           i;
	const char   *bad[][2] = {
		  { "{\"limit\":\"0\"}", "limit" },
		  { "{\"limit\":\"abc\"}", "limit" },
		  { "{\"limit\":\"-5\"}", "limit" },
		  { "{\"limit\":\"1.5\"}", "limit" },
		  { "{\"offset\":\"-1\"}", "offset" },
		  { "{\"offset\":\"x\"}", "offset" },
	};

	for (i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "{\"smtp_port\":%d}", 1000 + i);
		assert_int_equal(
		    call(fx, adm_h_settings_patch, body, NULL, &rp), 0);
		lc_rep_fini(&rp);
	}
	for (i = 0; i < (int) LC_NELEM(bad); i++) {
		assert_int_not_equal(
		    call(fx, adm_h_settings_audit, NULL, bad[i][0], &rp), 0);
		assert_int_equal(rp.status, 400);
		assert_string_equal(err_code(&rp), "invalid_query");
		assert_string_equal(err_field(&rp), bad[i][1]);
		lc_rep_fini(&rp);
	}
	// Clamped limit; paging newest first.
	assert_int_equal(call(fx, adm_h_settings_audit, NULL,
	                     "{\"limit\":\"100000\"}", &rp),
	    0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "limit")), 500);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 5);
	lc_rep_fini(&rp);
	assert_int_equal(call(fx, adm_h_settings_audit, NULL,
	                     "{\"limit\":2,\"offset\":\"1\"}", &rp),
	    0);
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "items")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_array_get(json_object_get(rp.body, "items"), 0),
	        "new_value")),
	    1003);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_array_get(json_object_get(rp.body, "items"), 1),
	        "new_value")),
	    1002);
	lc_rep_fini(&rp);
	// Past the end: empty items, total kept.
	assert_int_equal(
	    call(fx, adm_h_settings_audit, NULL, "{\"offset\":\"50\"}", &rp),
	    0);
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "items")), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "total")), 5);
	lc_rep_fini(&rp);
}

static void
test_test_email(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	const char   *bad[] = { "{}", "{\"to\":5}", "{\"to\":\"nope\"}",
		  "{\"to\":\"a@b\"}", "{\"to\":\"a b@c.de\"}",
		  "{\"to\":\"@c.de\"}", "{\"to\":\"a@.c.de\"}",
		  "{\"to\":\"a@c.de.\"}", "{\"to\":\"a@b@c.de\"}" };
	size_t        i;

	for (i = 0; i < LC_NELEM(bad); i++) {
		assert_int_not_equal(
		    call(fx, adm_h_settings_test_email, bad[i], NULL, &rp), 0);
		assert_int_equal(rp.status, 400);
		assert_string_equal(err_code(&rp), "validation_error");
		assert_string_equal(err_field(&rp), "to");
		lc_rep_fini(&rp);
	}
	assert_int_equal(call(fx, adm_h_settings_test_email,
	                     "{\"to\":\"  Alice@Example.COM \"}", NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_true(json_object_get(rp.body, "ok")));
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "provider")),
	    "console");
	lc_rep_fini(&rp);

	// resend without a key: not configured.
	assert_int_equal(call(fx, adm_h_settings_patch,
	                     "{\"email_provider\":\"resend\"}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	assert_int_not_equal(call(fx, adm_h_settings_test_email,
	                         "{\"to\":\"a@b.co\"}", NULL, &rp),
	    0);
	assert_string_equal(err_code(&rp), "email_not_configured");
	lc_rep_fini(&rp);
}

static void
test_restart_validation(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	json_t       *list;

	assert_int_not_equal(call(fx, adm_h_system_restart, NULL,
	                         "{\"service\":\"nope\"}", &rp),
	    0);
	assert_int_equal(rp.status, 400);
	assert_string_equal(err_code(&rp), "validation_error");
	assert_string_equal(err_field(&rp), "service");
	lc_rep_fini(&rp);

	assert_int_equal(call(fx, adm_h_system_restart, NULL,
	                     "{\"service\":\"data\"}", &rp),
	    0);
	assert_int_equal(rp.status, 202);
	list = json_object_get(rp.body, "services");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(
	    json_string_value(json_array_get(list, 0)), "data");
	lc_rep_fini(&rp);

	assert_int_equal(call(fx, adm_h_system_restart, NULL, NULL, &rp), 0);
	list = json_object_get(rp.body, "services");
	assert_int_equal(json_array_size(list), 6);
	assert_string_equal(
	    json_string_value(json_array_get(list, 0)), "gateway");
	assert_string_equal(
	    json_string_value(json_array_get(list, 5)), "admin");
	lc_rep_fini(&rp);
}

static void
test_health_all_down(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	json_t       *svcs;

	// No clients at all: every probed service is down.
	assert_int_equal(call(fx, adm_h_system_health, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 503);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "status")), "degraded");
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "version")), "1.0.0");
	svcs = json_object_get(rp.body, "services");
	assert_int_equal(json_object_size(svcs), 6);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(svcs, "admin"), "status")),
	    "ok");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(svcs, "auth"), "status")),
	    "down");
	assert_true(json_is_null(
	    json_object_get(json_object_get(svcs, "auth"), "latency_ms")));
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(svcs, "auth"), "error")),
	    "timeout");
	lc_rep_fini(&rp);

	assert_int_equal(call(fx, adm_h_system_stats, NULL, NULL, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_null(json_object_get(rp.body, "users")));
	assert_true(json_is_null(json_object_get(rp.body, "uptime_s")));
	svcs = json_object_get(rp.body, "services");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(svcs, "gateway"), "status")),
	    "down");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(svcs, "admin"), "status")),
	    "ok");
	lc_rep_fini(&rp);
}

// GET serves a cached masked object; a write must show in the next GET.
static void
test_get_cache_follows_writes(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;

	assert_settings_default(fx); // fills the cache
	assert_int_equal(call(fx, adm_h_settings_patch,
	                     "{\"maintenance_mode\":true}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	assert_int_equal(call(fx, adm_h_settings_get, NULL, NULL, &rp), 0);
	assert_true(
	    json_is_true(json_object_get(rp.body, "maintenance_mode")));
	lc_rep_fini(&rp);
	assert_int_equal(call(fx, adm_h_settings_import,
	                     "{\"maintenance_mode\":false}", NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	assert_settings_default(fx);
}

static void
test_email_rules(void **state)
{
	LC_UNUSED(state);
	assert_true(adm__email_valid("a@b.co", 6));
	assert_true(adm__email_valid("a.b+c@sub.example.org", 21));
	assert_false(adm__email_valid("a@bco", 5));
	assert_false(adm__email_valid("a\x01@b.co", 7));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_get_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_patch_invalid_nothing_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_patch_audit_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_secret_masking, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_import_export_document, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_audit_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_test_email, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_restart_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_health_all_down, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_get_cache_follows_writes, setup, teardown),
		cmocka_unit_test(test_email_rules),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
