/*
 * lc_log.c -- one-line logs on stderr (see lc_log.h). Each line is formatted
 * into a stack buffer and written with a single write(2), so lines from
 * different threads and processes sharing stderr never interleave. Control
 * characters in the message are replaced by spaces: a line is one line even
 * when the message carries client input.
 */
#include "lc_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_RID_MAX 128

// Owned by this module: the service name is set once at start (before any
// thread is created); the level may change at run time, hence atomic.
static char       log_service[32] = "busbase";
static atomic_int log_level       = LC_LOG_INFO;

// The request id of the request this thread is handling ("" = none).
static _Thread_local char log_rid[LOG_RID_MAX + 1];

static const char *const level_names[] = {
	[LC_LOG_DEBUG] = "DEBUG",
	[LC_LOG_INFO]  = "INFO",
	[LC_LOG_WARN]  = "WARN",
	[LC_LOG_ERR]   = "ERROR",
};

void
lc_log_init(const char *service)
{
	if (service == NULL || service[0] == '\0') {
		service = "busbase";
	}
	snprintf(log_service, sizeof(log_service), "%s", service);
}

void
lc_log_set_level(int level)
{
	if (level < LC_LOG_DEBUG) {
		level = LC_LOG_DEBUG;
	}
	if (level > LC_LOG_OFF) {
		level = LC_LOG_OFF;
	}
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int
lc_log_get_level(void)
{
	return (atomic_load_explicit(&log_level, memory_order_relaxed));
}

int
lc_log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int         level;
	} tab[] = {
		{ "debug", LC_LOG_DEBUG },
		{ "info", LC_LOG_INFO },
		{ "warn", LC_LOG_WARN },
		{ "warning", LC_LOG_WARN },
		{ "error", LC_LOG_ERR },
		{ "err", LC_LOG_ERR },
		{ "off", LC_LOG_OFF },
	};

	if (s == NULL) {
		return (-1);
	}
	for (size_t i = 0; i < LC_NELEM(tab); i++) {
		if (strcasecmp(s, tab[i].name) == 0) {
			return (tab[i].level);
		}
	}
	return (-1);
}

void
lc_log_set_rid(const char *rid)
{
	if (rid == NULL) {
		log_rid[0] = '\0';
		return;
	}
	snprintf(log_rid, sizeof(log_rid), "%s", rid);
}

void
lc_log_write(int level, const char *event, const char *fmt, ...)
{
	char            line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm       tm;
	va_list         ap;
	size_t          n;
	size_t          msg_at;
	int             k;

	if (level < LC_LOG_DEBUG || level >= LC_LOG_OFF) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s %s rid=%s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_service,
	    level_names[level], event != NULL ? event : "-",
	    log_rid[0] != '\0' ? log_rid : "-");
	if (k < 0) {
		return;
	}
	n      = (size_t) k < sizeof(line) - 1 ? (size_t) k : sizeof(line) - 2;
	msg_at = n;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
	va_end(ap);
	if (k > 0) {
		n += (size_t) k < sizeof(line) - 1 - n ? (size_t) k
		                                       : sizeof(line) - 2 - n;
	}
	// One line per record: neutralise control characters in the message.
	for (size_t i = msg_at; i < n; i++) {
		unsigned char c = (unsigned char) line[i];

		if (c < 0x20 || c == 0x7f) {
			line[i] = ' ';
		}
	}
	line[n++] = '\n';
	{
		ssize_t w = write(STDERR_FILENO, line, n);
		(void) w; // nothing sensible to do if stderr is gone
	}
}
