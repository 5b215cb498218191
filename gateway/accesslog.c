/*
 * accesslog.c -- the one-line-per-request log (GW-REQ), batched.
 *
 * lc_log writes each line with its own write(2). At 100k requests a second
 * that is 100k system calls in the gateway, and as many wake-ups of the
 * process reading our stderr (the launcher). Request lines are therefore
 * formatted exactly as lc_log_write formats them ("<time> gateway INFO
 * GW-REQ rid=<id> <message>") and appended to a buffer of the calling
 * thread; the buffer is written with one write(2) when the next line would
 * not fit (at most PIPE_BUF bytes, so a write never interleaves with other
 * lines on the pipe) and, at the latest, by gw_alog_flush, which the main
 * thread calls every 100 ms. Lines of one thread stay in order; lines of
 * two threads may be up to 100 ms apart. The level is lc_log's.
 *
 * Thread-safe: each buffer has a mutex, taken by its thread per line and
 * by the flusher every 100 ms.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "lc_log.h"

#define ALOG_BUF PIPE_BUF // 4096 on Linux: one write(2) is atomic
#define ALOG_AGE_MS 100

struct alog {
	pthread_mutex_t mu;
	struct alog    *next; // in the list of all buffers
	int64_t first_ms;     // monotonic time of the oldest line, 0 if none
	size_t  len;
	char    b[ALOG_BUF];
	// The formatted date and time of the current second (per thread).
	time_t sec;
	char   stamp[64]; // "2026-11-26T17:18:25."
};

// Owned by this file: every thread's buffer, for the flusher. Buffers live
// until the process ends (one per MHD thread).
static pthread_mutex_t            all_mu = PTHREAD_MUTEX_INITIALIZER;
static struct alog               *all;
static _Thread_local struct alog *mine;

static void
write_all(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, p, len);

		if (n <= 0) {
			return; // stderr is gone: nothing better to do
		}
		p += n;
		len -= (size_t) n;
	}
}

static void
flush_locked(struct alog *a)
{
	write_all(a->b, a->len);
	a->len      = 0;
	a->first_ms = 0;
}

static struct alog *
mine_get(void)
{
	if (mine == NULL) {
		mine = lc_calloc(1, sizeof(*mine));
		(void) pthread_mutex_init(&mine->mu, NULL);
		(void) pthread_mutex_lock(&all_mu);
		mine->next = all;
		all        = mine;
		(void) pthread_mutex_unlock(&all_mu);
	}
	return (mine);
}

void
gw_alog_request(const char *method, const char *route, unsigned status,
    double ms, const char *rid)
{
	struct alog    *a;
	struct timespec ts;
	char            line[512];
	int             n;

	if (lc_log_get_level() > LC_LOG_INFO) {
		return;
	}
	a = mine_get();
	(void) clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != a->sec) { // gmtime once a second per thread
		struct tm tm;

		(void) gmtime_r(&ts.tv_sec, &tm);
		(void) snprintf(a->stamp, sizeof(a->stamp),
		    "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
		a->sec = ts.tv_sec;
	}
	// As lc_log_write: "<time> <service> <LEVEL> <event> rid=<id> <msg>".
	n = snprintf(line, sizeof(line),
	    "%s%03ldZ gateway INFO GW-REQ rid=%s %s %s %u %.3fms\n", a->stamp,
	    ts.tv_nsec / 1000000, rid, method, route, status, ms);
	if (n <= 0) {
		return;
	}
	if ((size_t) n >= sizeof(line)) {
		n           = (int) sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void) pthread_mutex_lock(&a->mu);
	if (a->len + (size_t) n > sizeof(a->b)) {
		flush_locked(a);
	}
	memcpy(a->b + a->len, line, (size_t) n);
	a->len += (size_t) n;
	if (a->first_ms == 0) {
		a->first_ms = lc_mono_ms();
	}
	(void) pthread_mutex_unlock(&a->mu);
}

void
gw_alog_flush(int all_lines)
{
	int64_t      now = lc_mono_ms();
	struct alog *a;

	(void) pthread_mutex_lock(&all_mu);
	for (a = all; a != NULL; a = a->next) {
		(void) pthread_mutex_lock(&a->mu);
		if (a->len > 0 &&
		    (all_lines || now - a->first_ms >= ALOG_AGE_MS)) {
			flush_locked(a);
		}
		(void) pthread_mutex_unlock(&a->mu);
	}
	(void) pthread_mutex_unlock(&all_mu);
}
