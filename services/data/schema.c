/*
 * schema.c -- data.db migrations (lc_db_migrate; append only, never edit a
 * shipped one). Migration 1 is the foundation's, unchanged. See data.h for
 * what each table is for. Record tables (r<N>) and their FTS tables (f<N>)
 * are created at run time by catalog.c, not here.
 */
#include "data.h"

const char *const data_migrations[] = {
	// 1: meta (key/value), with the schema version
	"CREATE TABLE meta ("
	"  key   TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") STRICT;"
	"INSERT INTO meta (key, value) VALUES ('schema_version', '1');",

	// 2: the catalog (collections, columns, its generation) and the
	// replies of answered writes (idempotency by request).
	"CREATE TABLE collections ("
	"  id         INTEGER PRIMARY KEY,"
	"  name       TEXT NOT NULL UNIQUE,"
	"  name_lc    TEXT NOT NULL UNIQUE," // lower(name): §3.1 case rule
	"  rules      TEXT NOT NULL,"        // JSON object, §3.3
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE columns ("
	"  coll_id INTEGER NOT NULL REFERENCES collections(id)"
	"          ON DELETE CASCADE,"
	"  name    TEXT NOT NULL,"
	"  name_lc TEXT NOT NULL,"
	"  type    TEXT NOT NULL CHECK (type IN"
	"          ('text','integer','real','boolean','json')),"
	"  pos     INTEGER NOT NULL," // creation order
	"  PRIMARY KEY (coll_id, name),"
	"  UNIQUE (coll_id, name_lc)"
	") STRICT;"
	"CREATE TABLE catalog_gen ("
	"  id  INTEGER PRIMARY KEY CHECK (id = 1),"
	"  gen INTEGER NOT NULL"
	") STRICT;"
	"INSERT INTO catalog_gen (id, gen) VALUES (1, 1);"
	"CREATE TABLE requests ("
	"  fp     BLOB PRIMARY KEY," // BLAKE2b of rid, op, caller, input
	"  status INTEGER NOT NULL,"
	"  body   TEXT NOT NULL,"
	"  at     INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX requests_at ON requests (at);"
	"UPDATE meta SET value = '2' WHERE key = 'schema_version';",

	// 3: field validation rules (§3.9, the whole PUT body), the indexes
	// the admin made (§5.1; unique rules keep their own internal index)
	// and relations (§3.10, §5.6). Deleting a collection deletes its
	// rows here (foreign keys are on).
	"ALTER TABLE collections ADD COLUMN validation TEXT NOT NULL "
	"  DEFAULT '{\"fields\":{}}';"
	"CREATE TABLE indexes ("
	"  coll_id    INTEGER NOT NULL REFERENCES collections(id)"
	"             ON DELETE CASCADE,"
	"  col_name   TEXT NOT NULL,"
	"  is_unique  INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (coll_id, col_name)"
	") STRICT;"
	"CREATE TABLE relations ("
	"  id         TEXT PRIMARY KEY," // ULID
	"  from_coll  INTEGER NOT NULL REFERENCES collections(id)"
	"             ON DELETE CASCADE,"
	"  from_field TEXT NOT NULL,"
	"  to_coll    INTEGER NOT NULL REFERENCES collections(id)"
	"             ON DELETE CASCADE,"
	"  on_delete  TEXT NOT NULL CHECK (on_delete IN"
	"             ('cascade','set_null','restrict')),"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (from_coll, from_field)"
	") STRICT;"
	"CREATE INDEX relations_to ON relations (to_coll);"
	"UPDATE meta SET value = '3' WHERE key = 'schema_version';",
	// 4: collections whose FTS index has rows staged in this transaction
	// (sqlgen.c, data_fts_apply); always empty once committed.
	"CREATE TABLE fts_dirty (fts INTEGER PRIMARY KEY) STRICT;"
	"UPDATE meta SET value = '4' WHERE key = 'schema_version';",
	// 5: the replies of answered writes in arrival order (dedupe.c),
	// replacing requests (keyed by fingerprint: a random page per write).
	"CREATE TABLE replies ("
	"  id     INTEGER PRIMARY KEY,"
	"  fp     BLOB NOT NULL," // BLAKE2b of rid, op, caller, input
	"  status INTEGER NOT NULL,"
	"  body   TEXT NOT NULL,"
	"  at     INTEGER NOT NULL"
	") STRICT;"
	"INSERT INTO replies (fp, status, body, at)"
	"  SELECT fp, status, body, at FROM requests ORDER BY at;"
	"DROP TABLE requests;"
	"UPDATE meta SET value = '5' WHERE key = 'schema_version';",
};

const size_t data_nmigrations = LC_NELEM(data_migrations);
