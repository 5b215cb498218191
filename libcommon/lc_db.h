/*
 * lc_db.h -- SQLite helpers every service uses. lc_db_open sets WAL,
 * synchronous=NORMAL, busy_timeout and foreign_keys. Migrations are an array
 * of SQL scripts; migration i (0-based) brings PRAGMA user_version to i+1.
 * Each runs in its own transaction; a database newer than the code is
 * refused (LC_EINTERNAL, logged). One connection per thread.
 */
#ifndef LC_DB_H
#define LC_DB_H

#include <sqlite3.h>
#include <stddef.h>

#include "lc_common.h"

LC_NODISCARD int lc_db_open(const char *path, sqlite3 **out);
// Memory-maps up to bytes of the file in connections opened from now on
// (process-wide; 0, the default: none). Reads of a large file then copy
// no page (the data service: 1.6x on filtered lists over a million
// records). Not for a process that also maps and unmaps big buffers
// (auth's Argon2id): every munmap stalls the page faults of every thread,
// measured as /auth/me p99 3.8 -> 26 ms during a login flood.
void             lc_db_set_mmap(int64_t bytes);
void             lc_db_close(sqlite3 *db);
LC_NODISCARD int lc_db_migrate(
    sqlite3 *db, const char *const *migrations, size_t n);
LC_NODISCARD int lc_db_exec(sqlite3 *db, const char *sql);
LC_NODISCARD int lc_db_prepare(
    sqlite3 *db, const char *sql, sqlite3_stmt **out);
// Resets and clears bindings (the end of every statement use).
void lc_db_done(sqlite3_stmt *st);
// Size of the database file plus its WAL, in bytes (0 if unknown).
int64_t lc_db_size(const char *path);

#endif // LC_DB_H
