/*
 * lc_store_test.c -- the statement cache (by SQL text, trimmed past its
 * max), the shared writer (write transactions run on it and exclude each
 * other across threads, reads stay on the worker's connection), commit
 * (events attached to the reply as effects, in order; none on rollback or
 * a failed commit) and the background checkpointer (the WAL is copied
 * back without any COMMIT doing it), and group commit (concurrent writers
 * share COMMITs, a member's rollback undoes only its own writes, and a
 * commit returns only once its write is durable and visible).
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc_db.h"
#include "lc_err.h"
#include "lc_msg.h"
#include "lc_store.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	sqlite3 *db;

	(void) state;
	snprintf(dir, sizeof(dir), "/tmp/lc_store_test_XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(path, sizeof(path), "%s/t.db", dir);
	if (lc_db_open(path, &db) != 0 ||
	    lc_db_exec(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)") !=
	        0) {
		return (-1);
	}
	lc_db_close(db);
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
count(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t       n = -1;

	assert_int_equal(lc_db_prepare(db, "SELECT count(*) FROM t", &st), 0);
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return (n);
}

static void
test_stmts(void **state)
{
	sqlite3         *db;
	struct lc_stmts *c;
	sqlite3_stmt    *a;
	char             sql[64];

	(void) state;
	assert_int_equal(lc_db_open(path, &db), 0);
	c = lc_stmts_new(db, 3);
	a = lc_stmts_get(c, "SELECT 1");
	assert_non_null(a);
	// Keyed by the text, not the pointer.
	snprintf(sql, sizeof(sql), "SELECT %d", 1);
	assert_ptr_equal(lc_stmts_get(c, sql), a);
	assert_null(lc_stmts_get(c, "SELEKT nonsense"));
	for (int i = 2; i < 100; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		assert_non_null(lc_stmts_get(c, sql)); // grows past 64 slots
	}
	assert_int_equal(lc_stmts_count(c), 99);
	lc_stmts_trim(c);
	assert_int_equal(lc_stmts_count(c), 0);
	lc_stmts_free(c);
	lc_stmts_free(NULL);
	lc_db_close(db);
}

struct racer {
	struct lc_writer *wr;
	int               in; // writers inside at once (max seen)
	int               max;
	pthread_mutex_t   mu;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	sqlite3      *db;
	struct lc_txn t;

	assert_int_equal(lc_db_open(path, &db), 0);
	lc_txn_init(&t, db, r->wr);
	for (int i = 0; i < 50; i++) {
		sqlite3_stmt *st;

		assert_int_equal(lc_txn_begin_write(&t), 0);
		pthread_mutex_lock(&r->mu);
		r->max = ++r->in > r->max ? r->in : r->max;
		pthread_mutex_unlock(&r->mu);
		st = lc_txn_stmt(&t, "INSERT INTO t (v) VALUES ('x')");
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		lc_db_done(st);
		pthread_mutex_lock(&r->mu);
		r->in--;
		pthread_mutex_unlock(&r->mu);
		assert_int_equal(lc_txn_commit(&t, NULL, NULL), 0);
	}
	lc_txn_fini(&t);
	lc_db_close(db);
	return (NULL);
}

static void
test_writer(void **state)
{
	struct racer r = { 0 };
	pthread_t    th[4];
	sqlite3     *db;

	(void) state;
	assert_int_equal(lc_writer_open(path, &r.wr), 0);
	pthread_mutex_init(&r.mu, NULL);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, race, &r), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
	}
	assert_int_equal(r.max, 1);
	assert_int_equal(lc_db_open(path, &db), 0);
	assert_int_equal(count(db), 200);
	lc_db_close(db);
	pthread_mutex_destroy(&r.mu);
	lc_writer_close(r.wr);
	lc_writer_close(NULL);
}

static void
test_txn(void **state)
{
	struct lc_writer *wr;
	sqlite3          *db;
	struct lc_txn     t;
	struct lc_rep     rp;
	sqlite3_stmt     *st;

	(void) state;
	assert_int_equal(lc_writer_open(path, &wr), 0);
	assert_int_equal(lc_db_open(path, &db), 0);
	lc_txn_init(&t, db, wr);
	assert_ptr_equal(lc_txn_db(&t), db);
	// A write runs on the writer, not on the worker's connection.
	assert_int_equal(lc_txn_begin_write(&t), 0);
	assert_ptr_not_equal(lc_txn_db(&t), db);
	assert_int_equal(lc_txn_begin_read(&t), LC_EINTERNAL); // nested
	st = lc_txn_stmt(&t, "INSERT INTO t (v) VALUES ('a')");
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	lc_db_done(st);
	lc_txn_emit(
	    &t, NULL, LC_TOPIC_SESS_REVOKED, json_pack("{s:i}", "n", 1));
	lc_txn_emit(
	    &t, NULL, LC_TOPIC_USER_CHANGED, json_pack("{s:i}", "n", 2));
	assert_int_equal(count(db), 0); // not committed yet
	lc_rep_init(&rp);
	assert_int_equal(lc_txn_commit(&t, NULL, &rp), 0);
	assert_ptr_equal(lc_txn_db(&t), db);
	assert_int_equal(count(db), 1);
	assert_int_equal(json_array_size(rp.fx), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(json_array_get(rp.fx, 1), "p"), "n")),
	    2);
	lc_rep_fini(&rp);
	// Rolled back: nothing written, no effect, the writer free again.
	assert_int_equal(lc_txn_begin_write(&t), 0);
	st = lc_txn_stmt(&t, "INSERT INTO t (v) VALUES ('b')");
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	lc_db_done(st);
	lc_txn_emit(&t, NULL, LC_TOPIC_USER_CHANGED, json_pack("{}"));
	lc_txn_rollback(&t);
	lc_txn_rollback(&t); // harmless twice
	assert_int_equal(count(db), 1);
	lc_rep_init(&rp);
	assert_int_equal(lc_txn_begin_write(&t), 0);
	assert_int_equal(lc_txn_commit(&t, NULL, &rp), 0);
	assert_null(rp.fx);
	lc_rep_fini(&rp);
	assert_int_equal(lc_txn_commit(&t, NULL, NULL), LC_EINTERNAL);
	// A read transaction stays on the worker's connection.
	assert_int_equal(lc_txn_begin_read(&t), 0);
	assert_ptr_equal(lc_txn_db(&t), db);
	lc_txn_rollback(&t);
	// Without a writer, writes run on the worker's connection.
	lc_txn_fini(&t);
	lc_txn_init(&t, db, NULL);
	assert_int_equal(lc_txn_begin_write(&t), 0);
	assert_ptr_equal(lc_txn_db(&t), db);
	lc_txn_rollback(&t);
	lc_txn_fini(&t);
	lc_txn_fini(&t); // harmless twice
	lc_db_close(db);
	lc_writer_close(wr);
}

static void
test_checkpointer(void **state)
{
	struct lc_writer *wr;
	sqlite3          *db;
	struct lc_txn     t;
	long long         size = 0;

	(void) state;
	assert_int_equal(lc_writer_open(path, &wr), 0);
	assert_int_equal(lc_db_open(path, &db), 0);
	lc_txn_init(&t, db, wr);
	// About 1200 pages of WAL: past the 1000 that wake the checkpointer.
	for (int i = 0; i < 300; i++) {
		sqlite3_stmt *st;

		assert_int_equal(lc_txn_begin_write(&t), 0);
		st = lc_txn_stmt(
		    &t, "INSERT INTO t (v) VALUES (zeroblob(16000))");
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		lc_db_done(st);
		assert_int_equal(lc_txn_commit(&t, NULL, NULL), 0);
	}
	// COMMIT never checkpoints (the WAL hook replaced that), so the
	// database file grows only when the checkpointer copies the WAL
	// back: within 3 s it holds the 4.8 MB.
	for (int i = 0; i < 300; i++) {
		struct stat sb;

		assert_int_equal(stat(path, &sb), 0);
		size = (long long) sb.st_size;
		if (size > 4000000) {
			break;
		}
		usleep(10000);
	}
	assert_true(size > 4000000);
	lc_txn_fini(&t);
	lc_db_close(db);
	lc_writer_close(wr);
}

// Writes n rows of 120 kB (30 pages each) through t.
static void
write_blobs(struct lc_txn *t, int n)
{
	for (int i = 0; i < n; i++) {
		sqlite3_stmt *st;

		assert_int_equal(lc_txn_begin_write(t), 0);
		st = lc_txn_stmt(
		    t, "INSERT INTO t (v) VALUES (zeroblob(120000))");
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		lc_db_done(st);
		assert_int_equal(lc_txn_commit(t, NULL, NULL), 0);
	}
}

// A reader that holds an old snapshot stops the WAL from starting over;
// once it is gone the checkpointer restarts the WAL, so its file stays
// near the restart threshold (64 MiB) under constant writes (it used to
// grow for good: 6 GB after seeding a million records).
static void
test_wal_bounded(void **state)
{
	struct lc_writer *wr;
	sqlite3          *db;
	sqlite3          *rd;
	sqlite3_stmt     *pin;
	struct lc_txn     t;
	char              wal[160];
	struct stat       sb;

	(void) state;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(lc_writer_open(path, &wr), 0);
	assert_int_equal(lc_db_open(path, &db), 0);
	assert_int_equal(lc_db_open(path, &rd), 0);
	lc_txn_init(&t, db, wr);
	// A read transaction on rd keeps its snapshot.
	assert_int_equal(lc_db_exec(rd, "BEGIN"), 0);
	assert_int_equal(lc_db_prepare(rd, "SELECT count(*) FROM t", &pin), 0);
	assert_int_equal(sqlite3_step(pin), SQLITE_ROW);
	// About 18,000 pages (72 MB) of WAL: past the restart threshold.
	write_blobs(&t, 600);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 60000000);
	sqlite3_finalize(pin);
	assert_int_equal(lc_db_exec(rd, "COMMIT"), 0);
	lc_db_close(rd);
	// 144 MB more: without restarts the file would pass 216 MB.
	for (int i = 0; i < 12; i++) {
		write_blobs(&t, 100);
		usleep(100000); // the checkpointer's turn
	}
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size < 100000000);
	lc_txn_fini(&t);
	lc_db_close(db);
	lc_writer_close(wr);
}

struct grouper {
	struct lc_writer *wr;
	int               id;
	int               lost; // rows committed but not visible on return
};

// 40 transactions of 1 row each; every third rolls back instead. Each
// holds the writer ~1 ms so the others queue and groups form. After each
// commit returns, the row must be visible on another connection.
static void *
group_member(void *arg)
{
	struct grouper *g = arg;
	sqlite3        *db;
	struct lc_txn   t;
	char            sql[96];

	assert_int_equal(lc_db_open(path, &db), 0);
	lc_txn_init(&t, db, g->wr);
	for (int i = 0; i < 40; i++) {
		sqlite3_stmt *st;
		int           k = g->id * 1000 + i;

		assert_int_equal(lc_txn_begin_write(&t), 0);
		snprintf(sql, sizeof(sql),
		    "INSERT INTO t (k, v) VALUES (%d, 'g')", k);
		st = lc_txn_stmt(&t, sql);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		lc_db_done(st);
		usleep(1000);
		if (i % 3 == 2) {
			lc_txn_rollback(&t);
			continue;
		}
		assert_int_equal(lc_txn_commit(&t, NULL, NULL), 0);
		snprintf(sql, sizeof(sql), "SELECT 1 FROM t WHERE k = %d", k);
		st = lc_txn_stmt(&t, sql);
		if (sqlite3_step(st) != SQLITE_ROW) {
			g->lost++;
		}
		lc_db_done(st);
	}
	lc_txn_fini(&t);
	lc_db_close(db);
	return (NULL);
}

static void
test_group_commit(void **state)
{
	struct grouper    g[8];
	pthread_t         th[8];
	sqlite3          *db;
	sqlite3_stmt     *st;
	unsigned long     commits;
	unsigned long     members;
	struct lc_writer *wr;

	(void) state;
	assert_int_equal(lc_writer_open(path, &wr), 0);
	for (int i = 0; i < 8; i++) {
		g[i] = (struct grouper) { .wr = wr, .id = i + 1 };
		assert_int_equal(
		    pthread_create(&th[i], NULL, group_member, &g[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(g[i].lost, 0);
	}
	lc_writer_stats(wr, &commits, &members);
	// 8 x 27 commits; fewer COMMITs than that, so groups formed
	assert_int_equal(members, 8 * 27);
	assert_true(commits < members);
	assert_int_equal(lc_db_open(path, &db), 0);
	assert_int_equal(count(db), 8 * 27);
	// no row of a rolled-back member survived
	assert_int_equal(
	    lc_db_prepare(
	        db, "SELECT count(*) FROM t WHERE k % 1000 % 3 = 2", &st),
	    0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	lc_db_close(db);
	lc_writer_close(wr);
}

static int precommits;

// The precommit of test_precommit: writes a row of its own (committed
// with the group); refuses when any row has v = 'bad'.
static int
precommit(struct lc_txn *t)
{
	sqlite3_stmt *st =
	    lc_txn_stmt(t, "SELECT count(*) FROM t WHERE v = 'bad'");
	int bad;

	precommits++;
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	bad = sqlite3_column_int(st, 0);
	lc_db_done(st);
	if (bad > 0) {
		return (LC_EINTERNAL);
	}
	st = lc_txn_stmt(t, "INSERT INTO t (v) VALUES ('pre')");
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	lc_db_done(st);
	return (0);
}

static void
insert_v(struct lc_txn *t, const char *v)
{
	sqlite3_stmt *st;

	assert_int_equal(lc_txn_begin_write(t), 0);
	st = lc_txn_stmt(t, "INSERT INTO t (v) VALUES (?1)");
	(void) sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	lc_db_done(st);
}

// The precommit runs before each COMMIT, inside the transaction; when it
// fails, nothing of the transaction is kept. With and without a writer.
static void
test_precommit(void **state)
{
	struct lc_writer *wr;
	sqlite3          *db;
	struct lc_txn     t;

	(void) state;
	assert_int_equal(lc_writer_open(path, &wr), 0);
	assert_int_equal(lc_db_open(path, &db), 0);
	for (int mode = 0; mode < 2; mode++) {
		lc_txn_init(&t, db, mode == 0 ? wr : NULL);
		t.precommit = precommit;
		precommits  = 0;
		insert_v(&t, "a");
		assert_int_equal(lc_txn_commit(&t, NULL, NULL), 0);
		assert_int_equal(precommits, 1);
		assert_int_equal(count(db), 2 + 2 * mode); // a, pre
		insert_v(&t, "bad");
		assert_int_not_equal(lc_txn_commit(&t, NULL, NULL), 0);
		assert_int_equal(precommits, 2);
		assert_int_equal(count(db), 2 + 2 * mode); // nothing kept
		// the writer is free again
		insert_v(&t, "b");
		lc_txn_rollback(&t);
		assert_int_equal(precommits, 2); // not on a rollback
		lc_txn_fini(&t);
	}
	lc_db_close(db);
	lc_writer_close(wr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stmts, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_precommit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_checkpointer, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wal_bounded, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
