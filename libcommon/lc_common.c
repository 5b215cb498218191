/*
 * lc_common.c -- allocation that aborts on OOM, lc_str helpers, clocks and
 * a strict integer parser. See lc_common.h.
 */
#include "lc_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lc_err.h"

// Out of memory: the container restarts us (Redis zmalloc). Write the
// message with write(2) because stdio may need memory itself.
static void
oom(size_t n)
{
	char buf[96];
	int  k;

	k = snprintf(
	    buf, sizeof(buf), "busbase: out of memory (%zu bytes)\n", n);
	if (k > 0) {
		ssize_t w = write(STDERR_FILENO, buf, (size_t) k);
		(void) w;
	}
	abort();
}

void *
lc_alloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL) {
		oom(n);
	}
	return (p);
}

void *
lc_calloc(size_t n, size_t sz)
{
	void *p;

	if (n == 0 || sz == 0) {
		n  = 1;
		sz = 1;
	}
	if ((p = calloc(n, sz)) == NULL) {
		oom(n * sz);
	}
	return (p);
}

void *
lc_realloc(void *p, size_t n)
{
	void *q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL) {
		oom(n);
	}
	return (q);
}

char *
lc_strdup(const char *s)
{
	return (lc_strndup(s, strlen(s)));
}

char *
lc_strndup(const char *s, size_t len)
{
	char *p = lc_alloc(len + 1);

	if (len > 0) {
		memcpy(p, s, len);
	}
	p[len] = '\0';
	return (p);
}

void
lc_free(void *p)
{
	free(p);
}

int
lc_str_eq(lc_str a, lc_str b)
{
	if (a.len != b.len) {
		return (0);
	}
	return (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int
lc_str_eqz(lc_str a, const char *z)
{
	size_t zl = strlen(z);

	return (a.len == zl && (zl == 0 || memcmp(a.ptr, z, zl) == 0));
}

static int64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0) {
		return (0);
	}
	return ((int64_t) ts.tv_sec * 1000000000 + (int64_t) ts.tv_nsec);
}

int64_t
lc_now_ms(void)
{
	return (clock_ns(CLOCK_REALTIME) / 1000000);
}

int64_t
lc_mono_ms(void)
{
	return (clock_ns(CLOCK_MONOTONIC) / 1000000);
}

int64_t
lc_mono_ns(void)
{
	return (clock_ns(CLOCK_MONOTONIC));
}

int
lc_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	uint64_t acc = 0;
	uint64_t lim;
	size_t   i   = 0;
	int      neg = 0;
	int64_t  v;

	if (s == NULL || len == 0) {
		return (LC_EVALIDATION);
	}
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i   = 1;
	}
	if (i == len) {
		return (LC_EVALIDATION);
	}
	// Magnitude limit: 2^63 for negatives, 2^63-1 for positives.
	lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	for (; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9') {
			return (LC_EVALIDATION);
		}
		d = (unsigned) (s[i] - '0');
		if (acc > (lim - d) / 10) {
			return (LC_EVALIDATION);
		}
		acc = acc * 10 + d;
	}
	if (neg) {
		v = acc == (uint64_t) INT64_MAX + 1 ? INT64_MIN
		                                    : -(int64_t) acc;
	} else {
		v = (int64_t) acc;
	}
	if (v < min || v > max) {
		return (LC_EVALIDATION);
	}
	*out = v;
	return (0);
}

void
lc_cloexec_all(void)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	int            self;

	if (d == NULL) {
		return;
	}
	self = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		int64_t fd;

		if (lc_parse_i64(e->d_name, strlen(e->d_name), 3, INT32_MAX,
		        &fd) != 0 ||
		    fd == self) {
			continue;
		}
		int fl = fcntl((int) fd, F_GETFD);
		if (fl >= 0) {
			(void) fcntl((int) fd, F_SETFD, fl | FD_CLOEXEC);
		}
	}
	closedir(d);
}
