/*
 * admin.h -- private interface of the admin service (busbase-admin).
 *
 * The admin service owns admin.db: the runtime settings (one row per key,
 * the value as JSON text, plus a version counter) and the settings audit
 * log. It is the settings owner of the whole system (API.md §5.8): a change
 * is stored, installed locally, published as settings.changed and confirmed
 * by every process through the admin survey before the HTTP reply goes out.
 * It also gathers health, stats and restarts from the other processes
 * (API.md §5.9, fanout.c).
 *
 * Files: main.c (the lc_service_def), handlers.c (one function per op,
 * adm_ops[]), store.c (all SQL; adm_migrations[]), fanout.c (parallel
 * requests to the other services and the survey).
 *
 * Threading: handlers run on the worker threads of lc_bus. Each worker owns
 * one struct adm_db (its own connection and prepared statements, w->user).
 * struct adm_state is shared (w->svc->user); its clients and survey are
 * thread-safe, and settings writes are serialised by wlock.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_bus.h"
#include "lc_common.h"
#include "lc_env.h"
#include "lc_metrics.h"
#include "lc_msg.h"

#define ADM_AUDIT_LIMIT_DEF 50
#define ADM_AUDIT_LIMIT_MAX 500
#define ADM_PROBE_TIMEOUT_MS 1000   // health/stats probes (API.md §5.9)
#define ADM_CONFIRM_TIMEOUT_MS 2000 // settings confirmation survey
#define ADM_RESTART_SURVEY_MS 2000

// The metric counted once per changed settings key (API.md §6).
#define ADM_METRIC_SETTINGS_CHANGES "busbase_settings_changes_total"

// Shared state of the admin process (lc_service.user).
struct adm_state {
	// Serialises settings writes (patch, import): read current, apply,
	// store, install, publish, confirm happen as one step.
	pthread_mutex_t wlock;
	// Admin's surveyor (cfg.survey_url). NULL: no confirmation (tests).
	struct lc_survey *survey;
	// One client per service, indexed by enum lc_svc; NULL for the
	// gateway and admin itself (admin answers locally).
	struct lc_client *cl[LC_SVC_COUNT];
	// Detached restart threads still running (they use the survey):
	// adm_fini waits for them before closing it.
	atomic_int restart_jobs;
	// GET /admin/settings is the hot read (the L1 benchmark): the masked
	// object is built once per settings version; each reply gets a deep
	// copy (cheaper than copy + mask, and no jansson object is shared
	// between threads: jansson's refcount check is not TSan-clean).
	// Guarded by cache_mu.
	pthread_mutex_t cache_mu;
	json_t         *masked;         // NULL until first built
	int64_t         masked_version; // version masked was built from
};

// A worker's database handle: its connection plus prepared statements.
struct adm_db {
	sqlite3      *conn;
	sqlite3_stmt *st_begin;
	sqlite3_stmt *st_commit;
	sqlite3_stmt *st_rollback;
	sqlite3_stmt *st_version_get;
	sqlite3_stmt *st_version_set;
	sqlite3_stmt *st_settings_all;
	sqlite3_stmt *st_setting_put;
	sqlite3_stmt *st_audit_add;
	sqlite3_stmt *st_audit_list;
	sqlite3_stmt *st_audit_count;
};

/* ---- store.c: all SQL ---- */

extern const char *const adm_migrations[];
extern const size_t      adm_nmigrations;

// Prepares every statement on conn (borrowed; it must outlive the handle).
// Returns 0 or LC_EINTERNAL (logged). *out is freed with adm_store_close.
LC_NODISCARD int adm_store_open(sqlite3 *conn, struct adm_db **out);
void             adm_store_close(struct adm_db *db);

// Loads the stored settings over the defaults (unknown stored keys are
// ignored) and the version (0 when nothing was ever stored). *out is a new
// reference. Returns 0 or LC_EINTERNAL.
LC_NODISCARD int adm_store_load(
    struct adm_db *db, json_t **out, int64_t *out_version);

// In one transaction: bumps the version, stores the value from settings of
// every key in changes, and writes one audit row per change. changes is
// the array of lc_settings_apply, each element extended with "source"
// (patch|reset|import). rid may be "" (stored as null). On success
// *out_version is the new version. Returns 0 or LC_EINTERNAL (rolled back).
LC_NODISCARD int adm_store_save(struct adm_db *db, const json_t *settings,
    const json_t *changes, const char *rid, int64_t *out_version);

// One page of the audit log, newest first (ties by id, descending). key
// NULL: every key. *out_items is a new array of audit objects; *out_total
// counts all matches. Returns 0 or LC_EINTERNAL.
LC_NODISCARD int adm_store_audit_list(struct adm_db *db, const char *key,
    int64_t limit, int64_t offset, json_t **out_items, int64_t *out_total);

/* ---- handlers.c ---- */

extern const struct lc_op adm_ops[];
extern const size_t       adm_nops;

int adm_h_settings_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_settings_patch(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_settings_audit(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_settings_export(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_settings_import(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_settings_test_email(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_settings_snapshot(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_system_health(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_system_stats(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int adm_h_system_restart(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);

// Drops the cached masked settings (at shutdown).
void adm__cache_fini(struct adm_state *st);

// 1 if s (len bytes, already trimmed) is a valid e-mail address by the
// rules of API.md §2.5.
int adm__email_valid(const char *s, size_t len);

/* ---- fanout.c ---- */

// The answer of one service to one probe.
struct adm_probe {
	int           rv; // 0 (rep filled) or LC_ETIMEDOUT/LC_EUNAVAILABLE
	int64_t       latency_ms; // request to reply, integer ms
	struct lc_rep rep;        // decoded reply (lc_rep_fini'ed by _fini)
};

// One request to send in a parallel gather.
struct adm_call {
	int               svc; // enum lc_svc (for logs)
	struct lc_client *cl;  // NULL: not sent, probe rv LC_EUNAVAILABLE
	int               msg; // enum lc_msg
	struct adm_probe  probe;
};

// Sends every call at once (async; timeout_ms each) and returns at once;
// adm__gather_wait blocks until every call has answered or timed out, then
// frees g. Between the two the caller may do other work (the survey).
// rid is carried as the request id. Each call's probe is filled; release
// them with adm__calls_fini. Thread-safe; blocks only in _wait.
struct adm_gather;
struct adm_gather *adm__gather_start(
    struct adm_call *calls, size_t n, const char *rid, int timeout_ms);
void adm__gather_wait(struct adm_gather *g);
// Both in one call.
void adm__gather(
    struct adm_call *calls, size_t n, const char *rid, int timeout_ms);
void adm__calls_fini(struct adm_call *calls, size_t n);

// Asks every process connected to the admin survey op with body (borrowed)
// and waits up to timeout_ms. *out is a new array of reply bodies (empty
// when survey is NULL). Returns 0 or an LC_E* code.
LC_NODISCARD int adm__survey(struct lc_survey *survey, int msg, json_t *body,
    const char *rid, int timeout_ms, json_t **out);

// The shared state of the worker's service.
struct adm_state *adm__state(struct lc_worker *w);

#endif // ADMIN_H
