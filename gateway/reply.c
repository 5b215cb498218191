/*
 * reply.c -- building libmicrohttpd responses: JSON bodies, error bodies,
 * bus replies, the CORS preflight, and the headers every response carries
 * (API.md §1.2, §1.5, §1.6).
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "lc_err.h"
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
	char                *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(body);
	if (s == NULL) {
		// Only a value the codec could not have produced gets here.
		lc_log_err("GW-JSON", "json_dumps failed");
		resp = must(MHD_create_response_from_buffer(
		    sizeof(internal_body) - 1, (void *) (uintptr_t) internal_body,
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
gw_resp_reply(struct gw *g, struct lc_rep *rp, unsigned *status)
{
	struct MHD_Response *resp;
	const char          *k;
	json_t              *v;

	*status = (rp->status >= 100 && rp->status <= 599) ?
	              (unsigned) rp->status :
	              500;
	if (rp->raw != NULL) {
		resp = must(MHD_create_response_from_buffer_with_free_callback(
		    rp->raw_len, rp->raw, lc_free));
		rp->raw = NULL;
		(void) MHD_add_response_header(resp,
		    MHD_HTTP_HEADER_CONTENT_TYPE,
		    rp->content_type[0] != '\0' ? rp->content_type :
		                                  "application/octet-stream");
	} else if (rp->body != NULL) {
		resp     = gw_resp_json(g, rp->body);
		rp->body = NULL;
	} else {
		resp = must(MHD_create_response_from_buffer(
		    0, NULL, MHD_RESPMEM_PERSISTENT));
	}
	// Headers the service set (ETag, Content-Disposition, Retry-After..).
	// MHD refuses the ones it owns (Content-Length...): that is fine.
	json_object_foreach (rp->headers, k, v) {
		if (json_is_string(v)) {
			(void) MHD_add_response_header(
			    resp, k, json_string_value(v));
		}
	}
	return (resp);
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
	(void) MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
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
