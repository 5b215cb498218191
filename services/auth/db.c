/*
 * db.c -- the worker's side of auth.db, over lc_store: its transactions
 * (lc_txn: reads on the worker's connection, writes on the process's one
 * writer connection behind a mutex) and the events a transaction
 * publishes.
 *
 * Each worker owns one struct auth_db (w->user, made by auth_db_open on
 * the worker's thread). Statements come from the cache of the connection
 * in use (auth_stmt), so a statement prepared inside a write transaction
 * runs on the writer; auth_conn names that connection for error messages
 * and sqlite3_changes.
 *
 * Publishing: auth_commit runs COMMIT, then publishes the queued events in
 * order and attaches them to the reply as effects (rp->fx), all before it
 * releases the writer, so the publish order is the commit order and a
 * subscriber that applies user.changed events in seq order ends with the
 * state of the last commit.
 */
#include <string.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_store.h"

struct auth_db {
	struct lc_txn txn;
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

static struct lc_txn *
txn_of(struct lc_worker *w)
{
	struct auth_db *db = w->user;

	return (db != NULL ? &db->txn : NULL);
}

static struct lc_pub *
pub_of(struct lc_worker *w)
{
	return (w->svc != NULL ? w->svc->pub : NULL);
}

int
auth_db_open(struct lc_worker *w)
{
	struct auth_db *db;

	if (w->db == NULL) {
		lc_log_err("AUTH-DB", "worker %d has no connection", w->idx);
		return (LC_EINTERNAL);
	}
	db = lc_calloc(1, sizeof(*db));
	lc_txn_init(&db->txn, w->db, w->svc != NULL ? w->svc->writer : NULL);
	w->user = db;
	return (0);
}

void
auth_db_close(struct lc_worker *w)
{
	struct auth_db *db = w->user;

	if (db == NULL) {
		return;
	}
	lc_txn_fini(&db->txn);
	lc_free(db);
	w->user = NULL;
}

sqlite3 *
auth_conn(struct lc_worker *w)
{
	struct lc_txn *t = txn_of(w);

	return (t != NULL ? lc_txn_db(t) : w->db);
}

sqlite3_stmt *
auth_stmt(struct lc_worker *w, const char *sql)
{
	struct lc_txn *t = txn_of(w);

	if (t == NULL) {
		lc_log_err("AUTH-DB", "worker %d has no auth_db", w->idx);
		return (NULL);
	}
	return (lc_txn_stmt(t, sql));
}

int
auth_begin(struct lc_worker *w)
{
	struct lc_txn *t = txn_of(w);

	return (t != NULL ? lc_txn_begin_write(t) : LC_EINTERNAL);
}

int
auth_begin_read(struct lc_worker *w)
{
	struct lc_txn *t = txn_of(w);

	return (t != NULL ? lc_txn_begin_read(t) : LC_EINTERNAL);
}

void
auth_rollback(struct lc_worker *w)
{
	struct lc_txn *t = txn_of(w);

	if (t != NULL) {
		lc_txn_rollback(t);
	}
}

int
auth_commit(struct lc_worker *w, struct lc_rep *rp)
{
	struct lc_txn *t = txn_of(w);

	return (t != NULL ? lc_txn_commit(t, pub_of(w), rp) : LC_EINTERNAL);
}

void
auth_emit(struct lc_worker *w, int topic, json_t *payload)
{
	struct lc_txn *t = txn_of(w);

	if (t == NULL) {
		json_decref(payload);
		return;
	}
	// Outside a transaction: out at once (no reply to carry it).
	lc_txn_emit(t, pub_of(w), topic, payload);
}
