/*
 * fuzz_router.c -- libFuzzer target for the gateway's URL parsing: the
 * router (gateway/routes.c) and the query-string parser (gateway/query.c).
 *
 * Input: byte 0 picks the method (-1 = unknown, then GET..OPTIONS), the rest
 * is "path[?query]". Checks the router's promises: a match names a route of
 * that method (HEAD served by GET) on the matched path, parameter values
 * are NUL-terminated valid UTF-8 without NUL inside the caller's buffer,
 * and 405 carries an Allow string; the query parser returns an object or
 * LC_EINVALID_QUERY. Seeds: tests/fuzz/seeds/fuzz_router/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw.h"
#include "../../gateway/routes.h"
#include "lc_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_route(int method, const char *path, size_t len)
{
	struct gw_match m;
	char           *buf = malloc(len + 1);
	int             rv;
	int             i;

	rv = gw_route_match(method, path, len, buf, len + 1, &m);
	switch (rv) {
	case GW_MATCH_OK:
		if (m.route == NULL || m.path == NULL ||
		    m.route->path != m.path ||
		    m.path->by_method[method] != m.route ||
		    !(m.route->method == method ||
		        (method == GW_M_HEAD &&
		            m.route->method == GW_M_GET))) {
			abort();
		}
		break;
	case GW_MATCH_NOT_FOUND:
		if (m.route != NULL || m.bad_param != -1) {
			abort();
		}
		break;
	case GW_MATCH_BAD_PARAM:
		if (m.path == NULL || m.bad_param < 0 ||
		    m.bad_param >= m.nparams) {
			abort();
		}
		break;
	case GW_MATCH_NO_METHOD:
		if (m.path == NULL || m.route != NULL ||
		    strstr(m.path->allow, "OPTIONS") == NULL) {
			abort();
		}
		break;
	default:
		abort();
	}
	if (rv == GW_MATCH_OK || rv == GW_MATCH_NO_METHOD) {
		if (m.nparams != m.path->nparams) {
			abort();
		}
		for (i = 0; i < m.nparams; i++) {
			const char *v = m.value[i].ptr;

			if (v < buf || v + m.value[i].len >= buf + len + 1 ||
			    v[m.value[i].len] != '\0' ||
			    !gw_utf8_valid(v, m.value[i].len)) {
				abort();
			}
		}
	}
	free(buf);
}

static void
check_query(const char *qs, size_t len)
{
	json_t *q  = NULL;
	int     rv = gw_query_parse(qs, len, &q);

	if (rv == 0) {
		if (!json_is_object(q)) {
			abort();
		}
		json_decref(q);
	} else if (rv != LC_EINVALID_QUERY || q != NULL) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	const char *qm;
	size_t      len;
	int         method;

	if (size == 0) {
		return (0);
	}
	method = (int) (data[0] % (GW_M_COUNT + 1)) - 1;
	s      = (const char *) data + 1;
	len    = size - 1;
	qm     = memchr(s, '?', len);
	check_route(method, s, qm != NULL ? (size_t) (qm - s) : len);
	if (qm != NULL) {
		check_query(qm + 1, len - (size_t) (qm - s) - 1);
	}
	return (0);
}
