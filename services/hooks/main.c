/*
 * main.c -- busbase-hooks: owns hooks.db, hook definitions and their sandboxed
 * runs (issue: hooks).
 *
 * For now a real process with no business ops: lc_service answers the
 * common ops (svc.health, svc.metrics, svc.info, svc.stats, svc.settings),
 * follows the settings and takes part in the admin survey. The first
 * migration creates the meta table so the database exists and carries its
 * schema version; the hooks issue appends its own migrations after it.
 */
#include "lc_common.h"
#include "lc_msg.h"
#include "lc_service.h"

static const char *const migrations[] = {
	// 1: meta (key/value), with the schema version
	"CREATE TABLE meta ("
	"  key   TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") STRICT;"
	"INSERT INTO meta (key, value) VALUES ('schema_version', '1');",
};

static const struct lc_service_def def = {
	.svc         = LC_SVC_HOOKS,
	.migrations  = migrations,
	.nmigrations = LC_NELEM(migrations),
	.db_file     = "hooks.db",
	.nworkers    = 2,
};

int
main(int argc, char **argv)
{
	return (lc_service_main(&def, argc, argv));
}
