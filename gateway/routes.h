/*
 * routes.h -- the gateway's HTTP route table and router (API.md §1.1).
 *
 * The table is proto/routes.def, expanded once. gw_routes_init() compiles
 * it into a segment trie (every template split into segments, one node per
 * distinct prefix), so matching a path walks the trie once, allocates
 * nothing and never backtracks: at each level a literal child that equals
 * the decoded segment wins, and only then the parameter child is tried.
 * That is exactly "literal segments win over parameters": `auth`, `admin`,
 * `storage` and `openapi.json` after /api/v1/ are never collection names
 * (so /api/v1/auth/unknown is 404), `count` etc. are never record ids, and
 * `upload`/`sign` under /storage are never file ids.
 *
 * Matching is by path first (a "gw_path" is one distinct template with the
 * routes of each method), then by method: no path -> 404, a path without
 * the method -> 405 with the path's Allow string. HEAD is served by GET.
 * One trailing '/' is ignored. Segments are percent-decoded; a segment that
 * does not decode (bad escape, %00, invalid UTF-8) matches no literal, and
 * as a parameter it turns the match into GW_MATCH_BAD_PARAM (a 404).
 *
 * All functions are thread-safe once gw_routes_init() has returned (it is
 * idempotent and itself thread-safe).
 */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <stddef.h>

#include "lc_common.h"

enum gw_method {
	GW_M_GET = 0,
	GW_M_HEAD,
	GW_M_POST,
	GW_M_PUT,
	GW_M_PATCH,
	GW_M_DELETE,
	GW_M_OPTIONS,
	GW_M_COUNT,
};

// Access values (API.md §1.3, routes.def).
enum gw_access {
	GW_ACC_NONE = 0,
	GW_ACC_USER,
	GW_ACC_USER_ADMIN,
	GW_ACC_ADMIN,
	GW_ACC_RULE,
	GW_ACC_FILE,
	GW_ACC_USER_ADMIN_RULE,
};

// Body kinds (routes.def); the size limit follows from the kind.
enum gw_body {
	GW_BODY_NONE = 0,
	GW_BODY_JSON,
	GW_BODY_JSON_BULK,
	GW_BODY_MULTIPART,
	GW_BODY_RAW,
};

// Rate-limit classes of a route (routes.def; API.md §1.10).
enum gw_rate {
	GW_RATE_AUTH = 0,
	GW_RATE_ADMIN,
	GW_RATE_UPLOAD,
	GW_RATE_STD,
	GW_RATE_EXEMPT,
};

#define GW_MAX_SEGS 16  // deeper paths match nothing
#define GW_MAX_PARAMS 4 // per template
#define GW_BODY_JSON_MAX (1024 * 1024)
#define GW_BODY_BULK_MAX (16 * 1024 * 1024)

struct gw_path;

// One row of routes.def.
struct gw_route {
	int                   method; // enum gw_method (never HEAD/OPTIONS)
	const char           *tmpl;   // "/api/v1/:collection/:id"
	int                   msg;    // enum lc_msg
	int                   access; // enum gw_access
	int                   body;   // enum gw_body
	int                   rate;   // enum gw_rate
	int                   svc;    // enum lc_svc (lc_msg_service(msg))
	const char           *op;     // "records.get"
	int                   idx;    // index in the table
	const struct gw_path *path;
};

// One distinct path template and its routes by method.
struct gw_path {
	const char            *tmpl;
	const struct gw_route *by_method[GW_M_COUNT]; // HEAD = GET's route
	char                   allow[64];             // "GET, HEAD, OPTIONS"
	int                    nparams;
	lc_str                 param[GW_MAX_PARAMS]; // names, without ':'
	int                    idx;
};

enum gw_match_rv {
	GW_MATCH_OK = 0,    // path and method matched: route is set
	GW_MATCH_NOT_FOUND, // no template matches the path (404)
	GW_MATCH_BAD_PARAM, // a template matches, but a parameter does not
	                    // decode (404); bad_param is its index
	GW_MATCH_NO_METHOD, // the path matches, the method does not (405)
};

// Result of gw_route_match. Parameter values point into the caller's
// buffer, are NUL-terminated, valid UTF-8 and contain no NUL.
struct gw_match {
	const struct gw_path  *path;  // set for OK, BAD_PARAM, NO_METHOD
	const struct gw_route *route; // set for OK
	int                    nparams;
	int                    bad_param; // -1, or the index of the bad one
	lc_str                 name[GW_MAX_PARAMS];
	lc_str                 value[GW_MAX_PARAMS];
};

// Compiles the table (once; later calls return at once).
void gw_routes_init(void);

// The table, in routes.def order, and the distinct paths.
const struct gw_route *gw_routes(size_t *n);
const struct gw_path  *gw_paths(size_t *n);

// "GET" -> GW_M_GET ...; -1 for any other method.
int         gw_method_parse(const char *s);
const char *gw_method_name(int m);

// Matches method (enum gw_method, or -1 for an unknown method) and the raw
// (still percent-encoded) path of len bytes. buf (buflen >= len + 1) holds
// the decoded parameter values. Returns an enum gw_match_rv; *out is always
// written. Allocation-free.
int gw_route_match(int method, const char *path, size_t len, char *buf,
    size_t buflen, struct gw_match *out);

// Percent-decodes s[0..len) into out (room for len bytes). Returns 0 with
// *out_len set, or -1 on a malformed escape. '+' is kept as is.
LC_NODISCARD int gw_pct_decode(
    const char *s, size_t len, char *out, size_t *out_len);

// 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates or code points
// above U+10FFFF) and contains no NUL byte; 0 otherwise.
int gw_utf8_valid(const char *s, size_t len);

#endif // GW_ROUTES_H
