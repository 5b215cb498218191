/*
 * lc_store.h -- how a service's workers use its SQLite file: a cache of
 * prepared statements per connection, one shared writer connection, and
 * transactions that publish their events after COMMIT.
 *
 * Reads run on the worker's own connection (w->db), in parallel (WAL).
 * Writes run on ONE connection per process (struct lc_writer), taken by
 * one worker at a time under a process mutex before BEGIN IMMEDIATE:
 *  - workers queue on a mutex (a futex hand-off) instead of in SQLite's
 *    busy handler, which sleeps 1 to 100 ms between tries;
 *  - the writer's page cache stays warm. WAL makes every connection drop
 *    its whole page cache when another connection has committed, so with
 *    a writer per worker each write re-read its pages with pread (measured
 *    on auth's refresh: 27% of the process's CPU in pread);
 *  - the process is the only writer of its file, so nothing else takes
 *    SQLite's write lock and BEGIN IMMEDIATE does not wait;
 *  - checkpoints run on a thread of their own (PASSIVE, when the WAL
 *    passes 1000 pages and once a second), not inside a COMMIT while
 *    every other writer waits (measured: 92 -> 68 us per refresh COMMIT);
 *    past 64 MiB of WAL a RESTART under the writer mutex makes the WAL
 *    start over, which PASSIVE alone never does under constant reads.
 *
 * Group commit: a worker's write transaction is a SAVEPOINT inside one
 * SQLite transaction that several workers share. When a worker commits
 * while others wait for the writer, it releases its savepoint, hands the
 * open transaction to the next one and sleeps; the last of the group (no
 * one waiting, or LC_GROUP_MAX members) runs COMMIT, publishes every
 * member's events in order and wakes them all with the result. One
 * COMMIT then writes each touched page once for the whole group (a record
 * insert dirties 10 to 20 pages, FTS5's included), and no member answers
 * before the COMMIT that holds its write. A member that rolls back undoes
 * only its savepoint; an error after which SQLite rolled back the whole
 * transaction fails every member of the group. Members see the writes of
 * earlier members (one connection), so they also fail together.
 *
 * Statements are cached per connection and keyed by the SQL text (static
 * or built at run time). A cache past its limit is emptied when the next
 * transaction begins on it (no statement of it is in use then).
 *
 * Events: lc_txn_emit queues (topic, payload) in the transaction;
 * lc_txn_commit runs COMMIT, then publishes them in order on the given
 * publisher and attaches them to the reply as effects (when rp is given),
 * and only then releases the writer, so the publish order is the commit
 * order.
 *
 * Threading: an lc_writer is shared (its mutex); an lc_txn and an lc_stmts
 * belong to one worker thread.
 */
#ifndef LC_STORE_H
#define LC_STORE_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>

#include "lc_bus.h"
#include "lc_common.h"
#include "lc_env.h"

/* ---- statement cache ---- */

struct lc_stmts;

// A cache for conn (borrowed) that is emptied past max statements.
struct lc_stmts *lc_stmts_new(sqlite3 *conn, size_t max);
// Finalizes every statement. NULL is a no-op.
void lc_stmts_free(struct lc_stmts *c);
// The prepared statement for sql, ready to bind; the caller ends each use
// with lc_db_done(st). NULL on a prepare error (logged).
sqlite3_stmt *lc_stmts_get(struct lc_stmts *c, const char *sql);
// Empties the cache if it holds more than its max (no statement in use).
void   lc_stmts_trim(struct lc_stmts *c);
size_t lc_stmts_count(const struct lc_stmts *c);

/* ---- the writer ---- */

struct lc_writer;

// Opens the writer connection on path (lc_db_open's pragmas).
LC_NODISCARD int lc_writer_open(const char *path, struct lc_writer **out);
void             lc_writer_close(struct lc_writer *wr);
// COMMITs run so far, and transactions they carried (tests, metrics).
void lc_writer_stats(
    struct lc_writer *wr, unsigned long *commits, unsigned long *members);

/* ---- a worker's transactions ---- */

enum lc_txn_state { LC_TXN_NONE = 0, LC_TXN_READ, LC_TXN_WRITE };

struct lc_txn {
	sqlite3          *conn;   // the worker's own connection (borrowed)
	struct lc_stmts  *stmts;  // its cache
	struct lc_writer *wr;     // the process's writer (borrowed), or NULL
	json_t           *events; // [[topic, payload], ...] of this txn
	enum lc_txn_state state;
	// Run on the writer just before COMMIT (by whichever member commits
	// the group; set it on every transaction of the process), or NULL:
	// 0, or an error that rolls the group back.
	int (*precommit)(struct lc_txn *t);
	// as a member of a group commit (under the writer's group mutex)
	struct lc_txn *next; // the next member
	struct lc_pub *pub;  // where its events go
	int            done; // the group's COMMIT has run
	int            rv;   // and its result
};

// Members of one group commit at most (see above).
#define LC_GROUP_MAX 64

// conn: the worker's connection; wr: the writer, or NULL to write on conn
// (then only the mutex is skipped: a single-worker tool or a test).
void lc_txn_init(struct lc_txn *t, sqlite3 *conn, struct lc_writer *wr);
// Rolls back an open transaction, frees the cache.
void lc_txn_fini(struct lc_txn *t);

// The connection statements run on now: the writer's inside a write
// transaction, else the worker's own.
sqlite3 *lc_txn_db(const struct lc_txn *t);
// A cached statement on lc_txn_db(t) (see lc_stmts_get).
sqlite3_stmt *lc_txn_stmt(struct lc_txn *t, const char *sql);

// BEGIN on the worker's connection (one snapshot for several reads).
// 0, LC_EUNAVAILABLE (busy) or LC_EINTERNAL (also for a nested begin).
LC_NODISCARD int lc_txn_begin_read(struct lc_txn *t);
// Takes the writer (waits for it), then BEGIN IMMEDIATE on it.
LC_NODISCARD int lc_txn_begin_write(struct lc_txn *t);
// COMMIT; then the queued events are published on pub (when not NULL) and
// attached to rp as effects (when not NULL), in order; then the writer is
// released. On a failed COMMIT: rolled back, nothing published,
// LC_EUNAVAILABLE or LC_EINTERNAL.
LC_NODISCARD int lc_txn_commit(
    struct lc_txn *t, struct lc_pub *pub, struct lc_rep *rp);
// ROLLBACK (when SQLite has not already), drops queued events, releases
// the writer. A no-op outside a transaction.
void lc_txn_rollback(struct lc_txn *t);

// Queues an event (payload taken) to go out after COMMIT; outside a
// transaction it is published on pub at once.
void lc_txn_emit(
    struct lc_txn *t, struct lc_pub *pub, int topic, json_t *payload);

#endif // LC_STORE_H
