/*
 * lc_common.h -- the small things every BusBase module uses: allocation that
 * aborts on OOM (the container restarts; Redis zmalloc style), the lc_str
 * pointer+length view, attribute macros, and clocks.
 *
 * All functions are thread-safe. lc_alloc/lc_calloc/lc_realloc/lc_strdup
 * never return NULL. lc_free(NULL) is a no-op.
 */
#ifndef LC_COMMON_H
#define LC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define LC_NODISCARD __attribute__((warn_unused_result))
#define LC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define LC_UNUSED(x) ((void) (x))
#define LC_NELEM(a) (sizeof(a) / sizeof((a)[0]))

// Restart by the supervisor. A process started by the launcher (which
// sets LC_SUPERVISED_ENV) restarts on request by exiting with
// LC_EXIT_RESTART; the launcher starts it again at once, with the same
// arguments and environment. Alone (Kubernetes, by hand) it re-executes
// itself. Why not always execv: with nng 1.5.2, a process re-executed
// while every peer reconnects at once lost SP handshakes on about 1 restart
// of all processes in 3 (accepted connections whose header was sent but
// never read), leaving it unreachable; 25 of 25 fresh starts did not.
#define LC_EXIT_RESTART 75
#define LC_SUPERVISED_ENV "BUSBASE_SUPERVISED"

#define LC_VERSION "1.0.0"

// A borrowed byte string; ptr is not NUL-terminated in general.
typedef struct {
	const char *ptr;
	size_t      len;
} lc_str;

#define LC_STR(lit) ((lc_str) { (lit), sizeof(lit) - 1 })

void *lc_alloc(size_t n);
void *lc_calloc(size_t n, size_t sz);
void *lc_realloc(void *p, size_t n);
char *lc_strdup(const char *s);
char *lc_strndup(const char *s, size_t len);
void  lc_free(void *p);

// lc_str helpers. lc_str_eq compares bytes; lc_str_eqz compares to a C string.
int lc_str_eq(lc_str a, lc_str b);
int lc_str_eqz(lc_str a, const char *z);

// Wall clock in Unix milliseconds, and a monotonic clock in milliseconds and
// nanoseconds (for durations).
int64_t lc_now_ms(void);
int64_t lc_mono_ms(void);
int64_t lc_mono_ns(void);

// Marks every descriptor above 2 close-on-exec, so a process that
// re-executes itself (restart) carries no socket of its old image: a peer
// must see the old connections close, not hang on a descriptor nobody reads.
void lc_cloexec_all(void);

// Parses a whole decimal integer in [min, max]; 0 or LC_EVALIDATION.
LC_NODISCARD int lc_parse_i64(
    const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

#endif // LC_COMMON_H
