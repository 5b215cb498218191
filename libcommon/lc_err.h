/*
 * lc_err.h -- error codes expanded from proto/errors.def. 0 (LC_OK) is
 * success; every other value names an API error code and its HTTP status.
 * The tables are constant; all functions are thread-safe.
 */
#ifndef LC_ERR_H
#define LC_ERR_H

#include <stddef.h>

enum lc_err {
	LC_OK = 0,
#define LC_ERR(name, status, code, text) LC_E##name,
#include "errors.def"
#undef LC_ERR
	LC_ERR_COUNT
};

// HTTP status of an error (200 for LC_OK, 500 for an unknown value).
int lc_err_status(int err);
// The wire code ("not_found"); "internal_error" for unknown values.
const char *lc_err_code(int err);
// The default human-readable message.
const char *lc_err_text(int err);
// Finds the error by wire code; returns LC_EINTERNAL when unknown.
int lc_err_from_code(const char *code, size_t len);

#endif // LC_ERR_H
