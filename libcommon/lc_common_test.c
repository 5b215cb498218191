/*
 * lc_common_test.c -- the small modules: lc_common (strings, parsing,
 * clocks), the error/op/topic tables (lc_err, lc_msg) and the log line
 * format (lc_log).
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"

static void
test_parse_i64(void **state)
{
	int64_t v = 42;

	(void) state;
	assert_int_equal(lc_parse_i64("0", 1, 0, 10, &v), 0);
	assert_true(v == 0);
	assert_int_equal(lc_parse_i64("-17", 3, -100, 100, &v), 0);
	assert_true(v == -17);
	assert_int_equal(lc_parse_i64("+5", 2, 0, 10, &v), 0);
	assert_true(v == 5);
	assert_int_equal(
	    lc_parse_i64("9223372036854775807", 19, INT64_MIN, INT64_MAX, &v),
	    0);
	assert_true(v == INT64_MAX);
	assert_int_equal(
	    lc_parse_i64("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &v),
	    0);
	assert_true(v == INT64_MIN);
	v = 42;
	assert_int_equal(
	    lc_parse_i64("9223372036854775808", 19, INT64_MIN, INT64_MAX, &v),
	    LC_EVALIDATION);
	assert_int_equal(
	    lc_parse_i64("-9223372036854775809", 20, INT64_MIN, INT64_MAX, &v),
	    LC_EVALIDATION);
	assert_int_equal(lc_parse_i64("", 0, 0, 10, &v), LC_EVALIDATION);
	assert_int_equal(lc_parse_i64("-", 1, -10, 10, &v), LC_EVALIDATION);
	assert_int_equal(lc_parse_i64(" 1", 2, 0, 10, &v), LC_EVALIDATION);
	assert_int_equal(lc_parse_i64("1x", 2, 0, 10, &v), LC_EVALIDATION);
	assert_int_equal(lc_parse_i64("11", 2, 0, 10, &v), LC_EVALIDATION);
	assert_int_equal(lc_parse_i64("0x1", 3, 0, 10, &v), LC_EVALIDATION);
	// len bounds the parse: "12" of "123".
	assert_int_equal(lc_parse_i64("123", 2, 0, 100, &v), 0);
	assert_true(v == 12);
	assert_int_equal(lc_parse_i64(NULL, 0, 0, 1, &v), LC_EVALIDATION);
}

static void
test_str_alloc_clock(void **state)
{
	char   *s = lc_strndup("hello world", 5);
	int64_t a, b;

	(void) state;
	assert_string_equal(s, "hello");
	assert_true(lc_str_eqz((lc_str) { s, 5 }, "hello"));
	assert_false(lc_str_eqz((lc_str) { s, 4 }, "hello"));
	assert_true(lc_str_eq(LC_STR("ab"), (lc_str) { "abc", 2 }));
	assert_false(lc_str_eq(LC_STR("ab"), LC_STR("ac")));
	assert_true(lc_str_eq((lc_str) { NULL, 0 }, LC_STR("")));
	lc_free(s);
	lc_free(NULL);
	s = lc_realloc(NULL, 10);
	s = lc_realloc(s, 100);
	lc_free(s);
	lc_free(lc_calloc(0, 8));
	lc_free(lc_alloc(0));
	a = lc_now_ms();
	assert_true(a > 1600000000000LL);
	a = lc_mono_ns();
	b = lc_mono_ns();
	assert_true(b >= a);
	assert_true(lc_mono_ms() >= 0);
}

static void
test_err_table(void **state)
{
	(void) state;
	assert_int_equal(lc_err_status(LC_OK), 200);
	assert_int_equal(lc_err_status(LC_ENOT_FOUND), 404);
	assert_string_equal(lc_err_code(LC_ENOT_FOUND), "not_found");
	assert_string_equal(lc_err_text(LC_ENOT_FOUND), "Not found.");
	assert_int_equal(lc_err_status(LC_ERATE_LIMITED), 429);
	assert_int_equal(lc_err_status(LC_ETIMEDOUT), 503);
	assert_string_equal(lc_err_code(LC_ENOMEM), "internal_error");
	assert_int_equal(lc_err_status(-1), 500);
	assert_int_equal(lc_err_status(LC_ERR_COUNT), 500);
	assert_string_equal(lc_err_code(9999), "internal_error");
	assert_int_equal(lc_err_from_code("email_taken", 11), LC_EEMAIL_TAKEN);
	assert_int_equal(lc_err_from_code("internal_error", 14), LC_EINTERNAL);
	assert_int_equal(
	    lc_err_from_code("service_unavailable", 19), LC_EUNAVAILABLE);
	assert_int_equal(lc_err_from_code("nope", 4), LC_EINTERNAL);
	assert_int_equal(lc_err_from_code("not_found_x", 9), LC_ENOT_FOUND);
	// Every code maps back to an error with the same code.
	for (int e = 1; e < LC_ERR_COUNT; e++) {
		const char *c = lc_err_code(e);

		assert_string_equal(
		    lc_err_code(lc_err_from_code(c, strlen(c))), c);
		assert_true(lc_err_status(e) >= 400 && lc_err_status(e) < 600);
	}
}

static void
test_msg_table(void **state)
{
	(void) state;
	assert_string_equal(lc_msg_name(LC_MSG_AUTH_LOGIN), "auth.login");
	assert_int_equal(lc_msg_service(LC_MSG_AUTH_LOGIN), LC_SVC_AUTH);
	assert_int_equal(lc_msg_service(LC_MSG_SVC_HEALTH), LC_SVC_ANY);
	assert_int_equal(
	    lc_msg_flags(LC_MSG_FILES_UPLOAD), LC_MF_WRITE | LC_MF_STREAM);
	assert_int_equal(lc_msg_find("records.get", 11), LC_MSG_RECORDS_GET);
	assert_int_equal(lc_msg_find("records.getx", 11), LC_MSG_RECORDS_GET);
	assert_int_equal(lc_msg_find("records.ge", 10), -1);
	assert_int_equal(lc_msg_find(NULL, 0), -1);
	assert_null(lc_msg_name(-1));
	assert_null(lc_msg_name(LC_MSG_COUNT));
	for (int i = 0; i < LC_MSG_COUNT; i++) {
		const char *n = lc_msg_name(i);

		assert_int_equal(lc_msg_find(n, strlen(n)), i);
		assert_true(strlen(n) <= 63);
	}
	assert_string_equal(lc_svc_name(LC_SVC_STORAGE), "storage");
	assert_int_equal(lc_svc_find("hooks", 5), LC_SVC_HOOKS);
	assert_int_equal(lc_svc_find("gateway", 7), LC_SVC_GATEWAY);
	assert_int_equal(lc_svc_find("hook", 4), -1);
	assert_null(lc_svc_name(LC_SVC_COUNT));
	assert_memory_equal(
	    lc_topic_tag(LC_TOPIC_SETTINGS_CHANGED), "set.", 4);
	assert_string_equal(
	    lc_topic_name(LC_TOPIC_SESS_REVOKED), "session.revoked");
	assert_int_equal(lc_topic_from_tag("ses."), LC_TOPIC_SESS_REVOKED);
	assert_int_equal(lc_topic_from_tag("xxxx"), -1);
	assert_int_equal(
	    lc_topic_find("record.created", 14), LC_TOPIC_RECORD_CREATED);
	assert_int_equal(lc_topic_find("record", 6), -1);
	// No tag is a prefix of (or equal to) another.
	for (int i = 0; i < LC_TOPIC_COUNT; i++) {
		for (int j = 0; j < LC_TOPIC_COUNT; j++) {
			if (i != j) {
				assert_memory_not_equal(
				    lc_topic_tag(i), lc_topic_tag(j), 4);
			}
		}
	}
}

// Runs fn with stderr redirected to a temp file; returns what it wrote.
static char *
capture(void (*fn)(void))
{
	char    path[] = "/tmp/lc_log_test_XXXXXX";
	int     fd     = mkstemp(path);
	int     saved  = dup(STDERR_FILENO);
	char   *out    = lc_calloc(1, 8192);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, 8191);
	assert_true(n >= 0);
	close(fd);
	unlink(path);
	return (out);
}

static void
log_some(void)
{
	lc_log_init("auth");
	lc_log_set_level(LC_LOG_INFO);
	lc_log_debug("T-DEBUG", "hidden %d", 1);
	lc_log_set_rid("01HVRID");
	lc_log_info("AUTH-LOGIN", "user %s logged in", "a@b.c");
	lc_log_set_rid(NULL);
	lc_log_err("T-ERR", "two\nlines");
	lc_log_set_level(LC_LOG_OFF);
	lc_log_err("T-OFF", "hidden too");
	lc_log_set_level(LC_LOG_INFO);
}

static void
test_log(void **state)
{
	char   *out = capture(log_some);
	regex_t re;

	(void) state;
	assert_int_equal(
	    regcomp(&re,
	        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
	        "\\.[0-9]{3}Z auth INFO AUTH-LOGIN rid=01HVRID user "
	        "a@b\\.c logged in\n[0-9T:.Z-]+ auth ERROR T-ERR "
	        "rid=- two lines\n$",
	        REG_EXTENDED),
	    0);
	if (regexec(&re, out, 0, NULL, 0) != 0) {
		fail_msg("unexpected log output:\n%s", out);
	}
	regfree(&re);
	lc_free(out);
	assert_int_equal(lc_log_level_parse("debug"), LC_LOG_DEBUG);
	assert_int_equal(lc_log_level_parse("ERROR"), LC_LOG_ERR);
	assert_int_equal(lc_log_level_parse("off"), LC_LOG_OFF);
	assert_int_equal(lc_log_level_parse("loud"), -1);
	assert_int_equal(lc_log_level_parse(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_i64),
		cmocka_unit_test(test_str_alloc_clock),
		cmocka_unit_test(test_err_table),
		cmocka_unit_test(test_msg_table),
		cmocka_unit_test(test_log),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
