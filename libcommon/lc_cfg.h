/*
 * lc_cfg.h -- configuration from the environment (README "Configuration").
 *
 * DATA_DIR (./data). Bus addresses, one variable per endpoint:
 *   BB_<SVC>_URL          req/rep of a service
 * (ipc://$DATA_DIR/run/<svc>.sock) BB_<SVC>_EVENTS_URL   its pub socket
 * (ipc://$DATA_DIR/run/<svc>-events.sock) BB_ADMIN_SURVEY_URL   admin's
 * surveyor          (ipc://$DATA_DIR/run/admin-survey.sock) <SVC> is AUTH,
 * DATA, STORAGE, HOOKS or ADMIN. A service listens on its own URLs and dials
 * the others'; in containers use tcp://name:port. SECRET_KEY (>= 32 bytes),
 * ADMIN_SECRET (>= 16 chars): required by the processes that use them (the
 * launcher generates them when unset). Reads happen at start; thread-safe
 * after lc_cfg_load.
 */
#ifndef LC_CFG_H
#define LC_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"

#define LC_SECRET_KEY_MIN 32
#define LC_ADMIN_SECRET_MIN 16

struct lc_cfg {
	char    data_dir[1024];
	char    url[6][512];        // indexed by enum lc_svc (gateway unused)
	char    events_url[6][512]; // indexed by enum lc_svc
	char    survey_url[512];
	char    secret_key[1024]; // "" when unset
	size_t  secret_key_len;
	char    admin_secret[1024]; // "" when unset
	size_t  admin_secret_len;
	int     port;             // PORT (8080)
	int     trust_proxy;      // TRUST_PROXY (0)
	int64_t max_upload_bytes; // MAX_UPLOAD_BYTES (104857600)
	int     workers;          // BB_WORKERS (0 = the service's default)
};

// Fills cfg from the environment; creates $DATA_DIR/run. Returns 0 or
// LC_EVALIDATION with a message logged (e.g. a too-short SECRET_KEY).
LC_NODISCARD int lc_cfg_load(struct lc_cfg *cfg);

// Reads an environment variable with a default.
const char *lc_cfg_env(const char *name, const char *def);

#endif // LC_CFG_H
