/*
 * main.c -- busbase-data: owns data.db, collections, records, rules,
 * indexes and relations (API.md §3, §5.1, §5.6). See data.h for how the
 * parts fit; this file holds the lc_service_def, the op table and the
 * set-up of each worker.
 *
 * Worker count. Reads run in parallel (WAL: readers never wait for the
 * writer); writes take turns on the process's one writer connection and
 * share COMMITs (lc_store.h). Workers are cheap
 * (a thread, a connection, a statement cache), so there are enough to
 * keep every core busy with reads while a few workers wait to write;
 * BB_WORKERS overrides it.
 */
#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"
#include "lc_service.h"
#include "relations.h"

#define DATA_WORKERS 16
// Workers waiting on the bus at once: reads are short and 2 cores serve
// them; the others wait for the writer (data_begin_write gives its place
// up) or for a place.
#define DATA_RECEIVERS 4
// Reads of records map the file (lc_db_set_mmap): 4 GiB of address space
// per connection, pages shared with the page cache.
#define DATA_MMAP_BYTES ((int64_t) 4 << 30)

static const struct lc_op data_ops[] = {
	{ LC_MSG_RECORDS_LIST, data_h_records_list },
	{ LC_MSG_RECORDS_CREATE, data_h_records_create },
	{ LC_MSG_RECORDS_GET, data_h_records_get },
	{ LC_MSG_RECORDS_UPDATE, data_h_records_update },
	{ LC_MSG_RECORDS_DELETE, data_h_records_delete },
	{ LC_MSG_RECORDS_RESTORE, data_h_records_restore },
	{ LC_MSG_RECORDS_COUNT, data_h_records_count },
	{ LC_MSG_RECORDS_BULK, data_h_records_bulk },
	{ LC_MSG_RECORDS_BATCH, data_h_records_batch },
	{ LC_MSG_COLLECTIONS_RECORDS_LIST, data_h_admin_records_list },
	{ LC_MSG_COLLECTIONS_RECORDS_CREATE, data_h_admin_records_create },
	{ LC_MSG_COLLECTIONS_RECORDS_GET, data_h_admin_records_get },
	{ LC_MSG_COLLECTIONS_RECORDS_UPDATE, data_h_admin_records_update },
	{ LC_MSG_COLLECTIONS_RECORDS_DELETE, data_h_admin_records_delete },
	{ LC_MSG_RECORDS_AGGREGATE, data_h_records_aggregate },
	{ LC_MSG_COLLECTIONS_LIST, data_h_collections_list },
	{ LC_MSG_COLLECTIONS_CREATE, data_h_collections_create },
	{ LC_MSG_COLLECTIONS_GET, data_h_collections_get },
	{ LC_MSG_COLLECTIONS_UPDATE, data_h_collections_update },
	{ LC_MSG_COLLECTIONS_DELETE, data_h_collections_delete },
	{ LC_MSG_COLLECTIONS_SCHEMA, data_h_collections_schema },
	{ LC_MSG_COLLECTIONS_DROP_COLUMN, data_h_collections_drop_column },
	{ LC_MSG_COLLECTIONS_SET_RULES, data_h_collections_set_rules },
	{ LC_MSG_COLLECTIONS_INDEX_LIST, data_h_collections_index_list },
	{ LC_MSG_COLLECTIONS_INDEX_CREATE, data_h_collections_index_create },
	{ LC_MSG_COLLECTIONS_INDEX_DELETE, data_h_collections_index_delete },
	{ LC_MSG_RELATIONS_LIST, data_h_relations_list },
	{ LC_MSG_RELATIONS_CREATE, data_h_relations_create },
	{ LC_MSG_RELATIONS_DELETE, data_h_relations_delete },
};

static int
data_worker_init(struct lc_worker *w)
{
	return (data_worker_open(w));
}

static int
data_init(struct lc_service *s)
{
	sqlite3 *db;
	int      rv;

	if ((rv = lc_db_open(s->db_path, &db)) != 0) {
		return (rv);
	}
	if ((rv = data_catalog_upgrade(db)) == 0) {
		rv = data_dedupe_open(db, (struct data_dedupe **) &s->user);
	}
	lc_db_close(db);
	return (rv);
}

static void
data_fini(struct lc_service *s)
{
	data_dedupe_close(s->user);
	s->user = NULL;
}

static void
data_worker_fini(struct lc_worker *w)
{
	data_worker_close(w);
}

int
main(int argc, char **argv)
{
	const struct lc_service_def def = {
		.svc         = LC_SVC_DATA,
		.ops         = data_ops,
		.nops        = LC_NELEM(data_ops),
		.migrations  = data_migrations,
		.nmigrations = data_nmigrations,
		.db_file     = "data.db",
		.nworkers    = DATA_WORKERS,
		.receivers   = DATA_RECEIVERS,
		.init        = data_init,
		.fini        = data_fini,
		.worker_init = data_worker_init,
		.worker_fini = data_worker_fini,
	};

	lc_db_set_mmap(DATA_MMAP_BYTES);
	return (lc_service_main(&def, argc, argv));
}
