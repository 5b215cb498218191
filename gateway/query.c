/*
 * query.c -- the query string as the envelope's query object (API.md
 * §1.1): percent-decoded keys and values, the last value wins, except
 * filter and sort, which stay strings when given once and become arrays of
 * strings when repeated. The daemon runs with a no-op unescape callback, so
 * MHD hands us raw keys and values and every decoding happens here.
 */
#include <string.h>

#include "gw.h"
#include "lc_err.h"

#define SMALL 512

struct qctx {
	json_t *obj;
	int     rv;
};

// Decodes s[0..len) ('+' is a space) into a new JSON string. NULL on a
// malformed escape, a NUL or invalid UTF-8.
static json_t *
decode(const char *s, size_t len)
{
	char    small[SMALL];
	char   *d = len <= sizeof(small) ? small : lc_alloc(len);
	size_t  dlen;
	size_t  i;
	json_t *j = NULL;

	if (gw_pct_decode(s, len, d, &dlen) == 0) {
		// The decoder keeps '+'; in a query string it is a space, but
		// an encoded "%2B" must stay a '+': so scan the raw text.
		size_t o = 0;

		for (i = 0; i < len; i++, o++) {
			if (s[i] == '%') {
				i += 2;
			} else if (s[i] == '+') {
				d[o] = ' ';
			}
		}
		if (gw_utf8_valid(d, dlen)) {
			j = json_stringn_nocheck(d, dlen);
		}
	}
	if (d != small) {
		lc_free(d);
	}
	return (j);
}

static int
is_multi(const char *k, size_t len)
{
	return ((len == 6 && memcmp(k, "filter", 6) == 0) ||
	    (len == 4 && memcmp(k, "sort", 4) == 0));
}

// Adds one key=value pair (both raw). Returns 0 or LC_EINVALID_QUERY.
static int
add_pair(json_t *obj, const char *k, size_t klen, const char *v, size_t vlen)
{
	json_t     *key = decode(k, klen);
	json_t     *val;
	json_t     *old;
	const char *ks;
	size_t      kl;

	if (key == NULL) {
		return (LC_EINVALID_QUERY);
	}
	if ((val = decode(v, vlen)) == NULL) {
		json_decref(key);
		return (LC_EINVALID_QUERY);
	}
	ks = json_string_value(key);
	kl = json_string_length(key);
	if (is_multi(ks, kl) &&
	    (old = json_object_getn(obj, ks, kl)) != NULL) {
		if (json_is_array(old)) {
			(void) json_array_append_new(old, val);
		} else {
			json_t *arr = json_array();

			(void) json_array_append(arr, old);
			(void) json_array_append_new(arr, val);
			(void) json_object_setn_new_nocheck(obj, ks, kl, arr);
		}
	} else {
		(void) json_object_setn_new_nocheck(obj, ks, kl, val);
	}
	json_decref(key);
	return (0);
}

static enum MHD_Result
on_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t klen,
    const char *value, size_t vlen)
{
	struct qctx *q = cls;

	LC_UNUSED(kind);
	if (value == NULL) {
		value = ""; // "?flag" without '='
		vlen  = 0;
	}
	if ((q->rv = add_pair(q->obj, key, klen, value, vlen)) != 0) {
		return (MHD_NO);
	}
	return (MHD_YES);
}

int
gw_query_build(struct MHD_Connection *con, json_t **out)
{
	struct qctx q = { json_object(), 0 };

	(void) MHD_get_connection_values_n(
	    con, MHD_GET_ARGUMENT_KIND, on_arg, &q);
	if (q.rv != 0) {
		json_decref(q.obj);
		return (q.rv);
	}
	*out = q.obj;
	return (0);
}

int
gw_query_parse(const char *qs, size_t len, json_t **out)
{
	json_t     *obj = json_object();
	const char *p   = qs;
	const char *end = qs + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t) (end - p));
		const char *eq;
		int         rv;

		if (amp == NULL) {
			amp = end;
		}
		if (amp > p) {
			eq = memchr(p, '=', (size_t) (amp - p));
			rv = eq == NULL
			    ? add_pair(obj, p, (size_t) (amp - p), "", 0)
			    : add_pair(obj, p, (size_t) (eq - p), eq + 1,
			          (size_t) (amp - eq - 1));
			if (rv != 0) {
				json_decref(obj);
				return (rv);
			}
		}
		p = amp + 1;
	}
	*out = obj;
	return (0);
}
