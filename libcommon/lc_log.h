/*
 * lc_log.h -- one-line structured logs on stderr:
 *   2026-11-26T16:51:55.123Z auth INFO AUTH-LOGIN rid=<id> message
 * The level is checked before formatting. The request id is per thread: a
 * worker sets it for the request it handles (lc_log_set_rid) so every line
 * carries it. Thread-safe; each line is written with one write(2).
 */
#ifndef LC_LOG_H
#define LC_LOG_H

#include "lc_common.h"

enum lc_log_level {
	LC_LOG_DEBUG = 0,
	LC_LOG_INFO,
	LC_LOG_WARN,
	LC_LOG_ERR,
	LC_LOG_OFF,
};

// Sets the process name printed on every line (default "busbase").
void lc_log_init(const char *service);
void lc_log_set_level(int level);
int  lc_log_get_level(void);
// Parses "debug|info|warn|error|off"; returns -1 when unknown.
int lc_log_level_parse(const char *s);
// Sets (or clears with NULL) this thread's request id.
void lc_log_set_rid(const char *rid);

void lc_log_write(int level, const char *event, const char *fmt, ...)
    LC_PRINTF(3, 4);

#define lc_log_debug(ev, ...)                                        \
	do {                                                         \
		if (lc_log_get_level() <= LC_LOG_DEBUG)              \
			lc_log_write(LC_LOG_DEBUG, ev, __VA_ARGS__); \
	} while (0)
#define lc_log_info(ev, ...)                                        \
	do {                                                        \
		if (lc_log_get_level() <= LC_LOG_INFO)              \
			lc_log_write(LC_LOG_INFO, ev, __VA_ARGS__); \
	} while (0)
#define lc_log_warn(ev, ...)                                        \
	do {                                                        \
		if (lc_log_get_level() <= LC_LOG_WARN)              \
			lc_log_write(LC_LOG_WARN, ev, __VA_ARGS__); \
	} while (0)
#define lc_log_err(ev, ...)                                        \
	do {                                                       \
		if (lc_log_get_level() <= LC_LOG_ERR)              \
			lc_log_write(LC_LOG_ERR, ev, __VA_ARGS__); \
	} while (0)

#endif // LC_LOG_H
