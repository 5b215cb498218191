/*
 * lc_db_test.c -- open + pragmas, migrations (fresh, incremental, failing,
 * too new), statement helpers and lc_db_size.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lc_db.h"
#include "lc_err.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void) state;
	snprintf(dir, sizeof(dir), "/tmp/lc_db_test_XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(path, sizeof(path), "%s/t.db", dir);
	return (0);
}

static int
teardown(void **state)
{
	char p[160];

	(void) state;
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
	return (0);
}

static int64_t
one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t       v  = -1;

	assert_int_equal(lc_db_prepare(db, sql, &st), 0);
	if (sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int64(st, 0);
	}
	lc_db_done(st);
	sqlite3_finalize(st);
	return (v);
}

static const char *const mig[] = {
	"CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
	"CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES "
	"a(id));"
	"INSERT INTO a (name) VALUES ('x');",
	"ALTER TABLE a ADD COLUMN extra TEXT;",
};

static void
test_open_pragmas(void **state)
{
	sqlite3      *db = NULL;
	sqlite3_stmt *st = NULL;

	(void) state;
	assert_int_equal(lc_db_open(path, &db), 0);
	assert_int_equal(one_int(db, "PRAGMA synchronous"), 1); // NORMAL
	assert_int_equal(one_int(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(one_int(db, "PRAGMA busy_timeout"), 5000);
	assert_int_equal(one_int(db, "PRAGMA mmap_size"), 0); // by default
	lc_db_close(db);
	lc_db_set_mmap(1 << 20); // connections opened from now on map 1 MiB
	assert_int_equal(lc_db_open(path, &db), 0);
	assert_int_equal(one_int(db, "PRAGMA mmap_size"), 1 << 20);
	lc_db_set_mmap(0);
	assert_int_equal(lc_db_prepare(db, "PRAGMA journal_mode", &st), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *) sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_not_equal(lc_db_prepare(db, "SELEC nonsense", &st), 0);
	assert_int_not_equal(lc_db_exec(db, "nonsense"), 0);
	lc_db_done(NULL);
	lc_db_close(db);
	lc_db_close(NULL);
	// A directory that does not exist.
	assert_int_equal(
	    lc_db_open("/nonexistent/dir/x.db", &db), LC_EINTERNAL);
}

static void
test_migrate(void **state)
{
	sqlite3 *db = NULL;

	(void) state;
	assert_int_equal(lc_db_open(path, &db), 0);
	// Two steps first, then the third on a later "release".
	assert_int_equal(lc_db_migrate(db, mig, 2), 0);
	assert_int_equal(one_int(db, "PRAGMA user_version"), 2);
	assert_int_equal(one_int(db, "SELECT count(*) FROM a"), 1);
	assert_int_equal(lc_db_migrate(db, mig, 2), 0); // idempotent
	assert_int_equal(one_int(db, "SELECT count(*) FROM a"), 1);
	assert_int_equal(lc_db_migrate(db, mig, 3), 0);
	assert_int_equal(one_int(db, "PRAGMA user_version"), 3);
	assert_int_equal(
	    one_int(db, "SELECT count(*) FROM pragma_table_info('a')"), 3);
	// Foreign keys are enforced.
	assert_int_not_equal(
	    lc_db_exec(db, "INSERT INTO b (a_id) VALUES (999)"), 0);
	// Older code refuses the newer database.
	assert_int_equal(lc_db_migrate(db, mig, 1), LC_EINTERNAL);
	lc_db_close(db);
	assert_true(lc_db_size(path) > 0);
	assert_int_equal(lc_db_size("/nonexistent.db"), 0);
}

static void
test_migrate_failure(void **state)
{
	static const char *const bad[] = {
		"CREATE TABLE c (id INTEGER);",
		"CREATE TABLE d (id INTEGER); THIS IS NOT SQL;",
	};
	sqlite3 *db = NULL;

	(void) state;
	assert_int_equal(lc_db_open(":memory:", &db), 0);
	assert_int_not_equal(lc_db_migrate(db, bad, 2), 0);
	// Step 1 stays applied, step 2 was rolled back entirely.
	assert_int_equal(one_int(db, "PRAGMA user_version"), 1);
	assert_int_equal(one_int(db,
	                     "SELECT count(*) FROM sqlite_master WHERE "
	                     "name = 'd'"),
	    0);
	assert_int_equal(one_int(db,
	                     "SELECT count(*) FROM sqlite_master WHERE "
	                     "name = 'c'"),
	    1);
	lc_db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_open_pragmas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate, setup, teardown),
		cmocka_unit_test(test_migrate_failure),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
