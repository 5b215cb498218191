/*
 * control.c -- the gateway process: configuration, one bus client per
 * service, the settings follower (which also carries admin's survey: we
 * answer svc.info and system.restart here), the session view's
 * subscription to auth's events (sessions.c), the HTTP daemon, and the main
 * thread, which waits for SIGTERM/SIGINT or a restart request, drains
 * (stop accepting, finish in-flight requests for at most 10 s, never stop
 * MHD with suspended connections) and exits or re-executes itself.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_settings.h"

// The process's gateway. Owner: gw_main (sets it before the follower
// starts, clears it after the follower stopped); read by gw_survey_extra.
static struct gw *self;

// 1 if body.services (an array of names) names the gateway.
static int
names_gateway(const json_t *body)
{
	const json_t *v;
	size_t        i;

	json_array_foreach(json_object_get(body, "services"), i, v)
	{
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "gateway") == 0) {
			return (1);
		}
	}
	return (0);
}

int
gw_survey_extra(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct gw *g = self;
	char       msg[128];
	int        yes;

	LC_UNUSED(w);
	if (g == NULL) {
		return (LC_EUNAVAILABLE);
	}
	switch (rq->op) {
	case LC_MSG_SVC_INFO:
		lc_rep_json(rp, 200,
		    json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "service",
		        "gateway", "pid", (json_int_t) getpid(), "uptime_s",
		        (json_int_t) ((lc_now_ms() - g->started_ms) / 1000),
		        "requests", (json_int_t) atomic_load(&g->requests),
		        "started_ms", (json_int_t) g->started_ms, "version",
		        LC_VERSION));
		return (0);
	case LC_MSG_SYSTEM_RESTART:
		yes = names_gateway(rq->body);
		lc_rep_json(rp, 200,
		    json_pack("{s:s, s:b}", "service", "gateway", "restarting",
		        yes));
		if (yes) {
			// The main thread restarts once this reply is out.
			atomic_store(&g->restart, 1);
		}
		return (0);
	default:
		(void) snprintf(msg, sizeof(msg),
		    "Operation '%s' is not available.", rq->op_name);
		lc_rep_error(rp, LC_ENOT_FOUND, msg, NULL);
		return (LC_ENOT_FOUND);
	}
}

// Follows log_level (called on the follower's thread after each change).
static void
on_settings(void *arg)
{
	char lvl[16];
	int  l;

	LC_UNUSED(arg);
	if (lc_settings_str("log_level", lvl, sizeof(lvl)) == 0 &&
	    (l = lc_log_level_parse(lvl)) >= 0) {
		lc_log_set_level(l);
	}
}

static int
env_threads(void)
{
	const char *v = lc_cfg_env("GW_THREADS", "2");
	int64_t     n;

	if (lc_parse_i64(v, strlen(v), 1, 64, &n) != 0) {
		lc_log_warn("GW-CONFIG", "GW_THREADS=%s ignored (1..64)", v);
		return (2);
	}
	return ((int) n);
}

// MHD takes up to 4096 connections; a soft limit of 1024 descriptors
// would refuse them long before. Raise it as far as the hard limit allows.
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= 8192) {
		return;
	}
	rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		lc_log_warn("GW-START", "cannot raise the descriptor limit");
	}
}

static void
clients_close(struct gw *g)
{
	int svc;
	int i;

	for (svc = 0; svc < LC_SVC_COUNT; svc++) {
		for (i = 0; i < GW_CLIENTS; i++) {
			lc_client_close(g->client[svc][i]);
			g->client[svc][i] = NULL;
		}
	}
}

// After HTTP stopped: the subscriber's resync uses the auth client.
static void
gw_free(struct gw *g)
{
	gw_sessions_unfollow(g);
	clients_close(g);
	gw_view_free(g->view);
	gw_auth_free(g->auth);
	gw_rl_free(g->rl);
	lc_metrics_free(g->metrics);
	lc_free(g->openapi);
	sodium_memzero(&g->cfg, sizeof(g->cfg));
	lc_free(g);
}

int
gw_main(int argc, char **argv)
{
	struct gw      *g = lc_calloc(1, sizeof(*g));
	sigset_t        set;
	json_malloc_t   jmalloc;
	int             following = 0;
	int             restart   = 0;
	int             rc        = 1;
	int             svc;
	int             i;
	struct timespec tick = { 0, 100 * 1000000L };

	// Block the stop signals in every thread (all start after this);
	// the main thread takes them with sigtimedwait.
	(void) sigemptyset(&set);
	(void) sigaddset(&set, SIGTERM);
	(void) sigaddset(&set, SIGINT);
	(void) pthread_sigmask(SIG_BLOCK, &set, NULL);
	(void) signal(SIGPIPE, SIG_IGN);

	// After a restart by execv(/proc/self/exe) the kernel names us "exe";
	// keep the name ps, top and pgrep show.
	(void) prctl(PR_SET_NAME, "busbase-gateway", 0, 0, 0);
	lc_log_init("gateway");
	if (sodium_init() < 0) {
		lc_log_err("GW-START", "sodium_init failed");
		goto out;
	}
	if (lc_cfg_load(&g->cfg) != 0) {
		goto out;
	}
	if (g->cfg.secret_key_len == 0 || g->cfg.admin_secret_len == 0) {
		lc_log_err("GW-START",
		    "SECRET_KEY and ADMIN_SECRET must be set "
		    "(the launcher provides them)");
		goto out;
	}
	raise_nofile();
	g->argc       = argc;
	g->argv       = argv;
	g->started_ms = lc_now_ms();
	g->threads    = env_threads();
	json_get_alloc_funcs(&jmalloc, &g->json_free);

	gw_routes_init();
	g->openapi = gw_openapi_build(&g->openapi_len);
	g->metrics = lc_metrics_alloc("gateway");
	gw_metrics_init(g);
	g->rl   = gw_rl_alloc();
	g->auth = gw_auth_alloc(&g->cfg);
	g->view = gw_view_alloc();
	// One client per MHD thread and service (GW_CLIENTS at most).
	g->nclients = g->threads < GW_CLIENTS ? g->threads : GW_CLIENTS;
	for (svc = LC_SVC_AUTH; svc < LC_SVC_COUNT; svc++) {
		for (i = 0; i < g->nclients; i++) {
			if (lc_client_open(g->cfg.url[svc], lc_svc_name(svc),
			        GW_INFLIGHT_MAX, &g->client[svc][i]) != 0) {
				lc_log_err("GW-START",
				    "cannot open a client for %s",
				    lc_svc_name(svc));
				goto out;
			}
		}
	}
	// Sessions: subscribe to auth's events; the first snapshot comes as
	// soon as auth answers (until then JWTs are checked with auth).
	if (gw_sessions_follow(g) != 0) {
		lc_log_err("GW-START", "cannot follow auth's sessions");
		goto out;
	}
	self = g;
	lc_settings_on_change(on_settings, g);
	if (lc_settings_follow(&g->cfg, "gateway", gw_survey_extra, g) != 0) {
		lc_log_err("GW-START", "cannot follow the settings");
		goto out;
	}
	following = 1;
	on_settings(g);
	if (gw_http_start(g) != 0) {
		goto out;
	}
	lc_log_info("GW-START", "listening on port %d, %d threads",
	    g->cfg.port, g->threads);

	for (;;) {
		int sig = sigtimedwait(&set, NULL, &tick);

		gw_alog_flush(0); // request lines at most ~100 ms late

		if (sig == SIGTERM || sig == SIGINT) {
			lc_log_info("GW-STOP", "signal %d: draining", sig);
			break;
		}
		if (atomic_load(&g->restart)) {
			restart = 1;
			lc_log_info(
			    "GW-RESTART", "restart requested: draining");
			break;
		}
	}
	if (restart) {
		// Let the survey reply leave before we stop answering.
		struct timespec ts = { 0, 200 * 1000000L };

		(void) nanosleep(&ts, NULL);
	}
	gw_http_stop(g, GW_DRAIN_MS);
	gw_alog_flush(1);
	if (g->mhd != NULL) {
		// Requests are still suspended on the bus: exit without
		// touching MHD (stopping it would abort).
		lc_log_err("GW-STOP", "exiting with requests in flight");
		_exit(restart ? 1 : 0);
	}
	rc = 0;
out:
	if (following) {
		lc_settings_unfollow();
	}
	self = NULL;
	if (restart && rc == 0 && getenv(LC_SUPERVISED_ENV) != NULL) {
		gw_free(g);
		lc_log_info("GW-RESTART",
		    "exiting for the launcher to start "
		    "it again");
		return (LC_EXIT_RESTART);
	}
	if (restart && rc == 0) {
		gw_free(g);
		lc_log_info("GW-RESTART", "re-executing");
		lc_cloexec_all();
		(void) execv("/proc/self/exe", argv);
		lc_log_err("GW-RESTART", "execv: %s", strerror(errno));
		return (1);
	}
	if (g->mhd != NULL) {
		gw_http_stop(g, 0);
	}
	gw_free(g);
	return (rc);
}
