/*
 * lockout.c -- login lockout per normalized e-mail (API.md §2.6).
 *
 * Two counts per key. The confirmed failures live in the lockout table
 * (one row per key: consecutive failures and the time the lock ends, 0 when
 * not locked), so they survive a restart. The attempts still being checked
 * (the slow password hash, a TOTP code) are pending: a ticket each, in a
 * process-wide list under one mutex, since only this process decides.
 *
 * An attempt enters (auth_lock_enter) only while failures + pending is
 * below lockout_max_attempts; otherwise it waits until a pending attempt
 * of its key leaves. It leaves (auth_lock_leave) with its outcome: a
 * failure is added to the row (the one that reaches the limit sets
 * locked_until = now + lockout_duration_ms, and still answers 401), a
 * success deletes the row, anything else (a correct password answered
 * with a TotpChallenge, an overloaded hasher, an internal error) changes
 * nothing. So of a burst of wrong passwords exactly lockout_max_attempts
 * are checked and answered 401 and the rest wait and see the lock (429),
 * while a burst of right ones all succeed: nothing counts as a failure
 * before it is one. A locked key is answered 429 without waiting or
 * counting; a lock is never extended; an expired lock starts the count
 * again at zero. A crash loses only pending attempts, which had no answer.
 *
 * Locking order: lock_mu first, then db.c's write_mu (auth_lock_leave
 * writes in a transaction under lock_mu), so auth_lock_enter/leave are
 * never called inside a transaction; auth_lock_reset (one statement,
 * usable inside one) does not take lock_mu.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_settings.h"

// How long an attempt waits for a pending one of its key before it is
// answered 503 (the hasher is overloaded if that is not enough).
#define LOCK_WAIT_MS 10000

static pthread_mutex_t          lock_mu   = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t           lock_cv   = PTHREAD_COND_INITIALIZER;
static struct auth_lock_ticket *lock_list = NULL; // pending attempts

// Retry-After: seconds left, rounded up, at least 1.
static int64_t
seconds_left(int64_t until, int64_t now)
{
	int64_t s = (until - now + 999) / 1000;

	return (s > 0 ? s : 1);
}

// Pending attempts of key. Under lock_mu.
static int64_t
pending(const char *key)
{
	int64_t n = 0;

	for (struct auth_lock_ticket *t = lock_list; t != NULL; t = t->next) {
		n += strcmp(t->key, key) == 0;
	}
	return (n);
}
// The row of key: *failures, *until (0, 0 when there is none).
static int
lock_read(
    struct lc_worker *w, const char *key, int64_t *failures, int64_t *until)
{
	sqlite3_stmt *st = auth_stmt(
	    w, "SELECT failures, locked_until FROM lockout WHERE email = ?1");
	int rv = LC_EINTERNAL;
	int sr;

	*failures = 0;
	*until    = 0;
	if (st == NULL || auth__bind_text(st, 1, key) != 0) {
		goto out;
	}
	sr = sqlite3_step(st);
	if (sr == SQLITE_ROW) {
		*failures = sqlite3_column_int64(st, 0);
		*until    = sqlite3_column_int64(st, 1);
	}
	rv = sr == SQLITE_ROW || sr == SQLITE_DONE ? 0 : LC_EINTERNAL;
out:
	lc_db_done(st);
	return (rv);
}

static int
lock_write(
    struct lc_worker *w, const char *key, int64_t failures, int64_t until)
{
	sqlite3_stmt *st = auth_stmt(w,
	    "INSERT INTO lockout (email, failures, locked_until) VALUES "
	    "(?1, ?2, ?3) ON CONFLICT (email) DO UPDATE SET "
	    "failures = excluded.failures, "
	    "locked_until = excluded.locked_until");

	if (st == NULL || auth__bind_text(st, 1, key) != 0 ||
	    sqlite3_bind_int64(st, 2, failures) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, until) != SQLITE_OK) {
		lc_db_done(st);
		return (LC_EINTERNAL);
	}
	return (auth__step_done(w, st, "lockout write"));
}

int
auth_lock_enter(struct lc_worker *w, const char *key,
    struct auth_lock_ticket *t, int64_t *retry_s)
{
	int64_t         max = lc_settings_int("lockout_max_attempts");
	struct timespec deadline;
	int64_t         failures;
	int64_t         until;
	int64_t         now;
	int             rv = 0;

	t->key    = key;
	t->active = 0;
	t->next   = NULL;
	if (max <= 0) {
		return (0); // lockout off: nothing counted
	}
	(void) clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += LOCK_WAIT_MS / 1000;
	pthread_mutex_lock(&lock_mu);
	for (;;) {
		if ((rv = lock_read(w, key, &failures, &until)) != 0) {
			break;
		}
		now = lc_now_ms();
		if (until > now) {
			*retry_s = seconds_left(until, now);
			rv       = LC_EACCOUNT_LOCKED;
			break;
		}
		if (until != 0) {
			failures = 0; // the lock ran out: a new count
		}
		// With nothing pending the attempt goes ahead even at the
		// limit (a limit lowered since): its failure sets the lock.
		if (failures + pending(key) < max || pending(key) == 0) {
			t->active = 1;
			t->next   = lock_list;
			lock_list = t;
			break;
		}
		if (pthread_cond_timedwait(&lock_cv, &lock_mu, &deadline) ==
		    ETIMEDOUT) {
			rv = LC_EUNAVAILABLE;
			break;
		}
	}
	pthread_mutex_unlock(&lock_mu);
	return (rv);
}

// One more failure for key, locking it at the limit. Under lock_mu.
static void
lock_fail(struct lc_worker *w, const char *key)
{
	int64_t max = lc_settings_int("lockout_max_attempts");
	int64_t now = lc_now_ms();
	int64_t failures;
	int64_t until;

	if (lock_read(w, key, &failures, &until) != 0) {
		return; // logged by the statement helpers
	}
	if (until > now) {
		return; // locked meanwhile (a lowered limit): not extended
	}
	if (until != 0) {
		failures = 0;
	}
	until = ++failures >= max && max > 0
	    ? now + lc_settings_int("lockout_duration_ms")
	    : 0;
	if (lock_write(w, key, failures, until) != 0) {
		lc_log_err("AUTH-LOCKOUT", "cannot record a failure");
	}
}

void
auth_lock_leave(struct lc_worker *w, struct auth_lock_ticket *t,
    enum auth_lock_outcome outcome)
{
	struct auth_lock_ticket **pp;

	if (!t->active) {
		return;
	}
	pthread_mutex_lock(&lock_mu);
	for (pp = &lock_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->active = 0;
	// A write transaction (db.c's write_mu, taken after lock_mu).
	if (outcome != AUTH_LOCK_NEUTRAL && auth_begin(w) == 0) {
		if (outcome == AUTH_LOCK_FAILED) {
			lock_fail(w, t->key);
		} else {
			auth_lock_reset(w, t->key);
		}
		if (auth_commit(w, NULL) != 0) {
			lc_log_err("AUTH-LOCKOUT", "cannot record an outcome");
		}
	}
	pthread_cond_broadcast(&lock_cv);
	pthread_mutex_unlock(&lock_mu);
}

void
auth_lock_reset(struct lc_worker *w, const char *email_norm)
{
	sqlite3_stmt *st =
	    auth_stmt(w, "DELETE FROM lockout WHERE email = ?1");

	if (st == NULL || auth__bind_text(st, 1, email_norm) != 0) {
		lc_db_done(st);
		lc_log_err("AUTH-LOCKOUT", "lockout reset: bind failed");
		return;
	}
	(void) auth__step_done(w, st, "lockout reset");
}
