/*
 * lc_settings.h -- runtime settings (API.md §5.8, proto/settings.def).
 *
 * Two halves:
 * 1. The table: defaults, validation of a patch (exact JSON types, ranges,
 *    enums, URLs, sender format, 2048-char strings, unknown keys), applying a
 *    validated patch (null resets, "********" keeps a secret), masking.
 *    Pure functions, thread-safe.
 * 2. The follower: every process holds the current settings (a full object
 *    plus a version number) as snapshot + stream from admin: it subscribes to
 *    settings.changed, fetches settings.snapshot from admin at start and on
 *    every gap/silence, and answers admin's "svc.settings" survey (apply this
 *    version, then confirm) so a PATCH is in effect everywhere before its
 *    200. Until the first snapshot arrives the defaults are in effect.
 *    Readers are thread-safe and cheap (a mutex and a pointer swap).
 */
#ifndef LC_SETTINGS_H
#define LC_SETTINGS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"

#define LC_SETTING_STR_MAX 2048
#define LC_SF_SECRET 0x1
#define LC_SETTINGS_MASK "********"

enum lc_setting_type {
	LC_ST_BOOL = 0,
	LC_ST_INT,
	LC_ST_ENUM,
	LC_ST_STR,
	LC_ST_URL,
	LC_ST_FROM,
	LC_ST_SECRET,
};

struct lc_setting_def {
	const char *key;
	int         type;
	const char *def_json;
	int64_t     min;
	int64_t     max;
	const char *allowed; // "a|b|c" for ENUM
	int         flags;
};

extern const struct lc_setting_def lc_settings_table[];
extern const size_t                lc_settings_count;

const struct lc_setting_def *lc_settings_def_find(const char *key);

// A new object with every key at its default.
json_t *lc_settings_defaults(void);

// Validates patch (must be an object). Returns 0, or LC_EVALIDATION with
// the offending key copied to field and a message to msg.
LC_NODISCARD int lc_settings_validate(const json_t *patch, char *field,
    size_t field_len, char *msg, size_t msg_len);

// Applies a validated patch to cur (a full object). *out_new is the new
// full object; *out_changes an array of {"key","old_value","new_value",
// "reset":bool} for each key whose value actually changed (secrets are
// masked in it). Both new references.
void lc_settings_apply(const json_t *cur, const json_t *patch,
    json_t **out_new, json_t **out_changes);

// A copy with secrets replaced by "********" (set) or null (unset).
json_t *lc_settings_mask(const json_t *settings);

/* ---- the follower (one per process) ---- */

struct lc_cfg;

// Starts following admin (snapshot + stream + survey respondent). name is
// the process name ("gateway", "auth", ...). extra, if not NULL, answers
// survey ops other than svc.settings (e.g. svc.info, system.restart).
struct lc_worker;
struct lc_req;
struct lc_rep;
typedef int (*lc_settings_extra_fn)(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
LC_NODISCARD int lc_settings_follow(const struct lc_cfg *cfg, const char *name,
    lc_settings_extra_fn extra, void *extra_arg);
void             lc_settings_unfollow(void);

// Admin (the owner) installs settings directly.
void lc_settings_install(json_t *settings, int64_t version);

// 1 once this process holds admin's settings (first snapshot received, or
// installed by the owner); until then svc.health answers 503 "starting".
int lc_settings_ready(void);

// Current settings (new reference) and version (0 = defaults only).
json_t *lc_settings_current(int64_t *version);
int64_t lc_settings_version(void);
int     lc_settings_bool(const char *key);
int64_t lc_settings_int(const char *key);
// Copies a string setting into buf; returns 0, or -1 when null/unset.
int lc_settings_str(const char *key, char *buf, size_t len);

// Called (on the follower's thread) after every change.
typedef void (*lc_settings_changed_fn)(void *arg);
void lc_settings_on_change(lc_settings_changed_fn fn, void *arg);

#endif // LC_SETTINGS_H
