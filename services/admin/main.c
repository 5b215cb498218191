/*
 * main.c -- busbase-admin: the settings owner and the system view
 * (API.md §5.8, §5.9). See admin.h for how the parts fit.
 *
 * Start-up order: lc_service opens and migrates admin.db, then adm_init
 * loads the stored settings (defaults for missing keys, version 0 if none)
 * and installs them before any request is served, opens admin's surveyor
 * and one client per service.
 */
#include <pthread.h>
#include <time.h>

#include "admin.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_service.h"
#include "lc_settings.h"

#define ADM_WORKERS 4
#define ADM_CLIENT_INFLIGHT 64

// Loads the settings with a connection of its own (the workers' are
// per-thread) and installs them.
static int
settings_boot(struct lc_service *s)
{
	sqlite3       *conn     = NULL;
	struct adm_db *db       = NULL;
	json_t        *settings = NULL;
	int64_t        version  = 0;
	int            rv;

	// lc_service migrated the file already; running the migrations again
	// is a no-op and keeps this function correct on its own.
	if ((rv = lc_db_open(s->db_path, &conn)) != 0 ||
	    (rv = lc_db_migrate(conn, adm_migrations, adm_nmigrations)) != 0 ||
	    (rv = adm_store_open(conn, &db)) != 0 ||
	    (rv = adm_store_load(db, &settings, &version)) != 0) {
		goto out;
	}
	lc_settings_install(settings, version);
	lc_log_info("ADM-SETTINGS-LOAD", "settings version %lld loaded",
	    (long long) version);
out:
	json_decref(settings);
	adm_store_close(db);
	lc_db_close(conn);
	return (rv);
}

static void
adm_fini(struct lc_service *s)
{
	struct adm_state *st   = s->user;
	struct timespec   tick = { 0, 10 * 1000 * 1000 };
	int               wait_ms;
	int               svc;

	if (st == NULL) {
		return;
	}
	s->user = NULL;
	// A restart thread may still be asking the survey (at most ~2 s).
	for (wait_ms = 0; atomic_load(&st->restart_jobs) > 0 && wait_ms < 5000;
	     wait_ms += 10) {
		nanosleep(&tick, NULL);
	}
	for (svc = 0; svc < LC_SVC_COUNT; svc++) {
		lc_client_close(st->cl[svc]);
	}
	lc_survey_close(st->survey);
	adm__cache_fini(st);
	pthread_mutex_destroy(&st->cache_mu);
	pthread_mutex_destroy(&st->wlock);
	lc_free(st);
}

static int
adm_init(struct lc_service *s)
{
	struct adm_state *st = lc_calloc(1, sizeof(*st));
	int               svc;
	int               rv;

	pthread_mutex_init(&st->wlock, NULL);
	pthread_mutex_init(&st->cache_mu, NULL);
	if ((rv = settings_boot(s)) != 0) {
		lc_log_err(
		    "ADM-INIT", "cannot load settings from %s", s->db_path);
		goto out;
	}
	if ((rv = lc_survey_open(s->cfg.survey_url, &st->survey)) != 0) {
		lc_log_err(
		    "ADM-INIT", "cannot listen on %s", s->cfg.survey_url);
		goto out;
	}
	// Every service and at least one gateway (as health counts them).
	lc_survey_expect(st->survey, LC_SVC_HOOKS - LC_SVC_AUTH + 2);
	for (svc = LC_SVC_AUTH; svc <= LC_SVC_HOOKS; svc++) {
		if ((rv = lc_client_open(s->cfg.url[svc], lc_svc_name(svc),
		         ADM_CLIENT_INFLIGHT, &st->cl[svc])) != 0) {
			lc_log_err(
			    "ADM-INIT", "cannot dial %s", s->cfg.url[svc]);
			goto out;
		}
	}
	lc_metrics_family(s->metrics, ADM_METRIC_SETTINGS_CHANGES,
	    LC_MT_COUNTER, "Settings keys changed through the admin API.");
	lc_metrics_add(s->metrics, ADM_METRIC_SETTINGS_CHANGES, "", 0);
	s->user = st;
	st      = NULL;
out:
	if (st != NULL) {
		s->user = st;
		adm_fini(s);
	}
	return (rv);
}

static int
adm_worker_init(struct lc_worker *w)
{
	struct adm_db *db;
	int            rv;

	if ((rv = adm_store_open(w->db, &db)) != 0) {
		return (rv);
	}
	w->user = db;
	return (0);
}

static void
adm_worker_fini(struct lc_worker *w)
{
	adm_store_close(w->user);
	w->user = NULL;
}

int
main(int argc, char **argv)
{
	// The op and migration tables live in handlers.c and store.c (where
	// the unit tests link them), so their sizes are known only here.
	const struct lc_service_def def = {
		.svc           = LC_SVC_ADMIN,
		.ops           = adm_ops,
		.nops          = adm_nops,
		.migrations    = adm_migrations,
		.nmigrations   = adm_nmigrations,
		.db_file       = "admin.db",
		.owns_settings = 1,
		.nworkers      = ADM_WORKERS,
		.init          = adm_init,
		.fini          = adm_fini,
		.worker_init   = adm_worker_init,
		.worker_fini   = adm_worker_fini,
	};

	return (lc_service_main(&def, argc, argv));
}
