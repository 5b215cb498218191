/*
 * main.c -- busbase-data: owns data.db, collections, records, rules, indexes
 * and relations (issue: data).
 *
 * For now a real process with no business ops: lc_service answers the
 * common ops (svc.health, svc.metrics, svc.info, svc.stats, svc.settings),
 * follows the settings and takes part in the admin survey. The first
 * migration creates the meta table so the database exists and carries its
 * schema version; the data issue appends its own migrations after it.
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
	.svc         = LC_SVC_DATA,
	.migrations  = migrations,
	.nmigrations = LC_NELEM(migrations),
	.db_file     = "data.db",
	.nworkers    = 2,
};

int
main(int argc, char **argv)
{
	return (lc_service_main(&def, argc, argv));
}
