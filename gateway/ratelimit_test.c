/*
 * ratelimit_test.c -- fixed windows, Retry-After, unlimited classes, lazy
 * expiry, and the class of a request (API.md §1.10).
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "lc_err.h"

static int
hit(struct gw_rl *rl, int cls, const char *key, int64_t limit, int64_t now)
{
	return (gw_rl_hit(rl, cls, key, strlen(key), limit, now));
}

static void
test_window(void **state)
{
	struct gw_rl *rl = gw_rl_alloc();
	int           i;

	(void) state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(
		    hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 1000 + i), 0);
	}
	// over the limit: not counted; Retry-After = seconds left, rounded up
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 1000), 60);
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 1001), 60);
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 30999), 31);
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 60500), 1);
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 60999), 1);
	// other keys and classes have their own windows
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.5", 3, 2000), 0);
	assert_int_equal(hit(rl, GW_RL_ADMIN, "1.2.3.4", 3, 2000), 0);
	// a raised limit applies to the current window at once
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 4, 3000), 0);
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 4, 3000), 58);
	// the window ends 60 s after its first counted request
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 61000), 0);
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 61001), 0);
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 61002), 0);
	assert_int_equal(hit(rl, GW_RL_PUBLIC, "1.2.3.4", 3, 61003), 60);
	gw_rl_free(rl);
}

static void
test_unlimited(void **state)
{
	struct gw_rl *rl = gw_rl_alloc();
	int           i;

	(void) state;
	for (i = 0; i < 1000; i++) {
		assert_int_equal(hit(rl, GW_RL_AUTH, "k", 0, 5), 0);
	}
	assert_int_equal(gw_rl_size(rl), 0); // nothing counted
	// and a limit set later starts from zero
	assert_int_equal(hit(rl, GW_RL_AUTH, "k", 1, 6), 0);
	assert_int_equal(hit(rl, GW_RL_AUTH, "k", 1, 7), 60);
	gw_rl_free(rl);
}

static void
test_expiry(void **state)
{
	struct gw_rl *rl = gw_rl_alloc();
	char          key[32];
	int           i;

	(void) state;
	for (i = 0; i < 10000; i++) {
		(void) snprintf(
		    key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(hit(rl, GW_RL_PUBLIC, key, 10, 0), 0);
	}
	assert_int_equal(gw_rl_size(rl), 10000);
	// a minute later, new keys sweep the old windows away
	for (i = 0; i < 10000; i++) {
		(void) snprintf(
		    key, sizeof(key), "11.0.%d.%d", i / 256, i % 256);
		assert_int_equal(hit(rl, GW_RL_PUBLIC, key, 10, 60000), 0);
	}
	assert_true(gw_rl_size(rl) < 20000);
	// and the old keys start new windows
	for (i = 0; i < 10000; i += 97) {
		(void) snprintf(
		    key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(hit(rl, GW_RL_PUBLIC, key, 1, 60000), 0);
		assert_int_equal(hit(rl, GW_RL_PUBLIC, key, 1, 60001), 60);
	}
	// long keys are cut, not refused
	memset(key, 'a', sizeof(key));
	assert_int_equal(
	    gw_rl_hit(rl, GW_RL_PUBLIC, key, sizeof(key), 1, 0), 0);
	gw_rl_free(rl);
}

static void
test_classify(void **state)
{
	struct gw_route rt = { 0 };
	int             by_uid;

	(void) state;
	rt.rate = GW_RATE_EXEMPT;
	assert_int_equal(
	    gw_rl_classify(&rt, 1, LC_CALLER_ADMIN, 0, &by_uid), -1);
	rt.rate = GW_RATE_AUTH; // auth wins even over the admin secret
	assert_int_equal(
	    gw_rl_classify(&rt, 1, LC_CALLER_ADMIN, 0, &by_uid), GW_RL_AUTH);
	assert_int_equal(by_uid, 0);
	rt.rate = GW_RATE_ADMIN;
	assert_int_equal(
	    gw_rl_classify(&rt, 0, LC_CALLER_ANON, 0, &by_uid), GW_RL_ADMIN);
	rt.rate = GW_RATE_STD;
	assert_int_equal(
	    gw_rl_classify(&rt, 1, LC_CALLER_ADMIN, 0, &by_uid), GW_RL_ADMIN);
	assert_int_equal(gw_rl_classify(&rt, 0, LC_CALLER_USER, 0, &by_uid),
	    GW_RL_AUTHENTICATED);
	assert_int_equal(by_uid, 1);
	assert_int_equal(gw_rl_classify(&rt, 0, LC_CALLER_APIKEY, 0, &by_uid),
	    GW_RL_AUTHENTICATED);
	assert_int_equal(
	    gw_rl_classify(&rt, 0, LC_CALLER_ANON, 0, &by_uid), GW_RL_PUBLIC);
	assert_int_equal(by_uid, 0);
	// a rejected credential counts in the route's IP class
	assert_int_equal(
	    gw_rl_classify(&rt, 0, LC_CALLER_ANON, LC_EINVALID_TOKEN, &by_uid),
	    GW_RL_PUBLIC);
	assert_int_equal(by_uid, 0);
	rt.rate = GW_RATE_ADMIN;
	assert_int_equal(
	    gw_rl_classify(&rt, 0, LC_CALLER_ANON, LC_ETOKEN_EXPIRED, &by_uid),
	    GW_RL_ADMIN);
	rt.rate = GW_RATE_UPLOAD;
	assert_int_equal(
	    gw_rl_classify(&rt, 0, LC_CALLER_USER, 0, &by_uid), GW_RL_UPLOAD);
	assert_int_equal(by_uid, 1);
	assert_int_equal(
	    gw_rl_classify(&rt, 0, LC_CALLER_ANON, 0, &by_uid), GW_RL_UPLOAD);
	assert_int_equal(by_uid, 0);
	assert_string_equal(gw_rl_class_name(GW_RL_UPLOAD), "file_upload");
	assert_string_equal(
	    gw_rl_setting(GW_RL_PUBLIC), "rate_limit_public_reads");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_classify),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
