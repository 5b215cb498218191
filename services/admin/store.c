/*
 * store.c -- all SQL of the admin service (admin.db).
 *
 * settings          one row per key that was ever written; value is the
 *                   JSON text of the value (defaults fill missing keys)
 * settings_version  a single row: the settings version, bumped once per
 *                   stored change; followers compare it (lc_settings.h)
 * settings_audit    one row per key whose value changed (API.md §5.8);
 *                   old/new values are JSON text, secrets already masked
 *
 * Every statement is prepared once per worker connection and every value
 * is bound. Each use ends in lc_db_done (reset + clear bindings).
 */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"
#include "lc_settings.h"

const char *const adm_migrations[] = {
	// 1: settings, version, audit log
	"CREATE TABLE settings ("
	"  key   TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") STRICT;"
	"CREATE TABLE settings_version ("
	"  id      INTEGER PRIMARY KEY CHECK (id = 1),"
	"  version INTEGER NOT NULL"
	") STRICT;"
	"INSERT INTO settings_version (id, version) VALUES (1, 0);"
	"CREATE TABLE settings_audit ("
	"  id         TEXT PRIMARY KEY,"
	"  key        TEXT NOT NULL,"
	"  old_value  TEXT NOT NULL,"
	"  new_value  TEXT NOT NULL,"
	"  source     TEXT NOT NULL"
	"             CHECK (source IN ('patch', 'reset', 'import')),"
	"  changed_at INTEGER NOT NULL,"
	"  request_id TEXT"
	") STRICT;"
	"CREATE INDEX settings_audit_newest"
	"  ON settings_audit (changed_at DESC, id DESC);"
	"CREATE INDEX settings_audit_key"
	"  ON settings_audit (key, changed_at DESC, id DESC);",
};
const size_t adm_nmigrations = LC_NELEM(adm_migrations);

void
adm_store_close(struct adm_db *db)
{
	if (db == NULL) {
		return;
	}
	sqlite3_finalize(db->st_begin);
	sqlite3_finalize(db->st_commit);
	sqlite3_finalize(db->st_rollback);
	sqlite3_finalize(db->st_version_get);
	sqlite3_finalize(db->st_version_set);
	sqlite3_finalize(db->st_settings_all);
	sqlite3_finalize(db->st_setting_put);
	sqlite3_finalize(db->st_audit_add);
	sqlite3_finalize(db->st_audit_list);
	sqlite3_finalize(db->st_audit_count);
	lc_free(db);
}

int
adm_store_open(sqlite3 *conn, struct adm_db **out)
{
	struct adm_db *db = lc_calloc(1, sizeof(*db));
	int            rv;

	db->conn = conn;
	if ((rv = lc_db_prepare(conn, "BEGIN IMMEDIATE", &db->st_begin)) !=
	        0 ||
	    (rv = lc_db_prepare(conn, "COMMIT", &db->st_commit)) != 0 ||
	    (rv = lc_db_prepare(conn, "ROLLBACK", &db->st_rollback)) != 0 ||
	    (rv = lc_db_prepare(conn,
	         "SELECT version FROM settings_version WHERE id = 1",
	         &db->st_version_get)) != 0 ||
	    (rv = lc_db_prepare(conn,
	         "UPDATE settings_version SET version = ?1 WHERE id = 1",
	         &db->st_version_set)) != 0 ||
	    (rv = lc_db_prepare(conn, "SELECT key, value FROM settings",
	         &db->st_settings_all)) != 0 ||
	    (rv = lc_db_prepare(conn,
	         "INSERT INTO settings (key, value) VALUES (?1, ?2)"
	         " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	         &db->st_setting_put)) != 0 ||
	    (rv = lc_db_prepare(conn,
	         "INSERT INTO settings_audit (id, key, old_value, new_value,"
	         " source, changed_at, request_id)"
	         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	         &db->st_audit_add)) != 0 ||
	    (rv = lc_db_prepare(conn,
	         "SELECT id, key, old_value, new_value, source, changed_at,"
	         " request_id FROM settings_audit"
	         " WHERE (?1 IS NULL OR key = ?1)"
	         " ORDER BY changed_at DESC, id DESC LIMIT ?2 OFFSET ?3",
	         &db->st_audit_list)) != 0 ||
	    (rv = lc_db_prepare(conn,
	         "SELECT count(*) FROM settings_audit"
	         " WHERE (?1 IS NULL OR key = ?1)",
	         &db->st_audit_count)) != 0) {
		adm_store_close(db);
		return (rv);
	}
	*out = db;
	return (0);
}

// Runs a statement that returns no row; 0 or LC_EINTERNAL (logged).
static int
step_done(struct adm_db *db, sqlite3_stmt *st, const char *what)
{
	int sr = sqlite3_step(st);
	int rv = 0;

	if (sr != SQLITE_DONE) {
		lc_log_err("ADM-SQL", "%s: %s (%d)", what,
		    sqlite3_errmsg(db->conn), sr);
		rv = LC_EINTERNAL;
	}
	lc_db_done(st);
	return (rv);
}

// Parses a JSON text column (any value); NULL on a corrupt value (logged).
static json_t *
column_json(sqlite3_stmt *st, int col)
{
	const char  *txt = (const char *) sqlite3_column_text(st, col);
	json_error_t err;
	json_t      *v;

	if (txt == NULL) {
		return (json_null());
	}
	v = json_loadb(txt, (size_t) sqlite3_column_bytes(st, col),
	    JSON_DECODE_ANY, &err);
	if (v == NULL) {
		lc_log_err("ADM-SQL", "corrupt JSON value: %s", err.text);
	}
	return (v);
}

int
adm_store_load(struct adm_db *db, json_t **out, int64_t *out_version)
{
	sqlite3_stmt *st       = db->st_settings_all;
	json_t       *settings = lc_settings_defaults();
	int64_t       version  = 0;
	int           rv       = LC_EINTERNAL;
	int           sr;

	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *) sqlite3_column_text(st, 0);
		json_t     *v;

		// A key this build does not know (dropped from settings.def)
		// is ignored rather than served.
		if (key == NULL || lc_settings_def_find(key) == NULL) {
			continue;
		}
		if ((v = column_json(st, 1)) == NULL) {
			continue; // keep the default
		}
		json_object_set_new(settings, key, v);
	}
	if (sr != SQLITE_DONE) {
		lc_log_err("ADM-SQL", "settings load: %s (%d)",
		    sqlite3_errmsg(db->conn), sr);
		lc_db_done(st);
		goto out;
	}
	lc_db_done(st);

	st = db->st_version_get;
	if ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		version = sqlite3_column_int64(st, 0);
	} else if (sr != SQLITE_DONE) {
		lc_log_err("ADM-SQL", "version load: %s (%d)",
		    sqlite3_errmsg(db->conn), sr);
		lc_db_done(st);
		goto out;
	}
	lc_db_done(st);
	*out         = settings;
	settings     = NULL;
	*out_version = version;
	rv           = 0;
out:
	json_decref(settings);
	return (rv);
}

// Binds a JSON value as its compact text.
static int
bind_json(sqlite3_stmt *st, int idx, const json_t *v)
{
	char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	int   sr;

	if (txt == NULL) {
		return (SQLITE_NOMEM);
	}
	sr = sqlite3_bind_text(st, idx, txt, -1, SQLITE_TRANSIENT);
	free(txt); // jansson allocates with malloc
	return (sr);
}

static int
put_setting(struct adm_db *db, const char *key, const json_t *v)
{
	sqlite3_stmt *st = db->st_setting_put;

	if (sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    bind_json(st, 2, v) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	return (step_done(db, st, "setting_put"));
}

static int
add_audit(struct adm_db *db, const json_t *ch, int64_t now, const char *rid)
{
	sqlite3_stmt *st   = db->st_audit_add;
	const char   *key  = json_string_value(json_object_get(ch, "key"));
	const char *source = json_string_value(json_object_get(ch, "source"));
	const json_t *oldv = json_object_get(ch, "old_value");
	const json_t *newv = json_object_get(ch, "new_value");
	char          id[LC_ULID_LEN + 1];
	int           sr = SQLITE_OK;

	if (key == NULL || source == NULL) {
		lc_log_err("ADM-SQL", "audit: malformed change");
		return (LC_EINTERNAL);
	}
	lc_ulid_new(id);
	if (oldv == NULL) {
		oldv = json_null();
	}
	if (newv == NULL) {
		newv = json_null();
	}
	if (sqlite3_bind_text(st, 1, id, LC_ULID_LEN, SQLITE_TRANSIENT) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    bind_json(st, 3, oldv) != SQLITE_OK ||
	    bind_json(st, 4, newv) != SQLITE_OK ||
	    sqlite3_bind_text(st, 5, source, -1, SQLITE_TRANSIENT) !=
	        SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, now) != SQLITE_OK) {
		sr = SQLITE_ERROR;
	} else if (rid != NULL && rid[0] != '\0') {
		sr = sqlite3_bind_text(st, 7, rid, -1, SQLITE_TRANSIENT);
	} else {
		sr = sqlite3_bind_null(st, 7);
	}
	if (sr != SQLITE_OK) {
		lc_log_err(
		    "ADM-SQL", "audit bind: %s", sqlite3_errmsg(db->conn));
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	return (step_done(db, st, "audit_add"));
}

int
adm_store_save(struct adm_db *db, const json_t *settings,
    const json_t *changes, const char *rid, int64_t *out_version)
{
	int64_t now     = lc_now_ms();
	int64_t version = 0;
	int     in_txn  = 0;
	int     rv;
	int     sr;
	size_t  i;
	json_t *ch;

	if ((rv = step_done(db, db->st_begin, "begin")) != 0) {
		goto out;
	}
	in_txn = 1;

	// The stored version is the source of truth (not the installed one):
	// it survives restarts and only moves inside this transaction.
	rv = LC_EINTERNAL;
	if ((sr = sqlite3_step(db->st_version_get)) == SQLITE_ROW) {
		version = sqlite3_column_int64(db->st_version_get, 0);
	} else if (sr != SQLITE_DONE) {
		lc_log_err("ADM-SQL", "version_get: %s (%d)",
		    sqlite3_errmsg(db->conn), sr);
		lc_db_done(db->st_version_get);
		goto out;
	}
	lc_db_done(db->st_version_get);
	version++;
	if (sqlite3_bind_int64(db->st_version_set, 1, version) != SQLITE_OK) {
		lc_db_done(db->st_version_set);
		goto out;
	}
	if ((rv = step_done(db, db->st_version_set, "version_set")) != 0) {
		goto out;
	}

	json_array_foreach(changes, i, ch)
	{
		const char *key =
		    json_string_value(json_object_get(ch, "key"));
		const json_t *v;

		if (key == NULL ||
		    (v = json_object_get(settings, key)) == NULL) {
			lc_log_err("ADM-SQL", "save: change without a value");
			rv = LC_EINTERNAL;
			goto out;
		}
		if ((rv = put_setting(db, key, v)) != 0 ||
		    (rv = add_audit(db, ch, now, rid)) != 0) {
			goto out;
		}
	}
	if ((rv = step_done(db, db->st_commit, "commit")) != 0) {
		goto out;
	}
	in_txn       = 0;
	*out_version = version;
out:
	if (in_txn) {
		// ROLLBACK may itself fail if SQLite already rolled back; the
		// error is logged and the connection is usable either way.
		(void) step_done(db, db->st_rollback, "rollback");
	}
	return (rv);
}

int
adm_store_audit_list(struct adm_db *db, const char *key, int64_t limit,
    int64_t offset, json_t **out_items, int64_t *out_total)
{
	sqlite3_stmt *st    = db->st_audit_count;
	json_t       *items = json_array();
	int64_t       total = 0;
	int           rv    = LC_EINTERNAL;
	int           sr;

	if (key != NULL) {
		if (sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT) !=
		    SQLITE_OK) {
			lc_db_done(st);
			goto out;
		}
	}
	if ((sr = sqlite3_step(st)) != SQLITE_ROW) {
		lc_log_err("ADM-SQL", "audit_count: %s (%d)",
		    sqlite3_errmsg(db->conn), sr);
		lc_db_done(st);
		goto out;
	}
	total = sqlite3_column_int64(st, 0);
	lc_db_done(st);

	st = db->st_audit_list;
	if ((key != NULL &&
	        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT) !=
	            SQLITE_OK) ||
	    sqlite3_bind_int64(st, 2, limit) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, offset) != SQLITE_OK) {
		lc_db_done(st);
		goto out;
	}
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		json_t     *it  = json_object();
		const char *rid = (const char *) sqlite3_column_text(st, 6);
		json_t     *oldv;
		json_t     *newv;

		oldv = column_json(st, 2);
		newv = column_json(st, 3);
		json_object_set_new(it, "id",
		    json_string((const char *) sqlite3_column_text(st, 0)));
		json_object_set_new(it, "key",
		    json_string((const char *) sqlite3_column_text(st, 1)));
		json_object_set_new(
		    it, "old_value", oldv != NULL ? oldv : json_null());
		json_object_set_new(
		    it, "new_value", newv != NULL ? newv : json_null());
		json_object_set_new(it, "source",
		    json_string((const char *) sqlite3_column_text(st, 4)));
		json_object_set_new(it, "changed_at",
		    json_integer(sqlite3_column_int64(st, 5)));
		json_object_set_new(it, "request_id",
		    rid != NULL ? json_string(rid) : json_null());
		json_array_append_new(items, it);
	}
	if (sr != SQLITE_DONE) {
		lc_log_err("ADM-SQL", "audit_list: %s (%d)",
		    sqlite3_errmsg(db->conn), sr);
		lc_db_done(st);
		goto out;
	}
	lc_db_done(st);
	*out_items = items;
	items      = NULL;
	*out_total = total;
	rv         = 0;
out:
	json_decref(items);
	return (rv);
}
