/*
 * main.c -- busbase-auth: owns auth.db (users, sessions, refresh tokens,
 * API keys, e-mail tokens, TOTP, lockout). See auth.h for how the parts
 * fit; this file holds the lc_service_def, the op table and the set-up of
 * the shared state (init/fini) and of each worker (worker_init/fini).
 *
 * Worker count. Password hashing (pwhash.c) blocks the worker that asked
 * for it while the low-priority pool computes; at most nworkers -
 * AUTH_WORKERS_FREE workers can be in that state (more password requests
 * are answered 503 with Retry-After at once), so at least
 * AUTH_WORKERS_FREE workers always serve the cheap ops (/auth/me,
 * refresh, session checks) during a login flood. The number is large so
 * that a flood of up to ~48 concurrent logins simply waits, paced by the
 * two hashing threads at almost no CPU cost, rather than spinning through
 * fast rejections.
 */
#include <string.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"
#include "lc_service.h"

#define AUTH_WORKERS 64
#define AUTH_WORKERS_FREE 16 // never taken by password work

static const struct lc_op auth_ops[] = {
	{ LC_MSG_AUTH_REGISTER, auth_h_register },
	{ LC_MSG_AUTH_LOGIN, auth_h_login },
	{ LC_MSG_AUTH_REFRESH, auth_h_refresh },
	{ LC_MSG_AUTH_LOGOUT, auth_h_logout },
	{ LC_MSG_AUTH_LOGOUT_ALL, auth_h_logout_all },
	{ LC_MSG_AUTH_ME_GET, auth_h_me_get },
	{ LC_MSG_AUTH_ME_UPDATE, auth_h_me_update },
	{ LC_MSG_AUTH_ME_DELETE, auth_h_me_delete },
	{ LC_MSG_AUTH_FORGOT_PASSWORD, auth_h_forgot_password },
	{ LC_MSG_AUTH_RESET_PASSWORD, auth_h_reset_password },
	{ LC_MSG_AUTH_VERIFY_EMAIL, auth_h_verify_email },
	{ LC_MSG_AUTH_RESEND_VERIFY, auth_h_resend_verification },
	{ LC_MSG_AUTH_MAGIC_LINK, auth_h_magic_link },
	{ LC_MSG_AUTH_MAGIC_VERIFY, auth_h_magic_verify },
	{ LC_MSG_AUTH_APIKEY_CREATE, auth_h_apikey_create },
	{ LC_MSG_AUTH_APIKEY_LIST, auth_h_apikey_list },
	{ LC_MSG_AUTH_APIKEY_DELETE, auth_h_apikey_delete },
	{ LC_MSG_AUTH_TOTP_SETUP, auth_h_totp_setup },
	{ LC_MSG_AUTH_TOTP_ENABLE, auth_h_totp_enable },
	{ LC_MSG_AUTH_TOTP_DISABLE, auth_h_totp_disable },
	{ LC_MSG_AUTH_TOTP_VERIFY, auth_h_totp_verify },
	{ LC_MSG_AUTH_APIKEY_RESOLVE, auth_h_apikey_resolve },
	{ LC_MSG_AUTH_SESSIONS_SNAPSHOT, auth_h_sessions_snapshot },
	{ LC_MSG_AUTH_SESSION_CHECK, auth_h_session_check },
	{ LC_MSG_USERS_LIST, auth_h_users_list },
	{ LC_MSG_USERS_GET, auth_h_users_get },
	{ LC_MSG_USERS_UPDATE, auth_h_users_update },
	{ LC_MSG_USERS_DELETE, auth_h_users_delete },
	{ LC_MSG_USERS_SET_ROLES, auth_h_users_set_roles },
	{ LC_MSG_USERS_IMPERSONATE, auth_h_users_impersonate },
	{ LC_MSG_SESSIONS_LIST, auth_h_sessions_list },
	{ LC_MSG_SESSIONS_DELETE, auth_h_sessions_delete },
	{ LC_MSG_SESSIONS_PURGE, auth_h_sessions_purge },
};

static void
auth_fini(struct lc_service *s)
{
	struct auth_state *st = s->user;

	if (st == NULL) {
		return;
	}
	s->user = NULL;
	auth_mailer_free(st->mail);
	auth_pwpool_free(st->pw);
	if (st->secret_key != NULL) {
		sodium_memzero(st->secret_key, st->secret_key_len);
		lc_free(st->secret_key);
	}
	lc_free(st);
}

static int
auth_init(struct lc_service *s)
{
	struct auth_state *st = lc_calloc(1, sizeof(*st));
	int nworkers = s->cfg.workers > 0 ? s->cfg.workers : AUTH_WORKERS;
	int max_jobs = nworkers > 2 * AUTH_WORKERS_FREE
	    ? nworkers - AUTH_WORKERS_FREE
	    : (nworkers + 1) / 2;
	int rv;

	st->svc            = s;
	st->secret_key_len = s->cfg.secret_key_len;
	st->secret_key     = lc_alloc(st->secret_key_len + 1);
	memcpy(st->secret_key, s->cfg.secret_key, st->secret_key_len);
	s->user = st;
	if ((rv = auth_pwpool_alloc(AUTH_PW_THREADS, max_jobs, &st->pw)) !=
	    0) {
		lc_log_err("AUTH-INIT", "cannot start the password pool");
		goto fail;
	}
	if ((rv = auth_mailer_alloc(&st->mail)) != 0) {
		lc_log_err("AUTH-INIT", "cannot start the mailer");
		goto fail;
	}
	lc_log_info("AUTH-INIT", "%d password threads, at most %d jobs",
	    AUTH_PW_THREADS, max_jobs);
	return (0);
fail:
	auth_fini(s);
	return (rv);
}

static int
auth_worker_init(struct lc_worker *w)
{
	return (auth_db_open(w));
}

static void
auth_worker_fini(struct lc_worker *w)
{
	auth_db_close(w);
}

// One count; -1 on error (logged).
static int64_t
count(struct lc_worker *w, const char *sql, int64_t now)
{
	sqlite3_stmt *st = auth_stmt(w, sql);
	int64_t       n  = -1;

	if (st == NULL) {
		return (-1);
	}
	if (sqlite3_bind_parameter_count(st) >= 1) {
		(void) sqlite3_bind_int64(st, 1, now);
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
	} else {
		lc_log_err(
		    "AUTH-SQL", "stats: %s", sqlite3_errmsg(auth_conn(w)));
	}
	lc_db_done(st);
	return (n);
}

// {"users","sessions","api_keys"}: sessions that have not expired, and
// API keys that still work (not expired).
static int
auth_stats(struct lc_worker *w, json_t *out)
{
	int64_t now = lc_now_ms();
	int64_t users;
	int64_t sessions;
	int64_t keys;

	users    = count(w, "SELECT count(*) FROM users", now);
	sessions = count(
	    w, "SELECT count(*) FROM sessions WHERE expires_at > ?1", now);
	keys = count(w,
	    "SELECT count(*) FROM api_keys WHERE expires_at IS NULL OR "
	    "expires_at > ?1",
	    now);
	if (users < 0 || sessions < 0 || keys < 0) {
		return (LC_EINTERNAL);
	}
	json_object_set_new(out, "users", json_integer(users));
	json_object_set_new(out, "sessions", json_integer(sessions));
	json_object_set_new(out, "api_keys", json_integer(keys));
	return (0);
}

int
main(int argc, char **argv)
{
	const struct lc_service_def def = {
		.svc         = LC_SVC_AUTH,
		.ops         = auth_ops,
		.nops        = LC_NELEM(auth_ops),
		.migrations  = auth_migrations,
		.nmigrations = auth_nmigrations,
		.db_file     = "auth.db",
		.nworkers    = AUTH_WORKERS,
		.init        = auth_init,
		.fini        = auth_fini,
		.worker_init = auth_worker_init,
		.worker_fini = auth_worker_fini,
		.stats       = auth_stats,
	};

	return (lc_service_main(&def, argc, argv));
}
