/*
 * lockout.c -- login lockout per normalized e-mail (API.md §2.6).
 *
 * One row per key in the lockout table: the consecutive failures and the
 * time the lock ends (0: not locked). An attempt is counted in advance,
 * in its own IMMEDIATE transaction: the attempt that brings failures to
 * lockout_max_attempts sets locked_until = now + lockout_duration_ms. So
 * of a parallel burst exactly lockout_max_attempts attempts get past
 * auth_lock_attempt (they serialize on SQLite's write lock) and the rest
 * see the lock, and the slow password check never runs under a
 * transaction. When the attempt turns out to be a success the row is
 * deleted (auth_lock_success); when it was a correct password answered
 * with a TotpChallenge the attempt is taken back (auth_lock_undo), which
 * also lifts a lock that attempt set. A lock is never extended: a locked
 * key is answered 429 without counting anything. An expired lock starts
 * the count again at zero.
 *
 * These run outside the caller's transactions except auth_lock_reset,
 * which is a single statement and works either way. Their failures are
 * logged; auth_lock_attempt fails closed only on a database error.
 */
#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_settings.h"

// Retry-After: seconds left, rounded up, at least 1.
static int64_t
seconds_left(int64_t until, int64_t now)
{
	int64_t s = (until - now + 999) / 1000;

	return (s > 0 ? s : 1);
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
auth_lock_attempt(
    struct lc_worker *w, const char *email_norm, int64_t *retry_s)
{
	int64_t max = lc_settings_int("lockout_max_attempts");
	int64_t dur = lc_settings_int("lockout_duration_ms");
	int64_t now;
	int64_t failures;
	int64_t until;
	int     rv;

	if (max <= 0) {
		return (0); // lockout off: nothing stored
	}
	if ((rv = auth_begin(w)) != 0) {
		return (rv);
	}
	now = lc_now_ms();
	if ((rv = lock_read(w, email_norm, &failures, &until)) != 0) {
		goto fail;
	}
	if (until > now) {
		auth_rollback(w);
		*retry_s = seconds_left(until, now);
		return (LC_EACCOUNT_LOCKED);
	}
	if (until != 0) {
		failures = 0; // the lock ran out: a new count
		until    = 0;
	}
	if (++failures >= max) {
		until = now + dur;
	}
	if ((rv = lock_write(w, email_norm, failures, until)) != 0) {
		goto fail;
	}
	return (auth_commit(w, NULL));
fail:
	auth_rollback(w);
	return (rv);
}

// Runs one single-statement write on key (?1) and arg (?2, when the
// statement has it); failures are logged.
static void
lock_exec(struct lc_worker *w, const char *sql, const char *key, int64_t arg,
    const char *what)
{
	sqlite3_stmt *st = auth_stmt(w, sql);

	if (st == NULL || auth__bind_text(st, 1, key) != 0 ||
	    (sqlite3_bind_parameter_count(st) >= 2 &&
	        sqlite3_bind_int64(st, 2, arg) != SQLITE_OK)) {
		lc_db_done(st);
		lc_log_err("AUTH-LOCKOUT", "%s: bind failed", what);
		return;
	}
	(void) auth__step_done(w, st, what);
}

void
auth_lock_success(struct lc_worker *w, const char *email_norm)
{
	lock_exec(w, "DELETE FROM lockout WHERE email = ?1", email_norm, 0,
	    "lockout success");
}

void
auth_lock_undo(struct lc_worker *w, const char *email_norm)
{
	int64_t max = lc_settings_int("lockout_max_attempts");

	if (max <= 0) {
		return;
	}
	// One failure fewer; below the limit again, the lock it set goes.
	lock_exec(w,
	    "UPDATE lockout SET failures = max(failures - 1, 0), "
	    "locked_until = CASE WHEN failures - 1 < ?2 THEN 0 "
	    "ELSE locked_until END WHERE email = ?1",
	    email_norm, max, "lockout undo");
}

void
auth_lock_reset(struct lc_worker *w, const char *email_norm)
{
	lock_exec(w, "DELETE FROM lockout WHERE email = ?1", email_norm, 0,
	    "lockout reset");
}
