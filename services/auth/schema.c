/*
 * schema.c -- auth.db migrations (lc_db_migrate; append only, never edit a
 * shipped one). Every table belongs to the auth service alone.
 *
 * Secrets are never stored in the clear: refresh tokens, API keys, e-mail
 * tokens and TOTP challenges are kept as SHA-256 hashes (BLOB, 32 bytes);
 * passwords as Argon2id strings. Times are Unix ms.
 */
#include "auth.h"

const char *const auth_migrations[] = {
	// 1: meta (key/value), with the schema version
	"CREATE TABLE meta ("
	"  key   TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") STRICT;"
	"INSERT INTO meta (key, value) VALUES ('schema_version', '1');",

	// 2: users, sessions, refresh tokens, API keys, e-mail tokens, TOTP
	// challenges, lockout counters
	"CREATE TABLE users ("
	"  id             TEXT PRIMARY KEY,"
	"  email          TEXT NOT NULL UNIQUE,"
	"  pw_hash        TEXT," // NULL: no password
	"  is_verified    INTEGER NOT NULL DEFAULT 0,"
	"  totp_enabled   INTEGER NOT NULL DEFAULT 0,"
	"  totp_secret    TEXT,"                        // base32, when enabled
	"  totp_pending   TEXT,"                        // base32, after setup
	"  totp_last_step INTEGER NOT NULL DEFAULT -1," // last accepted step
	"  roles          TEXT NOT NULL DEFAULT '[]',"  // JSON array
	"  metadata       TEXT NOT NULL DEFAULT '{}',"  // JSON object
	"  cut            TEXT NOT NULL DEFAULT '',"    // ULID, see auth.h
	"  created_at     INTEGER NOT NULL,"
	"  updated_at     INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE sessions ("
	"  id           TEXT PRIMARY KEY,"
	"  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  created_at   INTEGER NOT NULL,"
	"  last_used_at INTEGER NOT NULL,"
	"  expires_at   INTEGER NOT NULL,"
	"  ip           TEXT NOT NULL DEFAULT '',"
	"  user_agent   TEXT NOT NULL DEFAULT ''"
	") STRICT;"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE INDEX sessions_expires ON sessions(expires_at);"
	// Every refresh token a session was given; current = 1 for the one
	// that works, 0 for earlier ones (their reuse revokes the session).
	"CREATE TABLE refresh_tokens ("
	"  hash       BLOB PRIMARY KEY,"
	"  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
	"  current    INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);"
	"CREATE TABLE api_keys ("
	"  id           TEXT PRIMARY KEY,"
	"  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  name         TEXT NOT NULL,"
	"  prefix       TEXT NOT NULL,"
	"  hash         BLOB NOT NULL UNIQUE,"
	"  created_at   INTEGER NOT NULL,"
	"  expires_at   INTEGER,"
	"  last_used_at INTEGER"
	") STRICT;"
	"CREATE INDEX api_keys_user ON api_keys(user_id);"
	// kind: verify_email | reset_password | magic_link. user_id is NULL
	// for a sign-up magic link (bound to the e-mail only).
	"CREATE TABLE email_tokens ("
	"  hash       BLOB PRIMARY KEY,"
	"  kind       TEXT NOT NULL,"
	"  user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,"
	"  email      TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at    INTEGER"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX email_tokens_user ON email_tokens(user_id);"
	"CREATE TABLE totp_challenges ("
	"  hash       BLOB PRIMARY KEY,"
	"  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  email      TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at    INTEGER"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX totp_challenges_user ON totp_challenges(user_id);"
	"CREATE TABLE lockout ("
	"  email        TEXT PRIMARY KEY,"
	"  failures     INTEGER NOT NULL,"
	"  locked_until INTEGER NOT NULL DEFAULT 0"
	") STRICT, WITHOUT ROWID;",

	// 3: a session keeps every refresh token it ever had (reuse
	// detection), so retiring the current one must not walk them all.
	"CREATE INDEX refresh_tokens_current ON refresh_tokens(session_id) "
	"WHERE current = 1;",
};

const size_t auth_nmigrations =
    sizeof(auth_migrations) / sizeof(auth_migrations[0]);
