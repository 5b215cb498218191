/*
 * routes.c -- proto/routes.def expanded into a table, compiled at start into
 * a segment trie, and the allocation-free matcher (see routes.h).
 */
#include "routes.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lc_msg.h"

static struct gw_route table[] = {
#define LC_ROUTE(M, P, MSG, ACC, BODY, RATE) \
	{ .method       = GW_M_##M,          \
		.tmpl   = (P),               \
		.msg    = LC_MSG_##MSG,      \
		.access = GW_ACC_##ACC,      \
		.body   = GW_BODY_##BODY,    \
		.rate   = GW_RATE_##RATE },
#include "routes.def"
#undef LC_ROUTE
};

#define NROUTES LC_NELEM(table)
#define NNODES (NROUTES * GW_MAX_SEGS + 1)

// A trie node. Literal children form a sibling list; there is at most one
// parameter child (parameter names live in the gw_path, by position).
struct node {
	lc_str lit;       // this node's literal (unused for parameter nodes)
	int    first_lit; // first literal child, or -1
	int    next;      // next literal sibling, or -1
	int    param;     // parameter child, or -1
	int    path; // index into paths[] when a template ends here, or -1
};

// Written once by compile() under pthread_once, read-only afterwards.
static struct gw_path paths[NROUTES];
static size_t         npaths;
static struct node    nodes[NNODES];
static int            nnodes;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *const method_names[GW_M_COUNT] = {
	[GW_M_GET]     = "GET",
	[GW_M_HEAD]    = "HEAD",
	[GW_M_POST]    = "POST",
	[GW_M_PUT]     = "PUT",
	[GW_M_PATCH]   = "PATCH",
	[GW_M_DELETE]  = "DELETE",
	[GW_M_OPTIONS] = "OPTIONS",
};

static int
node_new(lc_str lit)
{
	struct node *n;

	if (nnodes >= (int) NNODES) {
		abort(); // table bigger than NNODES: programmer error
	}
	n            = &nodes[nnodes];
	n->lit       = lit;
	n->first_lit = -1;
	n->next      = -1;
	n->param     = -1;
	n->path      = -1;
	return (nnodes++);
}

// Finds or creates the child of node n for template segment seg.
static int
node_child(int n, lc_str seg)
{
	int c;

	if (seg.len > 0 && seg.ptr[0] == ':') {
		if (nodes[n].param < 0) {
			c              = node_new(LC_STR(""));
			nodes[n].param = c;
		}
		return (nodes[n].param);
	}
	for (c = nodes[n].first_lit; c >= 0; c = nodes[c].next) {
		if (lc_str_eq(nodes[c].lit, seg)) {
			return (c);
		}
	}
	c                  = node_new(seg);
	nodes[c].next      = nodes[n].first_lit;
	nodes[n].first_lit = c;
	return (c);
}

// Adds route r: walks/extends the trie and attaches r to its path.
static void
add_route(struct gw_route *r)
{
	const char     *s     = r->tmpl;
	const char     *end   = s + strlen(s);
	int             n     = 0;
	int             nsegs = 0;
	lc_str          names[GW_MAX_PARAMS];
	int             np = 0;
	struct gw_path *p;

	if (*s != '/') {
		abort(); // routes.def templates are absolute
	}
	s++;
	while (s < end) {
		const char *e = memchr(s, '/', (size_t) (end - s));
		lc_str      seg;

		if (e == NULL) {
			e = end;
		}
		seg = (lc_str) { s, (size_t) (e - s) };
		if (seg.len == 0 || ++nsegs > GW_MAX_SEGS) {
			abort();
		}
		if (seg.ptr[0] == ':') {
			if (np == GW_MAX_PARAMS) {
				abort();
			}
			names[np++] = (lc_str) { seg.ptr + 1, seg.len - 1 };
		}
		n = node_child(n, seg);
		s = e + 1;
	}
	if (nodes[n].path < 0) {
		p          = &paths[npaths];
		p->tmpl    = r->tmpl;
		p->idx     = (int) npaths;
		p->nparams = np;
		memcpy(p->param, names, sizeof(names[0]) * (size_t) np);
		nodes[n].path = (int) npaths++;
	}
	p = &paths[nodes[n].path];
	if (p->by_method[r->method] != NULL) {
		abort(); // duplicate route in routes.def
	}
	p->by_method[r->method] = r;
	if (r->method == GW_M_GET) {
		p->by_method[GW_M_HEAD] = r;
	}
	r->path = p;
}

// "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" order (API.md §1.1).
static void
build_allow(struct gw_path *p)
{
	size_t off = 0;
	int    m;

	for (m = GW_M_GET; m <= GW_M_DELETE; m++) {
		size_t l;

		if (p->by_method[m] == NULL) {
			continue;
		}
		l = strlen(method_names[m]);
		memcpy(p->allow + off, method_names[m], l);
		memcpy(p->allow + off + l, ", ", 2);
		off += l + 2;
	}
	memcpy(p->allow + off, "OPTIONS", sizeof("OPTIONS"));
}

static void
compile(void)
{
	size_t i;

	(void) node_new(LC_STR("")); // the root, node 0
	for (i = 0; i < NROUTES; i++) {
		table[i].idx = (int) i;
		table[i].svc = lc_msg_service(table[i].msg);
		table[i].op  = lc_msg_name(table[i].msg);
		add_route(&table[i]);
	}
	for (i = 0; i < npaths; i++) {
		build_allow(&paths[i]);
	}
}

void
gw_routes_init(void)
{
	(void) pthread_once(&once, compile);
}

const struct gw_route *
gw_routes(size_t *n)
{
	gw_routes_init();
	*n = NROUTES;
	return (table);
}

const struct gw_path *
gw_paths(size_t *n)
{
	gw_routes_init();
	*n = npaths;
	return (paths);
}

int
gw_method_parse(const char *s)
{
	// The common methods first; MHD hands us the method as sent.
	switch (s[0]) {
	case 'G':
		return (strcmp(s, "GET") == 0 ? GW_M_GET : -1);
	case 'H':
		return (strcmp(s, "HEAD") == 0 ? GW_M_HEAD : -1);
	case 'P':
		if (strcmp(s, "POST") == 0) {
			return (GW_M_POST);
		}
		if (strcmp(s, "PUT") == 0) {
			return (GW_M_PUT);
		}
		return (strcmp(s, "PATCH") == 0 ? GW_M_PATCH : -1);
	case 'D':
		return (strcmp(s, "DELETE") == 0 ? GW_M_DELETE : -1);
	case 'O':
		return (strcmp(s, "OPTIONS") == 0 ? GW_M_OPTIONS : -1);
	default:
		return (-1);
	}
}

const char *
gw_method_name(int m)
{
	if (m < 0 || m >= GW_M_COUNT) {
		return ("OTHER");
	}
	return (method_names[m]);
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9') {
		return (c - '0');
	}
	if (c >= 'a' && c <= 'f') {
		return (c - 'a' + 10);
	}
	if (c >= 'A' && c <= 'F') {
		return (c - 'A' + 10);
	}
	return (-1);
}

int
gw_pct_decode(const char *s, size_t len, char *out, size_t *out_len)
{
	size_t i;
	size_t o = 0;

	for (i = 0; i < len; i++) {
		int hi;
		int lo;

		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len) {
			return (-1);
		}
		hi = hexval((unsigned char) s[i + 1]);
		lo = hexval((unsigned char) s[i + 2]);
		if (hi < 0 || lo < 0) {
			return (-1);
		}
		out[o++] = (char) ((hi << 4) | lo);
		i += 2;
	}
	*out_len = o;
	return (0);
}

int
gw_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t               i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t      cp;
		size_t        n;
		size_t        k;

		if (c == 0) {
			return (0);
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n  = 1;
			cp = c & 0x1Fu;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n  = 2;
			cp = c & 0x0Fu;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n  = 3;
			cp = c & 0x07u;
		} else {
			return (0); // continuation byte, 0xC0/0xC1 or > 0xF4
		}
		if (len - i <= n) {
			return (0);
		}
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80) {
				return (0);
			}
			cp = (cp << 6) | (s[i + k] & 0x3Fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
			return (0);
		}
		i += n + 1;
	}
	return (1);
}

static int
find_literal(int n, const char *s, size_t len)
{
	int c;

	for (c = nodes[n].first_lit; c >= 0; c = nodes[c].next) {
		if (nodes[c].lit.len == len &&
		    memcmp(nodes[c].lit.ptr, s, len) == 0) {
			return (c);
		}
	}
	return (-1);
}

int
gw_route_match(int method, const char *path, size_t len, char *buf,
    size_t buflen, struct gw_match *out)
{
	const char           *p;
	const char           *end;
	const struct gw_path *gp;
	size_t                used  = 0;
	int                   bad   = -1;
	int                   nsegs = 0;
	int                   np    = 0;
	int                   n     = 0;
	int                   i;

	gw_routes_init();
	out->path      = NULL;
	out->route     = NULL;
	out->nparams   = 0;
	out->bad_param = -1;
	if (len == 0 || path[0] != '/' || buflen < len + 1) {
		return (GW_MATCH_NOT_FOUND);
	}
	if (len > 1 && path[len - 1] == '/') {
		len--; // one trailing slash is ignored
	}
	p   = path + 1;
	end = path + len;
	if (p == end) {
		return (GW_MATCH_NOT_FOUND); // "/": no template is empty
	}
	for (;;) {
		const char *e = memchr(p, '/', (size_t) (end - p));
		size_t      seglen;
		char       *d = buf + used;
		size_t      dlen;
		int         ok;
		int         c;

		if (e == NULL) {
			e = end;
		}
		seglen = (size_t) (e - p);
		if (seglen == 0 || ++nsegs > GW_MAX_SEGS) {
			return (GW_MATCH_NOT_FOUND);
		}
		// Decoded text is never longer than the raw segment, and the
		// raw segments plus their separators fit in len + 1.
		ok = gw_pct_decode(p, seglen, d, &dlen) == 0 &&
		    gw_utf8_valid(d, dlen);
		c = ok ? find_literal(n, d, dlen) : -1;
		if (c >= 0) {
			n = c;
		} else if (nodes[n].param >= 0 && np < GW_MAX_PARAMS) {
			if (ok) {
				d[dlen]        = '\0';
				out->value[np] = (lc_str) { d, dlen };
				used += dlen + 1;
			} else {
				out->value[np] = LC_STR("");
				if (bad < 0) {
					bad = np;
				}
			}
			np++;
			n = nodes[n].param;
		} else {
			return (GW_MATCH_NOT_FOUND);
		}
		if (e == end) {
			break;
		}
		p = e + 1;
	}
	if (nodes[n].path < 0) {
		return (GW_MATCH_NOT_FOUND);
	}
	gp           = &paths[nodes[n].path];
	out->path    = gp;
	out->nparams = np;
	for (i = 0; i < np; i++) {
		out->name[i] = gp->param[i];
	}
	if (bad >= 0) {
		out->bad_param = bad;
		return (GW_MATCH_BAD_PARAM);
	}
	if (method < 0 || method >= GW_M_COUNT ||
	    gp->by_method[method] == NULL) {
		return (GW_MATCH_NO_METHOD);
	}
	out->route = gp->by_method[method];
	return (GW_MATCH_OK);
}
