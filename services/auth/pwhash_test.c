/*
 * pwhash_test.c -- the Argon2id pool (pwhash.c): hash and verify through
 * the pool and without one, the dummy verification for a missing hash,
 * shedding when max_jobs are in progress, and the pool threads' nice
 * value (19).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
// cmocka needs the four above first
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "auth.h"
#include "lc_err.h"

static void
test_inline(void **state)
{
	struct auth_state st = { 0 };
	char              h[AUTH_PWHASH_STR];

	(void) state;
	assert_int_equal(auth_pw_hash(NULL, "correct horse", 13, h), 0);
	assert_memory_equal(h, "$argon2id$", 10);
	assert_int_equal(auth_pw_verify(NULL, h, "correct horse", 13), 0);
	assert_int_equal(auth_pw_verify(&st, h, "correct horsE", 13),
	    LC_EINVALID_CREDENTIALS);
	// Embedded NULs are part of the password.
	assert_int_equal(auth_pw_hash(&st, "ab\0cdefgh", 9, h), 0);
	assert_int_equal(auth_pw_verify(&st, h, "ab\0cdefgh", 9), 0);
	assert_int_equal(
	    auth_pw_verify(&st, h, "ab", 2), LC_EINVALID_CREDENTIALS);
	// No hash (unknown account, no password): always a failure.
	assert_int_equal(
	    auth_pw_verify(&st, NULL, "anything", 8), LC_EINVALID_CREDENTIALS);
	assert_int_equal(
	    auth_pw_verify(&st, "", "", 0), LC_EINVALID_CREDENTIALS);
}

static void
test_pool(void **state)
{
	struct auth_state st = { 0 };
	char              h[AUTH_PWHASH_STR];
	char              h2[AUTH_PWHASH_STR];

	(void) state;
	assert_int_equal(auth_pwpool_alloc(2, 4, &st.pw), 0);
	assert_int_equal(auth_pw_hash(&st, "password1", 9, h), 0);
	assert_int_equal(auth_pw_hash(&st, "password1", 9, h2), 0);
	assert_string_not_equal(h, h2); // salted
	assert_int_equal(auth_pw_verify(&st, h, "password1", 9), 0);
	assert_int_equal(auth_pw_verify(&st, h2, "password1", 9), 0);
	assert_int_equal(
	    auth_pw_verify(&st, h, "password2", 9), LC_EINVALID_CREDENTIALS);
	assert_int_equal(auth_pw_verify(&st, NULL, "password1", 9),
	    LC_EINVALID_CREDENTIALS);
	auth_pwpool_free(st.pw);
	auth_pwpool_free(NULL);
}

struct job {
	struct auth_state *st;
	int                rv;
};

static void *
hash_thread(void *arg)
{
	struct job *j = arg;
	char        h[AUTH_PWHASH_STR];

	j->rv = auth_pw_hash(j->st, "slow password", 13, h);
	return (NULL);
}

// Count of this process's threads at nice 19 (Linux: per-thread).
static int
nice19_threads(void)
{
	DIR           *d = opendir("/proc/self/task");
	struct dirent *e;
	int            n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		long tid = strtol(e->d_name, NULL, 10);

		if (tid > 0 && getpriority(PRIO_PROCESS, (id_t) tid) == 19) {
			n++;
		}
	}
	closedir(d);
	return (n);
}

static void
test_shed_and_priority(void **state)
{
	struct auth_state st = { 0 };
	struct timespec   ts = { 0, 20 * 1000 * 1000 };
	struct job        j;
	pthread_t         t;
	char              h[AUTH_PWHASH_STR];

	(void) state;
	assert_int_equal(nice19_threads(), 0);
	assert_int_equal(auth_pwpool_alloc(1, 1, &st.pw), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(nice19_threads(), 1);
	// One job in progress fills the pool: the next one is shed at once.
	j.st = &st;
	j.rv = -1;
	assert_int_equal(pthread_create(&t, NULL, hash_thread, &j), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(
	    auth_pw_hash(&st, "another one", 11, h), LC_EUNAVAILABLE);
	assert_int_equal(auth_pw_verify(&st, NULL, "x", 1), LC_EUNAVAILABLE);
	pthread_join(t, NULL);
	assert_int_equal(j.rv, 0);
	// Free again.
	assert_int_equal(auth_pw_hash(&st, "another one", 11, h), 0);
	auth_pwpool_free(st.pw);
}

static void
test_parallel(void **state)
{
	struct auth_state st = { 0 };
	struct job        j[6];
	pthread_t         t[6];

	(void) state;
	assert_int_equal(auth_pwpool_alloc(2, 6, &st.pw), 0);
	for (int i = 0; i < 6; i++) {
		j[i].st = &st;
		j[i].rv = -1;
		assert_int_equal(
		    pthread_create(&t[i], NULL, hash_thread, &j[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(j[i].rv, 0);
	}
	auth_pwpool_free(st.pw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_shed_and_priority),
		cmocka_unit_test(test_parallel),
	};

	if (sodium_init() < 0) {
		return (1);
	}
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
