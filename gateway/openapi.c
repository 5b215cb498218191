/*
 * openapi.c -- the OpenAPI 3.1.0 document of API.md §7, generated once at
 * start from the route table: one path item per template (":id" becomes
 * "{id}"), one operation per method with the op name as operationId, the
 * security of its access value, its request body kind, and the error
 * schema {"error","code","field"?}. Later issues add request and response
 * schemas per operation.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "lc_msg.h"

#define ERR_REF "#/components/responses/Error"

// OpenAPI path-item keys are the lowercase HTTP method names.
static void
method_key(int m, char *out, size_t len)
{
	const char *name = gw_method_name(m);
	size_t      i;

	for (i = 0; i + 1 < len && name[i] != '\0'; i++) {
		out[i] = (char) tolower((unsigned char) name[i]);
	}
	out[i] = '\0';
}

// "/api/v1/:collection/:id" -> "/api/v1/{collection}/{id}".
static void
oa_path(const char *tmpl, char *out, size_t len)
{
	size_t o     = 0;
	int    param = 0;

	for (; *tmpl != '\0' && o + 2 < len; tmpl++) {
		if (*tmpl == ':') {
			out[o++] = '{';
			param    = 1;
			continue;
		}
		if (*tmpl == '/' && param) {
			out[o++] = '}';
			param    = 0;
		}
		out[o++] = *tmpl;
	}
	if (param) {
		out[o++] = '}';
	}
	out[o] = '\0';
}

static json_t *
security(int access)
{
	json_t *bearer = json_pack("{s:[]}", "bearerAuth");
	json_t *key    = json_pack("{s:[]}", "apiKey");
	json_t *admin  = json_pack("{s:[]}", "adminSecret");
	json_t *s      = json_array();

	switch (access) {
	case GW_ACC_NONE:
		break; // an empty list: no credential
	case GW_ACC_USER:
		(void) json_array_append(s, bearer);
		(void) json_array_append(s, key);
		break;
	case GW_ACC_ADMIN:
		(void) json_array_append(s, admin);
		break;
	case GW_ACC_USER_ADMIN:
	case GW_ACC_USER_ADMIN_RULE:
		(void) json_array_append(s, bearer);
		(void) json_array_append(s, key);
		(void) json_array_append(s, admin);
		break;
	default: // RULE, FILE: anonymous may pass, per the rules
		(void) json_array_append_new(s, json_object());
		(void) json_array_append(s, bearer);
		(void) json_array_append(s, key);
		(void) json_array_append(s, admin);
		break;
	}
	json_decref(bearer);
	json_decref(key);
	json_decref(admin);
	return (s);
}

static json_t *
request_body(int body)
{
	const char *ctype;
	json_t     *schema;

	switch (body) {
	case GW_BODY_JSON:
		ctype  = "application/json";
		schema = json_pack("{s:s}", "type", "object");
		break;
	case GW_BODY_JSON_BULK:
		ctype  = "application/json";
		schema = json_pack("{s:[{s:s},{s:s}]}", "oneOf", "type",
		    "object", "type", "array");
		break;
	case GW_BODY_MULTIPART:
		ctype  = "multipart/form-data";
		schema = json_pack("{s:s}", "type", "object");
		break;
	case GW_BODY_RAW:
		ctype  = "application/octet-stream";
		schema = json_pack(
		    "{s:s, s:s}", "type", "string", "format", "binary");
		break;
	default:
		return (NULL);
	}
	return (json_pack("{s:b, s:{s:{s:o}}}", "required", 0, "content",
	    ctype, "schema", schema));
}

static json_t *
operation(const struct gw_route *r, const char *opid)
{
	const char *svc =
	    r->svc == LC_SVC_GATEWAY ? "gateway" : lc_svc_name(r->svc);
	const char *ok_type =
	    r->msg == LC_MSG_GW_METRICS ? "text/plain" : "application/json";
	json_t *op;
	json_t *rb;

	op = json_pack("{s:s, s:s, s:[s], s:o, s:{s:{s:s, s:{s:{s:{}}}}, "
	               "s:{s:s}, s:{s:s}}}",
	    "operationId", opid, "summary", r->op, "tags", svc, "security",
	    security(r->access), "responses", "200", "description", "Success.",
	    "content", ok_type, "schema", "4XX", "$ref", ERR_REF, "default",
	    "$ref", ERR_REF);
	if ((rb = request_body(r->body)) != NULL) {
		(void) json_object_set_new(op, "requestBody", rb);
	}
	return (op);
}

static json_t *
path_params(const struct gw_path *p)
{
	json_t *arr = json_array();
	int     i;

	for (i = 0; i < p->nparams; i++) {
		(void) json_array_append_new(arr,
		    json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name",
		        p->param[i].ptr, p->param[i].len, "in", "path",
		        "required", 1, "schema", "type", "string"));
	}
	return (arr);
}

static json_t *
components(void)
{
	return (json_pack(
	    "{s:{s:{s:s, s:[s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}}}},"
	    " s:{s:{s:s, s:{s:{s:{s:s}}}}},"
	    " s:{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s},"
	    " s:{s:s, s:s, s:s}}}",
	    "schemas", "Error", "type", "object", "required", "error", "code",
	    "properties", "error", "type", "string", "code", "type", "string",
	    "field", "type", "string",
	    // responses
	    "responses", "Error", "description",
	    "Error: {\"error\",\"code\",\"field\"?} (API.md §1.5).", "content",
	    "application/json", "schema", "$ref", "#/components/schemas/Error",
	    // securitySchemes
	    "securitySchemes", "bearerAuth", "type", "http", "scheme",
	    "bearer", "bearerFormat", "JWT", "description",
	    "Access token (Authorization: Bearer <jwt>).", "adminSecret",
	    "type", "http", "scheme", "bearer", "bearerFormat", "secret",
	    "description",
	    "The ADMIN_SECRET (Authorization: Bearer <secret>).", "apiKey",
	    "type", "apiKey", "in", "header", "name", "X-API-Key"));
}

static json_t *
tags(void)
{
	static const char *const t[][2] = {
		{ "gateway",
		    "Served by the gateway itself: liveness, metrics, "
		    "this document." },
		{ "auth", "Users, sessions, API keys and 2FA (API.md §2)." },
		{ "data", "Collections, records and relations (API.md §3)." },
		{ "storage", "Buckets and files (API.md §4)." },
		{ "hooks", "Server-side JavaScript hooks (API.md §3.11)." },
		{ "admin",
		    "Settings, health, stats, backup and restart "
		    "(API.md §5)." },
	};
	json_t *arr = json_array();
	size_t  i;

	for (i = 0; i < LC_NELEM(t); i++) {
		(void) json_array_append_new(arr,
		    json_pack("{s:s, s:s}", "name", t[i][0], "description",
		        t[i][1]));
	}
	return (arr);
}

char *
gw_openapi_build(size_t *out_len)
{
	const struct gw_route *routes;
	size_t                 n;
	size_t                 i;
	json_t                *paths = json_object();
	json_t                *seen  = json_object(); // operationId -> count
	json_t                *doc;
	char                  *s;
	char                  *out;
	json_malloc_t          jmalloc;
	json_free_t            jfree;

	routes = gw_routes(&n);
	for (i = 0; i < n; i++) {
		const struct gw_route *r = &routes[i];
		char                   p[256];
		char                   opid[96];
		char                   mkey[16];
		json_t                *item;
		json_int_t             k;

		oa_path(r->tmpl, p, sizeof(p));
		if ((item = json_object_get(paths, p)) == NULL) {
			item = json_object();
			if (r->path->nparams > 0) {
				(void) json_object_set_new(
				    item, "parameters", path_params(r->path));
			}
			(void) json_object_set_new(paths, p, item);
		}
		// operationIds are unique: a second route of one op gets
		// a suffix (files.get serves /:id and /:id/:filename).
		k = json_integer_value(json_object_get(seen, r->op)) + 1;
		(void) json_object_set_new(seen, r->op, json_integer(k));
		if (k == 1) {
			(void) snprintf(opid, sizeof(opid), "%s", r->op);
		} else {
			(void) snprintf(opid, sizeof(opid), "%s.%lld", r->op,
			    (long long) k);
		}
		method_key(r->method, mkey, sizeof(mkey));
		(void) json_object_set_new(item, mkey, operation(r, opid));
	}
	json_decref(seen);
	doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o, s:o, s:o}",
	    "openapi", "3.1.0", "info", "title", "BusBase API", "version",
	    LC_VERSION, "description",
	    "BusBase HTTP API v1: auth, collections and records, storage, "
	    "hooks and administration behind one gateway.",
	    "servers", "url", "/", "paths", paths, "components", components(),
	    "tags", tags());
	s   = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	// Copy into our allocator so the caller frees it with lc_free.
	*out_len = strlen(s);
	out      = lc_strndup(s, *out_len);
	json_get_alloc_funcs(&jmalloc, &jfree);
	jfree(s);
	return (out);
}
