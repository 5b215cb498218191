/*
 * dedupe.c -- idempotency by request (issue 4: a write the bus delivers
 * twice runs once). nng's req0 sends a request again when its pipe closes
 * before the reply (e.g. this process crashed after COMMIT), within the
 * caller's deadline (LC_BUS_TIMEOUT_MS). Every successful write stores its
 * reply, in its own transaction, under the request's fingerprint; a
 * request whose fingerprint is stored gets that reply and does nothing.
 *
 * The replies table is append-only (INTEGER PRIMARY KEY in arrival order),
 * so a write dirties the table's last page, which the members of a group
 * commit share, and the purge deletes a range at its start. Finding a
 * fingerprint is an in-memory map (fp -> row id) shared by the workers,
 * loaded at start from the rows younger than DATA_DEDUPE_MS. The map is
 * only a hint: a row is used when its fp matches, so an entry left by a
 * rolled-back write (whose row id may be reused) answers nothing.
 *
 * The map keeps two generations and drops the older one every
 * DATA_DEDUPE_MS / 2, so an entry lives at least that long: five times
 * the bus deadline.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_service.h"

#define PURGE_EVERY_MS 1000 // between purges of old replies
#define FP_LEN 16

_Static_assert(sizeof(((struct data_worker *) 0)->fp) == FP_LEN,
    "the worker's fingerprint is FP_LEN bytes");

struct fp_slot {
	uint8_t fp[FP_LEN];
	int64_t id; // 0: empty
};

// Open addressing, linear probing, at most half full; no deletion.
struct fp_map {
	struct fp_slot *slots;
	size_t          cap; // a power of 2, or 0
	size_t          n;
};

struct data_dedupe {
	pthread_mutex_t mtx;
	struct fp_map   gen[2]; // gen[0]: current, gen[1]: older
	int64_t         rotated_ms;
	int64_t         purged_ms;
};

static uint64_t
fp_hash(const uint8_t *fp)
{
	uint64_t h;

	memcpy(&h, fp, sizeof(h)); // a BLAKE2b output: already uniform
	return (h);
}

static void
map_put(struct fp_map *m, const uint8_t *fp, int64_t id)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct fp_map g = { 0 };

		g.cap   = m->cap != 0 ? m->cap * 2 : 1024;
		g.slots = lc_calloc(g.cap, sizeof(*g.slots));
		for (size_t k = 0; k < m->cap; k++) {
			if (m->slots[k].id != 0) {
				map_put(&g, m->slots[k].fp, m->slots[k].id);
			}
		}
		lc_free(m->slots);
		*m = g;
	}
	for (i = fp_hash(fp) & (m->cap - 1); m->slots[i].id != 0;
	     i = (i + 1) & (m->cap - 1)) {
		if (memcmp(m->slots[i].fp, fp, FP_LEN) == 0) {
			m->slots[i].id = id; // the newer write of this fp
			return;
		}
	}
	memcpy(m->slots[i].fp, fp, FP_LEN);
	m->slots[i].id = id;
	m->n++;
}

static int64_t
map_get(const struct fp_map *m, const uint8_t *fp)
{
	if (m->cap == 0) {
		return (0);
	}
	for (size_t i = fp_hash(fp) & (m->cap - 1); m->slots[i].id != 0;
	     i        = (i + 1) & (m->cap - 1)) {
		if (memcmp(m->slots[i].fp, fp, FP_LEN) == 0) {
			return (m->slots[i].id);
		}
	}
	return (0);
}

static void
map_clear(struct fp_map *m)
{
	lc_free(m->slots);
	memset(m, 0, sizeof(*m));
}

int
data_dedupe_open(sqlite3 *db, struct data_dedupe **out)
{
	struct data_dedupe *d = lc_calloc(1, sizeof(*d));
	sqlite3_stmt       *st;
	int64_t             now = lc_now_ms();
	int                 sr;

	pthread_mutex_init(&d->mtx, NULL);
	d->rotated_ms = now;
	d->purged_ms  = now;
	if (lc_db_prepare(
	        db, "SELECT id, fp FROM replies WHERE at >= ?1", &st) != 0) {
		data_dedupe_close(d);
		return (LC_EINTERNAL);
	}
	(void) sqlite3_bind_int64(st, 1, now - DATA_DEDUPE_MS);
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) == FP_LEN) {
			map_put(&d->gen[0], sqlite3_column_blob(st, 1),
			    sqlite3_column_int64(st, 0));
		}
	}
	sqlite3_finalize(st);
	if (sr != SQLITE_DONE) {
		lc_log_err("DATA-DEDUPE", "load: %s", sqlite3_errmsg(db));
		data_dedupe_close(d);
		return (LC_EINTERNAL);
	}
	*out = d;
	return (0);
}

void
data_dedupe_close(struct data_dedupe *d)
{
	if (d == NULL) {
		return;
	}
	map_clear(&d->gen[0]);
	map_clear(&d->gen[1]);
	pthread_mutex_destroy(&d->mtx);
	lc_free(d);
}

static struct data_dedupe *
dedupe_of(const struct data_worker *dw)
{
	return (dw->w != NULL && dw->w->svc != NULL ? dw->w->svc->user : NULL);
}

/* ---- fingerprint ---- */

static void
fp_add(crypto_generichash_state *hs, const char *s, size_t len)
{
	uint8_t sep = 0;

	crypto_generichash_update(hs, (const uint8_t *) s, len);
	crypto_generichash_update(hs, &sep, 1);
}

static void
fp_json(crypto_generichash_state *hs, const json_t *j)
{
	char *d =
	    j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	fp_add(hs, d != NULL ? d : "", d != NULL ? strlen(d) : 0);
	free(d); // jansson's allocator
}

// The fingerprint of a request: the same envelope delivered twice gives
// the same value; two requests that reuse one X-Request-Id but differ in
// caller, target or body do not.
static void
fingerprint(struct data_worker *dw, const struct lc_req *rq)
{
	crypto_generichash_state hs;
	const json_t            *uid = json_object_get(rq->caller, "uid");
	char                     kind[4];

	crypto_generichash_init(&hs, NULL, 0, sizeof(dw->fp));
	fp_add(&hs, rq->rid, strlen(rq->rid));
	fp_add(&hs, rq->op_name, strlen(rq->op_name));
	kind[0] = (char) ('0' + rq->caller_kind % 10);
	fp_add(&hs, kind, 1);
	fp_add(&hs, json_is_string(uid) ? json_string_value(uid) : "",
	    json_is_string(uid) ? json_string_length(uid) : 0);
	fp_json(&hs, rq->params);
	fp_json(&hs, rq->body);
	crypto_generichash_final(&hs, dw->fp, sizeof(dw->fp));
	dw->fp_ok = 1;
}

/* ---- find and store ---- */

int
data_dedupe_find(
    struct data_worker *dw, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_dedupe *d = dedupe_of(dw);
	sqlite3_stmt       *st;
	json_t             *body;
	int64_t             id;
	int                 found = 0;

	dw->fp_ok = 0;
	if (rq->rid[0] == '\0' || d == NULL) {
		return (0);
	}
	fingerprint(dw, rq);
	pthread_mutex_lock(&d->mtx);
	if ((id = map_get(&d->gen[0], dw->fp)) == 0) {
		id = map_get(&d->gen[1], dw->fp);
	}
	pthread_mutex_unlock(&d->mtx);
	if (id == 0 ||
	    (st = data_stmt(dw,
	         "SELECT status, body FROM replies WHERE id = ?1 AND fp = "
	         "?2")) == NULL) {
		return (0);
	}
	(void) sqlite3_bind_int64(st, 1, id);
	(void) sqlite3_bind_blob(st, 2, dw->fp, sizeof(dw->fp), SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (body = json_loadb((const char *) sqlite3_column_text(st, 1),
	         (size_t) sqlite3_column_bytes(st, 1),
	         JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)) != NULL) {
		lc_rep_json(rp, sqlite3_column_int(st, 0), body);
		found = 1;
		lc_log_info("DATA-DEDUPE", "answered a repeated request");
	}
	lc_db_done(st);
	return (found);
}

// Deletes the replies older than DATA_DEDUPE_MS (a range at the table's
// start) once a second, and drops the older map generation every half
// window.
static void
purge(struct data_worker *dw, struct data_dedupe *d, int64_t now)
{
	sqlite3_stmt *st;
	int           due;

	pthread_mutex_lock(&d->mtx);
	due = now - d->purged_ms >= PURGE_EVERY_MS;
	if (due) {
		d->purged_ms = now;
	}
	if (now - d->rotated_ms >= DATA_DEDUPE_MS / 2) {
		map_clear(&d->gen[1]);
		d->gen[1] = d->gen[0];
		memset(&d->gen[0], 0, sizeof(d->gen[0]));
		d->rotated_ms = now;
	}
	pthread_mutex_unlock(&d->mtx);
	if (due &&
	    (st = data_stmt(dw,
	         "DELETE FROM replies WHERE id < coalesce((SELECT id FROM"
	         " replies WHERE at >= ?1 ORDER BY id LIMIT 1),"
	         " (SELECT max(id) + 1 FROM replies))")) != NULL) {
		// Rows come in time order (one writer), so the old ones are
		// those before the first young one: the scan stops there. A
		// clock stepping back only keeps some rows longer.
		(void) sqlite3_bind_int64(st, 1, now - DATA_DEDUPE_MS);
		(void) sqlite3_step(st);
		lc_db_done(st);
	}
}

int
data_dedupe_store(struct data_worker *dw, const struct lc_req *rq, int status,
    const json_t *body)
{
	struct data_dedupe *d = dedupe_of(dw);
	sqlite3_stmt       *st;
	char               *text;
	int                 sr;
	int64_t             now = lc_now_ms();

	LC_UNUSED(rq);
	if (!dw->fp_ok || d == NULL) {
		return (0);
	}
	purge(dw, d, now);
	st = data_stmt(dw,
	    "INSERT INTO replies (fp, status, body, at) VALUES (?1, ?2, ?3,"
	    " ?4)");
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	(void) sqlite3_bind_blob(st, 1, dw->fp, sizeof(dw->fp), SQLITE_STATIC);
	(void) sqlite3_bind_int(st, 2, status);
	(void) sqlite3_bind_text(
	    st, 3, text != NULL ? text : "null", -1, SQLITE_TRANSIENT);
	(void) sqlite3_bind_int64(st, 4, now);
	sr = sqlite3_step(st);
	lc_db_done(st);
	free(text);
	if (sr != SQLITE_DONE) {
		lc_log_err("DATA-SQL", "dedupe store: %s",
		    sqlite3_errmsg(data_conn(dw)));
		return (LC_EINTERNAL);
	}
	pthread_mutex_lock(&d->mtx);
	map_put(&d->gen[0], dw->fp, sqlite3_last_insert_rowid(data_conn(dw)));
	pthread_mutex_unlock(&d->mtx);
	return (0);
}
