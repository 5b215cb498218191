/*
 * lc_cfg_test.c -- defaults, overrides and refusals of lc_cfg_load.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lc_cfg.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"

static char dir[64];

static const char *const vars[] = { "DATA_DIR", "SECRET_KEY", "ADMIN_SECRET",
	"PORT", "TRUST_PROXY", "MAX_UPLOAD_BYTES", "BB_WORKERS", "BB_AUTH_URL",
	"BB_DATA_EVENTS_URL", "BB_ADMIN_SURVEY_URL" };

static int
setup(void **state)
{
	(void) state;
	for (size_t i = 0; i < LC_NELEM(vars); i++) {
		unsetenv(vars[i]);
	}
	snprintf(dir, sizeof(dir), "/tmp/lc_cfg_test_XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	setenv("DATA_DIR", dir, 1);
	lc_log_set_level(LC_LOG_OFF); // the refusals log on purpose
	return (0);
}

static int
teardown(void **state)
{
	char p[128];

	(void) state;
	snprintf(p, sizeof(p), "%s/sub/run", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/run", dir);
	rmdir(p);
	rmdir(dir);
	lc_log_set_level(LC_LOG_INFO);
	return (0);
}

static void
test_defaults(void **state)
{
	struct lc_cfg cfg;
	char          want[700];
	struct stat   sb;

	(void) state;
	assert_int_equal(lc_cfg_load(&cfg), 0);
	assert_string_equal(cfg.data_dir, dir);
	snprintf(want, sizeof(want), "%s/run", dir);
	assert_int_equal(stat(want, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(want, sizeof(want), "ipc://%s/run/auth.sock", dir);
	assert_string_equal(cfg.url[LC_SVC_AUTH], want);
	snprintf(want, sizeof(want), "ipc://%s/run/storage-events.sock", dir);
	assert_string_equal(cfg.events_url[LC_SVC_STORAGE], want);
	snprintf(want, sizeof(want), "ipc://%s/run/admin-survey.sock", dir);
	assert_string_equal(cfg.survey_url, want);
	assert_int_equal(cfg.port, 8080);
	assert_int_equal(cfg.trust_proxy, 0);
	assert_true(cfg.max_upload_bytes == 104857600);
	assert_int_equal(cfg.workers, 0);
	assert_string_equal(cfg.secret_key, "");
	assert_int_equal(cfg.secret_key_len, 0);
	assert_string_equal(cfg.admin_secret, "");
}

static void
test_overrides(void **state)
{
	struct lc_cfg cfg;
	char          sub[128];

	(void) state;
	// A relative-looking path with .. is made absolute and created.
	snprintf(sub, sizeof(sub), "%s/x/../sub", dir);
	setenv("DATA_DIR", sub, 1);
	setenv("SECRET_KEY", "0123456789abcdef0123456789abcdef", 1);
	setenv("ADMIN_SECRET", "sixteen-chars-ok", 1);
	setenv("PORT", "9090", 1);
	setenv("TRUST_PROXY", "1", 1);
	setenv("MAX_UPLOAD_BYTES", "1000", 1);
	setenv("BB_WORKERS", "4", 1);
	setenv("BB_AUTH_URL", "tcp://auth:7001", 1);
	setenv("BB_DATA_EVENTS_URL", "tcp://data:7102", 1);
	mkdir(dir, 0700);
	snprintf(sub, sizeof(sub), "%s/x", dir);
	mkdir(sub, 0700);
	assert_int_equal(lc_cfg_load(&cfg), 0);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_string_equal(cfg.data_dir, sub);
	assert_int_equal(cfg.secret_key_len, 32);
	assert_int_equal(cfg.admin_secret_len, 16);
	assert_int_equal(cfg.port, 9090);
	assert_int_equal(cfg.trust_proxy, 1);
	assert_true(cfg.max_upload_bytes == 1000);
	assert_int_equal(cfg.workers, 4);
	assert_string_equal(cfg.url[LC_SVC_AUTH], "tcp://auth:7001");
	assert_string_equal(cfg.events_url[LC_SVC_DATA], "tcp://data:7102");
	assert_string_equal(lc_cfg_env("BB_AUTH_URL", "d"), "tcp://auth:7001");
	assert_string_equal(lc_cfg_env("NO_SUCH_VAR_X", "d"), "d");
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *var, *val;
	} bad[] = {
		{ "SECRET_KEY", "too-short" },
		{ "ADMIN_SECRET", "short" },
		{ "PORT", "0" },
		{ "PORT", "65536" },
		{ "PORT", "80x" },
		{ "TRUST_PROXY", "2" },
		{ "TRUST_PROXY", "yes" },
		{ "MAX_UPLOAD_BYTES", "-1" },
		{ "BB_WORKERS", "100000" },
		{ "BB_AUTH_URL",
		    "ipc:///tmp/"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    ".sock" },
	};
	struct lc_cfg cfg;

	(void) state;
	for (size_t i = 0; i < LC_NELEM(bad); i++) {
		setenv(bad[i].var, bad[i].val, 1);
		if (lc_cfg_load(&cfg) != LC_EVALIDATION) {
			fail_msg("%s=%s accepted", bad[i].var, bad[i].val);
		}
		unsetenv(bad[i].var);
	}
	// Exactly 107 bytes of path is fine.
	{
		char url[200];

		snprintf(url, sizeof(url), "ipc:///%0106d", 0);
		setenv("BB_AUTH_URL", url, 1);
		assert_int_equal(lc_cfg_load(&cfg), 0);
		snprintf(url, sizeof(url), "ipc:///%0107d", 0);
		setenv("BB_AUTH_URL", url, 1);
		assert_int_equal(lc_cfg_load(&cfg), LC_EVALIDATION);
		unsetenv("BB_AUTH_URL");
	}
	// Empty means unset.
	setenv("SECRET_KEY", "", 1);
	assert_int_equal(lc_cfg_load(&cfg), 0);
	unsetenv("SECRET_KEY");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_refusals, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
