/*
 * db.c -- the worker's side of auth.db: a prepared-statement cache,
 * IMMEDIATE transactions, and the events a transaction publishes.
 *
 * Each worker owns one struct auth_db (w->user, made by auth_db_open on
 * the worker's thread): its connection (w->db, borrowed), a cache of
 * prepared statements keyed by the address of their SQL text (callers
 * pass string literals, so the address names the statement), and the
 * events queued by auth_emit since auth_begin.
 *
 * Writers queue on write_mu, a process-wide mutex taken before BEGIN
 * IMMEDIATE and released after COMMIT/ROLLBACK: this process is the only
 * writer of auth.db, so waiting here costs a futex wake-up, where waiting
 * in SQLite's busy handler costs sleeps of 1 to 100 ms (measured: refresh
 * at 64 connections went from ~1,000 to the rate one writer can commit).
 * Never take write_mu while waiting for another lock of this process
 * (lockout.c takes its lock first, then begins).
 *
 * Publishing: auth_commit runs COMMIT and then sends the queued events in
 * order, still holding write_mu, so the publish order equals the commit
 * order and a subscriber that applies user.changed events in seq order
 * ends with the state of the last commit; pub_mu orders those sends with
 * the events emitted outside a transaction. The same events ride on the
 * reply as effects (rp->fx).
 */
#include <pthread.h>
#include <string.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"

#define STMT_CACHE_MIN 64
#define TXN_READ 1
#define TXN_WRITE 2

// Orders COMMIT + publish across this process's workers (owned by
// auth_commit; see the top of the file).
static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;
// Held by the worker in a write transaction (see the top of the file).
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

struct stmt_slot {
	const char   *sql; // NULL: empty
	sqlite3_stmt *st;
};

struct auth_db {
	sqlite3          *conn;
	struct stmt_slot *slots; // open addressing, a power of two
	size_t            cap;
	size_t            n;
	json_t           *pending; // [[topic, payload], ...]
	int               in_txn;  // 0, TXN_READ or TXN_WRITE (holds write_mu)
};

struct auth_state *
auth_state(struct lc_worker *w)
{
	return (w != NULL && w->svc != NULL ? w->svc->user : NULL);
}

void
auth_ulid(char out[AUTH_ID_LEN + 1])
{
	lc_ulid_new(out);
}

static struct auth_db *
db_of(struct lc_worker *w)
{
	return (w->user);
}

int
auth_db_open(struct lc_worker *w)
{
	struct auth_db *db;

	if (w->db == NULL) {
		lc_log_err("AUTH-DB", "worker %d has no connection", w->idx);
		return (LC_EINTERNAL);
	}
	db          = lc_calloc(1, sizeof(*db));
	db->conn    = w->db;
	db->cap     = STMT_CACHE_MIN;
	db->slots   = lc_calloc(db->cap, sizeof(*db->slots));
	db->pending = json_array();
	w->user     = db;
	return (0);
}

void
auth_db_close(struct lc_worker *w)
{
	struct auth_db *db = db_of(w);

	if (db == NULL) {
		return;
	}
	if (db->in_txn) {
		auth_rollback(w);
	}
	for (size_t i = 0; i < db->cap; i++) {
		sqlite3_finalize(db->slots[i].st);
	}
	json_decref(db->pending);
	lc_free(db->slots);
	lc_free(db);
	w->user = NULL;
}

static size_t
slot_hash(const char *sql, size_t cap)
{
	uintptr_t h = (uintptr_t) sql;

	h ^= h >> 17;
	h *= (uintptr_t) 0x9e3779b97f4a7c15ULL;
	return ((size_t) (h >> 7) & (cap - 1));
}

static struct stmt_slot *
slot_find(struct stmt_slot *slots, size_t cap, const char *sql)
{
	size_t i = slot_hash(sql, cap);

	while (slots[i].sql != NULL && slots[i].sql != sql) {
		i = (i + 1) & (cap - 1);
	}
	return (&slots[i]);
}

// Doubles the table (kept at most half full).
static void
cache_grow(struct auth_db *db)
{
	size_t            cap   = db->cap * 2;
	struct stmt_slot *slots = lc_calloc(cap, sizeof(*slots));

	for (size_t i = 0; i < db->cap; i++) {
		if (db->slots[i].sql != NULL) {
			*slot_find(slots, cap, db->slots[i].sql) =
			    db->slots[i];
		}
	}
	lc_free(db->slots);
	db->slots = slots;
	db->cap   = cap;
}

sqlite3_stmt *
auth_stmt(struct lc_worker *w, const char *sql)
{
	struct auth_db   *db = db_of(w);
	struct stmt_slot *s;
	sqlite3_stmt     *st;

	if (db == NULL) {
		lc_log_err("AUTH-DB", "no auth_db on worker %d", w->idx);
		return (NULL);
	}
	s = slot_find(db->slots, db->cap, sql);
	if (s->sql != NULL) {
		return (s->st);
	}
	if (lc_db_prepare(db->conn, sql, &st) != 0) {
		return (NULL); // logged by lc_db_prepare
	}
	if (2 * (db->n + 1) > db->cap) {
		cache_grow(db);
		s = slot_find(db->slots, db->cap, sql);
	}
	s->sql = sql;
	s->st  = st;
	db->n++;
	return (st);
}

// Runs one of BEGIN/COMMIT/ROLLBACK; 0, LC_EUNAVAILABLE (busy past the
// busy timeout) or LC_EINTERNAL.
static int
run(struct lc_worker *w, const char *sql)
{
	sqlite3_stmt *st = auth_stmt(w, sql);
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr == SQLITE_DONE) {
		return (0);
	}
	lc_log_err("AUTH-SQL", "%s: %s (%d)", sql, sqlite3_errmsg(w->db), sr);
	return ((sr & 0xff) == SQLITE_BUSY ? LC_EUNAVAILABLE : LC_EINTERNAL);
}

static void
pending_clear(struct auth_db *db)
{
	json_array_clear(db->pending);
}

static int
begin_with(struct lc_worker *w, const char *sql, int kind)
{
	struct auth_db *db = db_of(w);
	int             rv;

	if (db == NULL) {
		return (LC_EINTERNAL);
	}
	if (db->in_txn) {
		lc_log_err(
		    "AUTH-DB", "nested transaction on worker %d", w->idx);
		return (LC_EINTERNAL);
	}
	pending_clear(db);
	if (kind == TXN_WRITE) {
		pthread_mutex_lock(&write_mu);
	}
	if ((rv = run(w, sql)) != 0) {
		if (kind == TXN_WRITE) {
			pthread_mutex_unlock(&write_mu);
		}
		return (rv);
	}
	db->in_txn = kind;
	return (0);
}

int
auth_begin(struct lc_worker *w)
{
	return (begin_with(w, "BEGIN IMMEDIATE", TXN_WRITE));
}

int
auth_begin_read(struct lc_worker *w)
{
	return (begin_with(w, "BEGIN", TXN_READ));
}

void
auth_rollback(struct lc_worker *w)
{
	struct auth_db *db = db_of(w);

	if (db == NULL) {
		return;
	}
	// SQLite may have rolled back already (some errors do).
	if (!sqlite3_get_autocommit(db->conn)) {
		(void) run(w, "ROLLBACK");
	}
	if (db->in_txn == TXN_WRITE) {
		pthread_mutex_unlock(&write_mu);
	}
	db->in_txn = 0;
	pending_clear(db);
}

// Sends one event: published (when there is a publisher) and attached to
// the reply (when there is one). Takes payload.
static void
deliver(struct lc_worker *w, struct lc_rep *rp, int topic, json_t *payload)
{
	if (w->svc != NULL && w->svc->pub != NULL) {
		(void) lc_pub_send(w->svc->pub, topic, payload);
	}
	if (rp != NULL) {
		lc_rep_effect(rp, topic, payload);
	} else {
		json_decref(payload);
	}
}

int
auth_commit(struct lc_worker *w, struct lc_rep *rp)
{
	struct auth_db *db = db_of(w);
	json_t         *ev;
	size_t          i;
	int             rv;

	if (db == NULL || !db->in_txn) {
		lc_log_err("AUTH-DB", "commit outside a transaction");
		return (LC_EINTERNAL);
	}
	pthread_mutex_lock(&pub_mu);
	if ((rv = run(w, "COMMIT")) != 0) {
		pthread_mutex_unlock(&pub_mu);
		auth_rollback(w);
		return (rv);
	}
	json_array_foreach(db->pending, i, ev)
	{
		json_t *p = json_array_get(ev, 1);

		deliver(w, rp, (int) json_integer_value(json_array_get(ev, 0)),
		    json_incref(p));
	}
	pthread_mutex_unlock(&pub_mu);
	if (db->in_txn == TXN_WRITE) {
		pthread_mutex_unlock(&write_mu);
	}
	db->in_txn = 0;
	pending_clear(db);
	return (0);
}

void
auth_emit(struct lc_worker *w, int topic, json_t *payload)
{
	struct auth_db *db = db_of(w);

	if (payload == NULL) {
		return;
	}
	if (db == NULL || !db->in_txn) {
		// Nothing to wait for: out at once (no reply to carry it).
		deliver(w, NULL, topic, payload);
		return;
	}
	json_array_append_new(db->pending, json_pack("[i,o]", topic, payload));
}
