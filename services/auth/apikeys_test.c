/*
 * apikeys_test.c -- API key format (apikeys.c, API.md §2.4): "bb_" + 40
 * characters of [A-Za-z0-9], every character of the alphabet in use
 * (no bias toward a subset), the 11-character prefix, the format check
 * the resolver applies, and the SHA-256 the table stores; then the
 * handlers against a real auth.db: create (validation, defaults, the
 * stored hash, the switch), list (newest first, no key), delete (own keys
 * only, apikey.revoked effect), revoke-all, and resolve (caller kind,
 * unknown/expired/owner gone, last_used_at at most once a minute).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
// cmocka needs the four above first
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_settings.h"

static int
alnum(char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'));
}

static void
test_format(void **state)
{
	char key[AUTH_APIKEY_LEN + 1];
	char other[AUTH_APIKEY_LEN + 1];

	(void) state;
	auth_apikey_new(key);
	auth_apikey_new(other);
	assert_int_equal(strlen(key), 43);
	assert_memory_equal(key, "bb_", 3);
	for (size_t i = 3; i < 43; i++) {
		assert_true(alnum(key[i]));
	}
	assert_string_not_equal(key, other);
	assert_true(auth_apikey_format_ok(key, strlen(key)));
	// The prefix the list shows: "bb_" and 8 more characters.
	assert_int_equal(AUTH_APIKEY_PREFIX_LEN, 11);
}

static void
test_distribution(void **state)
{
	int  seen[256] = { 0 };
	int  distinct  = 0;
	char key[AUTH_APIKEY_LEN + 1];

	(void) state;
	// 500 keys = 20000 characters: each of the 62 appears (p of a miss
	// is about 62 * (61/62)^20000, i.e. nil) and none dominates.
	for (int k = 0; k < 500; k++) {
		auth_apikey_new(key);
		for (size_t i = 3; i < 43; i++) {
			seen[(unsigned char) key[i]]++;
		}
	}
	for (int c = 0; c < 256; c++) {
		if (seen[c] > 0) {
			assert_true(alnum((char) c));
			distinct++;
			// expected 322.6; 6 sigma is about 107
			assert_true(seen[c] > 200 && seen[c] < 450);
		}
	}
	assert_int_equal(distinct, 62);
}

static void
test_format_check(void **state)
{
	static const char *bad[] = {
		"",
		"bb_",
		"bb_abc",
		"bb_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",   // 39
		"bb_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 41
		"bc_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"BB_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"bb_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-",
		"bb_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_",
		"bb_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ",
	};

	(void) state;
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		assert_false(auth_apikey_format_ok(bad[i], strlen(bad[i])));
	}
	assert_true(auth_apikey_format_ok(
	    "bb_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd", 43));
	// A NUL inside the length is not a key character.
	assert_false(auth_apikey_format_ok(
	    "bb_0123456789ABCDEFGHIJ\0LMNOPQRSTUVWXYZabcd", 43));
}

static void
test_hash(void **state)
{
	// SHA-256("bb_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd"), as stored.
	static const char *key = "bb_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd";
	uint8_t            h[crypto_hash_sha256_BYTES];
	char               hex[2 * sizeof(h) + 1];

	(void) state;
	assert_int_equal(sodium_init() >= 0, 1);
	crypto_hash_sha256(h, (const unsigned char *) key, strlen(key));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	assert_string_equal(hex,
	    "35e8a7f25d38f763286ed7f77e580c1b8972e76affa291c23c68cbca0d237c0"
	    "6");
}

/* ---- fixture: fixture_test.h ---- */

#include "calls_test.h"
#include "fixture_test.h"

/* ---- handlers ---- */

static void
test_create(void **state)
{
	static const char *bad_name[] = { "{\"name\":5}", "{\"name\":true}",
		"{\"name\":[]}" };
	static const char *bad_exp[]  = { "{\"expires_in\":true}",
		 "{\"expires_in\":1.5}", "{\"expires_in\":\"10\"}",
		 "{\"expires_in\":0}", "{\"expires_in\":-5}",
		 "{\"expires_in\":315360001}", "{\"expires_in\":{}}" };
	struct fx         *fx         = *state;
	struct lc_rep      rp;
	char               uid[AUTH_ID_LEN + 1];
	char               body[1024];
	char               hex[65];
	uint8_t            h[32];
	const char        *key;
	int64_t            t0 = lc_now_ms();

	mkuser(fx, "alice@example.com", uid);
	for (size_t i = 0; i < LC_NELEM(bad_name); i++) {
		assert_int_not_equal(
		    call(fx, auth_h_apikey_create, LC_CALLER_USER, uid,
		        bad_name[i], NULL, NULL, &rp),
		    0);
		expect_err(&rp, 400, "validation_error", "name");
	}
	for (size_t i = 0; i < LC_NELEM(bad_exp); i++) {
		assert_int_not_equal(
		    call(fx, auth_h_apikey_create, LC_CALLER_USER, uid,
		        bad_exp[i], NULL, NULL, &rp),
		    0);
		expect_err(&rp, 400, "validation_error", "expires_in");
	}
	// 101 characters is one too many; 100 three-byte ones are fine.
	memset(body, 0, sizeof(body));
	strcpy(body, "{\"name\":\"");
	memset(body + 9, 'n', 101);
	strcat(body, "\"}");
	assert_int_not_equal(call(fx, auth_h_apikey_create, LC_CALLER_USER,
	                         uid, body, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 400, "validation_error", "name");
	strcpy(body, "{\"name\":\"");
	for (int i = 0; i < 100; i++) {
		strcat(body, "\xe2\x82\xac"); // U+20AC
	}
	strcat(body, "\"}");
	assert_int_equal(call(fx, auth_h_apikey_create, LC_CALLER_USER, uid,
	                     body, NULL, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 201);
	lc_rep_fini(&rp);

	// Defaults: name "", never expires; the key is shown once.
	assert_int_equal(call(fx, auth_h_apikey_create, LC_CALLER_USER, uid,
	                     "{}", NULL, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 201);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "name")), "");
	assert_true(json_is_null(json_object_get(rp.body, "expires_at")));
	assert_true(json_is_null(json_object_get(rp.body, "last_used_at")));
	assert_true(lc_ulid_valid(
	    json_string_value(json_object_get(rp.body, "id")), 26));
	assert_true(
	    json_integer_value(json_object_get(rp.body, "created_at")) >= t0);
	key = json_string_value(json_object_get(rp.body, "key"));
	assert_true(auth_apikey_format_ok(key, strlen(key)));
	assert_memory_equal(
	    json_string_value(json_object_get(rp.body, "prefix")), key, 11);
	assert_int_equal(
	    json_string_length(json_object_get(rp.body, "prefix")), 11);
	// The table has the SHA-256 of the key and never the key itself.
	crypto_hash_sha256(h, (const unsigned char *) key, strlen(key));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(body, sizeof(body),
	    "SELECT count(*) FROM api_keys WHERE hex(hash) = upper('%s')",
	    hex);
	assert_int_equal(q_int(fx, body, NULL), 1);
	snprintf(body, sizeof(body),
	    "SELECT count(*) FROM api_keys WHERE name = '%s' OR prefix = '%s'",
	    key, key);
	assert_int_equal(q_int(fx, body, NULL), 0);
	lc_rep_fini(&rp);

	// expires_in
	assert_int_equal(
	    call(fx, auth_h_apikey_create, LC_CALLER_USER, uid,
	        "{\"name\":\"ci\",\"expires_in\":3600}", NULL, NULL, &rp),
	    0);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "expires_at")),
	    json_integer_value(json_object_get(rp.body, "created_at")) +
	        3600000);
	lc_rep_fini(&rp);

	// The switch comes first.
	settings_set("auth_api_keys_enabled", json_false());
	assert_int_not_equal(call(fx, auth_h_apikey_create, LC_CALLER_USER,
	                         uid, "{\"name\":5}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 403, "auth_method_disabled", NULL);
	// Listing still works.
	assert_int_equal(call(fx, auth_h_apikey_list, LC_CALLER_USER, uid,
	                     NULL, NULL, NULL, &rp),
	    0);
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "items")), 3);
	lc_rep_fini(&rp);
}

static void
test_list_delete(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          a[AUTH_ID_LEN + 1];
	char          b[AUTH_ID_LEN + 1];
	char          ids[3][AUTH_ID_LEN + 1];
	char          params[64];
	json_t       *items;
	json_t       *fx0;

	mkuser(fx, "alice@example.com", a);
	mkuser(fx, "bob@example.com", b);
	for (int i = 0; i < 3; i++) {
		char body[64];

		snprintf(body, sizeof(body), "{\"name\":\"k%d\"}", i);
		assert_int_equal(call(fx, auth_h_apikey_create, LC_CALLER_USER,
		                     a, body, NULL, NULL, &rp),
		    0);
		snprintf(ids[i], sizeof(ids[i]), "%s",
		    json_string_value(json_object_get(rp.body, "id")));
		lc_rep_fini(&rp);
	}
	// Newest first, no key.
	assert_int_equal(call(fx, auth_h_apikey_list, LC_CALLER_USER, a, NULL,
	                     NULL, NULL, &rp),
	    0);
	items = json_object_get(rp.body, "items");
	assert_int_equal(json_array_size(items), 3);
	for (int i = 0; i < 3; i++) {
		json_t *it = json_array_get(items, (size_t) i);

		assert_string_equal(
		    json_string_value(json_object_get(it, "id")), ids[2 - i]);
		assert_null(json_object_get(it, "key"));
		assert_int_equal(json_object_size(it), 6);
	}
	lc_rep_fini(&rp);
	// Another user sees none of them and cannot delete them.
	assert_int_equal(call(fx, auth_h_apikey_list, LC_CALLER_USER, b, NULL,
	                     NULL, NULL, &rp),
	    0);
	assert_int_equal(
	    json_array_size(json_object_get(rp.body, "items")), 0);
	lc_rep_fini(&rp);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", ids[0]);
	assert_int_not_equal(call(fx, auth_h_apikey_delete, LC_CALLER_USER, b,
	                         NULL, NULL, params, &rp),
	    0);
	expect_err(&rp, 404, "not_found", NULL);
	assert_int_not_equal(call(fx, auth_h_apikey_delete, LC_CALLER_USER, a,
	                         NULL, NULL, "{\"id\":\"nope\"}", &rp),
	    0);
	expect_err(&rp, 404, "not_found", NULL);
	assert_int_not_equal(
	    call(fx, auth_h_apikey_delete, LC_CALLER_USER, a, NULL, NULL,
	        "{\"id\":\"01HV0000000000000000000000\"}", &rp),
	    0);
	expect_err(&rp, 404, "not_found", NULL);
	// The owner deletes: 200 OK with the apikey.revoked effect.
	assert_int_equal(call(fx, auth_h_apikey_delete, LC_CALLER_USER, a,
	                     NULL, NULL, params, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_true(json_object_get(rp.body, "ok")));
	assert_int_equal(json_array_size(rp.fx), 1);
	fx0 = json_array_get(rp.fx, 0);
	assert_string_equal(
	    json_string_value(json_object_get(fx0, "t")), "apikey.revoked");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(fx0, "p"), "uid")),
	    a);
	assert_string_equal(
	    json_string_value(json_array_get(
	        json_object_get(json_object_get(fx0, "p"), "ids"), 0)),
	    ids[0]);
	lc_rep_fini(&rp);
	assert_int_not_equal(call(fx, auth_h_apikey_delete, LC_CALLER_USER, a,
	                         NULL, NULL, params, &rp),
	    0);
	expect_err(&rp, 404, "not_found", NULL);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM api_keys", NULL), 2);
}

static void
test_revoke_all(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          a[AUTH_ID_LEN + 1];
	int64_t       n = -1;

	mkuser(fx, "alice@example.com", a);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(call(fx, auth_h_apikey_create, LC_CALLER_USER,
		                     a, "{}", NULL, NULL, &rp),
		    0);
		lc_rep_fini(&rp);
	}
	lc_rep_init(&rp);
	assert_int_equal(auth_begin(&fx->w), 0);
	assert_int_equal(auth_apikeys_revoke_all(&fx->w, a, &n), 0);
	assert_int_equal(auth_commit(&fx->w, &rp), 0);
	assert_int_equal(n, 2);
	assert_int_equal(
	    json_array_size(json_object_get(
	        json_object_get(json_array_get(rp.fx, 0), "p"), "ids")),
	    2);
	lc_rep_fini(&rp);
	// None left: no event.
	lc_rep_init(&rp);
	assert_int_equal(auth_begin(&fx->w), 0);
	assert_int_equal(auth_apikeys_revoke_all(&fx->w, a, &n), 0);
	assert_int_equal(auth_commit(&fx->w, &rp), 0);
	assert_int_equal(n, 0);
	assert_null(rp.fx);
	lc_rep_fini(&rp);
}

static void
test_resolve(void **state)
{
	struct fx    *fx = *state;
	struct lc_rep rp;
	char          a[AUTH_ID_LEN + 1];
	char          key[64];
	char          id[AUTH_ID_LEN + 1];
	char          body[128];
	int64_t       t1;

	mkuser(fx, "alice@example.com", a);
	exec(fx, "UPDATE users SET roles = '[\"editor\"]'");
	assert_int_equal(call(fx, auth_h_apikey_create, LC_CALLER_USER, a,
	                     "{}", NULL, NULL, &rp),
	    0);
	snprintf(key, sizeof(key), "%s",
	    json_string_value(json_object_get(rp.body, "key")));
	snprintf(id, sizeof(id), "%s",
	    json_string_value(json_object_get(rp.body, "id")));
	lc_rep_fini(&rp);
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", key);

	// Only the gateway (a service caller) may ask.
	assert_int_not_equal(call(fx, auth_h_apikey_resolve, LC_CALLER_USER, a,
	                         body, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 403, "forbidden", NULL);

	assert_int_equal(call(fx, auth_h_apikey_resolve, LC_CALLER_SERVICE,
	                     NULL, body, NULL, NULL, &rp),
	    0);
	assert_int_equal(rp.status, 200);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "uid")), a);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "email")),
	    "alice@example.com");
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "key_id")), id);
	assert_true(json_is_true(json_object_get(rp.body, "verified")));
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(rp.body, "roles"), 0)),
	    "editor");
	lc_rep_fini(&rp);

	// last_used_at: written on first use, then at most once a minute.
	t1 = q_int(fx, "SELECT last_used_at FROM api_keys WHERE id = ?1", id);
	assert_true(t1 > 0);
	exec(fx, "UPDATE api_keys SET last_used_at = last_used_at - 30000");
	assert_int_equal(call(fx, auth_h_apikey_resolve, LC_CALLER_SERVICE,
	                     NULL, body, NULL, NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	assert_int_equal(
	    q_int(fx, "SELECT last_used_at FROM api_keys WHERE id = ?1", id),
	    t1 - 30000);
	exec(fx, "UPDATE api_keys SET last_used_at = last_used_at - 31000");
	assert_int_equal(call(fx, auth_h_apikey_resolve, LC_CALLER_SERVICE,
	                     NULL, body, NULL, NULL, &rp),
	    0);
	lc_rep_fini(&rp);
	assert_true(
	    q_int(fx, "SELECT last_used_at FROM api_keys WHERE id = ?1", id) >=
	    t1);

	// Malformed, unknown, expired, owner gone: 401 invalid_api_key.
	assert_int_not_equal(
	    call(fx, auth_h_apikey_resolve, LC_CALLER_SERVICE, NULL,
	        "{\"key\":\"bb_short\"}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 401, "invalid_api_key", NULL);
	assert_int_not_equal(call(fx, auth_h_apikey_resolve, LC_CALLER_SERVICE,
	                         NULL, "{}", NULL, NULL, &rp),
	    0);
	expect_err(&rp, 401, "invalid_api_key", NULL);
	assert_int_not_equal(
	    call(fx, auth_h_apikey_resolve, LC_CALLER_SERVICE, NULL,
	        "{\"key\":\"bb_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd\"}",
	        NULL, NULL, &rp),
	    0);
	expect_err(&rp, 401, "invalid_api_key", NULL);
	exec(fx, "UPDATE api_keys SET expires_at = 1");
	assert_int_not_equal(call(fx, auth_h_apikey_resolve, LC_CALLER_SERVICE,
	                         NULL, body, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 401, "invalid_api_key", NULL);
	exec(fx, "UPDATE api_keys SET expires_at = NULL");
	exec(fx, "DELETE FROM users");
	assert_int_not_equal(call(fx, auth_h_apikey_resolve, LC_CALLER_SERVICE,
	                         NULL, body, NULL, NULL, &rp),
	    0);
	expect_err(&rp, 401, "invalid_api_key", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_distribution),
		cmocka_unit_test(test_format_check),
		cmocka_unit_test(test_hash),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_list_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_revoke_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
