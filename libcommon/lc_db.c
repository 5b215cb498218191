/*
 * lc_db.c -- SQLite open, pragmas and migrations (see lc_db.h).
 *
 * Connections are opened NOMUTEX: each worker thread owns its connection
 * (STYLE.md §4), so SQLite's per-connection mutex would only cost time.
 * Migrations are numbered by PRAGMA user_version and each step runs inside
 * BEGIN IMMEDIATE, re-reading the version under the write lock, so two
 * processes (or two workers) starting together apply every step once.
 */
#include "lc_db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lc_err.h"
#include "lc_log.h"

#define DB_BUSY_MS 5000

static int
sql_err(sqlite3 *db, int sr)
{
	return (sr == SQLITE_NOMEM ||
	            (db != NULL && sqlite3_errcode(db) == SQLITE_NOMEM)
	        ? LC_ENOMEM
	        : LC_EINTERNAL);
}

int
lc_db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int   sr;

	if ((sr = sqlite3_exec(db, sql, NULL, NULL, &msg)) != SQLITE_OK) {
		lc_log_err("LC-DB-EXEC", "%s (%d)",
		    msg != NULL ? msg : sqlite3_errstr(sr), sr);
		sqlite3_free(msg);
		return (sql_err(db, sr));
	}
	return (0);
}

static _Atomic int64_t db_mmap_bytes; // lc_db_set_mmap

void
lc_db_set_mmap(int64_t bytes)
{
	atomic_store(&db_mmap_bytes, bytes);
}

// Before SQLite initializes: no memory statistics. With them, every
// allocation of every connection takes one process-wide mutex (4% of the
// data service's CPU in a bulk-insert profile, in lock and unlock).
static void
sqlite_configure(void)
{
	(void) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
lc_db_open(const char *path, sqlite3 **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	sqlite3              *db   = NULL;
	int64_t               mmap_bytes;
	int                   sr;
	int                   rv = LC_EINTERNAL;

	(void) pthread_once(&once, sqlite_configure);
	sr = sqlite3_open_v2(path, &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (sr != SQLITE_OK) {
		lc_log_err("LC-DB-OPEN", "%s: %s (%d)", path,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(sr), sr);
		goto out;
	}
	if ((sr = sqlite3_busy_timeout(db, DB_BUSY_MS)) != SQLITE_OK) {
		lc_log_err("LC-DB-OPEN", "%s: busy_timeout: %s", path,
		    sqlite3_errmsg(db));
		goto out;
	}
	// WAL's compiled default is synchronous=FULL (9x slower writes);
	// NORMAL is durable across process crashes, which is what we need.
	if ((rv = lc_db_exec(db,
	         "PRAGMA journal_mode=WAL;"
	         "PRAGMA synchronous=NORMAL;"
	         "PRAGMA foreign_keys=ON;")) != 0) {
		lc_log_err("LC-DB-OPEN", "%s: pragmas failed", path);
		goto out;
	}
	if ((mmap_bytes = atomic_load(&db_mmap_bytes)) > 0) {
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA mmap_size=%lld",
		    (long long) mmap_bytes);
		if (lc_db_exec(db, sql) != 0) {
			lc_log_warn(
			    "LC-DB-OPEN", "%s: mmap_size failed", path);
		}
	}
	*out = db;
	db   = NULL;
	rv   = 0;
out:
	sqlite3_close_v2(db);
	return (rv);
}

void
lc_db_close(sqlite3 *db)
{
	// close_v2 accepts NULL and defers the close until the last
	// statement is finalized instead of failing.
	sqlite3_close_v2(db);
}

static int
user_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st = NULL;
	int           rv = LC_EINTERNAL;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK) {
		lc_log_err(
		    "LC-DB-MIGRATE", "user_version: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		lc_log_err(
		    "LC-DB-MIGRATE", "user_version: %s", sqlite3_errmsg(db));
		goto out;
	}
	*out = sqlite3_column_int(st, 0);
	rv   = 0;
out:
	sqlite3_finalize(st);
	return (rv);
}

int
lc_db_migrate(sqlite3 *db, const char *const *migrations, size_t n)
{
	char sql[64];
	int  v;
	int  rv;

	if ((rv = user_version(db, &v)) != 0) {
		return (rv);
	}
	if (v < 0 || (size_t) v > n) {
		lc_log_err("LC-DB-TOO-NEW",
		    "database schema version %d is newer than this program "
		    "(%zu); refusing to open it",
		    v, n);
		return (LC_EINTERNAL);
	}
	for (size_t i = (size_t) v; i < n; i++) {
		if ((rv = lc_db_exec(db, "BEGIN IMMEDIATE")) != 0) {
			return (rv);
		}
		// Someone else may have migrated while we waited for the lock.
		if ((rv = user_version(db, &v)) != 0) {
			goto fail;
		}
		if ((size_t) v > i) {
			if ((rv = lc_db_exec(db, "COMMIT")) != 0) {
				goto fail;
			}
			i = (size_t) v - 1;
			if ((size_t) v > n) {
				lc_log_err("LC-DB-TOO-NEW",
				    "database schema version %d is newer than "
				    "this program (%zu)",
				    v, n);
				return (LC_EINTERNAL);
			}
			continue;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%zu", i + 1);
		if ((rv = lc_db_exec(db, migrations[i])) != 0 ||
		    (rv = lc_db_exec(db, sql)) != 0 ||
		    (rv = lc_db_exec(db, "COMMIT")) != 0) {
			lc_log_err(
			    "LC-DB-MIGRATE", "migration %zu failed", i + 1);
			goto fail;
		}
		lc_log_info(
		    "LC-DB-MIGRATE", "schema now at version %zu", i + 1);
	}
	return (0);
fail:
	if (!sqlite3_get_autocommit(db)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return (rv);
}

int
lc_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
	sqlite3_stmt *st = NULL;
	int           sr;

	// PERSISTENT: statements are prepared once and reused for the life
	// of the connection.
	sr = sqlite3_prepare_v3(
	    db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (sr != SQLITE_OK || st == NULL) {
		lc_log_err("LC-DB-PREPARE", "%s (%d): %.200s",
		    sqlite3_errmsg(db), sr, sql);
		sqlite3_finalize(st);
		return (sr == SQLITE_OK ? LC_EINTERNAL : sql_err(db, sr));
	}
	*out = st;
	return (0);
}

void
lc_db_done(sqlite3_stmt *st)
{
	if (st == NULL) {
		return;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int64_t
lc_db_size(const char *path)
{
	struct stat sb;
	char        wal[4096];
	int64_t     n = 0;

	if (path == NULL) {
		return (0);
	}
	if (stat(path, &sb) == 0) {
		n += (int64_t) sb.st_size;
	}
	if ((size_t) snprintf(wal, sizeof(wal), "%s-wal", path) <
	        sizeof(wal) &&
	    stat(wal, &sb) == 0) {
		n += (int64_t) sb.st_size;
	}
	return (n);
}
