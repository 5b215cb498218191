/*
 * launcher.h -- private interface of the `busbase` supervisor.
 *
 * The launcher prepares the environment (DATA_DIR made absolute, the two
 * secrets loaded or generated into $DATA_DIR/secrets.env), then starts
 * admin, auth, data, storage, hooks and the gateway as child processes
 * (binaries next to its own executable), prefixes every line they print
 * with "[name] ", restarts a child that dies (backoff 100 ms doubling to
 * 5 s, reset after 10 s of uptime) and stops them all on SIGTERM/SIGINT
 * (SIGTERM, up to 10 s, then SIGKILL).
 *
 * Single-threaded: everything runs in main's poll loop.
 */
#ifndef LAUNCHER_H
#define LAUNCHER_H

#include <stdarg.h>
#include <stddef.h>

#include "lc_common.h"

// Prints "busbase: <message>\n" on stdout with one write(2).
void ln_say(const char *fmt, ...) LC_PRINTF(1, 2);

// Makes sure ADMIN_SECRET and SECRET_KEY are in the environment: a value
// set in the environment is checked (too short: message, return 2);
// otherwise the one kept in $data_dir/secrets.env is used, or a new random
// one is generated and kept there (mode 0600), and a generated admin
// secret is printed once. Returns 0, or the exit code to stop with.
LC_NODISCARD int ln_secrets_prepare(const char *data_dir);

#endif // LAUNCHER_H
