/*
 * lc_service.c -- the skeleton every service process runs (lc_service.h):
 * config, database + migrations, metrics, publisher, settings follower,
 * worker pool with the common svc.* ops, signal handling, drain, restart.
 *
 * Threads: signals are blocked before any thread starts, so only the main
 * thread takes them (sigtimedwait, every 200 ms, also checks for a
 * requested restart). Shutdown order: settings follower (no more surveys),
 * the server (drain up to 10 s), def->fini, publisher, metrics.
 */
#include "lc_service.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"
#include "lc_settings.h"

#define DRAIN_MS 10000
#define RESTART_DELAY_MS 200
#define TICK_MS 200
#define DEFAULT_WORKERS 4

// Process-wide state of the one service this process runs; owner:
// lc_service_main. Workers and the survey thread read it through atomics.
static atomic_int                      restart_req;
static atomic_int_least64_t            restart_at;
static _Atomic(struct lc_bus_server *) live_server;
static int64_t                         started_mono;
static pthread_mutex_t                 collect_mtx = PTHREAD_MUTEX_INITIALIZER;

void
lc_service_restart_soon(struct lc_service *s)
{
	LC_UNUSED(s);
	atomic_store(&restart_at, lc_mono_ms() + RESTART_DELAY_MS);
	atomic_store(&restart_req, 1);
}

static int64_t
uptime_s(void)
{
	return ((lc_mono_ms() - started_mono) / 1000);
}

static json_t *
info_json(const struct lc_service *s)
{
	struct lc_bus_server *srv = atomic_load(&live_server);

	return (json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "service", s->name,
	    "pid", (json_int_t) getpid(), "uptime_s", (json_int_t) uptime_s(),
	    "requests", (json_int_t) lc_bus_server_requests(srv), "started_ms",
	    (json_int_t) s->started_ms, "version", LC_VERSION));
}

uint64_t
lc_service_requests(const struct lc_service *s)
{
	struct lc_bus_server *srv = atomic_load(&live_server);

	LC_UNUSED(s);
	return (srv != NULL ? lc_bus_server_requests(srv) : 0);
}

/* ---- the common ops ---- */

static int
h_health(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(rq);
	// Not ready until it holds admin's settings: a service running on
	// defaults must not look healthy (API.md §5.8: settings survive
	// restarts).
	if (!lc_settings_ready()) {
		lc_rep_json(rp, 503,
		    json_pack("{s:s, s:s}", "status", "starting", "service",
		        w->svc->name));
		return (0);
	}
	lc_rep_json(rp, 200,
	    json_pack("{s:s, s:s, s:I}", "status", "ok", "service",
	        w->svc->name, "uptime_s", (json_int_t) uptime_s()));
	return (0);
}

static int
h_metrics(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct lc_service *s = w->svc;

	LC_UNUSED(rq);
	// collect hooks refresh gauges; one at a time across workers.
	pthread_mutex_lock(&collect_mtx);
	if (s->def->collect != NULL) {
		s->def->collect(s);
	}
	if (s->def->db_file != NULL) {
		lc_metrics_set(s->metrics, "busbase_db_size_bytes", "",
		    (double) lc_db_size(s->db_path));
	}
	pthread_mutex_unlock(&collect_mtx);
	lc_rep_json(rp, 200,
	    json_pack("{s:o}", "families", lc_metrics_export(s->metrics)));
	return (0);
}

static int
h_info(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(rq);
	lc_rep_json(rp, 200, info_json(w->svc));
	return (0);
}

static int
h_stats(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	json_t *out = json_object();
	int     rv;

	LC_UNUSED(rq);
	if (w->svc->def->stats != NULL &&
	    (rv = w->svc->def->stats(w, out)) != 0) {
		json_decref(out);
		return (rv);
	}
	lc_rep_json(rp, 200, out);
	return (0);
}

static int
h_settings(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(rq);
	lc_rep_json(rp, 200,
	    json_pack("{s:s, s:I}", "service", w->svc->name, "version",
	        (json_int_t) lc_settings_version()));
	return (0);
}

// svc.ping: an empty answer (the liveness check, lc_bus.c's survey ping).
static int
h_ping(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(w);
	LC_UNUSED(rq);
	lc_rep_json(rp, 200, json_object());
	return (0);
}

static const struct lc_op common_ops[] = {
	{ LC_MSG_SVC_HEALTH, h_health },
	{ LC_MSG_SVC_METRICS, h_metrics },
	{ LC_MSG_SVC_INFO, h_info },
	{ LC_MSG_SVC_STATS, h_stats },
	{ LC_MSG_SVC_SETTINGS, h_settings },
	{ LC_MSG_SVC_PING, h_ping },
};

/* ---- admin's survey (other than svc.settings) ---- */

// 1 if body.services is absent/null (everyone) or names this process.
static int
restart_targets_me(const json_t *body, const char *name)
{
	const json_t *list =
	    json_is_object(body) ? json_object_get(body, "services") : NULL;
	size_t  i;
	json_t *v;

	if (list == NULL || json_is_null(list)) {
		return (1);
	}
	json_array_foreach(list, i, v)
	{
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), name) == 0) {
			return (1);
		}
	}
	return (0);
}

// Survey ops forwarded by the settings follower; w->user is the service.
static int
survey_extra(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct lc_service *s = w->user;
	char               text[128];
	int                me;

	switch (rq->op) {
	case LC_MSG_SVC_INFO:
		lc_rep_json(rp, 200, info_json(s));
		return (0);
	case LC_MSG_SVC_HEALTH:
		lc_rep_json(rp, 200,
		    json_pack("{s:s, s:s, s:I}", "status", "ok", "service",
		        s->name, "uptime_s", (json_int_t) uptime_s()));
		return (0);
	case LC_MSG_SYSTEM_RESTART:
		me = restart_targets_me(rq->body, s->name);
		lc_rep_json(rp, 200,
		    json_pack(
		        "{s:s, s:b}", "service", s->name, "restarting", me));
		if (me) {
			lc_log_info(
			    "SVC-RESTART", "restart requested by admin");
			lc_service_restart_soon(s);
		}
		return (0);
	default:
		snprintf(text, sizeof(text),
		    "Operation '%s' is not available.", rq->op_name);
		lc_rep_error(rp, LC_ENOT_FOUND, text, NULL);
		return (0);
	}
}

/* ---- workers ---- */

// On the worker's thread: its own SQLite connection, then the service's
// own per-worker setup.
static int
worker_init(struct lc_worker *w, void *arg)
{
	struct lc_service *s = arg;
	int                rv;

	if (s->def->db_file != NULL &&
	    (rv = lc_db_open(s->db_path, &w->db)) != 0) {
		return (rv);
	}
	if (s->def->worker_init != NULL &&
	    (rv = s->def->worker_init(w)) != 0) {
		lc_db_close(w->db);
		w->db = NULL;
		return (rv);
	}
	return (0);
}

static void
worker_fini(struct lc_worker *w, void *arg)
{
	struct lc_service *s = arg;

	if (s->def->worker_fini != NULL) {
		s->def->worker_fini(w);
	}
	lc_db_close(w->db);
	w->db = NULL;
}

/* ---- main ---- */

static int
db_prepare(struct lc_service *s)
{
	sqlite3 *db = NULL;
	int      n;
	int      rv;

	n = snprintf(s->db_path, sizeof(s->db_path), "%s/%s", s->cfg.data_dir,
	    s->def->db_file);
	if (n < 0 || (size_t) n >= sizeof(s->db_path)) {
		lc_log_err("SVC-DB", "database path too long");
		return (LC_EINTERNAL);
	}
	// Migrations run once here, on one connection; workers open their
	// own afterwards.
	if ((rv = lc_db_open(s->db_path, &db)) != 0 ||
	    (rv = lc_db_migrate(
	         db, s->def->migrations, s->def->nmigrations)) != 0) {
		lc_log_err("SVC-DB", "cannot open or migrate %s", s->db_path);
	}
	lc_db_close(db);
	return (rv);
}

/*
 * Liveness. nng 1.5.2 can stop completing the SP handshake of new
 * connections on a listener (seen about once in 10 restarts of every
 * process at once: accepted connections whose header was sent but never
 * read, while older connections work on), leaving the service unreachable
 * for every peer that dials again; lc_bus.c's redialling cannot help when
 * the listener itself is stuck. So every LIVENESS_EVERY_MS the main thread
 * dials its own bus address afresh and calls svc.ping, and a process that
 * has had no answer that way for LIVENESS_MS restarts itself. The window
 * is long enough that workers busy with slow requests do not count as
 * dead.
 */
#define LIVENESS_EVERY_MS 2000
#define LIVENESS_WAIT_MS 1000
#define LIVENESS_MS 8000

// One check: a new connection to url, svc.ping, an answer. 1 if answered.
static int
liveness_ping(const char *url)
{
	struct lc_client *c = NULL;
	struct lc_req     rq;
	struct lc_rep     rp;
	int64_t           until = lc_mono_ms() + LIVENESS_WAIT_MS;
	int               ok    = 0;

	if (lc_client_open(url, "self", 1, &c) != 0) {
		return (0);
	}
	while (lc_client_peers(c) <= 0 && lc_mono_ms() < until) {
		struct timespec ms = { 0, 10 * 1000000L };

		(void) nanosleep(&ms, NULL);
	}
	lc_req_init(&rq);
	lc_rep_init(&rp);
	rq.op = LC_MSG_SVC_PING;
	(void) snprintf(rq.op_name, sizeof(rq.op_name), "%s",
	    lc_msg_name(LC_MSG_SVC_PING));
	ok = lc_client_call(c, &rq, LIVENESS_WAIT_MS, &rp) == 0 &&
	    rp.status == 200;
	lc_req_fini(&rq);
	lc_rep_fini(&rp);
	lc_client_close(c);
	return (ok);
}

// 1 when the self check says this process should restart.
static int
liveness_failed(const char *url, int64_t *last_try, int64_t *last_ok)
{
	if (url == NULL || lc_mono_ms() - *last_try < LIVENESS_EVERY_MS) {
		return (0);
	}
	*last_try = lc_mono_ms();
	if (liveness_ping(url)) {
		*last_ok = lc_mono_ms();
	} else if (lc_mono_ms() - *last_ok > LIVENESS_MS) {
		lc_log_err("SVC-LIVENESS",
		    "no answer on my own bus address for %d ms: restarting",
		    LIVENESS_MS);
		return (1);
	}
	return (0);
}

// Waits for SIGTERM/SIGINT/SIGHUP (all stop), a restart request or a
// failed liveness check on url (NULL: none). Returns 1 for a restart, 0
// for a stop.
static int
wait_for_end(const sigset_t *set, const char *url)
{
	struct timespec tick     = { 0, TICK_MS * 1000000L };
	int64_t         last_try = lc_mono_ms();
	int64_t         last_ok  = last_try;
	int             sig;

	for (;;) {
		if ((sig = sigtimedwait(set, NULL, &tick)) > 0) {
			lc_log_info("SVC-SIGNAL", "signal %d: stopping", sig);
			return (0);
		}
		if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			lc_log_err(
			    "SVC-SIGNAL", "sigtimedwait: %s", strerror(errno));
			return (0);
		}
		if (atomic_load(&restart_req) &&
		    lc_mono_ms() >= atomic_load(&restart_at)) {
			return (1);
		}
		if (liveness_failed(url, &last_try, &last_ok)) {
			return (1);
		}
	}
}

int
lc_service_main(const struct lc_service_def *def, int argc, char **argv)
{
	struct lc_service        s;
	struct lc_bus_server_cfg sc;
	struct lc_bus_server    *server = NULL;
	struct lc_op            *ops    = NULL;
	sigset_t                 set;
	int                      inited  = 0;
	int                      restart = 0;
	int                      rc      = 1;
	int                      nworkers;
	char                     exe_path[4096] = "";
	ssize_t                  n;

	LC_UNUSED(argc);
	memset(&s, 0, sizeof(s));
	s.def  = def;
	s.name = lc_svc_name(def->svc);
	if (s.name == NULL) {
		fprintf(stderr, "busbase: unknown service %d\n", def->svc);
		return (2);
	}
	lc_log_init(s.name);
	if (sodium_init() < 0) {
		lc_log_err("SVC-START", "libsodium initialisation failed");
		return (1);
	}
	// Before any thread exists: every thread inherits the mask, so the
	// signals reach only sigtimedwait in this thread.
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	// Resolved now: the executable the restart will run again.
	if ((n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1)) >
	    0) {
		exe_path[n] = '\0';
	}
	if (lc_cfg_load(&s.cfg) != 0) {
		lc_log_err("SVC-CONFIG",
		    "%s: invalid configuration (see above); exiting", s.name);
		return (2);
	}
	// API.md §1.12: a service started on its own without the secrets
	// refuses to start (the launcher generates them).
	if (s.cfg.secret_key_len == 0 || s.cfg.admin_secret_len == 0) {
		lc_log_err("SVC-CONFIG",
		    "%s: SECRET_KEY and ADMIN_SECRET must be set (the busbase "
		    "launcher generates them); exiting",
		    s.name);
		return (2);
	}
	s.started_ms = lc_now_ms();
	started_mono = lc_mono_ms();
	if (def->db_file != NULL &&
	    (db_prepare(&s) != 0 ||
	        lc_writer_open(s.db_path, &s.writer) != 0)) {
		goto out;
	}
	s.metrics = lc_metrics_alloc(s.name);
	if (def->db_file != NULL) {
		lc_metrics_family(s.metrics, "busbase_db_size_bytes",
		    LC_MT_GAUGE, "Size of the service's database and WAL.");
	}
	if (lc_pub_open(s.cfg.events_url[def->svc], s.name, &s.pub) != 0) {
		goto out;
	}
	if (!def->owns_settings &&
	    lc_settings_follow(&s.cfg, s.name, survey_extra, &s) != 0) {
		goto out;
	}
	if (def->init != NULL && def->init(&s) != 0) {
		lc_log_err("SVC-START", "%s: init failed", s.name);
		goto out;
	}
	inited = 1;

	// Business ops first (searched in order), then the common ones.
	ops = lc_calloc(def->nops + LC_NELEM(common_ops), sizeof(*ops));
	if (def->nops > 0) {
		memcpy(ops, def->ops, def->nops * sizeof(*ops));
	}
	memcpy(ops + def->nops, common_ops, sizeof(common_ops));
	nworkers = s.cfg.workers > 0 ? s.cfg.workers
	    : def->nworkers > 0      ? def->nworkers
	                             : DEFAULT_WORKERS;
	memset(&sc, 0, sizeof(sc));
	sc.url         = s.cfg.url[def->svc];
	sc.nworkers    = nworkers;
	sc.receivers   = def->receivers;
	sc.ops         = ops;
	sc.nops        = def->nops + LC_NELEM(common_ops);
	sc.metrics     = s.metrics;
	sc.worker_init = worker_init;
	sc.worker_fini = worker_fini;
	sc.arg         = &s;
	sc.svc         = &s;
	if (lc_bus_server_open(&sc, &server) != 0) {
		goto out;
	}
	s.server = server;
	atomic_store(&live_server, server);
	lc_log_info("SVC-START", "%s %s on %s, %d workers, db %s", s.name,
	    LC_VERSION, sc.url, nworkers,
	    def->db_file != NULL ? s.db_path : "-");

	restart = wait_for_end(&set, sc.url);
	rc      = 0;
out:
	// Surveys stop first (they read the server), then drain requests.
	lc_settings_unfollow();
	atomic_store(&live_server, NULL);
	lc_bus_server_close(server, DRAIN_MS);
	s.server = NULL;
	if (inited && def->fini != NULL) {
		def->fini(&s);
	}
	lc_pub_close(s.pub);
	lc_writer_close(s.writer);
	s.writer = NULL;
	lc_metrics_free(s.metrics);
	lc_free(ops);
	if (restart && getenv(LC_SUPERVISED_ENV) != NULL) {
		lc_log_info("SVC-RESTART",
		    "%s: exiting for the launcher to "
		    "start it again",
		    s.name);
		return (LC_EXIT_RESTART);
	}
	if (restart) {
		lc_log_info("SVC-RESTART", "%s: re-executing", s.name);
		// The signal mask survives execv; the new image blocks the
		// same set anyway, and a pending SIGTERM still stops it
		// cleanly.
		// The resolved path keeps the process name (exec of
		// /proc/self/exe would rename it "exe"); /proc/self/exe is
		// the fallback when that path is gone.
		lc_cloexec_all();
		if (exe_path[0] != '\0') {
			execv(exe_path, argv);
			lc_log_warn("SVC-RESTART", "execv %s: %s", exe_path,
			    strerror(errno));
		}
		execv("/proc/self/exe", argv);
		lc_log_err("SVC-RESTART", "execv: %s", strerror(errno));
		return (1);
	}
	lc_log_info("SVC-STOP", "%s stopped (exit %d)", s.name, rc);
	return (rc);
}
