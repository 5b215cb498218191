/*
 * lc_service.h -- the skeleton of a service process: read config, open and
 * migrate its own database, start the settings follower, the event
 * publisher and the worker pool, answer the common ops (svc.health,
 * svc.metrics, svc.info, svc.settings) and the admin survey
 * (system.restart), run until SIGTERM/SIGINT, drain, exit.
 *
 * A service's main.c fills a struct lc_service_def and calls
 * lc_service_main. Restart (API.md §5.8): stop taking work, finish
 * in-flight requests for at most 10 s, execv(/proc/self/exe, argv).
 */
#ifndef LC_SERVICE_H
#define LC_SERVICE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_bus.h"
#include "lc_cfg.h"
#include "lc_metrics.h"
#include "lc_store.h"

struct lc_service_def {
	int                 svc; // enum lc_svc
	const struct lc_op *ops; // business ops (common ops are added)
	size_t              nops;
	const char *const  *migrations; // schema, applied by lc_db_migrate
	size_t              nmigrations;
	const char         *db_file; // file name under DATA_DIR ("auth.db")
	int                 owns_settings; // 1 for admin: no settings follower
	int                 nworkers;      // default worker count
	int                 receivers; // lc_bus_server_cfg.receivers (0: all)
	// Optional hooks:
	int (*init)(struct lc_service *s); // after db + bus, before serving
	void (*fini)(struct lc_service *s);
	int (*worker_init)(struct lc_worker *w); // after w->db is opened
	void (*worker_fini)(struct lc_worker *w);
	void (*collect)(struct lc_service *s); // refresh gauges before export
	// Fills the svc.stats reply object with the counts this service owns
	// (e.g. {"users":12,"sessions":30}); uses its own connection.
	int (*stats)(struct lc_worker *w, json_t *out);
};

struct lc_service {
	const struct lc_service_def *def;
	struct lc_cfg                cfg;
	const char                  *name; // "auth", ...
	char                         db_path[1100];
	struct lc_writer            *writer; // the one write connection
	                                     // (lc_store.h), with db_file
	struct lc_metrics    *metrics;
	struct lc_pub        *pub; // this service's events
	struct lc_bus_server *server;
	int64_t               started_ms;
	void                 *user; // the service's own state
};

// Asks the main thread to restart this process (drain up to 10 s, then
// execv) about 200 ms from now, so the current reply goes out first.
void lc_service_restart_soon(struct lc_service *s);

// Bus requests this process has handled since it started (thread-safe).
uint64_t lc_service_requests(const struct lc_service *s);

// Runs the service; returns the process exit code.
int lc_service_main(const struct lc_service_def *def, int argc, char **argv);

#endif // LC_SERVICE_H
