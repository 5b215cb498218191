/*
 * lc_err.c -- the error tables, expanded from proto/errors.def. Index 0 is
 * LC_OK; the table order equals enum lc_err.
 */
#include "lc_err.h"

#include <string.h>

struct err_ent {
	int         status;
	const char *code;
	const char *text;
};

static const struct err_ent errs[LC_ERR_COUNT] = {
	[LC_OK] = { 200, "ok", "OK" },
#define LC_ERR(name, st, cd, tx) [LC_E##name] = { st, cd, tx },
#include "errors.def"
#undef LC_ERR
};

static int
valid(int err)
{
	return (err >= 0 && err < LC_ERR_COUNT);
}

int
lc_err_status(int err)
{
	return (valid(err) ? errs[err].status : 500);
}

const char *
lc_err_code(int err)
{
	return (valid(err) ? errs[err].code : "internal_error");
}

const char *
lc_err_text(int err)
{
	return (valid(err) ? errs[err].text : "Internal error.");
}

int
lc_err_from_code(const char *code, size_t len)
{
	// Linear scan; used on the client side for error replies only. The
	// first entry with a code wins, so "internal_error" maps to
	// LC_EINTERNAL rather than to an internal-only alias.
	if (code == NULL) {
		return (LC_EINTERNAL);
	}
	for (int i = 1; i < LC_ERR_COUNT; i++) {
		if (strlen(errs[i].code) == len &&
		    memcmp(errs[i].code, code, len) == 0) {
			return (i);
		}
	}
	return (LC_EINTERNAL);
}
