/*
 * reply.c -- building libmicrohttpd responses: JSON bodies, error bodies,
 * bus replies, the CORS preflight, and the headers every response carries
 * (API.md §1.2, §1.5, §1.6).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "lc_codec.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"

#define JSON_CTYPE "application/json; charset=utf-8"

static const char internal_body[] =
    "{\"error\":\"Internal error.\",\"code\":\"internal_error\"}";

// MHD returns NULL only when out of memory: like lc_alloc, give up.
static struct MHD_Response *
must(struct MHD_Response *resp)
{
	if (resp == NULL) {
		lc_log_err("GW-OOM", "cannot create a response");
		abort();
	}
	return (resp);
}

static void
json_headers(struct MHD_Response *resp)
{
	(void) MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_CTYPE);
	(void) MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

struct MHD_Response *
gw_resp_json(struct gw *g, json_t *body)
{
	struct MHD_Response *resp;
	char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(body);
	if (s == NULL) {
		// Only a value the codec could not have produced gets here.
		lc_log_err("GW-JSON", "json_dumps failed");
		resp = must(
		    MHD_create_response_from_buffer(sizeof(internal_body) - 1,
		        (void *) (uintptr_t) internal_body,
		        MHD_RESPMEM_PERSISTENT));
	} else {
		resp = must(MHD_create_response_from_buffer_with_free_callback(
		    strlen(s), s, g->json_free));
	}
	json_headers(resp);
	return (resp);
}

struct MHD_Response *
gw_resp_error(struct gw *g, int err, const char *msg, const char *field)
{
	struct lc_rep rp;
	json_t       *body;

	lc_rep_init(&rp);
	lc_rep_error(&rp, err, msg, field);
	body    = rp.body;
	rp.body = NULL;
	lc_rep_fini(&rp);
	return (gw_resp_json(g, body));
}

struct MHD_Response *
gw_resp_preflight(void)
{
	struct MHD_Response *resp = must(
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));

	(void) MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
	(void) MHD_add_response_header(resp, "Access-Control-Allow-Methods",
	    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	(void) MHD_add_response_header(resp, "Access-Control-Allow-Headers",
	    "Authorization, Content-Type, X-API-Key, X-Request-Id, "
	    "If-None-Match, Range");
	(void) MHD_add_response_header(
	    resp, "Access-Control-Max-Age", "86400");
	return (resp);
}

void
gw_resp_common(struct gw_req *r, struct MHD_Response *resp)
{
	(void) MHD_add_response_header(
	    resp, "X-Content-Type-Options", "nosniff");
	(void) MHD_add_response_header(resp, "X-Request-Id", r->rid);
	if (r->cors) {
		if (MHD_get_response_header(resp,
		        MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN) == NULL) {
			(void) MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
		}
		(void) MHD_add_response_header(resp,
		    "Access-Control-Expose-Headers",
		    "X-Request-Id, Retry-After, ETag, Content-Disposition, "
		    "Content-Range, Accept-Ranges, Content-Length");
	}
	if (atomic_load_explicit(&r->gw->stopping, memory_order_relaxed)) {
		// Draining: let keep-alive clients go elsewhere.
		(void) MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CONNECTION, "close");
	}
}

void
gw_rid_new(char out[LC_UUID_LEN + 1])
{
	// One getrandom(2) per 64 ids instead of one per request; the bytes
	// are the kernel's all the same.
	static _Thread_local uint8_t pool[1024];
	static _Thread_local size_t  used  = sizeof(pool);
	static const char            hex[] = "0123456789abcdef";
	uint8_t                      b[16];
	size_t                       i;
	size_t                       o = 0;

	if (used + sizeof(b) > sizeof(pool)) {
		randombytes_buf(pool, sizeof(pool));
		used = 0;
	}
	memcpy(b, pool + used, sizeof(b));
	used += sizeof(b);
	b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40); // version 4
	b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80); // variant 10xx
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			out[o++] = '-';
		}
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0xf];
	}
	out[o] = '\0';
}

int
gw_rid_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i == LC_RID_MAX) {
			return (0);
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == ':' || c == '-')) {
			return (0);
		}
	}
	return (i > 0);
}

/* ---- bus replies, without jansson ---- */

// RFC 9110 tchar.
static int
is_tchar(unsigned char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

// The same rule lc_env applies: token names, no control characters other
// than TAB in values (no CR/LF injection).
static int
header_ok(const msgpack_object *k, const msgpack_object *v)
{
	uint32_t i;

	if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR ||
	    k->via.str.size == 0 || k->via.str.size > 256 ||
	    v->via.str.size > 8192) {
		return (0);
	}
	for (i = 0; i < k->via.str.size; i++) {
		if (k->via.str.ptr[i] == '\0' ||
		    !is_tchar((unsigned char) k->via.str.ptr[i])) {
			return (0);
		}
	}
	for (i = 0; i < v->via.str.size; i++) {
		unsigned char c = (unsigned char) v->via.str.ptr[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return (0);
		}
	}
	return (1);
}

static void
free_msg(void *msg)
{
	lc_client_msg_free(msg);
}

enum {
	K_V       = 1,
	K_STATUS  = 2,
	K_BODY    = 4,
	K_HEADERS = 8,
	K_CTYPE   = 16,
	K_FX      = 32,
};

// Applies a reply's effects (rare: auth writes) before anything else is
// decided about the reply: they happened, whatever the rest looks like.
static void
apply_fx(struct gw *g, const msgpack_object *fx)
{
	json_t *j = NULL;

	if (fx->type != MSGPACK_OBJECT_ARRAY ||
	    lc_codec_to_json(fx, &j) != 0) {
		lc_log_err("GW-FX", "malformed reply effects ignored");
		return;
	}
	gw_fx_apply(g, j);
	json_decref(j);
}

static int
key_is(const msgpack_object *k, const char *z)
{
	size_t n = strlen(z);

	return (k->via.str.size == n && memcmp(k->via.str.ptr, z, n) == 0);
}

struct MHD_Response *
gw_resp_msg(struct gw *g, void *msg, unsigned *status)
{
	const msgpack_object *body    = NULL;
	const msgpack_object *headers = NULL;
	const msgpack_object *ctype   = NULL;
	const msgpack_object *fx      = NULL;
	struct MHD_Response  *resp    = NULL;
	struct gw_buf         b       = { 0 };
	msgpack_unpacked      up;
	unsigned              seen  = 0;
	int64_t               st    = 0;
	int                   taken = 0;
	const void           *p;
	size_t                len;
	uint32_t              i;

	p = lc_client_msg_body(msg, &len);
	msgpack_unpacked_init(&up);
	if (lc_codec_unpack(p, len, &up) != 0 ||
	    up.data.type != MSGPACK_OBJECT_MAP) {
		goto out;
	}
	for (i = 0; i < up.data.via.map.size; i++) {
		const msgpack_object *k   = &up.data.via.map.ptr[i].key;
		const msgpack_object *v   = &up.data.via.map.ptr[i].val;
		unsigned              bit = 0;

		if (k->type != MSGPACK_OBJECT_STR) {
			goto out;
		}
		if (key_is(k, "v")) {
			bit = K_V;
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    v->via.u64 < 1) {
				goto out;
			}
		} else if (key_is(k, "status")) {
			bit = K_STATUS;
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    v->via.u64 < 100 || v->via.u64 > 599) {
				goto out;
			}
			st = (int64_t) v->via.u64;
		} else if (key_is(k, "body")) {
			bit  = K_BODY;
			body = v;
		} else if (key_is(k, "headers")) {
			bit = K_HEADERS;
			if (v->type != MSGPACK_OBJECT_NIL) {
				headers = v;
			}
		} else if (key_is(k, "ctype")) {
			bit = K_CTYPE;
			if (v->type != MSGPACK_OBJECT_NIL) {
				ctype = v;
			}
		} else if (key_is(k, "fx")) {
			bit = K_FX;
			if (v->type != MSGPACK_OBJECT_NIL) {
				fx = v;
			}
		}
		if ((seen & bit) != 0) {
			goto out; // a field twice
		}
		seen |= bit;
	}
	if (fx != NULL) {
		apply_fx(g, fx);
	}
	if ((seen & (K_V | K_STATUS)) != (K_V | K_STATUS)) {
		goto out;
	}
	// A reply with one bad header is refused whole (as lc_env does).
	if (headers != NULL) {
		if (headers->type != MSGPACK_OBJECT_MAP) {
			goto out;
		}
		for (i = 0; i < headers->via.map.size; i++) {
			if (!header_ok(&headers->via.map.ptr[i].key,
			        &headers->via.map.ptr[i].val)) {
				goto out;
			}
		}
	}
	if (ctype != NULL) {
		msgpack_object c = { .type = MSGPACK_OBJECT_STR,
			.via.str           = { 1, "c" } };

		if (ctype->via.str.size > 127 || !header_ok(&c, ctype)) {
			goto out;
		}
	}
	if (body != NULL && body->type == MSGPACK_OBJECT_BIN) {
		char ct[128];

		// Served from the message itself; freed with the response.
		resp = must(
		    MHD_create_response_from_buffer_with_free_callback_cls(
		        body->via.bin.size,
		        (void *) (uintptr_t) body->via.bin.ptr, free_msg,
		        msg));
		taken = 1;
		if (ctype != NULL) {
			memcpy(ct, ctype->via.str.ptr, ctype->via.str.size);
			ct[ctype->via.str.size] = '\0';
		} else {
			(void) snprintf(
			    ct, sizeof(ct), "application/octet-stream");
		}
		(void) MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CONTENT_TYPE, ct);
	} else if (body != NULL) {
		if (gw_json_write(&b, body) != 0) {
			goto out;
		}
		resp = must(MHD_create_response_from_buffer_with_free_callback(
		    b.len, b.p, lc_free));
		b.p  = NULL;
		json_headers(resp);
	} else {
		resp = must(MHD_create_response_from_buffer(
		    0, NULL, MHD_RESPMEM_PERSISTENT));
	}
	for (i = 0; headers != NULL && i < headers->via.map.size; i++) {
		const msgpack_object *k = &headers->via.map.ptr[i].key;
		const msgpack_object *v = &headers->via.map.ptr[i].val;
		char                  name[257];
		char                 *val = lc_alloc(v->via.str.size + 1);

		memcpy(name, k->via.str.ptr, k->via.str.size);
		name[k->via.str.size] = '\0';
		memcpy(val, v->via.str.ptr, v->via.str.size);
		val[v->via.str.size] = '\0';
		// MHD refuses the headers it owns (Content-Length...).
		(void) MHD_add_response_header(resp, name, val);
		lc_free(val);
	}
	*status = (unsigned) st;
out:
	msgpack_unpacked_destroy(&up);
	lc_free(b.p);
	if (!taken) {
		lc_client_msg_free(msg);
	}
	return (resp);
}
