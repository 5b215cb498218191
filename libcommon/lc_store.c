/*
 * lc_store.c -- statement caches, the shared writer connection and worker
 * transactions (see lc_store.h for the why).
 */
#include "lc_store.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"

#define STMTS_MIN 64

/* ---- statement cache ---- */

struct stmt_slot {
	char         *sql; // NULL: empty
	uint64_t      h;
	sqlite3_stmt *st;
};

struct lc_stmts {
	sqlite3          *conn;
	struct stmt_slot *slots; // open addressing, a power of two
	size_t            cap;
	size_t            n;
	size_t            max;
};

struct lc_stmts *
lc_stmts_new(sqlite3 *conn, size_t max)
{
	struct lc_stmts *c = lc_calloc(1, sizeof(*c));

	c->conn  = conn;
	c->cap   = STMTS_MIN;
	c->slots = lc_calloc(c->cap, sizeof(*c->slots));
	c->max   = max;
	return (c);
}

static void
stmts_clear(struct lc_stmts *c)
{
	for (size_t i = 0; i < c->cap; i++) {
		sqlite3_finalize(c->slots[i].st);
		lc_free(c->slots[i].sql);
	}
	memset(c->slots, 0, c->cap * sizeof(*c->slots));
	c->n = 0;
}

void
lc_stmts_free(struct lc_stmts *c)
{
	if (c == NULL) {
		return;
	}
	stmts_clear(c);
	lc_free(c->slots);
	lc_free(c);
}

void
lc_stmts_trim(struct lc_stmts *c)
{
	if (c->n > c->max) {
		stmts_clear(c);
	}
}

size_t
lc_stmts_count(const struct lc_stmts *c)
{
	return (c->n);
}

// FNV-1a, 64 bits.
static uint64_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h = (h ^ (uint8_t) *s) * 1099511628211ULL;
	}
	return (h);
}

static struct stmt_slot *
slot_find(struct stmt_slot *slots, size_t cap, const char *sql, uint64_t h)
{
	size_t i = (size_t) (h >> 7) & (cap - 1);

	while (slots[i].sql != NULL &&
	    (slots[i].h != h || strcmp(slots[i].sql, sql) != 0)) {
		i = (i + 1) & (cap - 1);
	}
	return (&slots[i]);
}

// Doubles the table (kept at most half full).
static void
stmts_grow(struct lc_stmts *c)
{
	size_t            cap   = c->cap * 2;
	struct stmt_slot *slots = lc_calloc(cap, sizeof(*slots));

	for (size_t i = 0; i < c->cap; i++) {
		if (c->slots[i].sql != NULL) {
			*slot_find(slots, cap, c->slots[i].sql,
			    c->slots[i].h) = c->slots[i];
		}
	}
	lc_free(c->slots);
	c->slots = slots;
	c->cap   = cap;
}

sqlite3_stmt *
lc_stmts_get(struct lc_stmts *c, const char *sql)
{
	uint64_t          h = hash(sql);
	struct stmt_slot *s = slot_find(c->slots, c->cap, sql, h);
	sqlite3_stmt     *st;

	if (s->sql != NULL) {
		return (s->st);
	}
	if (lc_db_prepare(c->conn, sql, &st) != 0) {
		return (NULL); // logged by lc_db_prepare
	}
	if (2 * (c->n + 1) > c->cap) {
		stmts_grow(c);
		s = slot_find(c->slots, c->cap, sql, h);
	}
	s->sql = lc_strdup(sql);
	s->h   = h;
	s->st  = st;
	c->n++;
	return (st);
}

/* ---- the writer ---- */

#define WRITER_CACHE_KIB "65536" // 64 MiB
#define WRITER_STMTS_MAX 1024
#define CKPT_PAGES 1000 // SQLite's own wal_autocheckpoint default
#define CKPT_IDLE_MS 1000
#define CKPT_RESTART_PAGES 16384 // 64 MiB of 4 KiB pages
#define CKPT_CATCH_UP 4          // PASSIVEs at most before a RESTART
#define CKPT_BUSY_TRIES 2000     // about 100 ms of 50 us naps

struct lc_writer {
	pthread_mutex_t  mu; // held by the worker running statements on conn
	sqlite3         *conn;
	struct lc_stmts *stmts;
	// Group commit (see lc_store.h). open and the member list are only
	// touched under mu; done/rv of members under gmu.
	atomic_int      waiting; // workers blocked on mu to write
	int             open;    // a transaction is open on conn
	struct lc_txn  *head;    // members whose savepoint is released
	struct lc_txn  *tail;
	int             nmembers;
	pthread_mutex_t gmu;
	pthread_cond_t  gcv;
	unsigned long   commits; // under mu
	unsigned long   carried;
	// The checkpointer: its own connection and thread.
	sqlite3        *ck_conn;
	pthread_t       ck_thread;
	pthread_mutex_t ck_mu;
	pthread_cond_t  ck_cv;
	int             ck_mark; // WAL frames at the last wake-up (under mu)
	int             ck_due;  // CKPT_PAGES more frames since then
	int             ck_stop;
};

// SQLite's WAL hook on the writer, called after each commit (and instead
// of its automatic checkpoint, which would run inside the commit while
// every other writer waits): wakes the checkpointer every CKPT_PAGES new
// frames.
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct lc_writer *wr = arg;

	LC_UNUSED(db);
	LC_UNUSED(name);
	// Under wr->mu (the committing writer holds it). pages counts the
	// frames in the WAL; it starts again from 0 when the WAL restarts.
	if (pages < wr->ck_mark) {
		wr->ck_mark = 0;
	}
	if (pages - wr->ck_mark >= CKPT_PAGES) {
		wr->ck_mark = pages;
		(void) pthread_mutex_lock(&wr->ck_mu);
		wr->ck_due = 1;
		(void) pthread_cond_signal(&wr->ck_cv);
		(void) pthread_mutex_unlock(&wr->ck_mu);
	}
	return (SQLITE_OK);
}

// One checkpoint. PASSIVE never waits for readers or the writer, but
// with writes back to back the WAL never starts over and its file only
// grows (measured: 6 GB of WAL beside a 448 MB database after seeding 1M
// records). So past CKPT_RESTART_PAGES the checkpoint ends with a
// RESTART, taken under the writer mutex (no writer waits in SQLite's busy
// handler): it copies the frames written since the last PASSIVE, waits
// for the readers of older snapshots (short), and the next COMMIT writes
// the WAL from its start again. Every writer waits meanwhile, so PASSIVE
// runs again first while it still finds many new frames (measured at
// 3,500 record inserts/s: one RESTART right after one PASSIVE held the
// writers 50 ms). TRUNCATE would also cut the file, which cost another
// 30 ms for 64 MiB; after a RESTART the next COMMITs overwrite it from
// its start, so it stays near CKPT_RESTART_PAGES.
static void
checkpoint(struct lc_writer *wr)
{
	int nlog  = 0;
	int nckpt = 0;
	int prev;

	(void) sqlite3_wal_checkpoint_v2(
	    wr->ck_conn, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
	if (nlog < CKPT_RESTART_PAGES) {
		return;
	}
	for (int i = 0; i < CKPT_CATCH_UP; i++) {
		prev = nlog;
		(void) sqlite3_wal_checkpoint_v2(wr->ck_conn, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
		if (nlog < prev || nlog - prev < CKPT_PAGES / 4) {
			break; // restarted meanwhile, or few new frames
		}
	}
	(void) pthread_mutex_lock(&wr->mu);
	if (wr->open) {
		// A group is between members: it cannot wait for us.
		(void) pthread_mutex_unlock(&wr->mu);
		return;
	}
	if (sqlite3_wal_checkpoint_v2(wr->ck_conn, NULL,
	        SQLITE_CHECKPOINT_RESTART, &nlog, &nckpt) != SQLITE_OK) {
		lc_log_warn("LC-STORE", "WAL restart: %s",
		    sqlite3_errmsg(wr->ck_conn));
	}
	wr->ck_mark = 0; // the WAL starts over
	(void) pthread_mutex_unlock(&wr->mu);
}

// The checkpointer's busy handler: TRUNCATE waits, holding the writer
// mutex, for readers of older snapshots, which take well under a
// millisecond. SQLite's own handler (busy_timeout) sleeps 1, 2, 5, 10,
// 15, 20, 25 ms between tries: measured, 66 to 86 ms per TRUNCATE with
// every frame already copied, and every writer stalled meanwhile. So:
// tries every 50 us, and gives up (SQLITE_BUSY: the next wake-up tries
// again) after CKPT_BUSY_TRIES.
static int
ck_busy(void *arg, int tries)
{
	struct timespec ts = { 0, 50 * 1000 };

	LC_UNUSED(arg);
	if (tries >= CKPT_BUSY_TRIES) {
		return (0);
	}
	(void) nanosleep(&ts, NULL);
	return (1);
}

// Copies the WAL back into the database file when it is long, and once a
// second anyway (see checkpoint).
static void *
checkpointer(void *arg)
{
	struct lc_writer *wr = arg;
	struct timespec   ts;

	(void) pthread_mutex_lock(&wr->ck_mu);
	while (!wr->ck_stop) {
		if (!wr->ck_due) {
			(void) clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += CKPT_IDLE_MS / 1000;
			(void) pthread_cond_timedwait(
			    &wr->ck_cv, &wr->ck_mu, &ts);
			if (wr->ck_stop) {
				break;
			}
		}
		wr->ck_due = 0;
		(void) pthread_mutex_unlock(&wr->ck_mu);
		checkpoint(wr);
		(void) pthread_mutex_lock(&wr->ck_mu);
	}
	(void) pthread_mutex_unlock(&wr->ck_mu);
	return (NULL);
}

int
lc_writer_open(const char *path, struct lc_writer **out)
{
	struct lc_writer *wr;
	int               rv;

	wr = lc_calloc(1, sizeof(*wr));
	if ((rv = lc_db_open(path, &wr->conn)) != 0) {
		lc_free(wr);
		return (rv);
	}
	if ((rv = lc_db_open(path, &wr->ck_conn)) != 0) {
		lc_db_close(wr->conn);
		lc_free(wr);
		return (rv);
	}
	(void) sqlite3_busy_handler(wr->ck_conn, ck_busy, NULL);
	(void) pthread_mutex_init(&wr->mu, NULL);
	(void) pthread_mutex_init(&wr->gmu, NULL);
	(void) pthread_cond_init(&wr->gcv, NULL);
	atomic_init(&wr->waiting, 0);
	(void) pthread_mutex_init(&wr->ck_mu, NULL);
	(void) pthread_cond_init(&wr->ck_cv, NULL);
	if (pthread_create(&wr->ck_thread, NULL, checkpointer, wr) != 0) {
		lc_log_err("LC-STORE", "cannot start the checkpointer");
		lc_db_close(wr->ck_conn);
		lc_db_close(wr->conn);
		lc_free(wr);
		return (LC_EINTERNAL);
	}
	// the writer's cache: pages written to the WAL are read back through
	// it (mmap covers only the main file)
	if (lc_db_exec(wr->conn, "PRAGMA cache_size=-" WRITER_CACHE_KIB) !=
	    0) {
		lc_log_warn("LC-STORE", "cannot size the writer's cache");
	}
	(void) sqlite3_wal_hook(wr->conn, wal_hook, wr);
	wr->stmts = lc_stmts_new(wr->conn, WRITER_STMTS_MAX);
	*out      = wr;
	return (0);
}

void
lc_writer_close(struct lc_writer *wr)
{
	if (wr == NULL) {
		return;
	}
	(void) pthread_mutex_lock(&wr->ck_mu);
	wr->ck_stop = 1;
	(void) pthread_cond_signal(&wr->ck_cv);
	(void) pthread_mutex_unlock(&wr->ck_mu);
	(void) pthread_join(wr->ck_thread, NULL);
	lc_stmts_free(wr->stmts);
	lc_db_close(wr->conn);
	lc_db_close(wr->ck_conn);
	(void) pthread_cond_destroy(&wr->ck_cv);
	(void) pthread_mutex_destroy(&wr->ck_mu);
	(void) pthread_cond_destroy(&wr->gcv);
	(void) pthread_mutex_destroy(&wr->gmu);
	(void) pthread_mutex_destroy(&wr->mu);
	lc_free(wr);
}

void
lc_writer_stats(
    struct lc_writer *wr, unsigned long *commits, unsigned long *members)
{
	(void) pthread_mutex_lock(&wr->mu);
	*commits = wr->commits;
	*members = wr->carried;
	(void) pthread_mutex_unlock(&wr->mu);
}

/* ---- transactions ---- */

#define WORKER_STMTS_MAX 1024

void
lc_txn_init(struct lc_txn *t, sqlite3 *conn, struct lc_writer *wr)
{
	memset(t, 0, sizeof(*t));
	t->conn   = conn;
	t->stmts  = lc_stmts_new(conn, WORKER_STMTS_MAX);
	t->wr     = wr;
	t->events = json_array();
}

void
lc_txn_fini(struct lc_txn *t)
{
	if (t->stmts == NULL) {
		return; // never initialised
	}
	lc_txn_rollback(t);
	lc_stmts_free(t->stmts);
	json_decref(t->events);
	memset(t, 0, sizeof(*t));
}

static int
writing_on_writer(const struct lc_txn *t)
{
	return (t->state == LC_TXN_WRITE && t->wr != NULL);
}

sqlite3 *
lc_txn_db(const struct lc_txn *t)
{
	return (writing_on_writer(t) ? t->wr->conn : t->conn);
}

static struct lc_stmts *
active_stmts(struct lc_txn *t)
{
	return (writing_on_writer(t) ? t->wr->stmts : t->stmts);
}

sqlite3_stmt *
lc_txn_stmt(struct lc_txn *t, const char *sql)
{
	return (lc_stmts_get(active_stmts(t), sql));
}

// Runs BEGIN/COMMIT/ROLLBACK on the active connection; 0, LC_EUNAVAILABLE
// (busy past the busy timeout) or LC_EINTERNAL.
static int
run(struct lc_txn *t, const char *sql)
{
	sqlite3_stmt *st = lc_txn_stmt(t, sql);
	int           sr;

	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	sr = sqlite3_step(st);
	lc_db_done(st);
	if (sr == SQLITE_DONE) {
		return (0);
	}
	lc_log_err(
	    "LC-TXN", "%s: %s (%d)", sql, sqlite3_errmsg(lc_txn_db(t)), sr);
	return ((sr & 0xff) == SQLITE_BUSY ? LC_EUNAVAILABLE : LC_EINTERNAL);
}

// Ends a read transaction, or a write one without a writer.
static void
release(struct lc_txn *t)
{
	t->state = LC_TXN_NONE;
	json_array_clear(t->events);
}

static void
publish(const struct lc_txn *t)
{
	json_t *ev;
	size_t  i;

	if (t->pub == NULL) {
		return;
	}
	json_array_foreach(t->events, i, ev)
	{
		(void) lc_pub_send(t->pub,
		    (int) json_integer_value(json_array_get(ev, 0)),
		    json_array_get(ev, 1));
	}
}

// Under wr->mu, with the group's transaction open: COMMIT when rv is 0
// (else, or when COMMIT fails, ROLLBACK), then publishes the members'
// events in order (after a COMMIT) and wakes them with the result. t is
// the caller's transaction (its statements run the SQL).
static int
group_end(struct lc_txn *t, int rv)
{
	struct lc_writer *wr = t->wr;
	struct lc_txn    *m;

	if (rv == 0 && t->precommit != NULL) {
		rv = t->precommit(t);
	}
	if (rv == 0) {
		rv = run(t, "COMMIT");
	}
	if (rv != 0 && !sqlite3_get_autocommit(wr->conn)) {
		(void) run(t, "ROLLBACK");
	}
	wr->open = 0;
	if (rv == 0) {
		wr->commits++;
		wr->carried += (unsigned long) wr->nmembers;
		for (m = wr->head; m != NULL; m = m->next) {
			publish(m);
		}
	}
	(void) pthread_mutex_lock(&wr->gmu);
	for (m = wr->head; m != NULL; m = m->next) {
		m->rv   = rv;
		m->done = 1;
	}
	(void) pthread_cond_broadcast(&wr->gcv);
	(void) pthread_mutex_unlock(&wr->gmu);
	wr->head = wr->tail = NULL;
	wr->nmembers        = 0;
	return (rv);
}

// Takes the writer for t (state already WRITE): waits for it, opens the
// group's transaction when none is open, then t's savepoint.
static int
writer_take(struct lc_txn *t)
{
	struct lc_writer *wr = t->wr;
	int               rv;

	(void) atomic_fetch_add(&wr->waiting, 1);
	(void) pthread_mutex_lock(&wr->mu);
	(void) atomic_fetch_sub(&wr->waiting, 1);
	lc_stmts_trim(wr->stmts);
	if (!wr->open) {
		if ((rv = run(t, "BEGIN IMMEDIATE")) != 0) {
			(void) pthread_mutex_unlock(&wr->mu);
			return (rv);
		}
		wr->open = 1;
	}
	if ((rv = run(t, "SAVEPOINT lc_member")) != 0) {
		(void) group_end(t, rv);
		(void) pthread_mutex_unlock(&wr->mu);
	}
	return (rv);
}

// Under wr->mu, t's savepoint gone: the group commits now when no one
// else will take it over, else it stays open for the next taker.
static void
writer_leave(struct lc_txn *t)
{
	struct lc_writer *wr = t->wr;

	if (wr->open && wr->nmembers == 0) {
		(void) group_end(t, LC_EINTERNAL); // nothing to keep: ROLLBACK
	} else if (wr->open && atomic_load(&wr->waiting) == 0) {
		(void) group_end(t, 0);
	}
	(void) pthread_mutex_unlock(&wr->mu);
}

static int
begin(struct lc_txn *t, enum lc_txn_state state, const char *sql)
{
	int rv;

	if (t->state != LC_TXN_NONE) {
		lc_log_err("LC-TXN", "nested transaction");
		return (LC_EINTERNAL);
	}
	json_array_clear(t->events);
	t->state = state;
	if (writing_on_writer(t)) {
		if ((rv = writer_take(t)) != 0) {
			release(t);
		}
		return (rv);
	}
	lc_stmts_trim(t->stmts);
	if ((rv = run(t, sql)) != 0) {
		release(t);
	}
	return (rv);
}

int
lc_txn_begin_read(struct lc_txn *t)
{
	return (begin(t, LC_TXN_READ, "BEGIN"));
}

int
lc_txn_begin_write(struct lc_txn *t)
{
	return (begin(t, LC_TXN_WRITE, "BEGIN IMMEDIATE"));
}

void
lc_txn_rollback(struct lc_txn *t)
{
	struct lc_writer *wr = t->wr;

	if (t->state == LC_TXN_NONE) {
		return;
	}
	if (!writing_on_writer(t)) {
		// SQLite may have rolled back already (some errors do).
		if (!sqlite3_get_autocommit(t->conn)) {
			(void) run(t, "ROLLBACK");
		}
		release(t);
		return;
	}
	if (sqlite3_get_autocommit(wr->conn)) {
		// SQLite rolled back the whole transaction: the group's
		// earlier members lost their writes too.
		(void) group_end(t, LC_EINTERNAL);
	} else if (run(t, "ROLLBACK TO lc_member") != 0 ||
	    run(t, "RELEASE lc_member") != 0) {
		(void) group_end(t, LC_EINTERNAL);
	}
	writer_leave(t);
	release(t);
}

int
lc_txn_commit(struct lc_txn *t, struct lc_pub *pub, struct lc_rep *rp)
{
	struct lc_writer *wr = t->wr;
	json_t           *ev;
	size_t            i;
	int               rv;

	if (t->state == LC_TXN_NONE) {
		lc_log_err("LC-TXN", "commit outside a transaction");
		return (LC_EINTERNAL);
	}
	t->pub  = pub;
	t->next = NULL;
	t->done = 0;
	t->rv   = 0;
	if (!writing_on_writer(t)) {
		if ((t->state == LC_TXN_WRITE && t->precommit != NULL &&
		        (rv = t->precommit(t)) != 0) ||
		    (rv = run(t, "COMMIT")) != 0) {
			lc_txn_rollback(t);
			return (rv);
		}
		publish(t);
	} else if (sqlite3_get_autocommit(wr->conn) ||
	    run(t, "RELEASE lc_member") != 0) {
		lc_txn_rollback(t);
		return (LC_EINTERNAL);
	} else {
		// t joins the group: the last member commits it
		if (wr->tail != NULL) {
			wr->tail->next = t;
		} else {
			wr->head = t;
		}
		wr->tail = t;
		wr->nmembers++;
		if (atomic_load(&wr->waiting) > 0 &&
		    wr->nmembers < LC_GROUP_MAX) {
			(void) pthread_mutex_unlock(&wr->mu);
			(void) pthread_mutex_lock(&wr->gmu);
			while (!t->done) {
				(void) pthread_cond_wait(&wr->gcv, &wr->gmu);
			}
			(void) pthread_mutex_unlock(&wr->gmu);
			rv = t->rv;
		} else {
			rv = group_end(t, 0);
			(void) pthread_mutex_unlock(&wr->mu);
		}
		if (rv != 0) {
			release(t);
			return (rv);
		}
	}
	json_array_foreach(t->events, i, ev)
	{
		if (rp != NULL) {
			lc_rep_effect(rp,
			    (int) json_integer_value(json_array_get(ev, 0)),
			    json_incref(json_array_get(ev, 1)));
		}
	}
	release(t);
	return (0);
}

void
lc_txn_emit(struct lc_txn *t, struct lc_pub *pub, int topic, json_t *payload)
{
	if (payload == NULL) {
		return;
	}
	if (t->state == LC_TXN_NONE) {
		if (pub != NULL) {
			(void) lc_pub_send(pub, topic, payload);
		}
		json_decref(payload);
		return;
	}
	json_array_append_new(t->events, json_pack("[i,o]", topic, payload));
}
