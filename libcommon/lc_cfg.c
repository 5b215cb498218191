/*
 * lc_cfg.c -- configuration from the environment (see lc_cfg.h). Every
 * problem is logged with the variable's name and what would be accepted,
 * then lc_cfg_load returns LC_EVALIDATION: a process with a bad
 * configuration refuses to start rather than run half-configured.
 */
#include "lc_cfg.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"

#define DEF_DATA_DIR "./data"
#define DEF_PORT 8080
#define DEF_MAX_UPLOAD 104857600
#define MAX_WORKERS 256

const char *
lc_cfg_env(const char *name, const char *def)
{
	const char *v = getenv(name);

	// Unset and empty mean the same (VAR= in a compose file).
	return (v != NULL && v[0] != '\0' ? v : def);
}

// mkdir -p with mode for the directories it creates.
static int
mkdir_p(const char *path, mode_t mode)
{
	char   tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp)) {
		return (-1);
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/') {
			continue;
		}
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
			return (-1);
		}
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
		return (-1);
	}
	return (0);
}

static int
env_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out)
{
	const char *v = lc_cfg_env(name, NULL);

	if (v == NULL) {
		*out = def;
		return (0);
	}
	if (lc_parse_i64(v, strlen(v), min, max, out) != 0) {
		lc_log_err("CFG-INVALID",
		    "%s must be an integer from %lld to %lld (got \"%.40s\")",
		    name, (long long) min, (long long) max, v);
		return (LC_EVALIDATION);
	}
	return (0);
}

// An ipc:// URL's path must fit sockaddr_un.sun_path with its NUL.
static int
url_ok(const char *var, const char *url)
{
	struct sockaddr_un sa;

	if (strncmp(url, "ipc://", 6) == 0 &&
	    strlen(url + 6) >= sizeof(sa.sun_path)) {
		lc_log_err("CFG-IPC-PATH",
		    "%s: socket path is %zu bytes, the limit is %zu: %s; use "
		    "a "
		    "shorter DATA_DIR or set %s",
		    var, strlen(url + 6), sizeof(sa.sun_path) - 1, url, var);
		return (LC_EVALIDATION);
	}
	return (0);
}

static int
set_url(char *dst, size_t len, const char *var, const char *def)
{
	const char *v = lc_cfg_env(var, def);

	if (strlen(v) >= len) {
		lc_log_err("CFG-INVALID", "%s is too long (limit %zu bytes)",
		    var, len - 1);
		return (LC_EVALIDATION);
	}
	snprintf(dst, len, "%s", v);
	return (url_ok(var, dst));
}

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		n += ((unsigned char) *s & 0xc0) != 0x80;
	}
	return (n);
}

static int
load_urls(struct lc_cfg *cfg)
{
	char var[64], def[1200], up[16];
	int  rv = 0;

	for (int i = 0; i < LC_SVC_COUNT; i++) {
		const char *name = lc_svc_name(i);
		size_t      k;

		for (k = 0; name[k] != '\0' && k + 1 < sizeof(up); k++) {
			up[k] = (char) (name[k] - 'a' + 'A');
		}
		up[k] = '\0';
		snprintf(var, sizeof(var), "BB_%s_URL", up);
		snprintf(def, sizeof(def), "ipc://%s/run/%s.sock",
		    cfg->data_dir, name);
		if (set_url(cfg->url[i], sizeof(cfg->url[i]), var, def) != 0) {
			rv = LC_EVALIDATION;
		}
		snprintf(var, sizeof(var), "BB_%s_EVENTS_URL", up);
		snprintf(def, sizeof(def), "ipc://%s/run/%s-events.sock",
		    cfg->data_dir, name);
		if (set_url(cfg->events_url[i], sizeof(cfg->events_url[i]),
		        var, def) != 0) {
			rv = LC_EVALIDATION;
		}
	}
	snprintf(
	    def, sizeof(def), "ipc://%s/run/admin-survey.sock", cfg->data_dir);
	if (set_url(cfg->survey_url, sizeof(cfg->survey_url),
	        "BB_ADMIN_SURVEY_URL", def) != 0) {
		rv = LC_EVALIDATION;
	}
	return (rv);
}

static int
load_secrets(struct lc_cfg *cfg)
{
	const char *sk = lc_cfg_env("SECRET_KEY", NULL);
	const char *as = lc_cfg_env("ADMIN_SECRET", NULL);
	int         rv = 0;

	if (sk != NULL) {
		if (strlen(sk) < LC_SECRET_KEY_MIN ||
		    strlen(sk) >= sizeof(cfg->secret_key)) {
			lc_log_err("CFG-SECRET-KEY",
			    "SECRET_KEY must be %d to %zu bytes long (got "
			    "%zu); "
			    "generate one with: head -c 32 /dev/urandom | "
			    "base64",
			    LC_SECRET_KEY_MIN, sizeof(cfg->secret_key) - 1,
			    strlen(sk));
			rv = LC_EVALIDATION;
		} else {
			cfg->secret_key_len = strlen(sk);
			memcpy(cfg->secret_key, sk, cfg->secret_key_len + 1);
		}
	}
	if (as != NULL) {
		if (utf8_chars(as) < LC_ADMIN_SECRET_MIN ||
		    strlen(as) >= sizeof(cfg->admin_secret)) {
			lc_log_err("CFG-ADMIN-SECRET",
			    "ADMIN_SECRET must be at least %d characters long "
			    "(got %zu)",
			    LC_ADMIN_SECRET_MIN, utf8_chars(as));
			rv = LC_EVALIDATION;
		} else {
			cfg->admin_secret_len = strlen(as);
			memcpy(
			    cfg->admin_secret, as, cfg->admin_secret_len + 1);
		}
	}
	return (rv);
}

int
lc_cfg_load(struct lc_cfg *cfg)
{
	const char *dd = lc_cfg_env("DATA_DIR", DEF_DATA_DIR);
	char        real[PATH_MAX];
	char        run[PATH_MAX + 8];
	int64_t     v  = 0;
	int         rv = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (mkdir_p(dd, 0700) != 0 || realpath(dd, real) == NULL) {
		lc_log_err("CFG-DATA-DIR", "DATA_DIR %s: cannot create: %s",
		    dd, strerror(errno));
		return (LC_EVALIDATION);
	}
	if (strlen(real) >= sizeof(cfg->data_dir)) {
		lc_log_err(
		    "CFG-DATA-DIR", "DATA_DIR path is too long: %s", real);
		return (LC_EVALIDATION);
	}
	memcpy(cfg->data_dir, real, strlen(real) + 1);
	snprintf(run, sizeof(run), "%s/run", real);
	// The sockets live here: only this user may connect to them.
	if (mkdir_p(run, 0700) != 0 || chmod(run, 0700) != 0) {
		lc_log_err("CFG-DATA-DIR", "%s: cannot create: %s", run,
		    strerror(errno));
		return (LC_EVALIDATION);
	}
	// Check everything before failing, so one run lists every problem.
	if (load_urls(cfg) != 0) {
		rv = LC_EVALIDATION;
	}
	if (load_secrets(cfg) != 0) {
		rv = LC_EVALIDATION;
	}
	if (env_int("PORT", DEF_PORT, 1, 65535, &v) != 0) {
		rv = LC_EVALIDATION;
	}
	cfg->port = (int) v;
	if (env_int("TRUST_PROXY", 0, 0, 1, &v) != 0) {
		rv = LC_EVALIDATION;
	}
	cfg->trust_proxy = (int) v;
	if (env_int("MAX_UPLOAD_BYTES", DEF_MAX_UPLOAD, 1, INT64_MAX,
	        &cfg->max_upload_bytes) != 0) {
		rv = LC_EVALIDATION;
	}
	if (env_int("BB_WORKERS", 0, 0, MAX_WORKERS, &v) != 0) {
		rv = LC_EVALIDATION;
	}
	cfg->workers = (int) v;
	return (rv);
}
