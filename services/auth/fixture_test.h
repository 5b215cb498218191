/*
 * fixture_test.h -- the cmocka fixture the auth unit tests share: a
 * worker (struct lc_worker with its own connection and db.c state) of a
 * fake "auth" service over a fresh auth.db in a temp directory, the
 * default settings installed, the console mailer writing to fx->mails
 * (EMAIL_CONSOLE_FILE), and SECRET_KEY = test_secret_key. Writes run on
 * a writer connection of their own, as in the service (lc_store.h), so a
 * statement taken from the wrong connection shows. Password hashing runs
 * without a pool (st.pw == NULL: on the calling thread).
 *
 * Header-only, for *_test.c files: include it once, after cmocka.h and
 * auth.h; use setup/teardown as the group or test fixture and
 * settings_set to change one setting for the rest of the test.
 */
#ifndef AUTH_FIXTURE_TEST_H
#define AUTH_FIXTURE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_service.h"
#include "lc_settings.h"
#include "lc_store.h"

struct fx {
	struct lc_service svc;
	struct auth_state st;
	struct lc_worker  w;
	char              dir[64];
	char              path[128];
	char              mails[128]; // the console provider's file
};

static uint8_t test_secret_key[32] = "0123456789abcdef0123456789abcdef";

// Installs the current settings with key set to v (takes v).
static void
settings_set(const char *key, json_t *v)
{
	json_t *cur = lc_settings_current(NULL);

	json_object_set_new(cur, key, v);
	lc_settings_install(cur, 0);
	json_decref(cur);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	json_t    *d;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/auth_test_XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/auth.db", fx->dir);
	snprintf(fx->mails, sizeof(fx->mails), "%s/mails.jsonl", fx->dir);
	setenv("EMAIL_CONSOLE_FILE", fx->mails, 1);
	assert_int_equal(lc_db_open(fx->path, &fx->w.db), 0);
	assert_int_equal(
	    lc_db_migrate(fx->w.db, auth_migrations, auth_nmigrations), 0);
	fx->svc.name          = "auth";
	fx->svc.user          = &fx->st;
	fx->st.svc            = &fx->svc;
	fx->st.secret_key     = test_secret_key;
	fx->st.secret_key_len = sizeof(test_secret_key);
	fx->w.svc             = &fx->svc;
	assert_int_equal(lc_writer_open(fx->path, &fx->svc.writer), 0);
	assert_int_equal(auth_db_open(&fx->w), 0);
	assert_int_equal(auth_mailer_alloc(&fx->st.mail), 0);
	d = lc_settings_defaults();
	lc_settings_install(d, 0);
	json_decref(d);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char       p[160];

	auth_mailer_free(fx->st.mail);
	auth_db_close(&fx->w);
	lc_writer_close(fx->svc.writer);
	lc_db_close(fx->w.db);
	unlink(fx->path);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	unlink(fx->mails);
	rmdir(fx->dir);
	free(fx);
	return (0);
}

#endif // AUTH_FIXTURE_TEST_H
